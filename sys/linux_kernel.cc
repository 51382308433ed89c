#include "sys/linux_kernel.h"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstddef>
#include <cstdio>
#include <cstring>

namespace sys {

// The constants that sys/kernel.h gives to code that may not include the
// system headers must equal the real ones.
static_assert(kSockStream == SOCK_STREAM && kSockNonblock == SOCK_NONBLOCK &&
              kSockCloexec == SOCK_CLOEXEC);
static_assert(kShutWrite == SHUT_WR && kShutReadWrite == SHUT_RDWR);
static_assert(kEpollCtlAdd == EPOLL_CTL_ADD && kEpollCtlDel == EPOLL_CTL_DEL &&
              kEpollCtlMod == EPOLL_CTL_MOD);
static_assert(kEpollIn == EPOLLIN && kEpollOut == EPOLLOUT && kEpollErr == EPOLLERR &&
              kEpollHup == EPOLLHUP && kEpollRdHup == EPOLLRDHUP);
static_assert(kUnmountDetach == MNT_DETACH);

namespace {

// Calls `call` until it fails with something other than EINTR.
template <typename Call>
auto RetryOnEintr(Call call) -> decltype(call()) {
  for (;;) {
    auto result = call();
    if (result != -1 || errno != EINTR) return result;
  }
}

std::string FdName(int fd) { return "fd " + std::to_string(fd); }

std::string Hex(unsigned long value) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "0x%lx", value);
  return buffer;
}

FileInfo::Type TypeOfMode(mode_t mode) {
  switch (mode & S_IFMT) {
    case S_IFREG: return FileInfo::Type::kRegular;
    case S_IFDIR: return FileInfo::Type::kDirectory;
    case S_IFLNK: return FileInfo::Type::kSymlink;
    case S_IFIFO: return FileInfo::Type::kFifo;
    case S_IFSOCK: return FileInfo::Type::kSocket;
    case S_IFCHR: return FileInfo::Type::kCharDevice;
    case S_IFBLK: return FileInfo::Type::kBlockDevice;
    default: return FileInfo::Type::kOther;
  }
}

FileInfo ToFileInfo(const struct stat& st) {
  FileInfo info;
  info.type = TypeOfMode(st.st_mode);
  info.mode = st.st_mode & 07777;
  info.uid = st.st_uid;
  info.gid = st.st_gid;
  info.size = static_cast<uint64_t>(st.st_size);
  info.device = st.st_dev;
  info.inode = st.st_ino;
  return info;
}

// Builds a sigset_t from signal numbers without allocating.
Result<sigset_t> SignalSet(const std::vector<int>& signals, const char* call) {
  sigset_t set;
  sigemptyset(&set);
  for (int signal : signals) {
    if (sigaddset(&set, signal) != 0) {
      return Status::FromErrno(errno, std::string(call) + " signal " + std::to_string(signal));
    }
  }
  return set;
}

// Fills a sockaddr_un for `path`; a path starting with '\0' is an abstract
// address, whose length counts every byte instead of ending at a NUL.
Result<socklen_t> UnixAddress(const std::string& path, const std::string& what,
                              struct sockaddr_un* address) {
  std::memset(address, 0, sizeof(*address));
  address->sun_family = AF_UNIX;
  const bool abstract = !path.empty() && path[0] == '\0';
  // A filesystem path needs room for its terminating NUL.
  const size_t max_length = abstract ? sizeof(address->sun_path) : sizeof(address->sun_path) - 1;
  if (path.empty() || path.size() > max_length) {
    return Status(reaper::Code::kInvalidArgument,
                  what + ": a unix socket path must be 1 to " + std::to_string(max_length) +
                      " bytes long, this one is " + std::to_string(path.size()),
                  ENAMETOOLONG);
  }
  std::memcpy(address->sun_path, path.data(), path.size());
  if (abstract) {
    return static_cast<socklen_t>(offsetof(struct sockaddr_un, sun_path) + path.size());
  }
  return static_cast<socklen_t>(sizeof(*address));
}

// Shows an abstract address the way ss(8) does, with '@' for the NUL.
std::string PrintableSocketPath(const std::string& path) {
  if (!path.empty() && path[0] == '\0') return "@" + path.substr(1);
  return path;
}

