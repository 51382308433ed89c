"""A Driver that runs the end-to-end cases as Kubernetes pods through kubectl,
on a cluster whose nodes are containers (kind).

Each pod has one container, restartPolicy: Never, hostNetwork: true, the
RuntimeClass under test and spec.nodeName set to one node, so that every
pod runs where the node-side checks look. The node is a container reached
with `docker exec`; its name is also its Kubernetes node name, as in kind.

What comes from where:
- pod creation, state, exit codes: kubectl create and the pod's status;
- logs: the node's CRI log file /var/log/pods/<namespace>_<pod>_<uid>/
  <container>/0.log, which kubelet serves to `kubectl logs`. The cases
  check the streams and the P/F records of that file, which `kubectl logs`
  merges away;
- exec: `kubectl exec` without -i and -t, so stdout and stderr stay apart;
- stop: `crictl stop --timeout N` on the node, the CRI StopContainer call
  that kubelet makes for a pod deleted with a grace period of N seconds.
  Deleting the pod instead would also delete its status and log, which the
  cases read after the stop;
- removal: `kubectl delete pod --grace-period=1`, waiting until the pod
  object is gone;
- processes: the node's /proc, read with `docker exec`.

Every call runs a command with a timeout, so no method waits forever.

NOTE: this driver has not been run against a real cluster; only
kubectl_driver_test.py, with fake kubectl and docker programs, exercises it.
"""

import dataclasses
import json
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from typing import Dict

from driver import ContainerLog, Driver, DriverError, ExecResult, LogFormatError, NodeProcess

# The Kubernetes namespace of every test pod.
POD_NAMESPACE = "reaper-e2e"
# Labels that mark the pods of one test run and the case that made them.
RUN_LABEL = "reaper-e2e/run"
CASE_LABEL = "reaper-e2e/case"
# containerd's socket inside a kind node, given to crictl explicitly so that
# the node's /etc/crictl.yaml does not matter.
CRI_ENDPOINT = "unix:///run/containerd/containerd.sock"
# kubelet's root for the pods' CRI log files.
POD_LOG_ROOT = "/var/log/pods"

# Seconds. START_TIMEOUT covers scheduling, the sandbox, the image lookup and
# the container start. KUBECTL_TIMEOUT bounds one API request.
START_TIMEOUT = 90.0
KUBECTL_TIMEOUT = 30.0
DELETE_TIMEOUT = 60.0
# How long kubelet may take to report a stopped container in the pod status.
STOP_REPORT_TIMEOUT = 30.0
NODE_TIMEOUT = 30.0
POLL_INTERVAL = 0.2
# How often run_pod looks at the pod's events while the pod is pending.
EVENT_CHECK_INTERVAL = 2.0

# Container states in which kubelet gives up on a container. With
# restartPolicy: Never a failed start is reported as terminated with reason
# StartError; older kubelets report waiting with RunContainerError first.
_CREATE_FAILURES = {"CreateContainerError", "CreateContainerConfigError", "ErrImageNeverPull",
                    "ErrImagePull", "ImagePullBackOff", "InvalidImageName"}
_START_FAILURES = {"RunContainerError", "StartError", "ContainerCannotRun"}
# kubectl exec ends its stderr with this line when the command exited with a
# non-zero status, and exits with that status.
_EXEC_EXIT_LINE = re.compile(rb"command terminated with exit code (\d+)\n\Z")
# A pod name is a DNS label here (at most 63 characters) because it is also
# the pod's hostname.
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")

# Prints, for every process in the node's /proc, four sections: stat,
# cmdline, exe (the link target) and environ. Each section starts on a new
# line with "<token> <pid> <field>", where the token is a random string
# passed as $1 that the contents cannot contain.
_PROC_SCRIPT = r"""
token=$1
cd /proc || exit 1
for pid in [0-9]*; do
  printf '\n%s %s stat\n' "$token" "$pid"
  cat "$pid/stat"
  printf '\n%s %s cmdline\n' "$token" "$pid"
  cat "$pid/cmdline"
  printf '\n%s %s exe\n' "$token" "$pid"
  readlink "$pid/exe"
  printf '\n%s %s environ\n' "$token" "$pid"
  cat "$pid/environ"
done 2>/dev/null
exit 0
"""


