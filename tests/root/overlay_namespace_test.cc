// Root tests of OverlayNamespace and ProcessLauncher on the real kernel:
// the namespace is created once, pinned, joined by later processes, and a
// failed overlay mount leaves the host as it was.
#include "runtime/overlay_namespace.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "runtime/mount_info.h"
#include "runtime/process_launcher.h"
#include "sys/linux_kernel.h"

namespace reaper {
namespace runtime {
namespace {

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

std::multiset<std::string> HostMountPoints() {
  std::multiset<std::string> points;
  Result<std::vector<MountEntry>> mounts = ParseMountInfo(ReadText("/proc/self/mountinfo"));
  EXPECT_TRUE(mounts.ok());
  if (mounts.ok()) {
    for (const MountEntry& entry : *mounts) points.insert(entry.mount_point);
  }
  return points;
}

ino_t InodeOf(const std::string& path) {
  struct stat info;
  if (::stat(path.c_str(), &info) != 0) return 0;
  return info.st_ino;
}

class OverlayNamespaceRootTest : public ::testing::Test {
 protected:
  // Where the temporary state directory is made.
  virtual std::string BaseParent() const { return "/tmp"; }

  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    std::string pattern = BaseParent() + "/reaper-overlay-test.XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    base_ = pattern;
    layout_ = MakeOverlayLayout(base_ + "/overlay", base_ + "/ns", kNodeIsolationKey);
    mounts_before_ = HostMountPoints();
  }

  void TearDown() override {
    if (base_.empty()) return;
    for (pid_t pid : processes_) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    for (const std::string& mount : extra_mounts_) ::umount2(mount.c_str(), MNT_DETACH);
    ::umount2(layout_.pin.c_str(), MNT_DETACH);
    ::umount2(layout_.ns_dir.c_str(), MNT_DETACH);
    std::string remove = "rm -rf '" + base_ + "'";
    EXPECT_EQ(std::system(remove.c_str()), 0);
    EXPECT_EQ(HostMountPoints(), mounts_before_);
  }

  // Launches `args` the way `exec` does: it runs at once.
  Result<LaunchedProcess> Launch(const std::vector<std::string>& args) {
    OverlayNamespace overlay(kernel_, layout_);
    ProcessLauncher launcher(kernel_, overlay);
    LaunchRequest request;
    request.process.args = args;
    request.process.env = {"PATH=/usr/bin:/bin"};
    Result<LaunchedProcess> launched = launcher.Launch(request);
    if (launched.ok()) processes_.insert(launched->pid);
    return launched;
  }

