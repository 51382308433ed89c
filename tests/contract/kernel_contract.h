// The sys::Kernel contract: one typed test suite that runs on the fake kernel
// (tests/unit/fake_kernel_test.cc, rootless) and on the Linux kernel
// (tests/root/linux_kernel_test.cc, as root), so that the fake keeps behaving
// like Linux for everything Reaper relies on.
//
// An environment type provides the kernel and the means to run code in a
// child process:
//
//   struct Environment {
//     sys::Kernel& kernel();
//     // Prepares `scratch()`, an empty directory; false (with a reason) skips.
//     bool Prepare(std::string* skip_reason);
//     std::string scratch() const;
//     // The fds open in the test's process, to check that none leaked.
//     std::vector<int> OpenFds();
//     // Forks a child that runs `body` and exits with its result; returns
//     // the child's pid. On the fake the body has run when this returns.
//     sys::Result<pid_t> ForkAndRun(const std::function<int()>& body);
//     // Forks a child that runs `setup` and then stays alive, doing nothing,
//     // until it is killed.
//     sys::Result<pid_t> ForkAndPark(const std::function<void()>& setup);
//     void Cleanup();
//   };
//
// Code that runs in a child cannot use gtest assertions (on Linux they would
// be lost with the child), so child bodies return a description of what went
// wrong ("" for success) through RunInChild.
//
// Namespace checks change mounts only in child processes that unshared a
// private mount namespace first, so the test's own namespace (and on Linux
// the host's) is never touched.
#ifndef REAPER_TESTS_CONTRACT_KERNEL_CONTRACT_H_
#define REAPER_TESTS_CONTRACT_KERNEL_CONTRACT_H_

#include <fcntl.h>
#include <linux/magic.h>
#include <linux/sched.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/wait.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "sys/kernel.h"

namespace sys {
namespace contract {

inline Status ToStatus(const Status& status) { return status; }
template <typename T>
Status ToStatus(const Result<T>& result) {
  return result.status();
}

// For child bodies: returns a description of the failure from the body.
#define CONTRACT_CHILD_OK(expression)                                                    \
  do {                                                                                   \
    const ::sys::Status contract_status_ = ::sys::contract::ToStatus(expression);        \
    if (!contract_status_.ok()) {                                                        \
      return std::string("line ") + std::to_string(__LINE__) + ": " + #expression +      \
             " failed: " + contract_status_.ToString();                                  \
    }                                                                                    \
  } while (0)

#define CONTRACT_CHILD_TRUE(condition)                                                   \
  do {                                                                                   \
    if (!(condition)) {                                                                  \
      return std::string("line ") + std::to_string(__LINE__) + ": expected " + #condition; \
    }                                                                                    \
  } while (0)

// Writes all of `data`.
inline Status WriteString(Kernel& kernel, int fd, const std::string& data) {
  size_t written = 0;
  while (written < data.size()) {
    Result<size_t> count = kernel.Write(fd, data.data() + written, data.size() - written);
    if (!count.ok()) return count.status();
    written += *count;
  }
  return Status::Ok();
}

// Reads until end of file.
inline Result<std::string> ReadToEnd(Kernel& kernel, int fd) {
  std::string data;
  char buffer[512];
  for (;;) {
    Result<size_t> count = kernel.Read(fd, buffer, sizeof(buffer));
    if (!count.ok()) return count.status();
    if (*count == 0) return data;
    data.append(buffer, *count);
  }
}

inline Status CreateFile(Kernel& kernel, const std::string& path, const std::string& content,
                         mode_t mode = 0644) {
  Result<int> fd = kernel.Open(path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, mode);
  if (!fd.ok()) return fd.status();
  Status written = WriteString(kernel, *fd, content);
  Status closed = kernel.Close(*fd);
  return written.ok() ? closed : written;
}

inline Result<std::string> ReadPath(Kernel& kernel, const std::string& path) {
  Result<int> fd = kernel.Open(path, O_RDONLY | O_CLOEXEC);
  if (!fd.ok()) return fd.status();
  Result<std::string> content = ReadToEnd(kernel, *fd);
  Status closed = kernel.Close(*fd);
  if (content.ok() && !closed.ok()) return closed;
  return content;
}

inline std::vector<std::string> Sorted(std::vector<std::string> names) {
  std::sort(names.begin(), names.end());
  return names;
}

// Runs `body` in a child process and returns what it reported: "" when it
// returned "" and exited with 0, else a description of the failure.
template <typename Environment>
std::string RunInChild(Environment& environment, const std::function<std::string()>& body) {
  Kernel& kernel = environment.kernel();
  Result<std::pair<int, int>> report = kernel.Pipe(O_CLOEXEC);
  if (!report.ok()) return "pipe: " + report.status().ToString();
  const auto [read_end, write_end] = *report;
  Result<pid_t> child = environment.ForkAndRun([&]() -> int {
    static_cast<void>(kernel.Close(read_end));
    const std::string failure = body();
    static_cast<void>(WriteString(kernel, write_end, failure));
    return failure.empty() ? 0 : 1;
  });
  static_cast<void>(kernel.Close(write_end));
  if (!child.ok()) {
    static_cast<void>(kernel.Close(read_end));
    return "fork: " + child.status().ToString();
  }
  Result<std::string> failure = ReadToEnd(kernel, read_end);
  static_cast<void>(kernel.Close(read_end));
  Result<WaitResult> waited = kernel.Wait(*child, 0);
  if (!failure.ok()) return "read the child's report: " + failure.status().ToString();
  if (!failure->empty()) return *failure;
  if (!waited.ok()) return "wait: " + waited.status().ToString();
  if (!WIFEXITED(waited->status) || WEXITSTATUS(waited->status) != 0) {
    return "the child ended with wait status " + std::to_string(waited->status);
  }
  return "";
}

// Starts a child that runs `setup` and stays alive; returns once the setup
// is done. Fails with the setup's report when it returned one.
template <typename Environment>
Result<pid_t> StartParked(Environment& environment, const std::function<std::string()>& setup) {
  Kernel& kernel = environment.kernel();
  Result<std::pair<int, int>> ready = kernel.Pipe(O_CLOEXEC);
  if (!ready.ok()) return ready.status();
  const auto [read_end, write_end] = *ready;
  Result<pid_t> child = environment.ForkAndPark([&] {
    const std::string failure = setup();
    static_cast<void>(WriteString(kernel, write_end, failure.empty() ? "ok" : failure));
  });
  static_cast<void>(kernel.Close(write_end));
  char buffer[512];
  Result<size_t> count = child.ok() ? kernel.Read(read_end, buffer, sizeof(buffer)) : Result<size_t>(size_t{0});
  static_cast<void>(kernel.Close(read_end));
  if (!child.ok()) return child.status();
  if (!count.ok()) return count.status();
  const std::string message(buffer, *count);
  if (message != "ok") return Status(reaper::Code::kInternal, "parked child setup: " + message);
  return *child;
}

// The mountinfo line whose mount point is `target`, or "".
inline std::string MountInfoLine(Kernel& kernel, const std::string& target) {
  Result<std::string> table = ReadPath(kernel, "/proc/self/mountinfo");
  if (!table.ok()) return "";
  size_t start = 0;
  while (start < table->size()) {
    size_t end = table->find('\n', start);
    if (end == std::string::npos) end = table->size();
    const std::string line = table->substr(start, end - start);
    // Fields: id parent major:minor root mount-point ...
    size_t field_start = 0;
    for (int field = 0; field < 4 && field_start != std::string::npos; ++field) {
      field_start = line.find(' ', field_start);
      if (field_start != std::string::npos) ++field_start;
    }
    if (field_start != std::string::npos) {
      const std::string mount_point = line.substr(field_start, line.find(' ', field_start) - field_start);
      if (mount_point == target) return line;
    }
    start = end + 1;
  }
  return "";
}

// Moves the caller into a new mount namespace whose mounts are all private,
// so nothing it mounts propagates back.
inline Status EnterPrivateNamespace(Kernel& kernel) {
  Status status = kernel.Unshare(CLONE_NEWNS);
  if (!status.ok()) return status;
  return kernel.Mount("", "/", "", MS_REC | MS_PRIVATE, "");
}

template <typename Environment>
class KernelContractTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string reason;
    if (!environment_.Prepare(&reason)) {
      GTEST_SKIP() << reason;
    }
    fds_before_ = environment_.OpenFds();
  }

