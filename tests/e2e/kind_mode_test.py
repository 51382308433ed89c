#!/usr/bin/python3
"""Rootless checks of scripts/lib/kind.sh, without Docker or kind.

docker, kind and kubectl are replaced by fake programs that record their
arguments and keep each "node" as a directory, and tests/e2e/run.py by a
stub that records its arguments and exits with a chosen status. The real
scripts/configure-containerd.sh runs against the node directory's
/etc/containerd/config.toml, and the real image.sh builds the test image
archive. Run: /usr/bin/python3 tests/e2e/kind_mode_test.py
"""

import glob
import json
import os
import shutil
import stat
import subprocess
import tempfile
import unittest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

FAKE_DOCKER = r'''#!/bin/bash
printf 'docker %s\n' "$*" >>"$FAKE_STATE/calls"
# Prints the arguments with every absolute path moved under the node's
# directory, one a line.
node_paths() {
  local root=$1 argument
  shift
  for argument in "$@"; do
    if [[ $argument == /* ]]; then
      argument=$root$argument
    fi
    printf '%s\n' "$argument"
  done
}
case $1 in
  info) exit "${FAKE_DOCKER_INFO_RC:-0}" ;;
  cp)
    if [[ -e $FAKE_STATE/fail-cp ]]; then
      echo "fake docker: cp failed" >&2
      exit 1
    fi
    node=${3%%:*}
    destination=$FAKE_STATE/nodes/$node${3#*:}
    [[ -d $FAKE_STATE/nodes/$node ]] || { echo "no such container: $node" >&2; exit 1; }
    mkdir -p "$(dirname "$destination")"
    cp "$2" "$destination"
    ;;
  exec)
    node=$2
    root=$FAKE_STATE/nodes/$node
    [[ -d $root ]] || { echo "no such container: $node" >&2; exit 1; }
    shift 2
    case $1 in
      crictl) echo '{"config":{"containerd":{"runtimes":{"reaper-v2":{}}}}}' ;;
      systemctl) ;;
      bash)
        mapfile -t arguments < <(node_paths "$root" "${@:2}")
        exec bash "${arguments[@]}"
        ;;
      sh)
        mapfile -t arguments < <(node_paths "$root" "${@:5}")
        exec sh -c "$3" "$4" "${arguments[@]}"
        ;;
      *) echo "fake docker: unexpected exec $*" >&2; exit 2 ;;
    esac
    ;;
  *) echo "fake docker: unexpected arguments $*" >&2; exit 2 ;;
esac
'''

FAKE_KIND = r'''#!/bin/bash
printf 'kind %s\n' "$*" >>"$FAKE_STATE/calls"
clusters=$FAKE_STATE/clusters
touch "$clusters"
name=kind
for ((i = 1; i < $#; i++)); do
  if [[ ${!i} == --name ]]; then
    next=$((i + 1))
    name=${!next}
  fi
done
case "$1 $2" in
  "get clusters") cat "$clusters" ;;
  "create cluster")
    echo "$name" >>"$clusters"
    if [[ -e $FAKE_STATE/fail-create ]]; then
      echo "fake kind: create failed" >&2
      exit 1
    fi
    node_root=$FAKE_STATE/nodes/$name-control-plane
    mkdir -p "$node_root/etc/containerd"
    cp "$FAKE_STATE/node-config.toml" "$node_root/etc/containerd/config.toml"
    ;;
  "get nodes") printf '%s\n' "$name-control-plane" "$name-external-load-balancer" ;;
  "load image-archive")
    tar -xOf "$3" index.json | grep -q '"io.containerd.image.name":"localhost/reaper-test:1"' || {
      echo "fake kind: $3 is not the test image" >&2
      exit 1
    }
    ;;
  "delete cluster")
    grep -vxF "$name" "$clusters" >"$clusters.new" || true
    mv "$clusters.new" "$clusters"
    ;;
  *) echo "fake kind: unexpected arguments $*" >&2; exit 2 ;;
esac
'''