  sys::LinuxKernel kernel_;
  std::string base_;
  OverlayLayout layout_;
  std::multiset<std::string> mounts_before_;
  std::set<pid_t> processes_;
  std::vector<std::string> extra_mounts_;
};

TEST_F(OverlayNamespaceRootTest, FirstLaunchCreatesAndPinsLaterLaunchJoins) {
  Result<LaunchedProcess> first = Launch({"sleep", "100"});
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  std::string first_ns = "/proc/" + std::to_string(first->pid) + "/ns/mnt";

  struct statfs pin_fs;
  ASSERT_EQ(::statfs(layout_.pin.c_str(), &pin_fs), 0);
  EXPECT_EQ(pin_fs.f_type, static_cast<decltype(pin_fs.f_type)>(NSFS_MAGIC));
  EXPECT_EQ(InodeOf(layout_.pin), InodeOf(first_ns));
  EXPECT_NE(InodeOf(first_ns), InodeOf("/proc/self/ns/mnt"));

  struct statfs root_fs;
  ASSERT_EQ(::statfs(("/proc/" + std::to_string(first->pid) + "/root/").c_str(), &root_fs), 0);
  EXPECT_EQ(root_fs.f_type, static_cast<decltype(root_fs.f_type)>(OVERLAYFS_SUPER_MAGIC));

  Result<LaunchedProcess> second = Launch({"sleep", "100"});
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(InodeOf("/proc/" + std::to_string(second->pid) + "/ns/mnt"), InodeOf(first_ns));

  std::multiset<std::string> expected = mounts_before_;
  expected.insert(layout_.ns_dir);
  expected.insert(layout_.pin);
  EXPECT_EQ(HostMountPoints(), expected);
}

TEST_F(OverlayNamespaceRootTest, PinOutlivesEveryWorkload) {
  Result<LaunchedProcess> first = Launch({"sleep", "100"});
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ino_t namespace_inode = InodeOf("/proc/" + std::to_string(first->pid) + "/ns/mnt");
  ::kill(first->pid, SIGKILL);
  ::waitpid(first->pid, nullptr, 0);
  processes_.erase(first->pid);

  OverlayNamespace overlay(kernel_, layout_);
  EXPECT_TRUE(overlay.IsPinned());
  Result<LaunchedProcess> next = Launch({"sleep", "100"});
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  EXPECT_EQ(InodeOf("/proc/" + std::to_string(next->pid) + "/ns/mnt"), namespace_inode);
}

TEST_F(OverlayNamespaceRootTest, NamespaceHasHostBindsInOrder) {
  Result<LaunchedProcess> launched = Launch({"sleep", "100"});
  ASSERT_TRUE(launched.ok()) << launched.status().ToString();
  Result<std::vector<MountEntry>> mounts = ParseMountInfo(
      ReadText("/proc/" + std::to_string(launched->pid) + "/mountinfo"));
  ASSERT_TRUE(mounts.ok()) << mounts.status().ToString();
  ASSERT_FALSE(mounts->empty());

  EXPECT_EQ((*mounts)[0].mount_point, "/");
  EXPECT_EQ((*mounts)[0].fstype, "overlay");
  std::vector<std::string> top_level;
  for (const MountEntry& entry : *mounts) {
    if (entry.parent_id == (*mounts)[0].id) top_level.push_back(entry.mount_point);
    EXPECT_TRUE(entry.optional_fields.empty())
        << entry.mount_point << " propagates: " << entry.optional_fields[0];
    EXPECT_NE(entry.mount_point, "/tmp");
  }
  EXPECT_EQ(top_level, (std::vector<std::string>{"/proc", "/sys", "/dev", "/run"}));
}

TEST_F(OverlayNamespaceRootTest, FailedOverlayMountLeavesNothing) {
  // An upper and a work directory on different file systems make the
  // overlay mount fail inside the child.
  OverlayNamespace overlay(kernel_, layout_);
  ASSERT_TRUE(overlay.PrepareDirectories().ok());
  ASSERT_EQ(::mount("tmpfs", layout_.work.c_str(), "tmpfs", 0, "size=1m"), 0);
  extra_mounts_.push_back(layout_.work);
  std::multiset<std::string> before = HostMountPoints();

  Result<LaunchedProcess> launched = Launch({"sleep", "100"});
  ASSERT_FALSE(launched.ok());
  EXPECT_EQ(launched.status().code(), Code::kInvalidArgument);
  EXPECT_NE(launched.status().message().find(
                "the overlay is mandatory and could not be mounted, so nothing was started: "),
            std::string::npos)
      << launched.status().message();
  EXPECT_FALSE(overlay.IsPinned());
  EXPECT_EQ(HostMountPoints(), before);
  // The child was reaped: no zombie is left for this process to collect.
  EXPECT_LE(::waitpid(-1, nullptr, WNOHANG), 0);
}

TEST_F(OverlayNamespaceRootTest, ChildErrorComesBackAndUnpins) {
  Result<LaunchedProcess> launched = Launch({"/nonexistent/program"});
  ASSERT_FALSE(launched.ok());
  EXPECT_EQ(launched.status().code(), Code::kNotFound);
  EXPECT_EQ(launched.status().message(),
            "exec \"/nonexistent/program\": No such file or directory");
  OverlayNamespace overlay(kernel_, layout_);
  EXPECT_FALSE(overlay.IsPinned());
  EXPECT_EQ(HostMountPoints(), mounts_before_);
}

// The default layout keeps the overlay under /run, which the namespace binds
// from the host.
class OverlayUnderRunRootTest : public OverlayNamespaceRootTest {
 protected:
  std::string BaseParent() const override { return "/run"; }
};

TEST_F(OverlayUnderRunRootTest, NamespaceHasOneOverlay) {
  Result<LaunchedProcess> launched = Launch({"sleep", "100"});
  ASSERT_TRUE(launched.ok()) << launched.status().ToString();
  Result<std::vector<MountEntry>> mounts = ParseMountInfo(
      ReadText("/proc/" + std::to_string(launched->pid) + "/mountinfo"));
  ASSERT_TRUE(mounts.ok()) << mounts.status().ToString();

  std::vector<std::string> overlays;
  for (const MountEntry& entry : *mounts) {
    if (entry.fstype == "overlay") overlays.push_back(entry.mount_point);
    EXPECT_NE(entry.mount_point.rfind(layout_.merged, 0), 0u) << entry.mount_point;
  }
  EXPECT_EQ(overlays, (std::vector<std::string>{"/"}));
}

}  // namespace
}  // namespace runtime
}  // namespace reaper
