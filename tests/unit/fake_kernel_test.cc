// The kernel contract on fakes::FakeKernel, and tests of the parts of the
// model that only the fake shows (mount tables, zombies, loud failures, fault
// injection).
#include "fakes/fake_kernel.h"
#include "fakes/mock_kernel.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <linux/sched.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <gmock/gmock.h>
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "tests/contract/kernel_contract.h"

namespace fakes {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using sys::contract::CreateFile;
using sys::contract::ReadPath;

// Runs the contract on a fresh fake, as its test process (pid 100, root).
class FakeEnvironment {
 public:
  sys::Kernel& kernel() { return kernel_; }
  bool Prepare(std::string* /*skip_reason*/) {
    kernel_.MakeDirectory(kScratch);
    return true;
  }
  std::string scratch() const { return kScratch; }
  std::vector<int> OpenFds() { return kernel_.OpenFds(kernel_.current()); }

  sys::Result<pid_t> ForkAndRun(const std::function<int()>& body) {
    sys::Result<pid_t> pid = kernel_.Fork();
    if (!pid.ok()) return pid;
    kernel_.RunAsChild(*pid, [&] { kernel_.Exit(body()); });
    return pid;
  }

  sys::Result<pid_t> ForkAndPark(const std::function<void()>& setup) {
    sys::Result<pid_t> pid = kernel_.Fork();
    if (!pid.ok()) return pid;
    // A body that returns leaves the child running.
    kernel_.RunAsChild(*pid, setup);
    return pid;
  }

  void Cleanup() {}

 private:
  static constexpr const char* kScratch = "/tmp/contract";
  FakeKernel kernel_;
};

}  // namespace
}  // namespace fakes

namespace sys {
namespace contract {
INSTANTIATE_TYPED_TEST_SUITE_P(Fake, KernelContractTest, ::testing::Types<fakes::FakeEnvironment>);
}  // namespace contract
}  // namespace sys

namespace fakes {
namespace {

constexpr pid_t kTest = FakeKernel::kTestPid;

class FakeKernelTest : public ::testing::Test {
 protected:
  void TearDown() override {
    EXPECT_EQ(kernel_.OpenFds(kTest), (std::vector<int>{0, 1, 2})) << "an fd leaked";
  }

  // Forks a child of the current process that runs `body` and exits with
  // its result.
  pid_t Spawn(const std::function<int()>& body) {
    sys::Result<pid_t> pid = kernel_.Fork();
    EXPECT_TRUE(pid.ok());
    kernel_.RunAsChild(*pid, [&] { kernel_.Exit(body()); });
    return *pid;
  }

  // Forks a child that stays running.
  pid_t SpawnIdle() {
    sys::Result<pid_t> pid = kernel_.Fork();
    EXPECT_TRUE(pid.ok());
    return *pid;
  }

  bool HasMount(int namespace_id, const std::string& target) {
    return kernel_.FindMount(namespace_id, target).has_value();
  }

