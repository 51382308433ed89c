"""End-to-end cases: pods of one container, as a Kubernetes user runs them.

Each case is a function decorated with @case that takes a Context and
raises CaseFailed (through expect) or CaseSkipped, or returns to pass. Cases
reach the runtime only through ctx.driver (driver.Driver), so another driver
can run the same list. Every wait is bounded, so a hanging runtime fails a
case instead of hanging the run.

Workloads use only sh, echo, true, sleep, cat, seq and head, the programs
of the local test image. runc runs workloads from the image's files, so the
cases also run under runc, which checks the cases themselves.
"""

import concurrent.futures
import dataclasses
import hashlib
import time
import traceback
import uuid
from typing import Callable, List

from driver import ContainerSpec, DriverError, LogFormatError

GREETING = "Hello from Reaper runtime!"
MISSING_BINARY = "/nonexistent-reaper-e2e-binary"
# Environment variable that tags a case's processes, so that host-side
# checks find them in /proc/PID/environ.
MARKER_VARIABLE = "REAPER_E2E_MARKER"

# Seconds: how long a short workload may take to exit, and how long the
# processes of a stopped workload may take to disappear from /proc.
EXIT_TIMEOUT = 30.0
PROCESS_SETTLE_TIMEOUT = 3.0

# 16384 lines of 64 bytes: exactly 1 MiB, every line different.
ONE_MIB_COMMAND = "seq -f '%06g abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123' 1 16384"
ONE_MIB = 1024 * 1024
# One line of 40,000 digits and a newline. containerd splits a line longer
# than its max_container_log_line_size (16 KiB by default) into P records.
LONG_LINE_COMMAND = "seq -s '' 1 11000 | head -c 40000; echo"
LONG_LINE_BYTES = 40000


class CaseFailed(Exception):
    pass


class CaseSkipped(Exception):
    pass


@dataclasses.dataclass
class Case:
    name: str
    function: Callable
    reaper_only: bool


CASES: List[Case] = []


def case(name, reaper_only=False):
    """Register a case. reaper_only: skipped when the runtime is not Reaper."""
    def register(function):
        CASES.append(Case(name, function, reaper_only))
        return function
    return register


def expect(condition, message):
    if not condition:
        raise CaseFailed(message)


