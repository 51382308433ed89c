// FakeKernel: filesystems, path resolution through mounts, overlay layers
// and the synthetic /proc.
#include <fcntl.h>
#include <linux/magic.h>

#include <algorithm>
#include <cstdlib>

#include "fakes/fake_kernel.h"
#include "fakes/fake_kernel_internal.h"

namespace fakes {

using reaper::Code;
using sys::FileInfo;
using sys::Result;
using sys::Status;
using internal::IsDirectory;

namespace {

constexpr int kMaxSymlinkHops = 40;


std::string JoinParts(const std::vector<std::string>& parts, size_t begin, size_t end) {
  std::string joined;
  for (size_t i = begin; i < end; ++i) joined += "/" + parts[i];
  return joined;
}

// mountinfo escapes blanks and backslashes as octal.
std::string EscapeMountInfo(const std::string& text) {
  std::string escaped;
  for (char c : text) {
    if (c == ' ') escaped += "\\040";
    else if (c == '\t') escaped += "\\011";
    else if (c == '\n') escaped += "\\012";
    else if (c == '\\') escaped += "\\134";
    else escaped += c;
  }
  return escaped;
}

}  // namespace

// ---- Construction of the host ----------------------------------------------

FakeKernel::NodePtr FakeKernel::NewNode(FileInfo::Type type, mode_t mode) {
  auto node = std::make_shared<Node>();
  node->type = type;
  node->mode = mode & 07777;
  node->inode = next_inode_++;
  return node;
}

FakeKernel::FilesystemPtr FakeKernel::NewTreeFilesystem(const std::string& type, int64_t magic) {
  auto filesystem = std::make_shared<Filesystem>();
  filesystem->kind = Filesystem::Kind::kTree;
  filesystem->type = type;
  filesystem->magic = magic;
  filesystem->device = next_device_++;
  filesystem->root = NewNode(FileInfo::Type::kDirectory, 0755);
  return filesystem;
}

void FakeKernel::BuildHost() {
  host_root_ = NewTreeFilesystem("ext4", EXT4_SUPER_MAGIC);
  const std::vector<std::pair<std::string, mode_t>> directories = {
      {"bin", 0755},  {"dev", 0755},  {"etc", 0755},  {"home", 0755}, {"proc", 0555},
      {"root", 0700}, {"run", 0755},  {"sys", 0555},  {"tmp", 01777}, {"usr", 0755},
      {"var", 0755}};
  for (const auto& [name, mode] : directories) {
    host_root_->root->children[name] = NewNode(FileInfo::Type::kDirectory, mode);
  }
  host_root_->root->children["usr"]->children["bin"] = NewNode(FileInfo::Type::kDirectory, 0755);
  host_root_->root->children["var"]->children["lib"] = NewNode(FileInfo::Type::kDirectory, 0755);

  auto proc = std::make_shared<Filesystem>();
  proc->kind = Filesystem::Kind::kProc;
  proc->type = "proc";
  proc->magic = PROC_SUPER_MAGIC;
  proc->device = next_device_++;
  proc->root = NewNode(FileInfo::Type::kDirectory, 0555);

  FilesystemPtr sysfs = NewTreeFilesystem("sysfs", SYSFS_MAGIC);
  // devtmpfs reports the tmpfs magic number.
  FilesystemPtr dev = NewTreeFilesystem("devtmpfs", TMPFS_MAGIC);
  NodePtr null_device = NewNode(FileInfo::Type::kCharDevice, 0666);
  null_device->dev_null = true;
  dev->root->children["null"] = null_device;
  FilesystemPtr run = NewTreeFilesystem("tmpfs", TMPFS_MAGIC);

  host_namespace_ = NewNamespace();
  const int root = AddMount(host_namespace_, 0, "", host_root_, "");
  namespaces_[host_namespace_].root_mount = root;
  mounts_[root].source = "/dev/sda1";
  const std::vector<std::tuple<std::string, FilesystemPtr, std::string>> submounts = {
      {"proc", proc, "proc"}, {"sys", sysfs, "sysfs"}, {"dev", dev, "udev"}, {"run", run, "tmpfs"}};
  for (const auto& [mountpoint, filesystem, source] : submounts) {
    const int id = AddMount(host_namespace_, root, mountpoint, filesystem, "");
    mounts_[id].source = source;
  }
  for (auto& [id, mount] : mounts_) mount.peer_group = next_peer_group_++;
}

// ---- Lookups inside one filesystem ------------------------------------------


Result<FakeKernel::NodePtr> FakeKernel::TreeLookup(const NodePtr& root,
                                                   const std::vector<std::string>& parts,
                                                   const std::string& what) {
  NodePtr node = root;
  for (const std::string& part : parts) {
    if (!IsDirectory(node)) return Status::FromErrno(ENOTDIR, what);
    auto it = node->children.find(part);
    if (it == node->children.end()) return NodePtr();
    node = it->second;
  }
  return node;
}

Result<FakeKernel::OverlayView> FakeKernel::OverlayWalk(const Filesystem& overlay,
                                                        const std::vector<std::string>& parts,
                                                        const std::string& what) {
  OverlayView view;
  if (overlay.upper) view.layers.push_back(overlay.upper);
  for (const NodePtr& lower : overlay.lowers) view.layers.push_back(lower);
  view.visible = view.layers.front();

  for (const std::string& part : parts) {
    if (!IsDirectory(view.visible)) return Status::FromErrno(ENOTDIR, what);
    std::vector<NodePtr> next(view.layers.size());
    NodePtr found;
    bool hidden = false;
    for (size_t layer = 0; layer < view.layers.size() && !hidden; ++layer) {
      const NodePtr& directory = view.layers[layer];
      if (!directory) continue;
      auto it = directory->children.find(part);
      if (it == directory->children.end()) continue;
      const NodePtr& child = it->second;
      // A whiteout, a file, or an opaque directory hides the lower layers.
      if (child->whiteout) {
        hidden = true;
        continue;
      }
      if (found && !IsDirectory(child)) {
        hidden = true;
        continue;
      }
      if (!found) found = child;
      next[layer] = child;
      if (!IsDirectory(child) || child->opaque) hidden = true;
    }
    if (!found) return OverlayView();
    view.visible = found;
    view.layers = next;
  }
  return view;
}

Result<FakeKernel::NodePtr> FakeKernel::FilesystemLookup(const Filesystem& filesystem,
                                                         const std::string& path,
                                                         const std::string& what) {
  const std::vector<std::string> parts = internal::SplitPath(path);
  switch (filesystem.kind) {
    case Filesystem::Kind::kTree:
    case Filesystem::Kind::kNsfs:
      return TreeLookup(filesystem.root, parts, what);
    case Filesystem::Kind::kOverlay: {
      Result<OverlayView> view = OverlayWalk(filesystem, parts, what);
      if (!view.ok()) return view.status();
      return view->visible;
    }
    case Filesystem::Kind::kProc:
      return ProcLookup(parts, what);
  }
  return NotModeled(what);
}

// Makes the upper layer hold `parts` and its parent directories, copying
// them from the lower layers as needed, and returns the upper node.
Result<FakeKernel::NodePtr> FakeKernel::CopyUp(const Filesystem& overlay,
                                               const std::vector<std::string>& parts,
                                               const std::string& what) {
  if (!overlay.upper) return Status::FromErrno(EROFS, what);
  NodePtr directory = overlay.upper;
  NodePtr node = directory;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (!IsDirectory(directory)) return Status::FromErrno(ENOTDIR, what);
    auto it = directory->children.find(parts[i]);
    if (it != directory->children.end() && !it->second->whiteout) {
      node = it->second;
    } else {
      const std::vector<std::string> prefix(parts.begin(), parts.begin() + i + 1);
      Result<OverlayView> view = OverlayWalk(overlay, prefix, what);
      if (!view.ok()) return view.status();
      if (!view->visible) return Status::FromErrno(ENOENT, what);
      const Node& original = *view->visible;
      node = NewNode(original.type, original.mode);
      node->uid = original.uid;
      node->gid = original.gid;
      node->content = original.content;
      node->link_target = original.link_target;
      directory->children[parts[i]] = node;
    }
    directory = node;
  }
  return node;
}

