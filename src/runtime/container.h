// Containers: the lifecycle operations behind reaper-runtime's verbs.
//
// Status transitions (runtime/state_store.h derives the status):
//   create: (none) -> created     the process waits on exec.fifo
//   start:  created -> running    exec.fifo is read and removed
//   kill:   created|running       signals the process (or its group)
//   delete: stopped -> (none); created -> (none) after SIGKILL; running ->
//           (none) only with --force, after SIGKILL to the process group
//   exec:   created|running       adds a process in the same namespace
// Every error message starts with the operation and the container id:
// "create container t1: config.json: process.args is empty".
//
// Thread-safety: none; one operation per reaper-runtime invocation.
#ifndef REAPER_RUNTIME_CONTAINER_H_
#define REAPER_RUNTIME_CONTAINER_H_

#include <string>

#include "common/status.h"
#include "runtime/overlay_namespace.h"
#include "runtime/process_launcher.h"
#include "runtime/runtime_log.h"
#include "runtime/state_store.h"
#include "sys/kernel.h"

namespace reaper {
namespace runtime {

class Containers {
 public:
  // `scheduler` is nullptr except in tests on the fake kernel
  // (runtime/process_launcher.h).
  Containers(sys::Kernel& kernel, StateStore& store, OverlayNamespace& overlay, RuntimeLog& log,
             ChildScheduler* scheduler = nullptr);

  // Prepares the process of <bundle>/config.json and leaves it waiting for
  // Start. The bundle may be relative to the working directory. Writes the
  // pid to pid_file when it is not empty. On failure nothing is left: no
  // state directory, no process, no new mount.
  Status Create(const std::string& id, const std::string& bundle, const std::string& pid_file);

  // Lets a created process exec. FailedPrecondition when the container is
  // not created; the execve error when the exec failed.
  Status Start(const std::string& id);

  // The OCI state document, one line of JSON.
  Result<std::string> State(const std::string& id);

  // Sends `signal` to the process, or with `all` to its process group (the
  // process is a session and group leader). FailedPrecondition when the
  // process is gone and `all` is false.
  Status Kill(const std::string& id, int signal, bool all);

  // Removes the container's state. NotFound for an unknown id unless
  // `force`.
  Status Delete(const std::string& id, bool force);

  // Runs the Process JSON of `process_file` in the container's namespace,
  // with reaper-runtime's stdio. With `detach`, returns 0 once the process
  // has exec'd. Otherwise waits for it and returns its exit status, or 128 +
  // the signal number when a signal ended it.
  Result<int> Exec(const std::string& id, const std::string& process_file,
                   const std::string& pid_file, bool detach);

 private:
  Status DoCreate(const std::string& id, const std::string& bundle, const std::string& pid_file);
  Status CreateExecFifo(const std::string& id);
  Status ReleaseCreatedProcess(const ContainerState& state);
  Result<std::string> OpenAndReadExecFifo(const ContainerState& state, bool blocking);
  Result<std::string> ReadExecFifo(int fd);
  Result<std::string> AbsolutePath(const std::string& path);
  Status WritePidFile(const std::string& path, pid_t pid);
  void LogLaunch(const std::string& id, const LaunchedProcess& launched);
  void LogSkippedMounts(const std::string& id, const std::vector<MountSpec>& mounts);

  sys::Kernel& kernel_;
  StateStore& store_;
  OverlayNamespace& overlay_;
  RuntimeLog& log_;
  ChildScheduler* scheduler_;
};

}  // namespace runtime
}  // namespace reaper

#endif  // REAPER_RUNTIME_CONTAINER_H_
