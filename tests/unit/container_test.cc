#include "runtime/container.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/json.h"
#include "fakes/fake_kernel.h"
#include "runtime/commands.h"
#include "tests/unit/runtime_test_support.h"

namespace reaper {
namespace runtime {
namespace {

using fakes::FakeKernel;

constexpr char kRoot[] = "/run/reaper/runtime";

class ContainerTest : public ::testing::Test {
 protected:
  ContainerTest()
      : store_(kernel_, kRoot),
        overlay_(kernel_, MakeOverlayLayout("/run/reaper/overlay", "/run/reaper/ns", "node")),
        log_(kernel_, LogFormat::kText, false),
        scheduler_(kernel_),
        containers_(kernel_, store_, overlay_, log_, &scheduler_) {}

  void SetUp() override {
    kernel_.WriteFile("/usr/bin/sleep", "", 0755);
    kernel_.WriteFile("/bin/sh", "", 0755);
    WriteBundle("/bundles/sleep", R"({"process":{"args":["sleep","100"],"env":["PATH=/usr/bin:/bin"]},
                                     "annotations":{"k":"v"}})");
    host_mounts_ = HostMounts();
  }

  void WriteBundle(const std::string& bundle, const std::string& config) {
    kernel_.WriteFile(bundle + "/config.json", config);
  }

  std::vector<std::string> HostMounts() {
    return DescribeMounts(kernel_.MountTable(kernel_.host_mount_namespace()));
  }

  // Creates container `id` from /bundles/sleep and returns its pid.
  pid_t CreateSleeper(const std::string& id) {
    Status created = containers_.Create(id, "/bundles/sleep", "/run/" + id + ".pid");
    EXPECT_TRUE(created.ok()) << created.ToString();
    Result<ContainerState> state = store_.Load(id);
    EXPECT_TRUE(state.ok()) << state.status().ToString();
    return state.ok() ? state->pid : 0;
  }

  std::string StatusOf(const std::string& id) {
    Result<std::string> state = containers_.State(id);
    EXPECT_TRUE(state.ok()) << state.status().ToString();
    if (!state.ok()) return "";
    Result<json::Value> document = json::Parse(*state);
    EXPECT_TRUE(document.ok());
    return document.ok() ? document->Find("status")->string_value() : "";
  }

  FakeKernel kernel_;
  StateStore store_;
  OverlayNamespace overlay_;
  RuntimeLog log_;
  FakeChildScheduler scheduler_;
  Containers containers_;
  std::vector<std::string> host_mounts_;
};

TEST_F(ContainerTest, CreateLeavesProcessWaitingAndRecordsState) {
  pid_t pid = CreateSleeper("t1");
  ASSERT_GT(pid, 0);
  EXPECT_EQ(kernel_.Process(pid).state, FakeKernel::ProcessState::kRunning);
  EXPECT_TRUE(kernel_.CallsOf("Execve").empty());
  EXPECT_EQ(kernel_.ReadFileContent("/run/t1.pid"), std::to_string(pid));
  EXPECT_TRUE(kernel_.Exists("/run/reaper/runtime/t1/exec.fifo"));

  Result<ContainerState> state = store_.Load("t1");
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->bundle, "/bundles/sleep");
  EXPECT_EQ(state->start_time, static_cast<uint64_t>(pid));
  EXPECT_EQ(state->created.seconds, 1700000000);
  EXPECT_EQ(state->annotations.at("k"), "v");
  EXPECT_EQ(StatusOf("t1"), "created");
}

TEST_F(ContainerTest, StartExecsWorkload) {
  pid_t pid = CreateSleeper("t1");
  Status started = containers_.Start("t1");
  ASSERT_TRUE(started.ok()) << started.ToString();

  FakeKernel::ProcessInfo process = kernel_.Process(pid);
  EXPECT_EQ(process.state, FakeKernel::ProcessState::kExecuted);
  EXPECT_EQ(process.program, "/usr/bin/sleep");
  EXPECT_EQ(process.argv, (std::vector<std::string>{"sleep", "100"}));
  EXPECT_EQ(kernel_.OpenFds(pid), (std::vector<int>{0, 1, 2}));
  EXPECT_FALSE(kernel_.Exists("/run/reaper/runtime/t1/exec.fifo"));
  EXPECT_EQ(StatusOf("t1"), "running");
}

TEST_F(ContainerTest, StartOfRunningContainerFails) {
  CreateSleeper("t1");
  ASSERT_TRUE(containers_.Start("t1").ok());
  Status again = containers_.Start("t1");
  EXPECT_EQ(again.code(), Code::kFailedPrecondition);
  EXPECT_EQ(again.message(), "start container t1: container t1 is running, not created");
}

TEST_F(ContainerTest, StartReportsExecveFailure) {
  CreateSleeper("t1");
  kernel_.FailNext("Execve", ENOEXEC);
  Status started = containers_.Start("t1");
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.message(), "start container t1: exec \"sleep\": Exec format error");
}

