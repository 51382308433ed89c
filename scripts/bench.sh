#!/usr/bin/env bash
# Compares Reaper with runc under one private containerd: the wall time of
# `ctr run --rm IMAGE ID /bin/true`, the resident memory of each shim, and
# the time until POD_COUNT pods started at once through CRI have all exited.
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

REAPER=io.containerd.reaper.v2
RUNC=io.containerd.runc.v2
RUNS=15
POD_COUNT=20
POD_ROUNDS=3
RUN_CRI=1
SKIP_BUILD=0
BUILD_DIR=$REPO/build

# /usr/bin/python3: Debian's python3-grpcio is installed for it only.
CRI_PYTHON=/usr/bin/python3
CRI_RUNNER=$REPO/tests/e2e/run.py

# Targets, reported but not enforced: Reaper takes at most half of runc's
# time per run, and its shim stays under 1.5 MiB resident.
TARGET_RATIO=0.5
TARGET_SHIM_KIB=1536

usage() {
  cat <<EOF
Usage: scripts/bench.sh [OPTIONS]

Starts a private containerd, then runs "ctr run --rm IMAGE ID /bin/true"
RUNS times per runtime, alternating Reaper and runc, and prints the median
wall time of each and their ratio. Then reads the shim's VmRSS while a
"sleep 30" task runs, for both runtimes. Then, through containerd's CRI
plugin, starts POD_COUNT pods at once (each runs "echo hi") and times the
span from the first RunPodSandbox until every container has exited, in
alternating rounds per runtime handler (reaper-v2, runc), and prints the
median of each. Targets (reported, not enforced): Reaper at most
${TARGET_RATIO} of runc's time per ctr run, its shim under ${TARGET_SHIM_KIB} KiB. Needs root.

Options:
  --runs N          ctr runs per runtime (default: $RUNS)
  --pods N          pods started at once per CRI round (default: $POD_COUNT)
  --pod-rounds N    CRI rounds per runtime (default: $POD_ROUNDS)
  --no-cri          skip the CRI pod benchmark
  --skip-build      do not run make first
  --build-dir DIR   where the binaries are (default: build)
  --keep            keep the temporary directory
  -h, --help        print this help and exit
EOF
}

parse_options() {
  while (($# > 0)); do
    case $1 in
      --runs) RUNS=$(option_value "$1" "${2-}"); shift ;;
      --pods) POD_COUNT=$(option_value "$1" "${2-}"); shift ;;
      --pod-rounds) POD_ROUNDS=$(option_value "$1" "${2-}"); shift ;;
      --no-cri) RUN_CRI=0 ;;
      --skip-build) SKIP_BUILD=1 ;;
      --build-dir) BUILD_DIR=$(option_value "$1" "${2-}"); shift ;;
      --keep) CONTAINERD_KEEP=1 ;;
      -h | --help) usage; exit 0 ;;
      *) usage >&2; die "unknown option: $1" ;;
    esac
    shift
  done
  # At most four digits, which also keeps bash's arithmetic from wrapping.
  [[ $RUNS =~ ^[1-9][0-9]{0,3}$ ]] || die "--runs must be an integer from 1 to 9999, got '$RUNS'"
  [[ $POD_COUNT =~ ^[1-9][0-9]{0,2}$ ]] ||
    die "--pods must be an integer from 1 to 999, got '$POD_COUNT'"
  [[ $POD_ROUNDS =~ ^[1-9][0-9]{0,2}$ ]] ||
    die "--pod-rounds must be an integer from 1 to 999, got '$POD_ROUNDS'"
}

# Starts POD_COUNT pods at once with CRI runtime handler $1 and appends the
# milliseconds until all of them have exited to file $2. run.py removes the
# pods again.
time_pod_round() {
  local handler=$1 file=$2 elapsed
  elapsed=$("$CRI_PYTHON" "$CRI_RUNNER" bench --address "$CONTAINERD_ADDRESS"     --handler "$handler" --pods "$POD_COUNT" --log-root "$CONTAINERD_DIR/pods"     --containerd-pid "$CONTAINERD_PID" --reaper-state "$REAPER_STATE") ||
    die "the CRI pod benchmark failed for handler $handler"
  [[ $elapsed =~ ^[0-9]+$ ]] || die "run.py bench printed '$elapsed', not a number of milliseconds"
  # summarize_times reads microseconds.
  echo $((elapsed * 1000)) >>"$file"
}

# Runs /bin/true once under runtime $1 as container $2 and appends the wall
# time in microseconds to file $3. Exits if the run fails: a failed run has
# no timing.
time_one_run() {
  local start end
  RUNTIME=$1
  start=$(date +%s%N)
  run_task "$2" /bin/true
  end=$(date +%s%N)
  if ((TASK_STATUS != 0)); then
    die "ctr run --runtime $1 failed with status $TASK_STATUS: $(first_line "$TASK_ERR")"
  fi
  echo $(((end - start) / 1000)) >>"$3"
}

# Prints "median min max" in milliseconds of the microsecond values in file $1.
summarize_times() {
  sort -n "$1" | awk '
    { value[NR] = $1 / 1000 }
    END {
      median = (NR % 2) ? value[(NR + 1) / 2] : (value[NR / 2] + value[NR / 2 + 1]) / 2
      printf "%.1f %.1f %.1f\n", median, value[1], value[NR]
    }'
}