  void TearDown() override {
    if (!IsSkipped()) {
      EXPECT_EQ(environment_.OpenFds(), fds_before_) << "an fd leaked";
    }
    environment_.Cleanup();
  }

  Kernel& kernel() { return environment_.kernel(); }
  std::string Scratch(const std::string& name) const { return environment_.scratch() + "/" + name; }

  Environment environment_;
  std::vector<int> fds_before_;
};

TYPED_TEST_SUITE_P(KernelContractTest);

// ---- Files ----------------------------------------------------------------------

TYPED_TEST_P(KernelContractTest, OpenOfMissingFileFailsWithEnoent) {
  const std::string path = this->Scratch("missing");
  Result<int> fd = this->kernel().Open(path, O_RDONLY | O_CLOEXEC);
  ASSERT_FALSE(fd.ok());
  EXPECT_EQ(fd.status().error_number(), ENOENT);
  EXPECT_EQ(fd.status().code(), reaper::Code::kNotFound);
  EXPECT_EQ(fd.status().message(), "open " + path + ": No such file or directory");
}

TYPED_TEST_P(KernelContractTest, CreatedFileReadsBack) {
  Kernel& kernel = this->kernel();
  const std::string path = this->Scratch("file");
  ASSERT_TRUE(CreateFile(kernel, path, "hello", 0600).ok());

  Result<std::string> content = ReadPath(kernel, path);
  ASSERT_TRUE(content.ok()) << content.status().ToString();
  EXPECT_EQ(*content, "hello");
  Result<FileInfo> info = kernel.Stat(path);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->type, FileInfo::Type::kRegular);
  EXPECT_EQ(info->size, 5u);
  EXPECT_EQ(info->mode, 0600u);
}

TYPED_TEST_P(KernelContractTest, ExclusiveCreateOfExistingFileFails) {
  Kernel& kernel = this->kernel();
  const std::string path = this->Scratch("file");
  ASSERT_TRUE(CreateFile(kernel, path, "x").ok());
  Result<int> fd = kernel.Open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
  ASSERT_FALSE(fd.ok());
  EXPECT_EQ(fd.status().error_number(), EEXIST);
  EXPECT_EQ(fd.status().code(), reaper::Code::kAlreadyExists);
}

TYPED_TEST_P(KernelContractTest, AppendAndTruncateChangeContent) {
  Kernel& kernel = this->kernel();
  const std::string path = this->Scratch("file");
  ASSERT_TRUE(CreateFile(kernel, path, "one").ok());
  Result<int> append = kernel.Open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
  ASSERT_TRUE(append.ok());
  ASSERT_TRUE(WriteString(kernel, *append, "two").ok());
  ASSERT_TRUE(kernel.Close(*append).ok());
  EXPECT_EQ(*ReadPath(kernel, path), "onetwo");

  Result<int> truncate = kernel.Open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
  ASSERT_TRUE(truncate.ok());
  ASSERT_TRUE(kernel.Close(*truncate).ok());
  EXPECT_EQ(*ReadPath(kernel, path), "");
}

TYPED_TEST_P(KernelContractTest, RenameMovesFileAndMissingSourceFails) {
  Kernel& kernel = this->kernel();
  const std::string from = this->Scratch("from");
  const std::string to = this->Scratch("to");
  ASSERT_TRUE(CreateFile(kernel, from, "data").ok());
  ASSERT_TRUE(kernel.Rename(from, to).ok());
  EXPECT_EQ(kernel.Stat(from).status().error_number(), ENOENT);
  EXPECT_EQ(*ReadPath(kernel, to), "data");

  Status missing = kernel.Rename(from, to);
  EXPECT_EQ(missing.error_number(), ENOENT);
  EXPECT_EQ(missing.message(), "rename " + from + " to " + to + ": No such file or directory");
}

TYPED_TEST_P(KernelContractTest, RenameReplacesExistingFile) {
  Kernel& kernel = this->kernel();
  ASSERT_TRUE(CreateFile(kernel, this->Scratch("new"), "new").ok());
  ASSERT_TRUE(CreateFile(kernel, this->Scratch("old"), "old").ok());
  ASSERT_TRUE(kernel.Rename(this->Scratch("new"), this->Scratch("old")).ok());
  EXPECT_EQ(*ReadPath(kernel, this->Scratch("old")), "new");
  EXPECT_EQ(Sorted(*kernel.ListDirectory(this->Scratch(""))), std::vector<std::string>{"old"});
}

TYPED_TEST_P(KernelContractTest, UnlinkAndRmdirReportWrongTypes) {
  Kernel& kernel = this->kernel();
  const std::string directory = this->Scratch("directory");
  ASSERT_TRUE(kernel.Mkdir(directory, 0755).ok());
  ASSERT_TRUE(CreateFile(kernel, directory + "/file", "x").ok());

  EXPECT_EQ(kernel.Unlink(directory).error_number(), EISDIR);
  EXPECT_EQ(kernel.Rmdir(directory).error_number(), ENOTEMPTY);
  EXPECT_EQ(kernel.Rmdir(directory + "/file").error_number(), ENOTDIR);
  EXPECT_EQ(kernel.Mkdir(directory, 0755).error_number(), EEXIST);
  ASSERT_TRUE(kernel.Unlink(directory + "/file").ok());
  ASSERT_TRUE(kernel.Rmdir(directory).ok());
  EXPECT_EQ(kernel.Stat(directory).status().error_number(), ENOENT);
}

