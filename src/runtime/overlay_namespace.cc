#include "runtime/overlay_namespace.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <linux/mount.h>
#include <linux/sched.h>

#include <cerrno>
#include <utility>

#include "common/files.h"
#include "runtime/mount_info.h"

namespace reaper {
namespace runtime {

OverlayLayout MakeOverlayLayout(const std::string& overlay_base, const std::string& ns_dir,
                                const std::string& key) {
  OverlayLayout layout;
  layout.key = key;
  layout.upper = overlay_base + "/" + key + "/upper";
  layout.work = overlay_base + "/" + key + "/work";
  layout.merged = overlay_base + "/" + key + "/merged";
  layout.ns_dir = ns_dir;
  layout.pin = ns_dir + "/" + key;
  layout.lock = ns_dir + "/" + key + ".lock";
  return layout;
}

OverlayNamespace::OverlayNamespace(sys::Kernel& kernel, OverlayLayout layout)
    : kernel_(kernel), layout_(std::move(layout)) {}

Result<int> OverlayNamespace::Lock() {
  Status created = MakeDirectories(kernel_, layout_.ns_dir, 0700);
  if (!created.ok()) return created.Annotate("create namespace directory " + layout_.ns_dir);

  Result<int> fd = kernel_.Open(layout_.lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (!fd.ok()) return fd.status().Annotate("open namespace lock");
  Status locked = kernel_.Flock(*fd, LOCK_EX);
  if (!locked.ok()) {
    (void)kernel_.Close(*fd);
    return locked.Annotate("lock " + layout_.lock);
  }
  return fd;
}

void OverlayNamespace::Unlock(int lock_fd) {
  // LOCK_UN releases the lock of the open file description, which a forked
  // child still shares until it execs; a plain close would leave it held.
  (void)kernel_.Flock(lock_fd, LOCK_UN);
  (void)kernel_.Close(lock_fd);
}

Status OverlayNamespace::PrepareDirectories() {
  const std::pair<const std::string*, mode_t> directories[] = {
      {&layout_.upper, 0755}, {&layout_.work, 0700}, {&layout_.merged, 0755}};
  for (const auto& [directory, mode] : directories) {
    Status created = MakeDirectories(kernel_, *directory, mode);
    if (!created.ok()) return created.Annotate("create overlay directory " + *directory);
  }
  return MatchUpperToHostRoot();
}

Status OverlayNamespace::MatchUpperToHostRoot() {
  // The root of an overlay takes its owner and mode from the upper
  // directory, so a 0700 upper directory would make "/" unreadable for every
  // workload that does not run as root.
  Result<sys::FileInfo> root = kernel_.Stat("/");
  Result<sys::FileInfo> upper = kernel_.Stat(layout_.upper);
  Status status = root.ok() ? upper.status() : root.status();
  if (status.ok() && upper->mode != root->mode) status = kernel_.Chmod(layout_.upper, root->mode);
  if (status.ok() && (upper->uid != root->uid || upper->gid != root->gid)) {
    status = kernel_.Chown(layout_.upper, root->uid, root->gid);
  }
  if (!status.ok()) return status.Annotate("give " + layout_.upper + " the owner and mode of /");
  return Status::Ok();
}

bool OverlayNamespace::IsPinned() {
  Result<int64_t> type = kernel_.FilesystemType(layout_.pin);
  return type.ok() && *type == NSFS_MAGIC;
}

Status OverlayNamespace::Join() {
  Result<int> fd = kernel_.Open(layout_.pin, O_RDONLY | O_CLOEXEC);
  if (!fd.ok()) return fd.status().Annotate("join mount namespace");
  Status joined = kernel_.Setns(*fd, CLONE_NEWNS);
  (void)kernel_.Close(*fd);
  if (!joined.ok()) return joined.Annotate("join mount namespace " + layout_.pin);
  return Status::Ok();
}

Status OverlayNamespace::Create() {
  REAPER_RETURN_IF_ERROR(UnshareMountNamespace());
  REAPER_RETURN_IF_ERROR(MakeMountsPrivate());
  REAPER_RETURN_IF_ERROR(MountOverlay());
  REAPER_RETURN_IF_ERROR(BindHostDirectories());
  return PivotIntoMerged();
}

Status OverlayNamespace::UnshareMountNamespace() {
  Status status = kernel_.Unshare(CLONE_NEWNS);
  if (!status.ok()) return status.Annotate("create mount namespace");
  return Status::Ok();
}

Status OverlayNamespace::MakeMountsPrivate() {
  // The copied mounts keep the host's propagation; without this, the overlay
  // and bind mounts below would appear in the host's mount table.
  Status status = kernel_.Mount("", "/", "", MS_REC | MS_PRIVATE, "");
  if (!status.ok()) return status.Annotate("make the mounts of the new namespace private");
  return Status::Ok();
}

Status OverlayNamespace::MountOverlay() {
  std::string options =
      "lowerdir=/,upperdir=" + layout_.upper + ",workdir=" + layout_.work;
  Status status = kernel_.Mount("overlay", layout_.merged, "overlay", 0, options);
  if (!status.ok()) {
    return Status(status.code(),
                  "the overlay is mandatory and could not be mounted, so nothing was started: " +
                      status.message() + " (options " + options + ")",
                  status.error_number());
  }
  return Status::Ok();
}

Status OverlayNamespace::BindHostDirectories() {
  for (const char* directory : kHostBindDirectories) {
    std::string target = layout_.merged + directory;
    Status status = kernel_.Mount(directory, target, "", MS_BIND | MS_REC, "");
    if (!status.ok()) return status.Annotate("bind host " + std::string(directory));
  }
  return Status::Ok();
}

Status OverlayNamespace::PivotIntoMerged() {
  // pivot_root(".", ".") stacks the old root on top of the new one, so it
  // can be detached without a put_old directory (pivot_root(2), NOTES).
  Status status = kernel_.Chdir(layout_.merged);
  if (status.ok()) status = kernel_.PivotRoot(".", ".");
  if (status.ok()) status = kernel_.Unmount(".", sys::kUnmountDetach);
  if (status.ok()) status = kernel_.Chdir("/");
  if (!status.ok()) return status.Annotate("pivot_root into " + layout_.merged);
  return DetachNestedOverlay();
}

Status OverlayNamespace::DetachNestedOverlay() {
  // When `merged` lies under a bound host directory (the default, under
  // /run), the recursive bind copied the overlay mount there too. Detaching
  // it keeps one overlay in the namespace, its root. EINVAL means there is
  // no such copy.
  Status status = kernel_.Unmount(layout_.merged, sys::kUnmountDetach);
  if (status.ok() || status.error_number() == EINVAL || status.error_number() == ENOENT) {
    return Status::Ok();
  }
  return status.Annotate("detach the copy of the overlay at " + layout_.merged);
}

Status OverlayNamespace::MakeNsDirPrivateMountPoint(PinRecord* record) {
  Status created = MakeDirectories(kernel_, layout_.ns_dir, 0700);
  if (!created.ok()) return created.Annotate("create namespace directory " + layout_.ns_dir);
  Result<std::vector<MountEntry>> mounts = ReadMountInfo(kernel_);
  if (!mounts.ok()) return mounts.status().Annotate("read the host mount table");
  const MountEntry* entry = FindMount(*mounts, layout_.ns_dir);
  if (entry != nullptr && !IsShared(*entry)) return Status::Ok();

  if (entry == nullptr) {
    Status bound = kernel_.Mount(layout_.ns_dir, layout_.ns_dir, "", MS_BIND, "");
    if (!bound.ok()) return bound.Annotate("bind " + layout_.ns_dir + " onto itself");
    record->bound_ns_dir = true;
  }
  Status made_private = kernel_.Mount("", layout_.ns_dir, "", MS_PRIVATE, "");
  if (!made_private.ok()) return made_private.Annotate("make " + layout_.ns_dir + " private");
  return Status::Ok();
}

Status OverlayNamespace::Pin(pid_t pid, PinRecord* record) {
  REAPER_RETURN_IF_ERROR(MakeNsDirPrivateMountPoint(record));

  Result<sys::FileInfo> existing = kernel_.Lstat(layout_.pin);
  if (!existing.ok()) {
    Result<int> fd = kernel_.Open(layout_.pin, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
    if (!fd.ok()) return fd.status().Annotate("create pin file");
    (void)kernel_.Close(*fd);
    record->created_pin_file = true;
  }

  std::string source = "/proc/" + std::to_string(pid) + "/ns/mnt";
  Status bound = kernel_.Mount(source, layout_.pin, "", MS_BIND, "");
  if (!bound.ok()) return bound.Annotate("pin mount namespace of process " + std::to_string(pid));
  record->mounted_pin = true;
  return Status::Ok();
}

Status OverlayNamespace::Unpin(const PinRecord& record) {
  Status result;
  auto keep_first_error = [&result](const Status& status) {
    if (result.ok() && !status.ok()) result = status;
  };
  if (record.mounted_pin) keep_first_error(kernel_.Unmount(layout_.pin, sys::kUnmountDetach));
  if (record.created_pin_file) keep_first_error(kernel_.Unlink(layout_.pin));
  if (record.bound_ns_dir) keep_first_error(kernel_.Unmount(layout_.ns_dir, sys::kUnmountDetach));
  if (!result.ok()) return result.Annotate("remove the pin of namespace " + layout_.key);
  return Status::Ok();
}

}  // namespace runtime
}  // namespace reaper
