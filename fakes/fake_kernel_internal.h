// The state behind fakes::FakeKernel, shared by its .cc files and by nothing
// else; tests use the public API in fakes/fake_kernel.h.
#ifndef REAPER_FAKES_FAKE_KERNEL_INTERNAL_H_
#define REAPER_FAKES_FAKE_KERNEL_INTERNAL_H_

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "fakes/fake_kernel.h"

namespace fakes {

// An inode. Directories hold their entries; regular files their content.
struct FakeKernel::Node {
  sys::FileInfo::Type type = sys::FileInfo::Type::kRegular;
  uint32_t mode = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  uint64_t inode = 0;
  std::string content;
  std::map<std::string, NodePtr> children;
  std::string link_target;
  // A FIFO's buffer and its reader and writer counts, while it is open.
  std::shared_ptr<PipeBuffer> fifo;
  // Non-zero for an nsfs file: the mount namespace it refers to.
  int namespace_id = 0;
  // /proc/<pid>/ns/mnt: Lstat and Readlink show a symlink, the rest of the
  // calls see the nsfs file.
  bool magic_link = false;
  // Overlay upper-layer markers: a whiteout hides lower entries of its name;
  // an opaque directory hides the lower directory of its name.
  bool whiteout = false;
  bool opaque = false;
  bool dev_null = false;
  // flock() holders: open file descriptions, not fds or processes.
  std::set<const OpenFile*> shared_locks;
  const OpenFile* exclusive_lock = nullptr;
};

// A superblock: what a mount shows.
struct FakeKernel::Filesystem {
  enum class Kind { kTree, kOverlay, kProc, kNsfs };
  Kind kind = Kind::kTree;
  std::string type;  // "ext4", "tmpfs", "overlay", "proc", "nsfs"...
  int64_t magic = 0;
  uint64_t device = 0;
  // kTree and kNsfs: the root node.
  NodePtr root;
  // kOverlay: the upper directory (null for a read-only overlay) and the
  // lower directories, topmost first. Their nodes live in the filesystems
  // that hold upperdir and lowerdir, so a copy-up is visible there.
  NodePtr upper;
  std::vector<NodePtr> lowers;
};

// A pipe buffer, also used for an open FIFO.
struct FakeKernel::PipeBuffer {
  static constexpr size_t kDefaultCapacity = 65536;
  // Set by F_SETPIPE_SZ, which rounds up to a power of two pages.
  size_t capacity = kDefaultCapacity;
  std::string buffer;
  int readers = 0;
  int writers = 0;
  uint64_t inode = 0;
};

// An open file description, shared by fds made with Dup3, Fcntl and Fork.
struct FakeKernel::OpenFile {
  enum class Kind { kNode, kDevNull, kPipe, kNamespace, kSignalFd };
  Kind kind = Kind::kNode;
  std::string path;  // as opened, for messages
  int status_flags = 0;  // O_ACCMODE | O_APPEND | O_NONBLOCK
  bool reads = false;
  bool writes = false;
  NodePtr node;
  FilesystemPtr filesystem;
  uint64_t offset = 0;
  std::shared_ptr<PipeBuffer> pipe;  // kPipe: a pipe or an open FIFO
  int namespace_id = 0;        // kNamespace
  std::set<int> signals;       // kSignalFd
  int fd_count = 0;            // fds referring to it, in every process
  int lock = 0;                // 0, LOCK_SH or LOCK_EX
};

struct FakeKernel::FdEntry {
  OpenFilePtr file;
  bool close_on_exec = false;
};

struct FakeKernel::ProcessRecord {
  ProcessInfo info;
  std::map<int, FdEntry> fds;
  std::set<int> mask;
  std::set<int> ignored;
  std::set<int> handled;
  // Pending signals and who sent them; a standard signal is pending at most
  // once.
  std::map<int, pid_t> pending;
  std::vector<int> received;
  mode_t umask = 022;
};

// One mount. `mountpoint` is a path relative to the parent mount's root ("" when
// stacked on the parent's root); `root` is the directory of the filesystem
// that the mount shows.
struct FakeKernel::MountRecord {
  int id = 0;
  int namespace_id = 0;
  int parent_id = 0;
  std::string mountpoint;
  FilesystemPtr filesystem;
  std::string root;
  std::string source;
  std::string fstype;
  std::string data;
  unsigned long flags = 0;
  bool read_only = false;
  bool unbindable = false;
  int peer_group = 0;
  int master_group = 0;
  // Increases each time the mount is attached; the topmost of stacked
  // mounts has the largest.
  uint64_t attach_order = 0;
};

struct FakeKernel::Namespace {
  int id = 0;
  uint64_t inode = 0;
  int root_mount = 0;
};

// A place in a namespace: a mount and a path relative to its root, without
// leading slash ("" is the mount's root).
struct FakeKernel::Location {
  int mount_id = 0;
  std::string path;
};

// The outcome of resolving a path. `node` is null when only the last
// component is missing; `parent` is the directory that holds `name`.
struct FakeKernel::Resolved {
  Location location;
  Location parent;
  std::string name;
  NodePtr node;
  FilesystemPtr filesystem;
  // The canonical absolute path in the caller's namespace.
  std::string path;
};

// What an overlay shows at one path: the visible node and, per layer (upper
// first when there is one), the node of that layer that takes part in the
// merge, or null.
struct FakeKernel::OverlayView {
  NodePtr visible;
  std::vector<NodePtr> layers;
};

struct FakeKernel::InjectedFailure {
  std::string method;
  std::string substring;
  int error_number = 0;
  int remaining = 0;
};

// Thrown by Exit() and by a successful Execve() to end RunAsChild's body.
struct FakeKernel::ExitException {
  int wait_status = 0;
};
struct FakeKernel::ExecException {};

namespace internal {

// "/a//b/./c/../d" -> "/a/b/d"; the result is absolute.
std::string NormalizePath(const std::string& absolute);
std::vector<std::string> SplitPath(const std::string& path);
// Joins relative paths without a leading slash; empty parts vanish.
// Splits overlayfs's "lowerdir=/a:/b" list.
std::vector<std::string> SplitPathList(const std::string& list);
std::string JoinRelative(const std::string& left, const std::string& right);
std::string Hex(unsigned long value);

// True for a non-null node that is a directory. A template, so that it need
// not name FakeKernel's private Node type.
template <typename NodePointer>
bool IsDirectory(const NodePointer& node) {
  return node && node->type == sys::FileInfo::Type::kDirectory;
}
// Renders a string argument of the call log ("" for an empty one).
std::string Quote(const std::string& value);

}  // namespace internal
}  // namespace fakes

#endif  // REAPER_FAKES_FAKE_KERNEL_INTERNAL_H_
