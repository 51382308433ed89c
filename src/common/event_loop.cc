#include "common/event_loop.h"

#include <fcntl.h>

#include <climits>
#include <string>
#include <utility>

namespace reaper {
namespace {

// Events collected per epoll_wait; more stay pending for the next call.
constexpr int kMaxEventsPerWait = 64;

}  // namespace

EventLoop::EventLoop(sys::Kernel& kernel) : kernel_(kernel) {}

EventLoop::~EventLoop() {
  for (int fd : {epoll_fd_, wake_read_fd_, wake_write_fd_}) {
    if (fd >= 0) (void)kernel_.Close(fd);
  }
}

Status EventLoop::Init() {
  Result<int> epoll_fd = kernel_.EpollCreate();
  if (!epoll_fd.ok()) return epoll_fd.status().Annotate("create event loop");
  epoll_fd_ = *epoll_fd;

  Result<std::pair<int, int>> pipe = kernel_.Pipe(O_CLOEXEC | O_NONBLOCK);
  if (!pipe.ok()) return pipe.status().Annotate("create event loop wake pipe");
  wake_read_fd_ = pipe->first;
  wake_write_fd_ = pipe->second;

  // Token 0 is never handed out, so it marks the wake pipe.
  Status added = kernel_.EpollCtl(epoll_fd_, sys::kEpollCtlAdd, wake_read_fd_, sys::kEpollIn, 0);
  if (!added.ok()) return added.Annotate("watch event loop wake pipe");
  return Status::Ok();
}

Status EventLoop::Add(int fd, uint32_t events, Callback callback) {
  if (watches_.count(fd) != 0) {
    return Status(Code::kAlreadyExists, "event loop: fd " + std::to_string(fd) +
                                            " is already registered");
  }
  uint64_t token = next_token_++;
  Status added = kernel_.EpollCtl(epoll_fd_, sys::kEpollCtlAdd, fd, events, token);
  if (!added.ok()) return added.Annotate("event loop: watch fd " + std::to_string(fd));

  watches_[fd] = Watch{token, std::make_shared<Callback>(std::move(callback))};
  fds_by_token_[token] = fd;
  return Status::Ok();
}

Status EventLoop::Modify(int fd, uint32_t events) {
  auto watch = watches_.find(fd);
  if (watch == watches_.end()) {
    return Status(Code::kNotFound, "event loop: fd " + std::to_string(fd) + " is not registered");
  }
  Status modified = kernel_.EpollCtl(epoll_fd_, sys::kEpollCtlMod, fd, events, watch->second.token);
  if (!modified.ok()) return modified.Annotate("event loop: change events of fd " + std::to_string(fd));
  return Status::Ok();
}

void EventLoop::Remove(int fd) {
  auto watch = watches_.find(fd);
  if (watch == watches_.end()) return;

  // A failed deletion is ignored: it happens when the owner already closed
  // `fd`, which removed it from the epoll set.
  (void)kernel_.EpollCtl(epoll_fd_, sys::kEpollCtlDel, fd, 0, 0);
  fds_by_token_.erase(watch->second.token);
  watches_.erase(watch);
}

void EventLoop::Post(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(posted_mutex_);
    posted_tasks_.push_back(std::move(task));
  }
  Wake();
}

EventLoop::TimerId EventLoop::AddTimer(int64_t delay_ms, std::function<void()> task) {
  const TimerId id = next_timer_id_++;
  const int64_t deadline = MonotonicNanos() + (delay_ms > 0 ? delay_ms : 0) * 1000000;
  timers_.emplace(std::make_pair(deadline, id), std::move(task));
  deadlines_[id] = deadline;
  return id;
}

void EventLoop::CancelTimer(TimerId id) {
  auto deadline = deadlines_.find(id);
  if (deadline == deadlines_.end()) return;
  timers_.erase(std::make_pair(deadline->second, id));
  deadlines_.erase(deadline);
}

int64_t EventLoop::MonotonicNanos() {
  const sys::Timespec now = kernel_.MonotonicNow();
  return now.seconds * 1000000000 + now.nanos;
}

int EventLoop::NextTimeout() {
  if (timers_.empty()) return -1;
  const int64_t left_ns = timers_.begin()->first.first - MonotonicNanos();
  if (left_ns <= 0) return 0;
  // Rounded up, so the loop never wakes just before the deadline and spins.
  const int64_t left_ms = (left_ns + 999999) / 1000000;
  return left_ms > INT_MAX ? INT_MAX : static_cast<int>(left_ms);
}

void EventLoop::RunExpiredTimers() {
  const int64_t now = MonotonicNanos();
  // A task may add or cancel timers, so the first entry is looked up anew
  // each time.
  while (!timers_.empty() && timers_.begin()->first.first <= now &&
         !stop_requested_.load()) {
    auto first = timers_.begin();
    std::function<void()> task = std::move(first->second);
    deadlines_.erase(first->first.second);
    timers_.erase(first);
    task();
  }
}

Status EventLoop::Run() {
  loop_thread_ = std::this_thread::get_id();
  Status result;
  while (!stop_requested_.load()) {
    Result<std::vector<sys::EpollEvent>> events =
        kernel_.EpollWait(epoll_fd_, kMaxEventsPerWait, NextTimeout());
    if (!events.ok()) {
      result = events.status().Annotate("event loop: wait for events");
      break;
    }
    for (const sys::EpollEvent& event : *events) {
      if (stop_requested_.load()) break;
      Dispatch(event);
    }
    RunExpiredTimers();
  }
  stop_requested_ = false;
  loop_thread_ = std::thread::id();
  return result;
}

void EventLoop::Stop() {
  stop_requested_ = true;
  Wake();
}

bool EventLoop::RunningOnAnotherThread() const {
  std::thread::id loop_thread = loop_thread_.load();
  return loop_thread != std::thread::id() && loop_thread != std::this_thread::get_id();
}

void EventLoop::Wake() {
  // EAGAIN means the pipe is full, so the loop wakes anyway; other errors
  // happen only after the loop is gone.
  char byte = 1;
  (void)kernel_.Write(wake_write_fd_, &byte, 1);
}

void EventLoop::DrainWakePipe() {
  char buffer[256];
  while (true) {
    Result<size_t> read = kernel_.Read(wake_read_fd_, buffer, sizeof(buffer));
    if (!read.ok() || *read == 0) return;
  }
}

void EventLoop::RunPostedTasks() {
  std::vector<std::function<void()>> tasks;
  {
    std::lock_guard<std::mutex> lock(posted_mutex_);
    tasks.swap(posted_tasks_);
  }
  // Tasks posted by these tasks wait for the next round, after pending fd
  // events, so a task that reposts itself cannot starve the fds.
  for (auto& task : tasks) task();
}

void EventLoop::Dispatch(const sys::EpollEvent& event) {
  if (event.data == 0) {
    DrainWakePipe();
    RunPostedTasks();
    return;
  }
  auto fd = fds_by_token_.find(event.data);
  if (fd == fds_by_token_.end()) return;  // removed earlier in this batch

  // Holding a reference keeps the callback alive if it removes its own fd.
  std::shared_ptr<Callback> callback = watches_[fd->second].callback;
  (*callback)(event.events);
}

}  // namespace reaper
