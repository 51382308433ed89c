#!/usr/bin/python3
"""Rootless checks of kubectl_driver.py, without a cluster.

kubectl and docker are replaced by small fake programs (written to a
temporary directory) that record their arguments and play a pod's life from
a scenario file. The fake docker runs `docker exec NODE COMMAND...` on this
machine, so the /proc reader and node_run are checked against the real
/proc. Run: /usr/bin/python3 tests/e2e/kubectl_driver_test.py
"""

import json
import os
import shutil
import subprocess
import sys
import signal
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import kubectl_driver  # noqa: E402
from driver import ContainerSpec, DriverError  # noqa: E402

FAKE_KUBECTL = r'''#!/usr/bin/python3
import json, os, sys, uuid

state = os.environ["FAKE_STATE"]
argv = sys.argv[1:]
args = argv[2:] if argv[:1] == ["--context"] else argv
reads_stdin = "-f" in args and args[args.index("-f") + 1] == "-"
stdin = sys.stdin.read() if reads_stdin else ""
with open(os.path.join(state, "calls.jsonl"), "a") as calls:
    calls.write(json.dumps({"tool": "kubectl", "argv": argv, "stdin": stdin}) + "\n")
with open(os.path.join(state, "scenario.json")) as scenario_file:
    scenario = json.load(scenario_file)
pods = os.path.join(state, "pods")
os.makedirs(pods, exist_ok=True)


def option(name):
    for index, argument in enumerate(args):
        if argument == name:
            return args[index + 1]
        if argument.startswith(name + "="):
            return argument.split("=", 1)[1]
    return None


def load_pods():
    result = []
    for entry in sorted(os.listdir(pods)):
        with open(os.path.join(pods, entry)) as pod_file:
            result.append(json.load(pod_file))
    return result


def save(pod):
    with open(os.path.join(pods, pod["metadata"]["name"]), "w") as pod_file:
        json.dump(pod, pod_file)


def with_status(pod):
    case = pod["metadata"]["labels"]["reaper-e2e/case"]
    states = scenario.get("states", {}).get(case, [{"running": {}}])
    state = states[min(pod["step"], len(states) - 1)]
    container_id = "c" + pod["metadata"]["uid"].replace("-", "")
    if os.path.exists(os.path.join(state_dir_stopped, container_id)):
        state = {"terminated": {"exitCode": 143, "reason": "Error"}}
    status = {"phase": "Running"}
    if state:
        status["containerStatuses"] = [{
            "name": pod["spec"]["containers"][0]["name"],
            "containerID": "containerd://" + container_id,
            "state": state}]
    else:
        status["phase"] = scenario.get("pending_phase", "Pending")
    pod_with_status = dict(pod)
    pod_with_status["status"] = status
    return pod_with_status


state_dir_stopped = os.path.join(state, "stopped")
verb = args[0]
if verb == "create" and args[1] == "-f":
    pod = json.loads(stdin)
    pod["metadata"]["uid"] = str(uuid.uuid4())
    pod["step"] = 0
    save(pod)
    print(json.dumps(pod))
elif verb == "create":
    pass
elif verb == "get" and args[1] == "pods":
    selector = option("-l")
    key, value = selector.split("=", 1)
    items = []
    for pod in load_pods():
        if pod["metadata"]["labels"].get(key) == value:
            items.append(with_status(pod))
            pod["step"] += 1
            save(pod)
    print(json.dumps({"items": items}))
elif verb == "get" and args[1] == "events":
    fields = dict(item.split("=", 1) for item in option("--field-selector").split(","))
    items = []
    for pod in load_pods():
        if pod["metadata"]["name"] == fields["involvedObject.name"]:
            case = pod["metadata"]["labels"]["reaper-e2e/case"]
            items = [{"reason": fields["reason"], "message": message}
                     for message in scenario.get("events", {}).get(case, [])]
    print(json.dumps({"items": items}))
elif verb == "get":
    if args[1] in scenario.get("missing", []):
        sys.stderr.write(f'Error from server (NotFound): {args[1]} "{args[2]}" not found\n')
        sys.exit(1)
elif verb == "delete":
    selector = option("-l")
    for pod in load_pods():
        name = pod["metadata"]["name"]
        if selector is not None:
            key, value = selector.split("=", 1)
            if pod["metadata"]["labels"].get(key) != value:
                continue
        elif name not in args:
            continue
        os.remove(os.path.join(pods, name))
elif verb == "exec":
    reply = scenario["exec"]
    if "kubectl_error" in reply:
        sys.stderr.write("error: " + reply["kubectl_error"] + "\n")
        sys.exit(1)
    sys.stdout.write(reply["stdout"])
    sys.stderr.write(reply["stderr"])
    if reply["code"] != 0:
        sys.stderr.write(f"command terminated with exit code {reply['code']}\n")
    sys.exit(reply["code"])
else:
    sys.stderr.write(f"fake kubectl: unexpected arguments {argv}\n")
    sys.exit(2)
'''

