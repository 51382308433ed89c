// fakes::FakeKernel: an in-memory model of the part of Linux that Reaper
// uses, for rootless unit tests.
//
// It is a model, not a script: calls change state (a process table, fd
// tables, a file tree, mount namespaces with mount trees and propagation, a
// clock) and tests assert that state. What it does not model fails loudly:
// the call returns Unimplemented with "fake kernel: <what> is not modeled".
// A call that would block forever also records a test failure (ADD_FAILURE)
// and returns Unimplemented. Such calls are a blocking wait with no exited
// child, a read of an empty pipe that still has writers, a conflicting
// blocking flock and a blocking FIFO open with no peer. The fake never
// quietly succeeds.
//
// Processes. pid 1 is init: it reaps orphans at once and discards signals it
// has no handler for. The test runs as pid 100 (kTestPid), a root child of
// init with fds 0, 1 and 2 open on /dev/null, in the host mount namespace.
// Forked children get pids from 1000 up. Fork() returns the child's pid to
// the caller and never returns 0, because the child's code cannot run
// concurrently: the test runs it with RunAsChild(pid, body), where Exit()
// turns the child into a zombie and a successful Execve() records the program
// (both end `body` by throwing an internal exception that RunAsChild
// catches). Calling Exit() or a successful Execve() outside RunAsChild throws
// out of the test, which fails it.
//
// Files. One tree per filesystem. The host root is an "ext4" tree with /bin,
// /dev, /etc, /home, /proc, /root, /run, /sys, /tmp, /usr/bin, /var/lib.
// Paths are resolved as the current process sees them: through its mount
// namespace, following symlinks (at most 40), relative paths from its cwd.
// Permission bits are checked for non-root callers on open, exec and
// create/remove in a directory.
//
// Mount namespaces. The host namespace (host_mount_namespace()) starts with
// "/" (ext4), /proc (proc), /sys (sysfs), /dev (devtmpfs, holding /dev/null)
// and /run (tmpfs), each shared in its own peer group, as systemd sets up a
// host. Mounts form a tree per namespace as in Linux: stacking, MS_REC binds,
// propagation between peers and to slaves, lazy unmount of subtrees, and
// pivot_root. An overlay mount merges its layers (lookups go through upper
// then lowers; writes copy up into the upper directory; removals leave
// whiteouts) and, as in Linux, its lower layer does not show mounts below
// lowerdir. /proc provides self, <pid>/ns/mnt (an nsfs file), <pid>/fd (whose
// entries reopen the fd's file, as Linux's magic links do), <pid>/stat (the
// pid stands in for the start time: the fake never reuses pids) and
// <pid>/mountinfo. Open with O_PATH gives an fd that only names its file.
// Binding an nsfs file pins the namespace; as in Linux,
// binding a mount namespace that is not newer than the caller's (such as
// /proc/self/ns/mnt) fails with EINVAL.
//
// Signals. Each process has a mask, ignored and handled dispositions and a
// pending set. A signal that is blocked stays pending (standard signals do
// not queue twice) and is read through a signalfd; otherwise it is
// discarded (ignored, or default-ignore like SIGCHLD), recorded (handled) or
// kills the process (default action). A parent that ignores SIGCHLD has its
// children reaped at exit. Stop signals are not modeled.
//
// Not modeled: unix sockets, epoll, signals other than through signalfd, stop
// and continue, namespaces other than mount, user namespaces, MS_MOVE.
//
// Thread-safety: none; a test drives it from one thread.
#ifndef REAPER_FAKES_FAKE_KERNEL_H_
#define REAPER_FAKES_FAKE_KERNEL_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "sys/kernel.h"

namespace fakes {

class FakeKernel : public sys::Kernel {
 public:
  static constexpr pid_t kInitPid = 1;
  static constexpr pid_t kTestPid = 100;
  static constexpr pid_t kFirstChildPid = 1000;

  enum class ProcessState {
    kRunning,   // running the test's code or its original program
    kExecuted,  // replaced by a program through Execve
    kZombie,    // exited, waiting for its parent to reap it
  };