class Context:
    """What a case gets: the driver, its own name and a detail logger."""

    def __init__(self, driver, name, verbose):
        self.driver = driver
        self.name = name
        self.verbose = verbose

    def detail(self, message):
        if self.verbose:
            for line in str(message).splitlines():
                print(f"    {line}", flush=True)

    def unique(self):
        """Return a token unique to this call, for file names and markers."""
        return f"{self.name}-{uuid.uuid4().hex[:12]}"

    def marker(self):
        """Return a new value for MARKER_VARIABLE, remembered for the final
        sweep of run_cases."""
        marker = self.unique()
        USED_MARKERS.add(marker)
        return marker

    def run(self, command, args=(), **fields):
        """Run a pod with one container named "main"; fail the case if it
        does not start."""
        spec = ContainerSpec(name="main", command=list(command), args=list(args), **fields)
        try:
            return self.driver.run_pod(self.name, spec)
        except DriverError as error:
            raise CaseFailed(f"pod did not start: {error}") from None

    def run_shell(self, script, **fields):
        return self.run(["/bin/sh", "-c", script], **fields)

    def wait_exit(self, pod, timeout=EXIT_TIMEOUT):
        try:
            return self.driver.wait_exit(pod, timeout)
        except TimeoutError as error:
            raise CaseFailed(str(error)) from None

    def wait_running(self, pod, timeout=EXIT_TIMEOUT):
        try:
            self.driver.wait_running(pod, timeout)
        except (TimeoutError, DriverError) as error:
            raise CaseFailed(str(error)) from None

    def settled_log(self, pod, timeout=5.0, quiet=0.3):
        """Return the pod's log once it has not grown for `quiet` seconds
        (the runtime may still be copying output after the exit), or after
        `timeout` seconds."""
        deadline = time.monotonic() + timeout
        log = self.driver.logs(pod)
        while time.monotonic() < deadline:
            time.sleep(quiet)
            newer = self.driver.logs(pod)
            if newer.records == log.records:
                return newer
            log = newer
        return log

    def wait_for_log(self, pod, text, timeout=EXIT_TIMEOUT):
        """Wait until the pod's log shows `text`; fail the case if it does not."""
        deadline = time.monotonic() + timeout
        while True:
            log = self.driver.logs(pod)
            if text in log.text():
                return log
            if time.monotonic() >= deadline:
                raise CaseFailed(f"log of pod {pod.name} lacks {text!r} after {timeout} s; "
                                 f"it shows {log.text()[-200:]!r}")
            time.sleep(0.05)

    def stop(self, pod, grace_seconds):
        """Stop the container and return the seconds StopContainer took."""
        start = time.monotonic()
        try:
            self.driver.stop_container(pod, grace_seconds)
        except DriverError as error:
            raise CaseFailed(str(error)) from None
        return time.monotonic() - start

    def remove(self, pod):
        try:
            self.driver.remove_pod(pod)
        except DriverError as error:
            raise CaseFailed(str(error)) from None

    def marked_processes(self, marker):
        """Return the live (not zombie) node processes tagged with marker."""
        return [process for process in self.driver.node_processes()
                if process.env.get(MARKER_VARIABLE) == marker and process.state != "Z"]

    def expect_no_marked_processes(self, marker, description, timeout=PROCESS_SETTLE_TIMEOUT):
        """Fail the case if processes tagged with marker are still there
        `timeout` seconds from now.

        Such processes are killed before the case fails, so that a failure
        leaves nothing running on the node.
        """
        deadline = time.monotonic() + timeout
        while True:
            left = self.marked_processes(marker)
            if not left:
                return
            if time.monotonic() >= deadline:
                break
            time.sleep(0.1)
        kill_processes(self.driver, left)
        raise CaseFailed(f"{description}, still running {timeout} s later (now killed): "
                         f"{describe_processes(left)}")

    def runtime_zombies(self, include_workloads=False):
        """Return the zombies whose parent is the runtime's daemon or a shim,
        or with include_workloads also any process below a shim. A workload
        may leave a zombie for a moment before it waits, so include
        workloads only when no pod runs."""
        processes = self.driver.node_processes()
        parents = self.driver.runtime_daemon_pids() | self.driver.runtime_shim_pids()
        if include_workloads:
            parents |= descendants(processes, parents)
        return [process for process in processes
                if process.state == "Z" and process.ppid in parents]

    def node_path_exists(self, path):
        result = self.driver.node_run(["test", "-e", path], timeout=10)
        return result.returncode == 0


# Every marker handed out in this run, for the final sweep of run_cases.
USED_MARKERS = set()


def kill_processes(driver, processes):
    """SIGKILL the given node processes by PID."""
    if processes:
        driver.node_run(["kill", "-KILL"] + [str(process.pid) for process in processes],
                        timeout=10)


def descendants(processes, roots):
    """Return the PIDs of all descendants of the PIDs in roots."""
    children = {}
    for process in processes:
        children.setdefault(process.ppid, []).append(process.pid)
    found = set()
    frontier = list(roots)
    while frontier:
        for child in children.get(frontier.pop(), []):
            if child not in found:
                found.add(child)
                frontier.append(child)
    return found


def describe_processes(processes):
    return "; ".join(f"{process.pid} (parent {process.ppid}, {process.state}): "
                     f"{' '.join(process.argv)}" for process in processes)


def sha256(data):
    return hashlib.sha256(data).hexdigest()


# Output and logs


@case("greeting")
def greeting(ctx):
    pod = ctx.run(["/bin/echo", GREETING])
    exit_code = ctx.wait_exit(pod)
    expect(exit_code == 0, f"exit code {exit_code}, expected 0")
    log = ctx.settled_log(pod)
    expect(log.output() == f"{GREETING}\n".encode(),
           f"log shows {log.output()!r}, expected {GREETING!r} and a newline")
    expect([record.stream for record in log.records] == ["stdout"],
           f"expected one stdout record, got {[(r.stream, r.content) for r in log.records]}")


@case("exit-code")
def exit_code_42(ctx):
    pod = ctx.run_shell("exit 42")
    exit_code = ctx.wait_exit(pod)
    expect(exit_code == 42, f"exit code {exit_code}, expected 42")


