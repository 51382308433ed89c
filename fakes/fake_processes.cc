// FakeKernel: the process table, fork/exec/exit/wait, process groups and
// signals.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>

#include <gtest/gtest.h>

#include <algorithm>

#include "fakes/fake_kernel.h"
#include "fakes/fake_kernel_internal.h"

namespace fakes {

using reaper::Code;
using sys::FileInfo;
using sys::Result;
using sys::Status;

namespace {

constexpr int kMaxSignal = 64;

bool ValidSignal(int signal) { return signal >= 1 && signal <= kMaxSignal; }

// Signals whose default action is to do nothing.
bool IgnoredByDefault(int signal) {
  return signal == SIGCHLD || signal == SIGCONT || signal == SIGURG || signal == SIGWINCH;
}

bool StopsByDefault(int signal) {
  return signal == SIGSTOP || signal == SIGTSTP || signal == SIGTTIN || signal == SIGTTOU;
}

std::string JoinNumbers(const std::vector<int>& numbers) {
  std::string joined;
  for (int number : numbers) joined += (joined.empty() ? "" : ",") + std::to_string(number);
  return joined;
}

template <typename Container>
std::vector<int> Sorted(const Container& container) {
  std::vector<int> values(container.begin(), container.end());
  std::sort(values.begin(), values.end());
  return values;
}

}  // namespace

// ---- Test API --------------------------------------------------------------------

void FakeKernel::SetCurrent(pid_t pid) {
  const ProcessRecord* process = Find(pid);
  if (process == nullptr || process->info.state == ProcessState::kZombie) {
    ADD_FAILURE() << "fake kernel: SetCurrent(" << pid << "): no such live process";
    return;
  }
  current_ = pid;
}

void FakeKernel::RunAsChild(pid_t pid, const std::function<void()>& body) {
  const ProcessRecord* process = Find(pid);
  if (process == nullptr || process->info.state == ProcessState::kZombie) {
    ADD_FAILURE() << "fake kernel: RunAsChild(" << pid << "): no such live process";
    return;
  }
  const pid_t previous = current_;
  current_ = pid;
  ++child_depth_;
  try {
    body();
  } catch (const ExitException& exit) {
    Terminate(pid, exit.wait_status);
  } catch (const ExecException&) {
    // The process now runs the program that Execve recorded.
  }
  --child_depth_;
  current_ = previous;
}

void FakeKernel::ExitProcess(pid_t pid, int code) { Terminate(pid, (code & 0xff) << 8); }

bool FakeKernel::ProcessExists(pid_t pid) const { return Find(pid) != nullptr; }

FakeKernel::ProcessInfo FakeKernel::Process(pid_t pid) const {
  const ProcessRecord* process = Find(pid);
  if (process == nullptr) {
    ADD_FAILURE() << "fake kernel: Process(" << pid << "): no such process";
    return ProcessInfo();
  }
  return process->info;
}

std::vector<pid_t> FakeKernel::Children(pid_t pid) const {
  std::vector<pid_t> children;
  for (const auto& [child, process] : processes_) {
    if (process.info.parent == pid) children.push_back(child);
  }
  return children;
}

void FakeKernel::SetSignalHandled(pid_t pid, int signal) {
  ProcessRecord* process = Find(pid);
  if (process == nullptr) {
    ADD_FAILURE() << "fake kernel: SetSignalHandled(" << pid << "): no such process";
    return;
  }
  process->ignored.erase(signal);
  process->handled.insert(signal);
}

std::vector<int> FakeKernel::SignalsReceived(pid_t pid) const {
  const ProcessRecord* process = Find(pid);
  return process == nullptr ? std::vector<int>() : process->received;
}

std::vector<int> FakeKernel::SignalMask(pid_t pid) const {
  const ProcessRecord* process = Find(pid);
  return process == nullptr ? std::vector<int>() : Sorted(process->mask);
}

std::vector<int> FakeKernel::IgnoredSignals(pid_t pid) const {
  const ProcessRecord* process = Find(pid);
  return process == nullptr ? std::vector<int>() : Sorted(process->ignored);
}

std::vector<int> FakeKernel::PendingSignals(pid_t pid) const {
  std::vector<int> pending;
  const ProcessRecord* process = Find(pid);
  if (process == nullptr) return pending;
  for (const auto& [signal, sender] : process->pending) pending.push_back(signal);
  return pending;
}

// ---- Fork, Execve, Exit, Wait ------------------------------------------------------

Result<pid_t> FakeKernel::Fork() {
  if (auto failure = Enter("Fork", "fork", {})) return *failure;
  ProcessRecord child = Caller();
  const pid_t pid = next_pid_++;
  child.info.pid = pid;
  child.info.parent = current_;
  child.info.state = ProcessState::kRunning;
  // fork(2): the subreaper flag, the parent-death signal and pending signals
  // are not inherited.
  child.info.child_subreaper = false;
  child.info.parent_death_signal = 0;
  child.pending.clear();
  child.received.clear();
  for (auto& [fd, entry] : child.fds) ++entry.file->fd_count;
  processes_[pid] = std::move(child);
  return pid;
}

Status FakeKernel::Execve(const std::string& path, const std::vector<std::string>& argv,
                          const std::vector<std::string>& envp) {
  const std::string what = "execve " + path;
  std::vector<std::string> arguments = {internal::Quote(path)};
  for (const std::string& argument : argv) arguments.push_back(internal::Quote(argument));
  if (auto failure = Enter("Execve", what, arguments)) return *failure;

  Result<Resolved> resolved = Resolve(path, true, what);
  if (!resolved.ok()) return resolved.status();
  if (!resolved->node) return Status::FromErrno(ENOENT, what);
  if (resolved->node->type != FileInfo::Type::kRegular) return Status::FromErrno(EACCES, what);
  REAPER_RETURN_IF_ERROR(CheckPermission(*resolved->node, 1, what));

  ProcessRecord& process = Caller();
  std::vector<int> closing;
  for (const auto& [fd, entry] : process.fds) {
    if (entry.close_on_exec) closing.push_back(fd);
  }
  for (int fd : closing) ReleaseFd(process, fd);
  // execve(2): handled signals return to the default action; ignored ones,
  // the mask and pending signals stay.
  process.handled.clear();
  process.info.state = ProcessState::kExecuted;
  process.info.program = path;
  process.info.argv = argv;
  process.info.env = envp;
  CollectNamespaces();
  if (child_depth_ == 0) {
    ADD_FAILURE() << "fake kernel: pid " << current_ << " called execve " << path
                  << " outside RunAsChild";
  }
  throw ExecException();
}

void FakeKernel::Exit(int code) {
  Enter("Exit", "exit", {std::to_string(code)});
  if (child_depth_ == 0) {
    ADD_FAILURE() << "fake kernel: pid " << current_ << " called exit(" << code
                  << ") outside RunAsChild";
  }
  throw ExitException{(code & 0xff) << 8};
}

Result<sys::WaitResult> FakeKernel::Wait(pid_t pid, int options) {
  const std::string what = pid == -1 ? std::string("wait4 any child") : "wait4 pid " + std::to_string(pid);
  if (auto failure = Enter("Wait", what, {std::to_string(pid), internal::Hex(options)})) {
    return *failure;
  }
  const ProcessRecord& caller = Caller();
  std::vector<pid_t> candidates;
  for (const auto& [child, process] : processes_) {
    if (process.info.parent != current_) continue;
    const bool matches = pid == -1 || (pid > 0 && child == pid) ||
                         (pid == 0 && process.info.pgid == caller.info.pgid) ||
                         (pid < -1 && process.info.pgid == -pid);
    if (matches) candidates.push_back(child);
  }
  if (candidates.empty()) return Status::FromErrno(ECHILD, what);

  for (pid_t child : candidates) {
    const ProcessRecord& process = processes_.at(child);
    if (process.info.state != ProcessState::kZombie) continue;
    sys::WaitResult result;
    result.pid = child;
    result.status = process.info.wait_status;
    processes_.erase(child);
    return result;
  }
  if (options & WNOHANG) return sys::WaitResult();
  return WouldBlock(what + " (no child has exited)");
}

// ---- Signals ---------------------------------------------------------------------

Status FakeKernel::Kill(pid_t pid, int signal) {
  const std::string target = pid < 0 ? "process group " + std::to_string(-pid)
                                     : "pid " + std::to_string(pid);
  const std::string what = "kill " + target + " with signal " + std::to_string(signal);
  if (auto failure = Enter("Kill", what, {std::to_string(pid), std::to_string(signal)})) {
    return *failure;
  }
  if (signal < 0 || signal > kMaxSignal) return Status::FromErrno(EINVAL, what);
  if (pid == -1) return NotModeled("kill of every process (pid -1)");

  std::vector<pid_t> targets;
  if (pid > 0) {
    if (Find(pid) != nullptr) targets.push_back(pid);
  } else {
    targets = ProcessGroup(pid == 0 ? Caller().info.pgid : -pid);
  }
  if (targets.empty()) return Status::FromErrno(ESRCH, what);

  const uid_t uid = Caller().info.uid;
  std::vector<pid_t> permitted;
  for (pid_t target_pid : targets) {
    if (uid == 0 || processes_.at(target_pid).info.uid == uid) permitted.push_back(target_pid);
  }
  if (permitted.empty()) return Status::FromErrno(EPERM, what);
  if (signal == 0) return Status::Ok();

  // The caller last, since its own death ends the calling code.
  std::stable_partition(permitted.begin(), permitted.end(),
                        [this](pid_t target_pid) { return target_pid != current_; });
  const pid_t sender = current_;
  for (pid_t target_pid : permitted) {
    ProcessRecord* process = Find(target_pid);
    if (process == nullptr) continue;
    Status status = SendSignal(*process, signal, sender);
    if (!status.ok()) return status.Annotate(what);
  }
  return Status::Ok();
}

std::vector<pid_t> FakeKernel::ProcessGroup(pid_t pgid) const {
  std::vector<pid_t> members;
  for (const auto& [pid, process] : processes_) {
    if (process.info.pgid == pgid) members.push_back(pid);
  }
  return members;
}

Status FakeKernel::SendSignal(ProcessRecord& target, int signal, pid_t sender) {
  if (target.info.state == ProcessState::kZombie) return Status::Ok();
  // init only receives the signals it has a handler for, SIGKILL included.
  if (target.info.pid == kInitPid && target.handled.count(signal) == 0) return Status::Ok();
  if (signal == SIGKILL) {
    KillProcess(target.info.pid, SIGKILL);
    return Status::Ok();
  }
  if (target.mask.count(signal) != 0) {
    target.pending.emplace(signal, sender);
    return Status::Ok();
  }
  return Deliver(target, signal, sender);
}

Status FakeKernel::Deliver(ProcessRecord& target, int signal, pid_t /*sender*/) {
  if (target.ignored.count(signal) != 0) return Status::Ok();
  if (target.handled.count(signal) != 0) {
    target.received.push_back(signal);
    return Status::Ok();
  }
  if (IgnoredByDefault(signal)) return Status::Ok();
  if (StopsByDefault(signal)) return NotModeled("stopping a process with signal " + std::to_string(signal));
  KillProcess(target.info.pid, signal);
  return Status::Ok();
}

// Ends `pid` by `signal`. When that is the process running the test's code,
// its code must not go on: RunAsChild catches the exception.
void FakeKernel::KillProcess(pid_t pid, int signal) {
  Terminate(pid, signal);
  if (pid != current_) return;
  if (child_depth_ > 0) throw ExitException{signal};
  ADD_FAILURE() << "fake kernel: the test's process " << pid << " was killed by signal " << signal;
}

// Delivers the pending signals that are no longer blocked.
Status FakeKernel::DeliverUnblocked(ProcessRecord& process) {
  std::vector<std::pair<int, pid_t>> ready;
  for (const auto& [signal, sender] : process.pending) {
    if (process.mask.count(signal) == 0) ready.emplace_back(signal, sender);
  }
  for (const auto& [signal, sender] : ready) {
    process.pending.erase(signal);
    REAPER_RETURN_IF_ERROR(Deliver(process, signal, sender));
  }
  return Status::Ok();
}

Status FakeKernel::SetSignalMask(int how, const std::vector<int>& signals) {
  const std::string what = "sigprocmask how " + std::to_string(how);
  if (auto failure = Enter("SetSignalMask", what, {std::to_string(how), internal::Quote(JoinNumbers(signals))})) {
    return *failure;
  }
  for (int signal : signals) {
    if (!ValidSignal(signal)) return Status::FromErrno(EINVAL, what);
  }
  ProcessRecord& process = Caller();
  if (how == SIG_SETMASK) {
    process.mask.clear();
  } else if (how != SIG_BLOCK && how != SIG_UNBLOCK) {
    return Status::FromErrno(EINVAL, what);
  }
  for (int signal : signals) {
    if (how == SIG_UNBLOCK) {
      process.mask.erase(signal);
    } else if (signal != SIGKILL && signal != SIGSTOP) {
      // sigprocmask(2) silently leaves SIGKILL and SIGSTOP unblocked.
      process.mask.insert(signal);
    }
  }
  return DeliverUnblocked(process);
}

Result<int> FakeKernel::SignalFd(const std::vector<int>& signals) {
  const std::string what = "signalfd";
  if (auto failure = Enter("SignalFd", what, {internal::Quote(JoinNumbers(signals))})) return *failure;
  for (int signal : signals) {
    if (!ValidSignal(signal)) return Status::FromErrno(EINVAL, what);
  }
  auto file = std::make_shared<OpenFile>();
  file->kind = OpenFile::Kind::kSignalFd;
  file->path = "signalfd";
  file->status_flags = O_RDONLY | O_NONBLOCK;
  file->reads = true;
  file->signals.insert(signals.begin(), signals.end());
  return Install(Caller(), file, true);
}

Result<sys::SignalInfo> FakeKernel::ReadSignal(int signal_fd) {
  const std::string what = "read signalfd fd " + std::to_string(signal_fd);
  if (auto failure = Enter("ReadSignal", what, {std::to_string(signal_fd)})) return *failure;
  Result<OpenFilePtr> file = FileOf(signal_fd, what);
  if (!file.ok()) return file.status();
  if ((*file)->kind != OpenFile::Kind::kSignalFd) return Status::FromErrno(EINVAL, what);

  // A signalfd reads the signals of the process that reads it, lowest
  // number first.
  ProcessRecord& process = Caller();
  for (auto it = process.pending.begin(); it != process.pending.end(); ++it) {
    if ((*file)->signals.count(it->first) == 0) continue;
    sys::SignalInfo info;
    info.signal = it->first;
    info.pid = it->second;
    process.pending.erase(it);
    return info;
  }
  return Status::FromErrno(EAGAIN, what);
}

Status FakeKernel::SetSignalIgnored(int signal, bool ignore) {
  const std::string what = "sigaction signal " + std::to_string(signal);
  if (auto failure = Enter("SetSignalIgnored", what, {std::to_string(signal), ignore ? "1" : "0"})) {
    return *failure;
  }
  if (!ValidSignal(signal) || signal == SIGKILL || signal == SIGSTOP) {
    return Status::FromErrno(EINVAL, what);
  }
  ProcessRecord& process = Caller();
  process.handled.erase(signal);
  if (ignore) {
    process.ignored.insert(signal);
  } else {
    process.ignored.erase(signal);
  }
  // sigaction(2) discards a pending signal whose new action is to ignore it.
  if (ignore || IgnoredByDefault(signal)) process.pending.erase(signal);
  return Status::Ok();
}

Status FakeKernel::ResetSignalDispositions() {
  if (auto failure = Enter("ResetSignalDispositions", "sigaction", {})) return *failure;
  ProcessRecord& process = Caller();
  process.ignored.clear();
  process.handled.clear();
  for (int signal : {SIGCHLD, SIGCONT, SIGURG, SIGWINCH}) process.pending.erase(signal);
  return Status::Ok();
}

// ---- Exit and re-parenting -------------------------------------------------------

void FakeKernel::Terminate(pid_t pid, int wait_status) {
  ProcessRecord* process = Find(pid);
  if (process == nullptr || process->info.state == ProcessState::kZombie) return;

  std::vector<int> fds;
  for (const auto& [fd, entry] : process->fds) fds.push_back(fd);
  for (int fd : fds) ReleaseFd(*process, fd);
  process->info.state = ProcessState::kZombie;
  process->info.wait_status = wait_status;
  process->pending.clear();

  const pid_t new_parent = NewParentFor(pid);
  for (pid_t child : Children(pid)) {
    ProcessRecord& orphan = processes_.at(child);
    orphan.info.parent = new_parent;
    if (orphan.info.state == ProcessState::kZombie) {
      NotifyParent(child);
    } else if (orphan.info.parent_death_signal != 0) {
      // A stop signal as the parent-death signal is not modeled; it is
      // dropped.
      static_cast<void>(SendSignal(orphan, orphan.info.parent_death_signal, pid));
    }
  }
  NotifyParent(pid);
  CollectNamespaces();
}

// The nearest living ancestor marked as child subreaper, else init.
pid_t FakeKernel::NewParentFor(pid_t orphan_parent) const {
  const ProcessRecord* ancestor = Find(Find(orphan_parent)->info.parent);
  while (ancestor != nullptr && ancestor->info.pid != kInitPid) {
    if (ancestor->info.child_subreaper && ancestor->info.state != ProcessState::kZombie) {
      return ancestor->info.pid;
    }
    ancestor = Find(ancestor->info.parent);
  }
  return kInitPid;
}

// A child became a zombie: init reaps it at once, a parent that ignores
// SIGCHLD has it reaped automatically, any other parent gets SIGCHLD.
void FakeKernel::NotifyParent(pid_t child) {
  ProcessRecord& process = processes_.at(child);
  ProcessRecord* parent = Find(process.info.parent);
  if (parent == nullptr || parent->info.pid == kInitPid || parent->ignored.count(SIGCHLD) != 0) {
    processes_.erase(child);
    return;
  }
  static_cast<void>(SendSignal(*parent, SIGCHLD, child));  // SIGCHLD never stops
}

// ---- Process ids, groups and sessions ---------------------------------------------

pid_t FakeKernel::GetPid() { return current_; }

pid_t FakeKernel::GetParentPid() { return Caller().info.parent; }

Result<pid_t> FakeKernel::SetSid() {
  if (auto failure = Enter("SetSid", "setsid", {})) return *failure;
  ProcessRecord& caller = Caller();
  if (!ProcessGroup(caller.info.pid).empty()) return Status::FromErrno(EPERM, "setsid");
  caller.info.sid = caller.info.pid;
  caller.info.pgid = caller.info.pid;
  return caller.info.pid;
}

Status FakeKernel::SetPgid(pid_t pid, pid_t pgid) {
  const std::string what = "setpgid pid " + std::to_string(pid) + " to " + std::to_string(pgid);
  if (auto failure = Enter("SetPgid", what, {std::to_string(pid), std::to_string(pgid)})) {
    return *failure;
  }
  if (pgid < 0) return Status::FromErrno(EINVAL, what);
  const pid_t target_pid = pid == 0 ? current_ : pid;
  const pid_t group = pgid == 0 ? target_pid : pgid;
  ProcessRecord* target = Find(target_pid);
  const ProcessRecord& caller = Caller();
  if (target == nullptr || (target_pid != current_ && target->info.parent != current_)) {
    return Status::FromErrno(ESRCH, what);
  }
  if (target->info.sid != caller.info.sid) return Status::FromErrno(EPERM, what);
  if (target_pid != current_ && target->info.state == ProcessState::kExecuted) {
    return Status::FromErrno(EACCES, what);
  }
  if (target->info.sid == target_pid) return Status::FromErrno(EPERM, what);
  if (group != target_pid) {
    bool group_in_session = false;
    for (pid_t member : ProcessGroup(group)) {
      group_in_session |= processes_.at(member).info.sid == caller.info.sid;
    }
    if (!group_in_session) return Status::FromErrno(EPERM, what);
  }
  target->info.pgid = group;
  return Status::Ok();
}

Result<pid_t> FakeKernel::GetPgid(pid_t pid) {
  const std::string what = "getpgid pid " + std::to_string(pid);
  if (auto failure = Enter("GetPgid", what, {std::to_string(pid)})) return *failure;
  const ProcessRecord* process = Find(pid == 0 ? current_ : pid);
  if (process == nullptr) return Status::FromErrno(ESRCH, what);
  return process->info.pgid;
}

Status FakeKernel::SetChildSubreaper() {
  if (auto failure = Enter("SetChildSubreaper", "prctl PR_SET_CHILD_SUBREAPER", {})) {
    return *failure;
  }
  Caller().info.child_subreaper = true;
  return Status::Ok();
}

Status FakeKernel::SetParentDeathSignal(int signal) {
  const std::string what = "prctl PR_SET_PDEATHSIG signal " + std::to_string(signal);
  if (auto failure = Enter("SetParentDeathSignal", what, {std::to_string(signal)})) {
    return *failure;
  }
  if (signal != 0 && !ValidSignal(signal)) return Status::FromErrno(EINVAL, what);
  Caller().info.parent_death_signal = signal;
  return Status::Ok();
}

}  // namespace fakes