  // A snapshot of one process, for assertions.
  struct ProcessInfo {
    pid_t pid = 0;
    pid_t parent = 0;
    pid_t pgid = 0;
    pid_t sid = 0;
    uid_t uid = 0;
    gid_t gid = 0;
    std::vector<gid_t> groups;
    std::string cwd;
    int mount_namespace = 0;
    bool child_subreaper = false;
    int parent_death_signal = 0;
    ProcessState state = ProcessState::kRunning;
    // Set by the last successful Execve.
    std::string program;
    std::vector<std::string> argv;
    std::vector<std::string> env;
    // Raw wait status of a zombie (WIFEXITED, WTERMSIG... apply).
    int wait_status = 0;
  };

  enum class Propagation { kPrivate, kShared, kSlave, kUnbindable };

  // One line of a mount table, as /proc/<pid>/mountinfo would show it.
  struct MountEntry {
    int id = 0;
    int parent_id = 0;        // 0 for the namespace's root mount
    std::string source;       // as given to Mount ("overlay", "/a/b"...)
    std::string target;       // absolute, as seen from the namespace's root
    std::string root;         // the directory of the filesystem mounted ("/" unless a bind)
    std::string fstype;       // of the filesystem, also for binds
    unsigned long flags = 0;  // MS_* given at mount time, updated by remounts
    std::string data;
    bool read_only = false;
    Propagation propagation = Propagation::kPrivate;
    int peer_group = 0;    // when shared
    int master_group = 0;  // when a slave
  };

  FakeKernel();
  ~FakeKernel() override;
  FakeKernel(const FakeKernel&) = delete;
  FakeKernel& operator=(const FakeKernel&) = delete;

  // ---- sys::Kernel ----------------------------------------------------------

  sys::Result<int> Open(const std::string& path, int flags, mode_t mode = 0) override;
  sys::Status Close(int fd) override;
  sys::Result<size_t> Read(int fd, void* buffer, size_t size) override;
  sys::Result<size_t> Write(int fd, const void* data, size_t size) override;
  sys::Result<std::pair<int, int>> Pipe(int flags) override;
  sys::Result<int> Dup3(int old_fd, int new_fd, int flags) override;
  sys::Result<int> Fcntl(int fd, int command, int argument) override;
  sys::Status Flock(int fd, int operation) override;
  sys::Result<int> BytesReadable(int fd) override;
  sys::Result<sys::FileInfo> Stat(const std::string& path) override;
  sys::Result<sys::FileInfo> Lstat(const std::string& path) override;
  sys::Result<sys::FileInfo> Fstat(int fd) override;
  sys::Result<int64_t> FilesystemType(const std::string& path) override;
  sys::Status Mkdir(const std::string& path, mode_t mode) override;
  sys::Status Mkfifo(const std::string& path, mode_t mode) override;
  sys::Status Unlink(const std::string& path) override;
  sys::Status Rmdir(const std::string& path) override;
  sys::Status Rename(const std::string& from, const std::string& to) override;
  sys::Status Symlink(const std::string& target, const std::string& link_path) override;
  sys::Result<std::string> Readlink(const std::string& path) override;
  sys::Status Chmod(const std::string& path, mode_t mode) override;
  sys::Status Chown(const std::string& path, uid_t uid, gid_t gid) override;
  sys::Result<std::vector<std::string>> ListDirectory(const std::string& path) override;
  sys::Status Access(const std::string& path, int mode) override;
  mode_t Umask(mode_t mask) override;
  sys::Status Chdir(const std::string& path) override;
  sys::Result<std::string> Getcwd() override;

  sys::Result<int> UnixSocket(int type) override;
  sys::Status Bind(int fd, const std::string& path) override;
  sys::Status Listen(int fd, int backlog) override;
  sys::Result<int> Accept(int fd, int flags) override;
  sys::Status Connect(int fd, const std::string& path) override;
  sys::Result<sys::PeerCredentials> PeerCredentialsOf(int fd) override;
  sys::Status Shutdown(int fd, int how) override;

  sys::Result<int> EpollCreate() override;
  sys::Status EpollCtl(int epoll_fd, int op, int fd, uint32_t events, uint64_t data) override;
  sys::Result<std::vector<sys::EpollEvent>> EpollWait(int epoll_fd, int max_events,
                                                       int timeout_ms) override;
  sys::Status SetSignalMask(int how, const std::vector<int>& signals) override;
  sys::Result<int> SignalFd(const std::vector<int>& signals) override;
  sys::Result<sys::SignalInfo> ReadSignal(int signal_fd) override;
  sys::Status SetSignalIgnored(int signal, bool ignore) override;
  sys::Status ResetSignalDispositions() override;