@dataclasses.dataclass
class KubePod:
    name: str
    case: str
    container: str
    uid: str = ""
    container_id: str = ""  # without the "containerd://" prefix


def escape_expansion(text):
    """Return text with every "$" doubled, so that kubelet's $(VAR)
    expansion of command, args and env values leaves it unchanged."""
    return text.replace("$", "$$")


def build_pod_manifest(name, namespace, labels, runtime_class, node, image, spec):
    """Return the Pod object, as a dict, for one container `spec`
    (driver.ContainerSpec).

    spec.oom_score_adj is not sent: a pod spec has no such field, and kubelet
    derives the value from the pod's QoS class (1000 for these BestEffort
    pods).
    """
    container = {
        "name": spec.name,
        "image": image,
        "imagePullPolicy": "Never",
        "command": [escape_expansion(argument) for argument in spec.command],
    }
    if spec.args:
        container["args"] = [escape_expansion(argument) for argument in spec.args]
    if spec.env:
        container["env"] = [{"name": key, "value": escape_expansion(value)}
                            for key, value in spec.env.items()]
    if spec.working_dir:
        container["workingDir"] = spec.working_dir
    pod_spec = {
        "hostNetwork": True,
        "restartPolicy": "Never",
        "nodeName": node,
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "containers": [container],
    }
    if runtime_class:
        pod_spec["runtimeClassName"] = runtime_class
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
        "spec": pod_spec,
    }


def container_status(item, container):
    """Return the status of the named container from a Pod object, or None."""
    for status in item.get("status", {}).get("containerStatuses") or []:
        if status.get("name") == container:
            return status
    return None


def parse_exec_result(returncode, stdout, stderr):
    """Turn kubectl exec's exit status and output into an ExecResult, or raise
    DriverError when kubectl itself failed (the pod or container is gone or
    not running, the runtime rejected the exec, the API server is down)."""
    if returncode == 0:
        return ExecResult(exit_code=0, stdout=stdout, stderr=stderr)
    match = _EXEC_EXIT_LINE.search(stderr)
    if match is not None and int(match.group(1)) == returncode:
        return ExecResult(exit_code=returncode, stdout=stdout, stderr=stderr[:match.start()])
    message = stderr.decode(errors="replace").strip() or f"exit status {returncode}"
    raise DriverError("exec", message)


def parse_proc_dump(data, token):
    """Parse the output of _PROC_SCRIPT into NodeProcess objects."""
    sections: Dict[int, Dict[str, bytes]] = {}
    for chunk in data.split(b"\n" + token.encode() + b" ")[1:]:
        header, _, content = chunk.partition(b"\n")
        pid_text, _, field = header.partition(b" ")
        if not pid_text.isdigit():
            continue
        sections.setdefault(int(pid_text), {})[field.decode()] = content
    processes = []
    for pid, fields in sorted(sections.items()):
        process = _process_from_sections(pid, fields)
        if process is not None:
            processes.append(process)
    return processes


def _process_from_sections(pid, fields):
    stat = fields.get("stat", b"").rstrip(b"\n")
    # The command name in parentheses may contain spaces and parentheses.
    rest = stat[stat.rfind(b")") + 2:].split()
    if len(rest) < 2:
        return None  # the process exited during the scan
    exe = fields.get("exe", b"").rstrip(b"\n").decode(errors="replace")
    if exe.endswith(" (deleted)"):
        exe = exe[:-len(" (deleted)")]
    env = {}
    for item in fields.get("environ", b"").split(b"\0"):
        if item.startswith(b"REAPER_") and b"=" in item:
            key, value = item.decode(errors="replace").split("=", 1)
            env[key] = value
    argv = [argument.decode(errors="replace")
            for argument in fields.get("cmdline", b"").split(b"\0")[:-1]]
    return NodeProcess(pid=pid, ppid=int(rest[1]), state=rest[0].decode(), exe=exe,
                       argv=argv, env=env)


