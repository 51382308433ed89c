#include "runtime/container.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>

#include <cerrno>

#include "common/files.h"
#include "common/ids.h"
#include "runtime/oci_spec.h"

namespace reaper {
namespace runtime {
namespace {

// Limit on the bytes `start` reads from the exec FIFO, which are one byte
// and then an execve error if there was one. Error messages are short, so
// this only bounds a hostile writer.
constexpr size_t kMaxExecFifoBytes = 64 << 10;

Status NotInStatus(const std::string& id, ContainerStatus status, const std::string& expected) {
  return Status(Code::kFailedPrecondition, "container " + id + " is " + StatusName(status) +
                                               ", not " + expected);
}

}  // namespace

Containers::Containers(sys::Kernel& kernel, StateStore& store, OverlayNamespace& overlay,
                       RuntimeLog& log, ChildScheduler* scheduler)
    : kernel_(kernel), store_(store), overlay_(overlay), log_(log), scheduler_(scheduler) {}

Result<std::string> Containers::AbsolutePath(const std::string& path) {
  if (!path.empty() && path[0] == '/') return path;
  Result<std::string> cwd = kernel_.Getcwd();
  if (!cwd.ok()) return cwd.status();
  if (path.empty() || path == ".") return *cwd;
  return *cwd + "/" + path;
}

Status Containers::WritePidFile(const std::string& path, pid_t pid) {
  if (path.empty()) return Status::Ok();
  // No newline, like runc: callers parse the whole file as a number.
  Status written = WriteFileAtomic(kernel_, path, std::to_string(pid), 0644);
  if (!written.ok()) return written.Annotate("write pid file");
  return Status::Ok();
}

void Containers::LogLaunch(const std::string& id, const LaunchedProcess& launched) {
  const LogFields fields = {{"id", id}, {"pid", std::to_string(launched.pid)}};
  for (const std::string& warning : launched.warnings) log_.Warning(warning, fields);
  log_.Debug(launched.created_namespace ? "created and pinned the overlay namespace"
                                        : "joined the overlay namespace",
             fields);
}

void Containers::LogSkippedMounts(const std::string& id, const std::vector<MountSpec>& mounts) {
  // TODO: bind the pod's volumes and kubelet's per-pod files (/etc/hosts,
  // /etc/resolv.conf, the service-account token...) into a per-container
  // mount namespace. Until then the workload reads the host's files there.
  for (const MountSpec& mount : mounts) {
    log_.Debug("mount skipped: Reaper does not apply config.json mounts yet",
               {{"id", id},
                {"destination", mount.destination},
                {"type", mount.type},
                {"source", mount.source}});
  }
}

Status Containers::CreateExecFifo(const std::string& id) {
  const std::string path = store_.ExecFifoPath(id);
  Status status = kernel_.Mkfifo(path, 0622);
  // The workload may run as any user and opens the FIFO for writing after
  // its identity change. So the umask must not take the write bits away.
  if (status.ok()) status = kernel_.Chmod(path, 0622);
  if (!status.ok()) return status.Annotate("create exec FIFO");
  return Status::Ok();
}

Status Containers::Create(const std::string& id, const std::string& bundle,
                          const std::string& pid_file) {
  REAPER_RETURN_IF_ERROR(ValidateId("container", id));
  Status status = DoCreate(id, bundle, pid_file);
  if (!status.ok()) return status.Annotate("create container " + id);
  return Status::Ok();
}

Status Containers::DoCreate(const std::string& id, const std::string& bundle,
                            const std::string& pid_file) {
  Result<std::string> bundle_path = AbsolutePath(bundle);
  if (!bundle_path.ok()) return bundle_path.status().Annotate("resolve bundle path");
  Result<BundleSpec> spec = LoadBundleSpec(kernel_, *bundle_path);
  if (!spec.ok()) return spec.status();
  LogSkippedMounts(id, spec->mounts);
  REAPER_RETURN_IF_ERROR(store_.CreateContainerDir(id));

  // From here on a failure removes the state directory again.
  Status status = CreateExecFifo(id);
  Result<LaunchedProcess> launched = Status(Code::kInternal, "not launched");
  if (status.ok()) {
    ProcessLauncher launcher(kernel_, overlay_, scheduler_);
    launched = launcher.Launch(LaunchRequest{spec->process, store_.ExecFifoPath(id)});
    status = launched.status();
  }

  ContainerState state;
  if (status.ok()) {
    LogLaunch(id, *launched);
    state.id = id;
    state.pid = launched->pid;
    state.bundle = *bundle_path;
    state.root_path = spec->root_path;
    state.created = kernel_.Now();
    state.annotations = spec->annotations;
    Result<ProcessStat> stat = ReadProcessStat(kernel_, state.pid);
    status = stat.status();
    if (stat.ok()) state.start_time = stat->start_time;
  }
  if (status.ok()) status = store_.Save(state);
  if (status.ok()) status = WritePidFile(pid_file, state.pid);
  if (status.ok()) {
    log_.Debug("container created", {{"id", id}, {"pid", std::to_string(state.pid)}});
    return Status::Ok();
  }

  if (launched.ok()) {
    (void)kernel_.Kill(launched->pid, SIGKILL);
    (void)kernel_.Wait(launched->pid, 0);
  }
  (void)store_.Remove(id);
  return status;
}

Status Containers::Start(const std::string& id) {
  REAPER_RETURN_IF_ERROR(ValidateId("container", id));
  Result<ContainerState> state = store_.Load(id);
  if (!state.ok()) return state.status().Annotate("start container " + id);
  ContainerStatus status = store_.CurrentStatus(*state);
  if (status != ContainerStatus::kCreated) {
    return NotInStatus(id, status, "created").Annotate("start container " + id);
  }
  Status released = ReleaseCreatedProcess(*state);
  if (!released.ok()) return released.Annotate("start container " + id);
  log_.Debug("container started", {{"id", id}, {"pid", std::to_string(state->pid)}});
  return Status::Ok();
}

// Reads what the process writes to the exec FIFO: one byte once it has
// opened the FIFO, then end of file when its execve closes the FIFO
// (close-on-exec), or the error text when execve failed.
Result<std::string> Containers::ReadExecFifo(int fd) {
  std::string received;
  while (received.size() <= kMaxExecFifoBytes) {
    char buffer[4096];
    Result<size_t> count = kernel_.Read(fd, buffer, sizeof(buffer));
    if (!count.ok()) return count.status().Annotate("read exec FIFO");
    if (*count == 0) break;
    received.append(buffer, *count);
  }
  return received;
}

Result<std::string> Containers::OpenAndReadExecFifo(const ContainerState& state, bool blocking) {
  // Opened without blocking, the FIFO cannot hang `start` on a process that
  // died before it opened the FIFO, because the read returns end of file at
  // once.
  int flags = O_RDONLY | O_CLOEXEC | (blocking ? 0 : O_NONBLOCK);
  Result<int> fifo = kernel_.Open(store_.ExecFifoPath(state.id), flags);
  if (!fifo.ok()) return fifo.status().Annotate("open exec FIFO");
  Status status = Status::Ok();
  if (!blocking) {
    Result<int> current = kernel_.Fcntl(*fifo, F_GETFL, 0);
    status = current.status();
    if (status.ok()) status = kernel_.Fcntl(*fifo, F_SETFL, *current & ~O_NONBLOCK).status();
  }
  if (scheduler_ != nullptr) scheduler_->RunNextStep(state.pid);
  Result<std::string> received = status;
  if (status.ok()) received = ReadExecFifo(*fifo);
  (void)kernel_.Close(*fifo);
  return received;
}

Status Containers::ReleaseCreatedProcess(const ContainerState& state) {
  Result<std::string> received = OpenAndReadExecFifo(state, false);
  // Nothing read while the process lives means that it has reported ready
  // to `create` but not reached its open of the FIFO yet. It will, so a
  // blocking open waits only for that.
  // NOTE: a process killed between this status check and the open would
  // leave `start` blocked. The window is the few instructions between
  // kReady and the child's open.
  if (received.ok() && received->empty() &&
      store_.CurrentStatus(state) == ContainerStatus::kCreated) {
    received = OpenAndReadExecFifo(state, true);
  }
  if (!received.ok()) return received.status();
  (void)kernel_.Unlink(store_.ExecFifoPath(state.id));

  if (received->empty()) {
    return Status(Code::kFailedPrecondition,
                  "process " + std::to_string(state.pid) + " exited before it was started");
  }
  if (received->size() > 1) return Status(Code::kInternal, received->substr(1));
  return Status::Ok();
}

Result<std::string> Containers::State(const std::string& id) {
  REAPER_RETURN_IF_ERROR(ValidateId("container", id));
  Result<ContainerState> state = store_.Load(id);
  if (!state.ok()) return state.status().Annotate("state of container " + id);
  return store_.StateJson(*state, store_.CurrentStatus(*state));
}

Status Containers::Kill(const std::string& id, int signal, bool all) {
  REAPER_RETURN_IF_ERROR(ValidateId("container", id));
  const std::string context = "kill container " + id;
  Result<ContainerState> state = store_.Load(id);
  if (!state.ok()) return state.status().Annotate(context);

  if (all) {
    // The group outlives its leader while other members run, and its id
    // cannot be reused until the last member is gone, so it is signaled even
    // when the leader has exited.
    Status status = kernel_.Kill(-state->pid, signal);
    if (!status.ok() && status.error_number() != ESRCH) return status.Annotate(context);
    return Status::Ok();
  }
  ContainerStatus status = store_.CurrentStatus(*state);
  if (status == ContainerStatus::kStopped) {
    return Status(Code::kFailedPrecondition,
                  context + ": process " + std::to_string(state->pid) + " is not running");
  }
  Status killed = kernel_.Kill(state->pid, signal);
  if (!killed.ok()) return killed.Annotate(context);
  return Status::Ok();
}

Status Containers::Delete(const std::string& id, bool force) {
  REAPER_RETURN_IF_ERROR(ValidateId("container", id));
  const std::string context = "delete container " + id;
  Result<ContainerState> state = store_.Load(id);
  if (!state.ok()) {
    // --force also clears a directory that a failed create left behind.
    if (force && state.status().code() == Code::kNotFound) return store_.Remove(id).Annotate(context);
    return state.status().Annotate(context);
  }

  ContainerStatus status = store_.CurrentStatus(*state);
  if (status == ContainerStatus::kRunning && !force) {
    return NotInStatus(id, status, "stopped or created (use --force to kill it)").Annotate(context);
  }
  if (status != ContainerStatus::kStopped) {
    // A created process never ran the workload, and --force exists to kill
    // a running one. The whole group goes, children included.
    Status killed = kernel_.Kill(-state->pid, SIGKILL);
    if (!killed.ok() && killed.error_number() != ESRCH) return killed.Annotate(context);
  }
  Status removed = store_.Remove(id);
  if (!removed.ok()) return removed.Annotate(context);
  return Status::Ok();
}

Result<int> Containers::Exec(const std::string& id, const std::string& process_file,
                             const std::string& pid_file, bool detach) {
  REAPER_RETURN_IF_ERROR(ValidateId("container", id));
  const std::string context = "exec in container " + id;
  Result<ContainerState> state = store_.Load(id);
  if (!state.ok()) return state.status().Annotate(context);
  ContainerStatus status = store_.CurrentStatus(*state);
  if (status == ContainerStatus::kStopped) {
    return NotInStatus(id, status, "created or running").Annotate(context);
  }
  Result<ProcessSpec> process = LoadProcessSpec(kernel_, process_file);
  if (!process.ok()) return process.status().Annotate(context);

  ProcessLauncher launcher(kernel_, overlay_, scheduler_);
  Result<LaunchedProcess> launched = launcher.Launch(LaunchRequest{*process, ""});
  if (!launched.ok()) return launched.status().Annotate(context);
  LogLaunch(id, *launched);
  Status written = WritePidFile(pid_file, launched->pid);
  if (!written.ok()) {
    (void)kernel_.Kill(launched->pid, SIGKILL);
    (void)kernel_.Wait(launched->pid, 0);
    return written.Annotate(context);
  }
  if (detach) return 0;

  if (scheduler_ != nullptr) scheduler_->RunNextStep(launched->pid);
  Result<sys::WaitResult> waited = kernel_.Wait(launched->pid, 0);
  if (!waited.ok()) return waited.status().Annotate(context);
  int wait_status = waited->status;
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return WEXITSTATUS(wait_status);
}

}  // namespace runtime
}  // namespace reaper