  sys::Result<pid_t> Fork() override;
  sys::Status Execve(const std::string& path, const std::vector<std::string>& argv,
                     const std::vector<std::string>& envp) override;
  [[noreturn]] void Exit(int code) override;
  sys::Result<sys::WaitResult> Wait(pid_t pid, int options) override;
  sys::Status Kill(pid_t pid, int signal) override;
  pid_t GetPid() override;
  pid_t GetParentPid() override;
  sys::Result<pid_t> SetSid() override;
  sys::Status SetPgid(pid_t pid, pid_t pgid) override;
  sys::Result<pid_t> GetPgid(pid_t pid) override;
  sys::Status SetChildSubreaper() override;
  sys::Status SetParentDeathSignal(int signal) override;
  sys::Status SetIdentity(uid_t uid, gid_t gid, const std::vector<gid_t>& groups) override;
  uid_t GetEffectiveUid() override;

  sys::Status Unshare(int flags) override;
  sys::Status Setns(int fd, int nstype) override;
  sys::Status Mount(const std::string& source, const std::string& target,
                    const std::string& fstype, unsigned long flags,
                    const std::string& data) override;
  sys::Status Unmount(const std::string& target, int flags) override;
  sys::Status PivotRoot(const std::string& new_root, const std::string& put_old) override;

  sys::Timespec Now() override;
  sys::Timespec MonotonicNow() override;

  // ---- Processes (test API) -------------------------------------------------

  // The process on whose behalf Kernel calls run.
  pid_t current() const { return current_; }
  // Makes `pid` the caller of the following Kernel calls. It must be alive
  // (not a zombie).
  void SetCurrent(pid_t pid);
  // Runs `body` as process `pid`, then restores the previous current process.
  // Exit() inside `body` makes the process a zombie with that exit code; a
  // successful Execve() inside `body` leaves it running the program. Both
  // end `body` early. Records a test failure if `pid` is not alive.
  void RunAsChild(pid_t pid, const std::function<void()>& body);
  // Ends a process as if it called _exit(code) (as the test, not through a
  // Kernel call).
  void ExitProcess(pid_t pid, int code);
  // True while `pid` is in the table, zombies included.
  bool ProcessExists(pid_t pid) const;
  // A snapshot of `pid`; records a test failure and returns a default
  // ProcessInfo when there is no such process.
  ProcessInfo Process(pid_t pid) const;
  // The pids whose parent is `pid`, zombies included, in ascending order.
  std::vector<pid_t> Children(pid_t pid) const;
  // Marks `signal` as having a handler in `pid`: Kill then records it
  // instead of applying the default action. Execve resets it.
  void SetSignalHandled(pid_t pid, int signal);
  // Signals delivered to a handler of `pid`, in order.
  std::vector<int> SignalsReceived(pid_t pid) const;
  // The blocked signals of `pid`, ascending.
  std::vector<int> SignalMask(pid_t pid) const;
  // The signals `pid` ignores (SIG_IGN), ascending.
  std::vector<int> IgnoredSignals(pid_t pid) const;
  // Signals pending (blocked, not yet read) for `pid`, ascending.
  std::vector<int> PendingSignals(pid_t pid) const;

  // ---- Files (test API) -----------------------------------------------------
  // Paths are resolved as the current process sees them, without permission
  // checks, fault injection or call logging.

  // Creates or replaces a regular file with exactly `mode` (no umask),
  // owned by root, creating missing parent directories (0755). Records a
  // test failure when it cannot.
  void WriteFile(const std::string& path, const std::string& content, mode_t mode = 0644);
  // The content of a regular file; records a test failure and returns ""
  // when it is missing or not a regular file.
  std::string ReadFileContent(const std::string& path);
  // mkdir -p with mode 0755; records a test failure when it cannot.
  void MakeDirectory(const std::string& path);
  // True when the path resolves (following symlinks) to an existing file.
  bool Exists(const std::string& path);
  // The open fds of `pid`, ascending.
  std::vector<int> OpenFds(pid_t pid) const;
  // The close-on-exec flag of an fd of `pid`; false when it is not open.
  bool IsCloseOnExec(pid_t pid, int fd) const;

  // ---- Mount namespaces (test API) ------------------------------------------