FAKE_DOCKER = r'''#!/usr/bin/python3
import json, os, sys

state = os.environ["FAKE_STATE"]
argv = sys.argv[1:]
with open(os.path.join(state, "calls.jsonl"), "a") as calls:
    calls.write(json.dumps({"tool": "docker", "argv": argv}) + "\n")
if argv[0] != "exec" or argv[1] != "node-1":
    sys.stderr.write(f"fake docker: unexpected arguments {argv}\n")
    sys.exit(2)
command = argv[2:]
if command[0] != "crictl":
    os.execvp(command[0], command)
with open(os.path.join(state, "scenario.json")) as scenario_file:
    scenario = json.load(scenario_file)
crictl = command[3:]  # after --runtime-endpoint ENDPOINT
if crictl[:2] == ["--timeout", "30s"]:
    crictl = crictl[2:]
if crictl[0] == "stop":
    os.makedirs(os.path.join(state, "stopped"), exist_ok=True)
    open(os.path.join(state, "stopped", crictl[-1]), "w").close()
elif crictl[0] == "pods":
    print("\n".join(scenario.get("sandboxes", [])))
elif crictl[0] == "inspecti":
    if scenario.get("image_missing"):
        sys.stderr.write("no such image\n")
        sys.exit(1)
else:
    sys.stderr.write(f"fake crictl: unexpected arguments {crictl}\n")
    sys.exit(2)
'''


