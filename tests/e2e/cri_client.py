"""A thin CRI v1 client over gRPC, for the end-to-end tests.

The messages come from cri_subset.proto, compiled with protoc into a
temporary directory when the client is created, so no generated code is kept
in the repository and no gRPC code generator is needed: every method is
called through grpc's generic unary-unary stub.

Needs Debian's python3-grpcio and python3-protobuf (run with /usr/bin/python3)
and protoc (protobuf-compiler).
"""

import importlib
import os
import shutil
import subprocess
import sys
import tempfile

import grpc

PROTO_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cri_subset.proto")
RUNTIME_SERVICE = "runtime.v1.RuntimeService"
IMAGE_SERVICE = "runtime.v1.ImageService"

# Seconds a CRI call may take unless the caller passes its own deadline.
DEFAULT_CALL_TIMEOUT = 30.0


class CriError(Exception):
    """A CRI call that failed: the method, the gRPC status code and details."""

    def __init__(self, method, code, details):
        super().__init__(f"{method} failed: {code.name}: {details}")
        self.method = method
        self.code = code
        self.details = details


def compile_messages(output_dir):
    """Compile cri_subset.proto into output_dir and import the module."""
    protoc = shutil.which("protoc")
    if protoc is None:
        raise RuntimeError("protoc not found: install protobuf-compiler "
                           "(scripts/install-deps.sh build)")
    proto_dir = os.path.dirname(PROTO_FILE)
    result = subprocess.run(
        [protoc, f"--python_out={output_dir}", f"-I{proto_dir}", PROTO_FILE],
        capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"protoc failed on {PROTO_FILE}: {result.stderr.strip()}")
    if output_dir not in sys.path:
        sys.path.insert(0, output_dir)
    return importlib.import_module("cri_subset_pb2")