TEST_F(ContainerTest, StartOfProcessThatDiedFails) {
  pid_t pid = CreateSleeper("t1");
  kernel_.ExitProcess(pid, 0);
  Status started = containers_.Start("t1");
  EXPECT_EQ(started.code(), Code::kFailedPrecondition);
  EXPECT_EQ(started.message(), "start container t1: container t1 is stopped, not created");
}

TEST_F(ContainerTest, OverlayFailureLeavesNothing) {
  kernel_.FailNextMatching("Mount", "overlay", ENODEV);
  Status created = containers_.Create("t1", "/bundles/sleep", "/run/t1.pid");
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.message().rfind("create container t1: the overlay is mandatory and could "
                                    "not be mounted, so nothing was started: ",
                                    0),
            0u)
      << created.message();
  EXPECT_FALSE(kernel_.Exists("/run/reaper/runtime/t1"));
  EXPECT_FALSE(kernel_.Exists("/run/t1.pid"));
  EXPECT_FALSE(overlay_.IsPinned());
  EXPECT_TRUE(kernel_.Children(FakeKernel::kTestPid).empty());
  EXPECT_EQ(HostMounts(), host_mounts_);
}

TEST_F(ContainerTest, MissingBinaryFailsCreate) {
  WriteBundle("/bundles/missing", R"({"process":{"args":["/nonexistent"]}})");
  Status created = containers_.Create("t1", "/bundles/missing", "");
  EXPECT_EQ(created.code(), Code::kNotFound);
  EXPECT_EQ(created.message(),
            "create container t1: exec \"/nonexistent\": No such file or directory");
  EXPECT_FALSE(kernel_.Exists("/run/reaper/runtime/t1"));
  EXPECT_TRUE(kernel_.Children(FakeKernel::kTestPid).empty());
  EXPECT_EQ(HostMounts(), host_mounts_);
}

TEST_F(ContainerTest, BadCwdFailsCreate) {
  WriteBundle("/bundles/cwd", R"({"process":{"args":["sleep"],"cwd":"/missing/dir"}})");
  Status created = containers_.Create("t1", "/bundles/cwd", "");
  EXPECT_EQ(created.message(),
            "create container t1: set working directory: chdir /missing/dir: No such file or "
            "directory");
  EXPECT_FALSE(kernel_.Exists("/run/reaper/runtime/t1"));
}

TEST_F(ContainerTest, ConfigErrorsFailCreateBeforeAnyState) {
  WriteBundle("/bundles/empty", R"({"process":{"args":[]}})");
  Status empty = containers_.Create("t1", "/bundles/empty", "");
  EXPECT_EQ(empty.code(), Code::kInvalidArgument);
  EXPECT_EQ(empty.message(), "create container t1: config.json: process.args is empty");

  Status missing = containers_.Create("t1", "/bundles/none", "");
  EXPECT_EQ(missing.code(), Code::kNotFound);
  EXPECT_EQ(missing.message(),
            "create container t1: read config.json in bundle /bundles/none: open "
            "/bundles/none/config.json: No such file or directory");

  WriteBundle("/bundles/tty", R"({"process":{"args":["sh"],"terminal":true}})");
  Status terminal = containers_.Create("t1", "/bundles/tty", "");
  EXPECT_EQ(terminal.code(), Code::kUnimplemented);
  EXPECT_TRUE(kernel_.CallsOf("Fork").empty());
  EXPECT_FALSE(kernel_.Exists("/run/reaper/runtime/t1"));
}

TEST_F(ContainerTest, CreateOfExistingIdFails) {
  CreateSleeper("t1");
  Status again = containers_.Create("t1", "/bundles/sleep", "");
  EXPECT_EQ(again.code(), Code::kAlreadyExists);
  EXPECT_EQ(again.message(), "create container t1: container t1 already exists");
  EXPECT_TRUE(kernel_.Exists("/run/reaper/runtime/t1/state.json"));
}