class KubectlDriver(Driver):
    """Runs pods through kubectl on one node of a kind cluster.

    runtime_class: the RuntimeClass of the pods ("" for the cluster's default
    runtime); kubernetes/runtimeclass.yaml names Reaper's "reaper-v2", after
    its handler. node: the node's name, which is also the name of its
    container. image: an image already in the node's CRI image store (it is
    never pulled). kubectl and docker: the commands to run, as lists, for
    example ["kubectl", "--context", "kind-reaper-e2e"].
    """

    def __init__(self, runtime_class, node, image, kubectl=("kubectl",), docker=("docker",),
                 namespace=POD_NAMESPACE, verbose=False):
        if runtime_class and _DNS_LABEL.match(runtime_class) is None:
            raise ValueError(f"invalid RuntimeClass name {runtime_class!r}: expected a DNS label")
        if not node:
            raise ValueError("the node name is empty")
        self.runtime_class = runtime_class
        self.handler = runtime_class or "the cluster's default"
        self.runtime_is_reaper = "reaper" in runtime_class
        self.node = node
        self.image = image
        self.kubectl = list(kubectl)
        self.docker = list(docker)
        self.namespace = namespace
        self.verbose = verbose
        self.run_id = uuid.uuid4().hex[:8]
        self._lock = threading.Lock()
        self._pods: Dict[str, KubePod] = {}
        self._counter = 0
        # Sandbox and container ids of this run's pods, for telling their
        # shims from those of the cluster's own pods.
        self._runtime_ids = set()
        # The last pod list: (monotonic time its request started, {name: item}).
        self._snapshot_lock = threading.Lock()
        self._snapshot = (float("-inf"), {})

    # Commands

    def _run(self, argv, timeout, input_data=None, trace=False):
        """Run argv and return the CompletedProcess; raise TimeoutError when
        it outlives `timeout` seconds."""
        try:
            result = subprocess.run(argv, input=input_data, capture_output=True,
                                    timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise TimeoutError(f"{' '.join(argv[:6])} ... timed out after {timeout} s") from None
        if trace and self.verbose:
            print(f"    $ {' '.join(argv)}  -> exit status {result.returncode}", file=sys.stderr)
            if result.returncode != 0:
                print(f"    {result.stderr.decode(errors='replace').strip()}", file=sys.stderr)
        return result

    def _kubectl(self, args, timeout=KUBECTL_TIMEOUT, input_data=None, trace=False):
        return self._run(self.kubectl + args, timeout, input_data, trace)

    def _kubectl_json(self, args, stage):
        result = self._kubectl(args + ["-o", "json", f"--request-timeout={int(KUBECTL_TIMEOUT)}s"])
        if result.returncode != 0:
            raise DriverError(stage, f"kubectl {' '.join(args)} failed: "
                                     f"{result.stderr.decode(errors='replace').strip()}")
        try:
            return json.loads(result.stdout)
        except ValueError as error:
            raise DriverError(stage, f"kubectl {' '.join(args)} printed invalid JSON: "
                                     f"{error}") from None

    def _node_exec(self, argv, timeout=NODE_TIMEOUT, trace=False):
        return self._run(self.docker + ["exec", self.node] + list(argv), timeout, trace=trace)

    def _crictl(self, args, timeout=NODE_TIMEOUT, trace=False):
        return self._node_exec(["crictl", "--runtime-endpoint", CRI_ENDPOINT] + args, timeout,
                               trace=trace)

    # Setup

    def prepare(self):
        """Check the node, the RuntimeClass and the image, and create the
        namespace. Raise DriverError naming what is missing."""
        result = self._node_exec(["true"])
        if result.returncode != 0:
            raise DriverError("setup", f"cannot run commands in node container {self.node}: "
                                       f"{result.stderr.decode(errors='replace').strip()}")
        if self.runtime_class:
            result = self._kubectl(["get", "runtimeclass", self.runtime_class,
                                    f"--request-timeout={int(KUBECTL_TIMEOUT)}s"])
            if result.returncode != 0:
                raise DriverError("setup", f"RuntimeClass {self.runtime_class} not found; apply "
                                           "the RuntimeClass of kubernetes/runtimeclass.yaml: "
                                           f"{result.stderr.decode(errors='replace').strip()}")
        result = self._crictl(["inspecti", self.image])
        if result.returncode != 0:
            raise DriverError("setup", f"image {self.image} not found in the CRI image store of "
                                       f"node {self.node}; load it first: "
                                       f"{result.stderr.decode(errors='replace').strip()}")
        self._ensure_namespace()

    def _ensure_namespace(self):
        result = self._kubectl(["get", "namespace", self.namespace,
                                f"--request-timeout={int(KUBECTL_TIMEOUT)}s"])
        if result.returncode != 0:
            result = self._kubectl(["create", "namespace", self.namespace], trace=True)
            if result.returncode != 0 and b"AlreadyExists" not in result.stderr:
                raise DriverError("setup", f"creating namespace {self.namespace} failed: "
                                           f"{result.stderr.decode(errors='replace').strip()}")
        # The API server rejects pods until the namespace's "default"
        # ServiceAccount exists, which a controller creates shortly after the
        # namespace.
        deadline = time.monotonic() + KUBECTL_TIMEOUT
        while True:
            result = self._kubectl(["get", "serviceaccount", "default", "-n", self.namespace,
                                    f"--request-timeout={int(KUBECTL_TIMEOUT)}s"])
            if result.returncode == 0:
                return
            if time.monotonic() >= deadline:
                raise DriverError("setup", f"ServiceAccount default of namespace "
                                           f"{self.namespace} not created after "
                                           f"{KUBECTL_TIMEOUT} s")
            time.sleep(0.5)

    # Pod status

    def _items(self, not_before):
        """Return {pod name: Pod object} for this run's pods, from a listing
        whose request started at or after `not_before` (time.monotonic()).
        Threads polling at once share one listing."""
        with self._snapshot_lock:
            started, items = self._snapshot
            if started >= not_before:
                return items
            started = time.monotonic()
            listing = self._kubectl_json(["get", "pods", "-n", self.namespace,
                                          "-l", f"{RUN_LABEL}={self.run_id}"], "status")
            items = {item["metadata"]["name"]: item for item in listing.get("items", [])}
            self._snapshot = (started, items)
        for item in items.values():
            self._remember_ids(item)
        return items

    def _item(self, pod):
        """Return the pod's current Pod object, or None if it is gone."""
        return self._items(time.monotonic()).get(pod.name)

    def _remember_ids(self, item):
        name = item["metadata"]["name"]
        with self._lock:
            pod = self._pods.get(name)
        for status in item.get("status", {}).get("containerStatuses") or []:
            container_id = status.get("containerID", "")
            if "://" in container_id:
                container_id = container_id.split("://", 1)[1]
                with self._lock:
                    self._runtime_ids.add(container_id)
                if pod is not None and status.get("name") == pod.container:
                    pod.container_id = container_id

    def _state(self, pod, item):
        """Return (state name, details dict) of the pod's container."""
        if item is None:
            return "gone", {}
        status = container_status(item, pod.container)
        if status is None:
            return "pending", {}
        state = status.get("state") or {}
        for name in ("running", "terminated", "waiting"):
            if name in state:
                return name, state[name] or {}
        return "pending", {}

    # Pods

    def _new_pod(self, case, spec):
        with self._lock:
            self._counter += 1
            number = self._counter
        name = f"{case}-{self.run_id}-{number}"[-63:].lstrip("-")
        if _DNS_LABEL.match(name) is None:
            raise ValueError(f"invalid pod name {name!r} for case {case!r}: a pod name must be "
                             "a DNS label (lowercase letters, digits and '-')")
        return KubePod(name=name, case=case, container=spec.name)

    def run_pod(self, case, spec):
        pod = self._new_pod(case, spec)
        case_label = case[:63].strip("-_.")
        if _LABEL_VALUE.match(case_label) is None:
            raise ValueError(f"invalid case name {case!r} for a label value")
        labels = {RUN_LABEL: self.run_id, CASE_LABEL: case_label}
        manifest = build_pod_manifest(pod.name, self.namespace, labels, self.runtime_class,
                                      self.node, self.image, spec)
        with self._lock:
            self._pods[pod.name] = pod
        result = self._kubectl(["create", "-f", "-", "-o", "json",
                                f"--request-timeout={int(KUBECTL_TIMEOUT)}s"],
                               input_data=json.dumps(manifest).encode(), trace=True)
        if result.returncode != 0:
            with self._lock:
                self._pods.pop(pod.name, None)
            raise DriverError("sandbox", f"kubectl create of pod {pod.name} failed: "
                                         f"{result.stderr.decode(errors='replace').strip()}")
        try:
            pod.uid = json.loads(result.stdout)["metadata"]["uid"]
        except (ValueError, KeyError, TypeError) as error:
            raise DriverError("sandbox", f"kubectl create of pod {pod.name} printed no uid: "
                                         f"{error}") from None
        self._wait_started(pod)
        return pod

    def _wait_started(self, pod):
        """Wait until the container runs or has run; raise DriverError with
        the stage that failed."""
        deadline = time.monotonic() + START_TIMEOUT
        next_event_check = time.monotonic() + EVENT_CHECK_INTERVAL
        while True:
            item = self._item(pod)
            state, details = self._state(pod, item)
            reason = details.get("reason", "")
            message = f"{reason}: {details.get('message', '')}".strip(": ")
            if state == "gone":
                raise DriverError("sandbox", f"pod {pod.name} was deleted before it started")
            if state == "running":
                return
            if state == "terminated":
                if reason in _START_FAILURES:
                    raise DriverError("start", message)
                return
            if state == "waiting" and reason in _CREATE_FAILURES:
                raise DriverError("create", message)
            if state == "waiting" and reason in _START_FAILURES:
                raise DriverError("start", message)
            if state == "pending":
                self._check_pending(pod, item)
            now = time.monotonic()
            if now >= next_event_check:
                self._check_sandbox_events(pod)
                next_event_check = now + EVENT_CHECK_INTERVAL
            if now >= deadline:
                phase = item.get("status", {}).get("phase", "unknown")
                raise DriverError("sandbox" if state == "pending" else "create",
                                  f"container of pod {pod.name} not started after "
                                  f"{START_TIMEOUT} s: pod phase {phase}, container {state} "
                                  f"{message}".strip())
            time.sleep(POLL_INTERVAL)

    @staticmethod
    def _check_pending(pod, item):
        """Raise DriverError("sandbox") if a pod without container status
        will never get one: kubelet rejected it, or it cannot be scheduled."""
        status = item.get("status", {})
        if status.get("phase") in ("Failed", "Succeeded"):
            raise DriverError("sandbox", f"pod {pod.name} is {status['phase']} without a "
                                         f"container: {status.get('reason', '')} "
                                         f"{status.get('message', '')}".strip())
        for condition in status.get("conditions") or []:
            if (condition.get("type") == "PodScheduled" and condition.get("status") == "False"
                    and condition.get("reason") == "Unschedulable"):
                raise DriverError("sandbox", f"pod {pod.name} is unschedulable: "
                                             f"{condition.get('message', '')}")

    def _check_sandbox_events(self, pod):
        """Raise DriverError("sandbox") if kubelet reported that it failed to
        create the pod's sandbox. kubelet retries, but for a test the first
        failure is the result."""
        listing = self._kubectl_json(
            ["get", "events", "-n", self.namespace, "--field-selector",
             f"involvedObject.name={pod.name},reason=FailedCreatePodSandBox"], "sandbox")
        messages = [event.get("message", "") for event in listing.get("items", [])]
        if messages:
            raise DriverError("sandbox", messages[-1])

    def container_state(self, pod):
        state, _ = self._state(pod, self._item(pod))
        if state == "running":
            return "running"
        if state == "terminated":
            return "exited"
        if state == "waiting" and pod.container_id:
            return "created"
        return "unknown"

    def wait_running(self, pod, timeout):
        deadline = time.monotonic() + timeout
        while True:
            state, details = self._state(pod, self._item(pod))
            if state == "running":
                return
            if state in ("terminated", "gone"):
                raise DriverError("wait", f"container of pod {pod.name} is {state} "
                                          f"({details.get('reason', 'no reason')}) "
                                          "instead of running")
            if time.monotonic() >= deadline:
                raise TimeoutError(f"container of pod {pod.name} not running after {timeout} s "
                                   f"(state {state})")
            time.sleep(POLL_INTERVAL)

    def wait_exit(self, pod, timeout):
        deadline = time.monotonic() + timeout
        while True:
            state, details = self._state(pod, self._item(pod))
            if state == "terminated":
                return int(details.get("exitCode", -1))
            if state == "gone":
                raise DriverError("status", f"pod {pod.name} is gone; its exit code is lost")
            if time.monotonic() >= deadline:
                raise TimeoutError(f"container of pod {pod.name} still {state} after {timeout} s")
            time.sleep(POLL_INTERVAL)

    def log_path(self, pod):
        """Return the path of the pod's CRI log file on the node."""
        return (f"{POD_LOG_ROOT}/{self.namespace}_{pod.name}_{pod.uid}/"
                f"{pod.container}/0.log")

    def logs(self, pod):
        path = self.log_path(pod)
        # An absent file reads as empty: kubelet creates it with the container.
        result = self._node_exec(["sh", "-c", 'if [ -e "$1" ]; then cat "$1"; fi', "sh", path])
        if result.returncode != 0:
            raise DriverError("logs", f"reading {path} on node {self.node} failed: "
                                      f"{result.stderr.decode(errors='replace').strip()}")
        try:
            return ContainerLog.parse(result.stdout)
        except LogFormatError as error:
            raise DriverError("logs", f"{path}: {error}") from None

    def exec_sync(self, pod, argv, timeout):
        result = self._kubectl(["exec", pod.name, "-n", self.namespace, "-c", pod.container,
                                "--"] + list(argv), timeout=timeout + 10, trace=True)
        return parse_exec_result(result.returncode, result.stdout, result.stderr)

    def stop_container(self, pod, grace_seconds):
        if not pod.container_id:
            self._item(pod)  # reads the container id from the status
        if not pod.container_id:
            raise DriverError("stop", f"pod {pod.name} has no container id in its status")
        # crictl's own --timeout bounds the connection and the request
        # beyond the grace period.
        result = self._crictl(["--timeout", "30s", "stop", "--timeout", str(int(grace_seconds)),
                               pod.container_id], timeout=grace_seconds + 45, trace=True)
        if result.returncode != 0:
            raise DriverError("stop", f"crictl stop {pod.container_id} (pod {pod.name}) failed: "
                                      f"{result.stderr.decode(errors='replace').strip()}")
        # The cases read the state right after the stop, so wait until
        # kubelet has put the exit into the pod status.
        try:
            self.wait_exit(pod, STOP_REPORT_TIMEOUT)
        except TimeoutError:
            raise DriverError("stop", f"kubelet still does not report the container of pod "
                                      f"{pod.name} stopped {STOP_REPORT_TIMEOUT} s after "
                                      "StopContainer returned") from None

    def _delete(self, selector_args, stage, timeout=DELETE_TIMEOUT):
        # A grace period of 1 s: kubectl turns 0 into 1 unless --force, and
        # --force would remove the object without waiting for kubelet.
        result = self._kubectl(["delete", "pods", "-n", self.namespace, "--grace-period=1",
                                "--ignore-not-found", "--wait=true", f"--timeout={int(timeout)}s"]
                               + selector_args, timeout=timeout + 15, trace=True)
        if result.returncode != 0:
            raise DriverError(stage, f"kubectl delete pods {' '.join(selector_args)} failed: "
                                     f"{result.stderr.decode(errors='replace').strip()}")

    def remove_pod(self, pod):
        self._delete([pod.name], "remove")
        with self._lock:
            self._pods.pop(pod.name, None)

    def list_pods(self):
        return sorted(self._items(time.monotonic()))

    def cleanup(self):
        # run_cases calls cleanup() after every case and catches only
        # DriverError there.
        try:
            return self._remove_all()
        except TimeoutError as error:
            raise DriverError("cleanup", str(error)) from None

    def _remove_all(self):
        with self._lock:
            names = set(self._pods)
        names.update(self.list_pods())
        if not names:
            return []
        self._delete(["-l", f"{RUN_LABEL}={self.run_id}"], "cleanup", timeout=2 * DELETE_TIMEOUT)
        with self._lock:
            self._pods.clear()
        return sorted(names)

    # The node

    def node_run(self, argv, timeout):
        # Through sh, so that a shell builtin such as kill works even where
        # the node has no program of that name.
        result = self._node_exec(["sh", "-c", '"$@"', "sh"] + list(argv), timeout)
        return subprocess.CompletedProcess(list(argv), result.returncode, result.stdout,
                                           result.stderr)

    def node_processes(self):
        token = uuid.uuid4().hex
        result = self._node_exec(["sh", "-c", _PROC_SCRIPT, "sh", token])
        if result.returncode != 0:
            raise DriverError("node", f"reading /proc of node {self.node} failed: "
                                      f"{result.stderr.decode(errors='replace').strip()}")
        return parse_proc_dump(result.stdout, token)

    def runtime_daemon_pids(self):
        return {process.pid for process in self.node_processes()
                if os.path.basename(process.exe) == "containerd"}

    def _sandbox_ids(self):
        """Return the CRI ids of this run's sandboxes and containers seen so far."""
        result = self._crictl(["pods", "-q", "--label", f"{RUN_LABEL}={self.run_id}"])
        if result.returncode != 0:
            raise DriverError("node", f"crictl pods on node {self.node} failed: "
                                      f"{result.stderr.decode(errors='replace').strip()}")
        with self._lock:
            self._runtime_ids.update(result.stdout.decode().split())
            return set(self._runtime_ids)

    def runtime_shim_pids(self):
        # The cluster's own pods run on the node's containerd too, under runc
        # shims, so only the shims of this run's pods count: those started
        # with "-id <id of one of its sandboxes or containers>", and, for
        # Reaper, every Reaper shim, since only test pods use its handler.
        ids = self._sandbox_ids()
        pids = set()
        for process in self.node_processes():
            name = os.path.basename(process.exe)
            if not name.startswith("containerd-shim"):
                continue
            if self.runtime_is_reaper and name == "containerd-shim-reaper-v2":
                pids.add(process.pid)
                continue
            for index, argument in enumerate(process.argv[:-1]):
                if argument == "-id" and process.argv[index + 1] in ids:
                    pids.add(process.pid)
        return pids


def add_arguments(parser):
    """Add the options of this driver to an argparse parser."""
    parser.add_argument("--kube-context", default="",
                        help="kubectl context of the cluster (kubectl driver; default: the "
                             "current context)")
    parser.add_argument("--node", default="",
                        help="node that runs the pods, also the name of its container "
                             "(kubectl driver)")
    parser.add_argument("--namespace", default=POD_NAMESPACE,
                        help=f"namespace of the test pods (kubectl driver; default: "
                             f"{POD_NAMESPACE})")


def from_arguments(arguments):
    """Build and prepare a KubectlDriver from parsed arguments: those of
    add_arguments, plus --handler, --image and --verbose. Exit with an error
    message when the cluster is not ready for it."""
    if not arguments.node:
        raise SystemExit("run.py: error: --node is required for --driver kubectl")
    kubectl = ["kubectl"]
    if arguments.kube_context:
        kubectl += ["--context", arguments.kube_context]
    try:
        driver = KubectlDriver(arguments.handler, arguments.node, arguments.image,
                               kubectl=kubectl, namespace=arguments.namespace,
                               verbose=getattr(arguments, "verbose", False))
        driver.prepare()
    except (ValueError, DriverError, TimeoutError, OSError) as error:
        raise SystemExit(f"run.py: error: {error}") from None
    return driver