std::string DescribeMount(const std::string& source, const std::string& target,
                          const std::string& fstype, unsigned long flags) {
  const char* recursive = (flags & MS_REC) ? "r" : "";
  if (flags & MS_PRIVATE) return "make " + target + " " + recursive + "private";
  if (flags & MS_SHARED) return "make " + target + " " + recursive + "shared";
  if (flags & MS_SLAVE) return "make " + target + " " + recursive + "slave";
  if (flags & MS_UNBINDABLE) return "make " + target + " " + recursive + "unbindable";
  if (flags & MS_REMOUNT) return "remount " + target + " with flags " + Hex(flags);
  if (flags & MS_BIND) return "bind mount " + source + " on " + target;
  return "mount " + (fstype.empty() ? source : fstype) + " on " + target;
}

// Points the first strings.size() entries of an execve array at `strings`
// and ends it with nullptr. Uses `inline_array` (kInlineExecveArguments + 1
// entries) when it is large enough, so the common case does not allocate
// between fork and exec.
char** ExecveArray(const std::vector<std::string>& strings, char** inline_array,
                   std::vector<char*>* overflow) {
  char** array = inline_array;
  if (strings.size() > LinuxKernel::kInlineExecveArguments) {
    overflow->resize(strings.size() + 1);
    array = overflow->data();
  }
  for (size_t i = 0; i < strings.size(); ++i) array[i] = const_cast<char*>(strings[i].c_str());
  array[strings.size()] = nullptr;
  return array;
}

int64_t MillisecondsSince(const struct timespec& start) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
}

}  // namespace

// ---- Files and fds ----------------------------------------------------------

Result<int> LinuxKernel::Open(const std::string& path, int flags, mode_t mode) {
  const int fd = RetryOnEintr([&] { return ::open(path.c_str(), flags, mode); });
  if (fd < 0) return Status::FromErrno(errno, "open " + path);
  return fd;
}

Status LinuxKernel::Close(int fd) {
  if (::close(fd) != 0 && errno != EINTR) return Status::FromErrno(errno, "close " + FdName(fd));
  return Status::Ok();
}

Result<size_t> LinuxKernel::Read(int fd, void* buffer, size_t size) {
  const ssize_t count = RetryOnEintr([&] { return ::read(fd, buffer, size); });
  if (count < 0) return Status::FromErrno(errno, "read " + FdName(fd));
  return static_cast<size_t>(count);
}

Result<size_t> LinuxKernel::Write(int fd, const void* data, size_t size) {
  const ssize_t count = RetryOnEintr([&] { return ::write(fd, data, size); });
  if (count < 0) return Status::FromErrno(errno, "write " + FdName(fd));
  return static_cast<size_t>(count);
}

Result<std::pair<int, int>> LinuxKernel::Pipe(int flags) {
  int fds[2];
  if (::pipe2(fds, flags) != 0) return Status::FromErrno(errno, "pipe2 flags " + Hex(flags));
  return std::make_pair(fds[0], fds[1]);
}

Result<int> LinuxKernel::Dup3(int old_fd, int new_fd, int flags) {
  // dup3 rejects old_fd == new_fd, which dup2 accepts as a validity check.
  const int fd = RetryOnEintr([&] {
    return flags == 0 ? ::dup2(old_fd, new_fd) : ::dup3(old_fd, new_fd, flags);
  });
  if (fd < 0) return Status::FromErrno(errno, "dup3 " + FdName(old_fd) + " to " + FdName(new_fd));
  return fd;
}

Result<int> LinuxKernel::Fcntl(int fd, int command, int argument) {
  const int result = RetryOnEintr([&] { return ::fcntl(fd, command, argument); });
  if (result < 0) {
    return Status::FromErrno(errno, "fcntl " + FdName(fd) + " command " + std::to_string(command));
  }
  return result;
}

Status LinuxKernel::Flock(int fd, int operation) {
  if (RetryOnEintr([&] { return ::flock(fd, operation); }) != 0) {
    return Status::FromErrno(errno, "flock " + FdName(fd) + " operation " + std::to_string(operation));
  }
  return Status::Ok();
}

Result<int> LinuxKernel::BytesReadable(int fd) {
  int count = 0;
  if (::ioctl(fd, FIONREAD, &count) != 0) return Status::FromErrno(errno, "ioctl FIONREAD " + FdName(fd));
  return count;
}

Result<FileInfo> LinuxKernel::Stat(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return Status::FromErrno(errno, "stat " + path);
  return ToFileInfo(st);
}

Result<FileInfo> LinuxKernel::Lstat(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return Status::FromErrno(errno, "lstat " + path);
  return ToFileInfo(st);
}

