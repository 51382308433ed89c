// OutputDrain: waits until containerd has read what an exited process wrote
// to its output FIFOs, so that its exit is reported only afterwards.
//
// containerd 1.6.20's CRI plugin stops reading a container's log FIFOs soon
// after it learns of the exit, so output still in a FIFO at that moment never
// reaches the log. The shim therefore reports an exit once the FIFOs are
// empty, or once a time bound has passed, whichever comes first.
//
// Detecting "empty" without polling: ProcessStdio shrinks each output FIFO
// to one page (F_SETPIPE_SZ), which gives the pipe a single buffer slot. On
// Linux such a pipe reports EPOLLOUT exactly when it is empty, and a reader
// that empties it wakes the writers' wait queue, where the shim's O_RDWR fd
// waits. So a level-triggered EPOLLOUT watch on that fd fires when the
// client has read the last byte (checked on Linux 6.18 by
// tests/unit/shim_output_drain_test.cc).
//
// Thread-safety: none; used on the shim's loop thread.
#ifndef REAPER_SHIM_OUTPUT_DRAIN_H_
#define REAPER_SHIM_OUTPUT_DRAIN_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "common/event_loop.h"
#include "common/log.h"
#include "sys/kernel.h"

namespace reaper::shim {

class OutputDrain {
 public:
  virtual ~OutputDrain() = default;
  // Calls `done` once, on the loop thread, when every FIFO of `fds` is empty
  // or when the time bound has passed. Each fd must be the shim's O_RDWR end
  // of a one-page FIFO and stay open until `done` runs. `done` never runs
  // inside this call.
  virtual void WhenDrained(const std::vector<int>& fds, std::function<void()> done) = 0;
};

// The OutputDrain of the shim server, on its event loop.
class LoopOutputDrain : public OutputDrain {
 public:
  // Bound on the wait for one exit. A client that reads empties a FIFO in
  // milliseconds. The bound is for a client that stopped reading (ctr run -d
  // after ctr exited) and for a child of the workload that keeps writing.
  static constexpr int64_t kDefaultTimeoutMs = 2000;

  LoopOutputDrain(sys::Kernel& kernel, EventLoop& loop, Logger& logger,
                  int64_t timeout_ms = kDefaultTimeoutMs);

  void WhenDrained(const std::vector<int>& fds, std::function<void()> done) override;

 private:
  struct Wait;

  void OnWritable(const std::shared_ptr<Wait>& wait, int fd);
  void OnTimeout(const std::shared_ptr<Wait>& wait);
  void Finish(const std::shared_ptr<Wait>& wait);

  sys::Kernel& kernel_;
  EventLoop& loop_;
  Logger& logger_;
  const int64_t timeout_ms_;
};

}  // namespace reaper::shim

#endif  // REAPER_SHIM_OUTPUT_DRAIN_H_
