#include "runtime/process_launcher.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstdlib>
#include <memory>
#include <optional>
#include <utility>

#include "common/files.h"
#include "runtime/sync_pipe.h"

namespace reaper {
namespace runtime {
namespace {

// The fds the child works with; numbers are the same in P and C after fork.
struct ChildFds {
  int to_parent = -1;    // C writes
  int from_parent = -1;  // C reads
  int parent_read = -1;  // P's ends, which C closes
  int parent_write = -1;
  int lock = -1;       // P's namespace lock, which C closes
  int exec_fifo = -1;  // O_PATH fd of the exec FIFO, or -1 for `exec`
};

std::string DescribeWaitStatus(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "was killed by signal " + std::to_string(WTERMSIG(status));
  return "ended with wait status " + std::to_string(status);
}

// The code that runs in C between fork and execve, as three steps. Each
// step reports a failure to P and exits; a step that returns succeeded.
class LaunchChild {
 public:
  LaunchChild(sys::Kernel& kernel, OverlayNamespace* overlay, LaunchRequest request, ChildFds fds,
              bool join)
      : kernel_(kernel),
        overlay_(overlay),
        request_(std::move(request)),
        fds_(fds),
        join_(join) {}

  [[noreturn]] void Run() {
    EnterNamespace();
    Prepare();
    Exec();
  }

  void EnterNamespace() {
    (void)kernel_.Close(fds_.parent_read);
    (void)kernel_.Close(fds_.parent_write);
    (void)kernel_.Close(fds_.lock);
    Status status = DoEnterNamespace();
    if (status.ok()) status = SendSyncMessage(kernel_, fds_.to_parent, SyncMessageType::kNamespaceReady);
    if (!status.ok()) Fail(status);
  }

  void Prepare() {
    Result<std::optional<SyncMessage>> go = ReceiveSyncMessage(kernel_, fds_.from_parent);
    // Anything but kContinue means P gave up (and will kill this process).
    if (!go.ok() || !go->has_value() || (*go)->type != SyncMessageType::kContinue) ExitChild(1);

    Status status = DoPrepare();
    if (status.ok()) status = SendSyncMessage(kernel_, fds_.to_parent, SyncMessageType::kReady);
    if (!status.ok()) Fail(status);
  }

  [[noreturn]] void Exec() {
    if (fds_.exec_fifo >= 0) ExecAfterStart();
    Status status = kernel_.Execve(executable_, request_.process.args, request_.process.env);
    (void)SendSyncError(kernel_, fds_.to_parent, ExecError(status));
    ExitChild(kExecFailedExitCode);
  }

 private:
  [[noreturn]] void ExitChild(int code) {
    kernel_.Exit(code);
    // Not reached: GCC does not apply [[noreturn]] to a call through the
    // virtual Kernel::Exit.
    std::abort();
  }

  [[noreturn]] void Fail(const Status& status) {
    (void)SendSyncError(kernel_, fds_.to_parent, status);
    ExitChild(1);
  }

  // Words an execve failure like ResolveExecutable words a missing file.
  Status ExecError(const Status& status) const {
    std::string what = "exec \"" + request_.process.args[0] + "\"";
    if (status.error_number() == 0) return status.Annotate(what);
    return Status::FromErrno(status.error_number(), what);
  }

  Status DoEnterNamespace() {
    Result<pid_t> session = kernel_.SetSid();
    if (!session.ok()) return session.status();
    return join_ ? overlay_->Join() : overlay_->Create();
  }

  Status DoPrepare() {
    const ProcessSpec& process = request_.process;
    Status changed = kernel_.Chdir(process.cwd);
    if (!changed.ok()) return changed.Annotate("set working directory");

    std::string path = FindEnv(process.env, "PATH").value_or(kDefaultPath);
    Result<std::string> executable = ResolveExecutable(kernel_, process.args[0], path);
    if (!executable.ok()) return executable.status();
    executable_ = *executable;

    if (process.oom_score_adj.has_value()) SetOomScoreAdj(*process.oom_score_adj);
    REAPER_RETURN_IF_ERROR(SetIdentity(process.user));
    REAPER_RETURN_IF_ERROR(ResetSignals());
    return KeepStdio();
  }