Result<FileInfo> LinuxKernel::Fstat(int fd) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return Status::FromErrno(errno, "fstat " + FdName(fd));
  return ToFileInfo(st);
}

Result<int64_t> LinuxKernel::FilesystemType(const std::string& path) {
  struct statfs info;
  if (RetryOnEintr([&] { return ::statfs(path.c_str(), &info); }) != 0) {
    return Status::FromErrno(errno, "statfs " + path);
  }
  return static_cast<int64_t>(info.f_type);
}

Status LinuxKernel::Mkdir(const std::string& path, mode_t mode) {
  if (::mkdir(path.c_str(), mode) != 0) return Status::FromErrno(errno, "mkdir " + path);
  return Status::Ok();
}

Status LinuxKernel::Mkfifo(const std::string& path, mode_t mode) {
  if (::mkfifo(path.c_str(), mode) != 0) return Status::FromErrno(errno, "mkfifo " + path);
  return Status::Ok();
}

Status LinuxKernel::Unlink(const std::string& path) {
  if (::unlink(path.c_str()) != 0) return Status::FromErrno(errno, "unlink " + path);
  return Status::Ok();
}

Status LinuxKernel::Rmdir(const std::string& path) {
  if (::rmdir(path.c_str()) != 0) return Status::FromErrno(errno, "rmdir " + path);
  return Status::Ok();
}

Status LinuxKernel::Rename(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) {
    return Status::FromErrno(errno, "rename " + from + " to " + to);
  }
  return Status::Ok();
}

Status LinuxKernel::Symlink(const std::string& target, const std::string& link_path) {
  if (::symlink(target.c_str(), link_path.c_str()) != 0) {
    return Status::FromErrno(errno, "symlink " + link_path + " to " + target);
  }
  return Status::Ok();
}

Result<std::string> LinuxKernel::Readlink(const std::string& path) {
  // readlink does not say how long the target is, so grow the buffer until
  // the result no longer fills it.
  std::string buffer(256, '\0');
  for (;;) {
    const ssize_t length = ::readlink(path.c_str(), &buffer[0], buffer.size());
    if (length < 0) return Status::FromErrno(errno, "readlink " + path);
    if (static_cast<size_t>(length) < buffer.size()) {
      buffer.resize(static_cast<size_t>(length));
      return buffer;
    }
    buffer.resize(buffer.size() * 2);
  }
}

Status LinuxKernel::Chmod(const std::string& path, mode_t mode) {
  if (::chmod(path.c_str(), mode) != 0) return Status::FromErrno(errno, "chmod " + path);
  return Status::Ok();
}

Status LinuxKernel::Chown(const std::string& path, uid_t uid, gid_t gid) {
  if (::chown(path.c_str(), uid, gid) != 0) return Status::FromErrno(errno, "chown " + path);
  return Status::Ok();
}

