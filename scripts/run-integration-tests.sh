#!/usr/bin/env bash
# End-to-end tests: runs Reaper (or another runtime) under a private
# containerd on this host and checks the results a user of ctr gets, then
# those a kubelet gets through CRI (tests/e2e).
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
# shellcheck source=lib/kind.sh
source "$REPO/scripts/lib/kind.sh"

usage() {
  cat <<EOF
Usage: scripts/run-integration-tests.sh [OPTIONS]

Builds Reaper, starts a private containerd with CRI under a temporary
directory in /tmp, imports small local images and runs end-to-end checks:
first through ctr, then the CRI cases of tests/e2e (pods run the way a
kubelet runs them, with the runtime handler reaper-v2). Prints one PASS,
FAIL or SKIP line per check (CRI cases are named cri-*) and ends with the
line "N passed, M failed". Exits with status 1 if a check failed. Needs
root, and /usr/bin/python3 with python3-grpcio and python3-protobuf for the
CRI cases.

Options:
  --runtime NAME    containerd runtime to test (default: io.containerd.reaper.v2).
                    io.containerd.runc.v2 runs the same checks on runc, which
                    validates the harness itself.
  --skip-build      do not run make (nor install missing packages) first
  --build-dir DIR   where the binaries are (default: build)
  --keep            keep the temporary directory for debugging; it holds
                    containerd.log, shim.log and Reaper's state
  --verbose         print every ctr command with its exit status and output,
                    and the details and time of each CRI case
  --cri-only        run only the CRI cases
  --no-cri          run only the ctr checks
  --cri-case NAME   run only this CRI case (repeatable; implies --cri-only);
                    "tests/e2e/run.py cases --list" lists them
  --mode MODE       auto (default): kind when Docker and kind work, else
                    local; local: a private containerd on this host, ctr
                    checks and CRI cases; kind: the CRI cases as pods on the
                    kind cluster reaper-e2e (created, or reused), through
                    kubectl and the RuntimeClass reaper-v2
  --no-cleanup      kind mode: keep the cluster and the test pods
  -h, --help        print this help and exit
EOF
}

SKIP_BUILD=0
BUILD_DIR=$REPO/build
MODE=auto
NO_CLEANUP=0
RUN_CTR_CHECKS=1
RUN_CRI_CASES=1
CRI_CASES=()
# /usr/bin/python3, not the first python3 in PATH: Debian's python3-grpcio
# and python3-protobuf are installed for the system interpreter only.
CRI_PYTHON=/usr/bin/python3
CRI_RUNNER=$REPO/tests/e2e/run.py
# Seconds the whole CRI phase may take; each case bounds its own waits, so
# this only catches a runner that hangs anyway.
CRI_PHASE_TIMEOUT=900

parse_options() {
  while (($# > 0)); do
    case $1 in
      --runtime) RUNTIME=$(option_value "$1" "${2-}"); shift ;;
      --skip-build) SKIP_BUILD=1 ;;
      --build-dir) BUILD_DIR=$(option_value "$1" "${2-}"); shift ;;
      --keep) CONTAINERD_KEEP=1 ;;
      --verbose) VERBOSE=1 ;;
      --cri-only) RUN_CTR_CHECKS=0; RUN_CRI_CASES=1 ;;
      --no-cri) RUN_CRI_CASES=0 ;;
      --cri-case)
        CRI_CASES+=("$(option_value "$1" "${2-}")")
        RUN_CTR_CHECKS=0
        shift
        ;;
      --mode) MODE=$(option_value "$1" "${2-}"); shift ;;
      --no-cleanup) NO_CLEANUP=1 ;;
      -h | --help) usage; exit 0 ;;
      *) usage >&2; die "unknown option: $1" ;;
    esac
    shift
  done
  if ((!RUN_CTR_CHECKS && !RUN_CRI_CASES)); then
    die "--no-cri together with --cri-only or --cri-case leaves no check to run"
  fi
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

# Fails unless /usr/bin/python3 can run the CRI client.
check_cri_requirements() {
  [[ -x $CRI_PYTHON ]] || die "$CRI_PYTHON not found; the CRI cases need it (scripts/install-deps.sh integration)"
  "$CRI_PYTHON" -c 'import grpc, google.protobuf' 2>/dev/null ||
    die "$CRI_PYTHON cannot import grpc and google.protobuf; install python3-grpcio and python3-protobuf (scripts/install-deps.sh integration)"
  command -v protoc >/dev/null || die "protoc not found; install protobuf-compiler (scripts/install-deps.sh integration)"
  local known case_name
  known=" $("$CRI_PYTHON" "$CRI_RUNNER" cases --list | cut -d' ' -f1 | tr '\n' ' ')"
  for case_name in "${CRI_CASES[@]}"; do
    [[ $known == *" $case_name "* ]] || die "unknown CRI case '$case_name'; known cases:$known"
  done
}

# The CRI runtime handler for RUNTIME, as configured in containerd.sh.
cri_handler() {
  case $RUNTIME in
    io.containerd.reaper.v2) echo reaper-v2 ;;
    io.containerd.runc.v2) echo runc ;;
    *) die "no CRI runtime handler is configured for runtime $RUNTIME" ;;
  esac
}

# Counts the result lines run.py appended to FILE into the totals.
count_cri_results() {
  local file=$1 verdict name
  while read -r verdict name; do
    name=${name%%:*}
    case $verdict in
      PASS) PASSED=$((PASSED + 1)) ;;
      FAIL) FAILED=$((FAILED + 1)) ;;
      SKIP) SKIPPED+=("$name") ;;
    esac
  done <"$file"
}