FAKE_KUBECTL = r'''#!/bin/bash
printf 'kubectl %s\n' "$*" >>"$FAKE_STATE/calls"
if [[ $1 != --context ]]; then
  echo "fake kubectl: no --context" >&2
  exit 2
fi
cluster=${2#kind-}
shift 2
case $1 in
  get) [[ $2 == nodes ]] && printf '%s' "$cluster-control-plane" ;;
  wait | delete) ;;
  apply) cat >"$FAKE_STATE/applied.yaml" ;;
  *) echo "fake kubectl: unexpected arguments $*" >&2; exit 2 ;;
esac
'''

STUB_RUN_PY = r'''#!/usr/bin/python3
import json, os, sys
with open(os.path.join(os.environ["FAKE_STATE"], "run_py_args"), "w") as output:
    json.dump(sys.argv[1:], output)
sys.exit(int(os.environ.get("FAKE_RUN_RC", "0")))
'''

# A node's containerd configuration in the layout of kind's node images:
# config version 2 with a CRI section and the runc runtime.
NODE_CONFIG = '''version = 2

[plugins."io.containerd.grpc.v1.cri".containerd]
  default_runtime_name = "runc"
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
'''

NODE = "reaper-e2e-control-plane"


class KindScriptTest(unittest.TestCase):

    def setUp(self):
        self.directory = tempfile.mkdtemp(prefix="kind-mode-test.")
        self.state = os.path.join(self.directory, "state")
        os.makedirs(os.path.join(self.state, "nodes"))
        with open(os.path.join(self.state, "node-config.toml"), "w") as config:
            config.write(NODE_CONFIG)
        self.bin = os.path.join(self.directory, "bin")
        os.mkdir(self.bin)
        for name, text in (("docker", FAKE_DOCKER), ("kind", FAKE_KIND),
                           ("kubectl", FAKE_KUBECTL)):
            self._write(os.path.join(self.bin, name), text, 0o755)
        # A repository tree whose run.py is the stub.
        self.repo = os.path.join(self.directory, "repo")
        os.makedirs(os.path.join(self.repo, "scripts"))
        os.makedirs(os.path.join(self.repo, "tests", "e2e"))
        shutil.copy(os.path.join(REPO, "scripts", "configure-containerd.sh"),
                    os.path.join(self.repo, "scripts"))
        shutil.copytree(os.path.join(REPO, "kubernetes"), os.path.join(self.repo, "kubernetes"))
        self._write(os.path.join(self.repo, "tests", "e2e", "run.py"), STUB_RUN_PY, 0o755)
        self.build = os.path.join(self.directory, "build")
        os.mkdir(self.build)
        for binary in ("containerd-shim-reaper-v2", "reaper-runtime"):
            self._write(os.path.join(self.build, binary), f"#!/bin/sh\necho {binary}\n", 0o755)
        self.work_dirs_before = set(glob.glob("/tmp/reaper-kind.*"))

    def tearDown(self):
        shutil.rmtree(self.directory)

    @staticmethod
    def _write(path, text, mode):
        with open(path, "w") as output:
            output.write(text)
        os.chmod(path, mode)

    def add_existing_cluster(self):
        with open(os.path.join(self.state, "clusters"), "w") as clusters:
            clusters.write("reaper-e2e\n")
        config_dir = os.path.join(self.state, "nodes", NODE, "etc", "containerd")
        os.makedirs(config_dir)
        shutil.copy(os.path.join(self.state, "node-config.toml"),
                    os.path.join(config_dir, "config.toml"))

    def run_kind(self, call, run_rc=0, docker_info_rc=0, path=None):
        """Run a bash snippet after sourcing the libraries; return the
        CompletedProcess."""
        script = f"""
            set -euo pipefail
            source {REPO}/scripts/lib/common.sh
            source {REPO}/scripts/lib/image.sh
            source {REPO}/scripts/lib/kind.sh
            _KIND_REPO={self.repo}
            {call}
        """
        env = dict(os.environ, FAKE_STATE=self.state, FAKE_RUN_RC=str(run_rc),
                   FAKE_DOCKER_INFO_RC=str(docker_info_rc),
                   PATH=path or f"{self.bin}:{os.environ['PATH']}")
        return subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env,
                              timeout=120, check=False)

    def calls(self):
        path = os.path.join(self.state, "calls")
        if not os.path.exists(path):
            return []
        with open(path) as calls:
            return calls.read().splitlines()

    def run_py_args(self):
        path = os.path.join(self.state, "run_py_args")
        if not os.path.exists(path):
            return None
        with open(path) as args:
            return json.load(args)

    def node_file(self, path):
        return os.path.join(self.state, "nodes", NODE, path.lstrip("/"))

    def test_new_cluster_full_run(self):
        result = self.run_kind(
            f"status=0; kind_run_cases {self.build} 0 0 --only greeting || status=$?; "
            "echo status=$status", run_rc=1)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("status=1", result.stdout)
        calls = self.calls()
        self.assertIn("kind create cluster --name reaper-e2e --wait 180s", calls)

        for binary in ("containerd-shim-reaper-v2", "reaper-runtime"):
            installed = self.node_file(f"/usr/local/bin/{binary}")
            self.assertTrue(os.path.isfile(installed), binary)
            self.assertEqual(stat.S_IMODE(os.stat(installed).st_mode), 0o755)
            self.assertFalse(os.path.exists(self.node_file(f"/usr/local/bin/.{binary}.new")))
        self.assertFalse([call for call in calls if "external-load-balancer" in call
                          and not call.startswith("kind")])
        self.assertTrue(os.path.isfile(self.node_file("/etc/reaper/reaper.conf")))

        with open(self.node_file("/etc/containerd/config.toml")) as config:
            text = config.read()
        self.assertIn('containerd.runtimes.reaper-v2]', text)
        self.assertIn('runtime_type = "io.containerd.reaper.v2"', text)
        self.assertIn(f"docker exec {NODE} systemctl restart containerd", calls)
        self.assertIn(f"kubectl --context kind-reaper-e2e wait --for=condition=Ready node/{NODE} "
                      "--timeout=180s", calls)

        with open(os.path.join(self.state, "applied.yaml")) as applied:
            applied_text = applied.read()
        self.assertIn("kind: RuntimeClass", applied_text)
        self.assertIn("handler: reaper-v2", applied_text)
        self.assertNotIn("kind: Pod", applied_text)

        loads = [call for call in calls if call.startswith("kind load image-archive")]
        self.assertEqual(len(loads), 1)
        self.assertTrue(loads[0].endswith("--name reaper-e2e"))

        self.assertEqual(self.run_py_args(), [
            "cases", "--driver", "kubectl", "--kube-context", "kind-reaper-e2e", "--node", NODE,
            "--namespace", "reaper-e2e", "--handler", "reaper-v2",
            "--image", "localhost/reaper-test:1", "--only", "greeting"])
        self.assertEqual(calls[-1], "kind delete cluster --name reaper-e2e")
        self.assertEqual(set(glob.glob("/tmp/reaper-kind.*")), self.work_dirs_before)

    def test_exit_status_is_run_py_status_under_errexit(self):
        result = self.run_kind(f"kind_run_cases {self.build} 0 0; echo not-reached", run_rc=1)
        self.assertEqual(result.returncode, 1)
        self.assertNotIn("not-reached", result.stdout)
        result = self.run_kind(f"kind_run_cases {self.build} 0 0; echo reached", run_rc=0)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("reached", result.stdout)

    def test_verbose_passes_verbose_to_run_py(self):
        result = self.run_kind(f"kind_run_cases {self.build} 1 0")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("--verbose", self.run_py_args())
        self.assertIn("+ timeout 600 kind create cluster --name reaper-e2e", result.stderr)
        self.assertIn("+ kubectl --context kind-reaper-e2e apply -f -", result.stderr)

    def test_existing_cluster_is_reused_and_kept(self):
        self.add_existing_cluster()
        result = self.run_kind(f"kind_run_cases {self.build} 0 0")
        self.assertEqual(result.returncode, 0, result.stderr)
        calls = self.calls()
        self.assertFalse([call for call in calls if call.startswith("kind create")])
        self.assertFalse([call for call in calls if call.startswith("kind delete")])
        self.assertIn("kubectl --context kind-reaper-e2e delete namespace reaper-e2e "
                      "--ignore-not-found --wait=false", calls)
        self.assertIn("reusing kind cluster reaper-e2e", result.stderr)

    def test_existing_reaper_conf_is_kept(self):
        self.add_existing_cluster()
        os.makedirs(os.path.dirname(self.node_file("/etc/reaper/reaper.conf")))
        with open(self.node_file("/etc/reaper/reaper.conf"), "w") as conf:
            conf.write("REAPER_LOG_LEVEL=debug\n")
        result = self.run_kind(f"kind_run_cases {self.build} 0 0")
        self.assertEqual(result.returncode, 0, result.stderr)
        with open(self.node_file("/etc/reaper/reaper.conf")) as conf:
            self.assertEqual(conf.read(), "REAPER_LOG_LEVEL=debug\n")

    def test_no_cleanup_keeps_new_cluster(self):
        result = self.run_kind(f"kind_run_cases {self.build} 0 1")
        self.assertEqual(result.returncode, 0, result.stderr)
        calls = self.calls()
        self.assertIn("kind create cluster --name reaper-e2e --wait 180s", calls)
        self.assertFalse([call for call in calls if "delete" in call])
        self.assertIn("kind delete cluster --name reaper-e2e", result.stderr)

    def test_failed_setup_still_deletes_new_cluster(self):
        open(os.path.join(self.state, "fail-cp"), "w").close()
        result = self.run_kind(f"status=0; kind_run_cases {self.build} 0 0 || status=$?; "
                               "echo status=$status")
        self.assertIn("status=1", result.stdout)
        self.assertIn("docker cp of", result.stderr)
        self.assertIsNone(self.run_py_args())
        self.assertEqual(self.calls()[-1], "kind delete cluster --name reaper-e2e")
        self.assertEqual(set(glob.glob("/tmp/reaper-kind.*")), self.work_dirs_before)

    def test_failed_create_deletes_cluster(self):
        open(os.path.join(self.state, "fail-create"), "w").close()
        result = self.run_kind(f"kind_run_cases {self.build} 0 0")
        self.assertEqual(result.returncode, 1)
        self.assertIn("kind create cluster --name reaper-e2e failed", result.stderr)
        self.assertEqual(self.calls()[-1], "kind delete cluster --name reaper-e2e")
        self.assertIsNone(self.run_py_args())

    def test_caller_traps_are_restored(self):
        result = self.run_kind(f"trap 'echo caller' INT; kind_run_cases {self.build} 0 0; "
                               "trap -p INT TERM")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout.strip(), "trap -- 'echo caller' SIGINT")

    def test_missing_binary_is_reported(self):
        os.remove(os.path.join(self.build, "reaper-runtime"))
        result = self.run_kind(f"kind_run_cases {self.build} 0 0")
        self.assertEqual(result.returncode, 1)
        self.assertIn(f"{self.build}/reaper-runtime not found", result.stderr)
        self.assertFalse([call for call in self.calls() if call.startswith("kind create")])

    def test_kind_available_needs_docker_daemon(self):
        result = self.run_kind('if kind_available; then echo yes; else echo "no: '
                               '$KIND_UNAVAILABLE_REASON"; fi', docker_info_rc=1)
        self.assertEqual(result.stdout.strip(),
                         "no: docker info failed: no Docker daemon is reachable")
        result = self.run_kind("kind_available && echo yes")
        self.assertEqual(result.stdout.strip(), "yes")

    def test_kind_available_needs_kind_in_path(self):
        # Only the fake docker and kubectl, and the system's tools.
        path_dir = os.path.join(self.directory, "path-without-kind")
        os.mkdir(path_dir)
        for name in ("docker", "kubectl"):
            os.symlink(os.path.join(self.bin, name), os.path.join(path_dir, name))
        system_path = ":".join(entry for entry in os.environ["PATH"].split(":")
                               if not os.path.exists(os.path.join(entry, "kind")))
        result = self.run_kind('kind_available || echo "no: $KIND_UNAVAILABLE_REASON"',
                               path=f"{path_dir}:{system_path}")
        self.assertEqual(result.stdout.strip(), "no: kind not found in PATH")


if __name__ == "__main__":
    unittest.main()
