#!/usr/bin/env bash
# Adds Reaper's runtime "reaper-v2" to containerd's CRI configuration, so that
# a Kubernetes RuntimeClass with handler "reaper-v2" runs pods on Reaper.
# Run with --help for the options. Needs only bash, awk, sed, grep and
# coreutils (no python), so it runs on a bare node.
#
# What it writes, by config version (the file's top-level "version = N"):
#   2 (containerd 1.6, 1.7):
#     [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.reaper-v2]
#       runtime_type = "io.containerd.reaper.v2"
#       sandbox_mode = "podsandbox"
#       [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.reaper-v2.options]
#         ConfigPath = "/etc/reaper/reaper.conf"
#   3 and 4 (containerd 2.x): the same under
#     plugins.'io.containerd.cri.v1.runtime', with sandboxer = 'podsandbox'.
#   1 (or no version line): rejected. containerd 2.x converts such a file with
#   `containerd config migrate`; 1.x has no such command.
# When the file does not exist, or holds only comments and blank lines, the
# version comes from --containerd-version or `containerd --version`
# (1.x: version 2, 2.x: version 3).
# NOTE: version 4 (containerd 2.3) is taken to keep version 3's CRI runtime
# tables, because its migration (serviceMigrate in containerd's
# cmd/containerd/server/config/config.go) moves only the server settings
# (grpc, ttrpc, debug, metrics) into plugins. No 2.3 daemon was run with it.
#
# Which file gets the table. containerd loads the main file, then each file
# its `imports` list names, in order, and merges them:
#   - containerd 1.6 and 1.7 (services/server/config/config.go, mergeConfig)
#     replace a plugin's whole section with the one of the file loaded last
#     ("Replace entire sections instead of merging map's values").
#   - containerd 2.x (cmd/containerd/server/config/config.go, mergeConfig,
#     read on the main branch; the change came with 2.0) merges plugin
#     sections key by key, recursively. It calls mergo.Merge with
#     WithOverride and no longer follows it with that replacement loop. Its
#     tests TestMergingTwoPluginConfigs* merge the runtimes tables of two
#     files.
# So:
#   - An existing reaper-v2 table is replaced where it is, in whichever
#     loaded file holds it. Two files holding one is an error.
#   - Version 3 and 4 (only containerd 2.x reads them): a new table goes into
#     a drop-in file when the main file's `imports` has a glob such as
#     "/etc/containerd/conf.d/*.toml" (the drop-in is that directory's
#     "reaper.toml", the `*` replaced by "reaper"), else into the main file.
#   - Version 2 (containerd 1.x, or 2.x reading an old file): the table goes
#     into the last loaded file that has any CRI plugin setting, because that
#     file's CRI section is the only one 1.x keeps. When no file has one, it
#     goes into a drop-in as above (absolute globs only: 1.x resolves a
#     relative glob against its working directory), else into the main file.
#     NOTE: on 1.x a CRI drop-in added later by someone else, and loaded
#     after Reaper's, would replace Reaper's CRI section; the script warns
#     when it sees two files with CRI settings.
#
# containerd 1.x also drops its built-in "runc" runtime as soon as the file it
# keeps the CRI section from names any runtime: go-toml v1 replaces the
# default runtimes map instead of adding to it, and the CRI plugin then fails
# to load ("no corresponding runtime configured in `containerd.runtimes` for
# `containerd` `default_runtime_name = "runc"`", seen with containerd
# 1.6.20). For version 2 the script therefore also adds
#   [...runtimes.runc] runtime_type = "io.containerd.runc.v2"
# when default_runtime_name is runc (the default) and that file names no runc
# runtime. containerd 2.x decodes with go-toml v2, whose decoder adds to an
# existing map (handleKeyPart in its unmarshaler.go), so version 3 needs no
# such table. NOTE: that was read in the source, not run on a 2.x daemon.
#
# Editing: the files are read with a small TOML scanner (headers, dotted and
# quoted keys, strings, multi-line strings and arrays). Only the lines of the
# reaper-v2 table and its subtables are replaced, and new text is inserted
# after the last table of the closest existing parent (normally after the
# other runtimes); every other byte stays as it was. A reaper-v2 runtime
# written as an inline table or with dotted keys is not edited: the script
# stops and names the line. Files are written through a temporary file and a
# rename, keep their mode and owner, and get a copy FILE.reaper-backup of
# their previous content when they change.
set -euo pipefail
shopt -s inherit_errexit
# Byte order for sorting glob matches, as Go's filepath.Glob in containerd.
export LC_ALL=C

readonly PROGRAM=configure-containerd.sh
readonly RUNTIME_NAME=reaper-v2
readonly RUNTIME_TYPE=io.containerd.reaper.v2
readonly DEFAULT_CONFIG=/etc/containerd/config.toml
readonly DEFAULT_REAPER_CONFIG=/etc/reaper/reaper.conf
readonly DROP_IN_STEM=reaper
readonly BACKUP_SUFFIX=.reaper-backup
# Separators in the scanner's output: one between the parts of a TOML key,
# one between the fields of a record. Neither can appear in a config line.
readonly KEY_SEPARATOR=$'\034'
readonly FIELD_SEPARATOR=$'\037'

