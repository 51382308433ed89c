// The two short-lived actions containerd runs the shim binary for, `start`
// and `delete`, and the shim's paths.
//
// start (cwd = the task's bundle; containerd reads stdout and stderr through
// one pipe and dials whatever is printed):
// 1. Reads runtime options from stdin: a google.protobuf.Any that contains
//    runtimeoptions.v1.Options, or from containerd 2.3 on a BootstrapParams
//    message that carries that Any as an extension. Its config_path names
//    the reaper.conf to load, for the shim and for the reaper-runtime it
//    runs, and is saved as <bundle>/reaper-config-path for `delete`.
// 2. Picks the pod: the io.kubernetes.cri.sandbox-id annotation of
//    config.json, else the task id. One server serves every task of a pod on
//    the socket <state dir>/s/<sha256(address/namespace/pod)>.
// 3. Under a lock on "<socket>.lock": when a server already accepts
//    connections on that socket, reuses it. A socket where no server
//    accepts is stale, so it is removed and bound again.
// 4. Otherwise binds and listens, then forks the server. The forked child
//    starts a new session, reopens fds 0 and 1 on /dev/null and fd 2 on the
//    bundle's `log` FIFO, and serves on the inherited listening socket
//    (shim_server.h). It must not keep the pipe of fds 1 and 2, because
//    containerd waits until every holder of that pipe has closed it.
// 5. Writes <bundle>/address and prints the same address, "unix://<path>"
//    without a newline. containerd 1.6 dials it as is. 1.7 and 2.0-2.2 take
//    text that is not JSON as a ttrpc address of task API v2. 2.3 first
//    tries to decode a BootstrapResult, which such an address is not, and
//    then falls back to the 2.0 rules. So every version talks to the
//    service containerd.task.v2.Task.
//
// Why fork and not re-exec (the Go shims re-execute themselves with the
// socket as fd 3): `start` runs no thread, so a forked child is a clean copy
// that keeps the parsed flags, the loaded configuration and the listening
// socket without passing them through argv and the environment again.
//
// delete (after every task teardown, also after a crash; cwd = bundle, which
// may be gone): removes reaper-runtime's container with `delete --force`,
// then the shim's per-task files, and prints only a DeleteResponse {pid,
// exit_status 137, exited_at now}. Called twice, it succeeds twice.
//
// Thread-safety: single-threaded, like the actions themselves.
#ifndef REAPER_SHIM_BOOTSTRAP_H_
#define REAPER_SHIM_BOOTSTRAP_H_

#include <string>
#include <vector>

#include "common/config.h"
#include "common/log.h"
#include "common/status.h"
#include "containerd/task/v2/shim.pb.h"
#include "shim/flags.h"
#include "shim/runtime_client.h"
#include "sys/kernel.h"

namespace reaper::shim {

inline constexpr char kShimVersion[] = "0.1.0";

// The socket of the pod's server:
// <state_dir>/s/<hex sha256 of "<address>/<namespace>/<group>">.
std::string SocketPathFor(const std::string& state_dir, const std::string& containerd_address,
                          const std::string& namespace_name, const std::string& group);

// The directory of the shim's per-task files of one namespace:
// <state_dir>/shim/<namespace>; task `id` uses <that>/<id>.
std::string WorkDirectoryFor(const std::string& state_dir, const std::string& namespace_name);

// The --root of reaper-runtime for the tasks of one containerd namespace:
// <runtime_root>/<namespace>, so that the same container id in two
// namespaces does not collide.
std::string RuntimeRootFor(const std::string& runtime_root, const std::string& namespace_name);

// Returns runtimeoptions.v1.Options.config_path from what containerd wrote
// to stdin: empty when stdin is empty or contains another message. Options
// of another type (runc's, copied with its runtime table) are ignored, and
// their type URL goes to `*ignored_type` when that is given. Fails with
// InvalidArgument when an Options message does not decode.
Result<std::string> ConfigPathFromOptions(const std::string& stdin_bytes,
                                          std::string* ignored_type = nullptr);

// Runs the start action. Returns the exit status of `start`; the forked
// server never returns from here, it exits.
int RunStart(sys::Kernel& kernel, const ShimFlags& flags,
             const std::vector<std::string>& environment);

// Runs the delete action and returns its exit status.
int RunDelete(sys::Kernel& kernel, const ShimFlags& flags,
              const std::vector<std::string>& environment);

// Closes every fd above 2 except `keep`. The server calls it first, because
// it inherits whatever containerd inherited without close-on-exec, and would
// otherwise pass those fds on to every workload and keep pipes open that
// their owners wait on.
void CloseInheritedFds(sys::Kernel& kernel, int keep);

// The cleanup of the delete action: removes the container from
// reaper-runtime (a container it does not know is fine) and the task's
// directory under `work_dir`. Returns the response to print; problems are
// appended to `warnings`.
::containerd::task::v2::DeleteResponse CleanupTask(sys::Kernel& kernel, RuntimeClient& runtime,
                                 const std::string& work_dir, const std::string& id,
                                 std::vector<std::string>* warnings);

}  // namespace reaper::shim

#endif  // REAPER_SHIM_BOOTSTRAP_H_