@case("stderr")
def stderr_stream(ctx):
    pod = ctx.run_shell("echo to-stdout; echo to-stderr >&2; echo more-stderr >&2")
    exit_code = ctx.wait_exit(pod)
    expect(exit_code == 0, f"exit code {exit_code}, expected 0")
    log = ctx.settled_log(pod)
    expect(log.output("stdout") == b"to-stdout\n",
           f"stdout records show {log.output('stdout')!r}, expected b'to-stdout\\n'")
    expect(log.output("stderr") == b"to-stderr\nmore-stderr\n",
           f"stderr records show {log.output('stderr')!r}, "
           "expected b'to-stderr\\nmore-stderr\\n'")


@case("output-1mib")
def output_one_mib(ctx):
    expected = ctx.driver.node_run(["/bin/sh", "-c", ONE_MIB_COMMAND], timeout=30).stdout
    expect(len(expected) == ONE_MIB,
           f"the generator printed {len(expected)} bytes on the node, expected {ONE_MIB}")
    pod = ctx.run_shell(ONE_MIB_COMMAND)
    exit_code = ctx.wait_exit(pod)
    expect(exit_code == 0, f"exit code {exit_code}, expected 0")
    # The runtime may report the exit before containerd has written the last
    # records, so wait until the log contains the whole output or stops growing.
    deadline = time.monotonic() + 15
    while True:
        output = ctx.driver.logs(pod).output("stdout")
        if len(output) >= ONE_MIB or time.monotonic() >= deadline:
            break
        time.sleep(0.1)
    output = ctx.settled_log(pod).output("stdout")
    ctx.detail(f"log contains {len(output)} of {ONE_MIB} bytes")
    if output != expected:
        common = 0
        while common < min(len(output), len(expected)) and output[common] == expected[common]:
            common += 1
        raise CaseFailed(f"log contains {len(output)} bytes (sha256 {sha256(output)[:16]}), "
                         f"expected {ONE_MIB} (sha256 {sha256(expected)[:16]}); "
                         f"{ONE_MIB - len(output)} bytes missing, first difference at byte {common}")


@case("long-line")
def long_line(ctx):
    expected = ctx.driver.node_run(["/bin/sh", "-c", LONG_LINE_COMMAND], timeout=30).stdout
    expect(len(expected) == LONG_LINE_BYTES + 1 and expected.count(b"\n") == 1,
           f"the generator printed {len(expected)} bytes on the node, "
           f"expected {LONG_LINE_BYTES} and a newline")
    pod = ctx.run_shell(LONG_LINE_COMMAND)
    exit_code = ctx.wait_exit(pod)
    expect(exit_code == 0, f"exit code {exit_code}, expected 0")
    log = ctx.settled_log(pod)
    tags = "".join("P" if record.partial else "F" for record in log.records)
    sizes = [len(record.content) for record in log.records]
    ctx.detail(f"records {tags}, sizes {sizes}")
    expect(len(log.records) >= 2 and tags == "P" * (len(tags) - 1) + "F",
           f"expected P records then one F record, got tags {tags!r} (sizes {sizes})")
    output = log.output("stdout")
    expect(output == expected,
           f"reassembled line has {len(output)} bytes (sha256 {sha256(output)[:16]}), "
           f"expected {len(expected)} (sha256 {sha256(expected)[:16]})")


@case("last-line-without-newline")
def last_line_without_newline(ctx):
    pod = ctx.run_shell("printf 'first line\\nlast line without newline'")
    exit_code = ctx.wait_exit(pod)
    expect(exit_code == 0, f"exit code {exit_code}, expected 0")
    log = ctx.settled_log(pod)
    contents = [(record.content, record.partial) for record in log.records]
    # containerd 1.6.20 writes the unterminated rest at EOF as a partial (P)
    # record, under runc too; only the contents are compared.
    expect([content for content, _ in contents] == [b"first line", b"last line without newline"],
           f"log records are {contents}, expected 'first line' and 'last line without newline'")


@case("env")
def environment(ctx):
    env = {"E2E_GREETING": "value with spaces = and equals", "E2E_SECOND": "2"}
    pod = ctx.run_shell('echo "[$E2E_GREETING]"; echo "[$E2E_SECOND]"', env=env)
    exit_code = ctx.wait_exit(pod)
    expect(exit_code == 0, f"exit code {exit_code}, expected 0")
    output = ctx.settled_log(pod).output()
    expected = b"[value with spaces = and equals]\n[2]\n"
    expect(output == expected, f"log shows {output!r}, expected {expected!r}")


