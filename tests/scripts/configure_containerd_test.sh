#!/usr/bin/env bash
# Tests scripts/configure-containerd.sh on configuration files in a temporary
# directory. Needs no root and never reads or writes /etc/containerd.
#
# When containerd is installed, the results are also read by containerd's own
# parser (`containerd --config FILE config dump`, which loads the file and its
# imports and prints the merged configuration without starting a daemon).
# Where strace works, each dump runs under it, and the check
# "dump-leaves-system-alone" asserts that no dump used a path under
# /run/containerd or made a file system change. Without containerd or strace,
# those checks print SKIP, which does not count as a pass.
#
# Prints "PASS name", "FAIL name: reason" or "SKIP name: reason" per check,
# then "N passed, M failed". Exits with status 1 if a check failed.
set -euo pipefail
export LC_ALL=C

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# CONFIGURE_CONTAINERD may name another copy of the script, to test that.
SCRIPT=${CONFIGURE_CONTAINERD:-$REPO/scripts/configure-containerd.sh}

passed=0
failed=0
work=$(mktemp -d "${TMPDIR:-/tmp}/configure-containerd-test.XXXXXX")
trap 'rm -rf -- "$work"' EXIT

pass() {
  printf 'PASS %s\n' "$1"
  passed=$((passed + 1))
}

fail() {
  printf 'FAIL %s: %s\n' "$1" "$2"
  failed=$((failed + 1))
}

skip() {
  printf 'SKIP %s: %s\n' "$1" "$2"
}

# Runs the script with the given arguments; stores its exit status, stdout
# and stderr in status, $case_dir/out and $case_dir/err.
run_script() {
  status=0
  "$SCRIPT" "$@" >"$case_dir/out" 2>"$case_dir/err" || status=$?
}

# Makes a fresh directory for case $1 and sets case_dir.
new_case() {
  case_dir=$work/$1
  mkdir -p "$case_dir"
}

