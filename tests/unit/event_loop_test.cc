#include "common/event_loop.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <chrono>
#include <future>
#include <thread>
#include <vector>

#include "sys/linux_kernel.h"

// sys/kernel.h spells these constants by value for code under src/, which
// may not include the system headers; they must match.
static_assert(sys::kSockStream == SOCK_STREAM);
static_assert(sys::kSockNonblock == SOCK_NONBLOCK);
static_assert(sys::kSockCloexec == SOCK_CLOEXEC);
static_assert(sys::kShutWrite == SHUT_WR);
static_assert(sys::kShutReadWrite == SHUT_RDWR);
static_assert(sys::kEpollCtlAdd == EPOLL_CTL_ADD);
static_assert(sys::kEpollCtlDel == EPOLL_CTL_DEL);
static_assert(sys::kEpollCtlMod == EPOLL_CTL_MOD);
static_assert(sys::kEpollIn == EPOLLIN);
static_assert(sys::kEpollOut == EPOLLOUT);
static_assert(sys::kEpollErr == EPOLLERR);
static_assert(sys::kEpollHup == EPOLLHUP);
static_assert(sys::kEpollRdHup == EPOLLRDHUP);

namespace reaper {
namespace {

// Bounds every wait in these tests, so that a broken loop fails instead of
// hanging the run.
constexpr auto kTestTimeout = std::chrono::seconds(10);

class EventLoopTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(loop_.Init().ok()); }

  void TearDown() override {
    for (int fd : fds_) (void)kernel_.Close(fd);
  }

  // Makes a non-blocking pipe that is closed at the end of the test.
  void MakePipe(int* read_fd, int* write_fd) {
    Result<std::pair<int, int>> pipe = kernel_.Pipe(O_CLOEXEC | O_NONBLOCK);
    ASSERT_TRUE(pipe.ok()) << pipe.status().ToString();
    *read_fd = pipe->first;
    *write_fd = pipe->second;
    fds_.push_back(*read_fd);
    fds_.push_back(*write_fd);
  }

  void WriteByte(int fd) {
    char byte = 'x';
    Result<size_t> written = kernel_.Write(fd, &byte, 1);
    ASSERT_TRUE(written.ok()) << written.status().ToString();
  }

  // Runs the loop on this thread, failing the test if it does not stop in
  // time.
  void RunUntilStopped() {
    std::thread watchdog_stopper;
    std::promise<void> finished;
    std::future<void> finished_future = finished.get_future();
    watchdog_stopper = std::thread([&] {
      if (finished_future.wait_for(kTestTimeout) == std::future_status::timeout) {
        ADD_FAILURE() << "event loop did not stop";
        loop_.Stop();
      }
    });
    Status status = loop_.Run();
    finished.set_value();
    watchdog_stopper.join();
    EXPECT_TRUE(status.ok()) << status.ToString();
  }

  sys::LinuxKernel kernel_;
  EventLoop loop_{kernel_};
  std::vector<int> fds_;
};

TEST_F(EventLoopTest, PostFromAnotherThreadWakesRun) {
  std::promise<Status> run_result;
  std::thread loop_thread([&] { run_result.set_value(loop_.Run()); });
  std::thread::id loop_thread_id = loop_thread.get_id();
  std::promise<std::thread::id> task_thread;

  loop_.Post([&] {
    task_thread.set_value(std::this_thread::get_id());
    loop_.Stop();
  });

  std::future<std::thread::id> task_future = task_thread.get_future();
  std::future<Status> run_future = run_result.get_future();
  bool ran = task_future.wait_for(kTestTimeout) == std::future_status::ready;
  if (!ran) loop_.Stop();
  loop_thread.join();
  ASSERT_TRUE(ran);
  EXPECT_EQ(task_future.get(), loop_thread_id);
  EXPECT_TRUE(run_future.get().ok());
}

TEST_F(EventLoopTest, PostedTasksRunInOrder) {
  std::vector<int> order;
  loop_.Post([&] { order.push_back(1); });
  loop_.Post([&] { order.push_back(2); });
  loop_.Post([&] {
    order.push_back(3);
    loop_.Stop();
  });

  RunUntilStopped();

  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
}

