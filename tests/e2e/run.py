#!/usr/bin/python3
"""Runs the end-to-end CRI cases or the pod start benchmark against a
containerd CRI endpoint, playing the kubelet.

  run.py cases --address SOCKET --containerd-pid PID --reaper-state DIR --log-root DIR
  run.py bench --address SOCKET --handler reaper-v2 --pods 20 --log-root DIR

scripts/run-integration-tests.sh starts a private containerd with CRI and
calls `run.py cases`; scripts/lib/containerd.sh describes that daemon. The
images must already be in the CRI namespace (image_import_cri of
scripts/lib/image.sh). Needs root, and /usr/bin/python3 with Debian's
python3-grpcio and python3-protobuf.
"""

import argparse
import concurrent.futures
import os
import sys
import time

# Run from a source tree, often as root: leave no __pycache__ behind.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import cases  # noqa: E402
from cri_client import CriClient, CriError  # noqa: E402
from cri_driver import CriDriver  # noqa: E402
import kubectl_driver  # noqa: E402
from driver import ContainerSpec, DriverError  # noqa: E402

DEFAULT_IMAGE = "localhost/reaper-test:1"


def parse_arguments(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--driver", choices=("cri", "kubectl"), default="cri",
                        help="cri (default): play the kubelet against the CRI socket "
                             "--address; kubectl: run Kubernetes pods on a node of a kind "
                             "cluster, with --handler as the RuntimeClass "
                             "(scripts/lib/kind.sh)")
    kubectl_driver.add_arguments(common)
    common.add_argument("--address", help="containerd's gRPC socket, which serves CRI "
                                          "(required)")
    common.add_argument("--handler", default="reaper-v2",
                        help="runtime handler of the pods (default: reaper-v2)")
    common.add_argument("--image", default=DEFAULT_IMAGE,
                        help=f"container image, already imported (default: {DEFAULT_IMAGE})")
    common.add_argument("--log-root", help="directory for the pods' log directories "
                                           "(required)")
    common.add_argument("--pid-mode", choices=("container", "node"), default="container",
                        help="PID namespace of the pods: container (a kubelet's default) "
                             "or node (hostPID)")
    common.add_argument("--containerd-pid", type=int, default=0,
                        help="PID of the containerd daemon, for the host-side checks")
    common.add_argument("--reaper-state", default="",
                        help="REAPER_STATE_DIR of the daemon's environment, which "
                             "identifies its shims")

    case_parser = commands.add_parser("cases", parents=[common],
                                      help="run the end-to-end cases")
    case_parser.add_argument("--only", action="append", default=[], metavar="NAME",
                             help="run only this case (repeatable)")
    case_parser.add_argument("--list", action="store_true", help="list the cases and exit")
    case_parser.add_argument("--verbose", action="store_true",
                             help="print details and the time of each case")
    case_parser.add_argument("--name-prefix", default="",
                             help="prefix for the case names in the result lines")
    case_parser.add_argument("--results", metavar="FILE",
                             help="also append the result lines to FILE")
    case_parser.add_argument("--no-summary", action="store_true",
                             help="do not print the closing 'N passed, M failed' line")

    bench_parser = commands.add_parser(
        "bench", parents=[common],
        help="start N pods at once and print the milliseconds until all have exited")
    bench_parser.add_argument("--pods", type=int, default=20, help="pods per run (default: 20)")
    return parser.parse_args(argv)


def connect(arguments):
    for option in ("address", "log_root"):
        if not getattr(arguments, option):
            raise SystemExit(f"run.py: error: --{option.replace('_', '-')} is required")
    client = CriClient(arguments.address)
    try:
        client.wait_ready(timeout=30)
        if client.image_status(arguments.image) is None:
            raise SystemExit(f"run.py: error: image {arguments.image} not found in the CRI "
                             f"image store of {arguments.address}; import it into namespace "
                             "k8s.io first")
    except CriError as error:
        raise SystemExit(f"run.py: error: {error}") from None
    driver = CriDriver(client, arguments.handler, arguments.image, arguments.log_root,
                       arguments.containerd_pid, arguments.reaper_state, arguments.address,
                       pid_mode=arguments.pid_mode)
    return client, driver


def run_case_list(arguments):
    if arguments.list:
        for entry in cases.CASES:
            print(entry.name + (" (Reaper only)" if entry.reaper_only else ""))
        return 0
    if arguments.driver == "kubectl":
        client, driver = None, kubectl_driver.from_arguments(arguments)
    else:
        if arguments.containerd_pid <= 0:
            raise SystemExit("run.py: error: --containerd-pid is required for the cases")
        client, driver = connect(arguments)
    if arguments.verbose and client is not None:
        version = client.version()
        print(f"    CRI server: {version.runtime_name} {version.runtime_version} "
              f"(API {version.runtime_api_version}), handler {driver.handler}, "
              f"run {driver.run_id}", flush=True)
    results = open(arguments.results, "a") if arguments.results else None

    def report(line):
        print(line, flush=True)
        if results is not None:
            results.write(line + "\n")
            results.flush()

    try:
        passed, failed, skipped = cases.run_cases(
            driver, selected=set(arguments.only), verbose=arguments.verbose,
            name_prefix=arguments.name_prefix, report=report)
    except ValueError as error:
        raise SystemExit(f"run.py: error: {error}") from None
    finally:
        if results is not None:
            results.close()
        if client is not None:
            client.close()
    if not arguments.no_summary:
        if skipped:
            print(f"{skipped} skipped")
        print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


def run_bench(arguments):
    """Start all pods at once, each `echo hi`, and print the milliseconds
    from the first RunPodSandbox until every container is EXITED."""
    if arguments.driver != "cri":
        raise SystemExit("run.py: error: bench runs only with --driver cri")
    if arguments.pods < 1:
        raise SystemExit(f"run.py: error: --pods must be at least 1, got {arguments.pods}")
    client, driver = connect(arguments)
    spec = ContainerSpec(name="bench", command=["/bin/echo", "hi"])
    try:
        start = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(max_workers=arguments.pods) as pool:
            futures = [pool.submit(driver.run_pod, "bench", spec) for _ in range(arguments.pods)]
            pods = [future.result() for future in futures]
        deadline = start + 120
        exit_codes = {}
        while len(exit_codes) < len(pods):
            for container in client.list_containers({"reaper-e2e/run": driver.run_id}):
                if container.state == client.api.CONTAINER_EXITED and container.id not in exit_codes:
                    exit_codes[container.id] = None
            if len(exit_codes) >= len(pods):
                break
            if time.monotonic() >= deadline:
                raise SystemExit(f"run.py: error: only {len(exit_codes)} of {len(pods)} "
                                 "containers exited within 120 s")
            time.sleep(0.01)
        elapsed_ms = (time.monotonic() - start) * 1000
        for pod in pods:
            exit_code = client.container_status(pod.container_id).exit_code
            if exit_code != 0:
                raise SystemExit(f"run.py: error: pod {pod.name} exited with {exit_code}")
        print(f"{arguments.pods} pods with handler {arguments.handler}: all exited "
              f"{elapsed_ms:.0f} ms after the first RunPodSandbox", file=sys.stderr)
        print(f"{elapsed_ms:.0f}")
    except (DriverError, CriError) as error:
        raise SystemExit(f"run.py: error: {error}") from None
    finally:
        try:
            driver.cleanup()
        finally:
            client.close()
    return 0


def main(argv):
    arguments = parse_arguments(argv)
    if arguments.command == "cases":
        return run_case_list(arguments)
    return run_bench(arguments)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
