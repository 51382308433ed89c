// EventLoop: a single-threaded epoll loop over sys::Kernel.
//
// Fds are registered with a callback that receives the ready epoll events.
// Run() dispatches them on the calling thread (the loop thread) until Stop().
// Other threads hand work to the loop with Post(), which wakes it through a
// self-pipe. Timers run a task once a delay on CLOCK_MONOTONIC has passed;
// the loop sleeps in epoll_wait until the earliest deadline, so nothing polls.
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

  // Runs `task` on the loop thread once `delay_ms` milliseconds have passed,
  // or at the next wake-up when the delay is 0 or less. Returns an id for
  // CancelTimer(). Loop thread only.
  using TimerId = uint64_t;
  TimerId AddTimer(int64_t delay_ms, std::function<void()> task);
  // Cancels a timer that has not fired yet; does nothing otherwise.
  void CancelTimer(TimerId id);
  size_t timer_count() const { return timers_.size(); }

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
  int64_t MonotonicNanos();
  // The epoll_wait timeout until the earliest timer, or -1 without timers.
  int NextTimeout();
  void RunExpiredTimers();

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

  // Pending timers, keyed by (deadline in monotonic nanoseconds, id) so that
  // the earliest comes first and equal deadlines fire in the order they were
  // added. deadlines_ maps a timer's id to its deadline.
  TimerId next_timer_id_ = 1;
  std::map<std::pair<int64_t, TimerId>, std::function<void()>> timers_;
  std::map<TimerId, int64_t> deadlines_;

  std::mutex posted_mutex_;
  std::vector<std::function<void()>> posted_tasks_;
  std::atomic<bool> stop_requested_{false};
  std::atomic<std::thread::id> loop_thread_{};
};

}  // namespace reaper

#endif  // REAPER_COMMON_EVENT_LOOP_H_
