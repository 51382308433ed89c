// RuntimeClient: how the shim drives reaper-runtime, the short-lived CLI that
// prepares, starts and removes workload processes.
//
// ReaperRuntimeClient runs
//   reaper-runtime --root <root> --log <file> --log-format json [--debug] <verb> ...
// with fork and execve and waits for that one pid. That wait cannot race the
// ExitReaper as long as both run on the loop thread, which the server
// ensures by calling the client only from RPC handlers. The workload is a
// grandchild, and it is re-parented to the shim (a child subreaper) when
// reaper-runtime exits. The new process's stdio is
// reaper-runtime's own fds 0, 1 and 2, so the client puts the prepared fds
// there.
//
// On failure reaper-runtime exits non-zero and writes
// {"level":"error","msg":"..."} lines to --log; the client returns the last
// such message. Each call uses its own log file in the task's work
// directory, <work_dir>/<id>/, which also holds pid files and exec specs.
//
// Thread-safety: none; call on the shim's loop thread (or from the
// single-threaded delete action).
#ifndef REAPER_SHIM_RUNTIME_CLIENT_H_
#define REAPER_SHIM_RUNTIME_CLIENT_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "common/config.h"
#include "common/log.h"
#include "common/status.h"
#include "shim/stdio.h"
#include "sys/kernel.h"

namespace reaper::shim {

class RuntimeClient {
 public:
  virtual ~RuntimeClient() = default;

  // Prepares the init process of container `id` from `bundle`; it waits,
  // blocked, for Start. Returns its pid.
  virtual Result<pid_t> Create(const std::string& id, const std::string& bundle,
                               const ChildStdio& stdio) = 0;
  // Releases the init process. Fails when its execve failed.
  virtual Status Start(const std::string& id) = 0;
  // Runs an extra process in container `id`, described by `process_json`
  // (an OCI Process object), and returns its pid once it has exec'd.
  virtual Result<pid_t> Exec(const std::string& id, const std::string& exec_id,
                             const std::string& process_json, const ChildStdio& stdio) = 0;
  // Removes the container; `force` kills what still runs.
  virtual Status Delete(const std::string& id, bool force) = 0;
  // Returns reaper-runtime's state document of the container (JSON).
  virtual Result<std::string> State(const std::string& id) = 0;
};

class ReaperRuntimeClient : public RuntimeClient {
 public:
  struct Options {
    // The reaper-runtime binary: absolute, or empty to find it with
    // FindRuntimeBinary() at the first call.
    std::string runtime_path;
    std::string root;      // --root
    std::string work_dir;  // per-task files go in <work_dir>/<id>/
    std::vector<std::string> environment;  // reaper-runtime's envp
    bool debug = false;
  };

  ReaperRuntimeClient(sys::Kernel& kernel, Logger& logger, Options options);

  Result<pid_t> Create(const std::string& id, const std::string& bundle,
                       const ChildStdio& stdio) override;
  Status Start(const std::string& id) override;
  Result<pid_t> Exec(const std::string& id, const std::string& exec_id,
                     const std::string& process_json, const ChildStdio& stdio) override;
  Status Delete(const std::string& id, bool force) override;
  Result<std::string> State(const std::string& id) override;

 private:
  // Runs one verb with `verb_arguments` after it. `stdio` becomes the
  // child's 0/1/2 (/dev/null where -1). With `output` set, stdout is
  // captured there instead.
  Status Run(const std::string& id, const std::string& verb,
             const std::vector<std::string>& verb_arguments, const ChildStdio& stdio,
             std::string* output);
  Status RunChecked(const std::string& id, const std::string& verb, const std::string& log_path,
                    const std::vector<std::string>& argv, ChildStdio stdio, std::string* output);
  Result<pid_t> Spawn(const std::vector<std::string>& argv, const ChildStdio& stdio,
                      int* error_pipe);
  Result<pid_t> ReadPidFile(const std::string& path);
  Result<std::string> TaskDirectory(const std::string& id);

  sys::Kernel& kernel_;
  Logger& logger_;
  Options options_;
};

// The child's side of a runtime call, between fork and execve: empties the
// signal mask, resets signal dispositions, puts `stdio` on fds 0, 1 and 2
// and execs argv[0]. Every other fd is close-on-exec, so reaper-runtime
// inherits only those three. On failure, writes the error message to
// `error_pipe` and exits with status 127; never returns.
void ExecRuntimeChild(sys::Kernel& kernel, const std::vector<std::string>& argv,
                      const std::vector<std::string>& environment, ChildStdio stdio,
                      int error_pipe);

// Returns the text of the last {"level":"error","msg":...} line of a
// reaper-runtime JSON log, or an empty string when there is none. Lines that
// are not JSON objects are skipped.
std::string LastRuntimeError(const std::string& log_text);

// Classifies a reaper-runtime error message: NotFound for a container that
// does not exist, InvalidArgument for rejected input, Internal otherwise.
Code CodeOfRuntimeError(const std::string& message);

// Finds reaper-runtime: `configured` when set (REAPER_RUNTIME_PATH), else
// next to the running binary, else in the PATH of `environment`.
Result<std::string> FindRuntimeBinary(sys::Kernel& kernel, const std::string& configured,
                                      const Environment& environment);

}  // namespace reaper::shim

#endif  // REAPER_SHIM_RUNTIME_CLIENT_H_
