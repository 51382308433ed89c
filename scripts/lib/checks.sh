# shellcheck shell=bash
# End-to-end checks of a containerd runtime, driven through ctr against the
# private containerd of scripts/lib/containerd.sh. Source common.sh,
# containerd.sh, image.sh and tasks.sh first.
#
# Each check is a function named check_<name> listed in CHECKS. It returns 0
# when the check passes, 1 when it fails and 2 when it does not apply, and
# leaves the reason for a failure or a skip in CHECK_REASON. Checks run in
# the order of CHECKS, each with its own container ids.

# shellcheck disable=SC2034  # read by the runner that sources this file
CHECKS=(
  check_greeting
  check_exit_code
  check_kill
  check_exec
  check_host_protection
  check_cleanup_after_rm
  check_missing_program
  check_invalid_id
  check_mount_table
)

INITIAL_MOUNTS=""  # mount_table before containerd started
STARTED_MOUNTS=""  # mount_table right after it started

# The name of the namespace pin Reaper creates. There is one isolation key,
# "node", for every workload of a node so far.
EXPECTED_PIN_NAME=node

GREETING="Hello from Reaper runtime!"

# Prints the host mount table as sorted "mount-point fstype source" lines.
# Mounts under /tmp other than DIR (the private containerd's directory) are
# left out, because other test suites on the same host mount and unmount in
# their own temporary directories while these checks run.
mount_table() {
  local dir=$1
  awk '{ for (i = 7; $i != "-"; i++) {}; print $5, $(i + 1), $(i + 2) }' /proc/self/mountinfo |
    awk -v dir="$dir" 'index($1, "/tmp/") != 1 || (dir != "" && ($1 == dir || index($1, dir "/") == 1))' |
    LC_ALL=C sort
}

