// fakes::MockKernel: a GoogleMock sys::Kernel for tests whose contract is an
// order of calls (setns before mount, SIGTERM before SIGKILL). Tests that
// check resulting state use fakes::FakeKernel instead.
//
// Every method that returns a Status or Result fails by default with
// Unimplemented ("mock kernel: Mount has no expectation"), so a call that a
// test did not plan for never quietly succeeds. GetPid, GetParentPid,
// GetEffectiveUid and Umask return 0 and Now/MonotonicNow return the epoch
// unless the test sets them.
//
// Exit cannot return, so it calls the mockable ExitCalled(code) and then
// throws MockKernel::Exited, which the test catches (EXPECT_THROW).
//
// Thread-safety: as GoogleMock mocks are: expectations are set before the
// code under test runs.
#ifndef REAPER_FAKES_MOCK_KERNEL_H_
#define REAPER_FAKES_MOCK_KERNEL_H_

#include <gmock/gmock.h>

#include <string>
#include <utility>
#include <vector>

#include "sys/kernel.h"

namespace fakes {

class MockKernel : public sys::Kernel {
 public:
  // Thrown by Exit() after ExitCalled(code).
  struct Exited {
    int code;
  };

  MockKernel() { SetDefaultFailures(); }

  // ---- Files and fds ----
  MOCK_METHOD(sys::Result<int>, Open, (const std::string& path, int flags, mode_t mode),
              (override));
  MOCK_METHOD(sys::Status, Close, (int fd), (override));
  MOCK_METHOD(sys::Result<size_t>, Read, (int fd, void* buffer, size_t size), (override));
  MOCK_METHOD(sys::Result<size_t>, Write, (int fd, const void* data, size_t size), (override));
  MOCK_METHOD((sys::Result<std::pair<int, int>>), Pipe, (int flags), (override));
  MOCK_METHOD(sys::Result<int>, Dup3, (int old_fd, int new_fd, int flags), (override));
  MOCK_METHOD(sys::Result<int>, Fcntl, (int fd, int command, int argument), (override));
  MOCK_METHOD(sys::Status, Flock, (int fd, int operation), (override));
  MOCK_METHOD(sys::Result<int>, BytesReadable, (int fd), (override));
  MOCK_METHOD(sys::Result<sys::FileInfo>, Stat, (const std::string& path), (override));
  MOCK_METHOD(sys::Result<sys::FileInfo>, Lstat, (const std::string& path), (override));
  MOCK_METHOD(sys::Result<sys::FileInfo>, Fstat, (int fd), (override));
  MOCK_METHOD(sys::Result<int64_t>, FilesystemType, (const std::string& path), (override));
  MOCK_METHOD(sys::Status, Mkdir, (const std::string& path, mode_t mode), (override));
  MOCK_METHOD(sys::Status, Mkfifo, (const std::string& path, mode_t mode), (override));
  MOCK_METHOD(sys::Status, Unlink, (const std::string& path), (override));
  MOCK_METHOD(sys::Status, Rmdir, (const std::string& path), (override));
  MOCK_METHOD(sys::Status, Rename, (const std::string& from, const std::string& to),
              (override));
  MOCK_METHOD(sys::Status, Symlink, (const std::string& target, const std::string& link_path),
              (override));
  MOCK_METHOD(sys::Result<std::string>, Readlink, (const std::string& path), (override));
  MOCK_METHOD(sys::Status, Chmod, (const std::string& path, mode_t mode), (override));
  MOCK_METHOD(sys::Status, Chown, (const std::string& path, uid_t uid, gid_t gid), (override));
  MOCK_METHOD(sys::Result<std::vector<std::string>>, ListDirectory, (const std::string& path),
              (override));
  MOCK_METHOD(sys::Status, Access, (const std::string& path, int mode), (override));
  MOCK_METHOD(mode_t, Umask, (mode_t mask), (override));
  MOCK_METHOD(sys::Status, Chdir, (const std::string& path), (override));
  MOCK_METHOD(sys::Result<std::string>, Getcwd, (), (override));

  // ---- Unix sockets ----
  MOCK_METHOD(sys::Result<int>, UnixSocket, (int type), (override));
  MOCK_METHOD(sys::Status, Bind, (int fd, const std::string& path), (override));
  MOCK_METHOD(sys::Status, Listen, (int fd, int backlog), (override));
  MOCK_METHOD(sys::Result<int>, Accept, (int fd, int flags), (override));
  MOCK_METHOD(sys::Status, Connect, (int fd, const std::string& path), (override));
  MOCK_METHOD(sys::Result<sys::PeerCredentials>, PeerCredentialsOf, (int fd), (override));
  MOCK_METHOD(sys::Status, Shutdown, (int fd, int how), (override));

