# shellcheck shell=bash
# shellcheck disable=SC2034  # the variables set here are read by the callers
# Running tasks through ctr on the private containerd of
# scripts/lib/containerd.sh, for the integration checks and the benchmark.
# Source common.sh, containerd.sh and image.sh first.
#
# Failures are reported through the return status, with the reason in
# CHECK_REASON, so that callers can write `run || { fail "why"; return; }`.

RUNTIME=io.containerd.reaper.v2  # the runtime under test (ctr --runtime)
VERBOSE=0                        # 1: print every ctr command and its output
CHECK_REASON=""

# Seconds a single ctr call may take before it counts as hung, and seconds
# to wait for a task to reach RUNNING or to exit after a signal.
TASK_TIMEOUT=60
SETTLE_TIMEOUT=10

is_reaper() {
  [[ $RUNTIME == *reaper* ]]
}

# Records a failure (or a skip) reason; use as `... || { fail "why"; return; }`.
fail() {
  CHECK_REASON=$*
  return 1
}

skip() {
  CHECK_REASON=$*
  return 2
}

# Prints indented detail lines in verbose mode.
detail() {
  if ((VERBOSE)); then
    printf '%s\n' "$@" | sed 's/^/    /'
  fi
}

# Prints the first line of a file, for failure reasons.
first_line() {
  head -n 1 "$1" 2>/dev/null || true
}

# The "ctr run" arguments for the runtime under test. runc keeps its state
# under the private directory instead of /run/containerd/runc.
run_arguments() {
  RUN_ARGUMENTS=(run --runtime "$RUNTIME" --fifo-dir "$CONTAINERD_DIR/fifo")
  if [[ $RUNTIME == io.containerd.runc.v2 ]]; then
    RUN_ARGUMENTS+=(--runc-root "$CONTAINERD_DIR/runc")
  fi
}

# Runs `ctr run --rm IMAGE ID ARGS...` in the foreground, bounded by
# TASK_TIMEOUT. Sets TASK_STATUS (124: timed out) and TASK_OUT/TASK_ERR, the
# files holding ctr's stdout and stderr.
run_task() {
  local id=$1
  shift
  run_arguments
  TASK_OUT=$CONTAINERD_DIR/logs/$id.out
  TASK_ERR=$CONTAINERD_DIR/logs/$id.err
  TASK_STATUS=0
  detail "$(quote_command ctr "${RUN_ARGUMENTS[@]}" --rm "$TEST_IMAGE" "$id" "$@")"
  timeout --kill-after=5 "$TASK_TIMEOUT" ctr --address "$CONTAINERD_ADDRESS" \
    "${RUN_ARGUMENTS[@]}" --rm "$TEST_IMAGE" "$id" "$@" \
    </dev/null >"$TASK_OUT" 2>"$TASK_ERR" || TASK_STATUS=$?
  show_task_result
}

show_task_result() {
  detail "exit status $TASK_STATUS" "stdout: $(describe_output "$TASK_OUT")" \
    "stderr: $(describe_output "$TASK_ERR")"
}

# Prints a file's content on lines of its own, or "(empty)".
describe_output() {
  if [[ -s $1 ]]; then
    printf '\n%s' "$(<"$1")"
  else
    printf '(empty)'
  fi
}

# Prints a command line for a detail line, quoted so that it can be pasted.
quote_command() {
  printf '$'
  printf ' %q' "$@"
}

# Starts `ctr run --rm IMAGE ID ARGS...` in the background and waits until the
# task is RUNNING. Sets BACKGROUND_PID; finish_background_task collects it.
start_background_task() {
  local id=$1
  shift
  run_arguments
  TASK_OUT=$CONTAINERD_DIR/logs/$id.out
  TASK_ERR=$CONTAINERD_DIR/logs/$id.err
  detail "$(quote_command ctr "${RUN_ARGUMENTS[@]}" --rm "$TEST_IMAGE" "$id" "$@") &"
  timeout --kill-after=5 "$TASK_TIMEOUT" ctr --address "$CONTAINERD_ADDRESS" \
    "${RUN_ARGUMENTS[@]}" --rm "$TEST_IMAGE" "$id" "$@" \
    </dev/null >"$TASK_OUT" 2>"$TASK_ERR" &
  BACKGROUND_PID=$!
  wait_task_running "$id" && return 0

  # Leave nothing running that could confuse later checks.
  ctr_private tasks kill --signal SIGKILL "$id" >/dev/null 2>&1 || true
  kill -TERM "$BACKGROUND_PID" 2>/dev/null || true
  wait "$BACKGROUND_PID" 2>/dev/null || true
  return 1
}

# Waits until `ctr task ls` shows the task RUNNING. Polls, bounded by
# SETTLE_TIMEOUT: containerd offers no event a shell script can wait on.
wait_task_running() {
  local id=$1 deadline=$((SECONDS + SETTLE_TIMEOUT))
  until ctr_private tasks list 2>/dev/null | awk -v id="$id" '$1 == id && $3 == "RUNNING" { found = 1 } END { exit !found }'; do
    if ! kill -0 "$BACKGROUND_PID" 2>/dev/null; then
      finish_background_task "$id"
      fail "task $id ended before it was seen running (ctr exit status $TASK_STATUS): $(first_line "$TASK_ERR")"
      return
    fi
    if ((SECONDS >= deadline)); then
      fail "task $id was not RUNNING within ${SETTLE_TIMEOUT} s"
      return
    fi
    sleep 0.1
  done
}

# Waits for the background ctr started by start_background_task and sets
# TASK_STATUS to its exit status. Returns 1 if the task ID is still running
# after SETTLE_TIMEOUT seconds; it is then killed with SIGKILL.
finish_background_task() {
  local id=$1
  if ! wait_for_exit "$SETTLE_TIMEOUT" "$BACKGROUND_PID"; then
    ctr_private tasks kill --signal SIGKILL "$id" >/dev/null 2>&1 || true
    wait "$BACKGROUND_PID" || true
    return 1
  fi
  TASK_STATUS=0
  wait "$BACKGROUND_PID" || TASK_STATUS=$?
  show_task_result
}

