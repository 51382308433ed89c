// ProcessLauncher: forks a workload process and prepares it up to execve,
// inside the overlay namespace.
//
// The parent P (reaper-runtime) and the child C talk over two close-on-exec
// pipes (runtime/sync_pipe.h):
//   P: lock the namespace, create the overlay directories, check the pin,
//      open the exec FIFO with O_PATH, fork
//   C: setsid; join or create the namespace; report kNamespaceReady
//   P: pin the namespace if C created it; send kContinue
//   C: chdir to process.cwd; resolve args[0] in PATH; set oom_score_adj;
//      set uid, gid and groups; clear the signal mask and dispositions;
//      keep fds 0, 1 and 2 across exec; report kReady
//   P: unlock; return the pid
// Then, for `create` (LaunchRequest::exec_fifo set), C opens the exec FIFO
// for writing, which blocks until `start` opens it for reading, writes one
// byte and execs; an execve error is written to the FIFO instead and C exits
// with status 127. For `exec`, C execs at once, and P waits for the sync pipe
// to close on exec (success) or to bring the execve error.
// Any failure before kReady kills and reaps C and removes a pin that this
// launch created, so nothing is left running or mounted.
//
// The lock is held until C is ready, not only until the pin exists, so that
// a failed first launch can remove its pin before another launch joins.
//
// Thread-safety: none; one launch at a time, from a single-threaded process
// (setns into a mount namespace requires one).
#ifndef REAPER_RUNTIME_PROCESS_LAUNCHER_H_
#define REAPER_RUNTIME_PROCESS_LAUNCHER_H_

#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

#include "common/status.h"
#include "runtime/oci_spec.h"
#include "runtime/overlay_namespace.h"
#include "sys/kernel.h"

namespace reaper {
namespace runtime {

inline constexpr char kDefaultPath[] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// The exit status of a child whose execve failed, as shells use it.
inline constexpr int kExecFailedExitCode = 127;

struct LaunchRequest {
  ProcessSpec process;
  // `create`: the FIFO the process waits on until `start`. Empty for `exec`,
  // whose process runs at once.
  std::string exec_fifo;
};

struct LaunchedProcess {
  pid_t pid = 0;
  // True when this launch created (and pinned) the overlay namespace, false
  // when the process joined the pinned one.
  bool created_namespace = false;
  // Problems the child worked around (an oom_score_adj it could not set),
  // for the caller to log.
  std::vector<std::string> warnings;
};

// Runs the forked child's steps at the points where the parent waits for
// them.
//
// With the Linux kernel the child runs its steps itself, concurrently, and no
// scheduler is needed (pass nullptr). The fake kernel runs one process at a
// time, so a test passes a scheduler that runs each step with
// FakeKernel::RunAsChild when RunNextStep() is called. The child of `create`
// has three steps: enter the namespace, prepare, exec after `start`. The last
// one stays queued after Launch() returns, for `start` to run.
class ChildScheduler {
 public:
  virtual ~ChildScheduler() = default;
  // Queues `step` as what process `pid` does after its earlier steps.
  virtual void Schedule(pid_t pid, std::function<void()> step) = 0;
  // Runs the oldest queued step of `pid`, if any. Called right before the
  // caller blocks on something that process does.
  virtual void RunNextStep(pid_t pid) = 0;
};

class ProcessLauncher {
 public:
  ProcessLauncher(sys::Kernel& kernel, OverlayNamespace& overlay,
                  ChildScheduler* scheduler = nullptr);

  // Starts the process described above. Errors from the child come back
  // with the child's own message ("exec \"/x\": No such file or directory").
  Result<LaunchedProcess> Launch(const LaunchRequest& request);

 private:
  sys::Kernel& kernel_;
  OverlayNamespace& overlay_;
  ChildScheduler* scheduler_;
};

// Resolves args[0] as execvp(3) would, from the caller's mount namespace
// and working directory: a name with a '/' is used as it is, any other is
// looked up in the directories of `path` (an empty entry is the working
// directory). The result must be an executable regular file. Errors are
// NotFound `exec "<arg0>": No such file or directory` or PermissionDenied
// `exec "<arg0>": Permission denied`.
Result<std::string> ResolveExecutable(sys::Kernel& kernel, const std::string& arg0,
                                      const std::string& path);

}  // namespace runtime
}  // namespace reaper

#endif  // REAPER_RUNTIME_PROCESS_LAUNCHER_H_