  // ---- Readiness and signals ----
  MOCK_METHOD(sys::Result<int>, EpollCreate, (), (override));
  MOCK_METHOD(sys::Status, EpollCtl,
              (int epoll_fd, int op, int fd, uint32_t events, uint64_t data), (override));
  MOCK_METHOD(sys::Result<std::vector<sys::EpollEvent>>, EpollWait,
              (int epoll_fd, int max_events, int timeout_ms), (override));
  MOCK_METHOD(sys::Status, SetSignalMask, (int how, const std::vector<int>& signals),
              (override));
  MOCK_METHOD(sys::Result<int>, SignalFd, (const std::vector<int>& signals), (override));
  MOCK_METHOD(sys::Result<sys::SignalInfo>, ReadSignal, (int signal_fd), (override));
  MOCK_METHOD(sys::Status, SetSignalIgnored, (int signal, bool ignore), (override));
  MOCK_METHOD(sys::Status, ResetSignalDispositions, (), (override));

  // ---- Processes ----
  MOCK_METHOD(sys::Result<pid_t>, Fork, (), (override));
  MOCK_METHOD(sys::Status, Execve,
              (const std::string& path, const std::vector<std::string>& argv,
               const std::vector<std::string>& envp),
              (override));
  // The mockable half of Exit().
  MOCK_METHOD(void, ExitCalled, (int code));
  [[noreturn]] void Exit(int code) override {
    ExitCalled(code);
    throw Exited{code};
  }
  MOCK_METHOD(sys::Result<sys::WaitResult>, Wait, (pid_t pid, int options), (override));
  MOCK_METHOD(sys::Status, Kill, (pid_t pid, int signal), (override));
  MOCK_METHOD(pid_t, GetPid, (), (override));
  MOCK_METHOD(pid_t, GetParentPid, (), (override));
  MOCK_METHOD(sys::Result<pid_t>, SetSid, (), (override));
  MOCK_METHOD(sys::Status, SetPgid, (pid_t pid, pid_t pgid), (override));
  MOCK_METHOD(sys::Result<pid_t>, GetPgid, (pid_t pid), (override));
  MOCK_METHOD(sys::Status, SetChildSubreaper, (), (override));
  MOCK_METHOD(sys::Status, SetParentDeathSignal, (int signal), (override));
  MOCK_METHOD(sys::Status, SetIdentity,
              (uid_t uid, gid_t gid, const std::vector<gid_t>& groups), (override));
  MOCK_METHOD(uid_t, GetEffectiveUid, (), (override));

  // ---- Namespaces and mounts ----
  MOCK_METHOD(sys::Status, Unshare, (int flags), (override));
  MOCK_METHOD(sys::Status, Setns, (int fd, int nstype), (override));
  MOCK_METHOD(sys::Status, Mount,
              (const std::string& source, const std::string& target, const std::string& fstype,
               unsigned long flags, const std::string& data),
              (override));
  MOCK_METHOD(sys::Status, Unmount, (const std::string& target, int flags), (override));
  MOCK_METHOD(sys::Status, PivotRoot, (const std::string& new_root, const std::string& put_old),
              (override));

  // ---- Time ----
  MOCK_METHOD(sys::Timespec, Now, (), (override));
  MOCK_METHOD(sys::Timespec, MonotonicNow, (), (override));

 private:
  static sys::Status Unplanned(const char* method) {
    return sys::Status(reaper::Code::kUnimplemented,
                       std::string("mock kernel: ") + method + " has no expectation");
  }

