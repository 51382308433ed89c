// sys::LinuxKernel: sys::Kernel on the real Linux system calls.
//
// Each method is one system call (or a short fixed sequence, such as
// SetIdentity), retried on EINTR, with failures turned into a Status by
// Status::FromErrno and a message naming the call and its main argument
// ("open /run/x: No such file or directory").
//
// Only the two main()s and the root tests build one; everything else takes a
// sys::Kernel&.
//
// Async-signal-safety: between Fork and Execve a child of a multi-threaded
// parent may only make async-signal-safe calls. Dup3, Close, Setns, Chdir,
// SetIdentity, SetSignalMask, SetSignalIgnored, ResetSignalDispositions,
// SetParentDeathSignal, SetSid, Exit and Execve do not allocate on their
// success path (Execve allocates only for more than kInlineExecveArguments
// argv or envp entries). Their failure path allocates the message string.
// glibc makes malloc usable in a forked child, so the child can still report
// the error before it exits.
//
// Thread-safety: stateless; every method may be called from any thread.
#ifndef REAPER_SYS_LINUX_KERNEL_H_
#define REAPER_SYS_LINUX_KERNEL_H_

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "sys/kernel.h"

namespace sys {

class LinuxKernel : public Kernel {
 public:
  // Execve builds its argv and envp pointer arrays on the stack up to this
  // many entries each, and in a std::vector beyond.
  static constexpr size_t kInlineExecveArguments = 256;

  LinuxKernel() = default;
  LinuxKernel(const LinuxKernel&) = delete;
  LinuxKernel& operator=(const LinuxKernel&) = delete;

  // Files and fds.
  Result<int> Open(const std::string& path, int flags, mode_t mode = 0) override;
  // close() is not retried on EINTR: Linux has already released the fd, and
  // a retry could close an fd that another thread has just been given.
  Status Close(int fd) override;
  Result<size_t> Read(int fd, void* buffer, size_t size) override;
  Result<size_t> Write(int fd, const void* data, size_t size) override;
  Result<std::pair<int, int>> Pipe(int flags) override;
  Result<int> Dup3(int old_fd, int new_fd, int flags) override;
  Result<int> Fcntl(int fd, int command, int argument) override;
  Status Flock(int fd, int operation) override;
  Result<int> BytesReadable(int fd) override;
  Result<FileInfo> Stat(const std::string& path) override;
  Result<FileInfo> Lstat(const std::string& path) override;
  Result<FileInfo> Fstat(int fd) override;
  Result<int64_t> FilesystemType(const std::string& path) override;
  Status Mkdir(const std::string& path, mode_t mode) override;
  Status Mkfifo(const std::string& path, mode_t mode) override;
  Status Unlink(const std::string& path) override;
  Status Rmdir(const std::string& path) override;
  Status Rename(const std::string& from, const std::string& to) override;
  Status Symlink(const std::string& target, const std::string& link_path) override;
  Result<std::string> Readlink(const std::string& path) override;
  Status Chmod(const std::string& path, mode_t mode) override;
  Status Chown(const std::string& path, uid_t uid, gid_t gid) override;
  Result<std::vector<std::string>> ListDirectory(const std::string& path) override;
  Status Access(const std::string& path, int mode) override;
  mode_t Umask(mode_t mask) override;
  Status Chdir(const std::string& path) override;
  Result<std::string> Getcwd() override;

  // Unix sockets. Bind and Connect reject a path that does not fit in
  // sockaddr_un.sun_path with InvalidArgument (ENAMETOOLONG).
  Result<int> UnixSocket(int type) override;
  Status Bind(int fd, const std::string& path) override;
  Status Listen(int fd, int backlog) override;
  Result<int> Accept(int fd, int flags) override;
  Status Connect(int fd, const std::string& path) override;
  Result<PeerCredentials> PeerCredentialsOf(int fd) override;
  Status Shutdown(int fd, int how) override;

  // Readiness and signals.
  Result<int> EpollCreate() override;
  Status EpollCtl(int epoll_fd, int op, int fd, uint32_t events, uint64_t data) override;
  // An EINTR restarts the wait with the time that remains of timeout_ms.
  Result<std::vector<EpollEvent>> EpollWait(int epoll_fd, int max_events,
                                             int timeout_ms) override;
  Status SetSignalMask(int how, const std::vector<int>& signals) override;
  Result<int> SignalFd(const std::vector<int>& signals) override;
  Result<SignalInfo> ReadSignal(int signal_fd) override;
  Status SetSignalIgnored(int signal, bool ignore) override;
  Status ResetSignalDispositions() override;

  // Processes.
  Result<pid_t> Fork() override;
  Status Execve(const std::string& path, const std::vector<std::string>& argv,
                const std::vector<std::string>& envp) override;
  [[noreturn]] void Exit(int code) override;
  Result<WaitResult> Wait(pid_t pid, int options) override;
  Status Kill(pid_t pid, int signal) override;
  pid_t GetPid() override;
  pid_t GetParentPid() override;
  Result<pid_t> SetSid() override;
  Status SetPgid(pid_t pid, pid_t pgid) override;
  Result<pid_t> GetPgid(pid_t pid) override;
  Status SetChildSubreaper() override;
  Status SetParentDeathSignal(int signal) override;
  Status SetIdentity(uid_t uid, gid_t gid, const std::vector<gid_t>& groups) override;
  uid_t GetEffectiveUid() override;

  // Namespaces and mounts.
  Status Unshare(int flags) override;
  Status Setns(int fd, int nstype) override;
  Status Mount(const std::string& source, const std::string& target, const std::string& fstype,
               unsigned long flags, const std::string& data) override;
  Status Unmount(const std::string& target, int flags) override;
  Status PivotRoot(const std::string& new_root, const std::string& put_old) override;

  // Time.
  Timespec Now() override;
  Timespec MonotonicNow() override;
};

}  // namespace sys

#endif  // REAPER_SYS_LINUX_KERNEL_H_