  // Best effort, as the OCI specification allows: a failure is a warning.
  void SetOomScoreAdj(int value) {
    std::string text = std::to_string(value);
    Result<int> fd = kernel_.Open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
    Status status = fd.status();
    if (fd.ok()) {
      status = WriteAll(kernel_, *fd, text);
      (void)kernel_.Close(*fd);
    }
    if (!status.ok()) {
      (void)SendSyncMessage(kernel_, fds_.to_parent, SyncMessageType::kWarning,
                            "set oom_score_adj to " + text + ": " + status.message());
    }
  }

  // Skips the change only when root is asked to stay plain root, so the
  // calls that need privilege are made only when the identity changes.
  Status SetIdentity(const User& user) {
    bool stays_root = user.uid == 0 && user.gid == 0 && user.additional_gids.empty() &&
                      kernel_.GetEffectiveUid() == 0;
    if (stays_root) return Status::Ok();
    Status status = kernel_.SetIdentity(user.uid, user.gid, user.additional_gids);
    if (!status.ok()) {
      return status.Annotate("set user " + std::to_string(user.uid) + ":" +
                             std::to_string(user.gid));
    }
    return Status::Ok();
  }

  // The caller (the shim) blocks signals for itself, and a blocked mask and
  // ignored signals survive execve, so the workload would inherit them.
  Status ResetSignals() {
    Status status = kernel_.SetSignalMask(SIG_SETMASK, {});
    if (status.ok()) status = kernel_.ResetSignalDispositions();
    if (!status.ok()) return status.Annotate("reset signals");
    return Status::Ok();
  }

  // fds 0, 1 and 2 of reaper-runtime become the workload's; make sure none
  // is marked close-on-exec. A closed one stays closed.
  Status KeepStdio() {
    for (int fd = 0; fd <= 2; ++fd) {
      Result<int> result = kernel_.Fcntl(fd, F_SETFD, 0);
      if (!result.ok() && result.status().error_number() != EBADF) {
        return result.status().Annotate("keep fd " + std::to_string(fd) + " open across exec");
      }
    }
    return Status::Ok();
  }

  // Blocks until `start` opens the FIFO for reading. The FIFO is reopened
  // through /proc/self/fd because the O_PATH fd was opened in the host
  // namespace, before this process lost the right to reach the state
  // directory (a different namespace or user).
  [[noreturn]] void ExecAfterStart() {
    Result<int> fifo =
        kernel_.Open("/proc/self/fd/" + std::to_string(fds_.exec_fifo), O_WRONLY | O_CLOEXEC);
    if (!fifo.ok()) ExitChild(1);
    (void)kernel_.Close(fds_.exec_fifo);

    Status status = WriteAll(kernel_, *fifo, "0");
    if (status.ok()) {
      status = ExecError(kernel_.Execve(executable_, request_.process.args, request_.process.env));
    }
    (void)WriteAll(kernel_, *fifo, status.message());
    ExitChild(kExecFailedExitCode);
  }

  sys::Kernel& kernel_;
  OverlayNamespace* overlay_;
  LaunchRequest request_;
  ChildFds fds_;
  bool join_;
  std::string executable_;
};

// P's side of one launch: its fds, and the changes it must undo on failure.
class LaunchParent {
 public:
  LaunchParent(sys::Kernel& kernel, OverlayNamespace& overlay, ChildScheduler* scheduler)
      : kernel_(kernel), overlay_(overlay), scheduler_(scheduler) {}

  ~LaunchParent() {
    for (int fd : {read_fd_, write_fd_, exec_fifo_fd_}) {
      if (fd >= 0) (void)kernel_.Close(fd);
    }
    if (lock_fd_ >= 0) overlay_.Unlock(lock_fd_);
  }

  Result<LaunchedProcess> Launch(const LaunchRequest& request) {
    Status status = Prepare(request);
    if (status.ok()) status = ForkChild(request);
    if (status.ok()) status = CompleteNamespace();
    if (status.ok()) status = AwaitReady();
    if (status.ok() && request.exec_fifo.empty()) status = AwaitExec();
    if (!status.ok()) {
      Abort();
      return status;
    }
    return launched_;
  }