TEST_F(ContainerTest, InvalidIdIsRejectedEverywhere) {
  const std::string expected = "invalid container id \"..\": \".\" and \"..\" are not allowed";
  EXPECT_EQ(containers_.Create("..", "/bundles/sleep", "").message(), expected);
  EXPECT_EQ(containers_.Start("..").message(), expected);
  EXPECT_EQ(containers_.State("..").status().message(), expected);
  EXPECT_EQ(containers_.Kill("..", SIGTERM, false).message(), expected);
  EXPECT_EQ(containers_.Delete("..", true).message(), expected);
  EXPECT_EQ(containers_.Exec("..", "/p.json", "", true).status().message(), expected);
}

TEST_F(ContainerTest, RelativeBundleIsResolvedFromWorkingDirectory) {
  ASSERT_TRUE(kernel_.Chdir("/bundles").ok());
  ASSERT_TRUE(containers_.Create("t1", "sleep", "").ok());
  EXPECT_EQ(store_.Load("t1")->bundle, "/bundles/sleep");
}

TEST_F(ContainerTest, KillSignalsProcess) {
  pid_t pid = CreateSleeper("t1");
  ASSERT_TRUE(containers_.Start("t1").ok());
  ASSERT_TRUE(containers_.Kill("t1", SIGKILL, false).ok());
  FakeKernel::ProcessInfo process = kernel_.Process(pid);
  EXPECT_EQ(process.state, FakeKernel::ProcessState::kZombie);
  EXPECT_TRUE(WIFSIGNALED(process.wait_status));
  EXPECT_EQ(WTERMSIG(process.wait_status), SIGKILL);
  EXPECT_EQ(StatusOf("t1"), "stopped");

  Status again = containers_.Kill("t1", SIGKILL, false);
  EXPECT_EQ(again.code(), Code::kFailedPrecondition);
  EXPECT_EQ(again.message(),
            "kill container t1: process " + std::to_string(pid) + " is not running");
}

TEST_F(ContainerTest, KillAllSignalsProcessGroup) {
  pid_t pid = CreateSleeper("t1");
  ASSERT_TRUE(containers_.Start("t1").ok());
  kernel_.ClearCalls();
  ASSERT_TRUE(containers_.Kill("t1", SIGTERM, true).ok());
  EXPECT_EQ(kernel_.CallsOf("Kill"),
            (std::vector<std::string>{"Kill -" + std::to_string(pid) + " 15"}));
  EXPECT_EQ(kernel_.Process(pid).state, FakeKernel::ProcessState::kZombie);

  // The group is gone now: signaling it again is not an error.
  ASSERT_TRUE(kernel_.Wait(pid, 0).ok());
  EXPECT_TRUE(containers_.Kill("t1", SIGTERM, true).ok());
}

TEST_F(ContainerTest, DeleteOfCreatedContainerKillsIt) {
  pid_t pid = CreateSleeper("t1");
  ASSERT_TRUE(containers_.Delete("t1", false).ok());
  EXPECT_EQ(kernel_.Process(pid).state, FakeKernel::ProcessState::kZombie);
  EXPECT_FALSE(kernel_.Exists("/run/reaper/runtime/t1"));
  EXPECT_TRUE(overlay_.IsPinned());
}

TEST_F(ContainerTest, DeleteOfRunningContainerNeedsForce) {
  pid_t pid = CreateSleeper("t1");
  ASSERT_TRUE(containers_.Start("t1").ok());
  Status refused = containers_.Delete("t1", false);
  EXPECT_EQ(refused.code(), Code::kFailedPrecondition);
  EXPECT_EQ(refused.message(),
            "delete container t1: container t1 is running, not stopped or created (use --force "
            "to kill it)");
  EXPECT_TRUE(kernel_.Exists("/run/reaper/runtime/t1"));

  ASSERT_TRUE(containers_.Delete("t1", true).ok());
  EXPECT_EQ(kernel_.Process(pid).state, FakeKernel::ProcessState::kZombie);
  EXPECT_EQ(WTERMSIG(kernel_.Process(pid).wait_status), SIGKILL);
  EXPECT_FALSE(kernel_.Exists("/run/reaper/runtime/t1"));
}

