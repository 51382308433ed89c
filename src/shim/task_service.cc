#include "shim/task_service.h"

#include <signal.h>

#include <cerrno>
#include <set>
#include <utility>

#include "common/files.h"
#include "common/ids.h"
#include "containerd/events/task.pb.h"
#include "shim/descendants.h"

namespace reaper::shim {
namespace {

namespace events = ::containerd::events;
namespace types = ::containerd::v1::types;

constexpr int kMaxSignal = 64;
constexpr int kLeftoverKillRounds = 2;

void SetTimestamp(const sys::Timespec& time, ::google::protobuf::Timestamp* timestamp) {
  timestamp->set_seconds(time.seconds);
  timestamp->set_nanos(time.nanos);
}

types::Status StatusOf(ProcessState state) {
  switch (state) {
    case ProcessState::kCreated: return types::CREATED;
    case ProcessState::kRunning: return types::RUNNING;
    case ProcessState::kStopped: return types::STOPPED;
  }
  return types::UNKNOWN;
}

Status Unsupported(const std::string& method, const std::string& reason) {
  return Status(Code::kUnimplemented, method + " is not supported: " + reason);
}

LogFields FieldsOf(const Process& process) {
  LogFields fields = {{"id", process.container_id()}};
  if (!process.is_init()) fields.push_back({"exec_id", process.exec_id()});
  fields.push_back({"pid", std::to_string(process.pid())});
  return fields;
}

StdioPaths StdioOf(const std::string& stdin_path, const std::string& stdout_path,
                   const std::string& stderr_path, bool terminal) {
  return StdioPaths{stdin_path, stdout_path, stderr_path, terminal};
}

}  // namespace

TaskService::TaskService(sys::Kernel& kernel, Logger& logger, RuntimeClient& runtime,
                         Publisher& publisher, ExitReaper& reaper, OutputDrain& drain,
                         Options options)
    : kernel_(kernel),
      logger_(logger),
      runtime_(runtime),
      publisher_(publisher),
      reaper_(reaper),
      drain_(drain),
      options_(std::move(options)) {}

Result<Container*> TaskService::FindContainer(const std::string& id) {
  auto found = containers_.find(id);
  if (found == containers_.end()) return Status(Code::kNotFound, "task " + id + " not found");
  return found->second.get();
}

Result<Process*> TaskService::FindProcess(const std::string& id, const std::string& exec_id) {
  Result<Container*> container = FindContainer(id);
  if (!container.ok()) return container.status();
  return (*container)->FindProcess(exec_id);
}

pid_t TaskService::PidOf(const std::string& id, const std::string& exec_id) {
  Result<Process*> process = FindProcess(id, exec_id);
  return process.ok() ? (*process)->pid() : 0;
}

// ---- Create and Start -------------------------------------------------------

Result<task::CreateTaskResponse> TaskService::Create(const task::CreateTaskRequest& request) {
  const std::string& id = request.id();
  REAPER_RETURN_IF_ERROR(ValidateId("container", id));
  if (containers_.count(id) != 0) {
    return Status(Code::kAlreadyExists, "task " + id + " already exists");
  }
  if (request.bundle().empty() || request.bundle()[0] != '/') {
    return Status(Code::kInvalidArgument,
                  "bundle path " + QuoteForMessage(request.bundle()) + " is not absolute");
  }
  if (request.rootfs_size() > 0) {
    // Workloads see the host root through Reaper's overlay, so the image
    // snapshot containerd prepared is not mounted.
    logger_.Debug("rootfs mounts ignored",
                  {{"id", id}, {"mounts", std::to_string(request.rootfs_size())}});
  }
  Result<BundleAnnotations> annotations = ReadBundleAnnotations(kernel_, request.bundle());
  if (!annotations.ok()) return annotations.status();

  auto container = std::make_unique<Container>(
      id, request.bundle(), annotations->is_sandbox,
      StdioOf(request.stdin(), request.stdout(), request.stderr(), request.terminal()));
  if (container->is_sandbox()) {
    container->init().SetCreated(kernel_.GetPid());
  } else {
    REAPER_RETURN_IF_ERROR(CreateProcess(*container));
  }

  Process& init = container->init();
  events::TaskCreate event;
  event.set_container_id(id);
  event.set_bundle(request.bundle());
  *event.mutable_rootfs() = request.rootfs();
  event.mutable_io()->set_stdin(request.stdin());
  event.mutable_io()->set_stdout(request.stdout());
  event.mutable_io()->set_stderr(request.stderr());
  event.mutable_io()->set_terminal(request.terminal());
  event.set_pid(static_cast<uint32_t>(init.pid()));
  publisher_.Publish(kTopicTaskCreate, event);
  logger_.Info(container->is_sandbox() ? "sandbox task created" : "task created", FieldsOf(init));

  containers_.emplace(id, std::move(container));
  task::CreateTaskResponse response;
  response.set_pid(static_cast<uint32_t>(init.pid()));
  return response;
}

Status TaskService::CreateProcess(Container& container) {
  Process& init = container.init();
  Result<std::unique_ptr<ProcessStdio>> stdio = ProcessStdio::Open(kernel_, init.stdio_paths());
  if (!stdio.ok()) return stdio.status();

  reaper_.ForgetKeptExits();
  Result<pid_t> pid = runtime_.Create(container.id(), container.bundle(), (*stdio)->child());
  (*stdio)->CloseChildEnds();
  if (!pid.ok()) {
    // reaper-runtime may have left state behind before it failed.
    (void)runtime_.Delete(container.id(), true);
    (void)RemoveTree(kernel_, options_.work_dir + "/" + container.id());
    return pid.status();
  }
  init.set_stdio(std::move(*stdio));
  init.SetCreated(*pid);
  WatchExit(init);
  return Status::Ok();
}

Result<task::StartResponse> TaskService::Start(const task::StartRequest& request) {
  Result<Container*> container = FindContainer(request.id());
  if (!container.ok()) return container.status();
  Result<Process*> process = (*container)->FindProcess(request.exec_id());
  if (!process.ok()) return process.status();
  REAPER_RETURN_IF_ERROR((*process)->Check(Operation::kStart));

  if ((*process)->is_init()) {
    REAPER_RETURN_IF_ERROR(StartInit(**container));
  } else {
    REAPER_RETURN_IF_ERROR(StartExec(**container, **process));
  }
  logger_.Info("process started", FieldsOf(**process));
  task::StartResponse response;
  response.set_pid(static_cast<uint32_t>((*process)->pid()));
  return response;
}

Status TaskService::StartInit(Container& container) {
  Process& init = container.init();
  if (!container.is_sandbox()) REAPER_RETURN_IF_ERROR(runtime_.Start(container.id()));
  init.SetRunning(init.pid());

  // The init's exit can only be handled after this RPC returns, so TaskStart
  // is queued first.
  events::TaskStart event;
  event.set_container_id(container.id());
  event.set_pid(static_cast<uint32_t>(init.pid()));
  publisher_.Publish(kTopicTaskStart, event);
  return Status::Ok();
}

Status TaskService::StartExec(Container& container, Process& process) {
  Result<std::unique_ptr<ProcessStdio>> stdio = ProcessStdio::Open(kernel_, process.stdio_paths());
  if (!stdio.ok()) return stdio.status();

  reaper_.ForgetKeptExits();
  Result<pid_t> pid =
      runtime_.Exec(container.id(), process.exec_id(), process.spec(), (*stdio)->child());
  (*stdio)->CloseChildEnds();
  if (!pid.ok()) return pid.status();
  process.set_stdio(std::move(*stdio));
  process.SetRunning(*pid);

  events::TaskExecStarted event;
  event.set_container_id(container.id());
  event.set_exec_id(process.exec_id());
  event.set_pid(static_cast<uint32_t>(*pid));
  publisher_.Publish(kTopicTaskExecStarted, event);
  // After the event: an exit already reaped is handled inside WatchExit.
  WatchExit(process);
  return Status::Ok();
}

// ---- Exits ------------------------------------------------------------------

void TaskService::WatchExit(Process& process) {
  reaper_.Watch(process.pid(), [this, container_id = process.container_id(),
                                exec_id = process.exec_id()](pid_t pid, const ExitInfo& exit) {
    HandleExit(container_id, exec_id, pid, exit);
  });
}

void TaskService::HandleExit(const std::string& container_id, const std::string& exec_id,
                             pid_t pid, const ExitInfo& exit) {
  Result<Process*> found = FindProcess(container_id, exec_id);
  if (!found.ok() || (*found)->pid() != pid || (*found)->state() == ProcessState::kStopped ||
      (*found)->reaped()) {
    logger_.Debug("exit of a process that is gone", {{"id", container_id},
                                                     {"exec_id", exec_id},
                                                     {"pid", std::to_string(pid)}});
    return;
  }
  Process& process = **found;
  std::vector<int> undrained;
  if (process.stdio() != nullptr) undrained = process.stdio()->UndrainedOutputs();
  if (undrained.empty()) {
    ReportExit(container_id, exec_id, pid, exit);
    return;
  }
  process.SetReaped();
  LogFields fields = FieldsOf(process);
  fields.push_back({"fifos", std::to_string(undrained.size())});
  logger_.Debug("process exited; waiting until its output is read", fields);
  drain_.WhenDrained(undrained, [this, container_id, exec_id, pid, exit] {
    ReportExit(container_id, exec_id, pid, exit);
  });
}

void TaskService::ReportExit(const std::string& container_id, const std::string& exec_id,
                             pid_t pid, const ExitInfo& exit) {
  Result<Process*> found = FindProcess(container_id, exec_id);
  if (!found.ok() || (*found)->pid() != pid || (*found)->state() == ProcessState::kStopped) {
    return;
  }
  Process& process = **found;
  if (process.stdio() != nullptr) process.stdio()->CloseAll();
  std::vector<ExitCallback> waiters = process.SetExited(exit);

  LogFields fields = FieldsOf(process);
  fields.push_back({"exit_status", std::to_string(exit.status)});
  logger_.Info("process exited", fields);

  events::TaskExit event;
  event.set_container_id(container_id);
  event.set_id(process.event_id());
  event.set_pid(static_cast<uint32_t>(pid));
  event.set_exit_status(exit.status);
  SetTimestamp(exit.time, event.mutable_exited_at());
  publisher_.Publish(kTopicTaskExit, event);

  for (ExitCallback& waiter : waiters) waiter(exit);
}

// ---- State, Wait, Pids, Connect -----------------------------------------------

Result<task::StateResponse> TaskService::State(const task::StateRequest& request) {
  Result<Container*> container = FindContainer(request.id());
  if (!container.ok()) return container.status();
  Result<Process*> found = (*container)->FindProcess(request.exec_id());
  if (!found.ok()) return found.status();
  const Process& process = **found;

  task::StateResponse response;
  response.set_id(request.id());
  response.set_bundle((*container)->bundle());
  response.set_pid(static_cast<uint32_t>(process.pid()));
  response.set_status(StatusOf(process.state()));
  response.set_stdin(process.stdio_paths().stdin_path);
  response.set_stdout(process.stdio_paths().stdout_path);
  response.set_stderr(process.stdio_paths().stderr_path);
  response.set_terminal(process.stdio_paths().terminal);
  response.set_exec_id(process.exec_id());
  if (process.state() == ProcessState::kStopped) {
    response.set_exit_status(process.exit().status);
    SetTimestamp(process.exit().time, response.mutable_exited_at());
  }
  return response;
}

void TaskService::Wait(const task::WaitRequest& request, WaitCallback done) {
  Result<Process*> process = FindProcess(request.id(), request.exec_id());
  if (!process.ok()) {
    done(process.status());
    return;
  }
  auto answer = [done = std::move(done)](const ExitInfo& exit) {
    task::WaitResponse response;
    response.set_exit_status(exit.status);
    SetTimestamp(exit.time, response.mutable_exited_at());
    done(response);
  };
  if ((*process)->state() == ProcessState::kStopped) {
    answer((*process)->exit());
    return;
  }
  (*process)->AddWaiter(std::move(answer));
}

Result<task::PidsResponse> TaskService::Pids(const task::PidsRequest& request) {
  Result<Container*> container = FindContainer(request.id());
  if (!container.ok()) return container.status();

  task::PidsResponse response;
  auto add = [&response](const Process& process) {
    if (process.pid() == 0 || process.state() == ProcessState::kStopped) return;
    response.add_processes()->set_pid(static_cast<uint32_t>(process.pid()));
  };
  add((*container)->init());
  for (Process* exec : (*container)->execs()) add(*exec);
  return response;
}

Result<task::ConnectResponse> TaskService::Connect(const task::ConnectRequest& request) {
  task::ConnectResponse response;
  response.set_shim_pid(static_cast<uint32_t>(kernel_.GetPid()));
  auto found = containers_.find(request.id());
  if (found != containers_.end()) {
    response.set_task_pid(static_cast<uint32_t>(found->second->init().pid()));
  }
  return response;
}

// ---- Kill -------------------------------------------------------------------

Result<Empty> TaskService::Kill(const task::KillRequest& request) {
  if (request.signal() > kMaxSignal) {
    return Status(Code::kInvalidArgument,
                  "invalid signal " + std::to_string(request.signal()));
  }
  Result<Container*> container = FindContainer(request.id());
  if (!container.ok()) return container.status();
  Result<Process*> process = (*container)->FindProcess(request.exec_id());
  if (!process.ok()) return process.status();

  REAPER_RETURN_IF_ERROR(KillProcess(**container, **process,
                                     static_cast<int>(request.signal()), request.all()));
  return Empty();
}

Status TaskService::KillProcess(Container& container, Process& process, int signal, bool all) {
  const bool kill_execs = all && process.is_init();
  Status allowed = process.Check(Operation::kKill);
  if (!allowed.ok() && !(kill_execs && process.state() == ProcessState::kStopped)) return allowed;

  if (kill_execs) {
    for (Process* exec : container.execs()) {
      if (exec->state() != ProcessState::kRunning) continue;
      Status status = Signal(*exec, signal);
      if (status.ok() || status.code() == Code::kNotFound) continue;
      LogFields fields = FieldsOf(*exec);
      fields.push_back({"error", status.message()});
      logger_.Warning("signal exec failed", fields);
    }
  }
  if (container.is_sandbox() && process.is_init()) {
    if (process.state() != ProcessState::kRunning) return Status::Ok();
    // The sandbox has no process: any signal but the probe 0 ends it at once.
    if (signal == 0) return Status::Ok();
    const ExitInfo exit{128 + static_cast<uint32_t>(signal), kernel_.Now()};
    HandleExit(container.id(), "", process.pid(), exit);
    return Status::Ok();
  }
  if (process.state() != ProcessState::kRunning) {
    // Kill{all} of an exited init: children it left behind still run in its
    // process group.
    SignalLeftovers(process, signal);
    return Status::Ok();
  }
  return Signal(process, signal);
}

Status TaskService::Signal(const Process& process, int signal) {
  const pid_t pid = process.pid();
  if (pid <= 0 || pid == kernel_.GetPid()) {
    return Status(Code::kFailedPrecondition, "process " + process.event_id() + " has no pid to signal");
  }
  // reaper-runtime makes every workload and exec process a session leader,
  // so its children are in its process group too, and a stop reaches them
  // all at once.
  Status status = kernel_.Kill(-pid, signal);
  if (status.ok()) return status;
  if (status.error_number() != ESRCH) {
    return status.Annotate("signal the process group of pid " + std::to_string(pid));
  }
  // Reaped, with its exit waiting for its output to drain: its pid is free
  // for reuse, and nothing is left to signal.
  if (process.reaped()) return Status::Ok();
  // A process that left its group (setpgid, setsid) gets the signal alone.
  status = kernel_.Kill(pid, signal);
  if (status.error_number() == ESRCH) return Status(Code::kNotFound, "process already finished");
  return status.Annotate("signal pid " + std::to_string(pid));
}

void TaskService::SignalLeftovers(const Process& process, int signal) {
  const pid_t pid = process.pid();
  if (pid <= 0 || pid == kernel_.GetPid()) return;
  // NOTE: once the group is empty its id may be reused, but only after the
  // kernel has cycled through every other free pid (pid_max), and the group
  // is signalled right after the exit.
  Status status = kernel_.Kill(-pid, signal);
  if (status.ok()) {
    LogFields fields = FieldsOf(process);
    fields.push_back({"signal", std::to_string(signal)});
    logger_.Info("signalled processes left in the process group of an exited process", fields);
  } else if (status.error_number() != ESRCH) {
    LogFields fields = FieldsOf(process);
    fields.push_back({"error", status.message()});
    logger_.Warning("signal the processes left in a process group failed", fields);
  }
}

// ---- Exec and CloseIO ---------------------------------------------------------

Result<Empty> TaskService::Exec(const task::ExecProcessRequest& request) {
  REAPER_RETURN_IF_ERROR(ValidateId("exec", request.exec_id()));
  Result<Container*> container = FindContainer(request.id());
  if (!container.ok()) return container.status();
  REAPER_RETURN_IF_ERROR((*container)->init().Check(Operation::kExec));
  if (request.terminal()) {
    return Status(Code::kUnimplemented,
                  "a terminal was requested, but Reaper does not support terminals yet");
  }
  if (request.spec().value().empty()) {
    return Status(Code::kInvalidArgument, "exec " + request.exec_id() + " has no process spec");
  }

  auto process = std::make_unique<Process>(
      request.id(), request.exec_id(),
      StdioOf(request.stdin(), request.stdout(), request.stderr(), request.terminal()));
  process->set_spec(request.spec().value());
  REAPER_RETURN_IF_ERROR((*container)->AddExec(std::move(process)));

  events::TaskExecAdded event;
  event.set_container_id(request.id());
  event.set_exec_id(request.exec_id());
  publisher_.Publish(kTopicTaskExecAdded, event);
  return Empty();
}

Result<Empty> TaskService::CloseIO(const task::CloseIORequest& request) {
  Result<Process*> process = FindProcess(request.id(), request.exec_id());
  if (!process.ok()) return process.status();
  if (request.stdin() && (*process)->stdio() != nullptr) (*process)->stdio()->CloseStdin();
  return Empty();
}

// ---- Delete and Shutdown -------------------------------------------------------

Result<task::DeleteResponse> TaskService::Delete(const task::DeleteRequest& request) {
  Result<Container*> container = FindContainer(request.id());
  if (!container.ok()) return container.status();
  if (request.exec_id().empty()) return DeleteInit(**container);

  Result<Process*> found = (*container)->FindProcess(request.exec_id());
  if (!found.ok()) return found.status();
  REAPER_RETURN_IF_ERROR((*found)->Check(Operation::kDelete));

  task::DeleteResponse response;
  response.set_pid(static_cast<uint32_t>((*found)->pid()));
  if ((*found)->state() == ProcessState::kStopped) {
    response.set_exit_status((*found)->exit().status);
    SetTimestamp((*found)->exit().time, response.mutable_exited_at());
  }
  (*container)->RemoveExec(request.exec_id());
  return response;
}

Result<task::DeleteResponse> TaskService::DeleteInit(Container& container) {
  Process& init = container.init();
  REAPER_RETURN_IF_ERROR(init.Check(Operation::kDelete));
  if (init.state() == ProcessState::kCreated) KillUnstarted(container);

  for (Process* exec : container.execs()) {
    if (exec->state() == ProcessState::kRunning) {
      logger_.Info("killing an exec left running by its deleted task", FieldsOf(*exec));
      (void)Signal(*exec, SIGKILL);
    } else if (exec->state() == ProcessState::kStopped) {
      SignalLeftovers(*exec, SIGKILL);
    }
  }
  if (!container.is_sandbox()) {
    // A workload that exited may have left children behind (a daemon it
    // started, a background job still holding its stdout).
    SignalLeftovers(init, SIGKILL);
    Status deleted = runtime_.Delete(container.id(), true);
    if (!deleted.ok() && deleted.code() != Code::kNotFound) {
      return deleted.Annotate("delete task " + container.id());
    }
  }

  events::TaskDelete event;
  event.set_container_id(container.id());
  event.set_pid(static_cast<uint32_t>(init.pid()));
  event.set_exit_status(init.exit().status);
  SetTimestamp(init.exit().time, event.mutable_exited_at());
  publisher_.Publish(kTopicTaskDelete, event);
  logger_.Info("task deleted", FieldsOf(init));

  task::DeleteResponse response;
  response.set_pid(event.pid());
  response.set_exit_status(event.exit_status());
  *response.mutable_exited_at() = event.exited_at();

  const std::string id = container.id();
  containers_.erase(id);
  Status removed = RemoveTree(kernel_, options_.work_dir + "/" + id);
  if (!removed.ok()) {
    logger_.Warning("remove the task's work directory failed",
                    {{"id", id}, {"error", removed.message()}});
  }
  if (containers_.empty()) KillLeftoverDescendants(id);
  return response;
}

void TaskService::KillLeftoverDescendants(const std::string& last_id) {
  // Parents are signalled before their children, and a second round catches
  // a process that forked while the first one ran. The exits are reaped by
  // the ExitReaper like those of any other child.
  std::set<pid_t> killed;
  for (int round = 0; round < kLeftoverKillRounds; ++round) {
    Result<std::vector<pid_t>> descendants = DescendantsOf(kernel_, kernel_.GetPid());
    if (!descendants.ok()) {
      logger_.Warning("list the processes left below the shim failed",
                      {{"id", last_id}, {"error", descendants.status().message()}});
      return;
    }
    for (pid_t pid : *descendants) {
      if (!killed.insert(pid).second) continue;
      logger_.Info("killing a process left by the pod's deleted tasks",
                   {{"id", last_id}, {"pid", std::to_string(pid)}});
      (void)kernel_.Kill(pid, SIGKILL);
    }
  }
}

void TaskService::KillUnstarted(Container& container) {
  Process& init = container.init();
  const ExitInfo killed{128 + SIGKILL, kernel_.Now()};
  if (container.is_sandbox()) {
    HandleExit(container.id(), "", init.pid(), killed);
    return;
  }
  Status status = kernel_.Kill(init.pid(), SIGKILL);
  if (status.ok()) status = reaper_.WaitFor(init.pid());
  if (!status.ok()) {
    // Not our child (any more): record the kill as its exit.
    logger_.Warning("kill the unstarted init process failed", FieldsOf(init));
    reaper_.Unwatch(init.pid());
    HandleExit(container.id(), "", init.pid(), killed);
  }
}

Result<Empty> TaskService::Shutdown(const task::ShutdownRequest& request) {
  logger_.Debug("shutdown requested",
                {{"id", request.id()}, {"tasks_left", std::to_string(containers_.size())}});
  return Empty();
}

// ---- Not supported ----------------------------------------------------------

Result<Empty> TaskService::Pause(const task::PauseRequest&) {
  return Unsupported("Pause", "Reaper runs workloads on the host without a cgroup freezer");
}

Result<Empty> TaskService::Resume(const task::ResumeRequest&) {
  return Unsupported("Resume", "Reaper runs workloads on the host without a cgroup freezer");
}

Result<Empty> TaskService::Checkpoint(const task::CheckpointTaskRequest&) {
  return Unsupported("Checkpoint", "Reaper cannot checkpoint host processes");
}

Result<Empty> TaskService::Update(const task::UpdateTaskRequest&) {
  return Unsupported("Update", "Reaper does not manage the cgroup resources of workloads yet");
}

Result<Empty> TaskService::ResizePty(const task::ResizePtyRequest&) {
  return Unsupported("ResizePty", "Reaper has no terminal support yet");
}

Result<task::StatsResponse> TaskService::Stats(const task::StatsRequest&) {
  return Unsupported("Stats", "Reaper collects no cgroup metrics for workloads yet");
}

}  // namespace reaper::shim
