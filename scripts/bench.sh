#!/usr/bin/env bash
# Compares Reaper with runc under one private containerd: the wall time of
# `ctr run --rm IMAGE ID /bin/true` and the resident memory of each shim.
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
SKIP_BUILD=0
BUILD_DIR=$REPO/build

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
"sleep 30" task runs, for both runtimes. Targets (reported, not enforced):
Reaper at most ${TARGET_RATIO} of runc's time, its shim under ${TARGET_SHIM_KIB} KiB. Needs root.

Options:
  --runs N          runs per runtime (default: $RUNS)
  --skip-build      do not run make first
  --build-dir DIR   where the binaries are (default: build)
  --keep            keep the temporary directory
  -h, --help        print this help and exit
EOF
}

parse_options() {
  while (($# > 0)); do
    case $1 in
      --runs) RUNS=${2:?--runs needs a number}; shift ;;
      --skip-build) SKIP_BUILD=1 ;;
      --build-dir) BUILD_DIR=${2:?--build-dir needs a directory}; shift ;;
      --keep) CONTAINERD_KEEP=1 ;;
      -h | --help) usage; exit 0 ;;
      *) usage >&2; die "unknown option: $1" ;;
    esac
    shift
  done
  [[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "--runs must be a positive integer, got '$RUNS'"
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

  containerd_start "$BUILD_DIR"
  image_import
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
}

main "$@"