TEST_F(ContainerTest, DeleteOfStoppedContainerRemovesState) {
  pid_t pid = CreateSleeper("t1");
  ASSERT_TRUE(containers_.Start("t1").ok());
  kernel_.ExitProcess(pid, 0);
  kernel_.ClearCalls();
  ASSERT_TRUE(containers_.Delete("t1", false).ok());
  EXPECT_TRUE(kernel_.CallsOf("Kill").empty());
  EXPECT_FALSE(kernel_.Exists("/run/reaper/runtime/t1"));
}

TEST_F(ContainerTest, DeleteOfUnknownIdNeedsForce) {
  Status missing = containers_.Delete("nope", false);
  EXPECT_EQ(missing.code(), Code::kNotFound);
  EXPECT_EQ(missing.message(), "delete container nope: container nope does not exist");
  EXPECT_TRUE(containers_.Delete("nope", true).ok());
}

TEST_F(ContainerTest, ExecDetachedRunsInContainerNamespace) {
  pid_t pid = CreateSleeper("t1");
  ASSERT_TRUE(containers_.Start("t1").ok());
  kernel_.WriteFile("/tmp/p.json", R"({"args":["sh","-c","true"],"env":["PATH=/bin"],"cwd":"/tmp"})");

  Result<int> status = containers_.Exec("t1", "/tmp/p.json", "/run/e.pid", true);
  ASSERT_TRUE(status.ok()) << status.status().ToString();
  EXPECT_EQ(*status, 0);
  pid_t exec_pid = std::stoi(kernel_.ReadFileContent("/run/e.pid"));
  FakeKernel::ProcessInfo process = kernel_.Process(exec_pid);
  EXPECT_EQ(process.state, FakeKernel::ProcessState::kExecuted);
  EXPECT_EQ(process.program, "/bin/sh");
  EXPECT_EQ(process.cwd, "/tmp");
  EXPECT_EQ(process.mount_namespace, kernel_.MountNamespaceOf(pid));
}

TEST_F(ContainerTest, ExecWaitsAndReturnsExitStatus) {
  CreateSleeper("t1");
  kernel_.WriteFile("/tmp/p.json", R"({"args":["sh"],"env":["PATH=/bin"]})");
  scheduler_.ExitProgramsWith(7);
  Result<int> status = containers_.Exec("t1", "/tmp/p.json", "", false);
  ASSERT_TRUE(status.ok()) << status.status().ToString();
  EXPECT_EQ(*status, 7);
}

TEST_F(ContainerTest, ExecInStoppedContainerFails) {
  pid_t pid = CreateSleeper("t1");
  kernel_.ExitProcess(pid, 0);
  kernel_.WriteFile("/tmp/p.json", R"({"args":["sh"]})");
  Result<int> status = containers_.Exec("t1", "/tmp/p.json", "", true);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.status().message(),
            "exec in container t1: container t1 is stopped, not created or running");
}

TEST_F(ContainerTest, ExecReportsMissingBinary) {
  CreateSleeper("t1");
  kernel_.WriteFile("/tmp/p.json", R"({"args":["/nonexistent"]})");
  Result<int> status = containers_.Exec("t1", "/tmp/p.json", "/run/e.pid", true);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.status().message(),
            "exec in container t1: exec \"/nonexistent\": No such file or directory");
  EXPECT_FALSE(kernel_.Exists("/run/e.pid"));
}

TEST_F(ContainerTest, SecondContainerJoinsFirstNamespace) {
  pid_t first = CreateSleeper("t1");
  kernel_.ClearCalls();
  pid_t second = CreateSleeper("t2");
  EXPECT_EQ(kernel_.MountNamespaceOf(second), kernel_.MountNamespaceOf(first));
  EXPECT_TRUE(kernel_.CallsOf("Unshare").empty());
}

// The whole program: command line, config, log and exit status.
class RuntimeCommandTest : public ContainerTest {
 protected:
  int Run(const std::vector<std::string>& arguments) {
    return RunRuntime(kernel_, arguments, {{"REAPER_STATE_DIR", "/run/reaper"}}, &scheduler_);
  }
};

TEST_F(RuntimeCommandTest, CreateAndStartSucceed) {
  EXPECT_EQ(Run({"create", "--bundle", "/bundles/sleep", "--pid-file", "/run/t1.pid", "t1"}), 0);
  EXPECT_EQ(Run({"start", "t1"}), 0);
  pid_t pid = std::stoi(kernel_.ReadFileContent("/run/t1.pid"));
  EXPECT_EQ(kernel_.Process(pid).state, FakeKernel::ProcessState::kExecuted);
}

