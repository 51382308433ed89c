#include "runtime/process_launcher.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "fakes/fake_kernel.h"
#include "runtime/overlay_namespace.h"
#include "tests/unit/runtime_test_support.h"

namespace reaper {
namespace runtime {
namespace {

using fakes::FakeKernel;

class ProcessLauncherTest : public ::testing::Test {
 protected:
  ProcessLauncherTest()
      : layout_(MakeOverlayLayout("/run/reaper/overlay", "/run/reaper/ns", "node")),
        overlay_(kernel_, layout_),
        scheduler_(kernel_),
        launcher_(kernel_, overlay_, &scheduler_) {}

  void SetUp() override {
    kernel_.WriteFile("/usr/bin/sleep", "", 0755);
    kernel_.WriteFile("/bin/sh", "", 0755);
    kernel_.WriteFile("/usr/local/bin/tool", "", 0755);
    kernel_.WriteFile("/bin/notexec", "", 0644);
    host_mounts_ = HostMounts();
  }

  LaunchRequest Request(std::vector<std::string> args) {
    LaunchRequest request;
    request.process.args = std::move(args);
    request.process.env = {"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/root"};
    return request;
  }

  std::vector<std::string> HostMounts() {
    return DescribeMounts(kernel_.MountTable(kernel_.host_mount_namespace()));
  }

  std::vector<std::string> PinMounts(pid_t pid) {
    std::vector<std::string> expected = host_mounts_;
    expected.push_back("/run/reaper/ns tmpfs /run/reaper/ns private");
    expected.push_back("/run/reaper/ns/node nsfs /proc/" + std::to_string(pid) + "/ns/mnt private");
    return expected;
  }

