#include "shim/runtime_client.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "fakes/fake_kernel.h"

namespace reaper::shim {
namespace {

TEST(RuntimeErrorTest, ReturnsLastErrorMessage) {
  const std::string log =
      "{\"level\":\"debug\",\"msg\":\"loading config\",\"time\":\"2026-01-01T00:00:00Z\"}\n"
      "{\"level\":\"error\",\"msg\":\"first failure\",\"time\":\"2026-01-01T00:00:00Z\"}\n"
      "{\"level\":\"warning\",\"msg\":\"odd\",\"time\":\"2026-01-01T00:00:00Z\"}\n"
      "{\"level\":\"error\",\"msg\":\"read /b/config.json: No such file or directory\","
      "\"time\":\"2026-01-01T00:00:01Z\"}\n";
  EXPECT_EQ(LastRuntimeError(log), "read /b/config.json: No such file or directory");
}

TEST(RuntimeErrorTest, SkipsLinesThatAreNotJson) {
  const std::string log =
      "{\"level\":\"error\",\"msg\":\"the real error\"}\n"
      "panic: something printed by hand\n"
      "{\"level\":\"error\"\n";
  EXPECT_EQ(LastRuntimeError(log), "the real error");
}

TEST(RuntimeErrorTest, EmptyWithoutErrorLine) {
  EXPECT_EQ(LastRuntimeError(""), "");
  EXPECT_EQ(LastRuntimeError("{\"level\":\"info\",\"msg\":\"ok\"}\n"), "");
}

TEST(RuntimeErrorTest, HandlesMissingFinalNewline) {
  EXPECT_EQ(LastRuntimeError("{\"level\":\"error\",\"msg\":\"last\"}"), "last");
}

TEST(RuntimeErrorTest, ClassifiesMessages) {
  EXPECT_EQ(CodeOfRuntimeError("container t1 does not exist"), Code::kNotFound);
  EXPECT_EQ(CodeOfRuntimeError("delete container t1: container t1 does not exist"),
            Code::kNotFound);
  EXPECT_EQ(CodeOfRuntimeError("invalid container id \"a/b\": only letters"),
            Code::kInvalidArgument);
  EXPECT_EQ(CodeOfRuntimeError("mount overlay: Device or resource busy"), Code::kInternal);
}

TEST(FindRuntimeBinaryTest, ConfiguredPathWins) {
  fakes::FakeKernel kernel;
  Result<std::string> path = FindRuntimeBinary(kernel, "/opt/reaper/reaper-runtime", {});
  ASSERT_TRUE(path.ok());
  EXPECT_EQ(*path, "/opt/reaper/reaper-runtime");
}

TEST(FindRuntimeBinaryTest, SearchesPath) {
  fakes::FakeKernel kernel;
  kernel.WriteFile("/usr/local/bin/reaper-runtime", "", 0755);
  kernel.WriteFile("/usr/bin/reaper-runtime", "", 0644);  // not executable
  Result<std::string> path =
      FindRuntimeBinary(kernel, "", {{"PATH", "relative:/usr/bin:/usr/local/bin"}});
  ASSERT_TRUE(path.ok()) << path.status().ToString();
  EXPECT_EQ(*path, "/usr/local/bin/reaper-runtime");
}

TEST(FindRuntimeBinaryTest, ExplainsMissingBinary) {
  fakes::FakeKernel kernel;
  Result<std::string> path = FindRuntimeBinary(kernel, "", {{"PATH", "/usr/bin"}});
  ASSERT_FALSE(path.ok());
  EXPECT_EQ(path.status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(path.status().message(),
            "reaper-runtime was not found next to the shim binary or in PATH; install it there "
            "or set REAPER_RUNTIME_PATH");
}

class ExecRuntimeChildTest : public ::testing::Test {
 protected:
  void SetUp() override {
    kernel_.WriteFile("/usr/bin/reaper-runtime", "", 0755);
    kernel_.MakeDirectory("/run/fifo");
    ASSERT_TRUE(kernel_.SetSignalMask(SIG_BLOCK, {SIGCHLD}).ok());
    ASSERT_TRUE(kernel_.SetSignalIgnored(SIGPIPE, true).ok());
  }

  int OpenFile(const std::string& path, int flags) {
    Result<int> fd = kernel_.Open(path, flags | O_CREAT | O_CLOEXEC, 0600);
    EXPECT_TRUE(fd.ok()) << fd.status().ToString();
    return *fd;
  }

  fakes::FakeKernel kernel_;
};

TEST_F(ExecRuntimeChildTest, ExecsWithStdioAndCleanSignals) {
  ChildStdio stdio{OpenFile("/run/fifo/in", O_RDONLY), OpenFile("/run/fifo/out", O_WRONLY),
                   OpenFile("/run/fifo/err", O_WRONLY)};
  Result<std::pair<int, int>> error_pipe = kernel_.Pipe(O_CLOEXEC);
  ASSERT_TRUE(error_pipe.ok());
  Result<pid_t> child = kernel_.Fork();
  ASSERT_TRUE(child.ok());
  const std::vector<std::string> argv = {"/usr/bin/reaper-runtime", "start", "t1"};

  kernel_.RunAsChild(*child, [&] {
    ExecRuntimeChild(kernel_, argv, {"REAPER_STATE_DIR=/run/r"}, stdio, error_pipe->second);
  });

  fakes::FakeKernel::ProcessInfo info = kernel_.Process(*child);
  EXPECT_EQ(info.state, fakes::FakeKernel::ProcessState::kExecuted);
  EXPECT_EQ(info.argv, argv);
  EXPECT_EQ(info.env, std::vector<std::string>{"REAPER_STATE_DIR=/run/r"});
  EXPECT_EQ(kernel_.OpenFds(*child), (std::vector<int>{0, 1, 2}));
  EXPECT_TRUE(kernel_.SignalMask(*child).empty());
  EXPECT_TRUE(kernel_.IgnoredSignals(*child).empty());
  Result<sys::FileInfo> out = kernel_.Stat("/run/fifo/out");
  kernel_.RunAsChild(*child, [&] {
    Result<sys::FileInfo> fd1 = kernel_.Fstat(1);
    ASSERT_TRUE(fd1.ok());
    EXPECT_EQ(fd1->inode, out->inode);
  });
}

TEST_F(ExecRuntimeChildTest, ReportsExecFailureThroughPipe) {
  ChildStdio stdio{OpenFile("/run/fifo/a", O_RDONLY), OpenFile("/run/fifo/b", O_WRONLY),
                   OpenFile("/run/fifo/c", O_WRONLY)};
  Result<std::pair<int, int>> error_pipe = kernel_.Pipe(O_CLOEXEC);
  ASSERT_TRUE(error_pipe.ok());
  Result<pid_t> child = kernel_.Fork();
  ASSERT_TRUE(child.ok());

  kernel_.RunAsChild(*child, [&] {
    ExecRuntimeChild(kernel_, {"/usr/bin/missing"}, {}, stdio, error_pipe->second);
  });
  ASSERT_TRUE(kernel_.Close(error_pipe->second).ok());

  char buffer[256];
  Result<size_t> count = kernel_.Read(error_pipe->first, buffer, sizeof(buffer));
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(std::string(buffer, *count), "execve /usr/bin/missing: No such file or directory");
  Result<sys::WaitResult> waited = kernel_.Wait(*child, 0);
  ASSERT_TRUE(waited.ok());
  EXPECT_TRUE(WIFEXITED(waited->status));
  EXPECT_EQ(WEXITSTATUS(waited->status), 127);
}

}  // namespace
}  // namespace reaper::shim
