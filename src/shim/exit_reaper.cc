#include "shim/exit_reaper.h"

#include <signal.h>
#include <sys/wait.h>

#include <cerrno>
#include <string>
#include <utility>

namespace reaper::shim {

ExitReaper::ExitReaper(sys::Kernel& kernel, Logger& logger) : kernel_(kernel), logger_(logger) {}

ExitReaper::~ExitReaper() {
  if (signal_fd_ >= 0) (void)kernel_.Close(signal_fd_);
}

Status ExitReaper::Open() {
  REAPER_RETURN_IF_ERROR(kernel_.SetSignalMask(SIG_BLOCK, {SIGCHLD}).Annotate("block SIGCHLD"));
  Result<int> fd = kernel_.SignalFd({SIGCHLD});
  if (!fd.ok()) return fd.status().Annotate("open a signalfd for SIGCHLD");
  signal_fd_ = *fd;
  return Status::Ok();
}

uint32_t ExitReaper::ExitStatusOf(int raw_status) {
  if (WIFSIGNALED(raw_status)) return 128 + static_cast<uint32_t>(WTERMSIG(raw_status));
  return static_cast<uint32_t>(WEXITSTATUS(raw_status));
}

void ExitReaper::OnReadable() {
  // A signal only reports that some child changed state, and wait4 returns
  // which one.
  while (true) {
    Result<sys::SignalInfo> signal = kernel_.ReadSignal(signal_fd_);
    if (signal.ok()) continue;
    if (signal.status().code() != Code::kUnavailable) {
      logger_.Error("read SIGCHLD from the signalfd failed",
                    {{"error", signal.status().message()}});
    }
    break;
  }
  ReapExited();
}

void ExitReaper::ReapExited() {
  while (true) {
    Result<sys::WaitResult> reaped = kernel_.Wait(-1, WNOHANG);
    if (!reaped.ok()) {
      if (reaped.status().error_number() != ECHILD) {
        logger_.Error("wait for exited children failed", {{"error", reaped.status().message()}});
      }
      return;
    }
    if (reaped->pid == 0) return;
    Dispatch(reaped->pid, reaped->status);
  }
}

Status ExitReaper::WaitFor(pid_t pid) {
  Result<sys::WaitResult> reaped = kernel_.Wait(pid, 0);
  if (!reaped.ok()) return reaped.status().Annotate("wait for pid " + std::to_string(pid));
  Dispatch(reaped->pid, reaped->status);
  return Status::Ok();
}

void ExitReaper::Dispatch(pid_t pid, int raw_status) {
  ExitInfo exit{ExitStatusOf(raw_status), kernel_.Now()};
  auto found = handlers_.find(pid);
  if (found == handlers_.end()) {
    logger_.Debug("reaped a child that belongs to no process yet",
                  {{"pid", std::to_string(pid)}, {"exit_status", std::to_string(exit.status)}});
    Keep(pid, exit);
    return;
  }
  ExitHandler handler = std::move(found->second);
  handlers_.erase(found);
  handler(pid, exit);
}

void ExitReaper::Keep(pid_t pid, const ExitInfo& exit) {
  if (kept_exits_.count(pid) == 0) kept_order_.push_back(pid);
  kept_exits_[pid] = exit;
  while (kept_exits_.size() > kMaxKeptExits) {
    kept_exits_.erase(kept_order_.front());
    kept_order_.pop_front();
  }
}

void ExitReaper::Watch(pid_t pid, ExitHandler handler) {
  auto kept_exit = kept_exits_.find(pid);
  if (kept_exit == kept_exits_.end()) {
    handlers_[pid] = std::move(handler);
    return;
  }
  ExitInfo exit = kept_exit->second;
  kept_exits_.erase(kept_exit);
  for (auto it = kept_order_.begin(); it != kept_order_.end(); ++it) {
    if (*it == pid) {
      kept_order_.erase(it);
      break;
    }
  }
  handler(pid, exit);
}

void ExitReaper::Unwatch(pid_t pid) { handlers_.erase(pid); }

void ExitReaper::ForgetKeptExits() {
  kept_exits_.clear();
  kept_order_.clear();
}

}  // namespace reaper::shim