Result<std::vector<std::string>> LinuxKernel::ListDirectory(const std::string& path) {
  DIR* directory = ::opendir(path.c_str());  // glibc opens it with O_CLOEXEC
  if (directory == nullptr) return Status::FromErrno(errno, "opendir " + path);
  std::vector<std::string> names;
  for (;;) {
    errno = 0;
    const struct dirent* entry = ::readdir(directory);
    if (entry == nullptr) break;
    const std::string name = entry->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  const int error = errno;
  ::closedir(directory);
  if (error != 0) return Status::FromErrno(error, "readdir " + path);
  return names;
}

Status LinuxKernel::Access(const std::string& path, int mode) {
  if (::access(path.c_str(), mode) != 0) return Status::FromErrno(errno, "access " + path);
  return Status::Ok();
}

mode_t LinuxKernel::Umask(mode_t mask) { return ::umask(mask); }

Status LinuxKernel::Chdir(const std::string& path) {
  if (::chdir(path.c_str()) != 0) return Status::FromErrno(errno, "chdir " + path);
  return Status::Ok();
}

Result<std::string> LinuxKernel::Getcwd() {
  std::string buffer(PATH_MAX, '\0');
  for (;;) {
    if (::getcwd(&buffer[0], buffer.size()) != nullptr) {
      buffer.resize(std::strlen(buffer.c_str()));
      return buffer;
    }
    if (errno != ERANGE) return Status::FromErrno(errno, "getcwd");
    buffer.resize(buffer.size() * 2);
  }
}

// ---- Unix sockets -----------------------------------------------------------

Result<int> LinuxKernel::UnixSocket(int type) {
  const int fd = ::socket(AF_UNIX, type, 0);
  if (fd < 0) return Status::FromErrno(errno, "socket AF_UNIX type " + Hex(type));
  return fd;
}

Status LinuxKernel::Bind(int fd, const std::string& path) {
  const std::string what = "bind " + FdName(fd) + " to " + PrintableSocketPath(path);
  struct sockaddr_un address;
  Result<socklen_t> length = UnixAddress(path, what, &address);
  if (!length.ok()) return length.status();
  if (::bind(fd, reinterpret_cast<struct sockaddr*>(&address), *length) != 0) {
    return Status::FromErrno(errno, what);
  }
  return Status::Ok();
}

Status LinuxKernel::Listen(int fd, int backlog) {
  if (::listen(fd, backlog) != 0) return Status::FromErrno(errno, "listen " + FdName(fd));
  return Status::Ok();
}

Result<int> LinuxKernel::Accept(int fd, int flags) {
  const int connection = RetryOnEintr([&] { return ::accept4(fd, nullptr, nullptr, flags); });
  if (connection < 0) return Status::FromErrno(errno, "accept " + FdName(fd));
  return connection;
}

Status LinuxKernel::Connect(int fd, const std::string& path) {
  const std::string what = "connect " + FdName(fd) + " to " + PrintableSocketPath(path);
  struct sockaddr_un address;
  Result<socklen_t> length = UnixAddress(path, what, &address);
  if (!length.ok()) return length.status();
  // A connect interrupted by a signal goes on in the background, and calling
  // it again would fail with EALREADY. So EINTR is not retried here.
  // NOTE: an interrupted connect is reported as an error (EINTR) although it
  // may still complete. Callers retry with a new socket.
  if (::connect(fd, reinterpret_cast<struct sockaddr*>(&address), *length) != 0) {
    return Status::FromErrno(errno, what);
  }
  return Status::Ok();
}

Result<PeerCredentials> LinuxKernel::PeerCredentialsOf(int fd) {
  struct ucred credentials;
  socklen_t length = sizeof(credentials);
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) != 0) {
    return Status::FromErrno(errno, "getsockopt SO_PEERCRED " + FdName(fd));
  }
  PeerCredentials peer;
  peer.pid = credentials.pid;
  peer.uid = credentials.uid;
  peer.gid = credentials.gid;
  return peer;
}

Status LinuxKernel::Shutdown(int fd, int how) {
  if (::shutdown(fd, how) != 0) return Status::FromErrno(errno, "shutdown " + FdName(fd));
  return Status::Ok();
}

// ---- Readiness and signals --------------------------------------------------

Result<int> LinuxKernel::EpollCreate() {
  const int fd = ::epoll_create1(EPOLL_CLOEXEC);
  if (fd < 0) return Status::FromErrno(errno, "epoll_create1");
  return fd;
}

Status LinuxKernel::EpollCtl(int epoll_fd, int op, int fd, uint32_t events, uint64_t data) {
  struct epoll_event event;
  std::memset(&event, 0, sizeof(event));
  event.events = events;
  event.data.u64 = data;
  if (::epoll_ctl(epoll_fd, op, fd, &event) != 0) {
    return Status::FromErrno(errno, "epoll_ctl op " + std::to_string(op) + " " + FdName(fd) +
                                        " on epoll " + FdName(epoll_fd));
  }
  return Status::Ok();
}

Result<std::vector<EpollEvent>> LinuxKernel::EpollWait(int epoll_fd, int max_events,
                                                       int timeout_ms) {
  if (max_events <= 0) {
    return Status(reaper::Code::kInvalidArgument,
                  "epoll_wait " + FdName(epoll_fd) + ": max_events must be positive, got " +
                      std::to_string(max_events),
                  EINVAL);
  }
  std::vector<struct epoll_event> ready(static_cast<size_t>(max_events));
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  int count;
  for (;;) {
    int remaining = timeout_ms;
    if (timeout_ms > 0) {
      const int64_t elapsed = MillisecondsSince(start);
      remaining = elapsed >= timeout_ms ? 0 : static_cast<int>(timeout_ms - elapsed);
    }
    count = ::epoll_wait(epoll_fd, ready.data(), max_events, remaining);
    if (count >= 0 || errno != EINTR) break;
  }
  if (count < 0) return Status::FromErrno(errno, "epoll_wait " + FdName(epoll_fd));
  std::vector<EpollEvent> events;
  events.reserve(static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) events.push_back(EpollEvent{ready[i].events, ready[i].data.u64});
  return events;
}

