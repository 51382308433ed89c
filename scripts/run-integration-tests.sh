#!/usr/bin/env bash
# End-to-end tests: runs Reaper (or another runtime) under a private
# containerd on this host and checks what a user of ctr sees.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=lib/common.sh
source "$REPO/scripts/lib/common.sh"
# shellcheck source=lib/containerd.sh
source "$REPO/scripts/lib/containerd.sh"
# shellcheck source=lib/image.sh
source "$REPO/scripts/lib/image.sh"
# shellcheck source=lib/tasks.sh
source "$REPO/scripts/lib/tasks.sh"
# shellcheck source=lib/checks.sh
source "$REPO/scripts/lib/checks.sh"

usage() {
  cat <<EOF
Usage: scripts/run-integration-tests.sh [OPTIONS]

Builds Reaper, starts a private containerd under a temporary directory in
/tmp, imports a small local image and runs end-to-end checks through ctr.
Prints one PASS, FAIL or SKIP line per check and ends with the line
"N passed, M failed". Exits with status 1 if a check failed. Needs root.

Options:
  --runtime NAME    containerd runtime to test (default: io.containerd.reaper.v2).
                    io.containerd.runc.v2 runs the same checks on runc, which
                    validates the harness itself.
  --skip-build      do not run make (nor install missing packages) first
  --build-dir DIR   where the binaries are (default: build)
  --keep            keep the temporary directory for debugging; it holds
                    containerd.log, shim.log and Reaper's state
  --verbose         print every ctr command with its exit status and output
  --mode MODE       local (default): a private containerd on this host;
                    kind: a kind cluster (not implemented yet)
  -h, --help        print this help and exit
EOF
}

SKIP_BUILD=0
BUILD_DIR=$REPO/build
MODE=local

parse_options() {
  while (($# > 0)); do
    case $1 in
      --runtime) RUNTIME=${2:?--runtime needs a runtime name}; shift ;;
      --skip-build) SKIP_BUILD=1 ;;
      --build-dir) BUILD_DIR=${2:?--build-dir needs a directory}; shift ;;
      --keep) CONTAINERD_KEEP=1 ;;
      --verbose) VERBOSE=1 ;;
      --mode) MODE=${2:?--mode needs local or kind}; shift ;;
      -h | --help) usage; exit 0 ;;
      *) usage >&2; die "unknown option: $1" ;;
    esac
    shift
  done
}

build() {
  if ((SKIP_BUILD)); then
    return
  fi
  "$REPO/scripts/install-deps.sh" all
  log "building with make"
  make -C "$REPO" -j"$(nproc)" BUILD="$BUILD_DIR" >&2
}

PASSED=0
FAILED=0
SKIPPED=()

# Prints the result line of check NAME from its status (0 pass, 2 skip).
report() {
  local name=$1 status=$2
  case $status in
    0) echo "PASS $name"; PASSED=$((PASSED + 1)) ;;
    2) echo "SKIP $name: $CHECK_REASON"; SKIPPED+=("$name") ;;
    *) echo "FAIL $name: $CHECK_REASON"; FAILED=$((FAILED + 1)) ;;
  esac
}

# Runs one check and reports it. Whatever the check left in containerd is
# removed afterwards, so that one failure does not spill into later checks.
run_check() {
  local function=$1 name status=0 left
  name=${function#check_}
  name=${name//_/-}
  CHECK_REASON=""
  "$function" || status=$?
  report "$name" "$status"
  left=$(containerd_remove_all | tr '\n' ' ')
  if [[ -n $left ]]; then
    log "removed what check $name left in containerd: $left"
  fi
}

# Checks that the teardown left the host as it was: no process of the
# private containerd and the initial mount table.
check_teardown() {
  local directory=$1 current
  current=$(mount_table "$directory")
  CHECK_REASON=""
  if [[ $current != "$INITIAL_MOUNTS" ]]; then
    CHECK_REASON="the host mount table differs from the one before the tests:"
    CHECK_REASON+=" $(diff <(printf '%s\n' "$INITIAL_MOUNTS") <(printf '%s\n' "$current") | grep '^[<>]' | tr '\n' ';')"
    report mounts-after-teardown 1
  else
    report mounts-after-teardown 0
  fi
  if ((CONTAINERD_LEFTOVER_COUNT > 0)); then
    CHECK_REASON="$CONTAINERD_LEFTOVER_COUNT processes outlived containerd and had to be killed"
    report processes-after-teardown 1
  else
    report processes-after-teardown 0
  fi
}

run_local() {
  local directory
  require_root "starting a private containerd"
  build
  if is_reaper && [[ ! -x $BUILD_DIR/containerd-shim-reaper-v2 || ! -x $BUILD_DIR/reaper-runtime ]]; then
    die "$BUILD_DIR has no containerd-shim-reaper-v2 or reaper-runtime; run make first"
  fi

  INITIAL_MOUNTS=$(mount_table "")
  containerd_start "$BUILD_DIR"
  directory=$CONTAINERD_DIR
  log "private containerd in $directory (pid $CONTAINERD_PID), runtime $RUNTIME"
  STARTED_MOUNTS=$(mount_table "$directory")
  image_import

  local function
  for function in "${CHECKS[@]}"; do
    run_check "$function"
  done

  containerd_stop
  check_teardown "$directory"
}

# Hook for a mode that runs the same CHECKS against a kind cluster, through
# kubectl and a RuntimeClass instead of ctr.
run_kind() {
  die "--mode kind is not implemented yet; use --mode local"
}

main() {
  parse_options "$@"
  case $MODE in
    local) run_local ;;
    kind) run_kind ;;
    *) die "unknown mode '$MODE': expected local or kind" ;;
  esac

  if ((${#SKIPPED[@]} > 0)); then
    echo "${#SKIPPED[@]} skipped (${SKIPPED[*]})"
  fi
  if ((FAILED > 0)) && ((!VERBOSE || !CONTAINERD_KEEP)); then
    log "for details, run again with --verbose --keep"
  fi
  echo "$PASSED passed, $FAILED failed"
  ((FAILED == 0))
}

main "$@"
