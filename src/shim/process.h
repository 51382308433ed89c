// Process: one workload process of a task, the init process or an exec, and
// its lifecycle.
//
// States, and the operations each allows (Process::Check):
//
//   state     Start                Kill                       Delete                       Exec
//   CREATED   ok                   FailedPrecondition         ok (init: killed first)      FailedPrecondition
//   RUNNING   FailedPrecondition   ok                         FailedPrecondition           ok
//   STOPPED   FailedPrecondition   NotFound "process already  ok                           FailedPrecondition
//                                  finished"
//
// "Exec" means adding an exec process to a container; it is checked on the
// container's init process. Wait is allowed in every state. The codes are
// the ones containerd's client code reacts to: NotFound from Kill means
// "already dead", FailedPrecondition means "wrong state".
//
// Thread-safety: none; used on the shim's loop thread.
#ifndef REAPER_SHIM_PROCESS_H_
#define REAPER_SHIM_PROCESS_H_

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "shim/stdio.h"
#include "sys/kernel.h"

namespace reaper::shim {

enum class ProcessState { kCreated, kRunning, kStopped };
enum class Operation { kStart, kKill, kDelete, kExec };

const char* ProcessStateName(ProcessState state);
const char* OperationName(Operation operation);

// The end of a process: the status containerd reports (exit code, or 128 +
// signal) and the time the shim reaped it.
struct ExitInfo {
  uint32_t status = 0;
  sys::Timespec time;
};

// Receives the exit of a process that a Wait call waits for.
using ExitCallback = std::function<void(const ExitInfo& exit)>;

class Process {
 public:
  // `exec_id` is empty for the init process.
  Process(std::string container_id, std::string exec_id, StdioPaths stdio_paths);
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  const std::string& container_id() const { return container_id_; }
  const std::string& exec_id() const { return exec_id_; }
  bool is_init() const { return exec_id_.empty(); }
  // The id that TaskExit carries: the exec id, or the container id for init.
  const std::string& event_id() const { return is_init() ? container_id_ : exec_id_; }
  ProcessState state() const { return state_; }
  // 0 until the runtime has created the process.
  pid_t pid() const { return pid_; }
  // Valid in STOPPED only.
  const ExitInfo& exit() const { return exit_; }
  const StdioPaths& stdio_paths() const { return stdio_paths_; }
  // The shim's stdio fds, or nullptr when none are open.
  ProcessStdio* stdio() { return stdio_.get(); }

  // Returns OK when `operation` is allowed in the current state, else the
  // error of the table above, naming this process.
  Status Check(Operation operation) const;

  // The process exists, with `pid`, and waits to be started.
  void SetCreated(pid_t pid);
  void SetRunning(pid_t pid);
  // The process has been reaped, but its exit waits until its output is
  // drained: it still reports RUNNING, and its pid may already belong to
  // another process, so it must not be signalled by pid.
  void SetReaped() { reaped_ = true; }
  bool reaped() const { return reaped_; }
  // Records the exit and returns the callbacks of the pending Waits, which
  // the caller runs. Ignored (returns none) when already stopped.
  std::vector<ExitCallback> SetExited(const ExitInfo& exit);

  void set_stdio(std::unique_ptr<ProcessStdio> stdio) { stdio_ = std::move(stdio); }
  // The OCI Process (JSON) of an exec, from ExecProcessRequest.spec.
  const std::string& spec() const { return spec_; }
  void set_spec(std::string spec) { spec_ = std::move(spec); }
  // Keeps `callback` until the process exits. Must not be called in STOPPED.
  void AddWaiter(ExitCallback callback) { waiters_.push_back(std::move(callback)); }
  size_t waiter_count() const { return waiters_.size(); }

 private:
  std::string Describe() const;

  const std::string container_id_;
  const std::string exec_id_;
  const StdioPaths stdio_paths_;
  ProcessState state_ = ProcessState::kCreated;
  pid_t pid_ = 0;
  bool reaped_ = false;
  ExitInfo exit_;
  std::unique_ptr<ProcessStdio> stdio_;
  std::string spec_;
  std::vector<ExitCallback> waiters_;
};

}  // namespace reaper::shim

#endif  // REAPER_SHIM_PROCESS_H_