# Prints the lines of the table whose header is exactly $2 in file $1, the
# header included, up to the next header that is not one of its subtables.
table_lines() {
  awk -v header="$2" '
    function trimmed(s) { sub(/^[ \t]+/, "", s); sub(/[ \t]+$/, "", s); return s }
    /^[ \t]*\[/ {
      h = trimmed($0)
      inside = (h == header || index(h, substr(header, 1, length(header) - 1) ".") == 1)
    }
    inside { print }
  ' "$1"
}

# Counts the lines of file $1 that equal $2 once leading and trailing
# whitespace is removed.
count_lines() {
  awk -v wanted="$2" '
    { line = $0; sub(/^[ \t]+/, "", line); sub(/[ \t]+$/, "", line); if (line == wanted) n++ }
    END { print n + 0 }
  ' "$1"
}

# Succeeds when `diff $1 $2` shows only added lines; otherwise prints the
# first differing lines.
only_additions() {
  local changes
  changes=$(diff -- "$1" "$2" | grep -v -e '^[0-9,]*a[0-9,]*$' -e '^> ' || true)
  if [[ -n $changes ]]; then
    printf '%s\n' "$changes" | head -n 5
    return 1
  fi
  return 0
}

V2_HEADER='[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.reaper-v2]'
V2_OPTIONS='[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.reaper-v2.options]'
V3_HEADER="[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.reaper-v2]"
V3_OPTIONS="[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.reaper-v2.options]"
REAPER_CONF=/etc/reaper/reaper.conf

# The table the script must write for config version 2, without indentation.
expected_v2_table() {
  cat <<EOF
$V2_HEADER
runtime_type = "io.containerd.reaper.v2"
sandbox_mode = "podsandbox"
$V2_OPTIONS
ConfigPath = "$REAPER_CONF"
EOF
}

expected_v3_table() {
  cat <<EOF
$V3_HEADER
runtime_type = 'io.containerd.reaper.v2'
sandboxer = 'podsandbox'
$V3_OPTIONS
ConfigPath = '$REAPER_CONF'
EOF
}

# Prints the reaper-v2 table of file $1 (header $2) without indentation.
written_table() {
  table_lines "$1" "$2" | sed -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//' | grep -v -e '^$' -e '^#'
}

# --- containerd's own parser ----------------------------------------------------

CONTAINERD=$(command -v containerd || true)
CONTAINERD_MAJOR=""
if [[ -n $CONTAINERD ]]; then
  read -r _ _ CONTAINERD_MAJOR _ < <("$CONTAINERD" --version)
  CONTAINERD_MAJOR=${CONTAINERD_MAJOR#v}
  CONTAINERD_MAJOR=${CONTAINERD_MAJOR%%.*}
fi

# strace, when it can trace here (ptrace may be forbidden in a container).
STRACE=$(command -v strace || true)
if [[ -n $STRACE ]] && ! "$STRACE" -f -o /dev/null true 2>/dev/null; then
  STRACE=""
fi
dumps_traced=0
# What the traced dumps did that they must not do, one line each.
dump_side_effects=""

# Runs `containerd --config $1 config dump`, under strace when it works, and
# adds the file system calls that touched /run/containerd or changed
# anything to dump_side_effects.
run_dump() {
  local file=$1
  if [[ -z $STRACE ]]; then
    "$CONTAINERD" --config "$file" config dump
    return
  fi
  "$STRACE" -f -qq -e trace=file -o "$case_dir/dump.strace" \
    "$CONTAINERD" --config "$file" config dump || return
  dumps_traced=$((dumps_traced + 1))
  local calls
  calls=$(grep -E -e '"/run/containerd' \
                  -e 'mkdir|unlink|rename|link\(|symlink|chmod|chown|truncate|O_CREAT|O_WRONLY|O_RDWR' \
                  "$case_dir/dump.strace" | cut -c 1-160 || true)
  if [[ -n $calls ]]; then
    dump_side_effects+=$calls$'\n'
  fi
}

# Checks, as case $1, that containerd's parser reads config file $2 (and its
# imports) with the reaper-v2 runtime, runtime_type io.containerd.reaper.v2
# and ConfigPath $3, and that the runtimes named in $4 (space-separated) are
# still there. Config version 2 files need containerd 1.x, version 3 ones 2.x.
check_with_parser() {
  local name=$1 file=$2 config_path=$3 runtimes=$4 version=$5 plugin header runtime
  if [[ -z $CONTAINERD ]]; then
    skip "$name" "containerd is not installed"
    return
  fi
  if { [[ $version == 2 ]] && ((CONTAINERD_MAJOR != 1)); } ||
     { [[ $version == 3 ]] && ((CONTAINERD_MAJOR < 2)); }; then
    skip "$name" "containerd $CONTAINERD_MAJOR.x does not read config version $version files the same way"
    return
  fi

  # Not in $(...): run_dump updates the trace counters of this shell.
  if ! run_dump "$file" >"$case_dir/dump.toml" 2>"$case_dir/dump.err"; then
    fail "$name" "containerd config dump failed: $(head -c 300 "$case_dir/dump.err")"
    return
  fi

  if [[ $version == 2 ]]; then
    plugin='"io.containerd.grpc.v1.cri"'
  else
    plugin="'io.containerd.cri.v1.runtime'"
  fi
  header="[plugins.$plugin.containerd.runtimes.reaper-v2]"
  local section
  section=$(table_lines "$case_dir/dump.toml" "$header")
  if [[ -z $section ]]; then
    fail "$name" "the dump has no $header table"
    return
  fi
  if ! grep -Eq "^[[:space:]]*runtime_type = [\"']io\.containerd\.reaper\.v2[\"']$" <<<"$section"; then
    fail "$name" "runtime_type in the dump's reaper-v2 table is not io.containerd.reaper.v2: $(grep runtime_type <<<"$section")"
    return
  fi
  if ! grep -Eq "^[[:space:]]*ConfigPath = [\"']${config_path//./\\.}[\"']$" <<<"$section"; then
    fail "$name" "ConfigPath in the dump is not $config_path"
    return
  fi
  for runtime in $runtimes; do
    if [[ -z $(table_lines "$case_dir/dump.toml" "[plugins.$plugin.containerd.runtimes.$runtime]") ]]; then
      fail "$name" "the runtime $runtime is missing from the dump"
      return
    fi
  done
  pass "$name"
}

# --- Fixtures ---------------------------------------------------------------------

# A containerd 1.6-style configuration with two runtimes, written for this test.
write_v2_fixture() {
  cat >"$1" <<'EOF'
# Node configuration for containerd 1.6.
version = 2
root = "/var/lib/containerd"
state = "/run/containerd"
oom_score = 0
imports = []

[grpc]
  address = "/run/containerd/containerd.sock"
  max_recv_message_size = 16777216

[plugins]

  [plugins."io.containerd.gc.v1.scheduler"]
    pause_threshold = 0.02

  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "registry.k8s.io/pause:3.9"
    max_container_log_line_size = 16384

    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "/opt/cni/bin"
      conf_dir = "/etc/cni/net.d"

    [plugins."io.containerd.grpc.v1.cri".containerd]
      default_runtime_name = "runc"
      snapshotter = "overlayfs"

      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes]

        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
          runtime_type = "io.containerd.runc.v2"
          pod_annotations = [
            "example.com/a",
            "example.com/b",
          ]

          [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
            BinaryName = ""
            SystemdCgroup = true

        # crun, for the pods that ask for it
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.crun]
          runtime_type = "io.containerd.runc.v2"

          [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.crun.options]
            BinaryName = "/usr/bin/crun"

    [plugins."io.containerd.grpc.v1.cri".registry]
      config_path = "/etc/containerd/certs.d"

  [plugins."io.containerd.internal.v1.opt"]
    path = "/opt/containerd"
EOF
}

# --- Cases ----------------------------------------------------------------------

test_missing_v2() {
  new_case missing-v2
  local config=$case_dir/sub/config.toml
  run_script --config "$config" --containerd-version 1.7.27
  if ((status != 0)); then
    fail missing-v2 "exit status $status: $(cat "$case_dir/err")"
    return
  fi
  if [[ ! -f $config ]]; then
    fail missing-v2 "$config was not created"
    return
  fi
  if [[ $(head -n 1 "$config") != "version = 2" ]]; then
    fail missing-v2 "the first line is \"$(head -n 1 "$config")\", not \"version = 2\""
    return
  fi
  if [[ $(written_table "$config" "$V2_HEADER") != "$(expected_v2_table)" ]]; then
    fail missing-v2 "unexpected reaper-v2 table: $(written_table "$config" "$V2_HEADER")"
    return
  fi
  if (($(count_lines "$config" '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]') != 1)); then
    fail missing-v2 "the runc table that keeps containerd 1.x's default runtime is missing"
    return
  fi
  if [[ $(stat -c %a "$config") != 644 ]]; then
    fail missing-v2 "mode $(stat -c %a "$config"), expected 644"
    return
  fi
  if [[ -e $config.reaper-backup ]]; then
    fail missing-v2 "a backup was made of a file that did not exist"
    return
  fi
  pass missing-v2
  check_with_parser missing-v2-parser "$config" "$REAPER_CONF" runc 2
}

test_missing_v3() {
  new_case missing-v3
  local config=$case_dir/config.toml
  run_script --config "$config" --containerd-version v2.1.4
  if ((status != 0)); then
    fail missing-v3 "exit status $status: $(cat "$case_dir/err")"
    return
  fi
  if [[ $(head -n 1 "$config") != "version = 3" ]]; then
    fail missing-v3 "the first line is \"$(head -n 1 "$config")\", not \"version = 3\""
    return
  fi
  if [[ $(written_table "$config" "$V3_HEADER") != "$(expected_v3_table)" ]]; then
    fail missing-v3 "unexpected reaper-v2 table: $(written_table "$config" "$V3_HEADER")"
    return
  fi
  if grep -q 'runtimes.runc' "$config"; then
    fail missing-v3 "a runc table was written, but containerd 2.x keeps its default runc"
    return
  fi
  pass missing-v3
  check_with_parser missing-v3-parser "$config" "$REAPER_CONF" runc 3
}

test_empty_files() {
  new_case empty-files
  local empty=$case_dir/empty.toml comments=$case_dir/comments.toml
  : >"$empty"
  printf '# managed by hand\n\n# nothing yet\n' >"$comments"
  run_script --config "$empty" --containerd-version 1.6.20
  if ((status != 0)) || [[ $(written_table "$empty" "$V2_HEADER") != "$(expected_v2_table)" ]]; then
    fail empty-files "an empty file did not get the version 2 table (status $status): $(cat "$case_dir/err")"
    return
  fi
  run_script --config "$comments" --containerd-version 2.0.0
  if ((status != 0)) || [[ $(written_table "$comments" "$V3_HEADER") != "$(expected_v3_table)" ]]; then
    fail empty-files "a file of comments did not get the version 3 table (status $status): $(cat "$case_dir/err")"
    return
  fi
  if [[ $(head -n 3 "$comments") != $'# managed by hand\n\n# nothing yet' ]]; then
    fail empty-files "the comments of the file were not kept"
    return
  fi
  if (($(count_lines "$comments" "version = 3") != 1)); then
    fail empty-files "expected one \"version = 3\" line"
    return
  fi
  pass empty-files
}

test_version_from_containerd() {
  new_case version-from-containerd
  mkdir -p "$case_dir/bin"
  cat >"$case_dir/bin/containerd" <<'EOF'
#!/bin/sh
echo "containerd github.com/containerd/containerd/v2 v2.1.4 75cb2b7193e4e490e9fbdc236c0e811ccb5a0a9b"
EOF
  chmod +x "$case_dir/bin/containerd"
  local config=$case_dir/config.toml
  status=0
  PATH=$case_dir/bin:$PATH "$SCRIPT" --config "$config" >"$case_dir/out" 2>"$case_dir/err" || status=$?
  if ((status != 0)) || [[ $(head -n 1 "$config") != "version = 3" ]]; then
    fail version-from-containerd "containerd 2.1.4 did not give version 3 (status $status): $(cat "$case_dir/err")"
    return
  fi
  pass version-from-containerd
}

test_version_unknown() {
  new_case version-unknown
  # A PATH with the tools the script uses, but no containerd.
  mkdir -p "$case_dir/bin"
  local tool
  for tool in bash awk sed grep cat cmp tail od wc cp chmod chown mv rm mkdir mktemp readlink dirname; do
    ln -s "$(command -v "$tool")" "$case_dir/bin/$tool"
  done
  status=0
  PATH=$case_dir/bin "$case_dir/bin/bash" "$SCRIPT" --config "$case_dir/config.toml" \
    >"$case_dir/out" 2>"$case_dir/err" || status=$?
  if ((status != 1)); then
    fail version-unknown "exit status $status, expected 1"
    return
  fi
  if ! grep -q -- '--containerd-version' "$case_dir/err" || ! grep -qF "$case_dir/config.toml" "$case_dir/err"; then
    fail version-unknown "the error names neither the file nor --containerd-version: $(cat "$case_dir/err")"
    return
  fi
  if [[ -e $case_dir/config.toml ]]; then
    fail version-unknown "a file was written although the version was unknown"
    return
  fi
  pass version-unknown
}

# Runs the realistic-file checks on fixture $2 (config version $3) as case $1.
check_realistic() {
  local name=$1 fixture=$2 version=$3 runtimes=$4
  local config=$case_dir/config.toml header
  cp -- "$fixture" "$config"
  chmod 0640 "$config"
  header=$V2_HEADER
  [[ $version == 2 ]] || header=$V3_HEADER
  run_script --config "$config"
  if ((status != 0)); then
    fail "$name" "exit status $status: $(cat "$case_dir/err")"
    return
  fi
  local table expected
  table=$(written_table "$config" "$header")
  if [[ $version == 2 ]]; then
    expected=$(expected_v2_table)
  else
    expected=$(expected_v3_table)
  fi
  if [[ $table != "$expected" ]]; then
    fail "$name" "unexpected reaper-v2 table: $table"
    return
  fi
  local changes
  if ! changes=$(only_additions "$fixture" "$config"); then
    fail "$name" "lines other than additions changed: $changes"
    return
  fi
  if ! cmp -s -- "$fixture" "$config.reaper-backup"; then
    fail "$name" "the backup does not hold the previous content"
    return
  fi
  if [[ $(stat -c %a "$config") != 640 ]]; then
    fail "$name" "mode $(stat -c %a "$config"), expected the original 640"
    return
  fi
  pass "$name"

  # A second run must leave the file and the backup as they are.
  cp -p -- "$config" "$case_dir/after-first-run"
  cp -p -- "$config.reaper-backup" "$case_dir/backup-after-first-run"
  run_script --config "$config"
  if ((status != 0)); then
    fail "$name-second-run" "exit status $status: $(cat "$case_dir/err")"
  elif ! cmp -s -- "$case_dir/after-first-run" "$config"; then
    fail "$name-second-run" "the second run changed the file: $(diff "$case_dir/after-first-run" "$config" | head -n 5)"
  elif ! cmp -s -- "$case_dir/backup-after-first-run" "$config.reaper-backup"; then
    fail "$name-second-run" "the second run rewrote the backup"
  elif [[ $(stat -c %Y "$config") != $(stat -c %Y "$case_dir/after-first-run") ]]; then
    fail "$name-second-run" "the second run rewrote the file with the same content"
  else
    pass "$name-second-run"
  fi
  check_with_parser "$name-parser" "$config" "$REAPER_CONF" "$runtimes" "$version"
}

test_realistic_handwritten() {
  new_case realistic-v2
  write_v2_fixture "$case_dir/fixture.toml"
  check_realistic realistic-v2 "$case_dir/fixture.toml" 2 "runc crun"
  local config=$case_dir/config.toml
  # The new table sits after the last runtime and before the registry table.
  local reaper_line registry_line crun_line
  reaper_line=$(grep -n -F "$V2_HEADER" "$config" | cut -d: -f1)
  crun_line=$(grep -n -F 'BinaryName = "/usr/bin/crun"' "$config" | cut -d: -f1)
  registry_line=$(grep -n -F '[plugins."io.containerd.grpc.v1.cri".registry]' "$config" | cut -d: -f1)
  if [[ -n $reaper_line ]] && ((crun_line < reaper_line && reaper_line < registry_line)); then
    pass realistic-v2-placement
  else
    fail realistic-v2-placement "reaper-v2 at line ${reaper_line:-none}, expected between $crun_line and $registry_line"
  fi
}

test_realistic_generated() {
  if [[ -z $CONTAINERD ]]; then
    skip realistic-generated "containerd is not installed, so \`containerd config default\` cannot make the fixture"
    return
  fi
  new_case realistic-generated
  "$CONTAINERD" config default >"$case_dir/fixture.toml"
  local version
  version=$(awk -F' *= *' '$1 == "version" { print $2; exit }' "$case_dir/fixture.toml")
  check_realistic realistic-generated "$case_dir/fixture.toml" "$version" runc
}

test_outdated_table_replaced() {
  new_case outdated-replaced
  local config=$case_dir/config.toml
  cat >"$config" <<'EOF'
version = 2

[plugins."io.containerd.grpc.v1.cri".containerd]
  default_runtime_name = "runc"

  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"

  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes."reaper-v2"]
    runtime_type = "io.containerd.reaper.v1"
    runtime_path = "/opt/old/containerd-shim-reaper-v2"
    pod_annotations = [
      "old",
    ]
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.'reaper-v2'.options]
      ConfigPath = "/etc/reaper/old.conf"
      TypeUrl = "reaper.v1.Config"

  # settings for the registry
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "/etc/containerd/certs.d"

  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.reaper-v2.extra]
    stale = true