// ---- /proc ------------------------------------------------------------------

Result<FakeKernel::NodePtr> FakeKernel::ProcLookup(const std::vector<std::string>& parts,
                                                   const std::string& what) {
  auto directory = [this] { return NewNode(FileInfo::Type::kDirectory, 0555); };
  if (parts.empty()) return directory();
  if (parts[0] == "self") {
    if (parts.size() > 1) return Status::FromErrno(ENOTDIR, what);
    NodePtr link = NewNode(FileInfo::Type::kSymlink, 0777);
    link->link_target = std::to_string(resolving_pid_);
    return link;
  }

  pid_t pid = 0;
  try {
    size_t used = 0;
    pid = static_cast<pid_t>(std::stol(parts[0], &used));
    if (used != parts[0].size()) pid = 0;
  } catch (const std::exception&) {
    pid = 0;
  }
  if (pid == 0) return NotModeled("/proc/" + parts[0]);
  const ProcessRecord* process = Find(pid);
  if (process == nullptr) return NodePtr();
  if (parts.size() == 1) return directory();

  const std::string& entry = parts[1];
  if (entry == "ns" && parts.size() == 2) return directory();
  if (entry == "ns" && parts.size() == 3 && parts[2] == "mnt") {
    // A zombie has left its namespaces.
    if (process->info.state == ProcessState::kZombie) return NodePtr();
    NodePtr file = NewNode(FileInfo::Type::kRegular, 0444);
    file->namespace_id = process->info.mount_namespace;
    file->inode = namespaces_.at(file->namespace_id).inode;
    file->magic_link = true;
    return file;
  }
  if (entry == "fd" && parts.size() == 2) return directory();
  if (entry == "fd" && parts.size() == 3) {
    // The magic link leads to the open file itself, wherever its path now
    // resolves; reopening a FIFO this way joins the same pipe.
    auto fd = process->fds.find(std::atoi(parts[2].c_str()));
    if (fd == process->fds.end()) return NodePtr();
    if (!fd->second.file->node) return NotModeled("reopening a pipe through /proc/<pid>/fd");
    return fd->second.file->node;
  }
  if (entry == "stat" && parts.size() == 2) {
    // Fields 1 to 22 of proc(5). The fake never reuses a pid, so the pid
    // stands in for the start time (field 22).
    NodePtr file = NewNode(FileInfo::Type::kRegular, 0444);
    const ProcessInfo& info = process->info;
    const char state = info.state == ProcessState::kZombie ? 'Z' : 'S';
    file->content = std::to_string(pid) + " (fake) " + state + " " + std::to_string(info.parent) +
                    " " + std::to_string(info.pgid) + " " + std::to_string(info.sid) +
                    " 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 " + std::to_string(pid) + "\n";
    return file;
  }
  if (entry == "mountinfo" && parts.size() == 2) {
    if (process->info.state == ProcessState::kZombie) return NodePtr();
    NodePtr file = NewNode(FileInfo::Type::kRegular, 0444);
    file->content = ProcMountInfo(*process);
    return file;
  }
  std::string shown = "/proc";
  for (const std::string& part : parts) shown += "/" + part;
  return NotModeled(shown);
}