# Fails unless the mount table differs from BASE (a mount_table output) by
# Reaper's namespace pins alone: an nsfs mount at $REAPER_STATE/ns/node and,
# optionally, the bind mount of the ns directory onto itself that makes the
# pin private. With REQUIRE_PIN=1 the nsfs pin must be there; for runtimes
# other than Reaper no difference at all is allowed.
expect_only_pins() {
  local base=$1 require_pin=$2 current missing extra line mount_point fstype source
  local ns_dir=$REAPER_STATE/ns pin_found=0 unexpected=()
  current=$(mount_table "$CONTAINERD_DIR")
  missing=$(LC_ALL=C comm -23 <(printf '%s\n' "$base") <(printf '%s\n' "$current"))
  extra=$(LC_ALL=C comm -13 <(printf '%s\n' "$base") <(printf '%s\n' "$current"))
  [[ -z $missing ]] || { fail "mounts disappeared from the host: ${missing//$'\n'/; }"; return; }

  while read -r mount_point fstype source; do
    [[ -n $mount_point ]] || continue
    line="$mount_point $fstype $source"
    if is_reaper && [[ $mount_point == "$ns_dir/$EXPECTED_PIN_NAME" && $fstype == nsfs ]]; then
      pin_found=1
    elif is_reaper && [[ $mount_point == "$ns_dir" ]]; then
      detail "namespace directory bind mount: $line"
    else
      unexpected+=("$line")
    fi
  done <<<"$extra"

  ((${#unexpected[@]} == 0)) || { fail "unexpected mounts on the host: $(printf '%s; ' "${unexpected[@]}")"; return; }
  if ((require_pin && !pin_found)); then
    fail "no nsfs pin at $ns_dir/$EXPECTED_PIN_NAME in the host mount table"
    return
  fi
  detail "extra mounts: ${extra:-none}"
}

# Fails if task ID left a shim, a zombie, a state directory (containerd's
# bundle, reaper-runtime's state, the shim's work directory), a container
# record or a mount (other than Reaper's pins) behind. Shims exit shortly
# after ctr returns, so they get SETTLE_TIMEOUT seconds.
expect_no_leftovers() {
  local id=$1 shims zombies pid ppid state parents
  mapfile -t shims < <(containerd_shim_pids)
  if ((${#shims[@]} > 0)) && ! wait_for_exit "$SETTLE_TIMEOUT" "${shims[@]}"; then
    for pid in "${shims[@]}"; do
      detail "shim $pid: $(process_cmdline "$pid")"
    done
    fail "shim processes still running ${SETTLE_TIMEOUT} s after task $id was removed: ${shims[*]}"
    return
  fi

  parents=" $CONTAINERD_PID $(containerd_shim_pids | tr '\n' ' ') "
  zombies=""
  while read -r pid ppid state; do
    if [[ $state == Z && $parents == *" $ppid "* ]]; then
      zombies+="$pid (parent $ppid) "
    fi
  done < <(process_table)
  [[ -z $zombies ]] || { fail "zombie processes left: $zombies"; return; }

  local bundle=$CONTAINERD_DIR/state/io.containerd.runtime.v2.task/default/$id
  [[ ! -e $bundle ]] || { fail "task bundle $bundle still exists"; return; }
  if is_reaper; then
    [[ ! -e $REAPER_STATE/runtime/default/$id ]] || { fail "runtime state $REAPER_STATE/runtime/default/$id still exists"; return; }
    [[ ! -e $REAPER_STATE/shim/default/$id ]] || { fail "shim work directory $REAPER_STATE/shim/default/$id still exists"; return; }
  fi
  if ctr_private containers list -q | grep -qxF -- "$id"; then
    fail "container $id is still listed by ctr containers list"
    return
  fi
  expect_only_pins "$INITIAL_MOUNTS" 0
}

# a. The workload's stdout reaches ctr unchanged.
check_greeting() {
  run_task t-greeting /bin/echo "$GREETING"
  ((TASK_STATUS == 0)) || { fail "ctr exited with status $TASK_STATUS: $(first_line "$TASK_ERR")"; return; }
  [[ $(<"$TASK_OUT") == "$GREETING" ]] || { fail "stdout was '$(<"$TASK_OUT")', expected '$GREETING'"; return; }
  [[ $(wc -l <"$TASK_OUT") == 1 ]] || { fail "stdout had $(wc -l <"$TASK_OUT") lines, expected 1"; return; }
}

# b. The workload's exit status becomes ctr's.
check_exit_code() {
  run_task t-exit-code /bin/sh -c 'exit 3'
  ((TASK_STATUS == 3)) || { fail "ctr exited with status $TASK_STATUS, expected 3: $(first_line "$TASK_ERR")"; return; }
}

# c. SIGTERM through ctr task kill ends the task with status 128 + 15.
check_kill() {
  local id=t-kill workload=(/bin/sleep 300)
  if ! is_reaper; then
    # Under runc the workload is PID 1 of its own PID namespace. The kernel
    # drops signals with the default action that are sent to such an init,
    # so this shell exits on SIGTERM through a trap instead.
    workload=(/bin/sh -c 'trap "exit 143" TERM; /bin/sleep 300 & wait')
  fi
  start_background_task "$id" "${workload[@]}" || return
  detail "$(quote_command ctr tasks kill "$id")"
  if ! ctr_private tasks kill "$id"; then
    ctr_private tasks kill --signal SIGKILL "$id" || true
    finish_background_task "$id"
    fail "ctr tasks kill $id failed"
    return
  fi
  finish_background_task "$id" ||
    { fail "task $id still running ${SETTLE_TIMEOUT} s after SIGTERM"; return; }
  ((TASK_STATUS == 143)) || { fail "task exited with status $TASK_STATUS, expected 143: $(first_line "$TASK_ERR")"; return; }
}

# d. An exec process in a running task gets its own stdout and exit status.
check_exec() {
  local id=t-exec status=0 output
  start_background_task "$id" /bin/sleep 300 || return
  detail "$(quote_command ctr tasks exec --exec-id e1 "$id" /bin/sh -c 'echo from-exec; exit 5')"
  output=$(timeout --kill-after=5 "$TASK_TIMEOUT" ctr --address "$CONTAINERD_ADDRESS" tasks exec \
    --fifo-dir "$CONTAINERD_DIR/fifo" --exec-id e1 "$id" /bin/sh -c 'echo from-exec; exit 5' \
    </dev/null 2>"$CONTAINERD_DIR/logs/$id-e1.err") || status=$?
  detail "exit status $status" "stdout: $output" "stderr: $(describe_output "$CONTAINERD_DIR/logs/$id-e1.err")"

  ctr_private tasks kill --signal SIGKILL "$id" || true
  finish_background_task "$id" ||
    { fail "task $id still running ${SETTLE_TIMEOUT} s after SIGKILL"; return; }
  [[ $output == from-exec ]] || { fail "exec stdout was '$output', expected 'from-exec'"; return; }
  ((status == 5)) || { fail "ctr tasks exec exited with status $status, expected 5: $(first_line "$CONTAINERD_DIR/logs/$id-e1.err")"; return; }
  ((TASK_STATUS == 137)) || { fail "task exited with status $TASK_STATUS after SIGKILL, expected 137"; return; }
}

# e. Writes to the root filesystem stay with the workload: a new file in
# /etc and an append to an existing host file in /tmp are visible to the
# workload but never reach the host.
check_host_protection() {
  local suffix etc_file tmp_file expected script
  suffix=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
  etc_file=/etc/reaper-it-$suffix
  tmp_file=/tmp/reaper-it-$suffix.txt
  printf 'host content\n' >"$tmp_file"
  # shellcheck disable=SC2016  # expanded by the workload's shell
  script='echo workload-etc >"$1" && echo workload-tmp >>"$2" && cat "$1" "$2"'
  run_task t-host-protection /bin/sh -c "$script" sh "$etc_file" "$tmp_file"

  local host_etc_exists=0 host_tmp_content
  if [[ -e $etc_file ]]; then
    host_etc_exists=1
  fi
  host_tmp_content=$(<"$tmp_file")
  rm -f "$etc_file" "$tmp_file"

  if is_reaper; then
    # The workload sees the host's /tmp through the overlay.
    expected=$'workload-etc\nhost content\nworkload-tmp'
  else
    # runc shows the image's /tmp, where the file does not exist yet.
    expected=$'workload-etc\nworkload-tmp'
  fi
  ((TASK_STATUS == 0)) || { fail "ctr exited with status $TASK_STATUS: $(first_line "$TASK_ERR")"; return; }
  ((host_etc_exists == 0)) || { fail "the workload's $etc_file appeared on the host"; return; }
  [[ $host_tmp_content == "host content" ]] || { fail "host file $tmp_file changed to '${host_tmp_content//$'\n'/\\n}'"; return; }
  [[ $(<"$TASK_OUT") == "$expected" ]] || { fail "the workload read back '$(paste -sd'|' "$TASK_OUT")', expected '${expected//$'\n'/|}'"; return; }
}

# f. After ctr run --rm, nothing of the task remains.
check_cleanup_after_rm() {
  run_task t-cleanup /bin/true
  ((TASK_STATUS == 0)) || { fail "ctr exited with status $TASK_STATUS: $(first_line "$TASK_ERR")"; return; }
  expect_no_leftovers t-cleanup
}

# h. A program that does not exist is a clear error and leaves nothing.
check_missing_program() {
  run_task t-missing /nonexistent-binary
  ((TASK_STATUS != 0 && TASK_STATUS != 124)) || { fail "ctr exited with status $TASK_STATUS, expected a failure"; return; }
  grep -qF /nonexistent-binary "$TASK_ERR" "$TASK_OUT" ||
    { fail "the error does not name /nonexistent-binary: $(first_line "$TASK_ERR")"; return; }
  expect_no_leftovers t-missing
}

# h. An invalid container id. containerd itself validates container and exec
# ids: letters and digits separated by single '.', '_' or '-', at most 76
# characters. So no invalid id reaches a runtime through ctr, and the
# runtime's own id checks are left to its unit tests.
check_invalid_id() {
  run_task 'bad..id' /bin/true
  if ((TASK_STATUS == 0)); then
    fail "ctr accepted the container id 'bad..id'"
    return
  fi
  if grep -q 'identifier "bad..id" must match' "$TASK_ERR"; then
    skip "containerd rejects 'bad..id' before any runtime sees it"
    return
  fi
  fail "ctr failed with status $TASK_STATUS but not on id validation: $(first_line "$TASK_ERR")"
}

# g. The runtime adds nothing to the host mount table but Reaper's namespace
# pin. The comparison after teardown is done by the runner.
check_mount_table() {
  [[ $STARTED_MOUNTS == "$INITIAL_MOUNTS" ]] ||
    { fail "starting containerd changed the host mount table"; return; }
  if is_reaper; then
    expect_only_pins "$INITIAL_MOUNTS" 1
  else
    expect_only_pins "$INITIAL_MOUNTS" 0
  fi
}