EOF
  cp -- "$config" "$case_dir/before"
  run_script --config "$config" --config-path /etc/reaper/node.conf
  if ((status != 0)); then
    fail outdated-replaced "exit status $status: $(cat "$case_dir/err")"
    return
  fi
  cat >"$case_dir/expected" <<'EOF'
version = 2

[plugins."io.containerd.grpc.v1.cri".containerd]
  default_runtime_name = "runc"

  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"

  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.reaper-v2]
    runtime_type = "io.containerd.reaper.v2"
    sandbox_mode = "podsandbox"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.reaper-v2.options]
      ConfigPath = "/etc/reaper/node.conf"

  # settings for the registry
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "/etc/containerd/certs.d"

EOF
  if ! cmp -s -- "$case_dir/expected" "$config"; then
    fail outdated-replaced "unexpected result: $(diff "$case_dir/expected" "$config" | head -n 8)"
    return
  fi
  pass outdated-replaced
  check_with_parser outdated-replaced-parser "$config" /etc/reaper/node.conf runc 2

  cp -p -- "$config" "$case_dir/after-first-run"
  run_script --config "$config" --config-path /etc/reaper/node.conf
  if ((status == 0)) && cmp -s -- "$case_dir/after-first-run" "$config"; then
    pass outdated-replaced-second-run
  else
    fail outdated-replaced-second-run "status $status, or the file changed again"
  fi
}

