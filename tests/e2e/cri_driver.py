"""A Driver that plays the kubelet against a containerd CRI endpoint.

Each pod is what a kubelet would send for a pod with hostNetwork: true and
one container: RunPodSandbox with the runtime handler of its RuntimeClass,
then CreateContainer and StartContainer. Logs are read from the CRI log
file under the pod's log directory, as kubelet does for `kubectl logs`.
Host-side checks run on this machine, which is the node.
"""

import concurrent.futures
import dataclasses
import os
import subprocess
import threading
import time
import uuid

from cri_client import CriError
from driver import ContainerLog, Driver, DriverError, ExecResult, NodeProcess

# The Kubernetes namespace of every test pod.
POD_NAMESPACE = "e2e"
# Label that marks the pods and containers of one test run.
RUN_LABEL = "reaper-e2e/run"
CASE_LABEL = "reaper-e2e/case"

# Seconds for the CRI calls that start or remove something, and the interval
# of the status polls.
SANDBOX_TIMEOUT = 60.0
CONTAINER_TIMEOUT = 30.0
POLL_INTERVAL = 0.05
CLEANUP_WORKERS = 4

_STATE_NAMES = {0: "created", 1: "running", 2: "exited", 3: "unknown"}


@dataclasses.dataclass
class CriPod:
    name: str
    uid: str
    case: str
    sandbox_config: object
    log_directory: str
    log_file: str = ""
    sandbox_id: str = ""
    container_id: str = ""