Result<std::vector<std::string>> FakeKernel::ProcNames(const std::vector<std::string>& parts,
                                                       const std::string& what) {
  std::vector<std::string> names;
  if (parts.empty()) {
    names.push_back("self");
    for (const auto& [pid, process] : processes_) names.push_back(std::to_string(pid));
    return names;
  }
  const ProcessRecord* process = Find(static_cast<pid_t>(std::stol(parts[0])));
  if (process == nullptr) return Status::FromErrno(ENOENT, what);
  if (parts.size() == 1) return std::vector<std::string>{"fd", "mountinfo", "ns", "stat"};
  if (parts[1] == "ns") return std::vector<std::string>{"mnt"};
  if (parts[1] == "fd") {
    for (const auto& [fd, entry] : process->fds) names.push_back(std::to_string(fd));
    return names;
  }
  return Status::FromErrno(ENOTDIR, what);
}

std::string FakeKernel::ProcMountInfo(const ProcessRecord& process) const {
  std::string text;
  for (const auto& [id, mount] : mounts_) {
    if (mount.namespace_id != process.info.mount_namespace) continue;
    std::string optional;
    if (mount.peer_group != 0) optional += " shared:" + std::to_string(mount.peer_group);
    if (mount.master_group != 0) optional += " master:" + std::to_string(mount.master_group);
    const std::string options = mount.read_only ? "ro" : "rw";
    const std::string root = "/" + mount.root;
    text += std::to_string(id) + " " + std::to_string(mount.parent_id == 0 ? id : mount.parent_id) +
            " 0:" + std::to_string(mount.filesystem->device) + " " + EscapeMountInfo(root) + " " +
            EscapeMountInfo(MountTarget(id)) + " " + options + optional + " - " + mount.fstype +
            " " + EscapeMountInfo(mount.source.empty() ? "none" : mount.source) + " " + options +
            (mount.data.empty() ? "" : "," + mount.data) + "\n";
  }
  return text;
}