test_dry_run() {
  new_case dry-run
  local config=$case_dir/config.toml
  write_v2_fixture "$config"
  cp -p -- "$config" "$case_dir/before"
  run_script --config "$config" --dry-run
  if ((status != 0)); then
    fail dry-run "exit status $status: $(cat "$case_dir/err")"
    return
  fi
  if ! cmp -s -- "$case_dir/before" "$config" ||
     [[ $(stat -c %Y "$config") != $(stat -c %Y "$case_dir/before") ]]; then
    fail dry-run "the file changed"
    return
  fi
  if compgen -G "$case_dir/config.toml.*" >/dev/null || compgen -G "$case_dir/.config.toml.*" >/dev/null; then
    fail dry-run "a backup or temporary file was left: $(ls -a "$case_dir")"
    return
  fi
  if [[ $(head -n 1 "$case_dir/out") != "# ==> $config <==" ]]; then
    fail dry-run "stdout does not start with the file name line: $(head -n 1 "$case_dir/out")"
    return
  fi
  # What the dry run printed is what a real run writes.
  tail -n +2 "$case_dir/out" >"$case_dir/printed"
  run_script --config "$config"
  if ((status != 0)) || ! cmp -s -- "$case_dir/printed" "$config"; then
    fail dry-run "the printed file differs from the one a real run wrote"
    return
  fi
  pass dry-run
}