  int host_mount_namespace() const { return host_namespace_; }
  int MountNamespaceOf(pid_t pid) const;
  // False once no process, fd or pin refers to the namespace any more.
  bool MountNamespaceExists(int namespace_id) const;
  // The mounts of a namespace in creation order; empty when it is gone.
  std::vector<MountEntry> MountTable(int namespace_id) const;
  std::vector<MountEntry> MountTableOf(pid_t pid) const;
  // The topmost mount at `target` in the namespace, if any.
  std::optional<MountEntry> FindMount(int namespace_id, const std::string& target) const;

  // ---- Clock (test API) -----------------------------------------------------

  // Starts at Now() = 1700000000 s and MonotonicNow() = 1000 s.
  void SetNow(sys::Timespec now) { now_ = now; }
  // Moves both clocks forward.
  void AdvanceClock(int64_t seconds, int32_t nanos = 0);

  // ---- Fault injection and the call log (test API) --------------------------

  // Makes the next `count` calls of Kernel method `method` ("Mount", "Open")
  // fail with `error_number`, with the message a failed system call has.
  void FailNext(const std::string& method, int error_number, int count = 1);
  // The same, only for calls whose call-log line contains `substring`.
  void FailNextMatching(const std::string& method, const std::string& substring,
                        int error_number, int count = 1);
  // Every Kernel call made, in order, as "<Method> <argument>...": strings as
  // given ("" when empty), numbers in decimal and flag words in hex, e.g.
  // "Mount overlay /merged overlay 0x0 lowerdir=/,upperdir=/u,workdir=/w".
  // GetPid, GetParentPid, GetEffectiveUid, Now and MonotonicNow are not
  // logged.
  const std::vector<std::string>& Calls() const { return calls_; }
  // The logged calls of one method, in order.
  std::vector<std::string> CallsOf(const std::string& method) const;
  void ClearCalls() { calls_.clear(); }

 private:
  struct Node;
  struct Filesystem;
  struct PipeBuffer;
  struct OpenFile;
  struct FdEntry;
  struct ProcessRecord;
  struct MountRecord;
  struct Namespace;
  struct Location;
  struct Resolved;
  struct OverlayView;
  struct InjectedFailure;
  struct ExitException;
  struct ExecException;

  using NodePtr = std::shared_ptr<Node>;
  using FilesystemPtr = std::shared_ptr<Filesystem>;
  using OpenFilePtr = std::shared_ptr<OpenFile>;

  // fake_kernel.cc: the call log, fault injection, process lookup.
  std::optional<sys::Status> Enter(const char* method, const std::string& what,
                                   const std::vector<std::string>& arguments);
  static sys::Status NotModeled(const std::string& what);
  static sys::Status WouldBlock(const std::string& what);
  ProcessRecord& Caller();
  const ProcessRecord* Find(pid_t pid) const;
  ProcessRecord* Find(pid_t pid);

  // fake_vfs.cc: filesystems, path resolution, directory changes.
  void BuildHost();
  FilesystemPtr NewTreeFilesystem(const std::string& type, int64_t magic);
  NodePtr NewNode(sys::FileInfo::Type type, mode_t mode);
  sys::Result<NodePtr> TreeLookup(const NodePtr& root, const std::vector<std::string>& parts,
                                  const std::string& what);
  sys::Result<OverlayView> OverlayWalk(const Filesystem& overlay,
                                       const std::vector<std::string>& parts,
                                       const std::string& what);
  sys::Result<NodePtr> FilesystemLookup(const Filesystem& filesystem, const std::string& path,
                                        const std::string& what);
  sys::Result<NodePtr> CopyUp(const Filesystem& overlay, const std::vector<std::string>& parts,
                              const std::string& what);
  sys::Result<NodePtr> ProcLookup(const std::vector<std::string>& parts, const std::string& what);
  sys::Result<std::vector<std::string>> ProcNames(const std::vector<std::string>& parts,
                                                  const std::string& what);
  std::string ProcMountInfo(const ProcessRecord& process) const;
  std::string AbsolutePath(const ProcessRecord& process, const std::string& path) const;
  int TopmostMountAt(int mount_id, const std::string& relative_path) const;
  std::string MountTarget(int mount_id) const;
  std::string PathOf(const Location& location) const;
  std::string FilesystemPath(const Location& location) const;
  sys::Result<Resolved> Resolve(const std::string& path, bool follow_last,
                                const std::string& what);
  sys::Result<Resolved> ResolveAs(const ProcessRecord& process, const std::string& path,
                                  bool follow_last, const std::string& what);
  bool IsMountPoint(const Location& location) const;
  sys::Status CheckWritable(const Location& location, const std::string& what) const;
  sys::Status CheckPermission(const Node& node, int access, const std::string& what);
  sys::Result<NodePtr> NodeForWrite(const Location& location, const std::string& what);
  sys::Status AddEntry(const Location& directory, const std::string& name, NodePtr node,
                       const std::string& what);
  sys::Status RemoveEntry(const Location& directory, const std::string& name,
                          const std::string& what);
  sys::Result<std::vector<std::string>> EntryNames(const Location& directory,
                                                   const std::string& what);
  sys::FileInfo InfoOf(const Node& node, const Filesystem& filesystem) const;