// ---- Path resolution --------------------------------------------------------

std::string FakeKernel::AbsolutePath(const ProcessRecord& process, const std::string& path) const {
  if (!path.empty() && path[0] == '/') return internal::NormalizePath(path);
  return internal::NormalizePath(process.info.cwd + "/" + path);
}

int FakeKernel::TopmostMountAt(int mount_id, const std::string& relative_path) const {
  int topmost = 0;
  uint64_t order = 0;
  for (const auto& [id, mount] : mounts_) {
    if (mount.parent_id != mount_id || mount.mountpoint != relative_path) continue;
    if (mount.attach_order >= order) {
      topmost = id;
      order = mount.attach_order;
    }
  }
  return topmost;
}

std::string FakeKernel::MountTarget(int mount_id) const {
  const MountRecord& mount = mounts_.at(mount_id);
  if (mount.parent_id == 0) return "/";
  return internal::NormalizePath(MountTarget(mount.parent_id) + "/" + mount.mountpoint);
}

std::string FakeKernel::PathOf(const Location& location) const {
  return internal::NormalizePath(MountTarget(location.mount_id) + "/" + location.path);
}

std::string FakeKernel::FilesystemPath(const Location& location) const {
  return internal::JoinRelative(mounts_.at(location.mount_id).root, location.path);
}

Result<FakeKernel::Resolved> FakeKernel::Resolve(const std::string& path, bool follow_last,
                                                 const std::string& what) {
  return ResolveAs(Caller(), path, follow_last, what);
}

// Walks the path one component at a time from the namespace's root, crossing
// into the topmost mount at each mount point and restarting from the root
// with the expanded path at each symlink.
Result<FakeKernel::Resolved> FakeKernel::ResolveAs(const ProcessRecord& process,
                                                   const std::string& path, bool follow_last,
                                                   const std::string& what) {
  if (path.empty()) return Status::FromErrno(ENOENT, what);
  resolving_pid_ = process.info.pid;
  std::string absolute = AbsolutePath(process, path);
  const int root_mount = namespaces_.at(process.info.mount_namespace).root_mount;

  for (int hops = 0; hops <= kMaxSymlinkHops; ++hops) {
    const std::vector<std::string> parts = internal::SplitPath(absolute);
    // As in Linux, a walk starts on the root mount itself: mounts stacked on
    // top of the root are not entered (pivot_root(".", ".") relies on it).
    Location location{root_mount, ""};

    Resolved resolved;
    resolved.location = location;
    resolved.parent = location;
    resolved.filesystem = mounts_.at(location.mount_id).filesystem;
    Result<NodePtr> root = FilesystemLookup(*resolved.filesystem, FilesystemPath(location), what);
    if (!root.ok()) return root.status();
    resolved.node = *root;

    bool restarted = false;
    for (size_t i = 0; i < parts.size(); ++i) {
      const bool last = i + 1 == parts.size();
      if (!IsDirectory(resolved.node)) return Status::FromErrno(ENOTDIR, what);
      const Location parent = resolved.location;
      Location here{parent.mount_id, internal::JoinRelative(parent.path, parts[i])};
      FilesystemPtr filesystem = mounts_.at(here.mount_id).filesystem;
      Result<NodePtr> child = FilesystemLookup(*filesystem, FilesystemPath(here), what);
      if (!child.ok()) return child.status();
      if (!*child) {
        if (!last) return Status::FromErrno(ENOENT, what);
        resolved = Resolved{here, parent, parts[i], nullptr, filesystem, ""};
        break;
      }
      NodePtr node = *child;
      while (int top = TopmostMountAt(here.mount_id, here.path)) {
        here = Location{top, ""};
        filesystem = mounts_.at(top).filesystem;
        Result<NodePtr> mounted = FilesystemLookup(*filesystem, FilesystemPath(here), what);
        if (!mounted.ok()) return mounted.status();
        node = *mounted;
      }
      if (node->type == FileInfo::Type::kSymlink && (!last || follow_last)) {
        const std::string base = node->link_target.rfind('/', 0) == 0 ? "" : JoinParts(parts, 0, i);
        absolute = internal::NormalizePath(base + "/" + node->link_target +
                                           JoinParts(parts, i + 1, parts.size()));
        restarted = true;
        break;
      }
      resolved = Resolved{here, parent, parts[i], node, filesystem, ""};
    }
    if (restarted) continue;
    resolved.path = PathOf(resolved.location);
    return resolved;
  }
  return Status::FromErrno(ELOOP, what);
}

