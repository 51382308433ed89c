#include "shim/exit_reaper.h"

#include <signal.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "common/log.h"
#include "fakes/fake_kernel.h"

namespace reaper::shim {
namespace {

struct Reaped {
  pid_t pid;
  ExitInfo exit;
};

class ExitReaperTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(reaper_.Open().ok()); }

  pid_t ForkChild() {
    Result<pid_t> pid = kernel_.Fork();
    EXPECT_TRUE(pid.ok());
    return *pid;
  }

  void WatchInto(pid_t pid, std::vector<Reaped>* reaped) {
    reaper_.Watch(pid, [reaped](pid_t exited, const ExitInfo& exit) {
      reaped->push_back({exited, exit});
    });
  }

  fakes::FakeKernel kernel_;
  Logger logger_{kernel_};
  ExitReaper reaper_{kernel_, logger_};
};

TEST_F(ExitReaperTest, OpenBlocksSigchldAndOpensSignalfd) {
  std::vector<int> mask = kernel_.SignalMask(kernel_.current());
  EXPECT_NE(std::find(mask.begin(), mask.end(), SIGCHLD), mask.end());
  EXPECT_GE(reaper_.fd(), 0);
  EXPECT_TRUE(kernel_.IsCloseOnExec(kernel_.current(), reaper_.fd()));
}

TEST_F(ExitReaperTest, ReportsExitCode) {
  pid_t pid = ForkChild();
  std::vector<Reaped> reaped;
  WatchInto(pid, &reaped);

  kernel_.ExitProcess(pid, 3);
  reaper_.OnReadable();

  ASSERT_EQ(reaped.size(), 1u);
  EXPECT_EQ(reaped[0].pid, pid);
  EXPECT_EQ(reaped[0].exit.status, 3u);
  EXPECT_EQ(reaped[0].exit.time.seconds, kernel_.Now().seconds);
  EXPECT_FALSE(kernel_.ProcessExists(pid));
}

TEST_F(ExitReaperTest, ReportsSigtermAs143) {
  pid_t pid = ForkChild();
  std::vector<Reaped> reaped;
  WatchInto(pid, &reaped);

  ASSERT_TRUE(kernel_.Kill(pid, SIGTERM).ok());
  reaper_.OnReadable();

  ASSERT_EQ(reaped.size(), 1u);
  EXPECT_EQ(reaped[0].exit.status, 143u);
}

TEST_F(ExitReaperTest, ReportsSigkillAs137) {
  pid_t pid = ForkChild();
  std::vector<Reaped> reaped;
  WatchInto(pid, &reaped);

  ASSERT_TRUE(kernel_.Kill(pid, SIGKILL).ok());
  reaper_.OnReadable();

  ASSERT_EQ(reaped.size(), 1u);
  EXPECT_EQ(reaped[0].exit.status, 137u);
}

TEST_F(ExitReaperTest, ReapsSeveralExitsOfOneSignal) {
  pid_t first = ForkChild();
  pid_t second = ForkChild();
  std::vector<Reaped> reaped;
  WatchInto(first, &reaped);
  WatchInto(second, &reaped);

  // Two exits leave one pending SIGCHLD, as standard signals do not queue.
  kernel_.ExitProcess(first, 1);
  kernel_.ExitProcess(second, 2);
  reaper_.OnReadable();

  ASSERT_EQ(reaped.size(), 2u);
  EXPECT_TRUE(kernel_.PendingSignals(kernel_.current()).empty());
  EXPECT_TRUE(kernel_.Children(kernel_.current()).empty());
}

TEST_F(ExitReaperTest, KeepsExitThatArrivesBeforeWatch) {
  pid_t pid = ForkChild();
  kernel_.ExitProcess(pid, 7);
  reaper_.OnReadable();
  EXPECT_EQ(reaper_.kept_exit_count(), 1u);

  std::vector<Reaped> reaped;
  WatchInto(pid, &reaped);

  ASSERT_EQ(reaped.size(), 1u);
  EXPECT_EQ(reaped[0].exit.status, 7u);
  EXPECT_EQ(reaper_.kept_exit_count(), 0u);
}

TEST_F(ExitReaperTest, KeptExitTimeIsReapTime) {
  pid_t pid = ForkChild();
  kernel_.ExitProcess(pid, 0);
  reaper_.OnReadable();
  const int64_t reaped_at = kernel_.Now().seconds;
  kernel_.AdvanceClock(5);

  std::vector<Reaped> reaped;
  WatchInto(pid, &reaped);

  ASSERT_EQ(reaped.size(), 1u);
  EXPECT_EQ(reaped[0].exit.time.seconds, reaped_at);
}

TEST_F(ExitReaperTest, ForgetKeptExitsDropsThem) {
  pid_t pid = ForkChild();
  kernel_.ExitProcess(pid, 0);
  reaper_.OnReadable();

  reaper_.ForgetKeptExits();
  std::vector<Reaped> reaped;
  WatchInto(pid, &reaped);

  EXPECT_TRUE(reaped.empty());
}

TEST_F(ExitReaperTest, BoundsKeptExits) {
  for (size_t i = 0; i < ExitReaper::kMaxKeptExits + 10; ++i) {
    kernel_.ExitProcess(ForkChild(), 0);
  }
  reaper_.OnReadable();

  EXPECT_EQ(reaper_.kept_exit_count(), ExitReaper::kMaxKeptExits);
}

TEST_F(ExitReaperTest, UnwatchedPidIsNotReported) {
  pid_t pid = ForkChild();
  std::vector<Reaped> reaped;
  WatchInto(pid, &reaped);
  reaper_.Unwatch(pid);

  kernel_.ExitProcess(pid, 0);
  reaper_.OnReadable();

  EXPECT_TRUE(reaped.empty());
}

TEST_F(ExitReaperTest, WaitForReapsOnePid) {
  pid_t pid = ForkChild();
  std::vector<Reaped> reaped;
  WatchInto(pid, &reaped);
  ASSERT_TRUE(kernel_.Kill(pid, SIGKILL).ok());

  ASSERT_TRUE(reaper_.WaitFor(pid).ok());

  ASSERT_EQ(reaped.size(), 1u);
  EXPECT_EQ(reaped[0].exit.status, 137u);
}

TEST_F(ExitReaperTest, WaitForFailsForNonChild) {
  Status status = reaper_.WaitFor(4242);
  EXPECT_EQ(status.error_number(), ECHILD);
}

TEST_F(ExitReaperTest, ReadableWithoutExitsDoesNothing) {
  reaper_.OnReadable();
  EXPECT_EQ(reaper_.kept_exit_count(), 0u);
}

TEST(ExitStatusTest, MapsRawStatuses) {
  EXPECT_EQ(ExitReaper::ExitStatusOf(0), 0u);
  EXPECT_EQ(ExitReaper::ExitStatusOf(3 << 8), 3u);
  EXPECT_EQ(ExitReaper::ExitStatusOf(255 << 8), 255u);
  EXPECT_EQ(ExitReaper::ExitStatusOf(SIGKILL), 137u);
  EXPECT_EQ(ExitReaper::ExitStatusOf(SIGTERM), 143u);
  EXPECT_EQ(ExitReaper::ExitStatusOf(SIGSEGV | 0x80), 139u);  // with a core dump
}

}  // namespace
}  // namespace reaper::shim
