"""The interface between the end-to-end cases and a way of running pods.

A case (cases.py) runs pods with one container each and inspects them only
through a Driver, so the same case list can run against different setups:

- CriDriver (cri_driver.py): a private containerd's CRI plugin, called the
  way a kubelet calls it.
- A Kubernetes driver (kubectl against a kind cluster with a RuntimeClass)
  can implement the same methods: run_pod as a Pod with
  restartPolicy: Never, logs from the node's CRI log file or
  `kubectl logs`, exec_sync as `kubectl exec`, node_run as
  `docker exec <node>`.

Every method is bounded in time: it returns, or raises DriverError or
TimeoutError. None waits forever.
"""

import abc
import dataclasses
import re
from typing import Dict, List, Optional


class DriverError(Exception):
    """An operation the runtime rejected or failed.

    stage names the step that failed, for example "create" or "start" for
    run_pod.
    """

    def __init__(self, stage, message):
        super().__init__(f"{stage}: {message}")
        self.stage = stage


@dataclasses.dataclass
class ContainerSpec:
    """The one container of a pod, in the terms of a Kubernetes pod spec."""

    name: str
    command: List[str]
    args: List[str] = dataclasses.field(default_factory=list)
    env: Dict[str, str] = dataclasses.field(default_factory=dict)
    working_dir: str = ""
    # resources.linux.oom_score_adj in CRI; a kubelet derives it from the
    # pod's QoS class. None leaves it unset.
    oom_score_adj: Optional[int] = None


@dataclasses.dataclass
class ExecResult:
    exit_code: int
    stdout: bytes
    stderr: bytes


@dataclasses.dataclass
class NodeProcess:
    """A process on the node, as /proc shows it."""

    pid: int
    ppid: int
    state: str  # R, S, D, Z, ...
    exe: str  # target of /proc/PID/exe, "" when unreadable
    argv: List[str]
    env: Dict[str, str]  # only the variables whose names start with REAPER_


@dataclasses.dataclass
class LogRecord:
    """One line of a CRI log file: "<RFC3339Nano> <stream> <P|F> <content>"."""

    time: str
    stream: str  # "stdout" or "stderr"
    partial: bool  # tag P: the line continues in the next record
    content: bytes


class LogFormatError(Exception):
    pass


# The timestamp is RFC 3339 with nanoseconds, for example
# 2024-01-02T03:04:05.123456789Z or with a numeric offset.
_RECORD = re.compile(rb"^(\S+) (stdout|stderr) ([PF]) (.*)$", re.DOTALL)
_TIMESTAMP = re.compile(rb"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


@dataclasses.dataclass
class ContainerLog:
    """A container's log as containerd's CRI plugin writes it.

    Each output line is one record tagged F (full), or several records tagged
    P (partial) followed by one tagged F when the line is longer than the
    runtime's maximum record size. A last line without a newline is written
    as an F record too, so readers add a newline after every F record, as
    kubelet does for `kubectl logs`.
    """

    records: List[LogRecord]

    @classmethod
    def parse(cls, data):
        """Parse the bytes of a CRI log file; raise LogFormatError on a bad record."""
        records = []
        lines = data.split(b"\n")
        # The file ends with a newline; anything after the last one is a
        # record still being written.
        for number, line in enumerate(lines[:-1], start=1):
            match = _RECORD.match(line)
            if match is None or _TIMESTAMP.match(match.group(1)) is None:
                raise LogFormatError(f"line {number} is not a CRI log record: {line[:120]!r}")
            records.append(LogRecord(time=match.group(1).decode(),
                                     stream=match.group(2).decode(),
                                     partial=match.group(3) == b"P",
                                     content=match.group(4)))
        return cls(records)

    def output(self, stream=None):
        """Return the reassembled output of one stream, or of both in log order
        (what `kubectl logs` shows) when stream is None."""
        chunks = []
        for record in self.records:
            if stream is not None and record.stream != stream:
                continue
            chunks.append(record.content)
            if not record.partial:
                chunks.append(b"\n")
        return b"".join(chunks)

    def text(self, stream=None):
        return self.output(stream).decode(errors="replace")


class Driver(abc.ABC):
    """Runs pods of one container each and inspects them and the node.

    A pod handle is whatever run_pod returns; cases only pass it back.
    """

    # The runtime handler (RuntimeClass handler) the pods run with.
    handler: str = ""
    # True when the runtime is Reaper, whose workloads see the node's root
    # filesystem through a shared overlay. Cases about that overlay are
    # skipped for other runtimes.
    runtime_is_reaper: bool = False

    @abc.abstractmethod
    def run_pod(self, case, spec):
        """Create a pod with the container `spec` and start it.

        `case` names the calling case, for labels and pod names. Returns a
        pod handle once the container was started. Raises DriverError with
        stage "sandbox", "create" or "start" if that step failed; the pod
        is still cleaned up by cleanup().
        """

    @abc.abstractmethod
    def container_state(self, pod):
        """Return "created", "running", "exited" or "unknown"."""

    @abc.abstractmethod
    def wait_running(self, pod, timeout):
        """Wait until the container runs; raise TimeoutError if it does not."""

    @abc.abstractmethod
    def wait_exit(self, pod, timeout):
        """Wait until the container has exited and return its exit code.

        Raises TimeoutError if it is still running after `timeout` seconds.
        """

    @abc.abstractmethod
    def logs(self, pod):
        """Return the container's ContainerLog as the node stores it now."""

    @abc.abstractmethod
    def exec_sync(self, pod, argv, timeout):
        """Run argv in the running container and return an ExecResult.

        Raises DriverError if the runtime rejects the exec (an error, not a
        non-zero exit code).
        """

    @abc.abstractmethod
    def stop_container(self, pod, grace_seconds):
        """Stop the container: SIGTERM, then SIGKILL after grace_seconds.

        Returns once the runtime reports the container stopped.
        """

    @abc.abstractmethod
    def remove_pod(self, pod):
        """Stop and remove the pod and its container."""

    @abc.abstractmethod
    def list_pods(self):
        """Return the ids of the pods this driver created that the runtime
        still lists."""

    @abc.abstractmethod
    def cleanup(self):
        """Remove every pod this driver created and has not removed yet.

        Returns the ids it removed.
        """

    @abc.abstractmethod
    def node_run(self, argv, timeout):
        """Run argv on the node (outside any pod) and return a
        subprocess.CompletedProcess with bytes stdout and stderr."""

    @abc.abstractmethod
    def node_processes(self):
        """Return a NodeProcess for every process on the node."""

    @abc.abstractmethod
    def runtime_daemon_pids(self):
        """Return the set of PIDs of the container runtime's daemons on the
        node (containerd), not its shims."""

    @abc.abstractmethod
    def runtime_shim_pids(self):
        """Return the set of PIDs of the runtime's shims on the node
        (containerd-shim-*): with Reaper, its shims, and also the shims of
        other runtime handlers of the same containerd."""
