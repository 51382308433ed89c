// FakeKernel: mount namespaces, mount trees, propagation, pivot_root, nsfs
// pins and setns.
#include <fcntl.h>
#include <linux/magic.h>
#include <sched.h>
#include <sys/mount.h>

#include <algorithm>
#include <deque>

#include "fakes/fake_kernel.h"
#include "fakes/fake_kernel_internal.h"

namespace fakes {

using reaper::Code;
using sys::FileInfo;
using sys::Result;
using sys::Status;
using internal::IsDirectory;

namespace {

// mqueue(7) has no constant in <linux/magic.h>.
constexpr int64_t kMqueueMagic = 0x19800202;

constexpr unsigned long kPropagationFlags = MS_SHARED | MS_PRIVATE | MS_SLAVE | MS_UNBINDABLE;

// The same wording as sys::LinuxKernel, so messages read alike in both.
std::string DescribeMount(const std::string& source, const std::string& target,
                          const std::string& fstype, unsigned long flags) {
  const char* recursive = (flags & MS_REC) ? "r" : "";
  if (flags & MS_PRIVATE) return "make " + target + " " + recursive + "private";
  if (flags & MS_SHARED) return "make " + target + " " + recursive + "shared";
  if (flags & MS_SLAVE) return "make " + target + " " + recursive + "slave";
  if (flags & MS_UNBINDABLE) return "make " + target + " " + recursive + "unbindable";
  if (flags & MS_REMOUNT) return "remount " + target + " with flags " + internal::Hex(flags);
  if (flags & MS_BIND) return "bind mount " + source + " on " + target;
  return "mount " + (fstype.empty() ? source : fstype) + " on " + target;
}


bool IsUnder(const std::string& path, const std::string& directory) {
  if (directory.empty()) return true;
  return path == directory || path.rfind(directory + "/", 0) == 0;
}

// The part of `path` below `directory`, which IsUnder must accept.
std::string Below(const std::string& path, const std::string& directory) {
  if (directory.empty()) return path;
  return path.size() == directory.size() ? "" : path.substr(directory.size() + 1);
}

// "/a" under "/": "/a"; "/x/a" under "/x": "/a".
std::string AbsoluteBelow(const std::string& path, const std::string& directory) {
  if (directory == "/") return path;
  return internal::NormalizePath("/" + path.substr(directory.size()));
}

}  // namespace

// ---- Bookkeeping --------------------------------------------------------------

int FakeKernel::NewNamespace() {
  const int id = next_namespace_++;
  Namespace& created = namespaces_[id];
  created.id = id;
  // Namespace inode numbers as Linux shows them, from 0xF0000000 up.
  created.inode = 4026531840u + static_cast<uint64_t>(id);
  return id;
}

int FakeKernel::AddMount(int namespace_id, int parent_id, const std::string& mountpoint,
                         FilesystemPtr filesystem, const std::string& root) {
  const int id = next_mount_++;
  MountRecord& mount = mounts_[id];
  mount.id = id;
  mount.namespace_id = namespace_id;
  mount.parent_id = parent_id;
  mount.mountpoint = mountpoint;
  mount.fstype = filesystem->type;
  mount.filesystem = std::move(filesystem);
  mount.root = root;
  mount.attach_order = next_attach_++;
  return id;
}

std::vector<int> FakeKernel::MountChildren(int mount_id) const {
  std::vector<int> children;
  for (const auto& [id, mount] : mounts_) {
    if (mount.parent_id == mount_id) children.push_back(id);
  }
  std::sort(children.begin(), children.end(), [this](int left, int right) {
    return mounts_.at(left).attach_order < mounts_.at(right).attach_order;
  });
  return children;
}

std::vector<int> FakeKernel::MountSubtree(int mount_id) const {
  std::vector<int> subtree = {mount_id};
  for (size_t i = 0; i < subtree.size(); ++i) {
    for (int child : MountChildren(subtree[i])) subtree.push_back(child);
  }
  return subtree;
}

void FakeKernel::RemoveMountTree(int mount_id) {
  for (int id : MountSubtree(mount_id)) mounts_.erase(id);
}

// Copies a mount (and, when `recursive`, its submounts) into `parent_id` at
// `mountpoint`. The copies keep peer and master groups, as copy_tree does.
int FakeKernel::CopyMountTree(int source_id, int namespace_id, int parent_id,
                              const std::string& mountpoint, bool recursive, int first_copy_id) {
  MountRecord copy = mounts_.at(source_id);
  copy.id = next_mount_++;
  copy.namespace_id = namespace_id;
  copy.parent_id = parent_id;
  copy.mountpoint = mountpoint;
  copy.attach_order = next_attach_++;
  const int id = copy.id;
  mounts_[id] = copy;
  if (first_copy_id == 0) first_copy_id = id;
  if (!recursive) return id;
  for (int child : MountChildren(source_id)) {
    // Linux copies the whole tree before attaching it (copy_tree), so a
    // copy placed inside its own source is not copied again.
    if (child >= first_copy_id || mounts_.at(child).unbindable) continue;
    CopyMountTree(child, namespace_id, id, mounts_.at(child).mountpoint, true, first_copy_id);
  }
  return id;
}

void FakeKernel::CollectNamespaces() {
  std::set<int> reachable;
  std::deque<int> work;
  auto reach = [&](int namespace_id) {
    if (reachable.insert(namespace_id).second) work.push_back(namespace_id);
  };
  for (const auto& [pid, process] : processes_) {
    if (process.info.state != ProcessState::kZombie) reach(process.info.mount_namespace);
    for (const auto& [fd, entry] : process.fds) {
      if (entry.file->kind == OpenFile::Kind::kNamespace) reach(entry.file->namespace_id);
    }
  }
  while (!work.empty()) {
    const int namespace_id = work.front();
    work.pop_front();
    for (const auto& [id, mount] : mounts_) {
      if (mount.namespace_id != namespace_id) continue;
      if (mount.filesystem->kind == Filesystem::Kind::kNsfs) reach(mount.filesystem->root->namespace_id);
    }
  }
  for (auto it = namespaces_.begin(); it != namespaces_.end();) {
    if (reachable.count(it->first) != 0) {
      ++it;
      continue;
    }
    for (auto mount = mounts_.begin(); mount != mounts_.end();) {
      mount = mount->second.namespace_id == it->first ? mounts_.erase(mount) : std::next(mount);
    }
    it = namespaces_.erase(it);
  }
}

// ---- Propagation --------------------------------------------------------------

// The mounts that receive mount events from `mount_id`: its peers, the
// slaves of its peer group, and in turn the peers and slaves of shared
// slaves.
std::vector<int> FakeKernel::PropagationReceivers(int mount_id) const {
  std::vector<int> receivers;
  const int first_group = mounts_.at(mount_id).peer_group;
  if (first_group == 0) return receivers;
  std::set<int> groups = {first_group};
  std::deque<int> work = {first_group};
  std::set<int> seen = {mount_id};
  while (!work.empty()) {
    const int group = work.front();
    work.pop_front();
    for (const auto& [id, mount] : mounts_) {
      if (mount.peer_group != group && mount.master_group != group) continue;
      if (seen.insert(id).second) receivers.push_back(id);
      if (mount.peer_group != 0 && groups.insert(mount.peer_group).second) {
        work.push_back(mount.peer_group);
      }
    }
  }
  return receivers;
}

// A mount tree was attached under a shared parent: as in Linux, the new
// mounts become shared and a copy is attached at the same place in every
// receiver of the parent, slaves getting slave copies.
void FakeKernel::Propagate(int new_mount_id) {
  const MountRecord& mounted = mounts_.at(new_mount_id);
  const MountRecord& parent = mounts_.at(mounted.parent_id);
  if (parent.peer_group == 0) return;
  const std::vector<int> created = MountSubtree(new_mount_id);
  for (int id : created) {
    if (mounts_.at(id).peer_group == 0) mounts_.at(id).peer_group = next_peer_group_++;
  }

  const std::string filesystem_path = internal::JoinRelative(parent.root, mounted.mountpoint);
  const int parent_group = parent.peer_group;
  for (int receiver_id : PropagationReceivers(parent.id)) {
    if (std::find(created.begin(), created.end(), receiver_id) != created.end()) continue;
    const MountRecord& receiver = mounts_.at(receiver_id);
    // A receiver that shows another part of the filesystem has no place
    // for the copy.
    if (receiver.filesystem != parent.filesystem || !IsUnder(filesystem_path, receiver.root)) continue;
    const bool slave = receiver.peer_group != parent_group;
    const int copy = CopyMountTree(new_mount_id, receiver.namespace_id, receiver_id,
                                   Below(filesystem_path, receiver.root), true);
    if (!slave) continue;
    for (int id : MountSubtree(copy)) {
      MountRecord& copied = mounts_.at(id);
      copied.master_group = copied.peer_group;
      copied.peer_group = 0;
    }
  }
}

// Removes the copies that Propagate attached for `mount_id`.
void FakeKernel::PropagateUnmount(int mount_id) {
  const MountRecord& mounted = mounts_.at(mount_id);
  const MountRecord& parent = mounts_.at(mounted.parent_id);
  if (parent.peer_group == 0) return;
  const std::string filesystem_path = internal::JoinRelative(parent.root, mounted.mountpoint);
  std::vector<int> copies;
  for (int receiver_id : PropagationReceivers(parent.id)) {
    const MountRecord& receiver = mounts_.at(receiver_id);
    if (receiver.filesystem != parent.filesystem || !IsUnder(filesystem_path, receiver.root)) continue;
    const int top = TopmostMountAt(receiver_id, Below(filesystem_path, receiver.root));
    if (top == 0 || top == mount_id) continue;
    const MountRecord& candidate = mounts_.at(top);
    if (candidate.filesystem == mounted.filesystem && candidate.root == mounted.root) {
      copies.push_back(top);
    }
  }
  for (int copy : copies) {
    if (mounts_.count(copy) != 0) RemoveMountTree(copy);
  }
}

// ---- Unshare and Setns ------------------------------------------------------------

Status FakeKernel::Unshare(int flags) {
  const std::string what = "unshare flags " + internal::Hex(flags);
  if (auto failure = Enter("Unshare", what, {internal::Hex(flags)})) return *failure;
  if (flags & ~CLONE_NEWNS) return NotModeled("unshare of namespaces other than mount (" + what + ")");
  if (Caller().info.uid != 0) return Status::FromErrno(EPERM, what);
  if (!(flags & CLONE_NEWNS)) return Status::Ok();

  ProcessRecord& caller = Caller();
  const int copy = NewNamespace();
  const int old_root = namespaces_.at(caller.info.mount_namespace).root_mount;
  namespaces_.at(copy).root_mount = CopyMountTree(old_root, copy, 0, "", true);
  caller.info.mount_namespace = copy;
  CollectNamespaces();
  return Status::Ok();
}

Status FakeKernel::Setns(int fd, int nstype) {
  const std::string what = "setns fd " + std::to_string(fd) + " type " + internal::Hex(nstype);
  if (auto failure = Enter("Setns", what, {std::to_string(fd), internal::Hex(nstype)})) {
    return *failure;
  }
  Result<OpenFilePtr> file = FileOf(fd, what);
  if (!file.ok()) return file.status();
  if ((*file)->kind != OpenFile::Kind::kNamespace) return Status::FromErrno(EINVAL, what);
  if (nstype != 0 && nstype != CLONE_NEWNS) return Status::FromErrno(EINVAL, what);
  ProcessRecord& caller = Caller();
  if (caller.info.uid != 0) return Status::FromErrno(EPERM, what);
  // setns(2) moves the caller's root and cwd to the namespace's root.
  caller.info.mount_namespace = (*file)->namespace_id;
  caller.info.cwd = "/";
  CollectNamespaces();
  return Status::Ok();
}

// ---- Mount ----------------------------------------------------------------------------

Status FakeKernel::Mount(const std::string& source, const std::string& target,
                         const std::string& fstype, unsigned long flags, const std::string& data) {
  const std::string what = DescribeMount(source, target, fstype, flags);
  if (auto failure = Enter("Mount", what, {internal::Quote(source), internal::Quote(target),
                                           internal::Quote(fstype), internal::Hex(flags),
                                           internal::Quote(data)})) {
    return *failure;
  }
  if (Caller().info.uid != 0) return Status::FromErrno(EPERM, what);
  if (flags & MS_REMOUNT) return Remount(target, flags, data, what);
  if (flags & kPropagationFlags) return ChangePropagation(target, flags, what);
  if (flags & MS_BIND) return BindMount(source, target, flags, what);
  if (flags & MS_MOVE) return NotModeled("MS_MOVE (" + what + ")");
  return NewFilesystemMount(source, target, fstype, flags, data, what);
}

Result<FakeKernel::Resolved> FakeKernel::ResolveMountRoot(const std::string& target,
                                                          const std::string& what) {
  Result<Resolved> resolved = Resolve(target, true, what);
  if (!resolved.ok()) return resolved.status();
  if (!resolved->node) return Status::FromErrno(ENOENT, what);
  if (!IsMountPoint(resolved->location)) return Status::FromErrno(EINVAL, what);
  return resolved;
}

Status FakeKernel::Remount(const std::string& target, unsigned long flags,
                           const std::string& data, const std::string& what) {
  Result<Resolved> resolved = ResolveMountRoot(target, what);
  if (!resolved.ok()) return resolved.status();
  MountRecord& mount = mounts_.at(resolved->location.mount_id);
  // With MS_BIND only this mount's flags change; without it the
  // filesystem's options change too, which the model records the same way.
  mount.read_only = (flags & MS_RDONLY) != 0;
  mount.flags = flags & ~(MS_REMOUNT | MS_BIND);
  if (!(flags & MS_BIND)) mount.data = data;
  return Status::Ok();
}

Status FakeKernel::ChangePropagation(const std::string& target, unsigned long flags,
                                     const std::string& what) {
  Result<Resolved> resolved = ResolveMountRoot(target, what);
  if (!resolved.ok()) return resolved.status();
  const int mount_id = resolved->location.mount_id;
  const std::vector<int> changed = (flags & MS_REC) ? MountSubtree(mount_id) : std::vector<int>{mount_id};
  for (int id : changed) {
    MountRecord& mount = mounts_.at(id);
    if (flags & MS_SHARED) {
      mount.unbindable = false;
      if (mount.peer_group == 0) mount.peer_group = next_peer_group_++;
    } else if (flags & MS_SLAVE) {
      // A mount with peers becomes their slave; one without keeps its
      // master, or turns private when it has none.
      bool has_peers = false;
      for (const auto& [other_id, other] : mounts_) {
        has_peers |= other_id != id && mount.peer_group != 0 && other.peer_group == mount.peer_group;
      }
      if (has_peers) mount.master_group = mount.peer_group;
      mount.peer_group = 0;
      mount.unbindable = false;
    } else {
      mount.peer_group = 0;
      mount.master_group = 0;
      mount.unbindable = (flags & MS_UNBINDABLE) != 0;
    }
  }
  return Status::Ok();
}

Status FakeKernel::BindMount(const std::string& source, const std::string& target,
                             unsigned long flags, const std::string& what) {
  Result<Resolved> from = Resolve(source, true, what);
  if (!from.ok()) return from.status();
  if (!from->node) return Status::FromErrno(ENOENT, what);
  Result<Resolved> to = Resolve(target, true, what);
  if (!to.ok()) return to.status();
  if (!to->node) return Status::FromErrno(ENOENT, what);
  if (IsDirectory(from->node) != IsDirectory(to->node)) return Status::FromErrno(ENOTDIR, what);

  const MountRecord& source_mount = mounts_.at(from->location.mount_id);
  if (source_mount.unbindable && IsMountPoint(from->location)) return Status::FromErrno(EINVAL, what);
  int created = 0;
  if (from->node->namespace_id != 0) {
    // do_loopback refuses to pin a mount namespace in itself or in a newer
    // one, which would make a reference loop.
    const int pinned = from->node->namespace_id;
    if (Caller().info.mount_namespace >= pinned) return Status::FromErrno(EINVAL, what);
    auto nsfs = std::make_shared<Filesystem>();
    nsfs->kind = Filesystem::Kind::kNsfs;
    nsfs->type = "nsfs";
    nsfs->magic = NSFS_MAGIC;
    nsfs->device = next_device_++;
    nsfs->root = NewNode(FileInfo::Type::kRegular, 0444);
    nsfs->root->namespace_id = pinned;
    nsfs->root->inode = namespaces_.at(pinned).inode;
    created = AddMount(Caller().info.mount_namespace, to->location.mount_id, to->location.path, nsfs, "");
  } else {
    const std::string root = FilesystemPath(from->location);
    created = CopyMountTree(from->location.mount_id, Caller().info.mount_namespace,
                            to->location.mount_id, to->location.path, false);
    MountRecord& copy = mounts_.at(created);
    copy.root = root;
    if ((flags & MS_REC) != 0) {
      // Submounts below the source directory come along, re-rooted.
      for (int child : MountChildren(from->location.mount_id)) {
        if (child >= created) continue;
        const MountRecord& submount = mounts_.at(child);
        if (submount.unbindable || !IsUnder(submount.mountpoint, from->location.path)) continue;
        if (submount.mountpoint == from->location.path) continue;
        CopyMountTree(child, Caller().info.mount_namespace, created,
                      Below(submount.mountpoint, from->location.path), true, created);
      }
    }
  }
  MountRecord& mount = mounts_.at(created);
  mount.source = source;
  mount.flags = flags;
  Propagate(created);
  return Status::Ok();
}

Status FakeKernel::NewFilesystemMount(const std::string& source, const std::string& target,
                                      const std::string& fstype, unsigned long flags,
                                      const std::string& data, const std::string& what) {
  Result<Resolved> to = Resolve(target, true, what);
  if (!to.ok()) return to.status();
  if (!to->node) return Status::FromErrno(ENOENT, what);
  if (!IsDirectory(to->node)) return Status::FromErrno(ENOTDIR, what);

  FilesystemPtr filesystem;
  if (fstype == "overlay") {
    Result<FilesystemPtr> overlay = NewOverlay(data, what);
    if (!overlay.ok()) return overlay.status();
    filesystem = *overlay;
  } else if (fstype == "proc") {
    filesystem = std::make_shared<Filesystem>();
    filesystem->kind = Filesystem::Kind::kProc;
    filesystem->type = "proc";
    filesystem->magic = PROC_SUPER_MAGIC;
    filesystem->device = next_device_++;
    filesystem->root = NewNode(FileInfo::Type::kDirectory, 0555);
  } else if (fstype == "tmpfs") {
    filesystem = NewTreeFilesystem("tmpfs", TMPFS_MAGIC);
    filesystem->root->mode = 01777;
  } else if (fstype == "sysfs") {
    filesystem = NewTreeFilesystem("sysfs", SYSFS_MAGIC);
  } else if (fstype == "devpts") {
    filesystem = NewTreeFilesystem("devpts", DEVPTS_SUPER_MAGIC);
  } else if (fstype == "mqueue") {
    filesystem = NewTreeFilesystem("mqueue", kMqueueMagic);
  } else if (fstype == "cgroup2") {
    filesystem = NewTreeFilesystem("cgroup2", CGROUP2_SUPER_MAGIC);
  } else {
    return Status::FromErrno(ENODEV, what);
  }

  const int id = AddMount(Caller().info.mount_namespace, to->location.mount_id, to->location.path,
                          filesystem, "");
  MountRecord& mount = mounts_.at(id);
  mount.source = source;
  mount.fstype = fstype;
  mount.flags = flags;
  mount.data = data;
  mount.read_only = (flags & MS_RDONLY) != 0;
  Propagate(id);
  return Status::Ok();
}

// Parses "lowerdir=/a:/b,upperdir=/u,workdir=/w" as overlayfs does and checks
// the directories.
Result<FakeKernel::FilesystemPtr> FakeKernel::NewOverlay(const std::string& data,
                                                         const std::string& what) {
  static const std::set<std::string> kIgnoredOptions = {
      "index", "xino", "redirect_dir", "metacopy", "nfs_export", "userxattr", "volatile", "uuid"};
  std::map<std::string, std::string> options;
  size_t start = 0;
  while (start < data.size()) {
    size_t end = data.find(',', start);
    if (end == std::string::npos) end = data.size();
    const std::string option = data.substr(start, end - start);
    const size_t equals = option.find('=');
    const std::string key = option.substr(0, equals);
    if (key != "lowerdir" && key != "upperdir" && key != "workdir" && kIgnoredOptions.count(key) == 0) {
      return Status::FromErrno(EINVAL, what);
    }
    options[key] = equals == std::string::npos ? "" : option.substr(equals + 1);
    start = end + 1;
  }
  if (options["lowerdir"].empty()) return Status::FromErrno(EINVAL, what);
  if (options.count("upperdir") != options.count("workdir")) return Status::FromErrno(EINVAL, what);

  auto overlay = std::make_shared<Filesystem>();
  overlay->kind = Filesystem::Kind::kOverlay;
  overlay->type = "overlay";
  overlay->magic = OVERLAYFS_SUPER_MAGIC;
  overlay->device = next_device_++;

  for (const std::string& lower : internal::SplitPathList(options["lowerdir"])) {
    Result<Resolved> resolved = Resolve(lower, true, what);
    if (!resolved.ok()) return resolved.status();
    if (!resolved->node) return Status::FromErrno(ENOENT, what);
    if (!IsDirectory(resolved->node)) return Status::FromErrno(ENOTDIR, what);
    if (resolved->filesystem->kind != Filesystem::Kind::kTree) {
      return NotModeled("an overlay lower layer on " + resolved->filesystem->type + " (" + what + ")");
    }
    // The layer is this directory of its own filesystem: mounts below it are
    // not part of the overlay.
    overlay->lowers.push_back(resolved->node);
  }
  if (options.count("upperdir") == 0) return overlay;

  Result<Resolved> upper = Resolve(options["upperdir"], true, what);
  if (!upper.ok()) return upper.status();
  Result<Resolved> work = Resolve(options["workdir"], true, what);
  if (!work.ok()) return work.status();
  if (!upper->node || !work->node) return Status::FromErrno(ENOENT, what);
  if (!IsDirectory(upper->node) || !IsDirectory(work->node)) return Status::FromErrno(ENOTDIR, what);
  if (upper->filesystem->kind != Filesystem::Kind::kTree) return Status::FromErrno(EINVAL, what);
  if (upper->location.mount_id != work->location.mount_id) return Status::FromErrno(EINVAL, what);
  if (IsUnder(upper->path, work->path) || IsUnder(work->path, upper->path)) {
    return Status::FromErrno(EINVAL, what);
  }
  REAPER_RETURN_IF_ERROR(CheckWritable(upper->location, what));
  overlay->upper = upper->node;
  // overlayfs keeps its scratch directory "work" inside workdir.
  if (work->node->children.count("work") == 0) {
    work->node->children["work"] = NewNode(FileInfo::Type::kDirectory, 0);
  }
  return overlay;
}

// ---- Unmount and pivot_root ---------------------------------------------------------

Status FakeKernel::Unmount(const std::string& target, int flags) {
  const std::string what = "unmount " + target;
  if (auto failure = Enter("Unmount", what, {internal::Quote(target), internal::Hex(flags)})) {
    return *failure;
  }
  if (Caller().info.uid != 0) return Status::FromErrno(EPERM, what);
  if (flags & ~(MNT_FORCE | MNT_DETACH | MNT_EXPIRE | UMOUNT_NOFOLLOW)) {
    return Status::FromErrno(EINVAL, what);
  }
  Result<Resolved> resolved = Resolve(target, !(flags & UMOUNT_NOFOLLOW), what);
  if (!resolved.ok()) return resolved.status();
  if (!resolved->node) return Status::FromErrno(ENOENT, what);
  // umount2 looks through mounts stacked on the final directory, the
  // namespace root included, so "." after pivot_root(".", ".") names the old
  // root.
  Location location = resolved->location;
  while (int top = TopmostMountAt(location.mount_id, location.path)) location = Location{top, ""};
  if (!IsMountPoint(location)) return Status::FromErrno(EINVAL, what);
  const int mount_id = location.mount_id;
  if (mounts_.at(mount_id).parent_id == 0) return Status::FromErrno(EINVAL, what);
  if (!(flags & MNT_DETACH) && !MountChildren(mount_id).empty()) return Status::FromErrno(EBUSY, what);

  PropagateUnmount(mount_id);
  RemoveMountTree(mount_id);
  CollectNamespaces();
  return Status::Ok();
}

Status FakeKernel::PivotRoot(const std::string& new_root, const std::string& put_old) {
  const std::string what = "pivot_root to " + new_root + " (old root on " + put_old + ")";
  if (auto failure = Enter("PivotRoot", what, {internal::Quote(new_root), internal::Quote(put_old)})) {
    return *failure;
  }
  if (Caller().info.uid != 0) return Status::FromErrno(EPERM, what);
  Result<Resolved> new_place = Resolve(new_root, true, what);
  if (!new_place.ok()) return new_place.status();
  Result<Resolved> old_place = Resolve(put_old, true, what);
  if (!old_place.ok()) return old_place.status();
  if (!new_place->node || !old_place->node) return Status::FromErrno(ENOENT, what);
  if (!IsDirectory(new_place->node) || !IsDirectory(old_place->node)) {
    return Status::FromErrno(ENOTDIR, what);
  }

  Namespace& space = namespaces_.at(Caller().info.mount_namespace);
  const int old_root = space.root_mount;
  const int new_mount = new_place->location.mount_id;
  const MountRecord& put_old_mount = mounts_.at(old_place->location.mount_id);
  // The checks come in the order of pivot_root(2)'s implementation, so the
  // same errno wins. A shared put_old mount or parent of new_root would
  // propagate the move.
  const int new_parent = mounts_.at(new_mount).parent_id;
  if (put_old_mount.peer_group != 0 || (new_parent != 0 && mounts_.at(new_parent).peer_group != 0)) {
    return Status::FromErrno(EINVAL, what);
  }
  if (new_mount == old_root || put_old_mount.id == old_root) return Status::FromErrno(EBUSY, what);
  if (!IsMountPoint(new_place->location)) return Status::FromErrno(EINVAL, what);
  if (!IsUnder(old_place->path, new_place->path == "/" ? "" : new_place->path)) {
    return Status::FromErrno(EINVAL, what);
  }

  MountRecord& moved_root = mounts_.at(new_mount);
  moved_root.parent_id = 0;
  moved_root.mountpoint = "";
  MountRecord& previous_root = mounts_.at(old_root);
  previous_root.parent_id = old_place->location.mount_id;
  previous_root.mountpoint = old_place->location.path;
  previous_root.attach_order = next_attach_++;
  space.root_mount = new_mount;

  // Paths under new_root lose that prefix; the rest now live below put_old.
  const std::string put_old_path = AbsoluteBelow(old_place->path, new_place->path);
  for (auto& [pid, process] : processes_) {
    if (process.info.mount_namespace != space.id) continue;
    std::string& cwd = process.info.cwd;
    if (IsUnder(cwd, new_place->path == "/" ? "" : new_place->path)) {
      cwd = AbsoluteBelow(cwd, new_place->path);
    } else {
      cwd = internal::NormalizePath(put_old_path + "/" + cwd);
    }
  }
  return Status::Ok();
}

// ---- Test API --------------------------------------------------------------------------

FakeKernel::MountEntry FakeKernel::EntryOf(const MountRecord& mount) const {
  MountEntry entry;
  entry.id = mount.id;
  entry.parent_id = mount.parent_id;
  entry.source = mount.source;
  entry.target = MountTarget(mount.id);
  entry.root = "/" + mount.root;
  entry.fstype = mount.fstype;
  entry.flags = mount.flags;
  entry.data = mount.data;
  entry.read_only = mount.read_only;
  entry.peer_group = mount.peer_group;
  entry.master_group = mount.master_group;
  if (mount.unbindable) {
    entry.propagation = Propagation::kUnbindable;
  } else if (mount.peer_group != 0) {
    entry.propagation = Propagation::kShared;
  } else if (mount.master_group != 0) {
    entry.propagation = Propagation::kSlave;
  }
  return entry;
}

int FakeKernel::MountNamespaceOf(pid_t pid) const {
  const ProcessRecord* process = Find(pid);
  return process == nullptr ? 0 : process->info.mount_namespace;
}

bool FakeKernel::MountNamespaceExists(int namespace_id) const {
  return namespaces_.count(namespace_id) != 0;
}

std::vector<FakeKernel::MountEntry> FakeKernel::MountTable(int namespace_id) const {
  std::vector<MountEntry> table;
  for (const auto& [id, mount] : mounts_) {
    if (mount.namespace_id == namespace_id) table.push_back(EntryOf(mount));
  }
  return table;
}

std::vector<FakeKernel::MountEntry> FakeKernel::MountTableOf(pid_t pid) const {
  return MountTable(MountNamespaceOf(pid));
}

std::optional<FakeKernel::MountEntry> FakeKernel::FindMount(int namespace_id,
                                                           const std::string& target) const {
  std::optional<MountEntry> found;
  uint64_t order = 0;
  const std::string wanted = internal::NormalizePath(target);
  for (const auto& [id, mount] : mounts_) {
    if (mount.namespace_id != namespace_id || MountTarget(id) != wanted) continue;
    if (!found || mount.attach_order > order) {
      found = EntryOf(mount);
      order = mount.attach_order;
    }
  }
  return found;
}

}  // namespace fakes
