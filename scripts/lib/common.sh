# shellcheck shell=bash
# Messages and small process helpers shared by the scripts under scripts/.
# Source it; it defines functions only.

# Prints a progress line to stderr, prefixed with the calling script's name.
log() {
  printf '%s: %s\n' "${0##*/}" "$*" >&2
}

# Prints an error to stderr and exits with status 1.
die() {
  log "error: $*"
  exit 1
}

# Prints the value of option $1, which is the next argument $2, or fails
# with an error naming the option when there is none (or $2 is the next
# option). Used as VALUE=$(option_value "$1" "${2-}") under `set -e`, the
# failure ends the script.
option_value() {
  if [[ -z ${2-} || $2 == --* ]]; then
    die "option $1 needs a value"
  fi
  printf '%s\n' "$2"
}

# Exits with an error unless the script runs as root. $1 names what needs root.
require_root() {
  if [[ $(id -u) -ne 0 ]]; then
    die "$1 needs root: run it again with sudo"
  fi
}

# Prints "PID PPID STATE" for every process, one a line. The command name in
# /proc/PID/stat may contain spaces and parentheses, so the fields are read
# after its last ')'.
process_table() {
  local stat_file stat rest pid ppid state
  for stat_file in /proc/[0-9]*/stat; do
    { stat=$(<"$stat_file"); } 2>/dev/null || continue
    pid=${stat_file#/proc/}
    pid=${pid%/stat}
    rest=${stat##*) }
    read -r state ppid _ <<<"$rest"
    printf '%s %s %s\n' "$pid" "$ppid" "$state"
  done
}

# Prints the PIDs of all descendants of the given PIDs (not the PIDs
# themselves), one a line.
process_descendants() {
  local table frontier next pid ppid state
  table=$(process_table)
  frontier=" $* "
  while [[ -n ${frontier// /} ]]; do
    next=" "
    while read -r pid ppid state; do
      if [[ $frontier == *" $ppid "* ]]; then
        printf '%s\n' "$pid"
        next+="$pid "
      fi
    done <<<"$table"
    frontier=$next
  done
}

# Waits until none of the given PIDs exists any more, for at most $1 seconds.
# Returns 1 if one is still there. Polling is acceptable here: these are test
# and demo tools waiting on processes they do not own as children.
wait_for_exit() {
  local timeout=$1 deadline pid alive
  shift
  deadline=$((SECONDS + timeout))
  while :; do
    alive=0
    for pid in "$@"; do
      if [[ -e /proc/$pid ]] && [[ $(process_state "$pid") != Z ]]; then
        alive=1
      fi
    done
    ((alive == 0)) && return 0
    ((SECONDS >= deadline)) && return 1
    sleep 0.1
  done
}

# Prints the state letter of a process (R, S, Z, ...), or nothing if it is gone.
process_state() {
  local stat
  { stat=$(<"/proc/$1/stat"); } 2>/dev/null || return 0
  stat=${stat##*) }
  printf '%s\n' "${stat%% *}"
}

# Prints a process's command line with spaces between the arguments.
process_cmdline() {
  local args
  args=$(tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline") || return 0
  printf '%s\n' "${args% }"
}
