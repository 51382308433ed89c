#include "shim/task_service.h"

#include <fcntl.h>
#include <signal.h>

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "common/log.h"
#include "containerd/events/task.pb.h"
#include "fakes/fake_kernel.h"
#include "shim/exit_reaper.h"
#include "tests/unit/shim_test_fakes.h"

namespace reaper::shim {
namespace {

namespace events = ::containerd::events;
namespace types = ::containerd::v1::types;

constexpr char kWorkDir[] = "/run/reaper/shim/default";
constexpr char kSpec[] = "{\"args\":[\"/bin/true\"],\"cwd\":\"/\"}";

class TaskServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(kernel_.SetChildSubreaper().ok());
    ASSERT_TRUE(reaper_.Open().ok());
  }

  static std::string BundleOf(const std::string& id) { return "/run/bundles/" + id; }

  void WriteBundle(const std::string& id, const std::string& annotations = "{}") {
    kernel_.WriteFile(BundleOf(id) + "/config.json",
                      "{\"ociVersion\":\"1.0.2\",\"annotations\":" + annotations + "}");
  }

  task::CreateTaskRequest CreateRequest(const std::string& id) {
    task::CreateTaskRequest request;
    request.set_id(id);
    request.set_bundle(BundleOf(id));
    return request;
  }

  pid_t CreateTask(const std::string& id) {
    WriteBundle(id);
    Result<task::CreateTaskResponse> response = service_.Create(CreateRequest(id));
    EXPECT_TRUE(response.ok()) << response.status().ToString();
    return response.ok() ? static_cast<pid_t>(response->pid()) : 0;
  }

  Result<task::StartResponse> Start(const std::string& id, const std::string& exec_id = "") {
    task::StartRequest request;
    request.set_id(id);
    request.set_exec_id(exec_id);
    return service_.Start(request);
  }

  pid_t StartTask(const std::string& id, const std::string& exec_id = "") {
    Result<task::StartResponse> response = Start(id, exec_id);
    EXPECT_TRUE(response.ok()) << response.status().ToString();
    return response.ok() ? static_cast<pid_t>(response->pid()) : 0;
  }

  Result<task::StateResponse> State(const std::string& id, const std::string& exec_id = "") {
    task::StateRequest request;
    request.set_id(id);
    request.set_exec_id(exec_id);
    return service_.State(request);
  }

  Result<Empty> Kill(const std::string& id, int signal, bool all = false,
                     const std::string& exec_id = "") {
    task::KillRequest request;
    request.set_id(id);
    request.set_exec_id(exec_id);
    request.set_signal(static_cast<uint32_t>(signal));
    request.set_all(all);
    return service_.Kill(request);
  }

  Result<task::DeleteResponse> Delete(const std::string& id, const std::string& exec_id = "") {
    task::DeleteRequest request;
    request.set_id(id);
    request.set_exec_id(exec_id);
    return service_.Delete(request);
  }

  Result<Empty> Exec(const std::string& id, const std::string& exec_id) {
    task::ExecProcessRequest request;
    request.set_id(id);
    request.set_exec_id(exec_id);
    request.mutable_spec()->set_type_url("types.containerd.io/opencontainers/runtime-spec/1/Process");
    request.mutable_spec()->set_value(kSpec);
    return service_.Exec(request);
  }

  // Calls Wait and stores its result in the returned slot when it arrives.
  std::shared_ptr<std::optional<Result<task::WaitResponse>>> Wait(
      const std::string& id, const std::string& exec_id = "") {
    auto slot = std::make_shared<std::optional<Result<task::WaitResponse>>>();
    task::WaitRequest request;
    request.set_id(id);
    request.set_exec_id(exec_id);
    service_.Wait(request, [slot](const Result<task::WaitResponse>& response) {
      EXPECT_FALSE(slot->has_value()) << "Wait answered twice";
      slot->emplace(response);
    });
    return slot;
  }

  void WriteSandboxBundle(const std::string& id) {
    WriteBundle(id, "{\"io.kubernetes.cri.container-type\":\"sandbox\","
                    "\"io.kubernetes.cri.sandbox-id\":\"" + id + "\"}");
  }

  void StartSandbox(const std::string& id) {
    WriteSandboxBundle(id);
    Result<task::CreateTaskResponse> created = service_.Create(CreateRequest(id));
    ASSERT_TRUE(created.ok()) << created.status().ToString();
    StartTask(id);
  }

  // Forks a child of workload `pid`; it stays in the workload's process
  // group, as a background job of a shell does.
  pid_t ForkChildOf(pid_t pid) {
    pid_t child = 0;
    kernel_.RunAsChild(pid, [&] {
      Result<pid_t> forked = kernel_.Fork();
      ASSERT_TRUE(forked.ok());
      child = *forked;
    });
    return child;
  }

  // Ends a workload process and lets the reaper see it.
  void ExitWorkload(pid_t pid, int code) {
    kernel_.ExitProcess(pid, code);
    reaper_.OnReadable();
  }

  // Brings a fresh task `id` into `state` and returns its init pid.
  pid_t TaskIn(const std::string& id, ProcessState state) {
    pid_t pid = CreateTask(id);
    if (state == ProcessState::kCreated) return pid;
    StartTask(id);
    if (state == ProcessState::kStopped) ExitWorkload(pid, 0);
    return pid;
  }

  fakes::FakeKernel kernel_;
  Logger logger_{kernel_};
  FakeRuntimeClient runtime_{kernel_};
  RecordingPublisher publisher_;
  ExitReaper reaper_{kernel_, logger_};
  RecordingOutputDrain drain_;
  TaskService service_{kernel_, logger_, runtime_, publisher_, reaper_, drain_, {kWorkDir}};
};

// ---- Create -----------------------------------------------------------------