@case("working-dir")
def working_dir(ctx):
    pod = ctx.run_shell("pwd", working_dir="/tmp")
    exit_code = ctx.wait_exit(pod)
    expect(exit_code == 0, f"exit code {exit_code}, expected 0")
    output = ctx.settled_log(pod).output()
    expect(output == b"/tmp\n", f"pwd printed {output!r}, expected b'/tmp\\n'")


@case("command-not-found")
def command_not_found(ctx):
    spec = ContainerSpec(name="main", command=[MISSING_BINARY])
    start = time.monotonic()
    try:
        pod = ctx.driver.run_pod(ctx.name, spec)
    except DriverError as error:
        elapsed = time.monotonic() - start
        ctx.detail(f"rejected after {elapsed:.1f} s: {error}")
        expect(error.stage in ("create", "start"),
               f"expected CreateContainer or StartContainer to fail, but {error}")
        expect(MISSING_BINARY in str(error), f"the error does not name {MISSING_BINARY}: {error}")
        return
    state = ctx.driver.container_state(pod)
    raise CaseFailed(f"the container of {MISSING_BINARY} was created and started "
                     f"(state {state}) instead of failing")


# Stopping


@case("sigterm-trap")
def sigterm_trap(ctx):
    pod = ctx.run_shell("trap 'echo got TERM; exit 0' TERM; echo ready; "
                        "while :; do sleep 0.2; done")
    ctx.wait_for_log(pod, "ready")
    elapsed = ctx.stop(pod, 10)
    ctx.detail(f"StopContainer took {elapsed:.2f} s")
    exit_code = ctx.wait_exit(pod, 5)
    log = ctx.settled_log(pod)
    expect("got TERM" in log.text(), f"the trap's output is not in the log: {log.text()!r}")
    expect(exit_code == 0, f"exit code {exit_code}, expected 0 from the trap")
    expect(elapsed < 5, f"StopContainer took {elapsed:.1f} s for a workload that exits on TERM")


@case("sigterm-default")
def sigterm_default(ctx):
    pod = ctx.run_shell("echo ready; while :; do sleep 0.2; done")
    ctx.wait_for_log(pod, "ready")
    elapsed = ctx.stop(pod, 10)
    exit_code = ctx.wait_exit(pod, 5)
    ctx.detail(f"StopContainer took {elapsed:.2f} s, exit code {exit_code}")
    expect(exit_code == 143, f"exit code {exit_code}, expected 143 (SIGTERM)")
    expect(elapsed < 5, f"StopContainer took {elapsed:.1f} s for a workload that dies of TERM")


@case("sigkill-after-grace")
def sigkill_after_grace(ctx):
    grace = 2
    # An ignored signal stays ignored across exec, so sleep ignores TERM too.
    pod = ctx.run_shell("trap '' TERM; echo ready; while :; do sleep 0.2; done")
    ctx.wait_for_log(pod, "ready")
    elapsed = ctx.stop(pod, grace)
    exit_code = ctx.wait_exit(pod, 5)
    ctx.detail(f"StopContainer took {elapsed:.2f} s, exit code {exit_code}")
    expect(exit_code == 137, f"exit code {exit_code}, expected 137 (SIGKILL)")
    expect(elapsed >= grace - 0.1,
           f"StopContainer returned after {elapsed:.2f} s, before the {grace} s grace period")
    expect(elapsed < grace + 8, f"StopContainer took {elapsed:.1f} s with a {grace} s grace period")


@case("process-group-kill")
def process_group_kill(ctx):
    marker = ctx.marker()
    pod = ctx.run_shell("sleep 1001 & sleep 1001 & echo ready; wait",
                        env={MARKER_VARIABLE: marker})
    ctx.wait_for_log(pod, "ready")
    running = ctx.marked_processes(marker)
    sleeps = [process for process in running if process.argv == ["sleep", "1001"]]
    ctx.detail(f"before the stop: {describe_processes(running)}")
    expect(len(sleeps) == 2,
           f"expected 2 'sleep 1001' processes before the stop, found {describe_processes(running)}")
    elapsed = ctx.stop(pod, 5)
    ctx.detail(f"StopContainer took {elapsed:.2f} s")
    ctx.expect_no_marked_processes(marker, "processes of the container outlived StopContainer")
    expect(ctx.driver.container_state(pod) == "exited",
           f"container is {ctx.driver.container_state(pod)} after StopContainer")


