# shellcheck shell=bash
# The kind mode of the end-to-end tests: the cases of tests/e2e/cases.py, the
# same list the local CRI mode runs, as Kubernetes pods with the RuntimeClass
# reaper-v2 on a kind cluster (Kubernetes in Docker containers), through
# kubectl. Source scripts/lib/common.sh and scripts/lib/image.sh first.
#
# NOTE: this mode has not been run against a real cluster. It follows the
# documented command lines of kind (get clusters, create cluster, get nodes,
# load image-archive, delete cluster), docker (cp, exec), kubectl and crictl,
# and tests/e2e/kubectl_driver_test.py checks the Python driver against fake
# kubectl and docker programs only.
#
# Usage:
#   kind_available
#       Succeeds when docker, kind and kubectl are in PATH and `docker info`
#       reaches a daemon. Otherwise it sets KIND_UNAVAILABLE_REASON and fails.
#   kind_run_cases BUILD_DIR VERBOSE NO_CLEANUP [RUN_PY_OPTIONS...]
#       Reuses the cluster $KIND_CLUSTER_NAME, or creates it. On each of its
#       nodes it installs BUILD_DIR's containerd-shim-reaper-v2 and
#       reaper-runtime into /usr/local/bin, adds the runtime to containerd
#       with scripts/configure-containerd.sh and restarts containerd. It
#       waits for the nodes to be Ready, applies the RuntimeClass of
#       kubernetes/runtimeclass.yaml and loads the test image (TEST_IMAGE of
#       image.sh) into the nodes. Then it runs `tests/e2e/run.py cases
#       --driver kubectl` against the first node, with RUN_PY_OPTIONS
#       appended (for example --only NAME or --results FILE).
#       VERBOSE=1 shows every command's output and passes --verbose to
#       run.py. NO_CLEANUP=1 keeps everything. Otherwise the cluster is
#       deleted if this call created it; a cluster that existed before loses
#       only the test namespace. Returns run.py's exit status (1 when a case
#       failed), or 1 when the setup failed.
#
# The pods run on the node's own root filesystem (that is Reaper), so the
# node image's /bin/sh, seq and head are the ones the cases use. The pause
# image comes with kind's node image; nothing is pulled from a registry.

KIND_CLUSTER_NAME=${KIND_CLUSTER_NAME:-reaper-e2e}
KIND_NAMESPACE=reaper-e2e        # the namespace of the test pods
KIND_RUNTIME_CLASS=reaper-v2     # the RuntimeClass and containerd runtime name
KIND_UNAVAILABLE_REASON=""

# Seconds: `docker info`, the creation of a cluster, containerd's CRI socket
# after a restart, and a node's Ready condition.
KIND_DOCKER_TIMEOUT=20
KIND_CREATE_TIMEOUT=600
KIND_CRI_TIMEOUT=60
KIND_READY_TIMEOUT=180

# containerd's socket inside a kind node.
_KIND_CRI_ENDPOINT=unix:///run/containerd/containerd.sock
_KIND_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
_KIND_VERBOSE=0

kind_available() {
  local tool
  for tool in docker kind kubectl; do
    if ! command -v "$tool" >/dev/null 2>&1; then
      KIND_UNAVAILABLE_REASON="$tool not found in PATH"
      return 1
    fi
  done
  if ! timeout "$KIND_DOCKER_TIMEOUT" docker info >/dev/null 2>&1; then
    KIND_UNAVAILABLE_REASON="docker info failed: no Docker daemon is reachable"
    return 1
  fi
  KIND_UNAVAILABLE_REASON=""
}

# Runs a command. With VERBOSE it prints the command and lets its output
# through to stderr; otherwise it prints the output only if the command fails.
_kind_quiet() {
  local output status=0
  if ((_KIND_VERBOSE)); then
    log "+ $*"
    "$@" >&2 || status=$?
    return "$status"
  fi
  output=$("$@" 2>&1) || status=$?
  if ((status != 0)) && [[ -n $output ]]; then
    printf '%s\n' "$output" >&2
  fi
  return "$status"
}

_kind_cluster_exists() {
  local clusters
  clusters=$(kind get clusters 2>/dev/null) || die "kind get clusters failed"
  grep -qxF -- "$KIND_CLUSTER_NAME" <<<"$clusters"
}

# Prints the cluster's node containers that are Kubernetes nodes, one a line.
# `kind get nodes` also lists an external load balancer container, which runs
# no containerd.
_kind_nodes() {
  local containers kubernetes_nodes node
  containers=$(kind get nodes --name "$KIND_CLUSTER_NAME") ||
    die "kind get nodes --name $KIND_CLUSTER_NAME failed"
  kubernetes_nodes=$(kubectl --context "kind-$KIND_CLUSTER_NAME" get nodes \
    -o 'jsonpath={.items[*].metadata.name}') ||
    die "kubectl get nodes failed for context kind-$KIND_CLUSTER_NAME"
  for node in $containers; do
    if [[ " $kubernetes_nodes " == *" $node "* ]]; then
      printf '%s\n' "$node"
    fi
  done
}