TEST_F(TaskServiceTest, CreateRunsRuntimeAndPublishesTaskCreate) {
  WriteBundle("t1");
  task::CreateTaskRequest request = CreateRequest("t1");
  request.set_stdout("");
  Result<task::CreateTaskResponse> response = service_.Create(request);

  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_GT(response->pid(), 0u);
  EXPECT_EQ(runtime_.calls(), std::vector<std::string>{"create t1 /run/bundles/t1"});
  ASSERT_EQ(publisher_.Topics(), std::vector<std::string>{"/tasks/create"});
  events::TaskCreate event = publisher_.Last<events::TaskCreate>("/tasks/create");
  EXPECT_EQ(event.container_id(), "t1");
  EXPECT_EQ(event.bundle(), "/run/bundles/t1");
  EXPECT_EQ(event.pid(), response->pid());
  EXPECT_EQ(publisher_.events()[0].type_name, "containerd.events.TaskCreate");
}

TEST_F(TaskServiceTest, CreatedWorkloadIsChildOfShim) {
  pid_t pid = CreateTask("t1");
  EXPECT_EQ(kernel_.Process(pid).parent, kernel_.current());
}

TEST_F(TaskServiceTest, CreateRejectsInvalidIds) {
  for (const std::string& id : {std::string(".."), std::string("."), std::string("a/b"),
                                std::string(1025, 'a'), std::string()}) {
    SCOPED_TRACE(id.substr(0, 10));
    task::CreateTaskRequest request = CreateRequest("t1");
    request.set_id(id);
    Result<task::CreateTaskResponse> response = service_.Create(request);
    ASSERT_FALSE(response.ok());
    EXPECT_EQ(response.status().code(), Code::kInvalidArgument);
  }
  EXPECT_TRUE(runtime_.calls().empty());
}

TEST_F(TaskServiceTest, CreateDuplicateFails) {
  CreateTask("t1");
  Result<task::CreateTaskResponse> response = service_.Create(CreateRequest("t1"));
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), Code::kAlreadyExists);
  EXPECT_EQ(response.status().message(), "task t1 already exists");
}

TEST_F(TaskServiceTest, CreateWithoutConfigJsonNamesTheFile) {
  Result<task::CreateTaskResponse> response = service_.Create(CreateRequest("t1"));
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().error_number(), ENOENT);
  EXPECT_NE(response.status().message().find("/run/bundles/t1/config.json"), std::string::npos)
      << response.status().message();
}

TEST_F(TaskServiceTest, CreateRejectsRelativeBundle) {
  task::CreateTaskRequest request = CreateRequest("t1");
  request.set_bundle("bundles/t1");
  Result<task::CreateTaskResponse> response = service_.Create(request);
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), Code::kInvalidArgument);
}

TEST_F(TaskServiceTest, CreateRuntimeFailureLeavesNoTask) {
  WriteBundle("t1");
  runtime_.create_error_ = Status(Code::kInternal, "exec \"/nope\": No such file or directory");

  Result<task::CreateTaskResponse> response = service_.Create(CreateRequest("t1"));

  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().message(), "exec \"/nope\": No such file or directory");
  EXPECT_EQ(State("t1").status().code(), Code::kNotFound);
  EXPECT_TRUE(publisher_.events().empty());
  EXPECT_EQ(runtime_.calls().back(), "delete --force t1");
}

TEST_F(TaskServiceTest, CreateRejectsTerminal) {
  WriteBundle("t1");
  task::CreateTaskRequest request = CreateRequest("t1");
  request.set_terminal(true);
  Result<task::CreateTaskResponse> response = service_.Create(request);
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), Code::kUnimplemented);
  EXPECT_TRUE(runtime_.calls().empty());
}

// ---- The lifecycle table ------------------------------------------------------

TEST_F(TaskServiceTest, InitLifecycleTable) {
  struct Case {
    ProcessState state;
    std::string operation;
    Code expected;
  };
  const std::vector<Case> cases = {
      {ProcessState::kCreated, "start", Code::kOk},
      {ProcessState::kRunning, "start", Code::kFailedPrecondition},
      {ProcessState::kStopped, "start", Code::kFailedPrecondition},
      {ProcessState::kCreated, "kill", Code::kFailedPrecondition},
      {ProcessState::kRunning, "kill", Code::kOk},
      {ProcessState::kStopped, "kill", Code::kNotFound},
      {ProcessState::kCreated, "delete", Code::kOk},
      {ProcessState::kRunning, "delete", Code::kFailedPrecondition},
      {ProcessState::kStopped, "delete", Code::kOk},
      {ProcessState::kCreated, "exec", Code::kFailedPrecondition},
      {ProcessState::kRunning, "exec", Code::kOk},
      {ProcessState::kStopped, "exec", Code::kFailedPrecondition},
  };
  int serial = 0;
  for (const Case& test_case : cases) {
    const std::string id = "task-" + std::to_string(serial++);
    SCOPED_TRACE(std::string(ProcessStateName(test_case.state)) + " " + test_case.operation);
    TaskIn(id, test_case.state);

    Status status;
    if (test_case.operation == "start") status = Start(id).status();
    if (test_case.operation == "kill") status = Kill(id, SIGTERM).status();
    if (test_case.operation == "delete") status = Delete(id).status();
    if (test_case.operation == "exec") status = Exec(id, "e1").status();

    EXPECT_EQ(status.code(), test_case.expected) << status.ToString();
  }
}

TEST_F(TaskServiceTest, UnknownTaskIsNotFoundForEveryMethod) {
  EXPECT_EQ(State("nope").status().code(), Code::kNotFound);
  EXPECT_EQ(State("nope").status().message(), "task nope not found");
  EXPECT_EQ(Start("nope").status().code(), Code::kNotFound);
  EXPECT_EQ(Kill("nope", SIGTERM).status().code(), Code::kNotFound);
  EXPECT_EQ(Delete("nope").status().code(), Code::kNotFound);
  EXPECT_EQ(Exec("nope", "e1").status().code(), Code::kNotFound);
  auto waited = Wait("nope");
  ASSERT_TRUE(waited->has_value());
  EXPECT_EQ((*waited)->status().code(), Code::kNotFound);
  task::PidsRequest pids;
  pids.set_id("nope");
  EXPECT_EQ(service_.Pids(pids).status().code(), Code::kNotFound);
  task::CloseIORequest close;
  close.set_id("nope");
  EXPECT_EQ(service_.CloseIO(close).status().code(), Code::kNotFound);
}