TEST_F(EventLoopTest, CallbackReceivesReadableEvent) {
  int read_fd = -1;
  int write_fd = -1;
  MakePipe(&read_fd, &write_fd);
  WriteByte(write_fd);
  uint32_t received = 0;
  ASSERT_TRUE(loop_.Add(read_fd, sys::kEpollIn, [&](uint32_t events) {
                     received = events;
                     loop_.Stop();
                   }).ok());

  RunUntilStopped();

  EXPECT_EQ(received, sys::kEpollIn);
}

TEST_F(EventLoopTest, RemoveInsideOwnCallbackStopsDelivery) {
  int read_fd = -1;
  int write_fd = -1;
  MakePipe(&read_fd, &write_fd);
  WriteByte(write_fd);
  int calls = 0;
  // The byte is never read, so a level-triggered watch that survived Remove
  // would fire again before the posted Stop.
  ASSERT_TRUE(loop_.Add(read_fd, sys::kEpollIn, [&, fd = read_fd](uint32_t) {
                     ++calls;
                     loop_.Remove(fd);
                     loop_.Post([&] { loop_.Stop(); });
                   }).ok());

  RunUntilStopped();

  EXPECT_EQ(calls, 1);
}

TEST_F(EventLoopTest, RemoveInsideCallbackDropsEventsOfSameBatch) {
  int first_read = -1;
  int first_write = -1;
  MakePipe(&first_read, &first_write);
  int second_read = -1;
  int second_write = -1;
  MakePipe(&second_read, &second_write);
  WriteByte(first_write);
  WriteByte(second_write);
  int calls = 0;
  // Both fds are ready in the same epoll_wait; whichever callback runs first
  // removes the other fd, whose collected event must then be dropped.
  ASSERT_TRUE(loop_.Add(first_read, sys::kEpollIn, [&, other = second_read](uint32_t) {
                     ++calls;
                     loop_.Remove(other);
                     loop_.Remove(first_read);
                     loop_.Post([&] { loop_.Stop(); });
                   }).ok());
  ASSERT_TRUE(loop_.Add(second_read, sys::kEpollIn, [&, other = first_read](uint32_t) {
                     ++calls;
                     loop_.Remove(other);
                     loop_.Remove(second_read);
                     loop_.Post([&] { loop_.Stop(); });
                   }).ok());

  RunUntilStopped();

  EXPECT_EQ(calls, 1);
}

TEST_F(EventLoopTest, ModifyChangesWatchedEvents) {
  int read_fd = -1;
  int write_fd = -1;
  MakePipe(&read_fd, &write_fd);
  std::vector<uint32_t> received;
  // The write end is writable at once; after switching to EPOLLIN only (a
  // write end never becomes readable) it must stay quiet.
  ASSERT_TRUE(loop_.Add(write_fd, sys::kEpollOut, [&, fd = write_fd](uint32_t events) {
                     received.push_back(events);
                     ASSERT_TRUE(loop_.Modify(fd, sys::kEpollIn).ok());
                     loop_.Post([&] { loop_.Stop(); });
                   }).ok());

  RunUntilStopped();

  EXPECT_EQ(received, (std::vector<uint32_t>{sys::kEpollOut}));
}

TEST_F(EventLoopTest, StopInsideCallbackEndsRun) {
  int read_fd = -1;
  int write_fd = -1;
  MakePipe(&read_fd, &write_fd);
  WriteByte(write_fd);
  int calls = 0;
  ASSERT_TRUE(loop_.Add(read_fd, sys::kEpollIn, [&](uint32_t) {
                     ++calls;
                     loop_.Stop();
                   }).ok());

  RunUntilStopped();

  EXPECT_EQ(calls, 1);
}

TEST_F(EventLoopTest, StopBeforeRunMakesRunReturnAtOnce) {
  loop_.Stop();

  RunUntilStopped();
}

TEST_F(EventLoopTest, RunCanBeRepeatedAfterStop) {
  int runs = 0;
  loop_.Post([&] {
    ++runs;
    loop_.Stop();
  });
  RunUntilStopped();
  loop_.Post([&] {
    ++runs;
    loop_.Stop();
  });
  RunUntilStopped();

  EXPECT_EQ(runs, 2);
}