// ---- Changes to directories -------------------------------------------------

bool FakeKernel::IsMountPoint(const Location& location) const { return location.path.empty(); }

Status FakeKernel::CheckWritable(const Location& location, const std::string& what) const {
  const MountRecord& mount = mounts_.at(location.mount_id);
  if (mount.read_only) return Status::FromErrno(EROFS, what);
  const Filesystem& filesystem = *mount.filesystem;
  if (filesystem.kind == Filesystem::Kind::kOverlay && !filesystem.upper) {
    return Status::FromErrno(EROFS, what);
  }
  if (filesystem.kind == Filesystem::Kind::kProc) return Status::FromErrno(EACCES, what);
  return Status::Ok();
}

Status FakeKernel::CheckPermission(const Node& node, int access, const std::string& what) {
  const ProcessRecord& caller = Caller();
  if (caller.info.uid == 0) {
    // Root may do anything but execute a file that has no execute bit.
    const bool needs_execute = (access & 1) != 0 && node.type != FileInfo::Type::kDirectory;
    if (needs_execute && (node.mode & 0111) == 0) return Status::FromErrno(EACCES, what);
    return Status::Ok();
  }
  int granted = node.mode & 07;
  const auto& groups = caller.info.groups;
  if (caller.info.uid == node.uid) {
    granted = (node.mode >> 6) & 07;
  } else if (caller.info.gid == node.gid ||
             std::find(groups.begin(), groups.end(), node.gid) != groups.end()) {
    granted = (node.mode >> 3) & 07;
  }
  if ((granted & access) != access) return Status::FromErrno(EACCES, what);
  return Status::Ok();
}

Result<FakeKernel::NodePtr> FakeKernel::NodeForWrite(const Location& location,
                                                     const std::string& what) {
  REAPER_RETURN_IF_ERROR(CheckWritable(location, what));
  const Filesystem& filesystem = *mounts_.at(location.mount_id).filesystem;
  const std::string path = FilesystemPath(location);
  if (filesystem.kind == Filesystem::Kind::kOverlay) {
    return CopyUp(filesystem, internal::SplitPath(path), what);
  }
  Result<NodePtr> node = FilesystemLookup(filesystem, path, what);
  if (node.ok() && !*node) return Status::FromErrno(ENOENT, what);
  return node;
}

Status FakeKernel::AddEntry(const Location& directory, const std::string& name, NodePtr node,
                            const std::string& what) {
  REAPER_RETURN_IF_ERROR(CheckWritable(directory, what));
  const Filesystem& filesystem = *mounts_.at(directory.mount_id).filesystem;
  const std::string path = FilesystemPath(directory);
  Result<NodePtr> existing = FilesystemLookup(filesystem, internal::JoinRelative(path, name), what);
  if (!existing.ok()) return existing.status();
  if (*existing) return Status::FromErrno(EEXIST, what);

  NodePtr parent;
  if (filesystem.kind == Filesystem::Kind::kOverlay) {
    Result<NodePtr> upper = CopyUp(filesystem, internal::SplitPath(path), what);
    if (!upper.ok()) return upper.status();
    parent = *upper;
    auto it = parent->children.find(name);
    // A directory made where a lower one was removed must not show the
    // lower one's entries again.
    if (it != parent->children.end() && it->second->whiteout && IsDirectory(node)) node->opaque = true;
  } else if (filesystem.kind == Filesystem::Kind::kTree) {
    Result<NodePtr> found = FilesystemLookup(filesystem, path, what);
    if (!found.ok()) return found.status();
    parent = *found;
  } else {
    return Status::FromErrno(ENOTDIR, what);
  }
  if (!IsDirectory(parent)) return Status::FromErrno(ENOTDIR, what);
  REAPER_RETURN_IF_ERROR(CheckPermission(*parent, 3, what));
  parent->children[name] = node;
  return Status::Ok();
}