  // fake_files.cc: fd tables and open file descriptions.
  int Install(ProcessRecord& process, OpenFilePtr file, bool close_on_exec, int lowest = 0);
  sys::Result<OpenFilePtr> FileOf(int fd, const std::string& what);
  void ReleaseFd(ProcessRecord& process, int fd);
  void ReleaseDescription(OpenFile& file);
  sys::Result<int> OpenFifo(OpenFilePtr file, int flags, const std::string& what);
  sys::Status MakeDirectories(const std::string& path);

  // fake_processes.cc: process lifetime and signals.
  void Terminate(pid_t pid, int wait_status);
  void KillProcess(pid_t pid, int signal);
  pid_t NewParentFor(pid_t orphan_parent) const;
  void NotifyParent(pid_t child);
  sys::Status SendSignal(ProcessRecord& target, int signal, pid_t sender);
  sys::Status Deliver(ProcessRecord& target, int signal, pid_t sender);
  sys::Status DeliverUnblocked(ProcessRecord& process);
  std::vector<pid_t> ProcessGroup(pid_t pgid) const;

  // fake_mounts.cc: namespaces and mounts.
  int NewNamespace();
  int AddMount(int namespace_id, int parent_id, const std::string& mountpoint,
               FilesystemPtr filesystem, const std::string& root);
  std::vector<int> MountChildren(int mount_id) const;
  std::vector<int> MountSubtree(int mount_id) const;
  void RemoveMountTree(int mount_id);
  // Mounts with an id of first_copy_id or more were made by the copy in
  // progress and are not copied again; 0 means the copy made here.
  int CopyMountTree(int source_id, int namespace_id, int parent_id,
                    const std::string& mountpoint, bool recursive, int first_copy_id = 0);
  std::vector<int> PropagationReceivers(int mount_id) const;
  void Propagate(int new_mount_id);
  void PropagateUnmount(int mount_id);
  sys::Result<Resolved> ResolveMountRoot(const std::string& target, const std::string& what);
  sys::Status Remount(const std::string& target, unsigned long flags, const std::string& data,
                      const std::string& what);
  sys::Status ChangePropagation(const std::string& target, unsigned long flags,
                                const std::string& what);
  sys::Status BindMount(const std::string& source, const std::string& target,
                        unsigned long flags, const std::string& what);
  sys::Status NewFilesystemMount(const std::string& source, const std::string& target,
                                 const std::string& fstype, unsigned long flags,
                                 const std::string& data, const std::string& what);
  sys::Result<FilesystemPtr> NewOverlay(const std::string& data, const std::string& what);
  MountEntry EntryOf(const MountRecord& mount) const;
  // Drops the namespaces that no live process, open fd or reachable pin
  // refers to, with their mounts.
  void CollectNamespaces();

  std::map<pid_t, ProcessRecord> processes_;
  pid_t current_ = kTestPid;
  pid_t next_pid_ = kFirstChildPid;
  // The process whose view /proc/self shows during a path resolution.
  pid_t resolving_pid_ = kTestPid;
  // Nesting depth of RunAsChild, to tell Exit and Execve outside it apart.
  int child_depth_ = 0;

  std::map<int, Namespace> namespaces_;
  std::map<int, MountRecord> mounts_;
  int host_namespace_ = 0;
  int next_namespace_ = 1;
  int next_mount_ = 1;
  uint64_t next_attach_ = 1;
  int next_peer_group_ = 1;
  uint64_t next_device_ = 1;
  uint64_t next_inode_ = 2;
  FilesystemPtr host_root_;

  sys::Timespec now_{1700000000, 0};
  sys::Timespec monotonic_{1000, 0};

  std::vector<std::string> calls_;
  std::vector<InjectedFailure> injected_;
};

}  // namespace fakes

#endif  // REAPER_FAKES_FAKE_KERNEL_H_
