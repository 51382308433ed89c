// StateStore: reaper-runtime's record of its containers, one directory per
// container under the root (--root, default /run/reaper/runtime):
//
//   <root>/<id>/state.json   what `create` recorded (ContainerState)
//   <root>/<id>/exec.fifo    exists from `create` until `start` has released
//                            the process
//
// A container's status is not stored but derived each time from the
// recorded pid and the kernel. The process must still exist, with the start
// time that `create` recorded (so a reused pid is not mistaken for the
// workload), and must not be a zombie. It is "created" while exec.fifo
// exists and "running" after.
//
// Thread-safety: none; each reaper-runtime invocation is one thread. Separate
// invocations for one id are serialized by the caller (the shim).
#ifndef REAPER_RUNTIME_STATE_STORE_H_
#define REAPER_RUNTIME_STATE_STORE_H_

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>

#include "common/proc_stat.h"
#include "common/status.h"
#include "sys/kernel.h"

namespace reaper {
namespace runtime {

enum class ContainerStatus { kCreated, kRunning, kStopped };

// "created", "running" or "stopped", as the OCI state document spells them.
const char* StatusName(ContainerStatus status);

struct ContainerState {
  std::string id;
  pid_t pid = 0;
  // Field 22 of /proc/<pid>/stat (clock ticks since boot) when the process
  // was created.
  uint64_t start_time = 0;
  std::string bundle;
  std::string root_path;  // root.path of config.json, for information only
  sys::Timespec created;
  std::map<std::string, std::string> annotations;
};


class StateStore {
 public:
  StateStore(sys::Kernel& kernel, std::string root);

  const std::string& root() const { return root_; }
  std::string ContainerDir(const std::string& id) const { return root_ + "/" + id; }
  std::string ExecFifoPath(const std::string& id) const { return ContainerDir(id) + "/exec.fifo"; }

  // Creates <root>/<id> (and the root if needed). AlreadyExists
  // "container <id> already exists" when the directory is there.
  Status CreateContainerDir(const std::string& id);

  // Writes <root>/<id>/state.json atomically.
  Status Save(const ContainerState& state);

  // NotFound "container <id> does not exist" when there is no directory or
  // no state.json in it (a create that has not finished yet).
  Result<ContainerState> Load(const std::string& id);

  // The status derived from the kernel, as described above.
  ContainerStatus CurrentStatus(const ContainerState& state);

  // Removes <root>/<id> with everything in it. A missing directory is fine.
  Status Remove(const std::string& id);

  // The state document `reaper-runtime state` prints (OCI runtime spec 1.0.2).
  std::string StateJson(const ContainerState& state, ContainerStatus status) const;

 private:
  std::string StatePath(const std::string& id) const { return ContainerDir(id) + "/state.json"; }

  sys::Kernel& kernel_;
  std::string root_;
};

// Serialization of state.json, exposed for tests.
std::string EncodeState(const ContainerState& state);
Result<ContainerState> DecodeState(const std::string& text);

}  // namespace runtime
}  // namespace reaper

#endif  // REAPER_RUNTIME_STATE_STORE_H_
