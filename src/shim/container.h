// Container: one task of the shim, its init process and its exec processes.
//
// A sandbox container (the CRI pod sandbox, annotation
// io.kubernetes.cri.container-type=sandbox) has no workload process at all:
// its init process stands for the pod, with the shim's own pid, and stays
// running until it is killed.
//
// Thread-safety: none; used on the shim's loop thread.
#ifndef REAPER_SHIM_CONTAINER_H_
#define REAPER_SHIM_CONTAINER_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "shim/process.h"

namespace reaper::shim {

class Container {
 public:
  Container(std::string id, std::string bundle, bool is_sandbox, StdioPaths init_stdio);
  Container(const Container&) = delete;
  Container& operator=(const Container&) = delete;

  const std::string& id() const { return id_; }
  const std::string& bundle() const { return bundle_; }
  bool is_sandbox() const { return is_sandbox_; }
  Process& init() { return init_; }

  // The process `exec_id` names: init for an empty id. NotFound for an
  // unknown exec id.
  Result<Process*> FindProcess(const std::string& exec_id);
  // Adds an exec process; AlreadyExists when its id is taken.
  Status AddExec(std::unique_ptr<Process> process);
  void RemoveExec(const std::string& exec_id);
  std::vector<Process*> execs();

 private:
  const std::string id_;
  const std::string bundle_;
  const bool is_sandbox_;
  Process init_;
  std::map<std::string, std::unique_ptr<Process>> execs_;
};

}  // namespace reaper::shim

#endif  // REAPER_SHIM_CONTAINER_H_