@case("held-stdout")
def held_stdout(ctx):
    marker = ctx.marker()
    start = time.monotonic()
    pod = ctx.run_shell("sleep 300 & echo started", env={MARKER_VARIABLE: marker})
    try:
        exit_code = ctx.driver.wait_exit(pod, 5)
    except TimeoutError:
        left = ctx.marked_processes(marker)
        raise CaseFailed("the container is not reported EXITED 5 s after its main process "
                         "exited while a background child holds its stdout; "
                         f"processes: {describe_processes(left)}") from None
    elapsed = time.monotonic() - start
    ctx.detail(f"EXITED {elapsed:.2f} s after the start, exit code {exit_code}")
    expect(exit_code == 0, f"exit code {exit_code}, expected 0")
    log = ctx.settled_log(pod)
    expect("started" in log.text(), f"log lacks 'started': {log.text()!r}")
    ctx.remove(pod)
    ctx.expect_no_marked_processes(marker, "the background child outlived the removed pod")


@case("escaped-daemon", reaper_only=True)
def escaped_daemon(ctx):
    # setsid puts the daemon in its own session, out of reach of the
    # signals to the workload's process group; removing the pod still ends
    # it. Reaper only: runc's image has no setsid, and runc's pods keep such
    # a daemon in their cgroup and PID namespace instead.
    marker = ctx.marker()
    pod = ctx.run_shell("setsid sleep 1002 </dev/null >/dev/null 2>&1 & echo started; "
                        "exec sleep 1000", env={MARKER_VARIABLE: marker})
    ctx.wait_running(pod)
    deadline = time.monotonic() + 5
    while not any("1002" in process.argv for process in ctx.marked_processes(marker)):
        expect(time.monotonic() < deadline, "the daemon did not appear within 5 s")
        time.sleep(0.05)
    ctx.remove(pod)
    ctx.expect_no_marked_processes(marker, "the daemon outlived the removed pod")


# Exec


@case("exec-sync")
def exec_sync(ctx):
    pod = ctx.run_shell("echo ready; exec sleep 1000")
    ctx.wait_running(pod)
    try:
        result = ctx.driver.exec_sync(
            pod, ["/bin/sh", "-c", "echo exec-out; echo exec-err >&2; exit 7"], timeout=20)
    except DriverError as error:
        raise CaseFailed(str(error)) from None
    expect(result.exit_code == 7, f"exit code {result.exit_code}, expected 7")
    expect(result.stdout == b"exec-out\n", f"stdout {result.stdout!r}, expected b'exec-out\\n'")
    expect(result.stderr == b"exec-err\n", f"stderr {result.stderr!r}, expected b'exec-err\\n'")
    expect(ctx.driver.container_state(pod) == "running",
           f"the container is {ctx.driver.container_state(pod)} after the exec")


@case("exec-missing-binary")
def exec_missing_binary(ctx):
    pod = ctx.run_shell("exec sleep 1000")
    ctx.wait_running(pod)
    start = time.monotonic()
    try:
        result = ctx.driver.exec_sync(pod, [MISSING_BINARY], timeout=20)
    except DriverError as error:
        ctx.detail(f"rejected after {time.monotonic() - start:.1f} s: {error}")
    else:
        ctx.detail(f"exit code {result.exit_code} after {time.monotonic() - start:.1f} s, "
                   f"stderr {result.stderr!r}")
        expect(result.exit_code != 0, "the exec of a missing binary returned exit code 0")
    expect(ctx.driver.container_state(pod) == "running",
           f"the container is {ctx.driver.container_state(pod)} after the failed exec")


@case("exec-exited-container")
def exec_exited_container(ctx):
    pod = ctx.run(["/bin/true"])
    exit_code = ctx.wait_exit(pod)
    expect(exit_code == 0, f"exit code {exit_code}, expected 0")
    try:
        result = ctx.driver.exec_sync(pod, ["/bin/echo", "should not run"], timeout=20)
    except DriverError as error:
        ctx.detail(f"rejected: {error}")
        return
    raise CaseFailed(f"exec into an exited container returned exit code {result.exit_code}, "
                     f"stdout {result.stdout!r} instead of an error")