Status FakeKernel::RemoveEntry(const Location& directory, const std::string& name,
                               const std::string& what) {
  REAPER_RETURN_IF_ERROR(CheckWritable(directory, what));
  const Filesystem& filesystem = *mounts_.at(directory.mount_id).filesystem;
  const std::string path = FilesystemPath(directory);
  if (filesystem.kind == Filesystem::Kind::kOverlay) {
    Result<OverlayView> view =
        OverlayWalk(filesystem, internal::SplitPath(internal::JoinRelative(path, name)), what);
    if (!view.ok()) return view.status();
    if (!view->visible) return Status::FromErrno(ENOENT, what);
    const size_t first_lower = filesystem.upper ? 1 : 0;
    bool in_lower = false;
    for (size_t layer = first_lower; layer < view->layers.size(); ++layer) {
      if (view->layers[layer]) in_lower = true;
    }
    Result<NodePtr> upper = CopyUp(filesystem, internal::SplitPath(path), what);
    if (!upper.ok()) return upper.status();
    REAPER_RETURN_IF_ERROR(CheckPermission(**upper, 3, what));
    if (in_lower) {
      NodePtr whiteout = NewNode(FileInfo::Type::kCharDevice, 0);
      whiteout->whiteout = true;
      (*upper)->children[name] = whiteout;
    } else {
      (*upper)->children.erase(name);
    }
    return Status::Ok();
  }
  Result<NodePtr> parent = FilesystemLookup(filesystem, path, what);
  if (!parent.ok()) return parent.status();
  if (!IsDirectory(*parent)) return Status::FromErrno(ENOTDIR, what);
  if ((*parent)->children.count(name) == 0) return Status::FromErrno(ENOENT, what);
  REAPER_RETURN_IF_ERROR(CheckPermission(**parent, 3, what));
  (*parent)->children.erase(name);
  return Status::Ok();
}

Result<std::vector<std::string>> FakeKernel::EntryNames(const Location& directory,
                                                        const std::string& what) {
  const Filesystem& filesystem = *mounts_.at(directory.mount_id).filesystem;
  const std::vector<std::string> parts = internal::SplitPath(FilesystemPath(directory));
  std::vector<std::string> names;
  switch (filesystem.kind) {
    case Filesystem::Kind::kProc:
      return ProcNames(parts, what);
    case Filesystem::Kind::kOverlay: {
      Result<OverlayView> view = OverlayWalk(filesystem, parts, what);
      if (!view.ok()) return view.status();
      if (!IsDirectory(view->visible)) return Status::FromErrno(ENOTDIR, what);
      std::set<std::string> seen;
      for (const NodePtr& layer : view->layers) {
        if (!layer) continue;
        for (const auto& [name, child] : layer->children) {
          if (!seen.insert(name).second) continue;
          if (!child->whiteout) names.push_back(name);
        }
      }
      return names;
    }
    case Filesystem::Kind::kTree:
    case Filesystem::Kind::kNsfs: {
      Result<NodePtr> node = TreeLookup(filesystem.root, parts, what);
      if (!node.ok()) return node.status();
      if (!IsDirectory(*node)) return Status::FromErrno(ENOTDIR, what);
      for (const auto& [name, child] : (*node)->children) names.push_back(name);
      return names;
    }
  }
  return names;
}

FileInfo FakeKernel::InfoOf(const Node& node, const Filesystem& filesystem) const {
  FileInfo info;
  info.type = node.type;
  info.mode = node.mode;
  info.uid = node.uid;
  info.gid = node.gid;
  info.device = filesystem.device;
  info.inode = node.inode;
  if (node.type == FileInfo::Type::kRegular) info.size = node.content.size();
  if (node.type == FileInfo::Type::kSymlink) info.size = node.link_target.size();
  return info;
}

}  // namespace fakes
