# shellcheck shell=bash
# A private, throwaway containerd for the integration tests, the benchmark and
# the demo. Source scripts/lib/common.sh first.
#
# Everything the daemon and the shims keep lives under one temporary
# directory, $CONTAINERD_DIR:
#   root/, state/     containerd's content, snapshots and task bundles
#   reaper/           REAPER_STATE_DIR: Reaper's state, shim sockets, overlay
#                     and namespace pin
#   reaper.conf       REAPER_CONFIG, so that a node's /etc/reaper/reaper.conf
#                     cannot move Reaper's state elsewhere
#   shim.log          the Reaper shim's own log
#   fifo/, runc/      ctr's stdio FIFOs (pass --fifo-dir "$CONTAINERD_DIR/fifo"
#                     to ctr_private run, as scripts/lib/tasks.sh does), runc's
#                     state
#   cni/              empty CNI plugin and configuration directories (CRI)
#   pods/             the CRI pods' log directories (tests/e2e)
#   containerd.log    the daemon's debug log
# The directory name is kept short because the shim's sockets live at
# reaper/s/<64 hex digits> and a unix socket path may be at most 107 bytes
# long.
#
# With CONTAINERD_CRI=1 the daemon also serves the CRI API on its socket,
# with two runtime handlers: "reaper-v2" (io.containerd.reaper.v2) and "runc"
# (io.containerd.runc.v2). Its pod sandbox image is PAUSE_IMAGE of
# scripts/lib/image.sh, which image_import_cri builds and imports, so CRI
# never pulls from a registry. Pods must use the host network: no CNI plugin
# is configured. The CRI plugin keeps its own state under root/ and state/,
# and its stream server (exec and attach URLs) listens on 127.0.0.1 only.
#
# Two things land outside it when runc is used. containerd-shim-runc-v2 from
# containerd 1.6 always puts its socket in /run/containerd/s, whatever the
# daemon's state directory is, and runc creates the cgroups "default" and,
# for CRI pods, "k8s.io" (named after the containerd namespace) in every
# hierarchy. containerd_stop removes both again when they did not exist
# before containerd_start and are empty.
#
# Usage:
#   containerd_start BUILD_DIR   start the daemon; sets the variables below
#   ctr_private ARGS...          run ctr against it
#   containerd_stop              tear everything down (safe to call twice)
#
# containerd_start installs an EXIT trap that calls containerd_stop, so the
# teardown also runs on failure and on Ctrl-C. A script that sets its own
# EXIT trap afterwards must call containerd_stop from it.

CONTAINERD_DIR=""      # the temporary directory, "" when nothing runs
CONTAINERD_ADDRESS=""  # the daemon's gRPC socket
CONTAINERD_PID=""      # the daemon's PID
CONTAINERD_KEEP=0      # 1: containerd_stop leaves CONTAINERD_DIR in place
REAPER_STATE=""        # REAPER_STATE_DIR as the shim and runtime see it
CONTAINERD_LEFTOVER_COUNT=0  # processes containerd_stop had to kill
CONTAINERD_CRI=0       # 1: enable the CRI plugin (set before containerd_start)
CRI_SANDBOX_IMAGE=localhost/reaper-pause:1  # PAUSE_IMAGE of image.sh

# Seconds to wait for the daemon's socket, and for processes to exit after
# SIGTERM, before giving up or escalating to SIGKILL.
CONTAINERD_START_TIMEOUT=30
CONTAINERD_STOP_TIMEOUT=10

_containerd_created_run_dir=0
_containerd_initial_cgroups=""

