// Stdio of one workload process: the FIFO paths containerd's client created
// and the fds the shim opens on them.
//
// The client creates the FIFOs and opens its own ends before it calls Create
// or Exec. The shim then opens:
// - stdout and stderr O_RDWR. Such an open does not block on Linux
//   (fifo(7)). While the shim keeps that fd, the FIFO has a reader, so the
//   workload's writes do not fail with EPIPE when the client goes away (ctr
//   run -d, a containerd restart). The workload gets a separate, blocking O_WRONLY
//   fd on the same path, whose open does not block because the shim's fd is
//   a reader. (Reopening /proc/self/fd/<rdwr fd> would pin the very same
//   FIFO even if the path were replaced meanwhile; the path is the client's
//   own and is not replaced between the two opens, and the fake kernel of
//   the unit tests does not model that reopen.)
// - stdin O_RDONLY|O_NONBLOCK, then clears O_NONBLOCK; that fd becomes the
//   workload's fd 0. The shim also keeps a write end open, so the workload
//   reads end of file only after CloseIO{stdin} closes it and the client has
//   closed its own end.
// Each output FIFO is shrunk to one page (F_SETPIPE_SZ), so that OutputDrain
// can tell when the client has read it empty. A FIFO that cannot be shrunk
// is not drained. NOTE: a workload whose output no client reads therefore
// blocks after 4 KiB instead of 64 KiB, as on any full pipe.
// An empty path is /dev/null. "file://<path>" appends to a regular file.
// Terminals and "binary://" logging drivers are not supported.
//
// Thread-safety: none; used on the shim's loop thread.
#ifndef REAPER_SHIM_STDIO_H_
#define REAPER_SHIM_STDIO_H_

#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "sys/kernel.h"

namespace reaper::shim {

struct StdioPaths {
  std::string stdin_path;
  std::string stdout_path;
  std::string stderr_path;
  bool terminal = false;
};

// The fds a runtime call puts on the new process's 0, 1 and 2.
struct ChildStdio {
  int stdin_fd = -1;
  int stdout_fd = -1;
  int stderr_fd = -1;
};

// Owns the shim's fds for one process; the destructor closes what is left.
class ProcessStdio {
 public:
  // Opens every stream as described above. Fails with Unimplemented for a
  // terminal or a "binary://" URI; on any failure nothing stays open.
  static Result<std::unique_ptr<ProcessStdio>> Open(sys::Kernel& kernel, const StdioPaths& paths);

  ~ProcessStdio();
  ProcessStdio(const ProcessStdio&) = delete;
  ProcessStdio& operator=(const ProcessStdio&) = delete;

  // The ends meant for the process, valid until CloseChildEnds().
  ChildStdio child() const { return child_; }
  // Closes the ends given to the process, once the runtime has handed them
  // over, so that only the process keeps them open.
  void CloseChildEnds();
  // Closes the shim's write end of stdin (CloseIO{stdin}). Idempotent.
  void CloseStdin();
  // Closes the shim's ends of stdout and stderr, so the client's reader gets
  // end of file once the process and its children have closed theirs.
  void CloseOutputs();
  void CloseAll();

  // The shim's ends of the output FIFOs that were shrunk to one page and
  // still hold unread data: what OutputDrain waits for.
  std::vector<int> UndrainedOutputs();

 private:
  explicit ProcessStdio(sys::Kernel& kernel) : kernel_(kernel) {}

  Status OpenStdin(const std::string& path);
  // Opens one output stream: `*holder` gets the shim's end (or stays -1),
  // `*child_end` the process's end.
  Status OpenOutput(const std::string& uri, int* holder, int* child_end);
  // Shrinks the FIFO behind `holder` to one page; false when that fails.
  bool ShrinkToOnePage(int holder);
  void CloseFd(int* fd);

  sys::Kernel& kernel_;
  ChildStdio child_;
  int stdin_writer_ = -1;
  int stdout_holder_ = -1;
  int stderr_holder_ = -1;
  bool stdout_drainable_ = false;
  bool stderr_drainable_ = false;
};

}  // namespace reaper::shim

#endif  // REAPER_SHIM_STDIO_H_
