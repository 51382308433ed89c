#include "shim/output_drain.h"

#include <set>
#include <string>
#include <utility>

namespace reaper::shim {

struct LoopOutputDrain::Wait {
  std::set<int> fds;  // the fds that still hold data
  std::function<void()> done;
  EventLoop::TimerId timer = 0;
};

LoopOutputDrain::LoopOutputDrain(sys::Kernel& kernel, EventLoop& loop, Logger& logger,
                                 int64_t timeout_ms)
    : kernel_(kernel), loop_(loop), logger_(logger), timeout_ms_(timeout_ms) {}

void LoopOutputDrain::WhenDrained(const std::vector<int>& fds, std::function<void()> done) {
  auto wait = std::make_shared<Wait>();
  wait->done = std::move(done);
  for (int fd : fds) {
    Status added = loop_.Add(fd, sys::kEpollOut, [this, wait, fd](uint32_t) { OnWritable(wait, fd); });
    if (added.ok()) {
      wait->fds.insert(fd);
    } else {
      logger_.Warning("watch an output FIFO for draining failed",
                      {{"fd", std::to_string(fd)}, {"error", added.message()}});
    }
  }
  if (wait->fds.empty()) {
    // Nothing to wait for; still run `done` from the loop, as promised.
    loop_.AddTimer(0, [this, wait] { Finish(wait); });
    return;
  }
  wait->timer = loop_.AddTimer(timeout_ms_, [this, wait] { OnTimeout(wait); });
}

void LoopOutputDrain::OnWritable(const std::shared_ptr<Wait>& wait, int fd) {
  // EPOLLOUT on a one-slot pipe means empty. FIONREAD checks it again,
  // because a child of the workload may have written since.
  Result<int> unread = kernel_.BytesReadable(fd);
  if (unread.ok() && *unread > 0) return;
  loop_.Remove(fd);
  wait->fds.erase(fd);
  if (wait->fds.empty()) Finish(wait);
}

void LoopOutputDrain::OnTimeout(const std::shared_ptr<Wait>& wait) {
  wait->timer = 0;
  for (int fd : wait->fds) {
    Result<int> unread = kernel_.BytesReadable(fd);
    logger_.Warning("output FIFO not read empty in time; reporting the exit anyway",
                    {{"fd", std::to_string(fd)},
                     {"unread_bytes", unread.ok() ? std::to_string(*unread) : "unknown"},
                     {"timeout_ms", std::to_string(timeout_ms_)}});
    loop_.Remove(fd);
  }
  wait->fds.clear();
  Finish(wait);
}

void LoopOutputDrain::Finish(const std::shared_ptr<Wait>& wait) {
  if (!wait->done) return;
  if (wait->timer != 0) loop_.CancelTimer(wait->timer);
  wait->timer = 0;
  std::function<void()> done = std::move(wait->done);
  wait->done = nullptr;
  done();
}

}  // namespace reaper::shim