 private:
  Status Prepare(const LaunchRequest& request) {
    Result<int> lock = overlay_.Lock();
    if (!lock.ok()) return lock.status();
    lock_fd_ = *lock;
    REAPER_RETURN_IF_ERROR(overlay_.PrepareDirectories());
    join_ = overlay_.IsPinned();

    if (!request.exec_fifo.empty()) {
      Result<int> fifo = kernel_.Open(request.exec_fifo, O_PATH | O_CLOEXEC);
      if (!fifo.ok()) return fifo.status().Annotate("open exec FIFO");
      exec_fifo_fd_ = *fifo;
    }
    return Status::Ok();
  }

  Status ForkChild(const LaunchRequest& request) {
    Result<std::pair<int, int>> to_parent = kernel_.Pipe(O_CLOEXEC);
    if (!to_parent.ok()) return to_parent.status();
    read_fd_ = to_parent->first;
    Result<std::pair<int, int>> to_child = kernel_.Pipe(O_CLOEXEC);
    if (!to_child.ok()) {
      (void)kernel_.Close(to_parent->second);
      return to_child.status();
    }
    write_fd_ = to_child->second;

    ChildFds fds;
    fds.to_parent = to_parent->second;
    fds.from_parent = to_child->first;
    fds.parent_read = read_fd_;
    fds.parent_write = write_fd_;
    fds.lock = lock_fd_;
    fds.exec_fifo = exec_fifo_fd_;

    Result<pid_t> pid = kernel_.Fork();
    if (pid.ok() && *pid == 0) LaunchChild(kernel_, &overlay_, request, fds, join_).Run();
    (void)kernel_.Close(fds.to_parent);
    (void)kernel_.Close(fds.from_parent);
    if (!pid.ok()) return pid.status();
    launched_.pid = *pid;

    if (scheduler_ != nullptr) {
      // The child's steps hold their own copy of everything they use, since
      // the last one may run after this launch has returned.
      auto child = std::make_shared<LaunchChild>(kernel_, &overlay_, request, fds, join_);
      scheduler_->Schedule(*pid, [child] { child->EnterNamespace(); });
      scheduler_->Schedule(*pid, [child] { child->Prepare(); });
      scheduler_->Schedule(*pid, [child] { child->Exec(); });
    }
    return Status::Ok();
  }

  // Reads the next message from C, letting a scheduled C run first.
  Result<std::optional<SyncMessage>> Receive() {
    if (scheduler_ != nullptr) scheduler_->RunNextStep(launched_.pid);
    return ReceiveSyncMessage(kernel_, read_fd_);
  }

  // Turns what C sent instead of the expected message into an error.
  Status Unexpected(const Result<std::optional<SyncMessage>>& message) {
    if (!message.ok()) return message.status();
    if (!message->has_value()) {
      Result<sys::WaitResult> waited = kernel_.Wait(launched_.pid, 0);
      reaped_ = waited.ok();
      std::string ending = waited.ok() ? DescribeWaitStatus(waited->status) : "exited";
      return Status(Code::kInternal, "process " + std::to_string(launched_.pid) + " " + ending +
                                         " before it was ready");
    }
    const SyncMessage& received = **message;
    if (received.type == SyncMessageType::kError) return DecodeSyncError(received.text);
    return Status(Code::kInternal, "sync pipe: unexpected message type " +
                                       std::string(1, static_cast<char>(received.type)));
  }

  Status CompleteNamespace() {
    Result<std::optional<SyncMessage>> message = Receive();
    if (!message.ok() || !message->has_value() ||
        (*message)->type != SyncMessageType::kNamespaceReady) {
      return Unexpected(message);
    }
    if (!join_) REAPER_RETURN_IF_ERROR(overlay_.Pin(launched_.pid, &pin_));
    launched_.created_namespace = !join_;
    return SendSyncMessage(kernel_, write_fd_, SyncMessageType::kContinue);
  }