TEST_F(TaskServiceTest, UnknownExecIsNotFound) {
  TaskIn("t1", ProcessState::kRunning);
  EXPECT_EQ(State("t1", "e9").status().code(), Code::kNotFound);
  EXPECT_EQ(State("t1", "e9").status().message(), "exec e9 of task t1 not found");
  EXPECT_EQ(Start("t1", "e9").status().code(), Code::kNotFound);
  EXPECT_EQ(Kill("t1", SIGTERM, false, "e9").status().code(), Code::kNotFound);
  EXPECT_EQ(Delete("t1", "e9").status().code(), Code::kNotFound);
}

// ---- Start, exits and Wait ----------------------------------------------------

TEST_F(TaskServiceTest, StartReportsRunning) {
  pid_t pid = CreateTask("t1");
  EXPECT_EQ(State("t1")->status(), types::CREATED);

  EXPECT_EQ(StartTask("t1"), pid);

  Result<task::StateResponse> state = State("t1");
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->status(), types::RUNNING);
  EXPECT_EQ(state->pid(), static_cast<uint32_t>(pid));
  EXPECT_FALSE(state->has_exited_at());
  EXPECT_EQ(publisher_.Last<events::TaskStart>("/tasks/start").pid(),
            static_cast<uint32_t>(pid));
}

TEST_F(TaskServiceTest, StartFailureKeepsTaskCreated) {
  CreateTask("t1");
  runtime_.start_error_ = Status(Code::kInternal, "exec \"/bin/nope\": No such file or directory");

  Result<task::StartResponse> response = Start("t1");

  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().message(), "exec \"/bin/nope\": No such file or directory");
  EXPECT_EQ(State("t1")->status(), types::CREATED);
}

TEST_F(TaskServiceTest, WaitStateAndTaskExitAgree) {
  pid_t pid = TaskIn("t1", ProcessState::kRunning);
  auto waited = Wait("t1");
  EXPECT_FALSE(waited->has_value());
  kernel_.AdvanceClock(12, 345);

  ExitWorkload(pid, 3);

  ASSERT_TRUE(waited->has_value());
  ASSERT_TRUE((*waited)->ok());
  const task::WaitResponse& wait = ***waited;
  Result<task::StateResponse> state = State("t1");
  ASSERT_TRUE(state.ok());
  events::TaskExit exit = publisher_.Last<events::TaskExit>("/tasks/exit");

  EXPECT_EQ(wait.exit_status(), 3u);
  EXPECT_EQ(state->exit_status(), 3u);
  EXPECT_EQ(exit.exit_status(), 3u);
  EXPECT_EQ(wait.exited_at().seconds(), kernel_.Now().seconds);
  EXPECT_EQ(wait.exited_at().nanos(), kernel_.Now().nanos);
  EXPECT_EQ(state->exited_at().seconds(), wait.exited_at().seconds());
  EXPECT_EQ(state->exited_at().nanos(), wait.exited_at().nanos());
  EXPECT_EQ(exit.exited_at().seconds(), wait.exited_at().seconds());
  EXPECT_EQ(exit.exited_at().nanos(), wait.exited_at().nanos());
  EXPECT_EQ(state->status(), types::STOPPED);
  EXPECT_EQ(exit.container_id(), "t1");
  EXPECT_EQ(exit.id(), "t1");
  EXPECT_EQ(exit.pid(), static_cast<uint32_t>(pid));
}

TEST_F(TaskServiceTest, RepeatedWaitsAllReturn) {
  pid_t pid = TaskIn("t1", ProcessState::kRunning);
  auto first = Wait("t1");
  auto second = Wait("t1");

  ExitWorkload(pid, 0);
  auto third = Wait("t1");

  ASSERT_TRUE(first->has_value());
  ASSERT_TRUE(second->has_value());
  ASSERT_TRUE(third->has_value());
  EXPECT_EQ((**first)->exited_at().seconds(), (**third)->exited_at().seconds());
}

TEST_F(TaskServiceTest, WaitAfterExitReturnsAtOnce) {
  pid_t pid = TaskIn("t1", ProcessState::kRunning);
  ExitWorkload(pid, 5);
  auto waited = Wait("t1");
  ASSERT_TRUE(waited->has_value());
  EXPECT_EQ((**waited)->exit_status(), 5u);
}

TEST_F(TaskServiceTest, ExitBySignalIs128PlusSignal) {
  pid_t pid = TaskIn("t1", ProcessState::kRunning);
  ASSERT_TRUE(Kill("t1", SIGTERM).ok());
  reaper_.OnReadable();
  EXPECT_EQ(State("t1")->exit_status(), 143u);

  pid_t other = TaskIn("t2", ProcessState::kRunning);
  ASSERT_TRUE(Kill("t2", SIGKILL).ok());
  reaper_.OnReadable();
  EXPECT_EQ(State("t2")->exit_status(), 137u);
  EXPECT_FALSE(kernel_.ProcessExists(pid));
  EXPECT_FALSE(kernel_.ProcessExists(other));
}

TEST_F(TaskServiceTest, EventsOfFullLifecycleAreOrdered) {
  pid_t pid = CreateTask("t1");
  StartTask("t1");
  ExitWorkload(pid, 0);
  ASSERT_TRUE(Delete("t1").ok());

  EXPECT_EQ(publisher_.Topics(),
            (std::vector<std::string>{"/tasks/create", "/tasks/start", "/tasks/exit",
                                      "/tasks/delete"}));
}