# Sets SHIM_RSS to the VmRSS in KiB of the shim of runtime $1 while a sleep
# task runs under it.
measure_shim_rss() {
  local runtime=$1 binary id pid
  binary=containerd-shim-${runtime#io.containerd.}
  binary=${binary//./-}
  id=b-rss-${binary#containerd-shim-}
  RUNTIME=$runtime
  SHIM_RSS=""
  start_background_task "$id" /bin/sleep 30 ||
    die "could not start a sleep task under $runtime: $CHECK_REASON"
  while read -r pid; do
    if [[ $(readlink "/proc/$pid/exe") == */"$binary" ]]; then
      SHIM_RSS=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$pid/status")
    fi
  done < <(containerd_shim_pids)
  ctr_private tasks kill --signal SIGKILL "$id" >/dev/null
  finish_background_task "$id" || true
  [[ -n $SHIM_RSS ]] || die "no $binary process found while task $id ran"
}

# Prints "met" if the awk condition $1 holds, else "missed".
target_result() {
  awk "BEGIN { print ($1) ? \"met\" : \"missed\" }"
}

main() {
  parse_options "$@"
  require_root "the benchmark"
  if ((!SKIP_BUILD)); then
    log "building with make"
    make -C "$REPO" -j"$(nproc)" BUILD="$BUILD_DIR" >&2
  fi

  CONTAINERD_CRI=$RUN_CRI
  containerd_start "$BUILD_DIR"
  image_import
  if ((RUN_CRI)); then
    image_import_cri
    mkdir -p "$CONTAINERD_DIR/pods"
  fi
  log "private containerd in $CONTAINERD_DIR; $RUNS runs per runtime"
  local reaper_file=$CONTAINERD_DIR/reaper-times runc_file=$CONTAINERD_DIR/runc-times

  # One unmeasured run each loads the binaries and the image into the page
  # cache.
  time_one_run "$REAPER" b-warm-reaper /dev/null
  time_one_run "$RUNC" b-warm-runc /dev/null

  local i
  for ((i = 1; i <= RUNS; i++)); do
    time_one_run "$REAPER" "b-reaper-$i" "$reaper_file"
    time_one_run "$RUNC" "b-runc-$i" "$runc_file"
  done

  local reaper_median reaper_min reaper_max runc_median runc_min runc_max
  local ratio reaper_rss runc_rss
  read -r reaper_median reaper_min reaper_max < <(summarize_times "$reaper_file")
  read -r runc_median runc_min runc_max < <(summarize_times "$runc_file")
  ratio=$(awk -v a="$reaper_median" -v b="$runc_median" 'BEGIN { printf "%.2f", a / b }')
  measure_shim_rss "$REAPER"
  reaper_rss=$SHIM_RSS
  measure_shim_rss "$RUNC"
  runc_rss=$SHIM_RSS

  local reaper_pods=$CONTAINERD_DIR/reaper-pods runc_pods=$CONTAINERD_DIR/runc-pods
  local pods_reaper_median pods_reaper_min pods_reaper_max pods_ratio
  local pods_runc_median pods_runc_min pods_runc_max
  if ((RUN_CRI)); then
    log "$POD_ROUNDS rounds of $POD_COUNT pods at once per runtime handler"
    # One unmeasured round each, as for ctr above.
    time_pod_round reaper-v2 /dev/null
    time_pod_round runc /dev/null
    for ((i = 1; i <= POD_ROUNDS; i++)); do
      time_pod_round reaper-v2 "$reaper_pods"
      time_pod_round runc "$runc_pods"
    done
    read -r pods_reaper_median pods_reaper_min pods_reaper_max < <(summarize_times "$reaper_pods")
    read -r pods_runc_median pods_runc_min pods_runc_max < <(summarize_times "$runc_pods")
    pods_ratio=$(awk -v a="$pods_reaper_median" -v b="$pods_runc_median" \
      'BEGIN { printf "%.2f", a / b }')
  fi
  containerd_stop

  printf 'machine: %s, %s CPUs, kernel %s, containerd %s\n' "$(uname -m)" "$(nproc)" \
    "$(uname -r)" "$(containerd --version | awk '{ print $3 }')"
  printf '%-24s %5s %10s %10s %10s %15s\n' runtime runs "median ms" "min ms" "max ms" "shim VmRSS KiB"
  printf '%-24s %5s %10s %10s %10s %15s\n' "$REAPER" "$RUNS" "$reaper_median" "$reaper_min" "$reaper_max" "$reaper_rss"
  printf '%-24s %5s %10s %10s %10s %15s\n' "$RUNC" "$RUNS" "$runc_median" "$runc_min" "$runc_max" "$runc_rss"
  printf 'median time Reaper/runc: %s (target at most %s: %s)\n' "$ratio" "$TARGET_RATIO" \
    "$(target_result "$ratio <= $TARGET_RATIO")"
  printf 'Reaper shim VmRSS: %s KiB (target under %s KiB: %s)\n' "$reaper_rss" "$TARGET_SHIM_KIB" \
    "$(target_result "$reaper_rss < $TARGET_SHIM_KIB")"
  if ((RUN_CRI)); then
    printf '\n%s pods started at once through CRI, ms until all exited:\n' "$POD_COUNT"
    printf '%-24s %6s %10s %10s %10s\n' handler rounds "median ms" "min ms" "max ms"
    printf '%-24s %6s %10s %10s %10s\n' reaper-v2 "$POD_ROUNDS" "$pods_reaper_median" \
      "$pods_reaper_min" "$pods_reaper_max"
    printf '%-24s %6s %10s %10s %10s\n' runc "$POD_ROUNDS" "$pods_runc_median" \
      "$pods_runc_min" "$pods_runc_max"
    printf 'median pod time Reaper/runc: %s\n' "$pods_ratio"
  fi
}

main "$@"