class FakeClusterTest(unittest.TestCase):
    """A KubectlDriver against the fake kubectl and docker."""

    def setUp(self):
        self.directory = tempfile.mkdtemp(prefix="kubectl-driver-test.")
        self.state = os.path.join(self.directory, "state")
        os.mkdir(self.state)
        self.kubectl = self._write_tool("kubectl", FAKE_KUBECTL)
        self.docker = self._write_tool("docker", FAKE_DOCKER)
        os.environ["FAKE_STATE"] = self.state
        self.set_scenario({})
        self.log_root = os.path.join(self.directory, "pods")
        self.saved_log_root = kubectl_driver.POD_LOG_ROOT
        kubectl_driver.POD_LOG_ROOT = self.log_root
        self.driver = kubectl_driver.KubectlDriver(
            "reaper-v2", "node-1", "localhost/reaper-test:1",
            kubectl=[self.kubectl, "--context", "kind-test"], docker=[self.docker])

    def tearDown(self):
        kubectl_driver.POD_LOG_ROOT = self.saved_log_root
        shutil.rmtree(self.directory)

    def _write_tool(self, name, text):
        path = os.path.join(self.directory, name)
        with open(path, "w") as tool:
            tool.write(text)
        os.chmod(path, 0o755)
        return path

    def set_scenario(self, scenario):
        with open(os.path.join(self.state, "scenario.json"), "w") as scenario_file:
            json.dump(scenario, scenario_file)

    def calls(self, tool):
        with open(os.path.join(self.state, "calls.jsonl")) as calls:
            return [call for call in map(json.loads, calls) if call["tool"] == tool]

    def created_manifest(self):
        creates = [call for call in self.calls("kubectl") if call["argv"][2] == "create"]
        self.assertEqual(len(creates), 1)
        return json.loads(creates[0]["stdin"])

    def test_run_pod_sends_pod_manifest(self):
        spec = ContainerSpec(name="main", command=["/bin/sh", "-c", "echo $HOME $(date)"],
                             args=["x"], env={"A": "$(B)"}, working_dir="/tmp")
        pod = self.driver.run_pod("greeting", spec)
        manifest = self.created_manifest()
        self.assertEqual(manifest["metadata"]["namespace"], "reaper-e2e")
        self.assertEqual(manifest["metadata"]["labels"],
                         {"reaper-e2e/run": self.driver.run_id, "reaper-e2e/case": "greeting"})
        self.assertEqual(manifest["spec"]["runtimeClassName"], "reaper-v2")
        self.assertEqual(manifest["spec"]["nodeName"], "node-1")
        self.assertIs(manifest["spec"]["hostNetwork"], True)
        self.assertEqual(manifest["spec"]["restartPolicy"], "Never")
        container = manifest["spec"]["containers"][0]
        self.assertEqual(container["imagePullPolicy"], "Never")
        self.assertEqual(container["command"], ["/bin/sh", "-c", "echo $$HOME $$(date)"])
        self.assertEqual(container["args"], ["x"])
        self.assertEqual(container["env"], [{"name": "A", "value": "$$(B)"}])
        self.assertEqual(container["workingDir"], "/tmp")
        self.assertTrue(pod.name.startswith("greeting-"))
        self.assertTrue(pod.uid)
        self.assertTrue(pod.container_id.startswith("c"))

    def test_run_pod_waits_until_running(self):
        self.set_scenario({"states": {"wait": [{"waiting": {"reason": "ContainerCreating"}}, {},
                                               {"waiting": {"reason": "ContainerCreating"}},
                                               {"running": {}}]}})
        pod = self.driver.run_pod("wait", ContainerSpec(name="main", command=["/bin/true"]))
        self.assertEqual(self.driver.container_state(pod), "running")
        listings = [call for call in self.calls("kubectl") if call["argv"][2:4] == ["get", "pods"]]
        self.assertGreaterEqual(len(listings), 4)

    def test_start_error_raises_start_stage(self):
        message = 'exec: "/nonexistent-reaper-e2e-binary": no such file or directory'
        self.set_scenario({"states": {"missing": [
            {"terminated": {"exitCode": 128, "reason": "StartError", "message": message}}]}})
        with self.assertRaises(DriverError) as raised:
            self.driver.run_pod("missing", ContainerSpec(name="main", command=["/x"]))
        self.assertEqual(raised.exception.stage, "start")
        self.assertIn("/nonexistent-reaper-e2e-binary", str(raised.exception))
        # The failed pod is still removed by cleanup().
        removed = self.driver.cleanup()
        self.assertEqual(len(removed), 1)
        self.assertTrue(removed[0].startswith("missing-"))

    def test_create_error_raises_create_stage(self):
        self.set_scenario({"states": {"create": [
            {"waiting": {"reason": "CreateContainerError", "message": "bad mount"}}]}})
        with self.assertRaises(DriverError) as raised:
            self.driver.run_pod("create", ContainerSpec(name="main", command=["/x"]))
        self.assertEqual(raised.exception.stage, "create")
        self.assertIn("bad mount", str(raised.exception))

    def test_sandbox_event_raises_sandbox_stage(self):
        self.set_scenario({"states": {"sandbox": [{}]},
                           "events": {"sandbox": ["failed to create shim task: boom"]}})
        saved = kubectl_driver.EVENT_CHECK_INTERVAL
        kubectl_driver.EVENT_CHECK_INTERVAL = 0.0
        try:
            with self.assertRaises(DriverError) as raised:
                self.driver.run_pod("sandbox", ContainerSpec(name="main", command=["/x"]))
        finally:
            kubectl_driver.EVENT_CHECK_INTERVAL = saved
        self.assertEqual(raised.exception.stage, "sandbox")
        self.assertIn("boom", str(raised.exception))

    def test_rejected_pod_raises_sandbox_stage(self):
        self.set_scenario({"states": {"rejected": [{}]}, "pending_phase": "Failed"})
        with self.assertRaises(DriverError) as raised:
            self.driver.run_pod("rejected", ContainerSpec(name="main", command=["/x"]))
        self.assertEqual(raised.exception.stage, "sandbox")

    def test_wait_exit_returns_exit_code(self):
        self.set_scenario({"states": {"exit": [{"running": {}}, {"running": {}},
                                               {"terminated": {"exitCode": 42}}]}})
        pod = self.driver.run_pod("exit", ContainerSpec(name="main", command=["/bin/true"]))
        self.assertEqual(self.driver.wait_exit(pod, 10), 42)
        self.assertEqual(self.driver.container_state(pod), "exited")

    def test_wait_exit_times_out(self):
        pod = self.driver.run_pod("sleep", ContainerSpec(name="main", command=["/bin/true"]))
        start = time.monotonic()
        with self.assertRaises(TimeoutError):
            self.driver.wait_exit(pod, 0.5)
        self.assertLess(time.monotonic() - start, 10)

    def test_wait_exit_on_deleted_pod_raises(self):
        pod = self.driver.run_pod("gone", ContainerSpec(name="main", command=["/bin/true"]))
        os.remove(os.path.join(self.state, "pods", pod.name))
        with self.assertRaises(DriverError) as raised:
            self.driver.wait_exit(pod, 30)
        self.assertEqual(raised.exception.stage, "status")
        self.assertEqual(self.driver.container_state(pod), "unknown")

    def test_stop_container_uses_crictl_and_waits(self):
        pod = self.driver.run_pod("stop", ContainerSpec(name="main", command=["/bin/true"]))
        self.driver.stop_container(pod, 7)
        stops = [call["argv"] for call in self.calls("docker") if "stop" in call["argv"]]
        self.assertEqual(stops, [["exec", "node-1", "crictl", "--runtime-endpoint",
                                  kubectl_driver.CRI_ENDPOINT, "--timeout", "30s", "stop",
                                  "--timeout", "7", pod.container_id]])
        self.assertEqual(self.driver.container_state(pod), "exited")
        self.assertEqual(self.driver.wait_exit(pod, 1), 143)

    def test_exec_sync_strips_kubectl_exit_line(self):
        self.set_scenario({"exec": {"stdout": "exec-out\n", "stderr": "exec-err\n", "code": 7}})
        pod = self.driver.run_pod("exec", ContainerSpec(name="main", command=["/bin/true"]))
        result = self.driver.exec_sync(pod, ["/bin/sh", "-c", "exit 7"], timeout=5)
        self.assertEqual(result.exit_code, 7)
        self.assertEqual(result.stdout, b"exec-out\n")
        self.assertEqual(result.stderr, b"exec-err\n")
        execs = [call["argv"] for call in self.calls("kubectl") if call["argv"][2] == "exec"]
        self.assertEqual(execs, [["--context", "kind-test", "exec", pod.name, "-n", "reaper-e2e",
                                  "-c", "main", "--", "/bin/sh", "-c", "exit 7"]])

    def test_exec_sync_kubectl_error_raises(self):
        self.set_scenario({"exec": {"kubectl_error": "cannot exec into a container in a "
                                                     "completed pod; current phase is Succeeded"}})
        pod = self.driver.run_pod("exec", ContainerSpec(name="main", command=["/bin/true"]))
        with self.assertRaises(DriverError) as raised:
            self.driver.exec_sync(pod, ["/bin/echo"], timeout=5)
        self.assertEqual(raised.exception.stage, "exec")
        self.assertIn("completed pod", str(raised.exception))

    def test_logs_reads_node_log_file(self):
        pod = self.driver.run_pod("logs", ContainerSpec(name="main", command=["/bin/true"]))
        self.assertEqual(self.driver.logs(pod).records, [])
        path = self.driver.log_path(pod)
        self.assertEqual(path, f"{self.log_root}/reaper-e2e_{pod.name}_{pod.uid}/main/0.log")
        os.makedirs(os.path.dirname(path))
        with open(path, "wb") as log_file:
            log_file.write(b"2024-01-02T03:04:05.123456789Z stdout P abc\n"
                           b"2024-01-02T03:04:05.123456789Z stdout F def\n"
                           b"2024-01-02T03:04:05.123456789Z stderr F err\n")
        log = self.driver.logs(pod)
        self.assertEqual(log.output("stdout"), b"abcdef\n")
        self.assertEqual(log.output("stderr"), b"err\n")

    def test_logs_bad_record_raises(self):
        pod = self.driver.run_pod("logs", ContainerSpec(name="main", command=["/bin/true"]))
        path = self.driver.log_path(pod)
        os.makedirs(os.path.dirname(path))
        with open(path, "wb") as log_file:
            log_file.write(b"not a record\n")
        with self.assertRaises(DriverError) as raised:
            self.driver.logs(pod)
        self.assertEqual(raised.exception.stage, "logs")

    def test_remove_and_cleanup_delete_pods(self):
        first = self.driver.run_pod("a", ContainerSpec(name="main", command=["/bin/true"]))
        second = self.driver.run_pod("b", ContainerSpec(name="main", command=["/bin/true"]))
        self.assertEqual(self.driver.list_pods(), sorted([first.name, second.name]))
        self.driver.remove_pod(first)
        self.assertEqual(self.driver.list_pods(), [second.name])
        self.assertEqual(self.driver.cleanup(), [second.name])
        self.assertEqual(self.driver.list_pods(), [])
        self.assertEqual(self.driver.cleanup(), [])
        deletes = [call["argv"] for call in self.calls("kubectl") if call["argv"][2] == "delete"]
        self.assertIn("--grace-period=1", deletes[0])
        self.assertEqual(deletes[0][-1], first.name)
        self.assertEqual(deletes[1][-2:], ["-l", f"reaper-e2e/run={self.driver.run_id}"])
        self.assertEqual(len(deletes), 2)

    def test_prepare_reports_missing_runtime_class(self):
        self.set_scenario({"missing": ["runtimeclass"]})
        with self.assertRaises(DriverError) as raised:
            self.driver.prepare()
        self.assertIn("RuntimeClass reaper-v2 not found", str(raised.exception))

    def test_prepare_reports_missing_image(self):
        self.set_scenario({"image_missing": True})
        with self.assertRaises(DriverError) as raised:
            self.driver.prepare()
        self.assertIn("image localhost/reaper-test:1 not found", str(raised.exception))

    def test_prepare_succeeds(self):
        self.driver.prepare()
        kubectl_verbs = [call["argv"][2:4] for call in self.calls("kubectl")]
        self.assertIn(["get", "namespace"], kubectl_verbs)
        self.assertIn(["get", "serviceaccount"], kubectl_verbs)

    def test_node_run_runs_shell_builtins(self):
        result = self.driver.node_run(["kill", "-0", str(os.getpid())], timeout=10)
        self.assertEqual(result.returncode, 0)
        self.assertEqual(result.args, ["kill", "-0", str(os.getpid())])
        result = self.driver.node_run(["test", "-e", "/nonexistent-reaper-path"], timeout=10)
        self.assertEqual(result.returncode, 1)
        result = self.driver.node_run(["/bin/sh", "-c", "echo a; echo b >&2; exit 3"], timeout=10)
        self.assertEqual((result.returncode, result.stdout, result.stderr), (3, b"a\n", b"b\n"))

    def test_node_run_times_out(self):
        with self.assertRaises(TimeoutError):
            self.driver.node_run(["sleep", "5"], timeout=0.5)

    def test_node_processes_reads_proc(self):
        # A program whose name has a space and a parenthesis, as /proc/PID/stat
        # shows it in parentheses.
        program = os.path.join(self.directory, "odd) name")
        shutil.copy("/bin/sleep", program)
        child = subprocess.Popen([program, "30"], env={"REAPER_E2E_MARKER": "m1", "OTHER": "x"})
        try:
            processes = {process.pid: process for process in self.driver.node_processes()}
        finally:
            child.kill()
            child.wait()
        self.assertIn(child.pid, processes)
        found = processes[child.pid]
        self.assertEqual(found.ppid, os.getpid())
        self.assertEqual(found.argv, [program, "30"])
        self.assertEqual(found.exe, program)
        self.assertEqual(found.env, {"REAPER_E2E_MARKER": "m1"})
        self.assertIn(found.state, ("S", "R"))
        self.assertIn(os.getpid(), processes)

    def test_runtime_shim_pids_selects_run_shims(self):
        self.set_scenario({"sandboxes": ["sandbox-of-run"]})
        shim_of_run = self._fake_shim("containerd-shim-runc-v2", "sandbox-of-run")
        other_shim = self._fake_shim("containerd-shim-runc-v2", "sandbox-of-cluster")
        reaper_shim = self._fake_shim("containerd-shim-reaper-v2", "whatever")
        try:
            shims = self.driver.runtime_shim_pids()
            self.driver.runtime_is_reaper = False
            shims_without_reaper = self.driver.runtime_shim_pids()
        finally:
            for process in (shim_of_run, other_shim, reaper_shim):
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.assertIn(shim_of_run.pid, shims)
        self.assertNotIn(other_shim.pid, shims)
        self.assertIn(reaper_shim.pid, shims)
        self.assertEqual(shims_without_reaper & {shim_of_run.pid, other_shim.pid, reaper_shim.pid},
                         {shim_of_run.pid})

    def _fake_shim(self, name, sandbox_id):
        """Start a copy of sh named like a shim, with containerd's shim
        arguments after its script, in its own process group."""
        program = os.path.join(self.directory, name)
        if not os.path.exists(program):
            shutil.copy("/bin/sh", program)
        argv = [program, "-c", "sleep 30; exit 0", "-namespace", "k8s.io", "-id", sandbox_id]
        return subprocess.Popen(argv, start_new_session=True)


