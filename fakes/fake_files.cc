// FakeKernel: fd tables, open file descriptions, pipes, FIFOs, flock and the
// path calls, plus the file helpers of the test API.
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/file.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

#include "fakes/fake_kernel.h"
#include "fakes/fake_kernel_internal.h"

namespace fakes {

using reaper::Code;
using sys::FileInfo;
using sys::Result;
using sys::Status;
using internal::IsDirectory;

namespace {

// Writes of at most PIPE_BUF bytes are atomic: all or nothing.
constexpr size_t kPipeAtomicBytes = 4096;

std::string Octal(mode_t mode) {
  char buffer[16];
  std::snprintf(buffer, sizeof(buffer), "0%o", static_cast<unsigned>(mode));
  return buffer;
}

std::string FdName(int fd) { return "fd " + std::to_string(fd); }


}  // namespace

// ---- fd tables ----------------------------------------------------------------

int FakeKernel::Install(ProcessRecord& process, OpenFilePtr file, bool close_on_exec,
                        int lowest) {
  int fd = lowest;
  while (process.fds.count(fd) != 0) ++fd;
  ++file->fd_count;
  process.fds[fd] = FdEntry{std::move(file), close_on_exec};
  return fd;
}

Result<FakeKernel::OpenFilePtr> FakeKernel::FileOf(int fd, const std::string& what) {
  ProcessRecord& caller = Caller();
  auto it = caller.fds.find(fd);
  if (it == caller.fds.end()) return Status::FromErrno(EBADF, what);
  return it->second.file;
}

void FakeKernel::ReleaseFd(ProcessRecord& process, int fd) {
  auto it = process.fds.find(fd);
  if (it == process.fds.end()) return;
  OpenFilePtr file = it->second.file;
  process.fds.erase(it);
  if (--file->fd_count == 0) ReleaseDescription(*file);
}

// The last fd of a description is gone: its flock and its end of a pipe go
// with it.
void FakeKernel::ReleaseDescription(OpenFile& file) {
  if (file.node && file.lock != 0) {
    file.node->shared_locks.erase(&file);
    if (file.node->exclusive_lock == &file) file.node->exclusive_lock = nullptr;
    file.lock = 0;
  }
  if (file.kind == OpenFile::Kind::kPipe) {
    if (file.reads) --file.pipe->readers;
    if (file.writes) --file.pipe->writers;
    // Linux drops a FIFO's unread data once no process has it open.
    if (file.node && file.pipe->readers == 0 && file.pipe->writers == 0) file.node->fifo.reset();
  }
}

// ---- Open, Close, Read, Write ----------------------------------------------------

Result<int> FakeKernel::Open(const std::string& path, int flags, mode_t mode) {
  const std::string what = "open " + path;
  if (auto failure = Enter("Open", what, {internal::Quote(path), internal::Hex(flags), Octal(mode)})) {
    return *failure;
  }

  const bool exclusive_create = (flags & O_CREAT) && (flags & O_EXCL);
  const bool follow = !(flags & O_NOFOLLOW) && !exclusive_create;
  Result<Resolved> resolved = Resolve(path, follow, what);
  if (!resolved.ok()) return resolved.status();
  const int access = flags & O_ACCMODE;
  const bool reads = access != O_WRONLY;
  const bool writes = access != O_RDONLY;

  NodePtr node = resolved->node;
  if (flags & O_PATH) {
    // open(2) O_PATH: the fd only names the file, so there is no access
    // check and no FIFO rendezvous; reading or writing it fails with EBADF.
    if (!node) return Status::FromErrno(ENOENT, what);
    auto path_only = std::make_shared<OpenFile>();
    path_only->path = path;
    path_only->status_flags = O_PATH;
    path_only->node = node;
    path_only->filesystem = resolved->filesystem;
    return Install(Caller(), path_only, flags & O_CLOEXEC);
  }
  bool created = false;
  if (!node) {
    if (!(flags & O_CREAT)) return Status::FromErrno(ENOENT, what);
    node = NewNode(FileInfo::Type::kRegular, mode & ~Caller().umask);
    node->uid = Caller().info.uid;
    node->gid = Caller().info.gid;
    REAPER_RETURN_IF_ERROR(AddEntry(resolved->parent, resolved->name, node, what));
    created = true;
  } else if (exclusive_create) {
    return Status::FromErrno(EEXIST, what);
  }
  if (node->type == FileInfo::Type::kSymlink) return Status::FromErrno(ELOOP, what);
  if ((flags & O_DIRECTORY) && !IsDirectory(node)) return Status::FromErrno(ENOTDIR, what);
  if (IsDirectory(node) && writes) return Status::FromErrno(EISDIR, what);
  if (!created) REAPER_RETURN_IF_ERROR(CheckPermission(*node, (reads ? 4 : 0) | (writes ? 2 : 0), what));

  auto file = std::make_shared<OpenFile>();
  file->path = path;
  file->status_flags = flags & (O_ACCMODE | O_APPEND | O_NONBLOCK);
  file->reads = reads;
  file->writes = writes;
  file->node = node;
  file->filesystem = resolved->filesystem;
  if (node->dev_null) {
    file->kind = OpenFile::Kind::kDevNull;
  } else if (node->namespace_id != 0) {
    file->kind = OpenFile::Kind::kNamespace;
    file->namespace_id = node->namespace_id;
  } else if (node->type == FileInfo::Type::kFifo) {
    // Writing to a FIFO does not write to its file system, so a read-only
    // mount (or /proc/<pid>/fd, which leads to it) does not stop it: the
    // EROFS check of open(2) covers regular files, directories and links.
    return OpenFifo(file, flags, what);
  } else if (node->type == FileInfo::Type::kRegular) {
    if (writes || (flags & O_TRUNC)) {
      Result<NodePtr> writable = NodeForWrite(resolved->location, what);
      if (!writable.ok()) return writable.status();
      file->node = *writable;
    }
    if (writes && (flags & O_TRUNC)) file->node->content.clear();
  } else if (!IsDirectory(node)) {
    return NotModeled("open of a device or socket (" + path + ")");
  }
  return Install(Caller(), file, flags & O_CLOEXEC);
}

// FIFO open rules of fifo(7). O_RDWR never blocks. A reader without
// O_NONBLOCK waits for a writer. A writer waits for a reader, or fails with
// ENXIO under O_NONBLOCK.
Result<int> FakeKernel::OpenFifo(OpenFilePtr file, int flags, const std::string& what) {
  NodePtr node = file->node;
  if (!node->fifo) {
    node->fifo = std::make_shared<PipeBuffer>();
    node->fifo->inode = node->inode;
  }
  const bool nonblocking = flags & O_NONBLOCK;
  if (file->reads && !file->writes && !nonblocking && node->fifo->writers == 0) {
    return WouldBlock(what + " for reading while the FIFO has no writer");
  }
  if (file->writes && !file->reads && node->fifo->readers == 0) {
    if (nonblocking) return Status::FromErrno(ENXIO, what);
    return WouldBlock(what + " for writing while the FIFO has no reader");
  }
  file->kind = OpenFile::Kind::kPipe;
  file->pipe = node->fifo;
  if (file->reads) ++file->pipe->readers;
  if (file->writes) ++file->pipe->writers;
  return Install(Caller(), file, flags & O_CLOEXEC);
}

Status FakeKernel::Close(int fd) {
  const std::string what = "close " + FdName(fd);
  if (auto failure = Enter("Close", what, {std::to_string(fd)})) return *failure;
  Result<OpenFilePtr> file = FileOf(fd, what);
  if (!file.ok()) return file.status();
  ReleaseFd(Caller(), fd);
  CollectNamespaces();
  return Status::Ok();
}

Result<size_t> FakeKernel::Read(int fd, void* buffer, size_t size) {
  const std::string what = "read " + FdName(fd);
  if (auto failure = Enter("Read", what, {std::to_string(fd), std::to_string(size)})) {
    return *failure;
  }
  Result<OpenFilePtr> found = FileOf(fd, what);
  if (!found.ok()) return found.status();
  OpenFile& file = **found;
  if (!file.reads) return Status::FromErrno(EBADF, what);

  switch (file.kind) {
    case OpenFile::Kind::kDevNull:
      return size_t{0};
    case OpenFile::Kind::kNode: {
      if (IsDirectory(file.node)) return Status::FromErrno(EISDIR, what);
      const std::string& content = file.node->content;
      if (file.offset >= content.size()) return size_t{0};
      const size_t count = std::min(size, static_cast<size_t>(content.size() - file.offset));
      std::memcpy(buffer, content.data() + file.offset, count);
      file.offset += count;
      return count;
    }
    case OpenFile::Kind::kPipe: {
      PipeBuffer& pipe = *file.pipe;
      if (pipe.buffer.empty()) {
        if (pipe.writers == 0) return size_t{0};
        if (file.status_flags & O_NONBLOCK) return Status::FromErrno(EAGAIN, what);
        return WouldBlock(what + " (an empty pipe whose write end is still open)");
      }
      const size_t count = std::min(size, pipe.buffer.size());
      std::memcpy(buffer, pipe.buffer.data(), count);
      pipe.buffer.erase(0, count);
      return count;
    }
    case OpenFile::Kind::kNamespace:
      return Status::FromErrno(EINVAL, what);
    case OpenFile::Kind::kSignalFd:
      return NotModeled("Read of a signalfd (use ReadSignal)");
  }
  return NotModeled(what);
}

Result<size_t> FakeKernel::Write(int fd, const void* data, size_t size) {
  const std::string what = "write " + FdName(fd);
  if (auto failure = Enter("Write", what, {std::to_string(fd), std::to_string(size)})) {
    return *failure;
  }
  Result<OpenFilePtr> found = FileOf(fd, what);
  if (!found.ok()) return found.status();
  OpenFile& file = **found;
  if (!file.writes) return Status::FromErrno(EBADF, what);
  const char* bytes = static_cast<const char*>(data);

  switch (file.kind) {
    case OpenFile::Kind::kDevNull:
      return size;
    case OpenFile::Kind::kNode: {
      std::string& content = file.node->content;
      if (file.status_flags & O_APPEND) file.offset = content.size();
      if (content.size() < file.offset + size) content.resize(file.offset + size);
      content.replace(file.offset, size, bytes, size);
      file.offset += size;
      return size;
    }
    case OpenFile::Kind::kPipe: {
      PipeBuffer& pipe = *file.pipe;
      // NOTE: Linux also sends SIGPIPE here; the model only returns EPIPE.
      if (pipe.readers == 0) return Status::FromErrno(EPIPE, what);
      const size_t space = pipe.capacity - pipe.buffer.size();
      if (size <= space) {
        pipe.buffer.append(bytes, size);
        return size;
      }
      if (!(file.status_flags & O_NONBLOCK)) return WouldBlock(what + " (a full pipe)");
      if (space == 0 || size <= kPipeAtomicBytes) return Status::FromErrno(EAGAIN, what);
      pipe.buffer.append(bytes, space);
      return space;
    }
    case OpenFile::Kind::kNamespace:
    case OpenFile::Kind::kSignalFd:
      return Status::FromErrno(EINVAL, what);
  }
  return NotModeled(what);
}

Result<std::pair<int, int>> FakeKernel::Pipe(int flags) {
  const std::string what = "pipe2 flags " + internal::Hex(flags);
  if (auto failure = Enter("Pipe", what, {internal::Hex(flags)})) return *failure;
  if (flags & ~(O_CLOEXEC | O_NONBLOCK)) return NotModeled(what);

  auto pipe = std::make_shared<PipeBuffer>();
  pipe->inode = next_inode_++;
  pipe->readers = 1;
  pipe->writers = 1;
  auto read_end = std::make_shared<OpenFile>();
  read_end->kind = OpenFile::Kind::kPipe;
  read_end->path = "pipe";
  read_end->status_flags = O_RDONLY | (flags & O_NONBLOCK);
  read_end->reads = true;
  read_end->pipe = pipe;
  auto write_end = std::make_shared<OpenFile>(*read_end);
  write_end->status_flags = O_WRONLY | (flags & O_NONBLOCK);
  write_end->reads = false;
  write_end->writes = true;

  ProcessRecord& caller = Caller();
  const int read_fd = Install(caller, read_end, flags & O_CLOEXEC);
  const int write_fd = Install(caller, write_end, flags & O_CLOEXEC);
  return std::make_pair(read_fd, write_fd);
}

// ---- fd operations ---------------------------------------------------------------

Result<int> FakeKernel::Dup3(int old_fd, int new_fd, int flags) {
  const std::string what = "dup3 " + FdName(old_fd) + " to " + FdName(new_fd);
  if (auto failure = Enter("Dup3", what, {std::to_string(old_fd), std::to_string(new_fd),
                                          internal::Hex(flags)})) {
    return *failure;
  }
  Result<OpenFilePtr> file = FileOf(old_fd, what);
  if (!file.ok()) return file.status();
  if (flags & ~O_CLOEXEC) return Status::FromErrno(EINVAL, what);
  if (old_fd == new_fd) {
    if (flags != 0) return Status::FromErrno(EINVAL, what);
    return new_fd;
  }
  if (new_fd < 0) return Status::FromErrno(EBADF, what);
  ProcessRecord& caller = Caller();
  ReleaseFd(caller, new_fd);
  ++(*file)->fd_count;
  caller.fds[new_fd] = FdEntry{*file, (flags & O_CLOEXEC) != 0};
  return new_fd;
}

Result<int> FakeKernel::Fcntl(int fd, int command, int argument) {
  const std::string what = "fcntl " + FdName(fd) + " command " + std::to_string(command);
  if (auto failure = Enter("Fcntl", what, {std::to_string(fd), std::to_string(command),
                                           std::to_string(argument)})) {
    return *failure;
  }
  ProcessRecord& caller = Caller();
  auto it = caller.fds.find(fd);
  if (it == caller.fds.end()) return Status::FromErrno(EBADF, what);
  FdEntry& entry = it->second;
  switch (command) {
    case F_GETFD:
      return entry.close_on_exec ? FD_CLOEXEC : 0;
    case F_SETFD:
      entry.close_on_exec = (argument & FD_CLOEXEC) != 0;
      return 0;
    case F_GETFL:
      return entry.file->status_flags;
    case F_SETFL: {
      const int changeable = O_APPEND | O_NONBLOCK;
      entry.file->status_flags = (entry.file->status_flags & ~changeable) | (argument & changeable);
      return 0;
    }
    case F_GETPIPE_SZ:
    case F_SETPIPE_SZ: {
      if (entry.file->kind != OpenFile::Kind::kPipe) return Status::FromErrno(EBADF, what);
      PipeBuffer& pipe = *entry.file->pipe;
      if (command == F_GETPIPE_SZ) return static_cast<int>(pipe.capacity);
      if (argument < 0) return Status::FromErrno(EINVAL, what);
      size_t size = kPipeAtomicBytes;
      while (size < static_cast<size_t>(argument)) size *= 2;
      if (size < pipe.buffer.size()) return Status::FromErrno(EBUSY, what);
      pipe.capacity = size;
      return static_cast<int>(size);
    }
    case F_DUPFD:
    case F_DUPFD_CLOEXEC:
      if (argument < 0) return Status::FromErrno(EINVAL, what);
      return Install(caller, entry.file, command == F_DUPFD_CLOEXEC, argument);
    default:
      return NotModeled(what);
  }
}

Status FakeKernel::Flock(int fd, int operation) {
  const std::string what = "flock " + FdName(fd) + " operation " + std::to_string(operation);
  if (auto failure = Enter("Flock", what, {std::to_string(fd), std::to_string(operation)})) {
    return *failure;
  }
  Result<OpenFilePtr> found = FileOf(fd, what);
  if (!found.ok()) return found.status();
  OpenFile& file = **found;
  if (!file.node) return NotModeled("flock of a pipe");
  Node& node = *file.node;

  const int kind = operation & ~LOCK_NB;
  if (kind != LOCK_SH && kind != LOCK_EX && kind != LOCK_UN) return Status::FromErrno(EINVAL, what);
  const bool other_exclusive = node.exclusive_lock != nullptr && node.exclusive_lock != &file;
  bool other_shared = false;
  for (const OpenFile* holder : node.shared_locks) other_shared |= holder != &file;
  const bool conflict = kind == LOCK_EX ? (other_exclusive || other_shared)
                                        : kind == LOCK_SH && other_exclusive;
  if (conflict) {
    if (operation & LOCK_NB) return Status::FromErrno(EWOULDBLOCK, what);
    return WouldBlock(what + " (" + file.path + " is locked through another open file)");
  }

  node.shared_locks.erase(&file);
  if (node.exclusive_lock == &file) node.exclusive_lock = nullptr;
  file.lock = kind == LOCK_UN ? 0 : kind;
  if (kind == LOCK_SH) node.shared_locks.insert(&file);
  if (kind == LOCK_EX) node.exclusive_lock = &file;
  return Status::Ok();
}

Result<int> FakeKernel::BytesReadable(int fd) {
  const std::string what = "ioctl FIONREAD " + FdName(fd);
  if (auto failure = Enter("BytesReadable", what, {std::to_string(fd)})) return *failure;
  Result<OpenFilePtr> found = FileOf(fd, what);
  if (!found.ok()) return found.status();
  const OpenFile& file = **found;
  switch (file.kind) {
    case OpenFile::Kind::kPipe:
      return static_cast<int>(file.pipe->buffer.size());
    case OpenFile::Kind::kDevNull:
      return 0;
    case OpenFile::Kind::kNode:
      if (file.node->type == FileInfo::Type::kRegular) {
        const size_t size = file.node->content.size();
        return static_cast<int>(file.offset >= size ? 0 : size - file.offset);
      }
      return Status::FromErrno(ENOTTY, what);
    default:
      return Status::FromErrno(ENOTTY, what);
  }
}

// ---- Metadata --------------------------------------------------------------------

Result<FileInfo> FakeKernel::Stat(const std::string& path) {
  const std::string what = "stat " + path;
  if (auto failure = Enter("Stat", what, {internal::Quote(path)})) return *failure;
  Result<Resolved> resolved = Resolve(path, true, what);
  if (!resolved.ok()) return resolved.status();
  if (!resolved->node) return Status::FromErrno(ENOENT, what);
  return InfoOf(*resolved->node, *resolved->filesystem);
}

Result<FileInfo> FakeKernel::Lstat(const std::string& path) {
  const std::string what = "lstat " + path;
  if (auto failure = Enter("Lstat", what, {internal::Quote(path)})) return *failure;
  Result<Resolved> resolved = Resolve(path, false, what);
  if (!resolved.ok()) return resolved.status();
  if (!resolved->node) return Status::FromErrno(ENOENT, what);
  FileInfo info = InfoOf(*resolved->node, *resolved->filesystem);
  if (resolved->node->magic_link) {
    info.type = FileInfo::Type::kSymlink;
    info.mode = 0777;
  }
  return info;
}

Result<FileInfo> FakeKernel::Fstat(int fd) {
  const std::string what = "fstat " + FdName(fd);
  if (auto failure = Enter("Fstat", what, {std::to_string(fd)})) return *failure;
  Result<OpenFilePtr> found = FileOf(fd, what);
  if (!found.ok()) return found.status();
  const OpenFile& file = **found;
  if (file.node && file.filesystem) return InfoOf(*file.node, *file.filesystem);
  FileInfo info;
  if (file.kind == OpenFile::Kind::kPipe) {
    info.type = FileInfo::Type::kFifo;
    info.mode = 0600;
    info.inode = file.pipe->inode;
    info.size = file.pipe->buffer.size();
  } else if (file.kind == OpenFile::Kind::kDevNull) {
    info.type = FileInfo::Type::kCharDevice;
    info.mode = 0666;
  }
  return info;
}

Result<int64_t> FakeKernel::FilesystemType(const std::string& path) {
  const std::string what = "statfs " + path;
  if (auto failure = Enter("FilesystemType", what, {internal::Quote(path)})) return *failure;
  Result<Resolved> resolved = Resolve(path, true, what);
  if (!resolved.ok()) return resolved.status();
  if (!resolved->node) return Status::FromErrno(ENOENT, what);
  if (resolved->node->namespace_id != 0) return static_cast<int64_t>(NSFS_MAGIC);
  return resolved->filesystem->magic;
}

// ---- Directory entries --------------------------------------------------------------

Status FakeKernel::Mkdir(const std::string& path, mode_t mode) {
  const std::string what = "mkdir " + path;
  if (auto failure = Enter("Mkdir", what, {internal::Quote(path), Octal(mode)})) return *failure;
  Result<Resolved> resolved = Resolve(path, false, what);
  if (!resolved.ok()) return resolved.status();
  if (resolved->node) return Status::FromErrno(EEXIST, what);
  NodePtr directory = NewNode(FileInfo::Type::kDirectory, mode & ~Caller().umask);
  directory->uid = Caller().info.uid;
  directory->gid = Caller().info.gid;
  return AddEntry(resolved->parent, resolved->name, directory, what);
}

Status FakeKernel::Mkfifo(const std::string& path, mode_t mode) {
  const std::string what = "mkfifo " + path;
  if (auto failure = Enter("Mkfifo", what, {internal::Quote(path), Octal(mode)})) return *failure;
  Result<Resolved> resolved = Resolve(path, false, what);
  if (!resolved.ok()) return resolved.status();
  if (resolved->node) return Status::FromErrno(EEXIST, what);
  NodePtr fifo = NewNode(FileInfo::Type::kFifo, mode & ~Caller().umask);
  fifo->uid = Caller().info.uid;
  fifo->gid = Caller().info.gid;
  return AddEntry(resolved->parent, resolved->name, fifo, what);
}

Status FakeKernel::Unlink(const std::string& path) {
  const std::string what = "unlink " + path;
  if (auto failure = Enter("Unlink", what, {internal::Quote(path)})) return *failure;
  Result<Resolved> resolved = Resolve(path, false, what);
  if (!resolved.ok()) return resolved.status();
  if (!resolved->node) return Status::FromErrno(ENOENT, what);
  if (IsDirectory(resolved->node)) return Status::FromErrno(EISDIR, what);
  if (IsMountPoint(resolved->location)) return Status::FromErrno(EBUSY, what);
  return RemoveEntry(resolved->parent, resolved->name, what);
}

Status FakeKernel::Rmdir(const std::string& path) {
  const std::string what = "rmdir " + path;
  if (auto failure = Enter("Rmdir", what, {internal::Quote(path)})) return *failure;
  Result<Resolved> resolved = Resolve(path, false, what);
  if (!resolved.ok()) return resolved.status();
  if (!resolved->node) return Status::FromErrno(ENOENT, what);
  if (!IsDirectory(resolved->node)) return Status::FromErrno(ENOTDIR, what);
  if (IsMountPoint(resolved->location)) return Status::FromErrno(EBUSY, what);
  Result<std::vector<std::string>> names = EntryNames(resolved->location, what);
  if (!names.ok()) return names.status();
  if (!names->empty()) return Status::FromErrno(ENOTEMPTY, what);
  return RemoveEntry(resolved->parent, resolved->name, what);
}

Status FakeKernel::Rename(const std::string& from, const std::string& to) {
  const std::string what = "rename " + from + " to " + to;
  if (auto failure = Enter("Rename", what, {internal::Quote(from), internal::Quote(to)})) {
    return *failure;
  }
  Result<Resolved> source = Resolve(from, false, what);
  if (!source.ok()) return source.status();
  if (!source->node) return Status::FromErrno(ENOENT, what);
  Result<Resolved> target = Resolve(to, false, what);
  if (!target.ok()) return target.status();
  if (IsMountPoint(source->location) || (target->node && IsMountPoint(target->location))) {
    return Status::FromErrno(EBUSY, what);
  }
  if (source->parent.mount_id != target->parent.mount_id) return Status::FromErrno(EXDEV, what);
  if (source->node == target->node) return Status::Ok();

  const bool moves_directory = IsDirectory(source->node);
  if (target->node) {
    if (moves_directory && !IsDirectory(target->node)) return Status::FromErrno(ENOTDIR, what);
    if (!moves_directory && IsDirectory(target->node)) return Status::FromErrno(EISDIR, what);
    if (IsDirectory(target->node)) {
      Result<std::vector<std::string>> names = EntryNames(target->location, what);
      if (!names.ok()) return names.status();
      if (!names->empty()) return Status::FromErrno(ENOTEMPTY, what);
    }
  }
  if (moves_directory && target->path.rfind(source->path + "/", 0) == 0) {
    return Status::FromErrno(EINVAL, what);
  }

  const Filesystem& filesystem = *source->filesystem;
  if (filesystem.kind == Filesystem::Kind::kOverlay && moves_directory) {
    // overlayfs without redirect_dir refuses to move a directory that has a
    // lower layer; callers fall back to copying.
    Result<OverlayView> view =
        OverlayWalk(filesystem, internal::SplitPath(FilesystemPath(source->location)), what);
    if (!view.ok()) return view.status();
    for (size_t layer = filesystem.upper ? 1 : 0; layer < view->layers.size(); ++layer) {
      if (view->layers[layer]) return Status::FromErrno(EXDEV, what);
    }
  }
  Result<NodePtr> node = NodeForWrite(source->location, what);
  if (!node.ok()) return node.status();
  if (target->node) REAPER_RETURN_IF_ERROR(RemoveEntry(target->parent, target->name, what));
  REAPER_RETURN_IF_ERROR(AddEntry(target->parent, target->name, *node, what));
  return RemoveEntry(source->parent, source->name, what);
}

Status FakeKernel::Symlink(const std::string& target, const std::string& link_path) {
  const std::string what = "symlink " + link_path + " to " + target;
  if (auto failure = Enter("Symlink", what, {internal::Quote(target), internal::Quote(link_path)})) {
    return *failure;
  }
  Result<Resolved> resolved = Resolve(link_path, false, what);
  if (!resolved.ok()) return resolved.status();
  if (resolved->node) return Status::FromErrno(EEXIST, what);
  NodePtr link = NewNode(FileInfo::Type::kSymlink, 0777);
  link->link_target = target;
  link->uid = Caller().info.uid;
  link->gid = Caller().info.gid;
  return AddEntry(resolved->parent, resolved->name, link, what);
}

Result<std::string> FakeKernel::Readlink(const std::string& path) {
  const std::string what = "readlink " + path;
  if (auto failure = Enter("Readlink", what, {internal::Quote(path)})) return *failure;
  Result<Resolved> resolved = Resolve(path, false, what);
  if (!resolved.ok()) return resolved.status();
  if (!resolved->node) return Status::FromErrno(ENOENT, what);
  if (resolved->node->magic_link) return "mnt:[" + std::to_string(resolved->node->inode) + "]";
  if (resolved->node->type != FileInfo::Type::kSymlink) return Status::FromErrno(EINVAL, what);
  return resolved->node->link_target;
}

Status FakeKernel::Chmod(const std::string& path, mode_t mode) {
  const std::string what = "chmod " + path;
  if (auto failure = Enter("Chmod", what, {internal::Quote(path), Octal(mode)})) return *failure;
  Result<Resolved> resolved = Resolve(path, true, what);
  if (!resolved.ok()) return resolved.status();
  if (!resolved->node) return Status::FromErrno(ENOENT, what);
  const uid_t uid = Caller().info.uid;
  if (uid != 0 && uid != resolved->node->uid) return Status::FromErrno(EPERM, what);
  Result<NodePtr> node = NodeForWrite(resolved->location, what);
  if (!node.ok()) return node.status();
  (*node)->mode = mode & 07777;
  return Status::Ok();
}

Status FakeKernel::Chown(const std::string& path, uid_t uid, gid_t gid) {
  const std::string what = "chown " + path;
  if (auto failure = Enter("Chown", what, {internal::Quote(path), std::to_string(uid),
                                           std::to_string(gid)})) {
    return *failure;
  }
  Result<Resolved> resolved = Resolve(path, true, what);
  if (!resolved.ok()) return resolved.status();
  if (!resolved->node) return Status::FromErrno(ENOENT, what);
  if (Caller().info.uid != 0) return Status::FromErrno(EPERM, what);
  Result<NodePtr> node = NodeForWrite(resolved->location, what);
  if (!node.ok()) return node.status();
  // -1 leaves the id as it is, as in chown(2).
  if (uid != static_cast<uid_t>(-1)) (*node)->uid = uid;
  if (gid != static_cast<gid_t>(-1)) (*node)->gid = gid;
  return Status::Ok();
}

Result<std::vector<std::string>> FakeKernel::ListDirectory(const std::string& path) {
  const std::string what = "opendir " + path;
  if (auto failure = Enter("ListDirectory", what, {internal::Quote(path)})) return *failure;
  Result<Resolved> resolved = Resolve(path, true, what);
  if (!resolved.ok()) return resolved.status();
  if (!resolved->node) return Status::FromErrno(ENOENT, what);
  if (!IsDirectory(resolved->node)) return Status::FromErrno(ENOTDIR, what);
  return EntryNames(resolved->location, what);
}

Status FakeKernel::Access(const std::string& path, int mode) {
  const std::string what = "access " + path;
  if (auto failure = Enter("Access", what, {internal::Quote(path), std::to_string(mode)})) {
    return *failure;
  }
  Result<Resolved> resolved = Resolve(path, true, what);
  if (!resolved.ok()) return resolved.status();
  if (!resolved->node) return Status::FromErrno(ENOENT, what);
  if (mode == F_OK) return Status::Ok();
  if (mode & W_OK) REAPER_RETURN_IF_ERROR(CheckWritable(resolved->location, what));
  return CheckPermission(*resolved->node, mode & (R_OK | W_OK | X_OK), what);
}

mode_t FakeKernel::Umask(mode_t mask) {
  Enter("Umask", "umask", {Octal(mask)});
  ProcessRecord& caller = Caller();
  const mode_t previous = caller.umask;
  caller.umask = mask & 0777;
  return previous;
}

Status FakeKernel::Chdir(const std::string& path) {
  const std::string what = "chdir " + path;
  if (auto failure = Enter("Chdir", what, {internal::Quote(path)})) return *failure;
  Result<Resolved> resolved = Resolve(path, true, what);
  if (!resolved.ok()) return resolved.status();
  if (!resolved->node) return Status::FromErrno(ENOENT, what);
  if (!IsDirectory(resolved->node)) return Status::FromErrno(ENOTDIR, what);
  Caller().info.cwd = resolved->path;
  return Status::Ok();
}

Result<std::string> FakeKernel::Getcwd() {
  if (auto failure = Enter("Getcwd", "getcwd", {})) return *failure;
  return Caller().info.cwd;
}

// ---- Test API -------------------------------------------------------------------------

namespace {

// Runs test helpers as root, so that permission bits do not get in the way.
class RootScope {
 public:
  RootScope(uid_t* uid, gid_t* gid) : uid_(uid), gid_(gid), saved_uid_(*uid), saved_gid_(*gid) {
    *uid = 0;
    *gid = 0;
  }
  ~RootScope() {
    *uid_ = saved_uid_;
    *gid_ = saved_gid_;
  }

