// LoopOutputDrain on the real kernel: real FIFOs in a temporary directory
// and a real event loop. Needs no root.
#include "shim/output_drain.h"

#include <fcntl.h>
#include <stdlib.h>

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <string>
#include <thread>

#include "common/event_loop.h"
#include "common/files.h"
#include "common/log.h"
#include "sys/linux_kernel.h"

namespace reaper::shim {
namespace {

constexpr auto kTestTimeout = std::chrono::seconds(10);
constexpr int64_t kDrainTimeoutMs = 5000;

class OutputDrainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/reaper-drain-test.XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    directory_ = pattern;
    ASSERT_TRUE(loop_.Init().ok());
  }

  void TearDown() override {
    for (int fd : fds_) (void)kernel_.Close(fd);
    (void)RemoveTree(kernel_, directory_);
  }

  // Makes a FIFO with the shim's O_RDWR end (`*holder`, shrunk to one page
  // as ProcessStdio does) and a client's non-blocking read end (`*reader`).
  void MakeFifo(int* holder, int* reader) {
    const std::string path = directory_ + "/fifo" + std::to_string(fds_.size());
    ASSERT_TRUE(kernel_.Mkfifo(path, 0600).ok());
    Result<int> read_write = kernel_.Open(path, O_RDWR | O_CLOEXEC);
    ASSERT_TRUE(read_write.ok()) << read_write.status().ToString();
    Result<int> client = kernel_.Open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    ASSERT_TRUE(client.ok()) << client.status().ToString();
    fds_.push_back(*read_write);
    fds_.push_back(*client);
    ASSERT_EQ(*kernel_.Fcntl(*read_write, F_SETPIPE_SZ, 4096), 4096);
    *holder = *read_write;
    *reader = *client;
  }

  void Write(int fd, const std::string& text) {
    Result<size_t> written = kernel_.Write(fd, text.data(), text.size());
    ASSERT_TRUE(written.ok()) << written.status().ToString();
    ASSERT_EQ(*written, text.size());
  }

  std::string ReadAvailable(int fd) {
    char buffer[8192];
    Result<size_t> read = kernel_.Read(fd, buffer, sizeof(buffer));
    return read.ok() ? std::string(buffer, *read) : std::string();
  }

  int64_t MillisSince(const sys::Timespec& start) {
    const sys::Timespec now = kernel_.MonotonicNow();
    return (now.seconds - start.seconds) * 1000 + (now.nanos - start.nanos) / 1000000;
  }

  // Runs the loop until a callback stops it, failing the test if it does
  // not stop in time.
  void RunUntilStopped() {
    std::promise<void> finished;
    std::future<void> finished_future = finished.get_future();
    std::thread watchdog([&] {
      if (finished_future.wait_for(kTestTimeout) == std::future_status::timeout) {
        ADD_FAILURE() << "event loop did not stop";
        loop_.Stop();
      }
    });
    Status status = loop_.Run();
    finished.set_value();
    watchdog.join();
    EXPECT_TRUE(status.ok()) << status.ToString();
  }

  sys::LinuxKernel kernel_;
  Logger logger_{kernel_};
  EventLoop loop_{kernel_};
  std::string directory_;
  std::vector<int> fds_;
};

TEST_F(OutputDrainTest, DoneRunsWhenClientReadsEverything) {
  int holder = -1, reader = -1;
  MakeFifo(&holder, &reader);
  Write(holder, "the last line\n");
  LoopOutputDrain drain(kernel_, loop_, logger_, kDrainTimeoutMs);
  bool done = false;
  std::string read;
  const sys::Timespec start = kernel_.MonotonicNow();

  drain.WhenDrained({holder}, [&] {
    done = true;
    loop_.Stop();
  });
  // The client reads a little later, in two parts.
  loop_.AddTimer(30, [&] {
    char part[4];
    Result<size_t> first = kernel_.Read(reader, part, sizeof(part));
    ASSERT_TRUE(first.ok());
    read.append(part, *first);
    EXPECT_FALSE(done) << "done ran before the FIFO was empty";
  });
  loop_.AddTimer(40, [&] { read += ReadAvailable(reader); });
  RunUntilStopped();

  EXPECT_TRUE(done);
  EXPECT_EQ(read, "the last line\n");
  EXPECT_LT(MillisSince(start), kDrainTimeoutMs);
  EXPECT_EQ(*kernel_.BytesReadable(holder), 0);
  EXPECT_EQ(loop_.timer_count(), 0u);
}

TEST_F(OutputDrainTest, DoneWaitsForEveryFifo) {
  int out = -1, out_reader = -1, err = -1, err_reader = -1;
  MakeFifo(&out, &out_reader);
  MakeFifo(&err, &err_reader);
  Write(out, "out\n");
  Write(err, "err\n");
  LoopOutputDrain drain(kernel_, loop_, logger_, kDrainTimeoutMs);
  bool done = false;

  drain.WhenDrained({out, err}, [&] {
    done = true;
    loop_.Stop();
  });
  loop_.AddTimer(10, [&] { EXPECT_EQ(ReadAvailable(out_reader), "out\n"); });
  loop_.AddTimer(30, [&] {
    EXPECT_FALSE(done) << "done ran while stderr still held data";
    EXPECT_EQ(ReadAvailable(err_reader), "err\n");
  });
  RunUntilStopped();

  EXPECT_TRUE(done);
}

TEST_F(OutputDrainTest, DoneRunsAfterTimeoutWhenNobodyReads) {
  int holder = -1, reader = -1;
  MakeFifo(&holder, &reader);
  Write(holder, "never read\n");
  LoopOutputDrain drain(kernel_, loop_, logger_, 50);
  const sys::Timespec start = kernel_.MonotonicNow();
  int64_t elapsed_ms = -1;

  drain.WhenDrained({holder}, [&] {
    elapsed_ms = MillisSince(start);
    loop_.Stop();
  });
  RunUntilStopped();

  EXPECT_GE(elapsed_ms, 50);
  // The data stays for a client that comes back; only the wait ended.
  EXPECT_EQ(*kernel_.BytesReadable(holder), 11);
}

TEST_F(OutputDrainTest, FdIsFreeForTheLoopAfterDone) {
  int holder = -1, reader = -1;
  MakeFifo(&holder, &reader);
  Write(holder, "x");
  LoopOutputDrain drain(kernel_, loop_, logger_, kDrainTimeoutMs);

  drain.WhenDrained({holder}, [&] { loop_.Stop(); });
  loop_.AddTimer(5, [&] { ReadAvailable(reader); });
  RunUntilStopped();

  // The drain removed its watch, so the fd can be registered again.
  Status added = loop_.Add(holder, sys::kEpollOut, [](uint32_t) {});
  EXPECT_TRUE(added.ok()) << added.ToString();
  loop_.Remove(holder);
}

}  // namespace
}  // namespace reaper::shim