test_version_1_rejected() {
  new_case version-1
  local config=$case_dir/config.toml explicit=$case_dir/explicit.toml
  printf 'root = "/var/lib/containerd"\n\n[plugins.cri]\n  sandbox_image = "pause:3.9"\n' >"$config"
  printf 'version = 1\n[plugins.cri]\n' >"$explicit"
  cp -- "$config" "$case_dir/before"
  cp -- "$explicit" "$case_dir/explicit-before"
  run_script --config "$config"
  if ((status != 1)); then
    fail version-1 "a file without a version line: exit status $status, expected 1"
    return
  fi
  if ! grep -q "config migrate" "$case_dir/err" || ! grep -qF "$config" "$case_dir/err"; then
    fail version-1 "the error names neither the file nor the migration: $(cat "$case_dir/err")"
    return
  fi
  run_script --config "$explicit"
  if ((status != 1)) || ! grep -qF "$explicit:1:" "$case_dir/err"; then
    fail version-1 "\"version = 1\": exit status $status, message: $(cat "$case_dir/err")"
    return
  fi
  if ! cmp -s -- "$case_dir/before" "$config" || ! cmp -s -- "$case_dir/explicit-before" "$explicit"; then
    fail version-1 "a rejected file was changed"
    return
  fi
  pass version-1
}

