#include "runtime/overlay_namespace.h"

#include <fcntl.h>
#include <linux/mount.h>
#include <sys/file.h>

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "fakes/fake_kernel.h"
#include "tests/unit/runtime_test_support.h"

namespace reaper {
namespace runtime {
namespace {

using fakes::FakeKernel;

class OverlayNamespaceTest : public ::testing::Test {
 protected:
  OverlayNamespaceTest()
      : layout_(MakeOverlayLayout("/run/reaper/overlay", "/run/reaper/ns", "node")),
        overlay_(kernel_, layout_) {}

  void SetUp() override { ASSERT_TRUE(overlay_.PrepareDirectories().ok()); }

  // Forks a child and runs Create() in it.
  pid_t CreateInChild() {
    Result<pid_t> pid = kernel_.Fork();
    EXPECT_TRUE(pid.ok());
    Status created;
    kernel_.RunAsChild(*pid, [&] { created = overlay_.Create(); });
    EXPECT_TRUE(created.ok()) << created.ToString();
    return *pid;
  }

  std::vector<std::string> HostMounts() {
    return DescribeMounts(kernel_.MountTable(kernel_.host_mount_namespace()));
  }

  FakeKernel kernel_;
  OverlayLayout layout_;
  OverlayNamespace overlay_;
};

TEST_F(OverlayNamespaceTest, LayoutFollowsKey) {
  EXPECT_EQ(layout_.upper, "/run/reaper/overlay/node/upper");
  EXPECT_EQ(layout_.work, "/run/reaper/overlay/node/work");
  EXPECT_EQ(layout_.merged, "/run/reaper/overlay/node/merged");
  EXPECT_EQ(layout_.pin, "/run/reaper/ns/node");
  EXPECT_EQ(layout_.lock, "/run/reaper/ns/node.lock");
}

TEST_F(OverlayNamespaceTest, UpperDirectoryTakesModeOfHostRoot) {
  // The overlay's "/" shows the upper directory's owner and mode.
  Result<sys::FileInfo> root = kernel_.Stat("/");
  Result<sys::FileInfo> upper = kernel_.Stat(layout_.upper);
  ASSERT_TRUE(root.ok());
  ASSERT_TRUE(upper.ok());
  EXPECT_EQ(upper->mode, root->mode);
  EXPECT_EQ(upper->uid, root->uid);
  EXPECT_EQ(upper->gid, root->gid);

  ASSERT_TRUE(kernel_.Chmod(layout_.upper, 0700).ok());
  ASSERT_TRUE(overlay_.PrepareDirectories().ok());
  EXPECT_EQ(kernel_.Stat(layout_.upper)->mode, root->mode);
}

TEST_F(OverlayNamespaceTest, CreateRunsStepsInOrder) {
  Result<pid_t> pid = kernel_.Fork();
  ASSERT_TRUE(pid.ok());
  kernel_.ClearCalls();
  Status created;
  kernel_.RunAsChild(*pid, [&] { created = overlay_.Create(); });
  ASSERT_TRUE(created.ok()) << created.ToString();

  EXPECT_EQ(kernel_.Calls(),
            (std::vector<std::string>{
                "Unshare 0x20000",
                "Mount \"\" / \"\" 0x44000 \"\"",
                "Mount overlay /run/reaper/overlay/node/merged overlay 0x0 "
                "lowerdir=/,upperdir=/run/reaper/overlay/node/upper,"
                "workdir=/run/reaper/overlay/node/work",
                "Mount /proc /run/reaper/overlay/node/merged/proc \"\" 0x5000 \"\"",
                "Mount /sys /run/reaper/overlay/node/merged/sys \"\" 0x5000 \"\"",
                "Mount /dev /run/reaper/overlay/node/merged/dev \"\" 0x5000 \"\"",
                "Mount /run /run/reaper/overlay/node/merged/run \"\" 0x5000 \"\"",
                "Chdir /run/reaper/overlay/node/merged",
                "PivotRoot . .",
                "Unmount . 0x2",
                "Chdir /",
                "Unmount /run/reaper/overlay/node/merged 0x2",
            }));
}

TEST_F(OverlayNamespaceTest, CreatedNamespaceHasOverlayRootAndHostBinds) {
  pid_t pid = CreateInChild();
  std::vector<FakeKernel::MountEntry> mounts = kernel_.MountTableOf(pid);
  ASSERT_FALSE(mounts.empty());

  std::vector<std::string> targets;
  for (const FakeKernel::MountEntry& mount : mounts) targets.push_back(mount.target);
  EXPECT_EQ(targets, (std::vector<std::string>{"/", "/proc", "/sys", "/dev", "/run"}));
  EXPECT_EQ(mounts[0].fstype, "overlay");
  EXPECT_EQ(mounts[1].fstype, "proc");
  EXPECT_EQ(mounts[2].fstype, "sysfs");
  EXPECT_EQ(mounts[3].fstype, "devtmpfs");
  EXPECT_EQ(mounts[4].fstype, "tmpfs");
  for (const FakeKernel::MountEntry& mount : mounts) {
    EXPECT_EQ(mount.propagation, FakeKernel::Propagation::kPrivate) << mount.target;
  }
  EXPECT_EQ(kernel_.Process(pid).cwd, "/");
  EXPECT_NE(kernel_.MountNamespaceOf(pid), kernel_.host_mount_namespace());
}

TEST_F(OverlayNamespaceTest, CreateLeavesHostMountTableUnchanged) {
  std::vector<std::string> before = HostMounts();
  CreateInChild();
  EXPECT_EQ(HostMounts(), before);
}

TEST_F(OverlayNamespaceTest, WritesInNamespaceStayInUpperDirectory) {
  pid_t pid = CreateInChild();
  kernel_.RunAsChild(pid, [&] {
    Result<int> fd = kernel_.Open("/etc/written", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    ASSERT_TRUE(fd.ok()) << fd.status().ToString();
    ASSERT_TRUE(kernel_.Close(*fd).ok());
  });
  EXPECT_FALSE(kernel_.Exists("/etc/written"));
  EXPECT_TRUE(kernel_.Exists("/run/reaper/overlay/node/upper/etc/written"));
}

TEST_F(OverlayNamespaceTest, OverlayMountFailureSaysOverlayIsMandatory) {
  Result<pid_t> pid = kernel_.Fork();
  ASSERT_TRUE(pid.ok());
  kernel_.FailNextMatching("Mount", "overlay", ENODEV);
  Status created;
  kernel_.RunAsChild(*pid, [&] { created = overlay_.Create(); });

  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.error_number(), ENODEV);
  EXPECT_EQ(created.message().rfind("the overlay is mandatory and could not be mounted, so "
                                    "nothing was started: ",
                                    0),
            0u)
      << created.message();
  EXPECT_NE(created.message().find(
                "(options lowerdir=/,upperdir=/run/reaper/overlay/node/upper,"
                "workdir=/run/reaper/overlay/node/work)"),
            std::string::npos)
      << created.message();
  EXPECT_TRUE(kernel_.CallsOf("PivotRoot").empty());
}

TEST_F(OverlayNamespaceTest, BindFailureNamesDirectory) {
  Result<pid_t> pid = kernel_.Fork();
  ASSERT_TRUE(pid.ok());
  kernel_.FailNextMatching("Mount", "merged/sys", EACCES);
  Status created;
  kernel_.RunAsChild(*pid, [&] { created = overlay_.Create(); });
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.message().rfind("bind host /sys: ", 0), 0u) << created.message();
}

TEST_F(OverlayNamespaceTest, PinBindsNamespaceOnPrivateDirectory) {
  pid_t pid = CreateInChild();
  std::vector<std::string> before = HostMounts();
  PinRecord record;
  Status pinned = overlay_.Pin(pid, &record);
  ASSERT_TRUE(pinned.ok()) << pinned.ToString();

  EXPECT_TRUE(record.bound_ns_dir);
  EXPECT_TRUE(record.created_pin_file);
  EXPECT_TRUE(record.mounted_pin);
  EXPECT_TRUE(overlay_.IsPinned());

  std::vector<std::string> expected = before;
  expected.push_back("/run/reaper/ns tmpfs /run/reaper/ns private");
  expected.push_back("/run/reaper/ns/node nsfs /proc/" + std::to_string(pid) + "/ns/mnt private");
  EXPECT_EQ(HostMounts(), expected);
}

TEST_F(OverlayNamespaceTest, PinKeepsNamespaceAfterWorkloadExits) {
  pid_t pid = CreateInChild();
  int namespace_id = kernel_.MountNamespaceOf(pid);
  PinRecord record;
  ASSERT_TRUE(overlay_.Pin(pid, &record).ok());

  kernel_.ExitProcess(pid, 0);
  ASSERT_TRUE(kernel_.Wait(pid, 0).ok());
  EXPECT_TRUE(kernel_.MountNamespaceExists(namespace_id));
  EXPECT_TRUE(overlay_.IsPinned());
}

TEST_F(OverlayNamespaceTest, JoinEntersPinnedNamespaceWithoutMounting) {
  pid_t first = CreateInChild();
  PinRecord record;
  ASSERT_TRUE(overlay_.Pin(first, &record).ok());

  Result<pid_t> second = kernel_.Fork();
  ASSERT_TRUE(second.ok());
  kernel_.ClearCalls();
  Status joined;
  kernel_.RunAsChild(*second, [&] { joined = overlay_.Join(); });
  ASSERT_TRUE(joined.ok()) << joined.ToString();

  EXPECT_EQ(kernel_.MountNamespaceOf(*second), kernel_.MountNamespaceOf(first));
  EXPECT_TRUE(kernel_.CallsOf("Mount").empty());
  EXPECT_TRUE(kernel_.CallsOf("Unshare").empty());
  ASSERT_EQ(kernel_.CallsOf("Setns").size(), 1u);
  EXPECT_EQ(kernel_.Process(*second).cwd, "/");
}

TEST_F(OverlayNamespaceTest, UnpinRemovesExactlyWhatPinAdded) {
  pid_t pid = CreateInChild();
  std::vector<std::string> before = HostMounts();
  PinRecord record;
  ASSERT_TRUE(overlay_.Pin(pid, &record).ok());
  ASSERT_TRUE(overlay_.Unpin(record).ok());

  EXPECT_EQ(HostMounts(), before);
  EXPECT_FALSE(kernel_.Exists(layout_.pin));
  EXPECT_FALSE(overlay_.IsPinned());
}

TEST_F(OverlayNamespaceTest, PrivateNsDirIsNotBoundAgain) {
  kernel_.MakeDirectory("/run/reaper/ns");
  ASSERT_TRUE(kernel_.Mount("/run/reaper/ns", "/run/reaper/ns", "", MS_BIND, "").ok());
  ASSERT_TRUE(kernel_.Mount("", "/run/reaper/ns", "", MS_PRIVATE, "").ok());
  pid_t pid = CreateInChild();
  kernel_.ClearCalls();

  PinRecord record;
  ASSERT_TRUE(overlay_.Pin(pid, &record).ok());
  EXPECT_FALSE(record.bound_ns_dir);
  EXPECT_EQ(kernel_.CallsOf("Mount"),
            (std::vector<std::string>{"Mount /proc/" + std::to_string(pid) +
                                      "/ns/mnt /run/reaper/ns/node \"\" 0x1000 \"\""}));
}

TEST_F(OverlayNamespaceTest, SharedNsDirMountIsMadePrivate) {
  kernel_.MakeDirectory("/run/reaper/ns");
  ASSERT_TRUE(kernel_.Mount("/run/reaper/ns", "/run/reaper/ns", "", MS_BIND, "").ok());
  ASSERT_TRUE(kernel_.Mount("", "/run/reaper/ns", "", MS_SHARED, "").ok());
  pid_t pid = CreateInChild();
  kernel_.ClearCalls();

  PinRecord record;
  ASSERT_TRUE(overlay_.Pin(pid, &record).ok());
  EXPECT_FALSE(record.bound_ns_dir);
  std::vector<std::string> mounts = kernel_.CallsOf("Mount");
  ASSERT_EQ(mounts.size(), 2u);
  EXPECT_EQ(mounts[0], "Mount \"\" /run/reaper/ns \"\" 0x40000 \"\"");
  std::optional<FakeKernel::MountEntry> ns_dir =
      kernel_.FindMount(kernel_.host_mount_namespace(), "/run/reaper/ns");
  ASSERT_TRUE(ns_dir.has_value());
  EXPECT_EQ(ns_dir->propagation, FakeKernel::Propagation::kPrivate);
}

TEST_F(OverlayNamespaceTest, LeftoverPinFileIsReused) {
  kernel_.WriteFile(layout_.pin, "", 0444);
  EXPECT_FALSE(overlay_.IsPinned());

  pid_t pid = CreateInChild();
  PinRecord record;
  ASSERT_TRUE(overlay_.Pin(pid, &record).ok());
  EXPECT_FALSE(record.created_pin_file);
  EXPECT_TRUE(overlay_.IsPinned());
}

TEST_F(OverlayNamespaceTest, PinOfExitedProcessFails) {
  pid_t pid = CreateInChild();
  kernel_.ExitProcess(pid, 1);
  PinRecord record;
  Status pinned = overlay_.Pin(pid, &record);
  ASSERT_FALSE(pinned.ok());
  EXPECT_EQ(pinned.message().rfind("pin mount namespace of process " + std::to_string(pid) + ": ",
                                   0),
            0u)
      << pinned.message();
  EXPECT_FALSE(record.mounted_pin);
  ASSERT_TRUE(overlay_.Unpin(record).ok());
  EXPECT_FALSE(kernel_.Exists(layout_.pin));
}

TEST_F(OverlayNamespaceTest, LockCreatesLockFileAndUnlockReleases) {
  Result<int> lock = overlay_.Lock();
  ASSERT_TRUE(lock.ok()) << lock.status().ToString();
  EXPECT_TRUE(kernel_.Exists(layout_.lock));
  EXPECT_TRUE(kernel_.IsCloseOnExec(FakeKernel::kTestPid, *lock));
  overlay_.Unlock(*lock);

  Result<int> other = kernel_.Open(layout_.lock, O_RDWR | O_CLOEXEC);
  ASSERT_TRUE(other.ok());
  EXPECT_TRUE(kernel_.Flock(*other, LOCK_EX | LOCK_NB).ok());
  ASSERT_TRUE(kernel_.Close(*other).ok());
}

}  // namespace
}  // namespace runtime
}  // namespace reaper