# Several pods


@case("parallel-pods")
def parallel_pods(ctx):
    count = 10

    def run_one(index):
        pod = ctx.run(["/bin/echo", f"pod-{index}"])
        return pod, ctx.wait_exit(pod, 60)

    with concurrent.futures.ThreadPoolExecutor(max_workers=count) as pool:
        results = list(pool.map(run_one, range(count)))
    for index, (pod, exit_code) in enumerate(results):
        expect(exit_code == 0, f"pod {index} exited with {exit_code}, expected 0")
        output = ctx.settled_log(pod, quiet=0.1).output()
        expect(output == f"pod-{index}\n".encode(),
               f"pod {index} logged {output!r}, expected 'pod-{index}'")


@case("one-shim-per-pod")
def one_shim_per_pod(ctx):
    # Each pod's sandbox and container share one shim: the start of the
    # container returns the address of the shim its sandbox started.
    marker = ctx.marker()
    before = set(ctx.driver.runtime_shim_pids())
    pods = [ctx.run(["/bin/sleep", "1000"], env={MARKER_VARIABLE: marker}) for _ in range(2)]
    for pod in pods:
        ctx.wait_running(pod)
    shims = set(ctx.driver.runtime_shim_pids()) - before
    ctx.detail(f"shims of the two pods: {sorted(shims)}")
    expect(len(shims) == 2, f"{len(shims)} new shims for 2 running pods, expected 2")
    for pod in pods:
        ctx.remove(pod)
    ctx.expect_no_marked_processes(marker, "workloads outlived their removed pods")


@case("create-delete-cycles")
def create_delete_cycles(ctx):
    marker = ctx.marker()
    for cycle in range(5):
        start = time.monotonic()
        pod = ctx.run(["/bin/sleep", "1000"], env={MARKER_VARIABLE: marker})
        ctx.wait_running(pod)
        ctx.remove(pod)
        ctx.detail(f"cycle {cycle}: {time.monotonic() - start:.2f} s")
    left_pods = ctx.driver.list_pods()
    expect(not left_pods, f"pods still listed after removal: {left_pods}")
    ctx.expect_no_marked_processes(marker, "workloads outlived their removed pods")


@case("oom-score-adj")
def oom_score_adj(ctx):
    pod = ctx.run(["/bin/cat", "/proc/self/oom_score_adj"], oom_score_adj=500)
    exit_code = ctx.wait_exit(pod)
    output = ctx.settled_log(pod).text().strip()
    ctx.detail(f"oom_score_adj in the container: {output!r}")
    expect(exit_code == 0, f"exit code {exit_code}, expected 0")
    expect(output.lstrip("-").isdigit(), f"cat printed {output!r}, expected a number")


# Reaper's shared overlay


@case("opt-shared-between-pods", reaper_only=True)
def opt_shared_between_pods(ctx):
    token = ctx.unique()
    path = f"/opt/reaper-e2e-{token}"
    writer = ctx.run_shell(f"echo {token} > {path}")
    exit_code = ctx.wait_exit(writer)
    expect(exit_code == 0, f"the writer exited with {exit_code}: "
                           f"{ctx.settled_log(writer).text()!r}")
    reader = ctx.run(["/bin/cat", path])
    exit_code = ctx.wait_exit(reader)
    output = ctx.settled_log(reader).output()
    expect(exit_code == 0, f"the reader exited with {exit_code}: {output!r}")
    expect(output == f"{token}\n".encode(),
           f"the second pod read {output!r} from {path}, expected {token!r}")
    expect(not ctx.node_path_exists(path), f"{path} reached the node's filesystem")


@case("etc-write-isolated", reaper_only=True)
def etc_write_isolated(ctx):
    token = ctx.unique()
    path = f"/etc/reaper-e2e-{token}"
    pod = ctx.run_shell(f"echo {token} > {path} && cat {path}")
    exit_code = ctx.wait_exit(pod)
    output = ctx.settled_log(pod).output()
    expect(exit_code == 0, f"exit code {exit_code}: {output!r}")
    expect(output == f"{token}\n".encode(), f"the pod read back {output!r}, expected {token!r}")
    expect(not ctx.node_path_exists(path), f"{path} reached the node's filesystem")


# Leftovers; these run last.