# Installs the binaries of BUILD_DIR into the node, adds the runtime to its
# containerd configuration and restarts containerd.
_kind_install_node() {
  local node=$1 build_dir=$2 binary script=/tmp/reaper-configure-containerd.sh
  log "installing Reaper on node $node"
  for binary in containerd-shim-reaper-v2 reaper-runtime; do
    # Copied next to the target and renamed over it, so that a binary in use
    # by a running shim is replaced, not rewritten.
    _kind_quiet docker cp "$build_dir/$binary" "$node:/usr/local/bin/.$binary.new" ||
      die "docker cp of $build_dir/$binary into node $node failed"
    # shellcheck disable=SC2016  # expanded by the node's shell
    _kind_quiet docker exec "$node" sh -c 'chmod 755 "$1" && mv -f "$1" "$2"' sh \
      "/usr/local/bin/.$binary.new" "/usr/local/bin/$binary" ||
      die "installing /usr/local/bin/$binary in node $node failed"
  done
  # The runtime options name /etc/reaper/reaper.conf, and the shim fails to
  # start pods when that file is missing; an empty file means the defaults.
  # shellcheck disable=SC2016  # expanded by the node's shell
  _kind_quiet docker exec "$node" sh -c '[ -e "$1" ] || install -D -m 0644 /dev/null "$1"' sh \
    /etc/reaper/reaper.conf ||
    die "creating /etc/reaper/reaper.conf in node $node failed"
  _kind_quiet docker cp "$_KIND_REPO/scripts/configure-containerd.sh" "$node:$script" ||
    die "docker cp of scripts/configure-containerd.sh into node $node failed"
  _kind_quiet docker exec "$node" bash "$script" --config /etc/containerd/config.toml ||
    die "scripts/configure-containerd.sh failed in node $node"
  _kind_quiet docker exec "$node" systemctl restart containerd ||
    die "restarting containerd in node $node failed;" \
      "see: docker exec $node journalctl -u containerd"
}

# Waits until containerd in the node serves CRI again, warns when it does not
# list the runtime, and waits until the node is Ready.
_kind_wait_node() {
  local node=$1 deadline info=""
  deadline=$((SECONDS + KIND_CRI_TIMEOUT))
  until info=$(docker exec "$node" crictl --runtime-endpoint "$_KIND_CRI_ENDPOINT" info 2>&1); do
    if ((SECONDS >= deadline)); then
      printf '%s\n' "$info" >&2
      die "containerd in node $node does not serve CRI $KIND_CRI_TIMEOUT s after its restart"
    fi
    sleep 1
  done
  if [[ $info != *"\"$KIND_RUNTIME_CLASS\""* ]]; then
    log "warning: crictl info in node $node does not mention the runtime $KIND_RUNTIME_CLASS;" \
      "see /etc/containerd/config.toml there"
  fi
  _kind_quiet kubectl --context "kind-$KIND_CLUSTER_NAME" wait --for=condition=Ready "node/$node" \
    --timeout="${KIND_READY_TIMEOUT}s" ||
    die "node $node is not Ready after ${KIND_READY_TIMEOUT} s"
}

# Prints the YAML documents of FILE that declare kind: RuntimeClass, without
# the example pod, whose image would have to be pulled.
_kind_runtime_class_documents() {
  awk '
    /^---[[:space:]]*$/ { if (keep) printf "%s", document; document = ""; keep = 0; next }
    { document = document $0 "\n" }
    /^kind:[[:space:]]*RuntimeClass[[:space:]]*$/ { keep = 1 }
    END { if (keep) printf "%s", document }
  ' "$1"
}

_kind_apply_runtime_class() {
  local manifest=$_KIND_REPO/kubernetes/runtimeclass.yaml documents
  documents=$(_kind_runtime_class_documents "$manifest")
  [[ -n $documents ]] || die "$manifest has no RuntimeClass document"
  _kind_quiet kubectl --context "kind-$KIND_CLUSTER_NAME" apply -f - <<<"$documents" ||
    die "kubectl apply of the RuntimeClass in $manifest failed"
}