class CriClient:
    """Calls the RuntimeService and ImageService of one CRI endpoint.

    Each method takes a request message of the module in self.api and returns
    the reply message, or raises CriError. The client is thread-safe: gRPC
    channels may be shared between threads.
    """

    def __init__(self, socket_path, work_dir=None):
        self._owned_dir = None
        if work_dir is None:
            work_dir = tempfile.mkdtemp(prefix="cri-proto.")
            self._owned_dir = work_dir
        self.api = compile_messages(work_dir)
        self.socket_path = socket_path
        self._channel = grpc.insecure_channel(f"unix://{socket_path}")
        self._stubs = {}

    def close(self):
        self._channel.close()
        if self._owned_dir is not None:
            shutil.rmtree(self._owned_dir, ignore_errors=True)

    def _call(self, service, method, request, response_type, timeout):
        path = f"/{service}/{method}"
        stub = self._stubs.get(path)
        if stub is None:
            stub = self._channel.unary_unary(
                path,
                request_serializer=lambda message: message.SerializeToString(),
                response_deserializer=response_type.FromString)
            self._stubs[path] = stub
        try:
            return stub(request, timeout=timeout or DEFAULT_CALL_TIMEOUT)
        except grpc.RpcError as error:
            raise CriError(method, error.code(), error.details()) from None

    def wait_ready(self, timeout):
        """Wait until the endpoint responds to Version; raise CriError if it does not."""
        try:
            grpc.channel_ready_future(self._channel).result(timeout=timeout)
        except grpc.FutureTimeoutError:
            raise CriError("Version", grpc.StatusCode.UNAVAILABLE,
                           f"no CRI server on {self.socket_path} within {timeout} s") from None
        return self.version(timeout=timeout)

    def version(self, timeout=None):
        return self._call(RUNTIME_SERVICE, "Version", self.api.VersionRequest(),
                          self.api.VersionResponse, timeout)

    def run_pod_sandbox(self, config, runtime_handler, timeout=None):
        request = self.api.RunPodSandboxRequest(config=config, runtime_handler=runtime_handler)
        reply = self._call(RUNTIME_SERVICE, "RunPodSandbox", request,
                           self.api.RunPodSandboxResponse, timeout)
        return reply.pod_sandbox_id

    def stop_pod_sandbox(self, sandbox_id, timeout=None):
        self._call(RUNTIME_SERVICE, "StopPodSandbox",
                   self.api.StopPodSandboxRequest(pod_sandbox_id=sandbox_id),
                   self.api.StopPodSandboxResponse, timeout)

    def remove_pod_sandbox(self, sandbox_id, timeout=None):
        self._call(RUNTIME_SERVICE, "RemovePodSandbox",
                   self.api.RemovePodSandboxRequest(pod_sandbox_id=sandbox_id),
                   self.api.RemovePodSandboxResponse, timeout)

    def pod_sandbox_status(self, sandbox_id, timeout=None):
        reply = self._call(RUNTIME_SERVICE, "PodSandboxStatus",
                           self.api.PodSandboxStatusRequest(pod_sandbox_id=sandbox_id),
                           self.api.PodSandboxStatusResponse, timeout)
        return reply.status

    def list_pod_sandbox(self, label_selector=None, timeout=None):
        request = self.api.ListPodSandboxRequest(
            filter=self.api.PodSandboxFilter(label_selector=label_selector or {}))
        reply = self._call(RUNTIME_SERVICE, "ListPodSandbox", request,
                           self.api.ListPodSandboxResponse, timeout)
        return list(reply.items)

    def create_container(self, sandbox_id, config, sandbox_config, timeout=None):
        request = self.api.CreateContainerRequest(
            pod_sandbox_id=sandbox_id, config=config, sandbox_config=sandbox_config)
        reply = self._call(RUNTIME_SERVICE, "CreateContainer", request,
                           self.api.CreateContainerResponse, timeout)
        return reply.container_id

    def start_container(self, container_id, timeout=None):
        self._call(RUNTIME_SERVICE, "StartContainer",
                   self.api.StartContainerRequest(container_id=container_id),
                   self.api.StartContainerResponse, timeout)

    def stop_container(self, container_id, grace_seconds, timeout=None):
        request = self.api.StopContainerRequest(container_id=container_id, timeout=grace_seconds)
        self._call(RUNTIME_SERVICE, "StopContainer", request,
                   self.api.StopContainerResponse, timeout)

    def remove_container(self, container_id, timeout=None):
        self._call(RUNTIME_SERVICE, "RemoveContainer",
                   self.api.RemoveContainerRequest(container_id=container_id),
                   self.api.RemoveContainerResponse, timeout)

    def list_containers(self, label_selector=None, sandbox_id="", timeout=None):
        request = self.api.ListContainersRequest(filter=self.api.ContainerFilter(
            pod_sandbox_id=sandbox_id, label_selector=label_selector or {}))
        reply = self._call(RUNTIME_SERVICE, "ListContainers", request,
                           self.api.ListContainersResponse, timeout)
        return list(reply.containers)

    def container_status(self, container_id, timeout=None):
        reply = self._call(RUNTIME_SERVICE, "ContainerStatus",
                           self.api.ContainerStatusRequest(container_id=container_id),
                           self.api.ContainerStatusResponse, timeout)
        return reply.status

    def exec_sync(self, container_id, argv, exec_timeout, timeout=None):
        """Run argv in the container; exec_timeout is CRI's own limit in seconds."""
        request = self.api.ExecSyncRequest(container_id=container_id, cmd=argv,
                                           timeout=exec_timeout)
        return self._call(RUNTIME_SERVICE, "ExecSync", request,
                          self.api.ExecSyncResponse, timeout)

    def image_status(self, image, timeout=None):
        """Return the image's status, or None if the runtime does not have it."""
        request = self.api.ImageStatusRequest(image=self.api.ImageSpec(image=image))
        reply = self._call(IMAGE_SERVICE, "ImageStatus", request,
                           self.api.ImageStatusResponse, timeout)
        return reply.image if reply.HasField("image") else None