usage() {
  cat <<EOF
Usage: $PROGRAM [OPTIONS]

Adds the containerd runtime "$RUNTIME_NAME" (runtime_type $RUNTIME_TYPE) to
containerd's CRI configuration, for a Kubernetes RuntimeClass with handler
"$RUNTIME_NAME". Running it again changes nothing. An existing $RUNTIME_NAME
table is replaced by the expected one; no other table or line is changed.
Where containerd's \`imports\` allows it safely, the table goes into a
drop-in file next to the main one (the header of this script gives the rule).

Options:
  --config PATH              containerd's main configuration file
                             (default: $DEFAULT_CONFIG)
  --config-path PATH         the Reaper configuration file the shim reads,
                             sent as the runtime option ConfigPath; must be
                             absolute (default: $DEFAULT_REAPER_CONFIG)
  --containerd-version VER   containerd's version, such as 1.7 or 2.1.4; only
                             used to pick the config version of a new file
                             (default: read from \`containerd --version\`)
  --dry-run                  print the resulting file(s) to stdout, each after
                             a "# ==> PATH <==" line, and change nothing
  --restart                  restart containerd with systemctl after a change
                             (default: only print that a restart is needed)
  -h, --help                 print this help and exit

Exit status: 0 on success (changed or not), 1 on an error, 2 on a usage error.
EOF
}

log() {
  printf '%s: %s\n' "$PROGRAM" "$*" >&2
}

die() {
  log "error: $*"
  exit 1
}

usage_error() {
  log "error: $*"
  log "run '$PROGRAM --help' for the options"
  exit 2
}

config_file=$DEFAULT_CONFIG
reaper_config=$DEFAULT_REAPER_CONFIG
containerd_version=""
dry_run=0
restart=0

# Reads the value of an option given as "--name value" or "--name=value".
# Sets option_value and option_shift (how many arguments it used).
read_option_value() {
  local name=$1 argument=$2
  shift 2
  if [[ $argument == "$name="* ]]; then
    option_value=${argument#"$name="}
    option_shift=1
  elif (($# > 0)); then
    option_value=$1
    option_shift=2
  else
    usage_error "$name needs a value"
  fi
  if [[ -z $option_value ]]; then
    usage_error "$name needs a non-empty value"
  fi
}

parse_options() {
  local option_value option_shift
  while (($# > 0)); do
    case $1 in
      --config | --config=*)
        read_option_value --config "$@"
        config_file=$option_value
        shift "$option_shift"
        ;;
      --config-path | --config-path=*)
        read_option_value --config-path "$@"
        reaper_config=$option_value
        shift "$option_shift"
        ;;
      --containerd-version | --containerd-version=*)
        read_option_value --containerd-version "$@"
        containerd_version=$option_value
        shift "$option_shift"
        ;;
      --dry-run) dry_run=1; shift ;;
      --restart) restart=1; shift ;;
      -h | --help) usage; exit 0 ;;
      *) usage_error "unknown option \"$1\"" ;;
    esac
  done
  if ((dry_run && restart)); then
    usage_error "--dry-run and --restart cannot be combined"
  fi
}

validate_options() {
  if [[ $reaper_config != /* ]]; then
    usage_error "invalid --config-path \"$reaper_config\": the path must be absolute"
  fi
  # The value is written into a quoted TOML string, so quotes, backslashes and
  # control characters would need escaping. Paths rarely contain them.
  if [[ $reaper_config == *[\"\'\\]* || $reaper_config == *[[:cntrl:]]* ]]; then
    usage_error "invalid --config-path \"$reaper_config\": quotes, backslashes and control characters are not supported"
  fi
  if [[ -n $containerd_version ]] &&
     ! [[ $containerd_version =~ ^v?[0-9]+(\.[0-9]+)*([~+-].*)?$ ]]; then
    usage_error "invalid --containerd-version \"$containerd_version\": expected a version such as 1.7 or 2.1.4"
  fi
}

# Prints containerd's major version: from --containerd-version, else from
# `containerd --version`, whose third field is the version ("1.6.20~ds1",
# "v2.1.4").
containerd_major_version() {
  local version=$containerd_version output
  if [[ -z $version ]]; then
    if ! command -v containerd >/dev/null 2>&1; then
      die "cannot tell which config version to write for the new file $config_file: containerd is not in PATH; pass --containerd-version (for example 1.7 or 2.1)"
    fi
    if ! output=$(containerd --version 2>&1); then
      die "\`containerd --version\` failed: $output; pass --containerd-version"
    fi
    read -r _ _ version _ <<<"$output"
    if ! [[ ${version:-} =~ ^v?[0-9]+(\.[0-9]+)* ]]; then
      die "cannot read a version from \`containerd --version\` output \"$output\"; pass --containerd-version"
    fi
  fi
  version=${version#v}
  printf '%s\n' "${version%%[!0-9]*}"
}

# The TOML scanner. Reads one file and prints records, one a line, fields
# separated by FIELD_SEPARATOR:
#   version N LINE      the top-level version key and its raw value
#   import PATH         each string of the top-level imports array
#   disabled NAME       each string of the top-level disabled_plugins array
#   default_runtime N   the value of <cri plugin>.containerd.default_runtime_name
#   runtime NAME        a runtime named under <cri plugin>.containerd.runtimes
#   cri LINE            a setting of the CRI plugin (a table or a key in it)
#   block M N START END ARRAY INDENT
#                       a table: M leading key parts shared with the target
#                       table, N key parts, its header line, its last line
#                       of content, 1 for [[array tables]], the header's
#                       leading whitespace
#   target_value LINE   the target table set by a key/value line (inline
#                       table or dotted keys)
#   parent_value LINE   a parent of the target set by a key/value line
#   content 1           the file has at least one key or table
#   error LINE MESSAGE  the file cannot be read as TOML; printed last
# The variable "target" is the target table's key, parts joined by "sep".
# shellcheck disable=SC2016 # the awk program is single-quoted on purpose
readonly SCANNER='
function fail(message) {
  printf "error%s%d%s%s\n", fs, NR, fs, message
  failed = 1
  exit 1
}

function skip_blanks(s, i) {
  while (i <= length(s) && (substr(s, i, 1) == " " || substr(s, i, 1) == "\t")) i++
  return i
}

# Parses a dotted key starting at s[i]. Sets KEY (parts joined by sep),
# KEY_PARTS and POSITION (the first character after the key and its
# trailing blanks). Returns 0 when there is no valid key.
function parse_key(s, i,    c, part, start, j) {
  KEY = ""
  KEY_PARTS = 0
  while (1) {
    i = skip_blanks(s, i)
    c = substr(s, i, 1)
    if (c == "\"") {
      part = ""
      i++
      while (i <= length(s)) {
        c = substr(s, i, 1)
        if (c == "\\") { part = part substr(s, i + 1, 1); i += 2; continue }
        if (c == "\"") break
        part = part c
        i++
      }
      if (i > length(s)) return 0
      i++
    } else if (c == "\047") {
      j = index(substr(s, i + 1), "\047")
      if (j == 0) return 0
      part = substr(s, i + 1, j - 1)
      i += j + 1
    } else {
      start = i
      while (i <= length(s) && substr(s, i, 1) ~ /[A-Za-z0-9_-]/) i++
      if (i == start) return 0
      part = substr(s, start, i - start)
    }
    KEY = KEY_PARTS == 0 ? part : KEY sep part
    KEY_PARTS++
    i = skip_blanks(s, i)
    if (substr(s, i, 1) != ".") break
    i++
  }
  POSITION = i
  return 1
}

# Scans value text from s[i], tracking open brackets (DEPTH) and multi-line
# strings (MULTILINE), which continue a value on the next lines. When
# capture is set, the strings seen outside comments are printed as records
# of that kind.
function scan(s, i,    c, n, start) {
  n = length(s)
  while (i <= n) {
    c = substr(s, i, 1)
    if (MULTILINE == "basic") {
      if (c == "\\") { i += 2; continue }
      if (substr(s, i, 3) == "\"\"\"") { MULTILINE = ""; i += 3; continue }
      i++
      continue
    }
    if (MULTILINE == "literal") {
      if (substr(s, i, 3) == "\047\047\047") { MULTILINE = ""; i += 3; continue }
      i++
      continue
    }
    if (c == "#") return
    if (c == "\"") {
      if (substr(s, i, 3) == "\"\"\"") { MULTILINE = "basic"; i += 3; continue }
      start = ++i
      while (i <= n && substr(s, i, 1) != "\"") i += substr(s, i, 1) == "\\" ? 2 : 1
      if (i > n) fail("unterminated string")
      if (capture != "") printf "%s%s%s\n", capture, fs, substr(s, start, i - start)
      i++
      continue
    }
    if (c == "\047") {
      if (substr(s, i, 3) == "\047\047\047") { MULTILINE = "literal"; i += 3; continue }
      start = ++i
      while (i <= n && substr(s, i, 1) != "\047") i++
      if (i > n) fail("unterminated string")
      if (capture != "") printf "%s%s%s\n", capture, fs, substr(s, start, i - start)
      i++
      continue
    }
    if (c == "[" || c == "{") DEPTH++
    else if (c == "]" || c == "}") DEPTH--
    i++
  }
}

# Number of leading key parts that "key" (of "parts" parts) shares with the
# target.
function shared_parts(key, parts,    p, m) {
  split(key, p, sep)
  m = 0
  while (m < parts && m < TARGET_PARTS && p[m + 1] == TARGET[m + 1]) m++
  return m
}

function part_of(key, n,    p) {
  split(key, p, sep)
  return p[n]
}

function end_block() {
  if (block_start > 0) {
    printf "block%s%d%s%d%s%d%s%d%s%d%s%s\n", fs, block_shared, fs, block_parts, fs,
      block_start, fs, block_end, fs, block_array, fs, block_indent
  }
}

function handle_header(line,    indent, i, closing, shared) {
  match(line, /^[ \t]*/)
  indent = substr(line, 1, RLENGTH)
  i = RLENGTH + 1
  block_array = substr(line, i, 2) == "[["
  i += block_array ? 2 : 1
  if (!parse_key(line, i)) fail("invalid table header")
  closing = block_array ? "]]" : "]"
  if (substr(line, POSITION, length(closing)) != closing) fail("invalid table header")
  if (substr(line, POSITION + length(closing)) !~ /^[ \t]*(#.*)?$/) {
    fail("unexpected text after the table header")
  }
  end_block()
  table = KEY
  table_parts = KEY_PARTS
  shared = shared_parts(table, table_parts)
  block_shared = shared
  block_parts = table_parts
  block_start = NR
  block_end = NR
  block_indent = indent
  content = 1
  if (shared >= 2) printf "cri%s%d\n", fs, NR
  if (shared >= 4 && table_parts >= 5) printf "runtime%s%s\n", fs, part_of(table, 5)
  if (block_array && shared == table_parts) printf "parent_value%s%d\n", fs, NR
}

function handle_key_value(line,    full, parts, shared, value) {
  if (!parse_key(line, 1)) fail("expected a key, a table header or a comment")
  if (substr(line, POSITION, 1) != "=") fail("expected \"=\" after the key")
  content = 1
  block_end = NR
  full = table == "" ? KEY : table sep KEY
  parts = table_parts + KEY_PARTS
  shared = shared_parts(full, parts)
  capture = ""
  if (shared_parts(table, table_parts) < TARGET_PARTS) {
    if (shared == TARGET_PARTS) printf "target_value%s%d\n", fs, NR
    else if (shared == parts) printf "parent_value%s%d\n", fs, NR
    if (shared >= 2) printf "cri%s%d\n", fs, NR
    if (shared >= 4 && parts >= 5) printf "runtime%s%s\n", fs, part_of(full, 5)
    if (shared == 3 && parts == 4 && part_of(full, 4) == "default_runtime_name") {
      capture = "default_runtime"
    }
  }
  if (table == "" && KEY == "version") {
    value = substr(line, POSITION + 1)
    sub(/^[ \t]+/, "", value)
    sub(/[ \t]*(#.*)?$/, "", value)
    printf "version%s%s%s%d\n", fs, value, fs, NR
  }
  if (table == "" && KEY == "imports") capture = "import"
  if (table == "" && KEY == "disabled_plugins") capture = "disabled"
  DEPTH = 0
  MULTILINE = ""
  scan(line, POSITION + 1)
  if (DEPTH == 0 && MULTILINE == "") capture = ""
}

BEGIN {
  fs = field_separator
  TARGET_PARTS = split(target, TARGET, sep)
  table = ""
  table_parts = 0
  block_start = 0
}

{
  line = $0
  sub(/\r$/, "", line)
  if (MULTILINE != "" || DEPTH > 0) {
    scan(line, 1)
    block_end = NR
    if (DEPTH == 0 && MULTILINE == "") capture = ""
    next
  }
  if (line ~ /^[ \t]*(#.*)?$/) next
  if (line ~ /^[ \t]*\[/) handle_header(line)
  else handle_key_value(line)
}

END {
  if (failed) exit 1
  if (MULTILINE != "") { NR++; fail("unterminated multi-line string at the end of the file") }
  if (DEPTH > 0) { NR++; fail("unclosed array or inline table at the end of the file") }
  end_block()
  if (content) printf "content%s1\n", fs
}
'

# Runs the scanner on file $1 for target key $2; prints its records.
# Exits with an error naming the file and line when the file is not TOML the
# scanner understands.
scan_file() {
  local file=$1 target=$2 output kind line message
  if ! output=$(awk -v target="$target" -v sep="$KEY_SEPARATOR" \
                    -v field_separator="$FIELD_SEPARATOR" "$SCANNER" "$file"); then
    IFS=$FIELD_SEPARATOR read -r kind line message <<<"${output##*$'\n'}"
    if [[ $kind == error ]]; then
      die "$file:$line: $message; fix the file (\`containerd --config $file config dump\` shows how containerd reads it)"
    fi
    die "could not read $file"
  fi
  printf '%s\n' "$output"
}

# Prints the value of each record of kind $1 in scanner output $2.
records() {
  local kind=$1 record_kind value
  while IFS=$FIELD_SEPARATOR read -r record_kind value; do
    if [[ $record_kind == "$kind" ]]; then
      printf '%s\n' "$value"
    fi
  done <<<"$2"
}

# Prints the value of the first record of kind $1 in scanner output $2.
first_record() {
  local kind=$1 record_kind value
  while IFS=$FIELD_SEPARATOR read -r record_kind value; do
    if [[ $record_kind == "$kind" ]]; then
      printf '%s\n' "$value"
      return 0
    fi
  done <<<"$2"
}

# Succeeds when scanner output $2 has a record of kind $1, with value $3 when
# $3 is given.
has_record() {
  local kind=$1 record_kind value
  while IFS=$FIELD_SEPARATOR read -r record_kind value; do
    if [[ $record_kind == "$kind" ]] && { (($# < 3)) || [[ $value == "$3" ]]; }; then
      return 0
    fi
  done <<<"$2"
  return 1
}

# Succeeds when scanner output $1 has a table in the reaper-v2 runtime's
# subtree (a block record sharing all 5 key parts with the target).
has_target_table() {
  local record_kind shared rest
  while IFS=$FIELD_SEPARATOR read -r record_kind shared rest; do
    if [[ $record_kind == block && $shared == 5 ]]; then
      return 0
    fi
  done <<<"$1"
  return 1
}

# Stops with message $1 and how to convert a version 1 file.
reject_version_1() {
  die "$1, which this script does not edit. Convert it first: containerd 2.x prints the converted file with \`containerd config migrate\`; on containerd 1.x add \"version = 2\" and write plugins by their full ids (\"cri\" becomes \"io.containerd.grpc.v1.cri\"), as \`containerd config default\` shows"
}

# The config version of scanner output $1, for file $2: the number, or "" when
# the file holds only comments and blank lines. Version 1 and versions newer
# than 4 are errors.
config_version_of() {
  local output=$1 file=$2 value line
  value=$(first_record version "$output")
  line=${value#*"$FIELD_SEPARATOR"}
  value=${value%%"$FIELD_SEPARATOR"*}
  if [[ -z $value ]]; then
    if has_record content "$output"; then
      reject_version_1 "$file has no \"version\" line, so containerd reads it as config version 1"
    fi
    return 0
  fi
  if ! [[ $value =~ ^[0-9]+$ ]]; then
    die "$file:$line: invalid config version \"$value\": expected an integer"
  fi
  case $value in
    1) reject_version_1 "$file:$line: the file has config version 1" ;;
    2 | 3 | 4) printf '%s\n' "$value" ;;
    *) die "$file:$line: unsupported config version $value: this script knows versions 2 to 4" ;;
  esac
}

# The target table's key for config version $1, parts joined by
# KEY_SEPARATOR, and the CRI plugin id.
cri_plugin_of() {
  if (($1 == 2)); then
    printf '%s\n' io.containerd.grpc.v1.cri
  else
    printf '%s\n' io.containerd.cri.v1.runtime
  fi
}

target_key_of() {
  local s=$KEY_SEPARATOR
  printf '%s\n' "plugins$s$(cri_plugin_of "$1")${s}containerd${s}runtimes$s$RUNTIME_NAME"
}

# Prints the table header for runtime $2 in config version $1, with quoting
# as `containerd config default` writes it for that version.
runtime_header() {
  if (($1 == 2)); then
    printf '[plugins."%s".containerd.runtimes.%s' "$(cri_plugin_of "$1")" "$2"
  else
    printf "[plugins.'%s'.containerd.runtimes.%s" "$(cri_plugin_of "$1")" "$2"
  fi
}

# Prints a TOML string in the quotes of config version $1.
toml_string() {
  if (($1 == 2)); then
    printf '"%s"' "$2"
  else
    printf "'%s'" "$2"
  fi
}

# Prints the reaper-v2 table and its options subtable for config version $1,
# indented by $2.
reaper_table() {
  local version=$1 indent=$2 sandbox_key=sandboxer
  if ((version == 2)); then
    sandbox_key=sandbox_mode
  fi
  printf '%s%s]\n' "$indent" "$(runtime_header "$version" "$RUNTIME_NAME")"
  printf '%s  runtime_type = %s\n' "$indent" "$(toml_string "$version" "$RUNTIME_TYPE")"
  printf '%s  %s = %s\n' "$indent" "$sandbox_key" "$(toml_string "$version" podsandbox)"
  printf '%s  %s.options]\n' "$indent" "$(runtime_header "$version" "$RUNTIME_NAME")"
  printf '%s    ConfigPath = %s\n' "$indent" "$(toml_string "$version" "$reaper_config")"
}

# Prints the runc table that keeps containerd 1.x's default runtime (see the
# header), indented by $1. Config version 2 only.
runc_table() {
  local indent=$1
  printf '%s# containerd 1.x keeps its built-in runc runtime only while no runtime is\n' "$indent"
  printf '%s# named here, so it is named explicitly.\n' "$indent"
  printf '%s%s]\n' "$indent" "$(runtime_header 2 runc)"
  printf '%s  runtime_type = "io.containerd.runc.v2"\n' "$indent"
}

reaper_comment() {
  printf '%s# Reaper (containerd-shim-reaper-v2), for RuntimeClass handler "%s".\n' \
    "$1" "$RUNTIME_NAME"
}

# --- Which files containerd loads ---------------------------------------------

# Sets the array "matches" to the paths glob $1 matches, sorted by byte value
# and with `*` matching names that start with a dot, as Go's filepath.Glob
# does for containerd.
glob_matches() {
  local IFS='' restore
  restore=$(shopt -p dotglob nullglob || true)
  shopt -s dotglob nullglob
  # shellcheck disable=SC2206 # the glob is meant to expand; IFS is empty
  matches=($1)
  eval "$restore"
}

# Appends to the array "loaded" the files that import entry $2 of file $1
# names, in the order containerd loads them.
resolve_import() {
  local parent=$1 entry=$2 path match
  local -a matches=()
  path=$entry
  if [[ $path != /* ]]; then
    if [[ $path == *'*'* ]] && ((config_version == 2)); then
      log "warning: $parent imports the relative glob \"$entry\", which containerd 1.x resolves against its own working directory; it is not followed here"
      return 0
    fi
    path=$(dirname -- "$parent")/$path
  fi
  if [[ $path == *[*?[]* ]]; then
    glob_matches "$path"
    for match in "${matches[@]}"; do
      if [[ -f $match ]]; then
        loaded+=("$match")
      fi
    done
  elif [[ -f $path ]]; then
    loaded+=("$path")
  else
    log "warning: $parent imports \"$entry\", but $path does not exist"
  fi
}

# Picks the drop-in file from the main file's imports: the first glob entry
# whose directory part has no wildcard and whose file name part has only `*`
# wildcards. Prints its path with each `*` replaced by DROP_IN_STEM, or
# nothing when no entry qualifies.
drop_in_path() {
  local entry directory name
  while IFS= read -r entry; do
    [[ $entry == *'*'* ]] || continue
    if [[ $entry != /* ]]; then
      ((config_version >= 3)) || continue
      entry=$(dirname -- "$main_file")/$entry
    fi
    directory=${entry%/*}
    name=${entry##*/}
    if [[ $directory == *[*?[\\]* || $name == *[?[\\]* || -z $name ]]; then
      continue
    fi
    printf '%s/%s\n' "$directory" "${name//\*/$DROP_IN_STEM}"
    return 0
  done < <(records import "$main_scan")
}

# --- Editing ----------------------------------------------------------------

# Writes the new content of an existing file $1 (scanner output $2) to $3:
# the reaper-v2 table and its subtables are replaced, or the new text is
# inserted after the last table of the closest parent of the target.
edit_file() {
  local file=$1 scan=$2 out=$3
  local kind shared parts start end indent
  local -a removed=()
  local insert_before=0 last_line=0 target_indent="" sibling_indent="" runtimes_indent=""
  local -a parent_end=(0 0 0 0 0)
  local level need_runc=0 default_runtime

  while IFS=$FIELD_SEPARATOR read -r kind shared parts start end _ indent; do
    [[ $kind == block ]] || continue
    if ((shared == 5)); then
      removed+=("$start-$end")
      if ((insert_before == 0)); then
        insert_before=$start
        target_indent=$indent
      fi
      continue
    fi
    for ((level = 1; level <= shared && level <= 4; level++)); do
      parent_end[level]=$end
    done
    if ((shared >= 4 && parts == 5)); then
      sibling_indent=$indent
    elif ((shared == 4 && parts == 4)); then
      runtimes_indent="$indent  "
    fi
  done <<<"$scan"

  if ((config_version == 2)); then
    default_runtime=$(first_record default_runtime "$scan")
    if [[ ${default_runtime:-runc} == runc ]] && ! has_record runtime "$scan" runc; then
      need_runc=1
    elif [[ -n $default_runtime ]] && ! has_record runtime "$scan" "$default_runtime"; then
      log "warning: $file sets default_runtime_name = \"$default_runtime\", but names no runtime \"$default_runtime\"; containerd's CRI plugin will not load until that runtime is defined"
    fi
  fi

  local text=$tmp_dir/insert
  : >"$text"
  if ((insert_before > 0)); then
    # Replace the existing table where its first line was.
    if ((need_runc)); then
      runc_table "$target_indent" >>"$text"
      printf '\n' >>"$text"
    fi
    reaper_table "$config_version" "$target_indent" >>"$text"
  else
    local indent_new=${sibling_indent:-$runtimes_indent}
    for level in 4 3 2 1; do
      if ((parent_end[level] > 0)); then
        last_line=${parent_end[level]}
        break
      fi
    done
    if ((last_line == 0)); then
      last_line=$(wc -l <"$file")
      # A last line without a newline still counts.
      if [[ -s $file && $(tail -c 1 "$file" | od -An -tx1) != *0a* ]]; then
        last_line=$((last_line + 1))
      fi
      indent_new=""
    fi
    insert_before=$((last_line + 1))
    # A blank line separates the new text from the line before it, and from
    # the line after it unless that one is blank already.
    if ((last_line > 0)) && [[ -n $(sed -n "${last_line}{/^[[:space:]]*$/!p}" "$file") ]]; then
      printf '\n' >>"$text"
    fi
    if ((need_runc)); then
      runc_table "$indent_new" >>"$text"
      printf '\n' >>"$text"
    fi
    reaper_comment "$indent_new" >>"$text"
    reaper_table "$config_version" "$indent_new" >>"$text"
    if [[ -n $(sed -n "${insert_before}{/^[[:space:]]*$/!p}" "$file") ]]; then
      printf '\n' >>"$text"
    fi
  fi

  # A file written with CRLF line ends gets its new lines with CRLF too.
  if [[ $(head -n 1 -- "$file") == *$'\r' ]]; then
    sed -i 's/$/\r/' "$text"
  fi

  awk -v removed="${removed[*]}" -v insert_before="$insert_before" -v text="$text" '
    BEGIN {
      count = split(removed, ranges, " ")
      for (r = 1; r <= count; r++) {
        split(ranges[r], bounds, "-")
        first[r] = bounds[1]
        last[r] = bounds[2]
      }
    }
    function insert(    line) {
      while ((getline line < text) > 0) print line
      close(text)
    }
    {
      if (NR == insert_before) insert()
      for (r = 1; r <= count; r++) if (NR >= first[r] && NR <= last[r]) next
      print
    }
    END { if (insert_before > NR) insert() }
  ' "$file" >"$out"
}

# Writes the content of a new file (or of one holding only comments, $1) to
# $2: the version line and the tables.
new_file_content() {
  local existing=$1 out=$2
  {
    if [[ -n $existing && -s $existing ]]; then
      cat -- "$existing"
      if [[ $(tail -c 1 "$existing" | od -An -tx1) != *0a* ]]; then
        printf '\n'
      fi
      printf '\n'
    fi
    printf 'version = %s\n\n' "$config_version"
    if ((config_version == 2)); then
      runc_table ""
      printf '\n'
    fi
    reaper_comment ""
    reaper_table "$config_version" ""
  } >"$out"
}

# Replaces file $1 with $2 atomically, keeping mode and owner, after copying
# the old content to $1.reaper-backup.
install_file() {
  local file=$1 content=$2 directory temporary
  directory=$(dirname -- "$file")
  if [[ ! -d $directory ]]; then
    mkdir -p -- "$directory" || die "cannot create directory $directory"
  fi
  temporary=$(mktemp "$directory/.${file##*/}.XXXXXX") ||
    die "cannot create a temporary file in $directory"
  if ! cat -- "$content" >"$temporary"; then
    rm -f -- "$temporary"
    die "cannot write $temporary"
  fi
  if [[ -e $file ]]; then
    if ! cp -p -- "$file" "$file$BACKUP_SUFFIX"; then
      rm -f -- "$temporary"
      die "cannot write the backup $file$BACKUP_SUFFIX"
    fi
    chmod --reference="$file" -- "$temporary"
    chown --reference="$file" -- "$temporary" 2>/dev/null || true
    log "saved the previous content of $file in $file$BACKUP_SUFFIX"
  else
    chmod 0644 -- "$temporary"
  fi
  if ! mv -f -- "$temporary" "$file"; then
    rm -f -- "$temporary"
    die "cannot replace $file"
  fi
}

# --- Main -------------------------------------------------------------------

tmp_dir=""
cleanup() {
  if [[ -n $tmp_dir ]]; then
    rm -rf -- "$tmp_dir"
  fi
}

main() {
  parse_options "$@"
  validate_options
  tmp_dir=$(mktemp -d "${TMPDIR:-/tmp}/configure-containerd.XXXXXX")
  trap cleanup EXIT

  # Edit the file a symlink points to, not the link.
  main_file=$(readlink -m -- "$config_file")
  if [[ -d $main_file ]]; then
    die "--config $config_file is a directory; expected containerd's config.toml"
  fi
  if [[ -e $main_file && ! -r $main_file ]]; then
    die "cannot read $config_file: permission denied; run the script as root"
  fi

  local target_file="" target_scan="" reason
  config_version=""
  main_scan=""
  if [[ -f $main_file ]]; then
    # The target key depends on the version, which the first scan reads.
    main_scan=$(scan_file "$main_file" "$(target_key_of 2)")
    config_version=$(config_version_of "$main_scan" "$main_file")
  fi

  if [[ -z $config_version ]]; then
    local major
    major=$(containerd_major_version)
    case $major in
      1) config_version=2 ;;
      2) config_version=3 ;;
      *) die "containerd $major.x is not supported by this script: it knows config versions 2 (containerd 1.x) and 3 (containerd 2.x)" ;;
    esac
    target_file=$main_file
    reason="no configuration in $main_file yet; writing config version $config_version for containerd $major.x"
  else
    main_scan=$(scan_file "$main_file" "$(target_key_of "$config_version")")
    choose_target
  fi

  target_file=$(readlink -m -- "$target_file")
  local new_content=$tmp_dir/new
  if [[ -f $target_file ]]; then
    target_scan=$(scan_file "$target_file" "$(target_key_of "$config_version")")
    if has_record content "$target_scan"; then
      check_editable "$target_file" "$target_scan" 1
      edit_file "$target_file" "$target_scan" "$new_content"
    else
      new_file_content "$target_file" "$new_content"
    fi
  else
    new_file_content "" "$new_content"
  fi
  log "$reason"

  warn_disabled_cri
  if [[ ! -e $reaper_config ]]; then
    log "warning: $reaper_config does not exist. The shim fails to start a pod when the file named by ConfigPath is missing; create it (it may be empty): install -D -m 0644 /dev/null $reaper_config"
  fi

  local changed=1
  if [[ -f $target_file ]] && cmp -s -- "$target_file" "$new_content"; then
    changed=0
  fi

  if ((dry_run)); then
    printf '# ==> %s <==\n' "$target_file"
    cat -- "$new_content"
    if ((changed)); then
      log "dry run: $target_file would be written as printed above; nothing was changed"
    else
      log "dry run: $target_file already has the $RUNTIME_NAME runtime as printed; nothing would change"
    fi
    return 0
  fi

  if ((!changed)); then
    log "$target_file already has the $RUNTIME_NAME runtime; nothing changed"
    if ((restart)); then
      log "no restart: the configuration did not change"
    fi
    return 0
  fi

  install_file "$target_file" "$new_content"
  log "wrote the $RUNTIME_NAME runtime to $target_file"
  if ((restart)); then
    command -v systemctl >/dev/null 2>&1 ||
      die "--restart needs systemctl, which is not in PATH; restart containerd by hand"
    log "restarting containerd: systemctl restart containerd"
    systemctl restart containerd || die "systemctl restart containerd failed; see: journalctl -u containerd"
  else
    log "restart containerd to load the change: systemctl restart containerd"
  fi
}

# Succeeds when $1 equals one of the other arguments.
is_listed() {
  local wanted=$1 item
  shift
  for item in "$@"; do
    if [[ $item == "$wanted" ]]; then
      return 0
    fi
  done
  return 1
}

# Sets target_file and reason from the loaded files (see the header).
choose_target() {
  local -a loaded=("$main_file")
  local index=0 file scan entry target
  local -a holders=() cri_files=()
  target=$(target_key_of "$config_version")
  while ((index < ${#loaded[@]})); do
    file=${loaded[index]}
    if ((index == 0)); then
      scan=$main_scan
    else
      # A file imported twice is loaded once, as containerd does.
      if is_listed "$file" "${loaded[@]:0:index}"; then
        index=$((index + 1))
        continue
      fi
      scan=$(scan_file "$file" "$target")
    fi
    check_editable "$file" "$scan" 0
    if has_target_table "$scan"; then
      holders+=("$file")
    fi
    if has_record cri "$scan"; then
      cri_files+=("$file")
    fi
    while IFS= read -r entry; do
      if [[ -n $entry ]]; then
        resolve_import "$file" "$entry"
      fi
    done < <(records import "$scan")
    index=$((index + 1))
  done

  if ((${#holders[@]} > 1)); then
    die "the $RUNTIME_NAME runtime is defined in more than one file: ${holders[*]}; keep one and run this script again"
  fi

  local drop_in
  drop_in=$(drop_in_path)
  if ((config_version >= 3)); then
    if ((${#holders[@]} == 1)); then
      target_file=${holders[0]}
      reason="replacing the $RUNTIME_NAME runtime in $target_file"
    elif [[ -n $drop_in ]]; then
      target_file=$drop_in
      reason="writing the drop-in $drop_in: containerd 2.x merges it into the settings of $main_file"
    else
      target_file=$main_file
      reason="editing $main_file: its imports name no directory for a drop-in file"
    fi
    return 0
  fi

  # Version 2: the last file with CRI settings is the one containerd 1.x uses.
  if ((${#cri_files[@]} > 0)); then
    target_file=${cri_files[-1]}
    if ((${#holders[@]} == 1)) && [[ ${holders[0]} != "$target_file" ]]; then
      die "${holders[0]} defines the $RUNTIME_NAME runtime, but containerd 1.x replaces its CRI settings with those of $target_file, which is loaded later; move the table to $target_file or remove it, and run this script again"
    fi
    if ((${#cri_files[@]} > 1)); then
      log "warning: CRI settings appear in ${cri_files[*]}; containerd 1.x keeps only those of the last one, $target_file"
    fi
    reason="editing $target_file, the file whose CRI settings containerd uses"
  elif [[ -n $drop_in ]]; then
    target_file=$drop_in
    reason="writing the drop-in $drop_in: no loaded file has CRI settings, so containerd 1.x takes the CRI section from it whole"
  else
    target_file=$main_file
    reason="editing $main_file"
  fi
}

# Stops when file $1 (scanner output $2) sets the reaper-v2 runtime with a
# key/value line, or, when $3 is 1 (the file to edit), sets one of its parent
# tables that way, because a table header cannot extend those.
check_editable() {
  local file=$1 scan=$2 is_target=$3 line
  line=$(first_record target_value "$scan")
  if [[ -n $line ]]; then
    die "$file:$line: the $RUNTIME_NAME runtime is written as an inline table or with dotted keys, which this script does not edit; rewrite it as a [...runtimes.$RUNTIME_NAME] table or remove it, and run this script again"
  fi
  line=$(first_record parent_value "$scan")
  if ((is_target)) && [[ -n $line ]]; then
    die "$file:$line: a parent table of the $RUNTIME_NAME runtime is written as an inline table (or an array of tables), which cannot be extended with a new table; rewrite it with [table] headers and run this script again"
  fi
}

# Warns when the main file disables the CRI plugin, as some distribution
# packages do, because Kubernetes then cannot reach any runtime.
warn_disabled_cri() {
  local name
  [[ -n $main_scan ]] || return 0
  while IFS= read -r name; do
    case $name in
      cri | io.containerd.grpc.v1.cri | io.containerd.cri.v1.runtime)
        log "warning: $main_file disables the CRI plugin (disabled_plugins contains \"$name\"); remove it from disabled_plugins, or Kubernetes cannot use containerd at all"
        ;;
    esac
  done < <(records disabled "$main_scan")
}

main "$@"