Status LinuxKernel::SetSignalMask(int how, const std::vector<int>& signals) {
  Result<sigset_t> set = SignalSet(signals, "sigprocmask");
  if (!set.ok()) return set.status();
  // pthread_sigmask reports its error as the return value, not in errno.
  const int error = ::pthread_sigmask(how, &*set, nullptr);
  if (error != 0) return Status::FromErrno(error, "sigprocmask how " + std::to_string(how));
  return Status::Ok();
}

Result<int> LinuxKernel::SignalFd(const std::vector<int>& signals) {
  Result<sigset_t> set = SignalSet(signals, "signalfd");
  if (!set.ok()) return set.status();
  const int fd = ::signalfd(-1, &*set, SFD_CLOEXEC | SFD_NONBLOCK);
  if (fd < 0) return Status::FromErrno(errno, "signalfd");
  return fd;
}

Result<SignalInfo> LinuxKernel::ReadSignal(int signal_fd) {
  struct signalfd_siginfo info;
  const ssize_t count = RetryOnEintr([&] { return ::read(signal_fd, &info, sizeof(info)); });
  if (count < 0) return Status::FromErrno(errno, "read signalfd " + FdName(signal_fd));
  if (static_cast<size_t>(count) != sizeof(info)) {
    return Status(reaper::Code::kInternal,
                  "read signalfd " + FdName(signal_fd) + ": short read of " +
                      std::to_string(count) + " bytes");
  }
  SignalInfo signal;
  signal.signal = static_cast<int>(info.ssi_signo);
  signal.pid = static_cast<pid_t>(info.ssi_pid);
  return signal;
}

Status LinuxKernel::SetSignalIgnored(int signal, bool ignore) {
  struct sigaction action;
  std::memset(&action, 0, sizeof(action));
  action.sa_handler = ignore ? SIG_IGN : SIG_DFL;
  sigemptyset(&action.sa_mask);
  if (::sigaction(signal, &action, nullptr) != 0) {
    return Status::FromErrno(errno, "sigaction signal " + std::to_string(signal));
  }
  return Status::Ok();
}

Status LinuxKernel::ResetSignalDispositions() {
  struct sigaction action;
  std::memset(&action, 0, sizeof(action));
  action.sa_handler = SIG_DFL;
  sigemptyset(&action.sa_mask);
  for (int signal = 1; signal < NSIG; ++signal) {
    if (signal == SIGKILL || signal == SIGSTOP) continue;
    // glibc reserves two real-time signals for itself and rejects them with
    // EINVAL; they are left as they are.
    if (::sigaction(signal, &action, nullptr) != 0 && errno != EINVAL) {
      return Status::FromErrno(errno, "sigaction signal " + std::to_string(signal));
    }
  }
  return Status::Ok();
}

// ---- Processes --------------------------------------------------------------

Result<pid_t> LinuxKernel::Fork() {
  const pid_t pid = ::fork();
  if (pid < 0) return Status::FromErrno(errno, "fork");
  return pid;
}

Status LinuxKernel::Execve(const std::string& path, const std::vector<std::string>& argv,
                           const std::vector<std::string>& envp) {
  char* inline_argv[kInlineExecveArguments + 1];
  char* inline_envp[kInlineExecveArguments + 1];
  std::vector<char*> overflow_argv;
  std::vector<char*> overflow_envp;
  char** argv_array = ExecveArray(argv, inline_argv, &overflow_argv);
  char** envp_array = ExecveArray(envp, inline_envp, &overflow_envp);
  ::execve(path.c_str(), argv_array, envp_array);
  return Status::FromErrno(errno, "execve " + path);
}

void LinuxKernel::Exit(int code) { ::_exit(code); }

Result<WaitResult> LinuxKernel::Wait(pid_t pid, int options) {
  int status = 0;
  const pid_t changed = RetryOnEintr([&] { return ::wait4(pid, &status, options, nullptr); });
  if (changed < 0) {
    return Status::FromErrno(errno, pid == -1 ? std::string("wait4 any child")
                                              : "wait4 pid " + std::to_string(pid));
  }
  WaitResult result;
  result.pid = changed;
  result.status = status;
  return result;
}

Status LinuxKernel::Kill(pid_t pid, int signal) {
  if (::kill(pid, signal) != 0) {
    const std::string target = pid < 0 ? "process group " + std::to_string(-pid)
                                       : "pid " + std::to_string(pid);
    return Status::FromErrno(errno, "kill " + target + " with signal " + std::to_string(signal));
  }
  return Status::Ok();
}

