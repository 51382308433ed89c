// Root tests of the reaper-runtime binary on the real kernel: the whole
// create / start / state / kill / delete / exec cycle in a private overlay
// namespace under a temporary state directory.
//
// The binary is $REAPER_TEST_BUILD/reaper-runtime (default build/). Each
// test gets its own mkdtemp directory for REAPER_STATE_DIR, so its namespace
// is its own; TearDown unmounts the pin and the self-bind of the namespace
// directory and removes the directory.
#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/json.h"
#include "sys/linux_kernel.h"

namespace reaper {
namespace {

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

void WriteText(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
}

bool PathExists(const std::string& path) {
  struct stat info;
  return ::lstat(path.c_str(), &info) == 0;
}

std::string BuildDir() {
  const char* build = std::getenv("REAPER_TEST_BUILD");
  return build != nullptr && *build != '\0' ? build : "build";
}

// The mount lines of /proc/self/mountinfo without their ids, which change
// when anything remounts, keyed by mount point.
std::multiset<std::string> MountPoints() {
  std::multiset<std::string> points;
  std::istringstream lines(ReadText("/proc/self/mountinfo"));
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::string id, parent, device, root, mount_point;
    fields >> id >> parent >> device >> root >> mount_point;
    points.insert(mount_point);
  }
  return points;
}

void ExpectExitedWith(int wait_status, int code) {
  EXPECT_TRUE(WIFEXITED(wait_status)) << "wait status " << wait_status;
  EXPECT_EQ(WEXITSTATUS(wait_status), code);
}

void ExpectKilledBy(int wait_status, int signal) {
  EXPECT_TRUE(WIFSIGNALED(wait_status)) << "wait status " << wait_status;
  EXPECT_EQ(WTERMSIG(wait_status), signal);
}

struct RunResult {
  int exit_status = -1;
  std::string stderr_text;
};

class RuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    runtime_ = BuildDir() + "/reaper-runtime";
    ASSERT_EQ(::access(runtime_.c_str(), X_OK), 0) << runtime_ << " is missing: build it first";