  FakeKernel kernel_;
  OverlayLayout layout_;
  OverlayNamespace overlay_;
  FakeChildScheduler scheduler_;
  ProcessLauncher launcher_;
  std::vector<std::string> host_mounts_;
};

TEST_F(ProcessLauncherTest, FirstLaunchCreatesPinsAndExecs) {
  Result<LaunchedProcess> launched = launcher_.Launch(Request({"sleep", "100"}));
  ASSERT_TRUE(launched.ok()) << launched.status().ToString();
  pid_t pid = launched->pid;

  FakeKernel::ProcessInfo process = kernel_.Process(pid);
  EXPECT_EQ(process.state, FakeKernel::ProcessState::kExecuted);
  EXPECT_EQ(process.program, "/usr/bin/sleep");
  EXPECT_EQ(process.argv, (std::vector<std::string>{"sleep", "100"}));
  EXPECT_EQ(process.env, (std::vector<std::string>{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/root"}));
  EXPECT_EQ(process.parent, FakeKernel::kTestPid);
  EXPECT_EQ(process.sid, pid);
  EXPECT_EQ(process.pgid, pid);
  EXPECT_EQ(process.cwd, "/");
  EXPECT_NE(process.mount_namespace, kernel_.host_mount_namespace());
  EXPECT_EQ(kernel_.MountTableOf(pid)[0].fstype, "overlay");
  EXPECT_TRUE(overlay_.IsPinned());
  EXPECT_EQ(HostMounts(), PinMounts(pid));
  EXPECT_TRUE(launched->warnings.empty());
}

TEST_F(ProcessLauncherTest, SecondLaunchJoinsWithoutMounting) {
  Result<LaunchedProcess> first = launcher_.Launch(Request({"sleep", "100"}));
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  kernel_.ClearCalls();

  Result<LaunchedProcess> second = launcher_.Launch(Request({"sleep", "200"}));
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(kernel_.MountNamespaceOf(second->pid), kernel_.MountNamespaceOf(first->pid));
  EXPECT_EQ(kernel_.CallsOf("Setns").size(), 1u);
  EXPECT_TRUE(kernel_.CallsOf("Mount").empty());
  EXPECT_TRUE(kernel_.CallsOf("Unshare").empty());
  EXPECT_EQ(HostMounts(), PinMounts(first->pid));
}

TEST_F(ProcessLauncherTest, OverlayFailureRefusesAndLeavesNothing) {
  kernel_.FailNextMatching("Mount", "overlay", ENODEV);
  Result<LaunchedProcess> launched = launcher_.Launch(Request({"sleep", "100"}));

  ASSERT_FALSE(launched.ok());
  EXPECT_EQ(launched.status().error_number(), ENODEV);
  EXPECT_EQ(launched.status().message().rfind(
                "the overlay is mandatory and could not be mounted, so nothing was started: ", 0),
            0u)
      << launched.status().message();
  EXPECT_TRUE(kernel_.Children(FakeKernel::kTestPid).empty());
  EXPECT_TRUE(kernel_.CallsOf("Execve").empty());
  EXPECT_FALSE(overlay_.IsPinned());
  EXPECT_FALSE(kernel_.Exists(layout_.pin));
  EXPECT_EQ(HostMounts(), host_mounts_);
}

TEST_F(ProcessLauncherTest, MissingBinaryIsReportedAndUnpinned) {
  Result<LaunchedProcess> launched = launcher_.Launch(Request({"/nonexistent"}));
  ASSERT_FALSE(launched.ok());
  EXPECT_EQ(launched.status().code(), Code::kNotFound);
  EXPECT_EQ(launched.status().message(), "exec \"/nonexistent\": No such file or directory");
  EXPECT_TRUE(kernel_.Children(FakeKernel::kTestPid).empty());
  EXPECT_FALSE(overlay_.IsPinned());
  EXPECT_EQ(HostMounts(), host_mounts_);
}

TEST_F(ProcessLauncherTest, MissingBinaryInPathIsReported) {
  Result<LaunchedProcess> launched = launcher_.Launch(Request({"no-such-tool"}));
  ASSERT_FALSE(launched.ok());
  EXPECT_EQ(launched.status().message(), "exec \"no-such-tool\": No such file or directory");
}

TEST_F(ProcessLauncherTest, BadCwdIsReported) {
  LaunchRequest request = Request({"sleep", "1"});
  request.process.cwd = "/nonexistent";
  Result<LaunchedProcess> launched = launcher_.Launch(request);
  ASSERT_FALSE(launched.ok());
  EXPECT_EQ(launched.status().code(), Code::kNotFound);
  EXPECT_EQ(launched.status().message(),
            "set working directory: chdir /nonexistent: No such file or directory");
  EXPECT_TRUE(kernel_.Children(FakeKernel::kTestPid).empty());
}

TEST_F(ProcessLauncherTest, NonExecutableIsPermissionDenied) {
  Result<LaunchedProcess> launched = launcher_.Launch(Request({"/bin/notexec"}));
  ASSERT_FALSE(launched.ok());
  EXPECT_EQ(launched.status().code(), Code::kPermissionDenied);
  EXPECT_EQ(launched.status().message(), "exec \"/bin/notexec\": Permission denied");
}

TEST_F(ProcessLauncherTest, ExecveFailureAfterReadyIsReported) {
  kernel_.FailNext("Execve", ENOEXEC);
  Result<LaunchedProcess> launched = launcher_.Launch(Request({"sleep", "1"}));
  ASSERT_FALSE(launched.ok());
  EXPECT_EQ(launched.status().message(), "exec \"sleep\": Exec format error");
  EXPECT_TRUE(kernel_.Children(FakeKernel::kTestPid).empty());
}

TEST_F(ProcessLauncherTest, PinnedNamespaceSurvivesFailedJoiner) {
  Result<LaunchedProcess> first = launcher_.Launch(Request({"sleep", "100"}));
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  Result<LaunchedProcess> failed = launcher_.Launch(Request({"/nonexistent"}));
  ASSERT_FALSE(failed.ok());
  EXPECT_TRUE(overlay_.IsPinned());
  EXPECT_EQ(HostMounts(), PinMounts(first->pid));
}

TEST_F(ProcessLauncherTest, ChildGetsEmptySignalMaskAndDefaultDispositions) {
  ASSERT_TRUE(kernel_.SetSignalMask(SIG_BLOCK, {SIGCHLD, SIGTERM}).ok());
  ASSERT_TRUE(kernel_.SetSignalIgnored(SIGPIPE, true).ok());
  Result<LaunchedProcess> launched = launcher_.Launch(Request({"sleep", "100"}));
  ASSERT_TRUE(launched.ok()) << launched.status().ToString();
  EXPECT_TRUE(kernel_.SignalMask(launched->pid).empty());
  EXPECT_TRUE(kernel_.IgnoredSignals(launched->pid).empty());
  EXPECT_EQ(kernel_.SignalMask(FakeKernel::kTestPid), (std::vector<int>{SIGTERM, SIGCHLD}));
}

TEST_F(ProcessLauncherTest, ChildTakesUserAndGroups) {
  LaunchRequest request = Request({"sleep", "100"});
  request.process.user.uid = 1000;
  request.process.user.gid = 100;
  request.process.user.additional_gids = {10, 20};
  Result<LaunchedProcess> launched = launcher_.Launch(request);
  ASSERT_TRUE(launched.ok()) << launched.status().ToString();
  FakeKernel::ProcessInfo process = kernel_.Process(launched->pid);
  EXPECT_EQ(process.uid, 1000u);
  EXPECT_EQ(process.gid, 100u);
  EXPECT_EQ(process.groups, (std::vector<gid_t>{10, 20}));
}

TEST_F(ProcessLauncherTest, RootStaysRootWithoutSetIdentity) {
  Result<LaunchedProcess> launched = launcher_.Launch(Request({"sleep", "100"}));
  ASSERT_TRUE(launched.ok()) << launched.status().ToString();
  EXPECT_TRUE(kernel_.CallsOf("SetIdentity").empty());
}

TEST_F(ProcessLauncherTest, WorkloadKeepsOnlyStdio) {
  Result<LaunchedProcess> launched = launcher_.Launch(Request({"sleep", "100"}));
  ASSERT_TRUE(launched.ok()) << launched.status().ToString();
  EXPECT_EQ(kernel_.OpenFds(launched->pid), (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(kernel_.OpenFds(FakeKernel::kTestPid), (std::vector<int>{0, 1, 2}));
}

TEST_F(ProcessLauncherTest, LockIsReleasedAfterLaunch) {
  Result<LaunchedProcess> launched = launcher_.Launch(Request({"sleep", "100"}));
  ASSERT_TRUE(launched.ok()) << launched.status().ToString();
  Result<int> lock = kernel_.Open(layout_.lock, O_RDWR | O_CLOEXEC);
  ASSERT_TRUE(lock.ok());
  EXPECT_TRUE(kernel_.Flock(*lock, LOCK_EX | LOCK_NB).ok());
  ASSERT_TRUE(kernel_.Close(*lock).ok());
}

TEST_F(ProcessLauncherTest, UnsetOomScoreAdjIsWarning) {
  LaunchRequest request = Request({"sleep", "100"});
  request.process.oom_score_adj = 500;
  kernel_.FailNextMatching("Open", "oom_score_adj", EACCES);
  Result<LaunchedProcess> launched = launcher_.Launch(request);
  ASSERT_TRUE(launched.ok()) << launched.status().ToString();
  ASSERT_EQ(launched->warnings.size(), 1u);
  EXPECT_EQ(launched->warnings[0],
            "set oom_score_adj to 500: open /proc/self/oom_score_adj: Permission denied");
}

TEST_F(ProcessLauncherTest, CreateLeavesProcessWaitingOnExecFifo) {
  kernel_.MakeDirectory("/run/reaper/runtime/t1");
  ASSERT_TRUE(kernel_.Mkfifo("/run/reaper/runtime/t1/exec.fifo", 0622).ok());
  LaunchRequest request = Request({"sleep", "100"});
  request.exec_fifo = "/run/reaper/runtime/t1/exec.fifo";

  Result<LaunchedProcess> launched = launcher_.Launch(request);
  ASSERT_TRUE(launched.ok()) << launched.status().ToString();
  EXPECT_EQ(kernel_.Process(launched->pid).state, FakeKernel::ProcessState::kRunning);
  EXPECT_TRUE(kernel_.CallsOf("Execve").empty());
  EXPECT_EQ(scheduler_.PendingSteps(launched->pid), 1u);
  EXPECT_TRUE(overlay_.IsPinned());
}

TEST(ResolveExecutableTest, SearchesPathInOrder) {
  FakeKernel kernel;
  kernel.WriteFile("/usr/local/bin/tool", "", 0755);
  kernel.WriteFile("/usr/bin/tool", "", 0755);
  Result<std::string> found = ResolveExecutable(kernel, "tool", "/usr/local/bin:/usr/bin");
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  EXPECT_EQ(*found, "/usr/local/bin/tool");
}

TEST(ResolveExecutableTest, SkipsNonExecutableAndDirectories) {
  FakeKernel kernel;
  kernel.WriteFile("/a/tool", "", 0644);
  kernel.MakeDirectory("/b/tool");
  kernel.WriteFile("/c/tool", "", 0755);
  Result<std::string> found = ResolveExecutable(kernel, "tool", "/a:/b:/c");
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  EXPECT_EQ(*found, "/c/tool");
}

TEST(ResolveExecutableTest, OnlyNonExecutableIsPermissionDenied) {
  FakeKernel kernel;
  kernel.WriteFile("/a/tool", "", 0644);
  Result<std::string> found = ResolveExecutable(kernel, "tool", "/a:/b");
  ASSERT_FALSE(found.ok());
  EXPECT_EQ(found.status().code(), Code::kPermissionDenied);
  EXPECT_EQ(found.status().message(), "exec \"tool\": Permission denied");
}

TEST(ResolveExecutableTest, EmptyPathEntryIsWorkingDirectory) {
  FakeKernel kernel;
  kernel.WriteFile("/work/tool", "", 0755);
  ASSERT_TRUE(kernel.Chdir("/work").ok());
  Result<std::string> found = ResolveExecutable(kernel, "tool", "/usr/bin::/bin");
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  EXPECT_EQ(*found, "./tool");
}

TEST(ResolveExecutableTest, NameWithSlashIsNotSearched) {
  FakeKernel kernel;
  kernel.WriteFile("/usr/bin/tool", "", 0755);
  kernel.WriteFile("/work/bin/tool", "", 0755);
  ASSERT_TRUE(kernel.Chdir("/work").ok());
  Result<std::string> found = ResolveExecutable(kernel, "bin/tool", "/usr/bin");
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  EXPECT_EQ(*found, "bin/tool");

  Result<std::string> missing = ResolveExecutable(kernel, "./tool", "/usr/bin");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().message(), "exec \"./tool\": No such file or directory");
}

}  // namespace
}  // namespace runtime
}  // namespace reaper