TEST_F(TaskServiceTest, ImmediateExitComesAfterTaskStart) {
  pid_t pid = CreateTask("t1");
  // The workload ends while Start is still running: its SIGCHLD is pending
  // until the loop runs the reaper after Start returns.
  kernel_.ExitProcess(pid, 1);
  StartTask("t1");
  reaper_.OnReadable();

  EXPECT_EQ(publisher_.Topics(),
            (std::vector<std::string>{"/tasks/create", "/tasks/start", "/tasks/exit"}));
}

TEST_F(TaskServiceTest, RuntimeProcessExitIsIgnored) {
  runtime_.LeaveRuntimeUnreaped();
  CreateTask("t1");
  pid_t runtime_pid = runtime_.last_runtime_pid();

  reaper_.OnReadable();

  EXPECT_FALSE(kernel_.ProcessExists(runtime_pid));
  EXPECT_EQ(reaper_.kept_exit_count(), 1u);
  EXPECT_EQ(publisher_.Topics(), std::vector<std::string>{"/tasks/create"});
  EXPECT_EQ(State("t1")->status(), types::CREATED);
}

// ---- Kill ---------------------------------------------------------------------

TEST_F(TaskServiceTest, KillAfterExitIsNotFound) {
  TaskIn("t1", ProcessState::kStopped);
  Result<Empty> killed = Kill("t1", SIGKILL);
  ASSERT_FALSE(killed.ok());
  EXPECT_EQ(killed.status().code(), Code::kNotFound);
  EXPECT_EQ(killed.status().message(), "process already finished");
}