class CriDriver(Driver):
    """Runs pods through the CRI API of one containerd.

    client: a CriClient. image: the container image, already in the
    runtime's image store. log_root: the directory that contains the pods' log
    directories. pid_mode: the pods' PID namespace mode, "container" (what a
    kubelet sends by default) or "node" (hostPID). containerd_pid and
    reaper_state_dir (REAPER_STATE_DIR in the daemon's environment) tell the
    runtime's own processes from others on the node.
    """

    def __init__(self, client, handler, image, log_root, containerd_pid, reaper_state_dir,
                 socket_path, pid_mode="container"):
        api = client.api
        pid_modes = {"container": api.CONTAINER, "node": api.NODE}
        if pid_mode not in pid_modes:
            raise ValueError(f"invalid PID namespace mode {pid_mode!r}: expected container or node")
        self.client = client
        self.api = api
        self.handler = handler
        self.runtime_is_reaper = "reaper" in handler
        self.image = image
        self.log_root = log_root
        self.containerd_pid = containerd_pid
        self.reaper_state_dir = reaper_state_dir
        self.socket_path = socket_path
        self.run_id = uuid.uuid4().hex[:8]
        self._namespaces = api.NamespaceOption(network=api.NODE, pid=pid_modes[pid_mode],
                                               ipc=api.POD)
        self._lock = threading.Lock()
        self._pods = {}
        self._counter = 0

    # Pods

    def _new_pod(self, case):
        with self._lock:
            self._counter += 1
            number = self._counter
        # A pod name is a DNS label: at most 63 characters.
        name = f"{case}-{self.run_id}-{number}"[-63:].lstrip("-")
        uid = str(uuid.uuid4())
        labels = {RUN_LABEL: self.run_id, CASE_LABEL: case}
        log_directory = os.path.join(self.log_root, f"{POD_NAMESPACE}_{name}_{uid}")
        config = self.api.PodSandboxConfig(
            metadata=self.api.PodSandboxMetadata(name=name, uid=uid, namespace=POD_NAMESPACE),
            log_directory=log_directory,
            labels=labels,
            linux=self.api.LinuxPodSandboxConfig(
                security_context=self.api.LinuxSandboxSecurityContext(
                    namespace_options=self._namespaces)))
        return CriPod(name=name, uid=uid, case=case, sandbox_config=config,
                      log_directory=log_directory)

    def _container_config(self, pod, spec):
        api = self.api
        resources = api.LinuxContainerResources()
        if spec.oom_score_adj is not None:
            resources.oom_score_adj = spec.oom_score_adj
        return api.ContainerConfig(
            metadata=api.ContainerMetadata(name=spec.name),
            image=api.ImageSpec(image=self.image),
            command=spec.command,
            args=spec.args,
            working_dir=spec.working_dir,
            envs=[api.KeyValue(key=key, value=value) for key, value in spec.env.items()],
            labels=dict(pod.sandbox_config.labels),
            # Relative to the pod's log directory, as a kubelet names it:
            # <container name>/<restart count>.log.
            log_path=f"{spec.name}/0.log",
            linux=api.LinuxContainerConfig(
                resources=resources,
                security_context=api.LinuxContainerSecurityContext(
                    namespace_options=self._namespaces)))

    def run_pod(self, case, spec):
        pod = self._new_pod(case)
        try:
            pod.sandbox_id = self.client.run_pod_sandbox(pod.sandbox_config, self.handler,
                                                         timeout=SANDBOX_TIMEOUT)
        except CriError as error:
            raise DriverError("sandbox", str(error)) from None
        with self._lock:
            self._pods[pod.sandbox_id] = pod
        pod.log_file = os.path.join(pod.log_directory, spec.name, "0.log")
        try:
            pod.container_id = self.client.create_container(
                pod.sandbox_id, self._container_config(pod, spec), pod.sandbox_config,
                timeout=CONTAINER_TIMEOUT)
        except CriError as error:
            raise DriverError("create", str(error)) from None
        try:
            self.client.start_container(pod.container_id, timeout=CONTAINER_TIMEOUT)
        except CriError as error:
            raise DriverError("start", str(error)) from None
        return pod

    def _status(self, pod):
        try:
            return self.client.container_status(pod.container_id, timeout=CONTAINER_TIMEOUT)
        except CriError as error:
            raise DriverError("status", str(error)) from None

    def container_state(self, pod):
        return _STATE_NAMES.get(self._status(pod).state, "unknown")

    def wait_running(self, pod, timeout):
        deadline = time.monotonic() + timeout
        while True:
            state = self.container_state(pod)
            if state == "running":
                return
            if state == "exited":
                raise DriverError("wait", f"container of pod {pod.name} exited instead of running")
            if time.monotonic() >= deadline:
                raise TimeoutError(f"container of pod {pod.name} not running after {timeout} s "
                                   f"(state {state})")
            time.sleep(POLL_INTERVAL)

    def wait_exit(self, pod, timeout):
        deadline = time.monotonic() + timeout
        while True:
            status = self._status(pod)
            if status.state == self.api.CONTAINER_EXITED:
                return status.exit_code
            if time.monotonic() >= deadline:
                raise TimeoutError(f"container of pod {pod.name} still "
                                   f"{_STATE_NAMES.get(status.state, 'unknown')} after {timeout} s")
            time.sleep(POLL_INTERVAL)

    def logs(self, pod):
        try:
            with open(pod.log_file, "rb") as log_file:
                data = log_file.read()
        except FileNotFoundError:
            data = b""
        return ContainerLog.parse(data)

    def exec_sync(self, pod, argv, timeout):
        try:
            reply = self.client.exec_sync(pod.container_id, argv, exec_timeout=int(timeout),
                                          timeout=timeout + 10)
        except CriError as error:
            raise DriverError("exec", str(error)) from None
        return ExecResult(exit_code=reply.exit_code, stdout=reply.stdout, stderr=reply.stderr)

    def stop_container(self, pod, grace_seconds):
        try:
            self.client.stop_container(pod.container_id, grace_seconds,
                                       timeout=grace_seconds + CONTAINER_TIMEOUT)
        except CriError as error:
            raise DriverError("stop", str(error)) from None

    def remove_pod(self, pod):
        self._remove_sandbox(pod.sandbox_id)

    def _remove_sandbox(self, sandbox_id):
        try:
            self.client.stop_pod_sandbox(sandbox_id, timeout=SANDBOX_TIMEOUT)
            self.client.remove_pod_sandbox(sandbox_id, timeout=SANDBOX_TIMEOUT)
        except CriError as error:
            raise DriverError("remove", f"pod sandbox {sandbox_id}: {error}") from None
        with self._lock:
            self._pods.pop(sandbox_id, None)

    def list_pods(self):
        try:
            items = self.client.list_pod_sandbox({RUN_LABEL: self.run_id},
                                                 timeout=CONTAINER_TIMEOUT)
        except CriError as error:
            raise DriverError("list", str(error)) from None
        return [item.id for item in items]

    def cleanup(self):
        with self._lock:
            sandbox_ids = set(self._pods)
        sandbox_ids.update(self.list_pods())
        errors = []

        def remove(sandbox_id):
            try:
                self._remove_sandbox(sandbox_id)
            except DriverError as error:
                errors.append(str(error))

        # Each removal waits for its shim; a few at once keep this short.
        with concurrent.futures.ThreadPoolExecutor(max_workers=CLEANUP_WORKERS) as pool:
            list(pool.map(remove, sorted(sandbox_ids)))
        if errors:
            raise DriverError("cleanup", "; ".join(errors))
        return sorted(sandbox_ids)

    # The node

    def node_run(self, argv, timeout):
        try:
            return subprocess.run(argv, capture_output=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise TimeoutError(f"{argv[0]} did not finish within {timeout} s") from None

    def node_processes(self):
        processes = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            process = _read_process(int(entry))
            if process is not None:
                processes.append(process)
        return processes

    def _is_runtime_shim(self, process):
        if not os.path.basename(process.exe).startswith("containerd-shim"):
            return False
        if process.env.get("REAPER_STATE_DIR") == self.reaper_state_dir:
            return True
        # containerd starts every shim with "-address <its socket>".
        for index, argument in enumerate(process.argv[:-1]):
            if argument == "-address" and process.argv[index + 1] == self.socket_path:
                return True
        return False

    def runtime_daemon_pids(self):
        return {self.containerd_pid}

    def runtime_shim_pids(self):
        return {process.pid for process in self.node_processes()
                if self._is_runtime_shim(process)}


def _read_process(pid):
    """Read one process from /proc; return None if it is gone meanwhile."""
    base = f"/proc/{pid}"
    try:
        with open(f"{base}/stat", "rb") as stat_file:
            stat = stat_file.read()
        with open(f"{base}/cmdline", "rb") as cmdline_file:
            cmdline = cmdline_file.read()
    except OSError:
        return None
    # The command name in parentheses may hold spaces and parentheses.
    fields = stat[stat.rfind(b")") + 2:].split()
    try:
        exe = os.readlink(f"{base}/exe")
    except OSError:
        exe = ""
    if exe.endswith(" (deleted)"):
        exe = exe[:-len(" (deleted)")]
    env = {}
    try:
        with open(f"{base}/environ", "rb") as environ_file:
            for item in environ_file.read().split(b"\0"):
                if item.startswith(b"REAPER_") and b"=" in item:
                    key, value = item.decode(errors="replace").split("=", 1)
                    env[key] = value
    except OSError:
        pass
    argv = [argument.decode(errors="replace") for argument in cmdline.split(b"\0")[:-1]]
    return NodeProcess(pid=pid, ppid=int(fields[1]), state=fields[0].decode(), exe=exe,
                       argv=argv, env=env)