# Runs the CRI cases of tests/e2e against the private containerd and adds
# their results to the totals. run.py prints the result lines itself.
run_cri_cases() {
  local results=$CONTAINERD_DIR/cri-results expected status=0 counted arguments case_name
  local handler pid_mode=container
  handler=$(cri_handler)
  # Under runc each container is PID 1 of its own PID namespace, and the
  # kernel ignores SIGTERM for a PID 1 without a handler. The cases expect
  # SIGTERM to end such a workload, as under Reaper, which creates no PID
  # namespace, so runc's pods use the node's PID namespace.
  [[ $handler == runc ]] && pid_mode=node
  arguments=(cases --address "$CONTAINERD_ADDRESS" --handler "$handler" --image "$TEST_IMAGE"
    --log-root "$CONTAINERD_DIR/pods" --pid-mode "$pid_mode" --containerd-pid "$CONTAINERD_PID"
    --reaper-state "$REAPER_STATE" --name-prefix cri- --results "$results" --no-summary)
  ((VERBOSE)) && arguments+=(--verbose)
  for case_name in "${CRI_CASES[@]}"; do
    arguments+=(--only "$case_name")
  done
  : >"$results"

  if ((${#CRI_CASES[@]} > 0)); then
    expected=${#CRI_CASES[@]}
  else
    expected=$("$CRI_PYTHON" "$CRI_RUNNER" cases --list | wc -l)
  fi
  timeout --kill-after=10 "$CRI_PHASE_TIMEOUT" "$CRI_PYTHON" "$CRI_RUNNER" "${arguments[@]}" ||
    status=$?
  count_cri_results "$results"

  # run.py exits 1 when a case failed; anything else, or a missing result
  # line, means the runner itself broke.
  counted=$(wc -l <"$results")
  if ((status != 0 && status != 1)) || ((counted != expected)); then
    CHECK_REASON="tests/e2e/run.py exited with status $status after $counted of $expected cases"
    ((status == 124)) && CHECK_REASON+=" (killed after ${CRI_PHASE_TIMEOUT} s)"
    report cri-runner 1
  fi
}

# Runs the ctr checks, in the order of CHECKS.
run_ctr_checks() {
  local function
  image_import
  for function in "${CHECKS[@]}"; do
    run_check "$function"
  done
}

# Logs how long phase $1 took since second $2 of SECONDS.
log_phase_time() {
  log "$1 took $((SECONDS - $2)) s"
}

run_local() {
  local directory phase_start
  require_root "starting a private containerd"
  build
  if is_reaper && [[ ! -x $BUILD_DIR/containerd-shim-reaper-v2 || ! -x $BUILD_DIR/reaper-runtime ]]; then
    die "$BUILD_DIR has no containerd-shim-reaper-v2 or reaper-runtime; run make first"
  fi
  ((RUN_CRI_CASES)) && check_cri_requirements

  INITIAL_MOUNTS=$(mount_table "")
  phase_start=$SECONDS
  CONTAINERD_CRI=$RUN_CRI_CASES
  containerd_start "$BUILD_DIR"
  directory=$CONTAINERD_DIR
  log "private containerd in $directory (pid $CONTAINERD_PID), runtime $RUNTIME"
  STARTED_MOUNTS=$(mount_table "$directory")
  log_phase_time "starting containerd" "$phase_start"

  if ((RUN_CTR_CHECKS)); then
    phase_start=$SECONDS
    run_ctr_checks
    log_phase_time "the ctr checks" "$phase_start"
  fi
  if ((RUN_CRI_CASES)); then
    phase_start=$SECONDS
    image_import_cri
    log_phase_time "building and importing the CRI images" "$phase_start"
    phase_start=$SECONDS
    run_cri_cases
    log_phase_time "the CRI cases" "$phase_start"
  fi

  phase_start=$SECONDS
  containerd_stop
  check_teardown "$directory"
  log_phase_time "the teardown" "$phase_start"
}

# Runs the CRI case list on a kind cluster through kubectl (scripts/lib/kind.sh).
# The ctr checks need a containerd of this host, so they do not run here.
run_kind() {
  local results status=0 counted expected arguments=() case_name
  kind_available || die "--mode kind needs Docker and kind: $KIND_UNAVAILABLE_REASON"
  build
  [[ -x $BUILD_DIR/containerd-shim-reaper-v2 && -x $BUILD_DIR/reaper-runtime ]] ||
    die "$BUILD_DIR has no containerd-shim-reaper-v2 or reaper-runtime; run make first"
  check_cri_requirements

  results=$(mktemp /tmp/reaper-kind-results.XXXXXX)
  for case_name in "${CRI_CASES[@]}"; do
    arguments+=(--only "$case_name")
  done
  if ((${#CRI_CASES[@]} > 0)); then
    expected=${#CRI_CASES[@]}
  else
    expected=$("$CRI_PYTHON" "$CRI_RUNNER" cases --list | wc -l)
  fi
  kind_run_cases "$BUILD_DIR" "$VERBOSE" "$NO_CLEANUP" --name-prefix kind- \
    --results "$results" --no-summary "${arguments[@]}" || status=$?
  count_cri_results "$results"
  counted=$(wc -l <"$results")
  rm -f "$results"
  if ((status != 0 && status != 1)) || ((counted != expected)); then
    CHECK_REASON="the kind mode ended with status $status after $counted of $expected cases"
    report kind-runner 1
  fi
}

main() {
  parse_options "$@"
  if [[ $MODE == auto ]]; then
    if kind_available; then
      MODE=kind
    else
      log "using a local containerd: $KIND_UNAVAILABLE_REASON"
      MODE=local
    fi
  fi
  case $MODE in
    local) run_local ;;
    kind) run_kind ;;
    *) die "unknown mode '$MODE': expected auto, local or kind" ;;
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
