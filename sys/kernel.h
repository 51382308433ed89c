// sys::Kernel: the one boundary between Reaper and the operating system.
//
// Every system call Reaper makes goes through this interface. Only the two
// main()s and the root tests build the Linux implementation
// (sys/linux_kernel.h). Everything else receives a Kernel&, so it can be
// unit-tested on the fake kernel in fakes/, which models processes, fds,
// files, mount namespaces and a clock.
//
// Conventions:
// - Methods mirror the Linux calls of the same name, with the same flags
//   (O_*, MS_*, CLONE_*, SIG*, WNOHANG...). The man page of the call is the
//   contract; comments below add only what differs or what callers rely on.
// - A failure returns a Status whose error_number() is the errno and whose
//   message names the call and its main argument ("mount overlay on /x: ...").
// - EINTR is retried inside the implementation, never returned.
// - fds returned are owned by the caller. Reaper opens every fd with
//   O_CLOEXEC (or SOCK_CLOEXEC, EPOLL_CLOEXEC...) unless it is meant to be
//   inherited across exec; the fake checks this.
//
// Thread-safety: the Linux implementation is stateless and thread-safe. The
// fake is not; tests drive it from one thread.
#ifndef REAPER_SYS_KERNEL_H_
#define REAPER_SYS_KERNEL_H_

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace sys {

using reaper::Result;
using reaper::Status;

// A point in time, as clock_gettime returns it.
struct Timespec {
  int64_t seconds = 0;
  int32_t nanos = 0;
};

// The part of struct stat that Reaper uses.
struct FileInfo {
  enum class Type { kRegular, kDirectory, kSymlink, kFifo, kSocket, kCharDevice, kBlockDevice, kOther };
  Type type = Type::kOther;
  uint32_t mode = 0;  // permission bits only (mode & 07777)
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint64_t size = 0;
  uint64_t device = 0;  // st_dev
  uint64_t inode = 0;   // st_ino
};

// A child state change, as wait4 reports it.
struct WaitResult {
  pid_t pid = 0;    // 0 when WNOHANG was given and no child changed state
  int status = 0;   // raw wait status: use WIFEXITED, WEXITSTATUS, WTERMSIG...
};

// Socket and epoll constants with their Linux values, for code outside sys/,
// which may not include <sys/socket.h> or <sys/epoll.h>. The unit test
// tests/unit/event_loop_test.cc checks them against those headers.
inline constexpr int kSockStream = 1;             // SOCK_STREAM
inline constexpr int kSockNonblock = 04000;       // SOCK_NONBLOCK, equal to O_NONBLOCK
inline constexpr int kSockCloexec = 02000000;     // SOCK_CLOEXEC, equal to O_CLOEXEC
inline constexpr int kShutWrite = 1;              // SHUT_WR
inline constexpr int kShutReadWrite = 2;          // SHUT_RDWR
inline constexpr int kEpollCtlAdd = 1;            // EPOLL_CTL_ADD
inline constexpr int kEpollCtlDel = 2;            // EPOLL_CTL_DEL
inline constexpr int kEpollCtlMod = 3;            // EPOLL_CTL_MOD
inline constexpr uint32_t kEpollIn = 0x001;       // EPOLLIN
inline constexpr uint32_t kEpollOut = 0x004;      // EPOLLOUT
inline constexpr uint32_t kEpollErr = 0x008;      // EPOLLERR
inline constexpr uint32_t kEpollHup = 0x010;      // EPOLLHUP
inline constexpr uint32_t kEpollRdHup = 0x2000;   // EPOLLRDHUP

// MNT_DETACH for Kernel::Unmount, which code outside sys/ cannot take from
// <sys/mount.h>; the MS_* mount flags come from <linux/mount.h>.
inline constexpr int kUnmountDetach = 2;  // MNT_DETACH

struct EpollEvent {
  uint32_t events = 0;  // EPOLLIN, EPOLLOUT, EPOLLHUP, EPOLLERR...
  uint64_t data = 0;    // the value given to EpollCtl
};

// The fields of a signalfd_siginfo record that Reaper uses.
struct SignalInfo {
  int signal = 0;
  pid_t pid = 0;  // ssi_pid
};

struct PeerCredentials {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
};

class Kernel {
 public:
  virtual ~Kernel() = default;

  // ---- Files and fds ------------------------------------------------------

  virtual Result<int> Open(const std::string& path, int flags, mode_t mode = 0) = 0;
  virtual Status Close(int fd) = 0;
  // Returns the number of bytes read; 0 means end of file. EAGAIN is returned
  // as an error (code Unavailable) for non-blocking fds.
  virtual Result<size_t> Read(int fd, void* buffer, size_t size) = 0;
  // Returns the number of bytes written, which may be short.
  virtual Result<size_t> Write(int fd, const void* data, size_t size) = 0;
  // pipe2(); returns {read end, write end}.
  virtual Result<std::pair<int, int>> Pipe(int flags) = 0;
  // dup3() when flags != 0 or old != new, dup2() semantics otherwise.
  virtual Result<int> Dup3(int old_fd, int new_fd, int flags) = 0;
  // fcntl() with an integer argument (F_GETFD, F_SETFD, F_GETFL, F_SETFL,
  // F_DUPFD_CLOEXEC). Returns fcntl's result.
  virtual Result<int> Fcntl(int fd, int command, int argument) = 0;
  // flock(); LOCK_EX without LOCK_NB blocks until the lock is taken.
  virtual Status Flock(int fd, int operation) = 0;
  // ioctl(FIONREAD): bytes waiting to be read in a pipe, FIFO or socket.
  virtual Result<int> BytesReadable(int fd) = 0;

  virtual Result<FileInfo> Stat(const std::string& path) = 0;
  virtual Result<FileInfo> Lstat(const std::string& path) = 0;
  virtual Result<FileInfo> Fstat(int fd) = 0;
  // statfs() f_type, to tell an nsfs or overlay file system apart.
  virtual Result<int64_t> FilesystemType(const std::string& path) = 0;
  virtual Status Mkdir(const std::string& path, mode_t mode) = 0;
  virtual Status Mkfifo(const std::string& path, mode_t mode) = 0;
  virtual Status Unlink(const std::string& path) = 0;
  virtual Status Rmdir(const std::string& path) = 0;
  virtual Status Rename(const std::string& from, const std::string& to) = 0;
  virtual Status Symlink(const std::string& target, const std::string& link_path) = 0;
  virtual Result<std::string> Readlink(const std::string& path) = 0;
  virtual Status Chmod(const std::string& path, mode_t mode) = 0;
  virtual Status Chown(const std::string& path, uid_t uid, gid_t gid) = 0;
  // Names of the entries of a directory, without "." and "..", unsorted.
  virtual Result<std::vector<std::string>> ListDirectory(const std::string& path) = 0;
  // access(); mode is F_OK, X_OK...
  virtual Status Access(const std::string& path, int mode) = 0;
  virtual mode_t Umask(mode_t mask) = 0;
  virtual Status Chdir(const std::string& path) = 0;
  virtual Result<std::string> Getcwd() = 0;

  // ---- Unix sockets -------------------------------------------------------

  // socket(AF_UNIX, type, 0); type may carry SOCK_CLOEXEC and SOCK_NONBLOCK.
  virtual Result<int> UnixSocket(int type) = 0;
  // A path starting with '\0' is an abstract address.
  virtual Status Bind(int fd, const std::string& path) = 0;
  virtual Status Listen(int fd, int backlog) = 0;
  virtual Result<int> Accept(int fd, int flags) = 0;
  virtual Status Connect(int fd, const std::string& path) = 0;
  virtual Result<PeerCredentials> PeerCredentialsOf(int fd) = 0;
  // shutdown(); how is SHUT_RD, SHUT_WR or SHUT_RDWR.
  virtual Status Shutdown(int fd, int how) = 0;

  // ---- Readiness and signals ---------------------------------------------

  virtual Result<int> EpollCreate() = 0;  // always EPOLL_CLOEXEC
  // op is EPOLL_CTL_ADD, EPOLL_CTL_MOD or EPOLL_CTL_DEL.
  virtual Status EpollCtl(int epoll_fd, int op, int fd, uint32_t events, uint64_t data) = 0;
  // timeout_ms < 0 waits forever. Returns the ready events (possibly none on
  // timeout).
  virtual Result<std::vector<EpollEvent>> EpollWait(int epoll_fd, int max_events,
                                                     int timeout_ms) = 0;
  // sigprocmask(); `signals` lists signal numbers. how is SIG_BLOCK,
  // SIG_UNBLOCK or SIG_SETMASK. An empty list with SIG_SETMASK unblocks all.
  virtual Status SetSignalMask(int how, const std::vector<int>& signals) = 0;
  // A signalfd (SFD_CLOEXEC | SFD_NONBLOCK) for the given signals.
  virtual Result<int> SignalFd(const std::vector<int>& signals) = 0;
  // Reads one pending signal; Unavailable (EAGAIN) when none is pending.
  virtual Result<SignalInfo> ReadSignal(int signal_fd) = 0;
  // Sets a signal's disposition to SIG_DFL (ignore == false) or SIG_IGN.
  virtual Status SetSignalIgnored(int signal, bool ignore) = 0;
  // Resets every catchable signal to SIG_DFL, as a freshly exec'd workload
  // expects.
  virtual Status ResetSignalDispositions() = 0;

  // ---- Processes ----------------------------------------------------------

  // fork(): returns 0 in the child and the child's pid in the parent. In a
  // multi-threaded caller the child may only make async-signal-safe calls
  // (the Linux implementation's methods used between Fork and Execve are).
  virtual Result<pid_t> Fork() = 0;
  // execve(); returns only on failure.
  virtual Status Execve(const std::string& path, const std::vector<std::string>& argv,
                        const std::vector<std::string>& envp) = 0;
  // _exit(); never returns.
  [[noreturn]] virtual void Exit(int code) = 0;
  // wait4(pid, ..., options); pid -1 means any child.
  virtual Result<WaitResult> Wait(pid_t pid, int options) = 0;
  // kill(); a negative pid signals a process group. Signal 0 probes.
  virtual Status Kill(pid_t pid, int signal) = 0;
  virtual pid_t GetPid() = 0;
  virtual pid_t GetParentPid() = 0;
  virtual Result<pid_t> SetSid() = 0;
  virtual Status SetPgid(pid_t pid, pid_t pgid) = 0;
  virtual Result<pid_t> GetPgid(pid_t pid) = 0;
  // prctl(PR_SET_CHILD_SUBREAPER, 1).
  virtual Status SetChildSubreaper() = 0;
  // prctl(PR_SET_PDEATHSIG, signal).
  virtual Status SetParentDeathSignal(int signal) = 0;
  // setgroups(), setresgid(), setresuid(), in that order.
  virtual Status SetIdentity(uid_t uid, gid_t gid, const std::vector<gid_t>& groups) = 0;
  virtual uid_t GetEffectiveUid() = 0;

  // ---- Namespaces and mounts ---------------------------------------------

  virtual Status Unshare(int flags) = 0;
  // setns(); nstype is CLONE_NEWNS etc. or 0.
  virtual Status Setns(int fd, int nstype) = 0;
  virtual Status Mount(const std::string& source, const std::string& target,
                       const std::string& fstype, unsigned long flags,
                       const std::string& data) = 0;
  // umount2(); flags is 0 or kUnmountDetach (MNT_DETACH).
  virtual Status Unmount(const std::string& target, int flags) = 0;
  virtual Status PivotRoot(const std::string& new_root, const std::string& put_old) = 0;

  // ---- Time ---------------------------------------------------------------

  // CLOCK_REALTIME, for timestamps that go to containerd.
  virtual Timespec Now() = 0;
  // CLOCK_MONOTONIC, for deadlines.
  virtual Timespec MonotonicNow() = 0;
};

}  // namespace sys

#endif  // REAPER_SYS_KERNEL_H_
