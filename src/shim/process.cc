#include "shim/process.h"

#include <utility>

namespace reaper::shim {

const char* ProcessStateName(ProcessState state) {
  switch (state) {
    case ProcessState::kCreated: return "created";
    case ProcessState::kRunning: return "running";
    case ProcessState::kStopped: return "stopped";
  }
  return "unknown";
}

const char* OperationName(Operation operation) {
  switch (operation) {
    case Operation::kStart: return "start";
    case Operation::kKill: return "kill";
    case Operation::kDelete: return "delete";
    case Operation::kExec: return "exec";
  }
  return "unknown";
}

Process::Process(std::string container_id, std::string exec_id, StdioPaths stdio_paths)
    : container_id_(std::move(container_id)),
      exec_id_(std::move(exec_id)),
      stdio_paths_(std::move(stdio_paths)) {}

std::string Process::Describe() const {
  if (is_init()) return "task " + container_id_;
  return "exec " + exec_id_ + " of task " + container_id_;
}

Status Process::Check(Operation operation) const {
  const std::string name = Describe();
  switch (operation) {
    case Operation::kStart:
      if (state_ == ProcessState::kCreated) return Status::Ok();
      return Status(Code::kFailedPrecondition,
                    name + " cannot be started: it is " + ProcessStateName(state_));

    case Operation::kKill:
      if (state_ == ProcessState::kRunning) return Status::Ok();
      if (state_ == ProcessState::kStopped) {
        // The exact text containerd's own shims send for this case.
        return Status(Code::kNotFound, "process already finished");
      }
      return Status(Code::kFailedPrecondition, name + " cannot be signalled: it is not started");

    case Operation::kDelete:
      if (state_ != ProcessState::kRunning) return Status::Ok();
      return Status(Code::kFailedPrecondition,
                    "cannot delete a running process: " + name + " is running");

    case Operation::kExec:
      if (state_ == ProcessState::kRunning) return Status::Ok();
      return Status(Code::kFailedPrecondition,
                    "cannot exec in " + name + ": it is " + ProcessStateName(state_));
  }
  return Status(Code::kInternal, "unknown operation");
}

void Process::SetCreated(pid_t pid) {
  pid_ = pid;
  state_ = ProcessState::kCreated;
}

void Process::SetRunning(pid_t pid) {
  pid_ = pid;
  state_ = ProcessState::kRunning;
}

std::vector<ExitCallback> Process::SetExited(const ExitInfo& exit) {
  if (state_ == ProcessState::kStopped) return {};
  state_ = ProcessState::kStopped;
  exit_ = exit;
  std::vector<ExitCallback> waiters;
  waiters.swap(waiters_);
  return waiters;
}

}  // namespace reaper::shim