TYPED_TEST_P(KernelContractTest, ListDirectoryNamesEntries) {
  Kernel& kernel = this->kernel();
  ASSERT_TRUE(kernel.Mkdir(this->Scratch("b"), 0755).ok());
  ASSERT_TRUE(CreateFile(kernel, this->Scratch("a"), "").ok());
  ASSERT_TRUE(kernel.Mkfifo(this->Scratch("c"), 0600).ok());
  Result<std::vector<std::string>> names = kernel.ListDirectory(this->Scratch(""));
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(Sorted(*names), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(kernel.ListDirectory(this->Scratch("a")).status().error_number(), ENOTDIR);
}

TYPED_TEST_P(KernelContractTest, PathThroughRegularFileFailsWithEnotdir) {
  Kernel& kernel = this->kernel();
  ASSERT_TRUE(CreateFile(kernel, this->Scratch("file"), "").ok());
  Result<FileInfo> info = kernel.Stat(this->Scratch("file/below"));
  EXPECT_EQ(info.status().error_number(), ENOTDIR);
  Result<int> fd = kernel.Open(this->Scratch("file"), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  EXPECT_EQ(fd.status().error_number(), ENOTDIR);
}

TYPED_TEST_P(KernelContractTest, SymlinkIsFollowedExceptByLstat) {
  Kernel& kernel = this->kernel();
  ASSERT_TRUE(CreateFile(kernel, this->Scratch("target"), "content").ok());
  ASSERT_TRUE(kernel.Symlink("target", this->Scratch("link")).ok());

  EXPECT_EQ(*kernel.Readlink(this->Scratch("link")), "target");
  EXPECT_EQ(kernel.Lstat(this->Scratch("link"))->type, FileInfo::Type::kSymlink);
  EXPECT_EQ(kernel.Stat(this->Scratch("link"))->type, FileInfo::Type::kRegular);
  EXPECT_EQ(*ReadPath(kernel, this->Scratch("link")), "content");
  EXPECT_EQ(kernel.Readlink(this->Scratch("target")).status().error_number(), EINVAL);
  EXPECT_EQ(kernel.Symlink("x", this->Scratch("link")).error_number(), EEXIST);
}

TYPED_TEST_P(KernelContractTest, ChmodAndAccessAgree) {
  Kernel& kernel = this->kernel();
  const std::string path = this->Scratch("tool");
  ASSERT_TRUE(CreateFile(kernel, path, "#!/bin/sh\n", 0644).ok());
  // Even root needs an execute bit to execute a regular file.
  EXPECT_EQ(kernel.Access(path, X_OK).error_number(), EACCES);
  ASSERT_TRUE(kernel.Chmod(path, 0755).ok());
  EXPECT_TRUE(kernel.Access(path, X_OK).ok());
  EXPECT_EQ(kernel.Stat(path)->mode, 0755u);
}

TYPED_TEST_P(KernelContractTest, ChdirMakesRelativePathsResolveThere) {
  Kernel& kernel = this->kernel();
  ASSERT_TRUE(kernel.Mkdir(this->Scratch("work"), 0755).ok());
  ASSERT_TRUE(CreateFile(kernel, this->Scratch("work/file"), "here").ok());
  const std::string scratch = this->Scratch("work");
  const std::string report = RunInChild(this->environment_, [&]() -> std::string {
    CONTRACT_CHILD_OK(kernel.Chdir(scratch));
    Result<std::string> cwd = kernel.Getcwd();
    CONTRACT_CHILD_OK(cwd);
    CONTRACT_CHILD_TRUE(*cwd == scratch);
    Result<std::string> content = ReadPath(kernel, "file");
    CONTRACT_CHILD_OK(content);
    CONTRACT_CHILD_TRUE(*content == "here");
    return "";
  });
  EXPECT_EQ(report, "");
}

// ---- Pipes and FIFOs ----------------------------------------------------------------

TYPED_TEST_P(KernelContractTest, PipeCarriesDataThenEndOfFile) {
  Kernel& kernel = this->kernel();
  Result<std::pair<int, int>> pipe = kernel.Pipe(O_CLOEXEC);
  ASSERT_TRUE(pipe.ok());
  ASSERT_TRUE(WriteString(kernel, pipe->second, "abc").ok());
  EXPECT_EQ(*kernel.BytesReadable(pipe->first), 3);
  ASSERT_TRUE(kernel.Close(pipe->second).ok());

  char buffer[8];
  Result<size_t> count = kernel.Read(pipe->first, buffer, sizeof(buffer));
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(std::string(buffer, *count), "abc");
  EXPECT_EQ(*kernel.Read(pipe->first, buffer, sizeof(buffer)), 0u);
  ASSERT_TRUE(kernel.Close(pipe->first).ok());
}

TYPED_TEST_P(KernelContractTest, NonBlockingReadOfEmptyPipeIsUnavailable) {
  Kernel& kernel = this->kernel();
  Result<std::pair<int, int>> pipe = kernel.Pipe(O_CLOEXEC | O_NONBLOCK);
  ASSERT_TRUE(pipe.ok());
  char byte;
  Result<size_t> count = kernel.Read(pipe->first, &byte, 1);
  EXPECT_EQ(count.status().error_number(), EAGAIN);
  EXPECT_EQ(count.status().code(), reaper::Code::kUnavailable);
  EXPECT_EQ(count.status().message(),
            "read fd " + std::to_string(pipe->first) + ": Resource temporarily unavailable");
  EXPECT_EQ(*kernel.Fcntl(pipe->first, F_GETFL, 0) & O_NONBLOCK, O_NONBLOCK);
  ASSERT_TRUE(kernel.Close(pipe->first).ok());
  ASSERT_TRUE(kernel.Close(pipe->second).ok());
}

TYPED_TEST_P(KernelContractTest, WriteToPipeWithoutReaderFailsWithEpipe) {
  Kernel& kernel = this->kernel();
  // Ignoring SIGPIPE makes Linux return EPIPE instead of killing the test.
  ASSERT_TRUE(kernel.SetSignalIgnored(SIGPIPE, true).ok());
  Result<std::pair<int, int>> pipe = kernel.Pipe(O_CLOEXEC);
  ASSERT_TRUE(pipe.ok());
  ASSERT_TRUE(kernel.Close(pipe->first).ok());
  Result<size_t> count = kernel.Write(pipe->second, "x", 1);
  EXPECT_EQ(count.status().error_number(), EPIPE);
  ASSERT_TRUE(kernel.Close(pipe->second).ok());
  ASSERT_TRUE(kernel.SetSignalIgnored(SIGPIPE, false).ok());
}

TYPED_TEST_P(KernelContractTest, FifoOpenedReadWriteDoesNotBlock) {
  Kernel& kernel = this->kernel();
  const std::string fifo = this->Scratch("fifo");
  ASSERT_TRUE(kernel.Mkfifo(fifo, 0600).ok());
  EXPECT_EQ(kernel.Stat(fifo)->type, FileInfo::Type::kFifo);
  Result<int> fd = kernel.Open(fifo, O_RDWR | O_CLOEXEC);
  ASSERT_TRUE(fd.ok());
  ASSERT_TRUE(WriteString(kernel, *fd, "ping").ok());
  char buffer[8];
  Result<size_t> count = kernel.Read(*fd, buffer, sizeof(buffer));
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(std::string(buffer, *count), "ping");
  ASSERT_TRUE(kernel.Close(*fd).ok());
}

TYPED_TEST_P(KernelContractTest, FifoNonBlockingWriterNeedsReader) {
  Kernel& kernel = this->kernel();
  const std::string fifo = this->Scratch("fifo");
  ASSERT_TRUE(kernel.Mkfifo(fifo, 0600).ok());
  Result<int> lonely = kernel.Open(fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  EXPECT_EQ(lonely.status().error_number(), ENXIO);

  Result<int> reader = kernel.Open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  ASSERT_TRUE(reader.ok());
  char byte;
  // No writer has opened it yet, so a read returns end of file.
  EXPECT_EQ(*kernel.Read(*reader, &byte, 1), 0u);
  Result<int> writer = kernel.Open(fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE(WriteString(kernel, *writer, "x").ok());
  EXPECT_EQ(*kernel.Read(*reader, &byte, 1), 1u);
  EXPECT_EQ(byte, 'x');
  EXPECT_EQ(kernel.Read(*reader, &byte, 1).status().error_number(), EAGAIN);
  ASSERT_TRUE(kernel.Close(*writer).ok());
  EXPECT_EQ(*kernel.Read(*reader, &byte, 1), 0u);
  ASSERT_TRUE(kernel.Close(*reader).ok());
}

// ---- fd flags and locks -----------------------------------------------------------

TYPED_TEST_P(KernelContractTest, CloseOnExecFlagFollowsOpenDupAndFcntl) {
  Kernel& kernel = this->kernel();
  const std::string path = this->Scratch("file");
  ASSERT_TRUE(CreateFile(kernel, path, "").ok());
  Result<int> cloexec = kernel.Open(path, O_RDONLY | O_CLOEXEC);
  Result<int> inherited = kernel.Open(path, O_RDONLY);
  ASSERT_TRUE(cloexec.ok());
  ASSERT_TRUE(inherited.ok());
  EXPECT_EQ(*kernel.Fcntl(*cloexec, F_GETFD, 0), FD_CLOEXEC);
  EXPECT_EQ(*kernel.Fcntl(*inherited, F_GETFD, 0), 0);

  Result<int> duplicate = kernel.Fcntl(*inherited, F_DUPFD_CLOEXEC, 0);
  ASSERT_TRUE(duplicate.ok());
  EXPECT_EQ(*kernel.Fcntl(*duplicate, F_GETFD, 0), FD_CLOEXEC);
  ASSERT_TRUE(kernel.Fcntl(*duplicate, F_SETFD, 0).ok());
  EXPECT_EQ(*kernel.Fcntl(*duplicate, F_GETFD, 0), 0);
  // dup2 semantics: the copy does not inherit close-on-exec.
  Result<int> copy = kernel.Dup3(*cloexec, *duplicate, 0);
  ASSERT_TRUE(copy.ok());
  EXPECT_EQ(*copy, *duplicate);
  EXPECT_EQ(*kernel.Fcntl(*copy, F_GETFD, 0), 0);
  ASSERT_TRUE(kernel.Dup3(*inherited, *copy, O_CLOEXEC).ok());
  EXPECT_EQ(*kernel.Fcntl(*copy, F_GETFD, 0), FD_CLOEXEC);
  EXPECT_EQ(kernel.Dup3(*copy, *copy, O_CLOEXEC).status().error_number(), EINVAL);

  for (int fd : {*cloexec, *inherited, *copy}) ASSERT_TRUE(kernel.Close(fd).ok());
  EXPECT_EQ(kernel.Close(*copy).error_number(), EBADF);
}

TYPED_TEST_P(KernelContractTest, ExclusiveFlockConflictsAcrossOpenFiles) {
  Kernel& kernel = this->kernel();
  const std::string path = this->Scratch("lock");
  ASSERT_TRUE(CreateFile(kernel, path, "").ok());
  Result<int> first = kernel.Open(path, O_RDONLY | O_CLOEXEC);
  Result<int> second = kernel.Open(path, O_RDONLY | O_CLOEXEC);
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(second.ok());

  ASSERT_TRUE(kernel.Flock(*first, LOCK_EX | LOCK_NB).ok());
  Status busy = kernel.Flock(*second, LOCK_EX | LOCK_NB);
  EXPECT_EQ(busy.error_number(), EWOULDBLOCK);
  EXPECT_EQ(busy.code(), reaper::Code::kUnavailable);
  EXPECT_EQ(kernel.Flock(*second, LOCK_SH | LOCK_NB).error_number(), EWOULDBLOCK);

  // Closing the last fd of the holder's open file releases the lock.
  ASSERT_TRUE(kernel.Close(*first).ok());
  EXPECT_TRUE(kernel.Flock(*second, LOCK_EX | LOCK_NB).ok());
  ASSERT_TRUE(kernel.Close(*second).ok());
}

TYPED_TEST_P(KernelContractTest, SharedFlocksCoexistAndDupsShareOne) {
  Kernel& kernel = this->kernel();
  const std::string path = this->Scratch("lock");
  ASSERT_TRUE(CreateFile(kernel, path, "").ok());
  Result<int> first = kernel.Open(path, O_RDONLY | O_CLOEXEC);
  Result<int> second = kernel.Open(path, O_RDONLY | O_CLOEXEC);
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(second.ok());
  EXPECT_TRUE(kernel.Flock(*first, LOCK_SH | LOCK_NB).ok());
  EXPECT_TRUE(kernel.Flock(*second, LOCK_SH | LOCK_NB).ok());
  EXPECT_EQ(kernel.Flock(*first, LOCK_EX | LOCK_NB).error_number(), EWOULDBLOCK);
  ASSERT_TRUE(kernel.Flock(*second, LOCK_UN).ok());
  EXPECT_TRUE(kernel.Flock(*first, LOCK_EX | LOCK_NB).ok());

  Result<int> duplicate = kernel.Fcntl(*first, F_DUPFD_CLOEXEC, 0);
  ASSERT_TRUE(duplicate.ok());
  EXPECT_TRUE(kernel.Flock(*duplicate, LOCK_EX | LOCK_NB).ok());
  for (int fd : {*first, *second, *duplicate}) ASSERT_TRUE(kernel.Close(fd).ok());
}

// ---- Processes --------------------------------------------------------------------------

TYPED_TEST_P(KernelContractTest, WaitReportsChildExitCode) {
  Kernel& kernel = this->kernel();
  Result<pid_t> child = this->environment_.ForkAndRun([] { return 3; });
  ASSERT_TRUE(child.ok());
  Result<WaitResult> waited = kernel.Wait(*child, 0);
  ASSERT_TRUE(waited.ok()) << waited.status().ToString();
  EXPECT_EQ(waited->pid, *child);
  EXPECT_TRUE(WIFEXITED(waited->status));
  EXPECT_EQ(WEXITSTATUS(waited->status), 3);

  Result<WaitResult> again = kernel.Wait(*child, WNOHANG);
  EXPECT_EQ(again.status().error_number(), ECHILD);
  EXPECT_EQ(again.status().message(), "wait4 pid " + std::to_string(*child) + ": No child processes");
}

TYPED_TEST_P(KernelContractTest, WaitWithNoHangSeesRunningChild) {
  Kernel& kernel = this->kernel();
  Result<pid_t> child = StartParked(this->environment_, [] { return std::string(); });
  ASSERT_TRUE(child.ok()) << child.status().ToString();
  Result<WaitResult> running = kernel.Wait(*child, WNOHANG);
  ASSERT_TRUE(running.ok());
  EXPECT_EQ(running->pid, 0);

  ASSERT_TRUE(kernel.Kill(*child, SIGTERM).ok());
  Result<WaitResult> waited = kernel.Wait(*child, 0);
  ASSERT_TRUE(waited.ok());
  EXPECT_TRUE(WIFSIGNALED(waited->status));
  EXPECT_EQ(WTERMSIG(waited->status), SIGTERM);
  EXPECT_EQ(kernel.Kill(*child, 0).error_number(), ESRCH);
}

TYPED_TEST_P(KernelContractTest, KillOfProcessGroupReachesEveryMember) {
  Kernel& kernel = this->kernel();
  Result<pid_t> leader = StartParked(this->environment_, [] { return std::string(); });
  Result<pid_t> member = StartParked(this->environment_, [] { return std::string(); });
  ASSERT_TRUE(leader.ok());
  ASSERT_TRUE(member.ok());
  ASSERT_TRUE(kernel.SetPgid(*leader, *leader).ok());
  ASSERT_TRUE(kernel.SetPgid(*member, *leader).ok());
  EXPECT_EQ(*kernel.GetPgid(*member), *leader);

  ASSERT_TRUE(kernel.Kill(-*leader, SIGKILL).ok());
  for (pid_t pid : {*leader, *member}) {
    Result<WaitResult> waited = kernel.Wait(pid, 0);
    ASSERT_TRUE(waited.ok());
    EXPECT_TRUE(WIFSIGNALED(waited->status));
    EXPECT_EQ(WTERMSIG(waited->status), SIGKILL);
  }
  EXPECT_EQ(kernel.Kill(-*leader, SIGKILL).error_number(), ESRCH);
}

TYPED_TEST_P(KernelContractTest, SubreaperAdoptsOrphanedGrandchild) {
  Kernel& kernel = this->kernel();
  auto& environment = this->environment_;
  const std::string report = RunInChild(environment, [&]() -> std::string {
    CONTRACT_CHILD_OK(kernel.SetChildSubreaper());
    Result<std::pair<int, int>> channel = kernel.Pipe(O_CLOEXEC);
    CONTRACT_CHILD_OK(channel);
    Result<pid_t> middle = environment.ForkAndRun([&] {
      Result<pid_t> grandchild = StartParked(environment, [] { return std::string(); });
      if (!grandchild.ok()) return 1;
      const pid_t pid = *grandchild;
      return kernel.Write(channel->second, &pid, sizeof(pid)).ok() ? 0 : 2;
    });
    CONTRACT_CHILD_OK(middle);
    Result<WaitResult> middle_exit = kernel.Wait(*middle, 0);
    CONTRACT_CHILD_OK(middle_exit);
    CONTRACT_CHILD_TRUE(WIFEXITED(middle_exit->status) && WEXITSTATUS(middle_exit->status) == 0);

    pid_t grandchild = 0;
    Result<size_t> count = kernel.Read(channel->first, &grandchild, sizeof(grandchild));
    CONTRACT_CHILD_OK(count);
    CONTRACT_CHILD_TRUE(*count == sizeof(grandchild));
    // Only a parent can reap: the wait succeeds because the orphan was
    // re-parented to this subreaper rather than to init.
    CONTRACT_CHILD_OK(kernel.Kill(grandchild, SIGKILL));
    Result<WaitResult> adopted = kernel.Wait(grandchild, 0);
    CONTRACT_CHILD_OK(adopted);
    CONTRACT_CHILD_TRUE(adopted->pid == grandchild);
    CONTRACT_CHILD_TRUE(WIFSIGNALED(adopted->status) && WTERMSIG(adopted->status) == SIGKILL);
    return "";
  });
  EXPECT_EQ(report, "");
}

TYPED_TEST_P(KernelContractTest, BlockedSignalIsReadFromSignalFd) {
  Kernel& kernel = this->kernel();
  const std::string report = RunInChild(this->environment_, [&]() -> std::string {
    CONTRACT_CHILD_OK(kernel.SetSignalMask(SIG_BLOCK, {SIGUSR1}));
    Result<int> signal_fd = kernel.SignalFd({SIGUSR1});
    CONTRACT_CHILD_OK(signal_fd);
    Result<SignalInfo> nothing = kernel.ReadSignal(*signal_fd);
    CONTRACT_CHILD_TRUE(nothing.status().error_number() == EAGAIN);
    CONTRACT_CHILD_OK(kernel.Kill(kernel.GetPid(), SIGUSR1));
    Result<SignalInfo> info = kernel.ReadSignal(*signal_fd);
    CONTRACT_CHILD_OK(info);
    CONTRACT_CHILD_TRUE(info->signal == SIGUSR1);
    CONTRACT_CHILD_TRUE(info->pid == kernel.GetPid());
    return "";
  });
  EXPECT_EQ(report, "");
}

TYPED_TEST_P(KernelContractTest, ExitedChildRaisesSigchldOnSignalFd) {
  Kernel& kernel = this->kernel();
  auto& environment = this->environment_;
  const std::string report = RunInChild(environment, [&]() -> std::string {
    CONTRACT_CHILD_OK(kernel.SetSignalMask(SIG_BLOCK, {SIGCHLD}));
    Result<int> signal_fd = kernel.SignalFd({SIGCHLD});
    CONTRACT_CHILD_OK(signal_fd);
    Result<pid_t> child = environment.ForkAndRun([] { return 0; });
    CONTRACT_CHILD_OK(child);
    // Linux sends SIGCHLD as the child exits; wait4 returns after that.
    Result<WaitResult> waited = kernel.Wait(*child, 0);
    CONTRACT_CHILD_OK(waited);
    Result<SignalInfo> info = kernel.ReadSignal(*signal_fd);
    CONTRACT_CHILD_OK(info);
    CONTRACT_CHILD_TRUE(info->signal == SIGCHLD);
    CONTRACT_CHILD_TRUE(info->pid == *child);
    return "";
  });
  EXPECT_EQ(report, "");
}

TYPED_TEST_P(KernelContractTest, ExecveOfMissingProgramFailsWithEnoent) {
  Kernel& kernel = this->kernel();
  const std::string program = this->Scratch("missing-program");
  Status status = kernel.Execve(program, {program}, {});
  EXPECT_EQ(status.error_number(), ENOENT);
  EXPECT_EQ(status.message(), "execve " + program + ": No such file or directory");
  const std::string data = this->Scratch("data");
  ASSERT_TRUE(CreateFile(kernel, data, "not a program", 0644).ok());
  EXPECT_EQ(kernel.Execve(data, {data}, {}).error_number(), EACCES);
}

// ---- Mount namespaces -------------------------------------------------------------

TYPED_TEST_P(KernelContractTest, MountInPrivateNamespaceStaysThere) {
  Kernel& kernel = this->kernel();
  const std::string target = this->Scratch("mnt");
  ASSERT_TRUE(kernel.Mkdir(target, 0755).ok());
  const std::string report = RunInChild(this->environment_, [&]() -> std::string {
    CONTRACT_CHILD_OK(EnterPrivateNamespace(kernel));
    CONTRACT_CHILD_OK(kernel.Mount("tmpfs", target, "tmpfs", 0, ""));
    Result<int64_t> type = kernel.FilesystemType(target);
    CONTRACT_CHILD_OK(type);
    CONTRACT_CHILD_TRUE(*type == TMPFS_MAGIC);
    CONTRACT_CHILD_TRUE(MountInfoLine(kernel, target).find(" - tmpfs tmpfs ") != std::string::npos);
    CONTRACT_CHILD_OK(CreateFile(kernel, target + "/inside", "x"));
    return "";
  });
  EXPECT_EQ(report, "");
  EXPECT_EQ(MountInfoLine(kernel, target), "");
  EXPECT_EQ(*kernel.FilesystemType(target), *kernel.FilesystemType(this->Scratch("")));
  EXPECT_EQ(kernel.Stat(target + "/inside").status().error_number(), ENOENT);
}

TYPED_TEST_P(KernelContractTest, MountErrorsNameTheProblem) {
  Kernel& kernel = this->kernel();
  const std::string target = this->Scratch("mnt");
  const std::string plain = this->Scratch("plain");
  ASSERT_TRUE(kernel.Mkdir(target, 0755).ok());
  ASSERT_TRUE(kernel.Mkdir(plain, 0755).ok());
  const std::string missing = this->Scratch("missing");
  const std::string report = RunInChild(this->environment_, [&]() -> std::string {
    CONTRACT_CHILD_OK(EnterPrivateNamespace(kernel));
    Status no_options = kernel.Mount("overlay", target, "overlay", 0, "");
    CONTRACT_CHILD_TRUE(no_options.error_number() == EINVAL);
    CONTRACT_CHILD_TRUE(no_options.message() == "mount overlay on " + target + ": Invalid argument");
    Status missing_lower = kernel.Mount("overlay", target, "overlay", 0, "lowerdir=" + missing);
    CONTRACT_CHILD_TRUE(missing_lower.error_number() == ENOENT);
    Status missing_target = kernel.Mount("tmpfs", missing, "tmpfs", 0, "");
    CONTRACT_CHILD_TRUE(missing_target.error_number() == ENOENT);
    Status not_mounted = kernel.Unmount(plain, MNT_DETACH);
    CONTRACT_CHILD_TRUE(not_mounted.error_number() == EINVAL);
    CONTRACT_CHILD_TRUE(not_mounted.message() == "unmount " + plain + ": Invalid argument");
    Status private_plain = kernel.Mount("", plain, "", MS_PRIVATE, "");
    CONTRACT_CHILD_TRUE(private_plain.error_number() == EINVAL);
    return "";
  });
  EXPECT_EQ(report, "");
}

TYPED_TEST_P(KernelContractTest, BindMountShowsSourceAndRecursiveBindTakesSubmounts) {
  Kernel& kernel = this->kernel();
  const std::string source = this->Scratch("source");
  const std::string plain = this->Scratch("plain");
  const std::string recursive = this->Scratch("recursive");
  for (const std::string& directory : {source, source + "/sub", plain, recursive}) {
    ASSERT_TRUE(kernel.Mkdir(directory, 0755).ok());
  }
  ASSERT_TRUE(CreateFile(kernel, source + "/file", "from source").ok());
  const std::string report = RunInChild(this->environment_, [&]() -> std::string {
    CONTRACT_CHILD_OK(EnterPrivateNamespace(kernel));
    CONTRACT_CHILD_OK(kernel.Mount("tmpfs", source + "/sub", "tmpfs", 0, ""));
    CONTRACT_CHILD_OK(CreateFile(kernel, source + "/sub/in-tmpfs", ""));
    CONTRACT_CHILD_OK(kernel.Mount(source, plain, "", MS_BIND, ""));
    CONTRACT_CHILD_OK(kernel.Mount(source, recursive, "", MS_BIND | MS_REC, ""));

    Result<std::string> content = ReadPath(kernel, plain + "/file");
    CONTRACT_CHILD_OK(content);
    CONTRACT_CHILD_TRUE(*content == "from source");
    CONTRACT_CHILD_TRUE(kernel.Stat(plain + "/sub/in-tmpfs").status().error_number() == ENOENT);
    CONTRACT_CHILD_OK(kernel.Stat(recursive + "/sub/in-tmpfs"));
    // A write through the bind mount changes the source.
    CONTRACT_CHILD_OK(CreateFile(kernel, plain + "/written", "through bind"));
    CONTRACT_CHILD_OK(kernel.Stat(source + "/written"));
    CONTRACT_CHILD_OK(kernel.Mount("", plain, "", MS_REMOUNT | MS_BIND | MS_RDONLY, ""));
    CONTRACT_CHILD_TRUE(CreateFile(kernel, plain + "/refused", "").error_number() == EROFS);
    CONTRACT_CHILD_OK(kernel.Unmount(recursive, MNT_DETACH));
    CONTRACT_CHILD_TRUE(kernel.Stat(recursive + "/file").status().error_number() == ENOENT);
    return "";
  });
  EXPECT_EQ(report, "");
}

TYPED_TEST_P(KernelContractTest, OverlayKeepsWritesInUpperLayer) {
  Kernel& kernel = this->kernel();
  const std::string base = this->Scratch("layers");
  ASSERT_TRUE(kernel.Mkdir(base, 0755).ok());
  const std::string report = RunInChild(this->environment_, [&]() -> std::string {
    CONTRACT_CHILD_OK(EnterPrivateNamespace(kernel));
    // A tmpfs under the layers, since overlayfs refuses some filesystems as
    // upper layer (an overlay, for one).
    CONTRACT_CHILD_OK(kernel.Mount("tmpfs", base, "tmpfs", 0, ""));
    for (const char* name : {"lower", "lower/sub", "upper", "work", "merged"}) {
      CONTRACT_CHILD_OK(kernel.Mkdir(base + "/" + name, 0755));
    }
    CONTRACT_CHILD_OK(CreateFile(kernel, base + "/lower/kept", "lower"));
    CONTRACT_CHILD_OK(CreateFile(kernel, base + "/lower/removed", "lower"));
    // A mount below lowerdir is not part of the lower layer.
    CONTRACT_CHILD_OK(kernel.Mount("tmpfs", base + "/lower/sub", "tmpfs", 0, ""));
    CONTRACT_CHILD_OK(CreateFile(kernel, base + "/lower/sub/hidden", ""));
    const std::string merged = base + "/merged";
    CONTRACT_CHILD_OK(kernel.Mount("overlay", merged, "overlay", 0,
                                   "lowerdir=" + base + "/lower,upperdir=" + base +
                                       "/upper,workdir=" + base + "/work"));

    Result<int64_t> type = kernel.FilesystemType(merged);
    CONTRACT_CHILD_OK(type);
    CONTRACT_CHILD_TRUE(*type == OVERLAYFS_SUPER_MAGIC);
    CONTRACT_CHILD_OK(kernel.Stat(merged + "/sub"));
    CONTRACT_CHILD_TRUE(kernel.Stat(merged + "/sub/hidden").status().error_number() == ENOENT);

    CONTRACT_CHILD_OK(CreateFile(kernel, merged + "/kept", "changed"));
    CONTRACT_CHILD_OK(CreateFile(kernel, merged + "/new", "new"));
    CONTRACT_CHILD_OK(kernel.Unlink(merged + "/removed"));
    Result<std::string> lower_kept = ReadPath(kernel, base + "/lower/kept");
    CONTRACT_CHILD_OK(lower_kept);
    CONTRACT_CHILD_TRUE(*lower_kept == "lower");
    Result<std::string> upper_kept = ReadPath(kernel, base + "/upper/kept");
    CONTRACT_CHILD_OK(upper_kept);
    CONTRACT_CHILD_TRUE(*upper_kept == "changed");
    CONTRACT_CHILD_OK(kernel.Stat(base + "/upper/new"));
    CONTRACT_CHILD_TRUE(kernel.Stat(base + "/lower/new").status().error_number() == ENOENT);
    CONTRACT_CHILD_OK(kernel.Stat(base + "/lower/removed"));
    CONTRACT_CHILD_TRUE(kernel.Stat(merged + "/removed").status().error_number() == ENOENT);
    // overlayfs records a removal as a whiteout: a 0/0 character device.
    Result<FileInfo> whiteout = kernel.Lstat(base + "/upper/removed");
    CONTRACT_CHILD_OK(whiteout);
    CONTRACT_CHILD_TRUE(whiteout->type == FileInfo::Type::kCharDevice);
    Result<std::vector<std::string>> names = kernel.ListDirectory(merged);
    CONTRACT_CHILD_OK(names);
    CONTRACT_CHILD_TRUE(Sorted(*names) == (std::vector<std::string>{"kept", "new", "sub"}));
    return "";
  });
  EXPECT_EQ(report, "");
}

TYPED_TEST_P(KernelContractTest, PinnedNamespaceCanBeJoined) {
  Kernel& kernel = this->kernel();
  auto& environment = this->environment_;
  const std::string pin = this->Scratch("pin");
  const std::string marker = this->Scratch("marker");
  ASSERT_TRUE(CreateFile(kernel, pin, "").ok());
  ASSERT_TRUE(kernel.Mkdir(marker, 0755).ok());
  const std::string report = RunInChild(environment, [&]() -> std::string {
    CONTRACT_CHILD_OK(EnterPrivateNamespace(kernel));
    // A namespace can only be pinned from an older one, so a child makes
    // the namespace and this process pins it.
    Result<pid_t> owner = StartParked(environment, [&]() -> std::string {
      CONTRACT_CHILD_OK(kernel.Unshare(CLONE_NEWNS));
      CONTRACT_CHILD_OK(kernel.Mount("tmpfs", marker, "tmpfs", 0, ""));
      CONTRACT_CHILD_OK(CreateFile(kernel, marker + "/inside", ""));
      return "";
    });
    CONTRACT_CHILD_OK(owner);
    const std::string namespace_file = "/proc/" + std::to_string(*owner) + "/ns/mnt";
    CONTRACT_CHILD_OK(kernel.Mount(namespace_file, pin, "", MS_BIND, ""));
    CONTRACT_CHILD_OK(kernel.Kill(*owner, SIGKILL));
    CONTRACT_CHILD_OK(kernel.Wait(*owner, 0));

    Result<int64_t> type = kernel.FilesystemType(pin);
    CONTRACT_CHILD_OK(type);
    CONTRACT_CHILD_TRUE(*type == NSFS_MAGIC);
    CONTRACT_CHILD_TRUE(kernel.Stat(marker + "/inside").status().error_number() == ENOENT);
    Result<pid_t> joiner = environment.ForkAndRun([&] {
      Result<int> fd = kernel.Open(pin, O_RDONLY | O_CLOEXEC);
      if (!fd.ok()) return 10;
      if (!kernel.Setns(*fd, CLONE_NEWNS).ok()) return 11;
      if (!kernel.Close(*fd).ok()) return 12;
      // The owner is gone; the pin kept its namespace and its mounts.
      return kernel.Stat(marker + "/inside").ok() ? 0 : 13;
    });
    CONTRACT_CHILD_OK(joiner);
    Result<WaitResult> joined = kernel.Wait(*joiner, 0);
    CONTRACT_CHILD_OK(joined);
    CONTRACT_CHILD_TRUE(WIFEXITED(joined->status) && WEXITSTATUS(joined->status) == 0);
    CONTRACT_CHILD_OK(kernel.Unmount(pin, MNT_DETACH));
    return "";
  });
  EXPECT_EQ(report, "");
}

TYPED_TEST_P(KernelContractTest, PinOfOwnNamespaceFailsWithEinval) {
  Kernel& kernel = this->kernel();
  const std::string pin = this->Scratch("pin");
  ASSERT_TRUE(CreateFile(kernel, pin, "").ok());
  const std::string report = RunInChild(this->environment_, [&]() -> std::string {
    CONTRACT_CHILD_OK(EnterPrivateNamespace(kernel));
    Status status = kernel.Mount("/proc/self/ns/mnt", pin, "", MS_BIND, "");
    CONTRACT_CHILD_TRUE(status.error_number() == EINVAL);
    return "";
  });
  EXPECT_EQ(report, "");
}

TYPED_TEST_P(KernelContractTest, PivotRootOntoTmpfsReplacesRoot) {
  Kernel& kernel = this->kernel();
  const std::string new_root = this->Scratch("new-root");
  const std::string scratch = this->environment_.scratch();
  ASSERT_TRUE(kernel.Mkdir(new_root, 0755).ok());
  const std::string report = RunInChild(this->environment_, [&]() -> std::string {
    CONTRACT_CHILD_OK(EnterPrivateNamespace(kernel));
    CONTRACT_CHILD_OK(kernel.Mount("tmpfs", new_root, "tmpfs", 0, ""));
    CONTRACT_CHILD_OK(kernel.Mkdir(new_root + "/marker", 0755));
    CONTRACT_CHILD_OK(kernel.Chdir(new_root));
    CONTRACT_CHILD_OK(kernel.PivotRoot(".", "."));
    CONTRACT_CHILD_OK(kernel.Unmount(".", MNT_DETACH));
    CONTRACT_CHILD_OK(kernel.Chdir("/"));

    Result<std::vector<std::string>> names = kernel.ListDirectory("/");
    CONTRACT_CHILD_OK(names);
    CONTRACT_CHILD_TRUE(*names == std::vector<std::string>{"marker"});
    Result<std::string> cwd = kernel.Getcwd();
    CONTRACT_CHILD_OK(cwd);
    CONTRACT_CHILD_TRUE(*cwd == "/");
    CONTRACT_CHILD_TRUE(kernel.Stat(scratch).status().error_number() == ENOENT);
    return "";
  });
  EXPECT_EQ(report, "");
  EXPECT_EQ(*kernel.ListDirectory(new_root), std::vector<std::string>{});
}

TYPED_TEST_P(KernelContractTest, PivotRootRejectsBusySharedAndPlainTargets) {
  Kernel& kernel = this->kernel();
  const std::string new_root = this->Scratch("new-root");
  const std::string plain = this->Scratch("plain");
  ASSERT_TRUE(kernel.Mkdir(new_root, 0755).ok());
  ASSERT_TRUE(kernel.Mkdir(plain, 0755).ok());
  const std::string report = RunInChild(this->environment_, [&]() -> std::string {
    CONTRACT_CHILD_OK(EnterPrivateNamespace(kernel));
    // On the current root's mount: EBUSY before any other check.
    CONTRACT_CHILD_TRUE(kernel.PivotRoot(plain, plain).error_number() == EBUSY);
    CONTRACT_CHILD_OK(kernel.Mount("tmpfs", new_root, "tmpfs", 0, ""));
    CONTRACT_CHILD_OK(kernel.Mkdir(new_root + "/sub", 0755));
    Status not_mount_point = kernel.PivotRoot(new_root + "/sub", new_root + "/sub");
    CONTRACT_CHILD_TRUE(not_mount_point.error_number() == EINVAL);
    // A shared put_old or parent of new_root would propagate the move.
    CONTRACT_CHILD_OK(kernel.Mount("", "/", "", MS_REC | MS_SHARED, ""));
    CONTRACT_CHILD_OK(kernel.Chdir(new_root));
    Status shared = kernel.PivotRoot(".", ".");
    CONTRACT_CHILD_TRUE(shared.error_number() == EINVAL);
    return "";
  });
  EXPECT_EQ(report, "");
}

REGISTER_TYPED_TEST_SUITE_P(KernelContractTest, OpenOfMissingFileFailsWithEnoent,
                            CreatedFileReadsBack, ExclusiveCreateOfExistingFileFails,
                            AppendAndTruncateChangeContent, RenameMovesFileAndMissingSourceFails,
                            RenameReplacesExistingFile, UnlinkAndRmdirReportWrongTypes,
                            ListDirectoryNamesEntries, PathThroughRegularFileFailsWithEnotdir,
                            SymlinkIsFollowedExceptByLstat, ChmodAndAccessAgree,
                            ChdirMakesRelativePathsResolveThere, PipeCarriesDataThenEndOfFile,
                            NonBlockingReadOfEmptyPipeIsUnavailable,
                            WriteToPipeWithoutReaderFailsWithEpipe, FifoOpenedReadWriteDoesNotBlock,
                            FifoNonBlockingWriterNeedsReader, CloseOnExecFlagFollowsOpenDupAndFcntl,
                            ExclusiveFlockConflictsAcrossOpenFiles, SharedFlocksCoexistAndDupsShareOne,
                            WaitReportsChildExitCode, WaitWithNoHangSeesRunningChild,
                            KillOfProcessGroupReachesEveryMember, SubreaperAdoptsOrphanedGrandchild,
                            BlockedSignalIsReadFromSignalFd, ExitedChildRaisesSigchldOnSignalFd,
                            ExecveOfMissingProgramFailsWithEnoent, MountInPrivateNamespaceStaysThere,
                            MountErrorsNameTheProblem,
                            BindMountShowsSourceAndRecursiveBindTakesSubmounts,
                            OverlayKeepsWritesInUpperLayer, PinnedNamespaceCanBeJoined,
                            PinOfOwnNamespaceFailsWithEinval, PivotRootOntoTmpfsReplacesRoot,
                            PivotRootRejectsBusySharedAndPlainTargets);

}  // namespace contract
}  // namespace sys

#endif  // REAPER_TESTS_CONTRACT_KERNEL_CONTRACT_H_