TEST_F(RuntimeCommandTest, ErrorIsJsonLogLine) {
  EXPECT_EQ(Run({"--log", "/run/runtime.log", "--log-format", "json", "delete", "nope"}), 1);
  std::string line = kernel_.ReadFileContent("/run/runtime.log");
  ASSERT_FALSE(line.empty());
  EXPECT_EQ(line.back(), '\n');
  Result<json::Value> parsed = json::Parse(line);
  ASSERT_TRUE(parsed.ok()) << line;
  EXPECT_EQ(parsed->Find("level")->string_value(), "error");
  EXPECT_EQ(parsed->Find("msg")->string_value(),
            "delete container nope: container nope does not exist");
  EXPECT_EQ(parsed->Find("time")->string_value(), "2023-11-14T22:13:20.000000000Z");
}

TEST_F(RuntimeCommandTest, ErrorIsTextLogLine) {
  EXPECT_EQ(Run({"--log=/run/runtime.log", "start", "nope"}), 1);
  EXPECT_EQ(kernel_.ReadFileContent("/run/runtime.log"),
            "time=\"2023-11-14T22:13:20.000000000Z\" level=error msg=\"start container nope: "
            "container nope does not exist\"\n");
}

TEST_F(RuntimeCommandTest, ConsoleSocketIsUnimplemented) {
  EXPECT_EQ(Run({"--log", "/run/runtime.log", "create", "--bundle", "/bundles/sleep",
                 "--console-socket", "/run/console.sock", "t1"}),
            1);
  EXPECT_NE(kernel_.ReadFileContent("/run/runtime.log")
                .find("--console-socket is not supported: reaper-runtime has no terminal "
                      "support yet"),
            std::string::npos);
  EXPECT_FALSE(kernel_.Exists("/run/reaper/runtime/t1"));
}

TEST_F(RuntimeCommandTest, DebugLogsNamespaceAndLifecycle) {
  ASSERT_EQ(Run({"--debug", "--log", "/run/runtime.log", "create", "--bundle", "/bundles/sleep",
                 "t1"}),
            0);
  ASSERT_EQ(Run({"--debug", "--log", "/run/runtime.log", "create", "--bundle", "/bundles/sleep",
                 "t2"}),
            0);
  std::string log = kernel_.ReadFileContent("/run/runtime.log");
  EXPECT_NE(log.find("level=debug msg=\"created and pinned the overlay namespace\" id=t1"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("level=debug msg=\"joined the overlay namespace\" id=t2"), std::string::npos)
      << log;
  EXPECT_NE(log.find("level=debug msg=\"container created\" id=t2"), std::string::npos) << log;
}

TEST_F(RuntimeCommandTest, DebugLinesNeedDebugFlag) {
  ASSERT_EQ(Run({"--log", "/run/runtime.log", "create", "--bundle", "/bundles/sleep", "t1"}), 0);
  EXPECT_EQ(kernel_.ReadFileContent("/run/runtime.log"), "");
}

TEST_F(RuntimeCommandTest, UsageErrorExitsWithTwo) {
  EXPECT_EQ(Run({"create"}), 2);
  EXPECT_EQ(Run({"frobnicate", "t1"}), 2);
}

TEST_F(RuntimeCommandTest, StatePrintsToStdout) {
  ASSERT_EQ(Run({"create", "--bundle", "/bundles/sleep", "t1"}), 0);
  Result<int> out = kernel_.Open("/run/state.out", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  ASSERT_TRUE(out.ok());
  ASSERT_TRUE(kernel_.Dup3(*out, 1, 0).ok());
  EXPECT_EQ(Run({"state", "t1"}), 0);
  std::string printed = kernel_.ReadFileContent("/run/state.out");
  EXPECT_NE(printed.find("\"id\":\"t1\",\"status\":\"created\""), std::string::npos) << printed;
}

TEST_F(RuntimeCommandTest, RootFlagOverridesConfig) {
  ASSERT_EQ(Run({"--root", "/var/lib/reaper-state", "create", "--bundle", "/bundles/sleep", "t1"}),
            0);
  EXPECT_TRUE(kernel_.Exists("/var/lib/reaper-state/t1/state.json"));
  EXPECT_FALSE(kernel_.Exists("/run/reaper/runtime/t1"));
}

}  // namespace
}  // namespace runtime
}  // namespace reaper
