#!/usr/bin/env bash
# Shows Reaper end to end on a fresh Debian or Ubuntu machine: installs what
# is missing, builds, starts a throwaway containerd and runs one workload
# that prints a greeting. Progress goes to stderr, the greeting to stdout.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=lib/common.sh
source "$REPO/scripts/lib/common.sh"
# shellcheck source=lib/containerd.sh
source "$REPO/scripts/lib/containerd.sh"
# shellcheck source=lib/image.sh
source "$REPO/scripts/lib/image.sh"

GREETING="Hello from Reaper runtime!"
SKIP_BUILD=0
BUILD_DIR=$REPO/build

usage() {
  cat <<EOF
Usage: sudo scripts/demo.sh [OPTIONS]

Installs the missing build and containerd packages (scripts/install-deps.sh
all), builds Reaper with make, starts a private containerd in a temporary
directory, imports a small local image and runs

  ctr run --rm --runtime io.containerd.reaper.v2 $TEST_IMAGE demo /bin/echo "$GREETING"

Everything it started or created is removed afterwards, also on failure.
The system containerd, if any, is not touched. Needs root.

Options:
  --skip-build      do not install packages or run make
  --build-dir DIR   where the binaries are (default: build)
  --keep            keep the temporary directory (containerd.log, shim.log)
  -h, --help        print this help and exit
EOF
}

parse_options() {
  while (($# > 0)); do
    case $1 in
      --skip-build) SKIP_BUILD=1 ;;
      --build-dir) BUILD_DIR=$(option_value "$1" "${2-}"); shift ;;
      --keep) CONTAINERD_KEEP=1 ;;
      -h | --help) usage; exit 0 ;;
      *) usage >&2; die "unknown option: $1" ;;
    esac
    shift
  done
}

# Runs a command with its output in a log file, which is printed only if the
# command fails, so that the demo's own output stays short.
quietly() {
  local output
  output=$(mktemp /tmp/reaper-demo.XXXXXX.log)
  if ! "$@" >"$output" 2>&1; then
    tail -n 30 "$output" >&2
    die "'$*' failed; the last lines of its output are above and all of it is in $output"
  fi
  rm -f "$output"
}

# Prints the end of the shim's log, or containerd's warnings and errors.
show_failure_logs() {
  if [[ -s $CONTAINERD_DIR/shim.log ]]; then
    log "the end of the shim's log:"
    tail -n 20 "$CONTAINERD_DIR/shim.log" >&2
  else
    log "containerd's warnings and errors:"
    grep -E 'level=(warning|error|fatal)' "$CONTAINERD_DIR/containerd.log" | tail -n 20 >&2 || true
  fi
}

main() {
  parse_options "$@"
  require_root "the demo"
  if ((!SKIP_BUILD)); then
    log "installing missing packages, if any"
    quietly "$REPO/scripts/install-deps.sh" all
    log "building Reaper"
    quietly make -C "$REPO" -j"$(nproc)" BUILD="$BUILD_DIR"
  fi

  log "starting a private containerd"
  containerd_start "$BUILD_DIR"
  log "importing the image $TEST_IMAGE"
  image_import

  log "running: ctr run --rm --runtime io.containerd.reaper.v2 $TEST_IMAGE demo /bin/echo \"$GREETING\""
  if ! ctr_private run --rm --runtime io.containerd.reaper.v2 --fifo-dir "$CONTAINERD_DIR/fifo" \
    "$TEST_IMAGE" demo /bin/echo "$GREETING" </dev/null; then
    show_failure_logs
    die "the workload failed; run with --keep to keep containerd.log and shim.log"
  fi

  log "cleaning up"
  containerd_stop
}

main "$@"