# Prints the cgroup directories runc creates for the containerd namespaces
# "default" (ctr) and "k8s.io" (CRI).
_containerd_namespace_cgroups() {
  local dir
  for dir in /sys/fs/cgroup/{default,k8s.io} /sys/fs/cgroup/*/{default,k8s.io}; do
    if [[ -d $dir ]]; then
      printf '%s\n' "$dir"
    fi
  done
}

# Succeeds if this shell has CAP_SYS_RESOURCE (bit 24 of CapEff), which
# lowering a process's oom_score_adj needs.
_containerd_has_cap_sys_resource() {
  local capabilities
  capabilities=$(awk '$1 == "CapEff:" { print $2 }' /proc/self/status)
  (((0x$capabilities >> 24) & 1))
}

# Prints the CRI plugin's configuration for the daemon in directory $1.
_containerd_cri_config() {
  local dir=$1 cri='plugins."io.containerd.grpc.v1.cri"' restrict_oom_score_adj=false
  # CRI gives pod sandboxes oom_score_adj -998. Without CAP_SYS_RESOURCE
  # (some VMs and containers withhold it even from root) runc cannot set
  # that, so CRI is configured to raise such values to containerd's own.
  if ! _containerd_has_cap_sys_resource; then
    restrict_oom_score_adj=true
  fi
  cat <<EOF
[$cri]
  sandbox_image = "$CRI_SANDBOX_IMAGE"
  restrict_oom_score_adj = $restrict_oom_score_adj
  # Port 0: the kernel picks a free port, printed in the daemon's log.
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_tls_streaming = false
  max_container_log_line_size = 16384

[$cri.containerd]
  default_runtime_name = "runc"
  snapshotter = "overlayfs"

[$cri.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[$cri.containerd.runtimes.runc.options]
  # runc's state, otherwise under /run/containerd/runc.
  Root = "$dir/runc"

[$cri.containerd.runtimes.reaper-v2]
  runtime_type = "io.containerd.reaper.v2"
  # Read by containerd 1.7 only; 1.6 ignores the key and always runs the
  # pod sandbox as a task of the runtime.
  sandbox_mode = "podsandbox"

[$cri.containerd.runtimes.reaper-v2.options]
  # Sent to the shim in the task options, as a kubelet node's containerd
  # would send /etc/reaper/reaper.conf.
  ConfigPath = "$dir/reaper.conf"

[$cri.cni]
  bin_dir = "$dir/cni/bin"
  conf_dir = "$dir/cni/conf"
EOF
}

# Writes the daemon's configuration to $1/config.toml and Reaper's to
# $1/reaper.conf.
_containerd_write_config() {
  local dir=$1 disabled_plugins='"io.containerd.grpc.v1.cri"'
  if ((CONTAINERD_CRI)); then
    disabled_plugins=""
  fi
  cat >"$dir/config.toml" <<EOF
version = 2
root = "$dir/root"
state = "$dir/state"
disabled_plugins = [$disabled_plugins]

[grpc]
  address = "$dir/c.sock"

[ttrpc]
  address = "$dir/c.sock.ttrpc"

[debug]
  level = "debug"

[plugins."io.containerd.internal.v1.opt"]
  path = "$dir/opt"
EOF
  if ((CONTAINERD_CRI)); then
    _containerd_cri_config "$dir" >>"$dir/config.toml"
  fi
  cat >"$dir/reaper.conf" <<EOF
# Reaper configuration for this private containerd only.
REAPER_STATE_DIR=$dir/reaper
REAPER_LOG_FILE=$dir/shim.log
REAPER_LOG_LEVEL=debug
EOF
}

# Starts a private containerd whose PATH begins with BUILD_DIR, so that
# --runtime io.containerd.reaper.v2 finds the freshly built shim and the shim
# finds reaper-runtime. Returns once the daemon responds on its socket.
containerd_start() {
  local build_dir
  build_dir=$(cd "$1" && pwd) || die "build directory $1 not found"
  [[ -x $build_dir/containerd-shim-reaper-v2 ]] ||
    log "warning: $build_dir/containerd-shim-reaper-v2 is missing; only other runtimes will work"
  command -v containerd >/dev/null || die "containerd is not installed (run scripts/install-deps.sh integration)"

  [[ -e /run/containerd ]] || _containerd_created_run_dir=1
  _containerd_initial_cgroups=$(_containerd_namespace_cgroups)
  CONTAINERD_DIR=$(mktemp -d /tmp/rp.XXXXXX)
  trap containerd_stop EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM

  CONTAINERD_ADDRESS=$CONTAINERD_DIR/c.sock
  REAPER_STATE=$CONTAINERD_DIR/reaper
  mkdir -p "$CONTAINERD_DIR/fifo" "$CONTAINERD_DIR/runc" "$CONTAINERD_DIR/logs"
  if ((CONTAINERD_CRI)); then
    mkdir -p "$CONTAINERD_DIR/cni/bin" "$CONTAINERD_DIR/cni/conf" "$CONTAINERD_DIR/pods"
  fi
  _containerd_write_config "$CONTAINERD_DIR"

  PATH="$build_dir:$PATH" REAPER_STATE_DIR=$REAPER_STATE REAPER_CONFIG=$CONTAINERD_DIR/reaper.conf \
    containerd --config "$CONTAINERD_DIR/config.toml" \
    </dev/null >"$CONTAINERD_DIR/containerd.log" 2>&1 &
  CONTAINERD_PID=$!
  _containerd_wait_ready
}

# Polls for the daemon's socket. A daemon gives no other readiness signal to
# a shell script, so a bounded poll is the simplest correct wait here.
_containerd_wait_ready() {
  local deadline=$((SECONDS + CONTAINERD_START_TIMEOUT))
  until [[ -S $CONTAINERD_ADDRESS ]] && ctr_private version >/dev/null 2>&1; do
    if ! kill -0 "$CONTAINERD_PID" 2>/dev/null; then
      tail -n 20 "$CONTAINERD_DIR/containerd.log" >&2
      die "containerd exited during startup; its log is above"
    fi
    if ((SECONDS >= deadline)); then
      tail -n 20 "$CONTAINERD_DIR/containerd.log" >&2
      die "containerd did not respond on $CONTAINERD_ADDRESS within ${CONTAINERD_START_TIMEOUT} s"
    fi
    sleep 0.1
  done
}

# Runs ctr against the private daemon.
ctr_private() {
  ctr --address "$CONTAINERD_ADDRESS" "$@"
}

# Prints the PIDs of processes that belong to the private daemon: the daemon
# itself excluded, its shims, runtimes and workloads included. A process
# belongs to it if its environment carries this daemon's REAPER_STATE_DIR
# (every shim inherits the daemon's environment) or its command line has the
# shim flag "-address <the daemon's socket>", and so do all its descendants.
# ctr's "--address" does not match, so the script's own ctr calls are not
# counted.
containerd_owned_pids() {
  local marker="REAPER_STATE_DIR=$REAPER_STATE" environ_file pid roots=()
  [[ -n $CONTAINERD_DIR ]] || return 0
  for environ_file in /proc/[0-9]*/environ; do
    pid=${environ_file#/proc/}
    pid=${pid%/environ}
    [[ $pid == "$CONTAINERD_PID" || $pid == "$$" ]] && continue
    if grep -qzxF -- "$marker" "$environ_file" 2>/dev/null ||
      [[ " $(process_cmdline "$pid") " == *" -address $CONTAINERD_ADDRESS "* ]]; then
      roots+=("$pid")
    fi
  done
  ((${#roots[@]} > 0)) || return 0
  { printf '%s\n' "${roots[@]}"; process_descendants "${roots[@]}"; } | sort -un
}

# Prints the PIDs of the private daemon's shim processes (any runtime).
containerd_shim_pids() {
  local pid exe
  while read -r pid; do
    exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || continue
    exe=${exe% (deleted)}
    if [[ ${exe##*/} == containerd-shim-* ]]; then
      printf '%s\n' "$pid"
    fi
  done < <(containerd_owned_pids)
}

# Prints the mount points under CONTAINERD_DIR, deepest first. A mount point
# stacked twice is printed twice.
containerd_mounts() {
  [[ -n $CONTAINERD_DIR ]] || return 0
  awk -v dir="$CONTAINERD_DIR" '$5 == dir || index($5, dir "/") == 1 { print $5 }' \
    /proc/self/mountinfo | awk -F/ '{ print NF, $0 }' | sort -k1,1nr -s | cut -d' ' -f2-
}

# Removes every task and container of the daemon through the API, so that
# shims exit the normal way and clean up after themselves. Prints the
# removed ids as "NAMESPACE/ID", one a line.
containerd_remove_all() {
  local namespace id
  for namespace in $(ctr_private namespaces list -q 2>/dev/null); do
    for id in $(ctr_private -n "$namespace" tasks list -q 2>/dev/null); do
      timeout 20 ctr --address "$CONTAINERD_ADDRESS" -n "$namespace" tasks delete --force "$id" \
        >/dev/null 2>&1 || log "warning: could not delete task $namespace/$id"
    done
    for id in $(ctr_private -n "$namespace" containers list -q 2>/dev/null); do
      printf '%s/%s\n' "$namespace" "$id"
      timeout 20 ctr --address "$CONTAINERD_ADDRESS" -n "$namespace" containers delete "$id" \
        >/dev/null 2>&1 || log "warning: could not delete container $namespace/$id"
    done
  done
}

# Sends SIGTERM to the daemon, then SIGKILL if it is still there after
# CONTAINERD_STOP_TIMEOUT seconds, and reaps it.
_containerd_stop_daemon() {
  kill -TERM "$CONTAINERD_PID" 2>/dev/null || return 0
  if ! wait_for_exit "$CONTAINERD_STOP_TIMEOUT" "$CONTAINERD_PID"; then
    log "warning: containerd (pid $CONTAINERD_PID) ignored SIGTERM for ${CONTAINERD_STOP_TIMEOUT} s; sending SIGKILL"
    kill -KILL "$CONTAINERD_PID" 2>/dev/null || true
  fi
  wait "$CONTAINERD_PID" 2>/dev/null || true
}

# Kills shims and workloads that outlived the daemon, by PID.
_containerd_kill_leftovers() {
  local pids pid
  mapfile -t pids < <(containerd_owned_pids)
  # shellcheck disable=SC2034  # read by the integration test runner
  CONTAINERD_LEFTOVER_COUNT=${#pids[@]}
  ((${#pids[@]} > 0)) || return 0
  for pid in "${pids[@]}"; do
    log "warning: killing leftover process $pid: $(process_cmdline "$pid")"
    kill -KILL "$pid" 2>/dev/null || true
  done
  wait_for_exit "$CONTAINERD_STOP_TIMEOUT" "${pids[@]}" ||
    log "warning: processes still running after SIGKILL: ${pids[*]}"
}

# Unmounts everything under CONTAINERD_DIR, deepest first. Returns 1 if a
# mount is left.
_containerd_unmount_all() {
  local mount_point pass
  for pass in 1 2 3; do
    while read -r mount_point; do
      [[ -n $mount_point ]] || continue
      umount "$mount_point" 2>/dev/null ||
        { [[ $pass == 3 ]] && umount --lazy "$mount_point"; } ||
        true
    done < <(containerd_mounts)
    [[ -z $(containerd_mounts) ]] && return 0
  done
  log "warning: still mounted: $(containerd_mounts | tr '\n' ' ')"
  return 1
}

# Tears down the private daemon: tasks, daemon, leftover processes, mounts,
# then the directory itself unless CONTAINERD_KEEP=1. Every step is bounded
# and runs even when an earlier one failed.
containerd_stop() {
  local status=$?
  [[ -n $CONTAINERD_DIR ]] || return "$status"
  trap - EXIT INT TERM

  if [[ -n $CONTAINERD_PID ]] && kill -0 "$CONTAINERD_PID" 2>/dev/null; then
    containerd_remove_all >/dev/null
    _containerd_stop_daemon
  fi
  _containerd_kill_leftovers
  if ! _containerd_unmount_all; then
    log "warning: left $CONTAINERD_DIR in place because something is still mounted under it"
  elif ((CONTAINERD_KEEP)); then
    log "kept $CONTAINERD_DIR (containerd log: $CONTAINERD_DIR/containerd.log)"
  else
    # --one-file-system: never descend into a mount that appeared meanwhile.
    rm -rf --one-file-system "$CONTAINERD_DIR"
  fi
  # rmdir removes only empty directories (and only unused cgroups), so
  # anything another containerd uses meanwhile stays.
  # ctr puts its FIFOs in /run/containerd/fifo unless a subcommand gets
  # --fifo-dir, and runc without a Root option keeps its state in
  # /run/containerd/runc.
  if ((_containerd_created_run_dir)); then
    rmdir /run/containerd/s /run/containerd/fifo /run/containerd/runc /run/containerd \
      2>/dev/null || true
  fi
  LC_ALL=C comm -13 <(printf '%s\n' "$_containerd_initial_cgroups" | LC_ALL=C sort) \
    <(_containerd_namespace_cgroups | LC_ALL=C sort) | xargs -r rmdir 2>/dev/null || true

  CONTAINERD_DIR=""
  CONTAINERD_PID=""
  return "$status"
}