@case("orphans-reaped")
def orphans_reaped(ctx):
    # Each subshell starts a sleep in the background and exits, so the sleeps
    # are reparented to the nearest subreaper: Reaper's shim.
    pod = ctx.run_shell("for i in 1 2 3; do (sleep 0.2 &); done; echo spawned; sleep 3")
    ctx.wait_for_log(pod, "spawned")
    time.sleep(1.0)
    zombies = ctx.runtime_zombies()
    expect(not zombies, f"zombies of the runtime while the pod runs: {describe_processes(zombies)}")
    exit_code = ctx.wait_exit(pod)
    expect(exit_code == 0, f"exit code {exit_code}, expected 0")


@case("no-zombies")
def no_zombies(ctx):
    removed = ctx.driver.cleanup()
    ctx.detail(f"removed before the check: {removed or 'nothing'}")
    zombies = ctx.runtime_zombies(include_workloads=True)
    expect(not zombies, f"zombies below containerd or its shims: "
                        f"{describe_processes(zombies)}")


@case("no-shim-left")
def no_shim_left(ctx):
    ctx.driver.cleanup()
    left_pods = ctx.driver.list_pods()
    expect(not left_pods, f"pods still listed: {left_pods}")
    deadline = time.monotonic() + 5
    while True:
        shims = ctx.driver.runtime_shim_pids()
        if not shims or time.monotonic() >= deadline:
            break
        time.sleep(0.1)
    processes = [process for process in ctx.driver.node_processes() if process.pid in shims]
    expect(not processes, f"shims still running 5 s after every pod was removed: "
                          f"{describe_processes(processes)}")


@case("no-workload-left")
def no_workload_left(ctx):
    # The cases that tag processes check them and kill what they find, but a
    # process may have appeared after such a check.
    left = [process for process in ctx.driver.node_processes()
            if process.env.get(MARKER_VARIABLE) in USED_MARKERS and process.state != "Z"]
    kill_processes(ctx.driver, left)
    expect(not left, f"workloads of this run outlived their pods (now killed): "
                     f"{describe_processes(left)}")


def run_cases(driver, selected=None, verbose=False, name_prefix="", report=print):
    """Run the cases (all, or those named in `selected`) in order.

    Calls report(line) with "PASS name", "FAIL name: reason" or
    "SKIP name: reason" for each, and returns (passed, failed, skipped).
    After each case, whatever pods it left are removed.
    """
    known = {entry.name for entry in CASES}
    unknown = sorted(set(selected or ()) - known)
    if unknown:
        raise ValueError(f"unknown case names: {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    passed = failed = skipped = 0
    for entry in CASES:
        if selected and entry.name not in selected:
            continue
        name = name_prefix + entry.name
        ctx = Context(driver, entry.name, verbose)
        start = time.monotonic()
        try:
            if entry.reaper_only and not driver.runtime_is_reaper:
                raise CaseSkipped(f"only for Reaper; the handler is {driver.handler}")
            entry.function(ctx)
        except CaseSkipped as skip:
            report(f"SKIP {name}: {skip}")
            skipped += 1
        except CaseFailed as failure:
            report(f"FAIL {name}: {failure}")
            failed += 1
        except (DriverError, LogFormatError, TimeoutError, OSError) as error:
            report(f"FAIL {name}: {type(error).__name__}: {error}")
            failed += 1
        except Exception as error:  # noqa: BLE001 - one broken case must not end the run
            report(f"FAIL {name}: unexpected {type(error).__name__}: {error}")
            ctx.detail(traceback.format_exc())
            failed += 1
        else:
            report(f"PASS {name}")
            passed += 1
        ctx.detail(f"took {time.monotonic() - start:.2f} s")
        try:
            removed = driver.cleanup()
        except (DriverError, TimeoutError, OSError) as error:
            ctx.detail(f"cleanup failed: {error}")
        else:
            if removed:
                ctx.detail(f"removed {len(removed)} pods left by the case")
    # When a case that tags processes was not followed by no-workload-left
    # (a run of selected cases), kill what it left here.
    left = [process for process in driver.node_processes()
            if process.env.get(MARKER_VARIABLE) in USED_MARKERS and process.state != "Z"]
    if left:
        Context(driver, "final-sweep", verbose).detail(
            f"killing processes of this run left on the node: {describe_processes(left)}")
        kill_processes(driver, left)
    return passed, failed, skipped