# Runs the steps after the cluster exists. kind_run_cases calls it in a
# subshell, so that a failed step ends only the subshell and the cleanup
# still runs.
_kind_session() {
  local build_dir=$1 work=$2 node node_list status=0
  local nodes=() run_options=()
  shift 2
  node_list=$(_kind_nodes)
  [[ -n $node_list ]] || die "kind cluster $KIND_CLUSTER_NAME has no Kubernetes nodes"
  mapfile -t nodes <<<"$node_list"
  for node in "${nodes[@]}"; do
    _kind_install_node "$node" "$build_dir"
  done
  for node in "${nodes[@]}"; do
    _kind_wait_node "$node"
  done
  _kind_apply_runtime_class

  log "loading the test image $TEST_IMAGE into the nodes"
  image_build_archive "$work/image.tar" "$TEST_IMAGE" test
  _kind_quiet kind load image-archive "$work/image.tar" --name "$KIND_CLUSTER_NAME" ||
    die "kind load image-archive $work/image.tar failed"

  if ((_KIND_VERBOSE)); then
    run_options+=(--verbose)
  fi
  log "running the cases on node ${nodes[0]} of kind cluster $KIND_CLUSTER_NAME"
  /usr/bin/python3 "$_KIND_REPO/tests/e2e/run.py" cases --driver kubectl \
    --kube-context "kind-$KIND_CLUSTER_NAME" --node "${nodes[0]}" \
    --namespace "$KIND_NAMESPACE" --handler "$KIND_RUNTIME_CLASS" --image "$TEST_IMAGE" \
    "${run_options[@]}" "$@" || status=$?
  return "$status"
}

# Removes what this run leaves in the cluster, or the cluster itself if this
# run created it.
_kind_finish() {
  local created=$1 no_cleanup=$2
  if ((no_cleanup)); then
    log "kept kind cluster $KIND_CLUSTER_NAME (kubectl context kind-$KIND_CLUSTER_NAME);" \
      "delete it with: kind delete cluster --name $KIND_CLUSTER_NAME"
    return 0
  fi
  if ((created)); then
    log "deleting kind cluster $KIND_CLUSTER_NAME"
    _kind_quiet kind delete cluster --name "$KIND_CLUSTER_NAME" ||
      log "warning: kind delete cluster --name $KIND_CLUSTER_NAME failed"
    return 0
  fi
  _kind_quiet kubectl --context "kind-$KIND_CLUSTER_NAME" delete namespace "$KIND_NAMESPACE" \
    --ignore-not-found --wait=false ||
    log "warning: deleting namespace $KIND_NAMESPACE failed"
  log "kept kind cluster $KIND_CLUSTER_NAME, which existed before this run;" \
    "Reaper stays installed and configured on its nodes"
}

kind_run_cases() {
  local build_dir=${1:?kind_run_cases needs BUILD_DIR} verbose=${2:-0} no_cleanup=${3:-0}
  local created=0 status=0 interrupted=0 errexit=0 binary work saved_traps
  shift $(($# < 3 ? $# : 3))
  _KIND_VERBOSE=$verbose
  : "${TEST_IMAGE:?source scripts/lib/image.sh before scripts/lib/kind.sh}"

  kind_available || die "the kind mode needs docker, kind and kubectl: $KIND_UNAVAILABLE_REASON"
  for binary in containerd-shim-reaper-v2 reaper-runtime; do
    [[ -x $build_dir/$binary ]] || die "$build_dir/$binary not found or not executable; build first"
  done
  [[ -x /usr/bin/python3 ]] || die "/usr/bin/python3 not found; tests/e2e/run.py needs it"

  if _kind_cluster_exists; then
    log "reusing kind cluster $KIND_CLUSTER_NAME"
  else
    log "creating kind cluster $KIND_CLUSTER_NAME"
    if ! _kind_quiet timeout "$KIND_CREATE_TIMEOUT" kind create cluster \
      --name "$KIND_CLUSTER_NAME" --wait "${KIND_READY_TIMEOUT}s"; then
      # kind removes what it made when it fails, but not when timeout
      # killed it.
      _kind_quiet kind delete cluster --name "$KIND_CLUSTER_NAME" || true
      die "kind create cluster --name $KIND_CLUSTER_NAME failed"
    fi
    created=1
  fi
  work=$(mktemp -d /tmp/reaper-kind.XXXXXX) || die "mktemp failed"

  # The session runs in a subshell so that a failed step (die, or errexit)
  # ends only the subshell and the cleanup below still runs. errexit must be
  # switched off around it: inside `cmd || status=$?` bash would ignore it in
  # the subshell too.
  if [[ $- == *e* ]]; then
    errexit=1
  fi
  saved_traps=$(trap -p INT TERM)
  trap 'interrupted=1' INT TERM
  set +e
  (
    set -e
    _kind_session "$build_dir" "$work" "$@"
  )
  status=$?
  if ((errexit)); then
    set -e
  fi
  trap - INT TERM
  eval "$saved_traps"

  _kind_finish "$created" "$no_cleanup"
  rm -rf "$work"
  if ((interrupted)); then
    log "interrupted"
    exit 130
  fi
  return "$status"
}