TEST_F(TaskServiceTest, KillBeforeStartIsFailedPrecondition) {
  pid_t pid = CreateTask("t1");
  Result<Empty> killed = Kill("t1", SIGKILL);
  ASSERT_FALSE(killed.ok());
  EXPECT_EQ(killed.status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(kernel_.Process(pid).state, fakes::FakeKernel::ProcessState::kRunning);
}

TEST_F(TaskServiceTest, KillRejectsBadSignal) {
  TaskIn("t1", ProcessState::kRunning);
  EXPECT_EQ(Kill("t1", 65).status().code(), Code::kInvalidArgument);
}

TEST_F(TaskServiceTest, KillAllOfExitedInitReachesExecs) {
  pid_t init = TaskIn("t1", ProcessState::kRunning);
  ASSERT_TRUE(Exec("t1", "e1").ok());
  pid_t exec = StartTask("t1", "e1");
  ExitWorkload(init, 0);

  Result<Empty> killed = Kill("t1", SIGKILL, true);
  reaper_.OnReadable();

  EXPECT_TRUE(killed.ok()) << killed.status().ToString();
  EXPECT_FALSE(kernel_.ProcessExists(exec));
  EXPECT_EQ(State("t1", "e1")->exit_status(), 137u);
}

TEST_F(TaskServiceTest, KillAllSignalsProcessGroup) {
  pid_t pid = TaskIn("t1", ProcessState::kRunning);
  pid_t child = ForkChildOf(pid);

  ASSERT_TRUE(Kill("t1", SIGKILL, true).ok());
  reaper_.OnReadable();

  EXPECT_EQ(State("t1")->exit_status(), 137u);
  // Killed too, re-parented to the shim and reaped as a process of no task.
  EXPECT_FALSE(kernel_.ProcessExists(child));
}

TEST_F(TaskServiceTest, KillWithoutAllReachesProcessGroup) {
  // StopContainer sends SIGTERM without `all`; the workload's children must
  // get it too.
  pid_t pid = TaskIn("t1", ProcessState::kRunning);
  pid_t child = ForkChildOf(pid);

  ASSERT_TRUE(Kill("t1", SIGTERM).ok());
  reaper_.OnReadable();

  EXPECT_EQ(State("t1")->status(), types::STOPPED);
  EXPECT_EQ(State("t1")->exit_status(), 128u + SIGTERM);
  EXPECT_FALSE(kernel_.ProcessExists(child));
}

TEST_F(TaskServiceTest, KillSparesChildInOwnSession) {
  // A child that started its own session left the workload's process group.
  pid_t pid = TaskIn("t1", ProcessState::kRunning);
  pid_t child = ForkChildOf(pid);
  kernel_.RunAsChild(child, [&] { ASSERT_TRUE(kernel_.SetSid().ok()); });

  ASSERT_TRUE(Kill("t1", SIGKILL).ok());
  reaper_.OnReadable();

  EXPECT_EQ(State("t1")->exit_status(), 137u);
  EXPECT_TRUE(kernel_.ProcessExists(child));
}

TEST_F(TaskServiceTest, KillAllOfExitedInitReachesLeftoverChildren) {
  pid_t pid = TaskIn("t1", ProcessState::kRunning);
  pid_t child = ForkChildOf(pid);
  ExitWorkload(pid, 0);
  ASSERT_EQ(State("t1")->status(), types::STOPPED);

  ASSERT_TRUE(Kill("t1", SIGKILL, true).ok());
  reaper_.OnReadable();

  EXPECT_FALSE(kernel_.ProcessExists(child));
}

TEST_F(TaskServiceTest, LastDeleteKillsEscapedDescendants) {
  // A daemon that left the workload's session is out of reach of group
  // signals; deleting the pod's last task still ends it.
  StartSandbox("sb");
  pid_t pid = TaskIn("c1", ProcessState::kRunning);
  pid_t daemon = ForkChildOf(pid);
  kernel_.RunAsChild(daemon, [&] { ASSERT_TRUE(kernel_.SetSid().ok()); });
  ExitWorkload(pid, 0);
  ASSERT_TRUE(Delete("c1").ok());
  reaper_.OnReadable();
  EXPECT_EQ(kernel_.Process(daemon).state, fakes::FakeKernel::ProcessState::kRunning);

  ASSERT_TRUE(Kill("sb", SIGKILL).ok());
  ASSERT_TRUE(Delete("sb").ok());
  reaper_.OnReadable();

  EXPECT_FALSE(kernel_.ProcessExists(daemon));
  EXPECT_TRUE(kernel_.ProcessExists(kernel_.current()));
}

TEST_F(TaskServiceTest, DeleteKillsLeftoverChildren) {
  pid_t pid = TaskIn("t1", ProcessState::kRunning);
  pid_t child = ForkChildOf(pid);
  ExitWorkload(pid, 0);

  ASSERT_TRUE(Delete("t1").ok());
  reaper_.OnReadable();

  EXPECT_FALSE(kernel_.ProcessExists(child));
}

TEST_F(TaskServiceTest, KillOfExecSignalsOnlyIt) {
  pid_t init = TaskIn("t1", ProcessState::kRunning);
  ASSERT_TRUE(Exec("t1", "e1").ok());
  pid_t exec = StartTask("t1", "e1");

  ASSERT_TRUE(Kill("t1", SIGTERM, false, "e1").ok());
  reaper_.OnReadable();

  EXPECT_EQ(State("t1", "e1")->status(), types::STOPPED);
  EXPECT_EQ(State("t1")->status(), types::RUNNING);
  EXPECT_TRUE(kernel_.ProcessExists(init));
  EXPECT_FALSE(kernel_.ProcessExists(exec));
}

// ---- Delete -------------------------------------------------------------------

TEST_F(TaskServiceTest, DeleteRunningTaskFails) {
  TaskIn("t1", ProcessState::kRunning);
  Result<task::DeleteResponse> deleted = Delete("t1");
  ASSERT_FALSE(deleted.ok());
  EXPECT_EQ(deleted.status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(deleted.status().message(), "cannot delete a running process: task t1 is running");
}

TEST_F(TaskServiceTest, DeleteStoppedTaskForgetsIt) {
  pid_t pid = TaskIn("t1", ProcessState::kRunning);
  kernel_.WriteFile(std::string(kWorkDir) + "/t1/start.log", "");
  ExitWorkload(pid, 4);

  Result<task::DeleteResponse> deleted = Delete("t1");

  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  EXPECT_EQ(deleted->pid(), static_cast<uint32_t>(pid));
  EXPECT_EQ(deleted->exit_status(), 4u);
  EXPECT_EQ(runtime_.calls().back(), "delete --force t1");
  events::TaskDelete event = publisher_.Last<events::TaskDelete>("/tasks/delete");
  EXPECT_EQ(event.container_id(), "t1");
  EXPECT_EQ(event.id(), "");
  EXPECT_EQ(event.exit_status(), 4u);
  EXPECT_EQ(event.exited_at().seconds(), deleted->exited_at().seconds());
  EXPECT_EQ(State("t1").status().code(), Code::kNotFound);
  EXPECT_FALSE(kernel_.Exists(std::string(kWorkDir) + "/t1"));
  EXPECT_EQ(service_.task_count(), 0u);
}

TEST_F(TaskServiceTest, DeleteOfUnstartedTaskKillsIt) {
  pid_t pid = CreateTask("t1");
  auto waited = Wait("t1");

  Result<task::DeleteResponse> deleted = Delete("t1");

  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  EXPECT_EQ(deleted->exit_status(), 137u);
  EXPECT_FALSE(kernel_.ProcessExists(pid));
  ASSERT_TRUE(waited->has_value());
  EXPECT_EQ((**waited)->exit_status(), 137u);
  EXPECT_EQ(publisher_.Topics(),
            (std::vector<std::string>{"/tasks/create", "/tasks/exit", "/tasks/delete"}));
}

// ---- Exec ---------------------------------------------------------------------

TEST_F(TaskServiceTest, ExecLifecycle) {
  TaskIn("t1", ProcessState::kRunning);
  publisher_.Clear();

  ASSERT_TRUE(Exec("t1", "e1").ok());
  EXPECT_EQ(State("t1", "e1")->status(), types::CREATED);
  EXPECT_EQ(State("t1", "e1")->exec_id(), "e1");
  pid_t pid = StartTask("t1", "e1");
  EXPECT_EQ(State("t1", "e1")->status(), types::RUNNING);
  auto waited = Wait("t1", "e1");
  ExitWorkload(pid, 5);
  Result<task::DeleteResponse> deleted = Delete("t1", "e1");

  ASSERT_TRUE(waited->has_value());
  EXPECT_EQ((**waited)->exit_status(), 5u);
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(deleted->exit_status(), 5u);
  EXPECT_EQ(deleted->pid(), static_cast<uint32_t>(pid));
  EXPECT_EQ(publisher_.Topics(), (std::vector<std::string>{"/tasks/exec-added",
                                                           "/tasks/exec-started", "/tasks/exit"}));
  events::TaskExit exit = publisher_.Last<events::TaskExit>("/tasks/exit");
  EXPECT_EQ(exit.container_id(), "t1");
  EXPECT_EQ(exit.id(), "e1");
  EXPECT_EQ(State("t1", "e1").status().code(), Code::kNotFound);
  EXPECT_EQ(runtime_.calls().back(), std::string("exec t1 e1 ") + kSpec);
}

TEST_F(TaskServiceTest, ExecExitReapedBeforePidIsKnown) {
  TaskIn("t1", ProcessState::kRunning);
  ASSERT_TRUE(Exec("t1", "e1").ok());
  publisher_.Clear();
  // The exec ends, and is reaped, before the runtime call returns its pid.
  runtime_.after_spawn_ = [this](pid_t pid) {
    kernel_.ExitProcess(pid, 2);
    reaper_.OnReadable();
  };

  Result<task::StartResponse> started = Start("t1", "e1");

  ASSERT_TRUE(started.ok()) << started.status().ToString();
  EXPECT_EQ(publisher_.Topics(),
            (std::vector<std::string>{"/tasks/exec-started", "/tasks/exit"}));
  EXPECT_EQ(State("t1", "e1")->status(), types::STOPPED);
  EXPECT_EQ(State("t1", "e1")->exit_status(), 2u);
  EXPECT_EQ(reaper_.kept_exit_count(), 0u);
}

TEST_F(TaskServiceTest, ExecOnStoppedTaskFails) {
  TaskIn("t1", ProcessState::kStopped);
  Result<Empty> exec = Exec("t1", "e1");
  ASSERT_FALSE(exec.ok());
  EXPECT_EQ(exec.status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(exec.status().message(), "cannot exec in task t1: it is stopped");
}

TEST_F(TaskServiceTest, ExecDuplicateFails) {
  TaskIn("t1", ProcessState::kRunning);
  ASSERT_TRUE(Exec("t1", "e1").ok());
  Result<Empty> exec = Exec("t1", "e1");
  ASSERT_FALSE(exec.ok());
  EXPECT_EQ(exec.status().code(), Code::kAlreadyExists);
}

TEST_F(TaskServiceTest, ExecRejectsInvalidId) {
  TaskIn("t1", ProcessState::kRunning);
  EXPECT_EQ(Exec("t1", "../x").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(Exec("t1", "..").status().code(), Code::kInvalidArgument);
}

TEST_F(TaskServiceTest, DeleteRunningExecFails) {
  TaskIn("t1", ProcessState::kRunning);
  ASSERT_TRUE(Exec("t1", "e1").ok());
  StartTask("t1", "e1");
  EXPECT_EQ(Delete("t1", "e1").status().code(), Code::kFailedPrecondition);
}

TEST_F(TaskServiceTest, DeleteUnstartedExecRemovesIt) {
  TaskIn("t1", ProcessState::kRunning);
  ASSERT_TRUE(Exec("t1", "e1").ok());
  Result<task::DeleteResponse> deleted = Delete("t1", "e1");
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(deleted->pid(), 0u);
  EXPECT_EQ(State("t1", "e1").status().code(), Code::kNotFound);
}

TEST_F(TaskServiceTest, PidsListsInitAndExecs) {
  pid_t init = TaskIn("t1", ProcessState::kRunning);
  ASSERT_TRUE(Exec("t1", "e1").ok());
  pid_t exec = StartTask("t1", "e1");
  task::PidsRequest request;
  request.set_id("t1");

  Result<task::PidsResponse> pids = service_.Pids(request);

  ASSERT_TRUE(pids.ok());
  ASSERT_EQ(pids->processes_size(), 2);
  EXPECT_EQ(pids->processes(0).pid(), static_cast<uint32_t>(init));
  EXPECT_EQ(pids->processes(1).pid(), static_cast<uint32_t>(exec));
}

// ---- Connect, Shutdown, unsupported -----------------------------------------------

TEST_F(TaskServiceTest, ConnectReportsShimAndTaskPid) {
  pid_t pid = CreateTask("t1");
  task::ConnectRequest request;
  request.set_id("t1");
  Result<task::ConnectResponse> response = service_.Connect(request);
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->shim_pid(), static_cast<uint32_t>(kernel_.current()));
  EXPECT_EQ(response->task_pid(), static_cast<uint32_t>(pid));
  EXPECT_EQ(response->version(), "");

  request.set_id("unknown");
  response = service_.Connect(request);
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->task_pid(), 0u);
}

TEST_F(TaskServiceTest, ShutdownIsOkAndKeepsTasks) {
  CreateTask("t1");
  task::ShutdownRequest request;
  request.set_id("t1");
  EXPECT_TRUE(service_.Shutdown(request).ok());
  EXPECT_EQ(service_.task_count(), 1u);
}

TEST_F(TaskServiceTest, UnsupportedMethodsAreUnimplemented) {
  Status pause = service_.Pause(task::PauseRequest()).status();
  EXPECT_EQ(pause.code(), Code::kUnimplemented);
  EXPECT_EQ(pause.message(),
            "Pause is not supported: Reaper runs workloads on the host without a cgroup freezer");
  EXPECT_EQ(service_.Resume(task::ResumeRequest()).status().code(), Code::kUnimplemented);
  EXPECT_EQ(service_.Checkpoint(task::CheckpointTaskRequest()).status().code(),
            Code::kUnimplemented);
  EXPECT_EQ(service_.Update(task::UpdateTaskRequest()).status().code(), Code::kUnimplemented);
  Status resize = service_.ResizePty(task::ResizePtyRequest()).status();
  EXPECT_EQ(resize.code(), Code::kUnimplemented);
  EXPECT_EQ(resize.message(), "ResizePty is not supported: Reaper has no terminal support yet");
  Status stats = service_.Stats(task::StatsRequest()).status();
  EXPECT_EQ(stats.code(), Code::kUnimplemented);
  EXPECT_NE(stats.message().find("Stats"), std::string::npos);
}

// ---- The pod sandbox ------------------------------------------------------------

TEST_F(TaskServiceTest, SandboxRunsUntilKilled) {
  WriteSandboxBundle("sb");
  Result<task::CreateTaskResponse> created = service_.Create(CreateRequest("sb"));
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_EQ(created->pid(), static_cast<uint32_t>(kernel_.current()));
  EXPECT_EQ(StartTask("sb"), kernel_.current());
  EXPECT_EQ(State("sb")->status(), types::RUNNING);
  auto waited = Wait("sb");
  EXPECT_FALSE(waited->has_value());

  ASSERT_TRUE(Kill("sb", SIGKILL).ok());

  ASSERT_TRUE(waited->has_value());
  EXPECT_EQ((**waited)->exit_status(), 137u);
  Result<task::StateResponse> state = State("sb");
  EXPECT_EQ(state->status(), types::STOPPED);
  EXPECT_EQ(state->exit_status(), 137u);
  EXPECT_TRUE(Kill("sb", SIGKILL, true).ok());
  Result<task::DeleteResponse> deleted = Delete("sb");
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(deleted->exit_status(), 137u);
  EXPECT_TRUE(runtime_.calls().empty());
  EXPECT_EQ(publisher_.Topics(), (std::vector<std::string>{"/tasks/create", "/tasks/start",
                                                           "/tasks/exit", "/tasks/delete"}));
  EXPECT_TRUE(kernel_.ProcessExists(kernel_.current()));
}

TEST_F(TaskServiceTest, SandboxWaitAfterKillReturnsAtOnce) {
  StartSandbox("sb");
  ASSERT_TRUE(Kill("sb", SIGKILL).ok());

  auto first = Wait("sb");
  auto second = Wait("sb");

  ASSERT_TRUE(first->has_value());
  ASSERT_TRUE(second->has_value());
  EXPECT_EQ((**first)->exit_status(), 137u);
  EXPECT_EQ((**second)->exit_status(), 137u);
  EXPECT_EQ((**first)->exited_at().seconds(), (**second)->exited_at().seconds());
}

TEST_F(TaskServiceTest, SandboxKillReleasesEveryWaiter) {
  StartSandbox("sb");
  auto first = Wait("sb");
  auto second = Wait("sb");

  ASSERT_TRUE(Kill("sb", SIGKILL).ok());

  ASSERT_TRUE(first->has_value());
  ASSERT_TRUE(second->has_value());
  EXPECT_EQ((**second)->exit_status(), 137u);
}

TEST_F(TaskServiceTest, SandboxProbeSignalKeepsItRunning) {
  StartSandbox("sb");
  auto waited = Wait("sb");

  ASSERT_TRUE(Kill("sb", 0).ok());

  EXPECT_FALSE(waited->has_value());
  EXPECT_EQ(State("sb")->status(), types::RUNNING);
}

TEST_F(TaskServiceTest, SandboxSigtermExitsWith143) {
  StartSandbox("sb");
  ASSERT_TRUE(Kill("sb", SIGTERM).ok());
  EXPECT_EQ(State("sb")->exit_status(), 143u);
}

TEST_F(TaskServiceTest, ShimServesPodTasksUntilLastDelete) {
  StartSandbox("sb");
  pid_t pid = TaskIn("c1", ProcessState::kRunning);
  EXPECT_EQ(service_.task_count(), 2u);

  ExitWorkload(pid, 0);
  ASSERT_TRUE(Delete("c1").ok());
  EXPECT_EQ(service_.task_count(), 1u);
  ASSERT_TRUE(Kill("sb", SIGKILL).ok());
  ASSERT_TRUE(Delete("sb").ok());

  // No task left: the server stops after the next Shutdown.
  EXPECT_EQ(service_.task_count(), 0u);
  EXPECT_TRUE(kernel_.ProcessExists(kernel_.current()));
}

// ---- Stdio ------------------------------------------------------------------------

class TaskServiceStdioTest : public TaskServiceTest {
 protected:
  void SetUp() override {
    TaskServiceTest::SetUp();
    kernel_.MakeDirectory("/run/fifo");
    for (const char* name : {"/run/fifo/in", "/run/fifo/out", "/run/fifo/err"}) {
      ASSERT_TRUE(kernel_.Mkfifo(name, 0700).ok());
    }
    // The client opens its ends before Create: stdout and stderr for reading.
    for (const char* name : {"/run/fifo/out", "/run/fifo/err"}) {
      Result<int> fd = kernel_.Open(name, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
      ASSERT_TRUE(fd.ok()) << fd.status().ToString();
      client_readers_.push_back(*fd);
    }
  }

  void WriteAs(pid_t pid, int fd, const std::string& text) {
    kernel_.RunAsChild(pid, [&] {
      Result<size_t> written = kernel_.Write(fd, text.data(), text.size());
      ASSERT_TRUE(written.ok()) << written.status().ToString();
    });
  }

  // Reads what the client's end of stdout holds.
  std::string ReadStdout() {
    char buffer[65536];
    Result<size_t> read = kernel_.Read(client_readers_[0], buffer, sizeof(buffer));
    return read.ok() ? std::string(buffer, *read) : std::string();
  }

  std::vector<int> client_readers_;

  task::CreateTaskRequest FifoRequest(bool with_stdin) {
    WriteBundle("t1");
    task::CreateTaskRequest request = CreateRequest("t1");
    if (with_stdin) request.set_stdin("/run/fifo/in");
    request.set_stdout("/run/fifo/out");
    request.set_stderr("/run/fifo/err");
    return request;
  }

  // The access mode of `fd` in `pid`, and whether it is the FIFO at `path`.
  int AccessModeOf(pid_t pid, int fd) {
    int mode = -1;
    kernel_.RunAsChild(pid, [&] {
      Result<int> flags = kernel_.Fcntl(fd, F_GETFL, 0);
      if (flags.ok()) mode = *flags & (O_ACCMODE | O_NONBLOCK);
    });
    return mode;
  }

  bool IsFifo(pid_t pid, int fd, const std::string& path) {
    bool same = false;
    Result<sys::FileInfo> expected = kernel_.Stat(path);
    kernel_.RunAsChild(pid, [&] {
      Result<sys::FileInfo> info = kernel_.Fstat(fd);
      same = info.ok() && expected.ok() && info->inode == expected->inode &&
             info->type == sys::FileInfo::Type::kFifo;
    });
    return same;
  }
};

TEST_F(TaskServiceStdioTest, WorkloadGetsWriteOnlyOutputs) {
  Result<task::CreateTaskResponse> created = service_.Create(FifoRequest(false));
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  pid_t pid = static_cast<pid_t>(created->pid());

  EXPECT_EQ(AccessModeOf(pid, 1), O_WRONLY);
  EXPECT_EQ(AccessModeOf(pid, 2), O_WRONLY);
  EXPECT_TRUE(IsFifo(pid, 1, "/run/fifo/out"));
  EXPECT_TRUE(IsFifo(pid, 2, "/run/fifo/err"));
  EXPECT_EQ(AccessModeOf(pid, 0), O_RDONLY);
}

TEST_F(TaskServiceStdioTest, WorkloadGetsBlockingStdin) {
  // The client's write end of stdin.
  Result<int> reader_first = kernel_.Open("/run/fifo/in", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  ASSERT_TRUE(reader_first.ok());
  Result<int> client = kernel_.Open("/run/fifo/in", O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  ASSERT_TRUE(client.ok());
  ASSERT_TRUE(kernel_.Close(*reader_first).ok());

  Result<task::CreateTaskResponse> created = service_.Create(FifoRequest(true));
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  pid_t pid = static_cast<pid_t>(created->pid());

  EXPECT_EQ(AccessModeOf(pid, 0), O_RDONLY);
  EXPECT_TRUE(IsFifo(pid, 0, "/run/fifo/in"));
}

TEST_F(TaskServiceStdioTest, ShimKeepsOutputsOpenUntilExit) {
  const std::vector<int> before = kernel_.OpenFds(kernel_.current());
  Result<task::CreateTaskResponse> created = service_.Create(FifoRequest(true));
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  pid_t pid = static_cast<pid_t>(created->pid());
  // Two O_RDWR output holders and the write end of stdin.
  EXPECT_EQ(kernel_.OpenFds(kernel_.current()).size(), before.size() + 3);
  for (int fd : kernel_.OpenFds(kernel_.current())) {
    if (fd <= 2) continue;
    EXPECT_TRUE(kernel_.IsCloseOnExec(kernel_.current(), fd)) << "fd " << fd;
  }

  StartTask("t1");
  ExitWorkload(pid, 0);

  EXPECT_EQ(kernel_.OpenFds(kernel_.current()), before);
}

TEST_F(TaskServiceStdioTest, OutputFifosShrinkToOnePage) {
  Result<task::CreateTaskResponse> created = service_.Create(FifoRequest(false));
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  for (int reader : client_readers_) {
    EXPECT_EQ(*kernel_.Fcntl(reader, F_GETPIPE_SZ, 0), 4096);
  }
}

TEST_F(TaskServiceStdioTest, ExitWithEmptyOutputIsReportedAtOnce) {
  Result<task::CreateTaskResponse> created = service_.Create(FifoRequest(false));
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  pid_t pid = StartTask("t1");
  auto waited = Wait("t1");

  ExitWorkload(pid, 3);

  EXPECT_EQ(drain_.pending_count(), 0u);
  EXPECT_EQ(State("t1")->status(), types::STOPPED);
  ASSERT_TRUE(waited->has_value());
  EXPECT_EQ((**waited)->exit_status(), 3u);
}

TEST_F(TaskServiceStdioTest, ExitWaitsUntilOutputIsRead) {
  Result<task::CreateTaskResponse> created = service_.Create(FifoRequest(false));
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  pid_t pid = StartTask("t1");
  auto waited = Wait("t1");
  WriteAs(pid, 1, "last words\n");
  publisher_.Clear();

  ExitWorkload(pid, 0);

  // Reaped, but not reported while the client has not read the output.
  EXPECT_EQ(drain_.pending_count(), 1u);
  EXPECT_EQ(drain_.first_fds().size(), 1u);
  EXPECT_EQ(State("t1")->status(), types::RUNNING);
  EXPECT_FALSE(waited->has_value());
  EXPECT_TRUE(publisher_.Topics().empty());
  // A stop arriving meanwhile succeeds without signalling a reused pid.
  EXPECT_TRUE(Kill("t1", SIGTERM).ok());

  EXPECT_EQ(ReadStdout(), "last words\n");
  drain_.FinishAll();

  EXPECT_EQ(State("t1")->status(), types::STOPPED);
  ASSERT_TRUE(waited->has_value());
  EXPECT_EQ((**waited)->exit_status(), 0u);
  EXPECT_EQ(publisher_.Topics(), std::vector<std::string>{"/tasks/exit"});
}

TEST_F(TaskServiceStdioTest, DrainedExitClosesShimEnds) {
  const std::vector<int> before = kernel_.OpenFds(kernel_.current());
  Result<task::CreateTaskResponse> created = service_.Create(FifoRequest(false));
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  pid_t pid = StartTask("t1");
  WriteAs(pid, 2, "error\n");
  ExitWorkload(pid, 1);
  ASSERT_EQ(drain_.pending_count(), 1u);

  drain_.FinishAll();

  EXPECT_EQ(kernel_.OpenFds(kernel_.current()), before);
}

TEST_F(TaskServiceStdioTest, CloseIOClosesStdinWriteEnd) {
  const std::vector<int> before = kernel_.OpenFds(kernel_.current());
  ASSERT_TRUE(service_.Create(FifoRequest(true)).ok());
  task::CloseIORequest request;
  request.set_id("t1");
  request.set_stdin(true);

  ASSERT_TRUE(service_.CloseIO(request).ok());

  EXPECT_EQ(kernel_.OpenFds(kernel_.current()).size(), before.size() + 2);
}

TEST_F(TaskServiceStdioTest, MissingFifoFailsCreate) {
  task::CreateTaskRequest request = FifoRequest(false);
  request.set_stdout("/run/fifo/missing");
  Result<task::CreateTaskResponse> created = service_.Create(request);
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.status().error_number(), ENOENT);
  EXPECT_NE(created.status().message().find("open stdout"), std::string::npos);
  EXPECT_TRUE(runtime_.calls().empty());
}

}  // namespace
}  // namespace reaper::shim