test_drop_in_v3() {
  new_case drop-in-v3
  local config=$case_dir/config.toml
  mkdir -p "$case_dir/conf.d"
  cat >"$config" <<EOF
version = 3
imports = ['$case_dir/conf.d/*.toml']

[plugins.'io.containerd.cri.v1.runtime'.containerd]
  default_runtime_name = 'runc'

  [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
    runtime_type = 'io.containerd.runc.v2'
EOF
  printf "version = 3\n[plugins.'io.containerd.cri.v1.images']\n  snapshotter = 'overlayfs'\n" \
    >"$case_dir/conf.d/10-images.toml"
  cp -- "$config" "$case_dir/before"
  run_script --config "$config"
  local drop_in=$case_dir/conf.d/reaper.toml
  if ((status != 0)); then
    fail drop-in-v3 "exit status $status: $(cat "$case_dir/err")"
    return
  fi
  if ! cmp -s -- "$case_dir/before" "$config"; then
    fail drop-in-v3 "the main file changed although containerd 2.x merges drop-ins"
    return
  fi
  if [[ ! -f $drop_in ]] || [[ $(written_table "$drop_in" "$V3_HEADER") != "$(expected_v3_table)" ]]; then
    fail drop-in-v3 "$drop_in does not hold the version 3 table"
    return
  fi
  if [[ $(head -n 1 "$drop_in") != "version = 3" ]]; then
    fail drop-in-v3 "the drop-in does not start with \"version = 3\""
    return
  fi
  cp -p -- "$drop_in" "$case_dir/drop-in-after-first-run"
  run_script --config "$config"
  if ((status != 0)) || ! cmp -s -- "$case_dir/drop-in-after-first-run" "$drop_in" ||
     ! cmp -s -- "$case_dir/before" "$config"; then
    fail drop-in-v3 "the second run changed a file (status $status)"
    return
  fi
  pass drop-in-v3
  check_with_parser drop-in-v3-parser "$config" "$REAPER_CONF" runc 3
}

test_drop_in_v2_without_cri() {
  new_case drop-in-v2
  local config=$case_dir/config.toml
  mkdir -p "$case_dir/conf.d"
  cat >"$config" <<EOF
version = 2
imports = ["$case_dir/conf.d/*.toml"]
root = "/var/lib/containerd"

[plugins."io.containerd.internal.v1.opt"]
  path = "/opt/containerd"
EOF
  cp -- "$config" "$case_dir/before"
  run_script --config "$config"
  local drop_in=$case_dir/conf.d/reaper.toml
  if ((status != 0)); then
    fail drop-in-v2 "exit status $status: $(cat "$case_dir/err")"
    return
  fi
  if ! cmp -s -- "$case_dir/before" "$config"; then
    fail drop-in-v2 "the main file changed although it has no CRI settings"
    return
  fi
  if [[ ! -f $drop_in ]] || [[ $(written_table "$drop_in" "$V2_HEADER") != "$(expected_v2_table)" ]]; then
    fail drop-in-v2 "$drop_in does not hold the version 2 table"
    return
  fi
  if (($(count_lines "$drop_in" '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]') != 1)); then
    fail drop-in-v2 "the drop-in lacks the runc table containerd 1.x needs"
    return
  fi
  pass drop-in-v2
  check_with_parser drop-in-v2-parser "$config" "$REAPER_CONF" runc 2
}

test_main_file_when_cri_present_v2() {
  new_case main-v2-with-cri
  local config=$case_dir/config.toml
  mkdir -p "$case_dir/conf.d"
  cat >"$config" <<EOF
version = 2
imports = ["$case_dir/conf.d/*.toml"]

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "registry.k8s.io/pause:3.9"
EOF
  cp -- "$config" "$case_dir/before"
  run_script --config "$config"
  if ((status != 0)); then
    fail main-v2-with-cri "exit status $status: $(cat "$case_dir/err")"
    return
  fi
  if [[ -n $(ls -A "$case_dir/conf.d") ]]; then
    fail main-v2-with-cri "a drop-in was written, which containerd 1.x would let replace the main file's CRI settings"
    return
  fi
  if [[ $(written_table "$config" "$V2_HEADER") != "$(expected_v2_table)" ]]; then
    fail main-v2-with-cri "the main file does not hold the table"
    return
  fi
  # The file named no runtime, so containerd 1.x's runc must be named now.
  if (($(count_lines "$config" '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]') != 1)); then
    fail main-v2-with-cri "the runc table is missing"
    return
  fi
  local changes
  if ! changes=$(only_additions "$case_dir/before" "$config"); then
    fail main-v2-with-cri "lines other than additions changed: $changes"
    return
  fi
  pass main-v2-with-cri
  check_with_parser main-v2-with-cri-parser "$config" "$REAPER_CONF" runc 2
}

# containerd 1.x takes the CRI section from the last loaded file that has
# one: with CRI settings in an imported file, that file is edited.
test_last_cri_file_v2() {
  new_case last-cri-file-v2
  local config=$case_dir/config.toml imported=$case_dir/conf.d/50-cri.toml
  mkdir -p "$case_dir/conf.d"
  cat >"$config" <<EOF
version = 2
imports = ["$case_dir/conf.d/*.toml"]

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "registry.k8s.io/pause:3.8"
EOF
  cat >"$imported" <<'EOF'
version = 2
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
EOF
  cp -- "$config" "$case_dir/before"
  run_script --config "$config"
  if ((status != 0)); then
    fail last-cri-file-v2 "exit status $status: $(cat "$case_dir/err")"
    return
  fi
  if ! cmp -s -- "$case_dir/before" "$config"; then
    fail last-cri-file-v2 "the main file changed, but containerd 1.x uses the CRI section of $imported"
    return
  fi
  if [[ $(written_table "$imported" "$V2_HEADER") != "$(expected_v2_table)" ]]; then
    fail last-cri-file-v2 "$imported does not hold the table"
    return
  fi
  if ! grep -q "warning: CRI settings appear in" "$case_dir/err"; then
    fail last-cri-file-v2 "no warning that two files have CRI settings"
    return
  fi
  pass last-cri-file-v2
  check_with_parser last-cri-file-v2-parser "$config" "$REAPER_CONF" runc 2
}

test_edit_v3_main_file() {
  new_case edit-v3
  local config=$case_dir/config.toml
  cat >"$config" <<'EOF2'
version = 3
imports = []

[plugins]
  [plugins.'io.containerd.cri.v1.images']
    snapshotter = 'overlayfs'

  [plugins.'io.containerd.cri.v1.runtime']
    enable_selinux = false

    [plugins.'io.containerd.cri.v1.runtime'.containerd]
      default_runtime_name = 'runc'

      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes]

        [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
          runtime_type = 'io.containerd.runc.v2'
          [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
            SystemdCgroup = true

    [plugins.'io.containerd.cri.v1.runtime'.cni]
      bin_dir = '/opt/cni/bin'
EOF2
  cp -- "$config" "$case_dir/before"
  run_script --config "$config"
  if ((status != 0)); then
    fail edit-v3 "exit status $status: $(cat "$case_dir/err")"
    return
  fi
  if [[ $(written_table "$config" "$V3_HEADER") != "$(expected_v3_table)" ]]; then
    fail edit-v3 "unexpected reaper-v2 table: $(written_table "$config" "$V3_HEADER")"
    return
  fi
  local changes
  if ! changes=$(only_additions "$case_dir/before" "$config"); then
    fail edit-v3 "lines other than additions changed: $changes"
    return
  fi
  if (($(grep -c 'runtimes.runc]' "$config") != 1)); then
    fail edit-v3 "a second runc table was written into a version 3 file"
    return
  fi
  # Same indentation as the runc table, whose header has 8 spaces.
  if ! grep -qxF "        $V3_HEADER" "$config"; then
    fail edit-v3 "the table is not indented like the runc table"
    return
  fi
  pass edit-v3
  check_with_parser edit-v3-parser "$config" "$REAPER_CONF" runc 3
}

test_warnings() {
  new_case warnings
  local config=$case_dir/config.toml reaper_conf=$case_dir/reaper.conf
  printf 'version = 2\ndisabled_plugins = [\n  "cri",\n]\n' >"$config"
  run_script --config "$config" --config-path "$reaper_conf"
  if ((status != 0)); then
    fail warnings "exit status $status: $(cat "$case_dir/err")"
    return
  fi
  if ! grep -q 'disables the CRI plugin (disabled_plugins contains "cri")' "$case_dir/err"; then
    fail warnings "no warning about the disabled CRI plugin: $(cat "$case_dir/err")"
    return
  fi
  if ! grep -qF "warning: $reaper_conf does not exist" "$case_dir/err"; then
    fail warnings "no warning about the missing $reaper_conf"
    return
  fi
  : >"$reaper_conf"
  run_script --config "$config" --config-path "$reaper_conf"
  if grep -qF "$reaper_conf does not exist" "$case_dir/err"; then
    fail warnings "a warning about $reaper_conf although it exists"
    return
  fi
  pass warnings
}

test_inline_table_rejected() {
  new_case inline-rejected
  local config=$case_dir/config.toml
  cat >"$config" <<'EOF'
version = 2
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes]
  runc = { runtime_type = "io.containerd.runc.v2" }
  reaper-v2 = { runtime_type = "io.containerd.reaper.v2" }
EOF
  cp -- "$config" "$case_dir/before"
  run_script --config "$config"
  if ((status != 1)) || ! grep -qF "$config:4:" "$case_dir/err"; then
    fail inline-rejected "exit status $status, expected 1 naming line 4: $(cat "$case_dir/err")"
    return
  fi
  if ! cmp -s -- "$case_dir/before" "$config"; then
    fail inline-rejected "the file changed"
    return
  fi
  pass inline-rejected
}

test_two_holders_rejected() {
  new_case two-holders
  local config=$case_dir/config.toml
  mkdir -p "$case_dir/conf.d"
  cat >"$config" <<EOF
version = 3
imports = ['$case_dir/conf.d/*.toml']
$V3_HEADER
  runtime_type = 'io.containerd.reaper.v2'
EOF
  printf 'version = 3\n%s\n  sandboxer = %s\n' "$V3_HEADER" "'podsandbox'" >"$case_dir/conf.d/reaper.toml"
  run_script --config "$config"
  if ((status == 1)) && grep -q "more than one file" "$case_dir/err"; then
    pass two-holders
  else
    fail two-holders "exit status $status: $(cat "$case_dir/err")"
  fi
}

# Lines inside multi-line strings and arrays that look like table headers
# must not be taken for tables.
test_multiline_values() {
  new_case multiline-values
  local config=$case_dir/config.toml
  cat >"$config" <<EOF
version = 2
notes = """
$V2_HEADER
"""
literal = '''
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.fake]
'''
matrix = [
  ["a", "b"],
  [ "c" ],
]

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
EOF
  cp -- "$config" "$case_dir/before"
  run_script --config "$config"
  if ((status != 0)); then
    fail multiline-values "exit status $status: $(cat "$case_dir/err")"
    return
  fi
  local changes
  if ! changes=$(only_additions "$case_dir/before" "$config"); then
    fail multiline-values "lines other than additions changed: $changes"
    return
  fi
  if (($(count_lines "$config" "$V2_HEADER") != 2)); then
    fail multiline-values "expected the header once in the string and once as a table"
    return
  fi
  if [[ $(tail -n 5 "$config" | head -n 1 | sed 's/^ *//') != "$V2_HEADER" ]]; then
    fail multiline-values "the table was not added after the runc table at the end"
    return
  fi
  pass multiline-values
}

# A file with CRLF line ends keeps them: the added lines get CRLF too, and a
# second run changes nothing.
test_crlf_line_ends() {
  new_case crlf
  local config=$case_dir/config.toml
  write_v2_fixture "$config"
  sed -i 's/$/\r/' "$config"
  run_script --config "$config"
  if ((status != 0)); then
    fail crlf "exit status $status: $(cat "$case_dir/err")"
    return
  fi
  local bare
  bare=$(grep -c -v $'\r$' "$config" || true)
  if ((bare != 0)); then
    fail crlf "$bare lines end without CR in a CRLF file"
    return
  fi
  if ! grep -qF "$V2_HEADER"$'\r' "$config"; then
    fail crlf "the reaper-v2 table is missing"
    return
  fi
  cp -- "$config" "$case_dir/first"
  run_script --config "$config"
  if ((status != 0)); then
    fail crlf "second run: exit status $status: $(cat "$case_dir/err")"
  elif ! cmp -s "$case_dir/first" "$config"; then
    fail crlf "the second run changed the file"
  else
    pass crlf
  fi
}

test_symlink_followed() {
  new_case symlink
  mkdir -p "$case_dir/real"
  write_v2_fixture "$case_dir/real/config.toml"
  ln -s real/config.toml "$case_dir/config.toml"
  run_script --config "$case_dir/config.toml"
  if ((status != 0)); then
    fail symlink "exit status $status: $(cat "$case_dir/err")"
  elif [[ ! -L $case_dir/config.toml ]]; then
    fail symlink "the symlink was replaced by a file"
  elif [[ $(written_table "$case_dir/real/config.toml" "$V2_HEADER") != "$(expected_v2_table)" ]]; then
    fail symlink "the file the link points to did not get the table"
  else
    pass symlink
  fi
}

test_restart() {
  new_case restart
  mkdir -p "$case_dir/bin"
  # A stand-in for systemctl that only records its arguments.
  cat >"$case_dir/bin/systemctl" <<EOF
#!/bin/sh
echo "\$*" >>"$case_dir/systemctl.calls"
EOF
  chmod +x "$case_dir/bin/systemctl"
  local config=$case_dir/config.toml
  write_v2_fixture "$config"
  status=0
  PATH=$case_dir/bin:$PATH "$SCRIPT" --config "$config" --restart >"$case_dir/out" 2>"$case_dir/err" || status=$?
  if ((status != 0)) || [[ $(cat "$case_dir/systemctl.calls" 2>/dev/null) != "restart containerd" ]]; then
    fail restart "a change did not restart containerd once (status $status, calls: $(cat "$case_dir/systemctl.calls" 2>/dev/null))"
    return
  fi
  PATH=$case_dir/bin:$PATH "$SCRIPT" --config "$config" --restart >"$case_dir/out" 2>"$case_dir/err" || status=$?
  if ((status != 0)) || (($(wc -l <"$case_dir/systemctl.calls") != 1)); then
    fail restart "a run without a change restarted containerd (status $status)"
    return
  fi
  if ! grep -q "no restart: the configuration did not change" "$case_dir/err"; then
    fail restart "the run without a change did not say why it skipped the restart: $(cat "$case_dir/err")"
    return
  fi
  pass restart
}

test_bad_options() {
  new_case bad-options
  local config=$case_dir/config.toml
  run_script --config "$config" --config-path relative/reaper.conf --containerd-version 1.7
  if ((status != 2)) || ! grep -q 'relative/reaper.conf' "$case_dir/err"; then
    fail bad-options "a relative --config-path: exit status $status, message: $(cat "$case_dir/err")"
    return
  fi
  run_script --config "$config" --config-path '/etc/rea"per.conf' --containerd-version 1.7
  if ((status != 2)); then
    fail bad-options "a --config-path with a quote: exit status $status"
    return
  fi
  run_script --config "$config" --containerd-version banana
  if ((status != 2)) || ! grep -q 'banana' "$case_dir/err"; then
    fail bad-options "--containerd-version banana: exit status $status"
    return
  fi
  run_script --frobnicate
  if ((status != 2)) || ! grep -q -- '--frobnicate' "$case_dir/err"; then
    fail bad-options "an unknown option: exit status $status"
    return
  fi
  run_script --dry-run --restart --config "$config"
  if ((status != 2)); then
    fail bad-options "--dry-run with --restart: exit status $status"
    return
  fi
  run_script --config "$case_dir"
  if ((status != 1)) || ! grep -qF "$case_dir" "$case_dir/err"; then
    fail bad-options "a directory as --config: exit status $status"
    return
  fi
  if [[ -e $config ]]; then
    fail bad-options "a file was written despite the errors"
    return
  fi
  run_script --help
  if ((status != 0)) || ! grep -q -- '--config-path' "$case_dir/out"; then
    fail bad-options "--help: exit status $status"
    return
  fi
  pass bad-options
}

test_broken_toml_rejected() {
  new_case broken-toml
  local config=$case_dir/config.toml
  printf 'version = 2\n[plugins."io.containerd.grpc.v1.cri"\n  sandbox_image = "x"\n' >"$config"
  cp -- "$config" "$case_dir/before"
  run_script --config "$config"
  if ((status == 1)) && grep -qF "$config:2:" "$case_dir/err" && cmp -s -- "$case_dir/before" "$config"; then
    pass broken-toml
  else
    fail broken-toml "exit status $status, message: $(cat "$case_dir/err")"
  fi
}

test_dump_leaves_system_alone() {
  if [[ -z $CONTAINERD ]]; then
    skip dump-leaves-system-alone "containerd is not installed"
  elif [[ -z $STRACE ]]; then
    skip dump-leaves-system-alone "strace is not installed or cannot trace here"
  elif ((dumps_traced == 0)); then
    skip dump-leaves-system-alone "no containerd config dump ran"
  elif [[ -n $dump_side_effects ]]; then
    fail dump-leaves-system-alone "containerd config dump made these calls: $(head -n 3 <<<"$dump_side_effects")"
  else
    pass dump-leaves-system-alone
  fi
}

main() {
  if [[ ! -x $SCRIPT ]]; then
    printf 'FAIL setup: %s is missing or not executable\n' "$SCRIPT"
    exit 1
  fi
  test_missing_v2
  test_missing_v3
  test_empty_files
  test_version_from_containerd
  test_version_unknown
  test_realistic_handwritten
  test_realistic_generated
  test_outdated_table_replaced
  test_dry_run
  test_version_1_rejected
  test_drop_in_v3
  test_drop_in_v2_without_cri
  test_main_file_when_cri_present_v2
  test_last_cri_file_v2
  test_edit_v3_main_file
  test_warnings
  test_inline_table_rejected
  test_two_holders_rejected
  test_multiline_values
  test_crlf_line_ends
  test_symlink_followed
  test_restart
  test_bad_options
  test_broken_toml_rejected
  test_dump_leaves_system_alone
  printf '%d passed, %d failed\n' "$passed" "$failed"
  ((failed == 0))
}

main "$@"
