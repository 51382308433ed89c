// EventLoop: a single-threaded epoll loop over sys::Kernel.
//
// Fds are registered with a callback that receives the ready epoll events.
// Run() dispatches them on the calling thread (the loop thread) until Stop().
// Other threads hand work to the loop with Post(), which wakes it through a
// self-pipe.
//
// Thread-safety: Post(), Stop() and RunningOnAnotherThread() may be called
// from any thread. Every other method must be called on the loop thread, or
// while Run() is not running.
// Callbacks and posted tasks always run on the loop thread.
#ifndef REAPER_COMMON_EVENT_LOOP_H_
#define REAPER_COMMON_EVENT_LOOP_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "common/status.h"
#include "sys/kernel.h"

namespace reaper {

class EventLoop {
 public:
  // Receives the ready events: EPOLLIN, EPOLLOUT, EPOLLHUP, EPOLLERR bits,
  // which code under src/ spells sys::kEpollIn, sys::kEpollOut...
  using Callback = std::function<void(uint32_t events)>;

  explicit EventLoop(sys::Kernel& kernel);
  // Closes the epoll fd and the self-pipe; registered fds stay open because
  // their owners close them. Tasks still queued are dropped.
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Creates the epoll fd and the self-pipe. Call once before anything else.
  Status Init();

  // Watches `fd` (level-triggered) for `events` and calls `callback` when
  // some are ready. Fails with AlreadyExists when `fd` is registered.
  Status Add(int fd, uint32_t events, Callback callback);
  // Changes the events watched on a registered fd.
  Status Modify(int fd, uint32_t events);
  // Stops watching `fd`; does nothing when it is not registered. Safe inside
  // a callback, even the one running for `fd`: events already collected for
  // `fd` are not delivered afterwards. Call it before closing `fd`.
  void Remove(int fd);

  // Queues `task` to run on the loop thread after the current callback.
  void Post(std::function<void()> task);

  // Dispatches events and posted tasks until Stop(). Returns OK after Stop(),
  // or the error of a failed epoll_wait.
  Status Run();
  // Makes the running Run() return after the current callback, or the next
  // Run() return at once when none is running.
  void Stop();

  // True while Run() is running on a thread other than the caller's, when
  // work for the loop must go through Post().
  bool RunningOnAnotherThread() const;

 private:
  struct Watch {
    uint64_t token = 0;
    std::shared_ptr<Callback> callback;
  };

  void Wake();
  void DrainWakePipe();
  void RunPostedTasks();
  void Dispatch(const sys::EpollEvent& event);

  sys::Kernel& kernel_;
  int epoll_fd_ = -1;
  int wake_read_fd_ = -1;
  int wake_write_fd_ = -1;
  // Tokens, not fds, go into epoll data so that an event collected for an fd
  // that was removed and reused within one epoll_wait batch is recognized as
  // stale.
  uint64_t next_token_ = 1;
  std::map<int, Watch> watches_;
  std::map<uint64_t, int> fds_by_token_;

  std::mutex posted_mutex_;
  std::vector<std::function<void()>> posted_tasks_;
  std::atomic<bool> stop_requested_{false};
  std::atomic<std::thread::id> loop_thread_{};
};

}  // namespace reaper

#endif  // REAPER_COMMON_EVENT_LOOP_H_