  void SetDefaultFailures() {
    using ::testing::Return;
    ON_CALL(*this, Open).WillByDefault(Return(Unplanned("Open")));
    ON_CALL(*this, Close).WillByDefault(Return(Unplanned("Close")));
    ON_CALL(*this, Read).WillByDefault(Return(Unplanned("Read")));
    ON_CALL(*this, Write).WillByDefault(Return(Unplanned("Write")));
    ON_CALL(*this, Pipe).WillByDefault(Return(Unplanned("Pipe")));
    ON_CALL(*this, Dup3).WillByDefault(Return(Unplanned("Dup3")));
    ON_CALL(*this, Fcntl).WillByDefault(Return(Unplanned("Fcntl")));
    ON_CALL(*this, Flock).WillByDefault(Return(Unplanned("Flock")));
    ON_CALL(*this, BytesReadable).WillByDefault(Return(Unplanned("BytesReadable")));

    ON_CALL(*this, Stat).WillByDefault(Return(Unplanned("Stat")));
    ON_CALL(*this, Lstat).WillByDefault(Return(Unplanned("Lstat")));
    ON_CALL(*this, Fstat).WillByDefault(Return(Unplanned("Fstat")));
    ON_CALL(*this, FilesystemType).WillByDefault(Return(Unplanned("FilesystemType")));
    ON_CALL(*this, Mkdir).WillByDefault(Return(Unplanned("Mkdir")));
    ON_CALL(*this, Mkfifo).WillByDefault(Return(Unplanned("Mkfifo")));
    ON_CALL(*this, Unlink).WillByDefault(Return(Unplanned("Unlink")));
    ON_CALL(*this, Rmdir).WillByDefault(Return(Unplanned("Rmdir")));
    ON_CALL(*this, Rename).WillByDefault(Return(Unplanned("Rename")));
    ON_CALL(*this, Symlink).WillByDefault(Return(Unplanned("Symlink")));
    ON_CALL(*this, Readlink).WillByDefault(Return(Unplanned("Readlink")));
    ON_CALL(*this, Chmod).WillByDefault(Return(Unplanned("Chmod")));
    ON_CALL(*this, Chown).WillByDefault(Return(Unplanned("Chown")));
    ON_CALL(*this, ListDirectory).WillByDefault(Return(Unplanned("ListDirectory")));
    ON_CALL(*this, Access).WillByDefault(Return(Unplanned("Access")));
    ON_CALL(*this, Chdir).WillByDefault(Return(Unplanned("Chdir")));
    ON_CALL(*this, Getcwd).WillByDefault(Return(Unplanned("Getcwd")));

    ON_CALL(*this, UnixSocket).WillByDefault(Return(Unplanned("UnixSocket")));
    ON_CALL(*this, Bind).WillByDefault(Return(Unplanned("Bind")));
    ON_CALL(*this, Listen).WillByDefault(Return(Unplanned("Listen")));
    ON_CALL(*this, Accept).WillByDefault(Return(Unplanned("Accept")));
    ON_CALL(*this, Connect).WillByDefault(Return(Unplanned("Connect")));
    ON_CALL(*this, PeerCredentialsOf).WillByDefault(Return(Unplanned("PeerCredentialsOf")));
    ON_CALL(*this, Shutdown).WillByDefault(Return(Unplanned("Shutdown")));

    ON_CALL(*this, EpollCreate).WillByDefault(Return(Unplanned("EpollCreate")));
    ON_CALL(*this, EpollCtl).WillByDefault(Return(Unplanned("EpollCtl")));
    ON_CALL(*this, EpollWait).WillByDefault(Return(Unplanned("EpollWait")));
    ON_CALL(*this, SetSignalMask).WillByDefault(Return(Unplanned("SetSignalMask")));
    ON_CALL(*this, SignalFd).WillByDefault(Return(Unplanned("SignalFd")));
    ON_CALL(*this, ReadSignal).WillByDefault(Return(Unplanned("ReadSignal")));
    ON_CALL(*this, SetSignalIgnored).WillByDefault(Return(Unplanned("SetSignalIgnored")));
    ON_CALL(*this, ResetSignalDispositions)
        .WillByDefault(Return(Unplanned("ResetSignalDispositions")));

    ON_CALL(*this, Fork).WillByDefault(Return(Unplanned("Fork")));
    ON_CALL(*this, Execve).WillByDefault(Return(Unplanned("Execve")));
    ON_CALL(*this, Wait).WillByDefault(Return(Unplanned("Wait")));
    ON_CALL(*this, Kill).WillByDefault(Return(Unplanned("Kill")));
    ON_CALL(*this, SetSid).WillByDefault(Return(Unplanned("SetSid")));
    ON_CALL(*this, SetPgid).WillByDefault(Return(Unplanned("SetPgid")));
    ON_CALL(*this, GetPgid).WillByDefault(Return(Unplanned("GetPgid")));
    ON_CALL(*this, SetChildSubreaper).WillByDefault(Return(Unplanned("SetChildSubreaper")));
    ON_CALL(*this, SetParentDeathSignal).WillByDefault(Return(Unplanned("SetParentDeathSignal")));
    ON_CALL(*this, SetIdentity).WillByDefault(Return(Unplanned("SetIdentity")));

    ON_CALL(*this, Unshare).WillByDefault(Return(Unplanned("Unshare")));
    ON_CALL(*this, Setns).WillByDefault(Return(Unplanned("Setns")));
    ON_CALL(*this, Mount).WillByDefault(Return(Unplanned("Mount")));
    ON_CALL(*this, Unmount).WillByDefault(Return(Unplanned("Unmount")));
    ON_CALL(*this, PivotRoot).WillByDefault(Return(Unplanned("PivotRoot")));
  }
};

}  // namespace fakes

#endif  // REAPER_FAKES_MOCK_KERNEL_H_
