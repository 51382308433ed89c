#include "shim/container.h"

#include <utility>

namespace reaper::shim {

Container::Container(std::string id, std::string bundle, bool is_sandbox, StdioPaths init_stdio)
    : id_(std::move(id)),
      bundle_(std::move(bundle)),
      is_sandbox_(is_sandbox),
      init_(id_, "", std::move(init_stdio)) {}

Result<Process*> Container::FindProcess(const std::string& exec_id) {
  if (exec_id.empty()) return &init_;
  auto found = execs_.find(exec_id);
  if (found == execs_.end()) {
    return Status(Code::kNotFound, "exec " + exec_id + " of task " + id_ + " not found");
  }
  return found->second.get();
}

Status Container::AddExec(std::unique_ptr<Process> process) {
  const std::string exec_id = process->exec_id();
  if (execs_.count(exec_id) != 0) {
    return Status(Code::kAlreadyExists, "exec " + exec_id + " of task " + id_ + " already exists");
  }
  execs_.emplace(exec_id, std::move(process));
  return Status::Ok();
}

void Container::RemoveExec(const std::string& exec_id) { execs_.erase(exec_id); }

std::vector<Process*> Container::execs() {
  std::vector<Process*> processes;
  for (auto& [exec_id, process] : execs_) processes.push_back(process.get());
  return processes;
}

}  // namespace reaper::shim