class ParseTest(unittest.TestCase):

    def test_exec_result_exit_zero(self):
        result = kubectl_driver.parse_exec_result(0, b"out", b"err")
        self.assertEqual((result.exit_code, result.stdout, result.stderr), (0, b"out", b"err"))

    def test_exec_result_mismatched_exit_line_raises(self):
        with self.assertRaises(DriverError):
            kubectl_driver.parse_exec_result(1, b"", b"command terminated with exit code 7\n")

    def test_escape_expansion_doubles_dollars(self):
        self.assertEqual(kubectl_driver.escape_expansion("a$b$(c)$$"), "a$$b$$(c)$$$$")

    def test_manifest_without_runtime_class(self):
        spec = ContainerSpec(name="main", command=["/bin/true"])
        manifest = kubectl_driver.build_pod_manifest("p", "ns", {}, "", "n", "img", spec)
        self.assertNotIn("runtimeClassName", manifest["spec"])
        self.assertNotIn("args", manifest["spec"]["containers"][0])
        self.assertNotIn("env", manifest["spec"]["containers"][0])

    def test_invalid_runtime_class_rejected(self):
        with self.assertRaises(ValueError):
            kubectl_driver.KubectlDriver("Reaper_V2", "node-1", "img")

    def test_proc_dump_skips_vanished_process(self):
        token = "t0"
        data = (b"\nt0 5 stat\n5 (sh) S 1 5 5\n\nt0 5 cmdline\nsh\0-c\0\nt0 5 exe\n/bin/sh\n"
                b"\nt0 5 environ\nREAPER_X=1\0PATH=/bin\0"
                b"\nt0 6 stat\n\nt0 6 cmdline\n\nt0 6 exe\n\nt0 6 environ\n")
        processes = kubectl_driver.parse_proc_dump(data, token)
        self.assertEqual(len(processes), 1)
        self.assertEqual((processes[0].pid, processes[0].ppid, processes[0].state),
                         (5, 1, "S"))
        self.assertEqual(processes[0].argv, ["sh", "-c"])
        self.assertEqual(processes[0].exe, "/bin/sh")
        self.assertEqual(processes[0].env, {"REAPER_X": "1"})


if __name__ == "__main__":
    unittest.main()