 private:
  uid_t* uid_;
  gid_t* gid_;
  uid_t saved_uid_;
  gid_t saved_gid_;
};

}  // namespace

Status FakeKernel::MakeDirectories(const std::string& path) {
  std::string prefix;
  for (const std::string& part : internal::SplitPath(AbsolutePath(Caller(), path))) {
    prefix += "/" + part;
    const std::string what = "mkdir " + prefix;
    Result<Resolved> resolved = Resolve(prefix, true, what);
    if (!resolved.ok()) return resolved.status();
    if (resolved->node) {
      if (!IsDirectory(resolved->node)) return Status::FromErrno(ENOTDIR, what);
      continue;
    }
    NodePtr directory = NewNode(FileInfo::Type::kDirectory, 0755);
    REAPER_RETURN_IF_ERROR(AddEntry(resolved->parent, resolved->name, directory, what));
  }
  return Status::Ok();
}

void FakeKernel::MakeDirectory(const std::string& path) {
  RootScope root(&Caller().info.uid, &Caller().info.gid);
  Status status = MakeDirectories(path);
  if (!status.ok()) ADD_FAILURE() << "fake kernel: MakeDirectory: " << status.ToString();
}

void FakeKernel::WriteFile(const std::string& path, const std::string& content, mode_t mode) {
  RootScope root(&Caller().info.uid, &Caller().info.gid);
  const std::string absolute = AbsolutePath(Caller(), path);
  const std::string what = "write " + absolute;
  Status status = MakeDirectories(absolute.substr(0, absolute.rfind('/')));
  Result<Resolved> resolved = status.ok() ? Resolve(absolute, true, what) : Result<Resolved>(status);
  NodePtr node;
  if (resolved.ok() && !resolved->node) {
    node = NewNode(FileInfo::Type::kRegular, mode);
    status = AddEntry(resolved->parent, resolved->name, node, what);
  } else if (resolved.ok()) {
    Result<NodePtr> writable = NodeForWrite(resolved->location, what);
    status = writable.status();
    if (writable.ok()) node = *writable;
    if (node && node->type != FileInfo::Type::kRegular) status = Status::FromErrno(EISDIR, what);
  } else {
    status = resolved.status();
  }
  if (!status.ok()) {
    ADD_FAILURE() << "fake kernel: WriteFile: " << status.ToString();
    return;
  }
  node->content = content;
  node->mode = mode & 07777;
}

std::string FakeKernel::ReadFileContent(const std::string& path) {
  const std::string what = "read " + path;
  Result<Resolved> resolved = Resolve(path, true, what);
  if (!resolved.ok()) {
    ADD_FAILURE() << "fake kernel: ReadFileContent: " << resolved.status().ToString();
    return "";
  }
  if (!resolved->node || resolved->node->type != FileInfo::Type::kRegular) {
    ADD_FAILURE() << "fake kernel: ReadFileContent: " << path << " is not a regular file";
    return "";
  }
  return resolved->node->content;
}

bool FakeKernel::Exists(const std::string& path) {
  Result<Resolved> resolved = Resolve(path, true, "stat " + path);
  return resolved.ok() && resolved->node != nullptr;
}

std::vector<int> FakeKernel::OpenFds(pid_t pid) const {
  std::vector<int> fds;
  const ProcessRecord* process = Find(pid);
  if (process == nullptr) return fds;
  for (const auto& [fd, entry] : process->fds) fds.push_back(fd);
  return fds;
}

bool FakeKernel::IsCloseOnExec(pid_t pid, int fd) const {
  const ProcessRecord* process = Find(pid);
  if (process == nullptr) return false;
  auto it = process->fds.find(fd);
  return it != process->fds.end() && it->second.close_on_exec;
}

}  // namespace fakes