TEST_F(EventLoopTest, AddOfRegisteredFdFails) {
  int read_fd = -1;
  int write_fd = -1;
  MakePipe(&read_fd, &write_fd);
  ASSERT_TRUE(loop_.Add(read_fd, sys::kEpollIn, [](uint32_t) {}).ok());

  Status again = loop_.Add(read_fd, sys::kEpollIn, [](uint32_t) {});

  EXPECT_EQ(again.code(), Code::kAlreadyExists);
  EXPECT_EQ(again.message(), "event loop: fd " + std::to_string(read_fd) +
                                 " is already registered");
}

TEST_F(EventLoopTest, ModifyOfUnregisteredFdFails) {
  int read_fd = -1;
  int write_fd = -1;
  MakePipe(&read_fd, &write_fd);

  Status modified = loop_.Modify(read_fd, sys::kEpollIn);

  EXPECT_EQ(modified.code(), Code::kNotFound);
  EXPECT_EQ(modified.message(), "event loop: fd " + std::to_string(read_fd) +
                                    " is not registered");
}

TEST_F(EventLoopTest, RemoveOfUnregisteredFdIsIgnored) {
  int read_fd = -1;
  int write_fd = -1;
  MakePipe(&read_fd, &write_fd);

  loop_.Remove(read_fd);
  Status added = loop_.Add(read_fd, sys::kEpollIn, [](uint32_t) {});

  EXPECT_TRUE(added.ok()) << added.ToString();
}

TEST_F(EventLoopTest, RunningOnAnotherThreadOnlyWhileRunElsewhere) {
  EXPECT_FALSE(loop_.RunningOnAnotherThread());
  std::promise<bool> inside;
  std::promise<void> checked;
  std::thread loop_thread([&] { (void)loop_.Run(); });

  loop_.Post([&] {
    inside.set_value(loop_.RunningOnAnotherThread());
    checked.get_future().wait();
    loop_.Stop();
  });
  std::future<bool> inside_future = inside.get_future();
  bool ran = inside_future.wait_for(kTestTimeout) == std::future_status::ready;
  bool outside = loop_.RunningOnAnotherThread();
  checked.set_value();
  if (!ran) loop_.Stop();
  loop_thread.join();

  ASSERT_TRUE(ran);
  EXPECT_FALSE(inside_future.get());
  EXPECT_TRUE(outside);
  EXPECT_FALSE(loop_.RunningOnAnotherThread());
}

TEST_F(EventLoopTest, TimerFiresAfterItsDelay) {
  const sys::Timespec start = kernel_.MonotonicNow();
  sys::Timespec fired;
  loop_.AddTimer(30, [&] {
    fired = kernel_.MonotonicNow();
    loop_.Stop();
  });
  RunUntilStopped();

  const int64_t elapsed_ms =
      (fired.seconds - start.seconds) * 1000 + (fired.nanos - start.nanos) / 1000000;
  EXPECT_GE(elapsed_ms, 30);
  EXPECT_EQ(loop_.timer_count(), 0u);
}

TEST_F(EventLoopTest, TimersFireInDeadlineOrder) {
  std::vector<int> order;
  loop_.AddTimer(20, [&] {
    order.push_back(2);
    loop_.Stop();
  });
  loop_.AddTimer(0, [&] { order.push_back(1); });
  RunUntilStopped();

  EXPECT_EQ(order, (std::vector<int>{1, 2}));
}

TEST_F(EventLoopTest, CancelledTimerNeverRuns) {
  bool cancelled_ran = false;
  EventLoop::TimerId cancelled = loop_.AddTimer(0, [&] { cancelled_ran = true; });
  loop_.AddTimer(10, [&] { loop_.Stop(); });
  loop_.CancelTimer(cancelled);
  loop_.CancelTimer(cancelled);  // a second cancel is harmless
  RunUntilStopped();

  EXPECT_FALSE(cancelled_ran);
}

TEST_F(EventLoopTest, TimerMayCancelAnotherTimer) {
  bool second_ran = false;
  EventLoop::TimerId second = 0;
  loop_.AddTimer(0, [&] { loop_.CancelTimer(second); });
  second = loop_.AddTimer(5, [&] { second_ran = true; });
  loop_.AddTimer(20, [&] { loop_.Stop(); });
  RunUntilStopped();

  EXPECT_FALSE(second_ran);
}

}  // namespace
}  // namespace reaper