    char pattern[] = "/tmp/reaper-runtime-test.XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    base_ = pattern;
    WriteText(base_ + "/reaper.conf", "# empty: the environment sets every key\n");
    environment_ = {{"REAPER_CONFIG", base_ + "/reaper.conf"},
                    {"REAPER_STATE_DIR", base_ + "/state"},
                    {"PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}};
    Result<Config> config = ParseConfig("", "", environment_);
    ASSERT_TRUE(config.ok()) << config.status().ToString();
    config_ = *config;

    // Workloads outlive the reaper-runtime that created them; as a
    // subreaper this process gets them back and can wait for them.
    ASSERT_TRUE(kernel_.SetChildSubreaper().ok());
    mounts_before_ = MountPoints();
  }

  void TearDown() override {
    if (base_.empty()) return;
    for (pid_t pid : workloads_) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {
    }
    ::umount2((config_.ns_dir + "/node").c_str(), MNT_DETACH);
    ::umount2(config_.ns_dir.c_str(), MNT_DETACH);
    std::string remove = "rm -rf '" + base_ + "'";
    EXPECT_EQ(std::system(remove.c_str()), 0);
    EXPECT_EQ(MountPoints(), mounts_before_);
  }

  // Runs reaper-runtime with `arguments`; its stdout goes to `stdout_path`
  // (or /dev/null), its stderr is returned.
  RunResult Run(const std::vector<std::string>& arguments, const std::string& stdout_path = "") {
    std::string stderr_path = base_ + "/stderr";
    pid_t pid = ::fork();
    if (pid == 0) {
      int in = ::open("/dev/null", O_RDONLY);
      int out = ::open(stdout_path.empty() ? "/dev/null" : stdout_path.c_str(),
                       O_WRONLY | O_CREAT | O_APPEND, 0644);
      int err = ::open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (in < 0 || out < 0 || err < 0) ::_exit(120);
      ::dup2(in, 0);
      ::dup2(out, 1);
      ::dup2(err, 2);
      std::vector<std::string> env_strings;
      for (const auto& [name, value] : environment_) env_strings.push_back(name + "=" + value);
      std::vector<char*> argv{const_cast<char*>(runtime_.c_str())};
      for (const std::string& argument : arguments) argv.push_back(const_cast<char*>(argument.c_str()));
      argv.push_back(nullptr);
      std::vector<char*> envp;
      for (std::string& entry : env_strings) envp.push_back(entry.data());
      envp.push_back(nullptr);
      ::execve(runtime_.c_str(), argv.data(), envp.data());
      ::_exit(121);
    }
    RunResult result;
    int status = 0;
    EXPECT_EQ(::waitpid(pid, &status, 0), pid);
    result.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    result.stderr_text = ReadText(stderr_path);
    return result;
  }

  std::string MakeBundle(const std::string& name, const std::vector<std::string>& args) {
    std::string bundle = base_ + "/" + name;
    EXPECT_EQ(::mkdir(bundle.c_str(), 0700), 0);
    json::Value arg_values = json::Value::MakeArray();
    for (const std::string& arg : args) arg_values.array().push_back(json::Value::String(arg));
    WriteText(bundle + "/config.json",
              "{\"ociVersion\":\"1.0.2\",\"process\":{\"args\":" + json::Write(arg_values) +
                  ",\"env\":[\"PATH=/usr/bin:/bin\"],\"cwd\":\"/\"},\"root\":{\"path\":\"rootfs\"},"
                  "\"annotations\":{\"test\":\"" + name + "\"}}");
    return bundle;
  }

  // Creates container `id` from `bundle` with stdout to `stdout_path`;
  // returns the workload's pid.
  pid_t Create(const std::string& id, const std::string& bundle, const std::string& stdout_path) {
    std::string pid_file = base_ + "/" + id + ".pid";
    RunResult created = Run({"create", "--bundle", bundle, "--pid-file", pid_file, id}, stdout_path);
    EXPECT_EQ(created.exit_status, 0) << created.stderr_text;
    pid_t pid = static_cast<pid_t>(std::atoi(ReadText(pid_file).c_str()));
    EXPECT_GT(pid, 0);
    if (pid > 0) workloads_.insert(pid);
    return pid;
  }

  // Waits for a workload and returns its raw wait status.
  int WaitFor(pid_t pid) {
    int status = 0;
    EXPECT_EQ(::waitpid(pid, &status, 0), pid);
    workloads_.erase(pid);
    return status;
  }

  json::Value State(const std::string& id) {
    std::string out = base_ + "/state-" + id + ".json";
    ::unlink(out.c_str());
    RunResult result = Run({"state", id}, out);
    EXPECT_EQ(result.exit_status, 0) << result.stderr_text;
    Result<json::Value> state = json::Parse(ReadText(out));
    EXPECT_TRUE(state.ok()) << state.status().ToString();
    return state.ok() ? *state : json::Value();
  }

  std::string StatusOf(const std::string& id) {
    json::Value state = State(id);
    const json::Value* status = state.Find("status");
    return status != nullptr ? status->string_value() : "";
  }

  sys::LinuxKernel kernel_;
  std::string runtime_;
  std::string base_;
  Environment environment_;
  Config config_;
  std::multiset<std::string> mounts_before_;
  std::set<pid_t> workloads_;
};

TEST_F(RuntimeTest, CreateStartRunsInOverlay) {
  const std::string marker = "/etc/reaper-root-test";
  ASSERT_FALSE(PathExists(marker)) << marker << " exists on the host before the test";
  std::string bundle = MakeBundle(
      "b1", {"/bin/sh", "-c", "echo hi > " + marker + "; cat " + marker});
  std::string output = base_ + "/t1.out";

  pid_t pid = Create("t1", bundle, output);
  EXPECT_EQ(StatusOf("t1"), "created");
  json::Value created = State("t1");
  EXPECT_EQ(created.Find("id")->string_value(), "t1");
  EXPECT_EQ(created.Find("pid")->integer_value(), pid);
  EXPECT_EQ(created.Find("bundle")->string_value(), bundle);
  EXPECT_EQ(created.Find("ociVersion")->string_value(), "1.0.2");
  EXPECT_EQ(created.Find("annotations")->Find("test")->string_value(), "b1");
  EXPECT_EQ(ReadText(output), "") << "the workload ran before start";

  RunResult started = Run({"start", "t1"});
  ASSERT_EQ(started.exit_status, 0) << started.stderr_text;
  int status = WaitFor(pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(ReadText(output), "hi\n");
  EXPECT_FALSE(PathExists(marker)) << "the workload's write reached the host";
  EXPECT_TRUE(PathExists(config_.overlay_base + "/node/upper" + marker));
  EXPECT_EQ(StatusOf("t1"), "stopped");

  // The host's mount table gains only the pin and the self-bind of its
  // directory.
  std::multiset<std::string> expected = mounts_before_;
  expected.insert(config_.ns_dir);
  expected.insert(config_.ns_dir + "/node");
  EXPECT_EQ(MountPoints(), expected);

  RunResult deleted = Run({"delete", "t1"});
  EXPECT_EQ(deleted.exit_status, 0) << deleted.stderr_text;
  EXPECT_FALSE(PathExists(config_.runtime_root + "/t1"));
}

TEST_F(RuntimeTest, SecondContainerJoinsSameNamespace) {
  const std::string marker = "/etc/reaper-root-test";
  std::string writer = MakeBundle("writer", {"/bin/sh", "-c", "echo shared > " + marker});
  pid_t first = Create("w", writer, base_ + "/w.out");
  ASSERT_EQ(Run({"start", "w"}).exit_status, 0);
  WaitFor(first);

  std::string reader = MakeBundle("reader", {"cat", marker});
  std::string output = base_ + "/r.out";
  pid_t second = Create("r", reader, output);
  ASSERT_EQ(Run({"start", "r"}).exit_status, 0);
  int status = WaitFor(second);
  ExpectExitedWith(status, 0);
  EXPECT_EQ(ReadText(output), "shared\n");
  EXPECT_FALSE(PathExists(marker));
}

TEST_F(RuntimeTest, MissingBinaryFailsCreate) {
  std::string bundle = MakeBundle("missing", {"/nonexistent"});
  RunResult created = Run({"create", "--bundle", bundle, "t3"});
  EXPECT_EQ(created.exit_status, 1);
  EXPECT_EQ(created.stderr_text,
            "reaper-runtime: create container t3: exec \"/nonexistent\": No such file or "
            "directory\n");
  EXPECT_FALSE(PathExists(config_.runtime_root + "/t3"));
  // The failed first workload took its new namespace and pin with it.
  EXPECT_EQ(MountPoints(), mounts_before_);
}

TEST_F(RuntimeTest, ErrorGoesToJsonLog) {
  std::string bundle = MakeBundle("missing", {"no-such-program"});
  std::string log = base_ + "/runtime.log";
  RunResult created =
      Run({"--log", log, "--log-format", "json", "create", "--bundle", bundle, "t4"});
  EXPECT_EQ(created.exit_status, 1);
  EXPECT_EQ(created.stderr_text, "");

  std::string text = ReadText(log);
  ASSERT_FALSE(text.empty());
  Result<json::Value> line = json::Parse(text.substr(0, text.size() - 1));
  ASSERT_TRUE(line.ok()) << text;
  EXPECT_EQ(line->Find("level")->string_value(), "error");
  EXPECT_EQ(line->Find("msg")->string_value(),
            "create container t4: exec \"no-such-program\": No such file or directory");
  EXPECT_NE(line->Find("time"), nullptr);
}

TEST_F(RuntimeTest, StartTwiceFails) {
  std::string bundle = MakeBundle("sleeper", {"sleep", "100"});
  pid_t pid = Create("s", bundle, "");
  ASSERT_EQ(Run({"start", "s"}).exit_status, 0);
  EXPECT_EQ(StatusOf("s"), "running");

  RunResult again = Run({"start", "s"});
  EXPECT_EQ(again.exit_status, 1);
  EXPECT_EQ(again.stderr_text,
            "reaper-runtime: start container s: container s is running, not created\n");

  ASSERT_EQ(Run({"kill", "s", "KILL"}).exit_status, 0);
  int status = WaitFor(pid);
  ExpectKilledBy(status, SIGKILL);
  EXPECT_EQ(StatusOf("s"), "stopped");
}

TEST_F(RuntimeTest, KillAllSignalsProcessGroup) {
  std::string bundle =
      MakeBundle("group", {"/bin/sh", "-c", "sleep 100 & echo started; wait"});
  // The workload's stdout is a FIFO that this test reads, so the test learns
  // when the background sleep exists. O_RDWR keeps the open from blocking.
  std::string fifo = base_ + "/g.out";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  int output = ::open(fifo.c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(output, 0);
  pid_t pid = Create("g", bundle, fifo);
  ASSERT_EQ(Run({"start", "g"}).exit_status, 0);
  char started[8] = {};
  EXPECT_EQ(::read(output, started, sizeof(started)), 8);
  EXPECT_EQ(std::string(started, 8), "started\n");
  ::close(output);

  RunResult killed = Run({"kill", "--all", "g", "SIGKILL"});
  EXPECT_EQ(killed.exit_status, 0) << killed.stderr_text;
  int status = WaitFor(pid);
  ExpectKilledBy(status, SIGKILL);
  // The background sleep was in the group too; it comes back to this
  // subreaper, killed by the same signal.
  int child_status = 0;
  pid_t child = ::waitpid(-1, &child_status, 0);
  EXPECT_GT(child, 0);
  ExpectKilledBy(child_status, SIGKILL);
}

TEST_F(RuntimeTest, DeleteNeedsForceForRunningContainer) {
  std::string bundle = MakeBundle("sleeper", {"sleep", "100"});
  pid_t pid = Create("d", bundle, "");
  ASSERT_EQ(Run({"start", "d"}).exit_status, 0);

  RunResult refused = Run({"delete", "d"});
  EXPECT_EQ(refused.exit_status, 1);
  EXPECT_NE(refused.stderr_text.find("container d is running"), std::string::npos)
      << refused.stderr_text;

  RunResult forced = Run({"delete", "--force", "d"});
  EXPECT_EQ(forced.exit_status, 0) << forced.stderr_text;
  int status = WaitFor(pid);
  ExpectKilledBy(status, SIGKILL);
  EXPECT_FALSE(PathExists(config_.runtime_root + "/d"));

  RunResult missing = Run({"delete", "d"});
  EXPECT_EQ(missing.exit_status, 1);
  EXPECT_EQ(missing.stderr_text,
            "reaper-runtime: delete container d: container d does not exist\n");
  EXPECT_EQ(Run({"delete", "--force", "d"}).exit_status, 0);
}

TEST_F(RuntimeTest, ExecRunsInContainerNamespace) {
  std::string writer =
      MakeBundle("writer", {"/bin/sh", "-c", "echo inside > /etc/reaper-root-test"});
  pid_t first = Create("w", writer, "");
  ASSERT_EQ(Run({"start", "w"}).exit_status, 0);
  WaitFor(first);

  std::string bundle = MakeBundle("sleeper", {"sleep", "100"});
  pid_t pid = Create("e", bundle, "");
  ASSERT_EQ(Run({"start", "e"}).exit_status, 0);

  std::string process = base_ + "/process.json";
  WriteText(process,
            R"({"args":["/bin/sh","-c","cat /etc/reaper-root-test; pwd; exit 7"],"env":["PATH=/bin"],"cwd":"/tmp"})");
  std::string output = base_ + "/exec.out";
  RunResult exec = Run({"exec", "--process", process, "e"}, output);
  EXPECT_EQ(exec.exit_status, 7) << exec.stderr_text;
  EXPECT_EQ(ReadText(output), "inside\n/tmp\n");

  std::string pid_file = base_ + "/exec.pid";
  WriteText(process, R"({"args":["sleep","100"],"cwd":"/"})");
  RunResult detached = Run({"exec", "--process", process, "--detach", "--pid-file", pid_file, "e"});
  EXPECT_EQ(detached.exit_status, 0) << detached.stderr_text;
  pid_t exec_pid = static_cast<pid_t>(std::atoi(ReadText(pid_file).c_str()));
  ASSERT_GT(exec_pid, 0);
  workloads_.insert(exec_pid);
  EXPECT_EQ(ReadText("/proc/" + std::to_string(exec_pid) + "/cmdline"), std::string("sleep\0" "100", 10));

  WriteText(process, R"({"args":["/nonexistent"],"cwd":"/"})");
  RunResult failed = Run({"exec", "--process", process, "--detach", "e"});
  EXPECT_EQ(failed.exit_status, 1);
  EXPECT_EQ(failed.stderr_text,
            "reaper-runtime: exec in container e: exec \"/nonexistent\": No such file or "
            "directory\n");

  ASSERT_EQ(Run({"kill", "--all", "e", "KILL"}).exit_status, 0);
  WaitFor(pid);
}

TEST_F(RuntimeTest, BadCwdFailsCreate) {
  std::string bundle = base_ + "/badcwd";
  ASSERT_EQ(::mkdir(bundle.c_str(), 0700), 0);
  WriteText(bundle + "/config.json",
            R"({"process":{"args":["/bin/true"],"cwd":"/nonexistent-dir"}})");
  RunResult created = Run({"create", "--bundle", bundle, "c"});
  EXPECT_EQ(created.exit_status, 1);
  EXPECT_EQ(created.stderr_text,
            "reaper-runtime: create container c: set working directory: chdir "
            "/nonexistent-dir: No such file or directory\n");
  EXPECT_FALSE(PathExists(config_.runtime_root + "/c"));
}

TEST_F(RuntimeTest, WorkloadRunsAsConfiguredUser) {
  std::string bundle = base_ + "/user";
  ASSERT_EQ(::mkdir(bundle.c_str(), 0700), 0);
  WriteText(bundle + "/config.json",
            R"({"process":{"args":["/bin/sh","-c","id -u; id -g; id -G; cat /proc/self/oom_score_adj; pwd"],)"
            R"("user":{"uid":65534,"gid":65534,"additionalGids":[100]},"cwd":"/tmp",)"
            R"("oomScoreAdj":123,"env":["PATH=/usr/bin:/bin"]}})");
  std::string output = base_ + "/user.out";
  pid_t pid = Create("u", bundle, output);
  ASSERT_EQ(Run({"start", "u"}).exit_status, 0);
  int status = WaitFor(pid);
  ExpectExitedWith(status, 0);
  EXPECT_EQ(ReadText(output), "65534\n65534\n65534 100\n123\n/tmp\n");
}

TEST_F(RuntimeTest, UsageErrorExitsWithTwo) {
  RunResult result = Run({"create", "--bundel", "/b", "t1"});
  EXPECT_EQ(result.exit_status, 2);
  EXPECT_EQ(result.stderr_text,
            "reaper-runtime: unknown flag --bundel for create\nRun 'reaper-runtime --help' for "
            "usage.\n");
}

TEST_F(RuntimeTest, InvalidIdIsRejected) {
  RunResult result = Run({"state", ".."});
  EXPECT_EQ(result.exit_status, 1);
  EXPECT_EQ(result.stderr_text,
            "reaper-runtime: invalid container id \"..\": \".\" and \"..\" are not allowed\n");
}

}  // namespace
}  // namespace reaper
