// ExitReaper: the one place where the shim server reaps its children.
//
// The server is a child subreaper, so every workload and exec process ends up
// as its child. SIGCHLD is blocked and read through a signalfd. Each time the
// signalfd is readable, the reaper calls wait4(-1, WNOHANG) until no exited
// child is left, because one SIGCHLD may report several exits. It hands
// every exit to the handler registered for that pid.
//
// An exit whose pid has no handler yet is kept, because a process may exit
// before the task service has learned its pid (an exec that ends while
// reaper-runtime is still returning). Watch() for that pid then delivers it
// at once. Children that are nobody's processes (reaper-runtime's own
// helpers) leave such an entry too; at most kMaxKeptExits are kept, the
// oldest dropped first.
//
// Everything else that waits for a child must go through this class or wait
// for one specific pid on the loop thread, as RuntimeClient does for
// reaper-runtime, so that no exit is reaped twice or lost.
//
// Thread-safety: none; used on the shim's loop thread.
#ifndef REAPER_SHIM_EXIT_REAPER_H_
#define REAPER_SHIM_EXIT_REAPER_H_

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>

#include "common/log.h"
#include "common/status.h"
#include "shim/process.h"
#include "sys/kernel.h"

namespace reaper::shim {

class ExitReaper {
 public:
  using ExitHandler = std::function<void(pid_t pid, const ExitInfo& exit)>;

  static constexpr size_t kMaxKeptExits = 128;

  ExitReaper(sys::Kernel& kernel, Logger& logger);
  // Closes the signalfd; SIGCHLD stays blocked.
  ~ExitReaper();
  ExitReaper(const ExitReaper&) = delete;
  ExitReaper& operator=(const ExitReaper&) = delete;

  // Blocks SIGCHLD and opens the signalfd. Call before the first child is
  // created, so that no SIGCHLD is lost.
  Status Open();
  // The signalfd, to watch for EPOLLIN; -1 before Open().
  int fd() const { return signal_fd_; }

  // Drains the signalfd, then reaps. Call when fd() is readable.
  void OnReadable();
  // Reaps every exited child and dispatches each exit.
  void ReapExited();

  // Calls `handler` once, with the exit of `pid`: later, or now when that
  // exit was already reaped and kept. Replaces an earlier handler of `pid`.
  void Watch(pid_t pid, ExitHandler handler);
  // Forgets the handler of `pid`, if any.
  void Unwatch(pid_t pid);
  // Drops every kept exit. Call before creating a process: its pid cannot
  // have exited before the process existed, so a kept exit with that pid
  // would belong to an older process that had the same pid.
  void ForgetKeptExits();
  // Blocks until `pid` exits and dispatches its exit like ReapExited(). For
  // a child the caller has just sent SIGKILL. Fails with the errno of wait4
  // (ECHILD when `pid` is not a child).
  Status WaitFor(pid_t pid);

  size_t kept_exit_count() const { return kept_exits_.size(); }

  // Converts a raw wait status: the exit code, or 128 + the signal number
  // for a process killed by a signal (SIGKILL gives 137).
  static uint32_t ExitStatusOf(int raw_status);

 private:
  void Dispatch(pid_t pid, int raw_status);
  void Keep(pid_t pid, const ExitInfo& exit);

  sys::Kernel& kernel_;
  Logger& logger_;
  int signal_fd_ = -1;
  std::map<pid_t, ExitHandler> handlers_;
  std::map<pid_t, ExitInfo> kept_exits_;
  std::deque<pid_t> kept_order_;
};

}  // namespace reaper::shim

#endif  // REAPER_SHIM_EXIT_REAPER_H_