  Status AwaitReady() {
    while (true) {
      Result<std::optional<SyncMessage>> message = Receive();
      if (!message.ok() || !message->has_value()) return Unexpected(message);
      SyncMessageType type = (*message)->type;
      if (type == SyncMessageType::kReady) return Status::Ok();
      if (type != SyncMessageType::kWarning) return Unexpected(message);
      launched_.warnings.push_back((*message)->text);
    }
  }

  // For `exec`: the sync pipe closes when execve succeeds (close-on-exec) or
  // brings the execve error.
  Status AwaitExec() {
    Result<std::optional<SyncMessage>> message = Receive();
    if (message.ok() && !message->has_value()) return Status::Ok();
    if (message.ok() && (*message)->type == SyncMessageType::kError) {
      Status failed = DecodeSyncError((*message)->text);
      (void)kernel_.Wait(launched_.pid, 0);
      reaped_ = true;
      return failed;
    }
    return Unexpected(message);
  }

  // Leaves nothing behind: C is killed and reaped, a pin made by this launch
  // is removed.
  void Abort() {
    if (launched_.pid > 0 && !reaped_) {
      (void)kernel_.Kill(launched_.pid, SIGKILL);
      (void)kernel_.Wait(launched_.pid, 0);
    }
    (void)overlay_.Unpin(pin_);
  }

  sys::Kernel& kernel_;
  OverlayNamespace& overlay_;
  ChildScheduler* scheduler_;
  int lock_fd_ = -1;
  int read_fd_ = -1;
  int write_fd_ = -1;
  int exec_fifo_fd_ = -1;
  bool join_ = false;
  bool reaped_ = false;
  PinRecord pin_;
  LaunchedProcess launched_;
};

Status NotFoundExecutable(const std::string& arg0) {
  return Status(Code::kNotFound, "exec \"" + arg0 + "\": No such file or directory", ENOENT);
}

Status NotExecutable(const std::string& arg0) {
  return Status(Code::kPermissionDenied, "exec \"" + arg0 + "\": Permission denied", EACCES);
}

// 0 when `candidate` is an executable regular file, else the errno execve
// would fail with.
int CheckExecutable(sys::Kernel& kernel, const std::string& candidate) {
  Result<sys::FileInfo> info = kernel.Stat(candidate);
  if (!info.ok()) return info.status().error_number() == 0 ? ENOENT : info.status().error_number();
  if (info->type != sys::FileInfo::Type::kRegular) return EACCES;
  Status access = kernel.Access(candidate, X_OK);
  return access.ok() ? 0 : EACCES;
}

}  // namespace

Result<std::string> ResolveExecutable(sys::Kernel& kernel, const std::string& arg0,
                                      const std::string& path) {
  if (arg0.find('/') != std::string::npos) {
    int error = CheckExecutable(kernel, arg0);
    if (error == 0) return arg0;
    return error == EACCES ? NotExecutable(arg0) : NotFoundExecutable(arg0);
  }

  bool saw_denied = false;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    std::string directory = path.substr(start, end - start);
    std::string candidate = (directory.empty() ? "." : directory) + "/" + arg0;
    int error = CheckExecutable(kernel, candidate);
    if (error == 0) return candidate;
    saw_denied = saw_denied || error == EACCES;
    start = end + 1;
  }
  // Like execvp, a name found only without execute permission reports that.
  return saw_denied ? NotExecutable(arg0) : NotFoundExecutable(arg0);
}

ProcessLauncher::ProcessLauncher(sys::Kernel& kernel, OverlayNamespace& overlay,
                                 ChildScheduler* scheduler)
    : kernel_(kernel), overlay_(overlay), scheduler_(scheduler) {}

Result<LaunchedProcess> ProcessLauncher::Launch(const LaunchRequest& request) {
  if (request.process.args.empty()) {
    return Status(Code::kInvalidArgument, "process.args is empty");
  }
  LaunchParent parent(kernel_, overlay_, scheduler_);
  return parent.Launch(request);
}

}  // namespace runtime
}  // namespace reaper