pid_t LinuxKernel::GetPid() { return ::getpid(); }

pid_t LinuxKernel::GetParentPid() { return ::getppid(); }

Result<pid_t> LinuxKernel::SetSid() {
  const pid_t sid = ::setsid();
  if (sid < 0) return Status::FromErrno(errno, "setsid");
  return sid;
}

Status LinuxKernel::SetPgid(pid_t pid, pid_t pgid) {
  if (::setpgid(pid, pgid) != 0) {
    return Status::FromErrno(errno, "setpgid pid " + std::to_string(pid) + " to " +
                                        std::to_string(pgid));
  }
  return Status::Ok();
}

Result<pid_t> LinuxKernel::GetPgid(pid_t pid) {
  const pid_t pgid = ::getpgid(pid);
  if (pgid < 0) return Status::FromErrno(errno, "getpgid pid " + std::to_string(pid));
  return pgid;
}

Status LinuxKernel::SetChildSubreaper() {
  if (::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) {
    return Status::FromErrno(errno, "prctl PR_SET_CHILD_SUBREAPER");
  }
  return Status::Ok();
}

Status LinuxKernel::SetParentDeathSignal(int signal) {
  if (::prctl(PR_SET_PDEATHSIG, static_cast<unsigned long>(signal), 0, 0, 0) != 0) {
    return Status::FromErrno(errno, "prctl PR_SET_PDEATHSIG signal " + std::to_string(signal));
  }
  return Status::Ok();
}

Status LinuxKernel::SetIdentity(uid_t uid, gid_t gid, const std::vector<gid_t>& groups) {
  // Groups and gid first: once the uid is no longer 0 they cannot change.
  if (::setgroups(groups.size(), groups.data()) != 0) {
    return Status::FromErrno(errno, "setgroups (" + std::to_string(groups.size()) + " groups)");
  }
  if (::setresgid(gid, gid, gid) != 0) {
    return Status::FromErrno(errno, "setresgid " + std::to_string(gid));
  }
  if (::setresuid(uid, uid, uid) != 0) {
    return Status::FromErrno(errno, "setresuid " + std::to_string(uid));
  }
  return Status::Ok();
}

uid_t LinuxKernel::GetEffectiveUid() { return ::geteuid(); }

// ---- Namespaces and mounts --------------------------------------------------

Status LinuxKernel::Unshare(int flags) {
  if (::unshare(flags) != 0) return Status::FromErrno(errno, "unshare flags " + Hex(flags));
  return Status::Ok();
}

Status LinuxKernel::Setns(int fd, int nstype) {
  if (::setns(fd, nstype) != 0) {
    return Status::FromErrno(errno, "setns " + FdName(fd) + " type " + Hex(nstype));
  }
  return Status::Ok();
}

Status LinuxKernel::Mount(const std::string& source, const std::string& target,
                          const std::string& fstype, unsigned long flags,
                          const std::string& data) {
  const int result = ::mount(source.empty() ? nullptr : source.c_str(), target.c_str(),
                             fstype.empty() ? nullptr : fstype.c_str(), flags,
                             data.empty() ? nullptr : data.c_str());
  if (result != 0) return Status::FromErrno(errno, DescribeMount(source, target, fstype, flags));
  return Status::Ok();
}

Status LinuxKernel::Unmount(const std::string& target, int flags) {
  if (::umount2(target.c_str(), flags) != 0) return Status::FromErrno(errno, "unmount " + target);
  return Status::Ok();
}

Status LinuxKernel::PivotRoot(const std::string& new_root, const std::string& put_old) {
  // glibc has no wrapper for pivot_root(2).
  if (::syscall(SYS_pivot_root, new_root.c_str(), put_old.c_str()) != 0) {
    return Status::FromErrno(errno, "pivot_root to " + new_root + " (old root on " + put_old + ")");
  }
  return Status::Ok();
}

// ---- Time -------------------------------------------------------------------

Timespec LinuxKernel::Now() {
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  return Timespec{static_cast<int64_t>(now.tv_sec), static_cast<int32_t>(now.tv_nsec)};
}

Timespec LinuxKernel::MonotonicNow() {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return Timespec{static_cast<int64_t>(now.tv_sec), static_cast<int32_t>(now.tv_nsec)};
}

}  // namespace sys