  FakeKernel kernel_;
};

// ---- Processes ----------------------------------------------------------------

TEST_F(FakeKernelTest, StartsWithInitAndTestProcess) {
  EXPECT_EQ(kernel_.current(), kTest);
  EXPECT_EQ(kernel_.GetPid(), kTest);
  EXPECT_EQ(kernel_.GetParentPid(), FakeKernel::kInitPid);
  EXPECT_EQ(kernel_.GetEffectiveUid(), 0u);
  EXPECT_EQ(*kernel_.Getcwd(), "/");
  EXPECT_EQ(kernel_.MountNamespaceOf(kTest), kernel_.host_mount_namespace());
}

TEST_F(FakeKernelTest, ForkCopiesStateButNotSubreaperFlag) {
  ASSERT_TRUE(kernel_.SetChildSubreaper().ok());
  ASSERT_TRUE(kernel_.SetSignalMask(SIG_BLOCK, {SIGTERM}).ok());
  ASSERT_TRUE(kernel_.Chdir("/tmp").ok());
  const pid_t child = SpawnIdle();

  const FakeKernel::ProcessInfo info = kernel_.Process(child);
  EXPECT_EQ(child, FakeKernel::kFirstChildPid);
  EXPECT_EQ(info.parent, kTest);
  EXPECT_EQ(info.cwd, "/tmp");
  EXPECT_FALSE(info.child_subreaper);
  EXPECT_EQ(kernel_.SignalMask(child), std::vector<int>{SIGTERM});
  EXPECT_EQ(kernel_.OpenFds(child), (std::vector<int>{0, 1, 2}));
  ASSERT_TRUE(kernel_.Kill(child, SIGKILL).ok());
  ASSERT_TRUE(kernel_.Wait(child, 0).ok());
}

TEST_F(FakeKernelTest, ExitedChildIsZombieUntilWaitedFor) {
  const pid_t child = Spawn([] { return 7; });
  EXPECT_EQ(kernel_.Process(child).state, FakeKernel::ProcessState::kZombie);
  EXPECT_TRUE(kernel_.Kill(child, SIGTERM).ok());  // a zombie can still be signalled

  sys::Result<sys::WaitResult> waited = kernel_.Wait(-1, WNOHANG);
  ASSERT_TRUE(waited.ok());
  EXPECT_EQ(waited->pid, child);
  EXPECT_EQ(WEXITSTATUS(waited->status), 7);
  EXPECT_FALSE(kernel_.ProcessExists(child));
  EXPECT_EQ(kernel_.Wait(-1, WNOHANG).status().error_number(), ECHILD);
}

TEST_F(FakeKernelTest, OrphanGoesToInitWhichReapsIt) {
  pid_t grandchild = 0;
  const pid_t child = Spawn([&] {
    grandchild = SpawnIdle();
    return 0;
  });
  EXPECT_EQ(kernel_.Process(grandchild).parent, FakeKernel::kInitPid);
  ASSERT_TRUE(kernel_.Wait(child, 0).ok());

  kernel_.ExitProcess(grandchild, 0);
  EXPECT_FALSE(kernel_.ProcessExists(grandchild));
}

TEST_F(FakeKernelTest, OrphanGoesToNearestLivingSubreaper) {
  ASSERT_TRUE(kernel_.SetChildSubreaper().ok());
  pid_t middle = 0;
  pid_t leaf = 0;
  const pid_t top = SpawnIdle();
  kernel_.RunAsChild(top, [&] {
    middle = Spawn([&] {
      leaf = SpawnIdle();
      return 0;
    });
  });
  // `top` is no subreaper, so the leaf skips it and goes to the test process.
  EXPECT_EQ(kernel_.Process(leaf).parent, kTest);
  EXPECT_THAT(kernel_.Children(kTest), ElementsAre(top, leaf));
  EXPECT_EQ(kernel_.Process(middle).parent, top);

  kernel_.ExitProcess(leaf, 4);
  sys::Result<sys::WaitResult> waited = kernel_.Wait(leaf, 0);
  ASSERT_TRUE(waited.ok());
  EXPECT_EQ(WEXITSTATUS(waited->status), 4);
  ASSERT_TRUE(kernel_.Kill(top, SIGKILL).ok());
  ASSERT_TRUE(kernel_.Wait(top, 0).ok());
}

TEST_F(FakeKernelTest, ParentIgnoringSigchldHasChildrenReaped) {
  ASSERT_TRUE(kernel_.SetSignalIgnored(SIGCHLD, true).ok());
  const pid_t child = Spawn([] { return 0; });
  EXPECT_FALSE(kernel_.ProcessExists(child));
  EXPECT_EQ(kernel_.Wait(-1, WNOHANG).status().error_number(), ECHILD);
}

TEST_F(FakeKernelTest, SigchldIsLostUnlessBlocked) {
  Spawn([] { return 0; });
  EXPECT_TRUE(kernel_.PendingSignals(kTest).empty());
  ASSERT_TRUE(kernel_.SetSignalMask(SIG_BLOCK, {SIGCHLD}).ok());
  Spawn([] { return 0; });
  Spawn([] { return 0; });
  // Standard signals do not queue: two exits, one pending SIGCHLD.
  EXPECT_EQ(kernel_.PendingSignals(kTest), std::vector<int>{SIGCHLD});
  ASSERT_TRUE(kernel_.Wait(-1, 0).ok());
  ASSERT_TRUE(kernel_.Wait(-1, 0).ok());
  ASSERT_TRUE(kernel_.Wait(-1, 0).ok());
}

TEST_F(FakeKernelTest, BlockingWaitWithoutExitedChildFailsLoudly) {
  const pid_t child = SpawnIdle();
  sys::Result<sys::WaitResult> waited = sys::WaitResult();
  EXPECT_NONFATAL_FAILURE(waited = kernel_.Wait(child, 0), "would block forever");
  EXPECT_EQ(waited.status().code(), reaper::Code::kUnimplemented);
  ASSERT_TRUE(kernel_.Kill(child, SIGKILL).ok());
  ASSERT_TRUE(kernel_.Wait(child, 0).ok());
}

TEST_F(FakeKernelTest, ExecveClosesCloseOnExecFds) {
  kernel_.WriteFile("/usr/bin/workload", "#!/bin/sh\n", 0755);
  const pid_t child = SpawnIdle();
  int kept = -1;
  kernel_.RunAsChild(child, [&] {
    kept = *kernel_.Open("/usr/bin/workload", O_RDONLY);
    ASSERT_TRUE(kernel_.Open("/usr/bin/workload", O_RDONLY | O_CLOEXEC).ok());
    ASSERT_TRUE(kernel_.Chdir("/tmp").ok());
    ASSERT_TRUE(kernel_.SetIdentity(1000, 1000, {1000}).ok());
    static_cast<void>(kernel_.Execve("/usr/bin/workload", {"workload", "--flag"}, {"A=1"}));
    ADD_FAILURE() << "Execve returned";
  });

  const FakeKernel::ProcessInfo info = kernel_.Process(child);
  EXPECT_EQ(info.state, FakeKernel::ProcessState::kExecuted);
  EXPECT_EQ(info.program, "/usr/bin/workload");
  EXPECT_THAT(info.argv, ElementsAre("workload", "--flag"));
  EXPECT_THAT(info.env, ElementsAre("A=1"));
  EXPECT_EQ(info.cwd, "/tmp");
  EXPECT_EQ(info.uid, 1000u);
  EXPECT_EQ(kernel_.OpenFds(child), (std::vector<int>{0, 1, 2, kept}));
  ASSERT_TRUE(kernel_.Kill(child, SIGKILL).ok());
  ASSERT_TRUE(kernel_.Wait(child, 0).ok());
}

TEST_F(FakeKernelTest, ExecveResetsOnlyHandledSignals) {
  kernel_.WriteFile("/bin/true", "", 0755);
  const pid_t child = SpawnIdle();
  kernel_.SetSignalHandled(child, SIGUSR1);
  kernel_.RunAsChild(child, [&] {
    ASSERT_TRUE(kernel_.SetSignalMask(SIG_BLOCK, {SIGCHLD}).ok());
    ASSERT_TRUE(kernel_.SetSignalIgnored(SIGHUP, true).ok());
    static_cast<void>(kernel_.Execve("/bin/true", {"true"}, {}));
  });
  EXPECT_EQ(kernel_.SignalMask(child), std::vector<int>{SIGCHLD});
  EXPECT_EQ(kernel_.IgnoredSignals(child), std::vector<int>{SIGHUP});
  // The handler is gone, so SIGUSR1 now kills.
  ASSERT_TRUE(kernel_.Kill(child, SIGUSR1).ok());
  sys::Result<sys::WaitResult> waited = kernel_.Wait(child, 0);
  ASSERT_TRUE(waited.ok());
  EXPECT_EQ(WTERMSIG(waited->status), SIGUSR1);
}

TEST_F(FakeKernelTest, ExecveOfMissingOrNonExecutableFileFails) {
  kernel_.WriteFile("/bin/data", "", 0644);
  EXPECT_EQ(kernel_.Execve("/bin/absent", {"absent"}, {}).error_number(), ENOENT);
  EXPECT_EQ(kernel_.Execve("/bin/data", {"data"}, {}).error_number(), EACCES);
  EXPECT_EQ(kernel_.Execve("/bin", {"bin"}, {}).error_number(), EACCES);
}

TEST_F(FakeKernelTest, ExitOutsideRunAsChildFailsTheTest) {
  EXPECT_NONFATAL_FAILURE(EXPECT_ANY_THROW(kernel_.Exit(1)), "outside RunAsChild");
  EXPECT_EQ(kernel_.Process(kTest).state, FakeKernel::ProcessState::kRunning);
}

TEST_F(FakeKernelTest, HandledSignalIsRecordedAndOthersKill) {
  const pid_t child = SpawnIdle();
  kernel_.SetSignalHandled(child, SIGTERM);
  ASSERT_TRUE(kernel_.Kill(child, SIGTERM).ok());
  EXPECT_EQ(kernel_.SignalsReceived(child), std::vector<int>{SIGTERM});
  EXPECT_EQ(kernel_.Process(child).state, FakeKernel::ProcessState::kRunning);
  ASSERT_TRUE(kernel_.Kill(child, SIGWINCH).ok());  // ignored by default
  EXPECT_EQ(kernel_.Process(child).state, FakeKernel::ProcessState::kRunning);
  ASSERT_TRUE(kernel_.Kill(child, SIGINT).ok());
  EXPECT_EQ(kernel_.Process(child).state, FakeKernel::ProcessState::kZombie);
  EXPECT_EQ(WTERMSIG(kernel_.Process(child).wait_status), SIGINT);
  ASSERT_TRUE(kernel_.Wait(child, 0).ok());
}

TEST_F(FakeKernelTest, InitDiscardsSignalsWithoutHandler) {
  ASSERT_TRUE(kernel_.Kill(FakeKernel::kInitPid, SIGKILL).ok());
  EXPECT_EQ(kernel_.Process(FakeKernel::kInitPid).state, FakeKernel::ProcessState::kRunning);
}

TEST_F(FakeKernelTest, UnblockingPendingSignalDeliversIt) {
  const pid_t child = SpawnIdle();
  kernel_.RunAsChild(child, [&] { ASSERT_TRUE(kernel_.SetSignalMask(SIG_BLOCK, {SIGTERM}).ok()); });
  ASSERT_TRUE(kernel_.Kill(child, SIGTERM).ok());
  EXPECT_EQ(kernel_.PendingSignals(child), std::vector<int>{SIGTERM});
  bool continued = false;
  kernel_.RunAsChild(child, [&] {
    static_cast<void>(kernel_.SetSignalMask(SIG_SETMASK, {}));
    continued = true;
  });
  EXPECT_FALSE(continued);
  EXPECT_EQ(WTERMSIG(kernel_.Process(child).wait_status), SIGTERM);
  ASSERT_TRUE(kernel_.Wait(child, 0).ok());
}

TEST_F(FakeKernelTest, ParentDeathSignalReachesChild) {
  pid_t grandchild = 0;
  const pid_t child = Spawn([&] {
    grandchild = SpawnIdle();
    kernel_.RunAsChild(grandchild, [&] { ASSERT_TRUE(kernel_.SetParentDeathSignal(SIGKILL).ok()); });
    return 0;
  });
  ASSERT_TRUE(kernel_.Wait(child, 0).ok());
  // Killed as its parent died, then reaped by init.
  EXPECT_FALSE(kernel_.ProcessExists(grandchild));
}

TEST_F(FakeKernelTest, SetIdentityNeedsRoot) {
  const pid_t child = SpawnIdle();
  kernel_.RunAsChild(child, [&] {
    ASSERT_TRUE(kernel_.SetIdentity(1000, 1000, {}).ok());
    sys::Status again = kernel_.SetIdentity(0, 0, {});
    EXPECT_EQ(again.error_number(), EPERM);
    EXPECT_EQ(again.message(), "setgroups (0 groups): Operation not permitted");
    EXPECT_EQ(kernel_.GetEffectiveUid(), 1000u);
  });
  ASSERT_TRUE(kernel_.Kill(child, SIGKILL).ok());
  ASSERT_TRUE(kernel_.Wait(child, 0).ok());
}

TEST_F(FakeKernelTest, SetSidMakesNewSessionUnlessGroupLeader) {
  EXPECT_EQ(kernel_.SetSid().status().error_number(), EPERM);
  const pid_t child = SpawnIdle();
  kernel_.RunAsChild(child, [&] { EXPECT_EQ(*kernel_.SetSid(), child); });
  EXPECT_EQ(kernel_.Process(child).sid, child);
  EXPECT_EQ(kernel_.SetPgid(child, kTest).error_number(), EPERM);
  ASSERT_TRUE(kernel_.Kill(child, SIGKILL).ok());
  ASSERT_TRUE(kernel_.Wait(child, 0).ok());
}

// ---- Files and fds -------------------------------------------------------------------

TEST_F(FakeKernelTest, FileHelpersWriteReadAndCreateParents) {
  kernel_.WriteFile("/etc/reaper/reaper.conf", "KEY=value\n", 0600);
  EXPECT_EQ(kernel_.ReadFileContent("/etc/reaper/reaper.conf"), "KEY=value\n");
  EXPECT_TRUE(kernel_.Exists("/etc/reaper"));
  EXPECT_FALSE(kernel_.Exists("/etc/missing"));
  EXPECT_EQ(kernel_.Stat("/etc/reaper/reaper.conf")->mode, 0600u);
  EXPECT_NONFATAL_FAILURE(kernel_.ReadFileContent("/etc/missing"), "not a regular file");
}

TEST_F(FakeKernelTest, FlockIsReleasedWhenHolderExits) {
  kernel_.WriteFile("/run/lock", "");
  const pid_t child = SpawnIdle();
  kernel_.RunAsChild(child, [&] {
    int fd = *kernel_.Open("/run/lock", O_RDONLY | O_CLOEXEC);
    ASSERT_TRUE(kernel_.Flock(fd, LOCK_EX).ok());
  });
  int fd = *kernel_.Open("/run/lock", O_RDONLY | O_CLOEXEC);
  EXPECT_EQ(kernel_.Flock(fd, LOCK_EX | LOCK_NB).error_number(), EWOULDBLOCK);
  EXPECT_NONFATAL_FAILURE(static_cast<void>(kernel_.Flock(fd, LOCK_EX)), "would block forever");
  kernel_.ExitProcess(child, 0);
  EXPECT_TRUE(kernel_.Flock(fd, LOCK_EX | LOCK_NB).ok());
  ASSERT_TRUE(kernel_.Close(fd).ok());
  ASSERT_TRUE(kernel_.Wait(child, 0).ok());
}

TEST_F(FakeKernelTest, BlockingPipeReadFailsLoudly) {
  sys::Result<std::pair<int, int>> pipe = kernel_.Pipe(O_CLOEXEC);
  ASSERT_TRUE(pipe.ok());
  char byte;
  EXPECT_NONFATAL_FAILURE(static_cast<void>(kernel_.Read(pipe->first, &byte, 1)),
                          "empty pipe whose write end is still open");
  ASSERT_TRUE(kernel_.Close(pipe->first).ok());
  ASSERT_TRUE(kernel_.Close(pipe->second).ok());
}

TEST_F(FakeKernelTest, BlockingFifoOpenWithoutPeerFailsLoudly) {
  ASSERT_TRUE(kernel_.Mkfifo("/run/fifo", 0600).ok());
  EXPECT_NONFATAL_FAILURE(static_cast<void>(kernel_.Open("/run/fifo", O_RDONLY | O_CLOEXEC)),
                          "has no writer");
  EXPECT_NONFATAL_FAILURE(static_cast<void>(kernel_.Open("/run/fifo", O_WRONLY | O_CLOEXEC)),
                          "has no reader");
  // Once a reader holds it open, a blocking writer gets through.
  int reader = *kernel_.Open("/run/fifo", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  int writer = *kernel_.Open("/run/fifo", O_WRONLY | O_CLOEXEC);
  ASSERT_TRUE(kernel_.Close(writer).ok());
  ASSERT_TRUE(kernel_.Close(reader).ok());
}

TEST_F(FakeKernelTest, ChildSharesOpenFileOffsetWithParent) {
  kernel_.WriteFile("/tmp/shared", "abcdef");
  int fd = *kernel_.Open("/tmp/shared", O_RDONLY | O_CLOEXEC);
  const pid_t child = Spawn([&] {
    char buffer[3];
    return kernel_.Read(fd, buffer, 3).ok() ? 0 : 1;
  });
  char buffer[8];
  sys::Result<size_t> count = kernel_.Read(fd, buffer, sizeof(buffer));
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(std::string(buffer, *count), "def");
  ASSERT_TRUE(kernel_.Close(fd).ok());
  ASSERT_TRUE(kernel_.Wait(child, 0).ok());
}

TEST_F(FakeKernelTest, ProcShowsSelfAndFds) {
  EXPECT_EQ(*kernel_.Readlink("/proc/self"), "100");
  EXPECT_THAT(*kernel_.ListDirectory("/proc/self/fd"), ElementsAre("0", "1", "2"));
  const std::string link = *kernel_.Readlink("/proc/self/ns/mnt");
  EXPECT_THAT(link, HasSubstr("mnt:["));
  sys::Result<int> status = kernel_.Open("/proc/1/status", O_RDONLY | O_CLOEXEC);
  EXPECT_EQ(status.status().code(), reaper::Code::kUnimplemented);
  EXPECT_EQ(status.status().message(), "fake kernel: /proc/1/status is not modeled");
}

// ---- Mount namespaces ---------------------------------------------------------------

TEST_F(FakeKernelTest, HostTableHasSharedRootAndPseudoFilesystems) {
  const std::vector<FakeKernel::MountEntry> table = kernel_.MountTable(kernel_.host_mount_namespace());
  ASSERT_EQ(table.size(), 5u);
  EXPECT_EQ(table[0].target, "/");
  EXPECT_EQ(table[0].fstype, "ext4");
  EXPECT_EQ(table[0].propagation, FakeKernel::Propagation::kShared);
  EXPECT_EQ(table[1].target, "/proc");
  EXPECT_EQ(table[4].target, "/run");
  EXPECT_EQ(*kernel_.FilesystemType("/proc"), PROC_SUPER_MAGIC);
}

TEST_F(FakeKernelTest, MountUnderSharedParentLeaksIntoHost) {
  kernel_.MakeDirectory("/tmp/leak");
  const pid_t child = SpawnIdle();
  kernel_.RunAsChild(child, [&] {
    ASSERT_TRUE(kernel_.Unshare(CLONE_NEWNS).ok());
    // The make-private step is missing.
    ASSERT_TRUE(kernel_.Mount("tmpfs", "/tmp/leak", "tmpfs", 0, "").ok());
  });
  EXPECT_NE(kernel_.MountNamespaceOf(child), kernel_.host_mount_namespace());
  EXPECT_TRUE(HasMount(kernel_.MountNamespaceOf(child), "/tmp/leak"));
  EXPECT_TRUE(HasMount(kernel_.host_mount_namespace(), "/tmp/leak"));
  EXPECT_EQ(*kernel_.FilesystemType("/tmp/leak"), TMPFS_MAGIC);
  ASSERT_TRUE(kernel_.Kill(child, SIGKILL).ok());
  ASSERT_TRUE(kernel_.Wait(child, 0).ok());
}

TEST_F(FakeKernelTest, PrivateNamespaceKeepsMountsToItself) {
  kernel_.MakeDirectory("/tmp/private");
  const pid_t child = SpawnIdle();
  kernel_.RunAsChild(child, [&] {
    ASSERT_TRUE(kernel_.Unshare(CLONE_NEWNS).ok());
    ASSERT_TRUE(kernel_.Mount("", "/", "", MS_REC | MS_PRIVATE, "").ok());
    ASSERT_TRUE(kernel_.Mount("tmpfs", "/tmp/private", "tmpfs", 0, "").ok());
  });
  EXPECT_TRUE(HasMount(kernel_.MountNamespaceOf(child), "/tmp/private"));
  EXPECT_FALSE(HasMount(kernel_.host_mount_namespace(), "/tmp/private"));
  for (const FakeKernel::MountEntry& entry : kernel_.MountTableOf(child)) {
    EXPECT_EQ(entry.propagation, FakeKernel::Propagation::kPrivate) << entry.target;
  }
  ASSERT_TRUE(kernel_.Kill(child, SIGKILL).ok());
  ASSERT_TRUE(kernel_.Wait(child, 0).ok());
}

TEST_F(FakeKernelTest, SlaveReceivesHostMountsButDoesNotSend) {
  kernel_.MakeDirectory("/tmp/from-host");
  kernel_.MakeDirectory("/tmp/from-slave");
  const pid_t child = SpawnIdle();
  kernel_.RunAsChild(child, [&] {
    ASSERT_TRUE(kernel_.Unshare(CLONE_NEWNS).ok());
    ASSERT_TRUE(kernel_.Mount("", "/", "", MS_REC | MS_SLAVE, "").ok());
    ASSERT_TRUE(kernel_.Mount("tmpfs", "/tmp/from-slave", "tmpfs", 0, "").ok());
  });
  ASSERT_TRUE(kernel_.Mount("tmpfs", "/tmp/from-host", "tmpfs", 0, "").ok());
  const int slave = kernel_.MountNamespaceOf(child);
  EXPECT_TRUE(HasMount(slave, "/tmp/from-host"));
  EXPECT_FALSE(HasMount(kernel_.host_mount_namespace(), "/tmp/from-slave"));
  EXPECT_EQ(kernel_.FindMount(slave, "/")->propagation, FakeKernel::Propagation::kSlave);

  ASSERT_TRUE(kernel_.Unmount("/tmp/from-host", 0).ok());
  EXPECT_FALSE(HasMount(slave, "/tmp/from-host"));
  ASSERT_TRUE(kernel_.Kill(child, SIGKILL).ok());
  ASSERT_TRUE(kernel_.Wait(child, 0).ok());
}

TEST_F(FakeKernelTest, NamespaceLivesWhileReferenced) {
  kernel_.WriteFile("/run/pin", "");
  const pid_t owner = SpawnIdle();
  kernel_.RunAsChild(owner, [&] { ASSERT_TRUE(kernel_.Unshare(CLONE_NEWNS).ok()); });
  const int pinned = kernel_.MountNamespaceOf(owner);
  ASSERT_TRUE(kernel_.Mount("/proc/" + std::to_string(owner) + "/ns/mnt", "/run/pin", "", MS_BIND, "").ok());
  EXPECT_EQ(*kernel_.FilesystemType("/run/pin"), NSFS_MAGIC);

  ASSERT_TRUE(kernel_.Kill(owner, SIGKILL).ok());
  ASSERT_TRUE(kernel_.Wait(owner, 0).ok());
  EXPECT_TRUE(kernel_.MountNamespaceExists(pinned));
  int fd = *kernel_.Open("/run/pin", O_RDONLY | O_CLOEXEC);
  ASSERT_TRUE(kernel_.Unmount("/run/pin", MNT_DETACH).ok());
  EXPECT_TRUE(kernel_.MountNamespaceExists(pinned));  // the open fd keeps it
  ASSERT_TRUE(kernel_.Close(fd).ok());
  EXPECT_FALSE(kernel_.MountNamespaceExists(pinned));
  EXPECT_TRUE(kernel_.MountTable(pinned).empty());
}

TEST_F(FakeKernelTest, SetnsMovesProcessToNamespaceRoot) {
  const pid_t owner = SpawnIdle();
  kernel_.RunAsChild(owner, [&] { ASSERT_TRUE(kernel_.Unshare(CLONE_NEWNS).ok()); });
  const pid_t joiner = SpawnIdle();
  kernel_.RunAsChild(joiner, [&] {
    ASSERT_TRUE(kernel_.Chdir("/tmp").ok());
    int fd = *kernel_.Open("/proc/" + std::to_string(owner) + "/ns/mnt", O_RDONLY | O_CLOEXEC);
    EXPECT_EQ(kernel_.Setns(fd, CLONE_NEWNET).error_number(), EINVAL);
    ASSERT_TRUE(kernel_.Setns(fd, CLONE_NEWNS).ok());
    ASSERT_TRUE(kernel_.Close(fd).ok());
  });
  EXPECT_EQ(kernel_.MountNamespaceOf(joiner), kernel_.MountNamespaceOf(owner));
  EXPECT_EQ(kernel_.Process(joiner).cwd, "/");
  for (pid_t pid : {owner, joiner}) {
    ASSERT_TRUE(kernel_.Kill(pid, SIGKILL).ok());
    ASSERT_TRUE(kernel_.Wait(pid, 0).ok());
  }
}

// The shape of Reaper's shared namespace: host "/" as the read-only lower
// layer, pivot_root into the overlay, host /proc bound in.
TEST_F(FakeKernelTest, OverlayRootProtectsHostFiles) {
  kernel_.WriteFile("/etc/hostname", "node\n");
  for (const char* directory : {"/run/overlay/upper", "/run/overlay/work", "/run/overlay/merged"}) {
    kernel_.MakeDirectory(directory);
  }
  const pid_t child = SpawnIdle();
  kernel_.RunAsChild(child, [&] {
    ASSERT_TRUE(kernel_.Unshare(CLONE_NEWNS).ok());
    ASSERT_TRUE(kernel_.Mount("", "/", "", MS_REC | MS_PRIVATE, "").ok());
    const std::string merged = "/run/overlay/merged";
    ASSERT_TRUE(kernel_.Mount("overlay", merged, "overlay", 0,
                              "lowerdir=/,upperdir=/run/overlay/upper,workdir=/run/overlay/work")
                    .ok());
    // /proc is a separate mount, so the lower layer shows it empty.
    EXPECT_TRUE(kernel_.ListDirectory(merged + "/proc")->empty());
    ASSERT_TRUE(kernel_.Mount("/proc", merged + "/proc", "", MS_BIND | MS_REC, "").ok());
    ASSERT_TRUE(kernel_.Chdir(merged).ok());
    ASSERT_TRUE(kernel_.PivotRoot(".", ".").ok());
    ASSERT_TRUE(kernel_.Unmount(".", MNT_DETACH).ok());

    ASSERT_TRUE(CreateFile(kernel_, "/etc/hostname", "workload\n").ok());
    EXPECT_EQ(*ReadPath(kernel_, "/etc/hostname"), "workload\n");
    EXPECT_EQ(*kernel_.FilesystemType("/"), OVERLAYFS_SUPER_MAGIC);
    EXPECT_EQ(*kernel_.Readlink("/proc/self"), std::to_string(child));
  });
  EXPECT_EQ(kernel_.ReadFileContent("/etc/hostname"), "node\n");
  EXPECT_EQ(kernel_.ReadFileContent("/run/overlay/upper/etc/hostname"), "workload\n");
  const std::vector<FakeKernel::MountEntry> table = kernel_.MountTableOf(child);
  ASSERT_EQ(table.size(), 2u);
  EXPECT_EQ(table[0].target, "/");
  EXPECT_EQ(table[0].fstype, "overlay");
  EXPECT_EQ(table[1].target, "/proc");
  EXPECT_EQ(table[1].fstype, "proc");
  ASSERT_TRUE(kernel_.Kill(child, SIGKILL).ok());
  ASSERT_TRUE(kernel_.Wait(child, 0).ok());
}

TEST_F(FakeKernelTest, OverlayNeedsExistingLayers) {
  kernel_.MakeDirectory("/run/o/merged");
  kernel_.MakeDirectory("/run/o/upper");
  sys::Status missing_work = kernel_.Mount("overlay", "/run/o/merged", "overlay", 0,
                                           "lowerdir=/,upperdir=/run/o/upper,workdir=/run/o/work");
  EXPECT_EQ(missing_work.error_number(), ENOENT);
  EXPECT_EQ(missing_work.message(), "mount overlay on /run/o/merged: No such file or directory");
  sys::Status no_work = kernel_.Mount("overlay", "/run/o/merged", "overlay", 0,
                                      "lowerdir=/,upperdir=/run/o/upper");
  EXPECT_EQ(no_work.error_number(), EINVAL);
  sys::Status unknown = kernel_.Mount("overlay", "/run/o/merged", "overlay", 0, "lowerdir=/,bogus=1");
  EXPECT_EQ(unknown.error_number(), EINVAL);
  EXPECT_EQ(kernel_.Mount("none", "/run/o/merged", "nosuchfs", 0, "").error_number(), ENODEV);
}

// ---- Loud failures, fault injection, call log, clock ---------------------------------

TEST_F(FakeKernelTest, UnmodeledCallsReturnUnimplemented) {
  sys::Result<int> socket = kernel_.UnixSocket(SOCK_STREAM);
  EXPECT_EQ(socket.status().code(), reaper::Code::kUnimplemented);
  EXPECT_EQ(socket.status().message(), "fake kernel: UnixSocket is not modeled");
  EXPECT_EQ(kernel_.EpollCreate().status().code(), reaper::Code::kUnimplemented);
  EXPECT_EQ(kernel_.Unshare(CLONE_NEWPID).code(), reaper::Code::kUnimplemented);
  EXPECT_EQ(kernel_.Mount("/a", "/b", "", MS_MOVE, "").code(), reaper::Code::kUnimplemented);
}

TEST_F(FakeKernelTest, FailNextFailsOnlyTheNextCalls) {
  kernel_.MakeDirectory("/tmp/x");
  kernel_.FailNext("Mount", EPERM, 2);
  sys::Status first = kernel_.Mount("tmpfs", "/tmp/x", "tmpfs", 0, "");
  EXPECT_EQ(first.error_number(), EPERM);
  EXPECT_EQ(first.code(), reaper::Code::kPermissionDenied);
  EXPECT_EQ(first.message(), "mount tmpfs on /tmp/x: Operation not permitted");
  EXPECT_EQ(kernel_.Mount("tmpfs", "/tmp/x", "tmpfs", 0, "").error_number(), EPERM);
  EXPECT_TRUE(kernel_.Mount("tmpfs", "/tmp/x", "tmpfs", 0, "").ok());
  EXPECT_FALSE(HasMount(kernel_.host_mount_namespace(), "/tmp/y"));
}

TEST_F(FakeKernelTest, FailNextMatchingFiltersOnCallLine) {
  kernel_.MakeDirectory("/tmp/x");
  kernel_.FailNextMatching("Mount", "overlay", EBUSY);
  EXPECT_TRUE(kernel_.Mount("tmpfs", "/tmp/x", "tmpfs", 0, "").ok());
  sys::Status failed = kernel_.Mount("overlay", "/tmp/x", "overlay", 0, "lowerdir=/");
  EXPECT_EQ(failed.error_number(), EBUSY);
  EXPECT_EQ(failed.message(), "mount overlay on /tmp/x: Device or resource busy");
}

TEST_F(FakeKernelTest, CallLogKeepsOrder) {
  kernel_.MakeDirectory("/tmp/x");
  kernel_.ClearCalls();
  ASSERT_TRUE(kernel_.Mount("tmpfs", "/tmp/x", "tmpfs", MS_NOSUID, "").ok());
  ASSERT_TRUE(kernel_.Unmount("/tmp/x", MNT_DETACH).ok());
  kernel_.GetPid();
  EXPECT_THAT(kernel_.Calls(), ElementsAre("Mount tmpfs /tmp/x tmpfs 0x2 \"\"", "Unmount /tmp/x 0x2"));
  EXPECT_THAT(kernel_.CallsOf("Unmount"), ElementsAre("Unmount /tmp/x 0x2"));
}

TEST_F(FakeKernelTest, ClockMovesOnlyWhenAdvanced) {
  const sys::Timespec start = kernel_.MonotonicNow();
  EXPECT_EQ(kernel_.MonotonicNow().seconds, start.seconds);
  kernel_.AdvanceClock(1, 600000000);
  kernel_.AdvanceClock(0, 500000000);
  EXPECT_EQ(kernel_.MonotonicNow().seconds, start.seconds + 2);
  EXPECT_EQ(kernel_.MonotonicNow().nanos, 100000000);
  EXPECT_EQ(kernel_.Now().seconds, 1700000002);
}

// ---- The mock -----------------------------------------------------------------------

TEST(MockKernelTest, UnplannedCallFailsWithUnimplemented) {
  ::testing::NiceMock<MockKernel> mock;
  sys::Kernel& kernel = mock;
  sys::Result<int> fd = kernel.Open("/run/x", O_RDONLY);
  EXPECT_EQ(fd.status().code(), reaper::Code::kUnimplemented);
  EXPECT_EQ(fd.status().message(), "mock kernel: Open has no expectation");
  EXPECT_EQ(kernel.Mount("a", "b", "", 0, "").message(), "mock kernel: Mount has no expectation");
}

TEST(MockKernelTest, ExpectationsFixOrderAndExitThrows) {
  ::testing::StrictMock<MockKernel> mock;
  sys::Kernel& kernel = mock;
  ::testing::InSequence in_order;
  EXPECT_CALL(mock, Setns(5, CLONE_NEWNS)).WillOnce(::testing::Return(sys::Status::Ok()));
  EXPECT_CALL(mock, Mount("tmpfs", "/x", "tmpfs", 0ul, "")).WillOnce(::testing::Return(sys::Status::Ok()));
  EXPECT_CALL(mock, ExitCalled(3));
  EXPECT_TRUE(kernel.Setns(5, CLONE_NEWNS).ok());
  EXPECT_TRUE(kernel.Mount("tmpfs", "/x", "tmpfs", 0, "").ok());
  EXPECT_THROW(kernel.Exit(3), MockKernel::Exited);
}

}  // namespace
}  // namespace fakes
