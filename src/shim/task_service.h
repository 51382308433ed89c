// TaskService: the logic of containerd's task API (containerd.task.v2.Task),
// one method per RPC, on decoded requests. task_server.h binds it to ttrpc.
//
// The shim serves every task of one pod. Each task is a Container with an
// init process and exec processes (container.h, process.h, whose table lists
// which operation each state allows). Processes are created and started by
// reaper-runtime (RuntimeClient); their exits come from the ExitReaper; task
// events go to the Publisher. The pod sandbox task (annotation
// io.kubernetes.cri.container-type=sandbox) runs no process: it reports the
// shim's pid, is RUNNING from Start until Kill, and then exits with 128 +
// the signal (137 for the SIGKILL that CRI sends).
//
// Event order, as containerd's clients expect it: TaskCreate; TaskStart (or
// TaskExecStarted, after TaskExecAdded) before any TaskExit of that process;
// TaskExit before TaskDelete. Exits are handled on the loop thread, after
// the RPC that started the process has queued its start event.
//
// An exit is reported (TaskExit, Wait replies, State STOPPED) only once the
// output FIFOs containerd reads are drained, see output_drain.h.
//
// Signals go to the process group each workload and exec process leads, so
// a stop reaches the workload's children at once. Deleting a task kills what
// is left in the process groups of its processes, and deleting the last task
// kills every process still below the shim (see descendants.h).
//
// Replies that differ from a plain "ok or error", matching containerd's runc
// shim where containerd depends on them:
// - Kill of an exited process: NotFound "process already finished", except
//   Kill{all} of an exited init, which still signals the exec processes and
//   the init's process group that are left and returns OK.
// - Delete of a created, never started init kills it first.
// - Connect for an unknown id: OK with task_pid 0.
// - Pause, Resume, Checkpoint, Update, ResizePty and Stats: Unimplemented.
//
// Thread-safety: none; every method runs on the shim's loop thread.
#ifndef REAPER_SHIM_TASK_SERVICE_H_
#define REAPER_SHIM_TASK_SERVICE_H_

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "common/log.h"
#include "common/status.h"
#include "containerd/task/v2/shim.pb.h"
#include "google/protobuf/empty.pb.h"
#include "shim/bundle.h"
#include "shim/container.h"
#include "shim/exit_reaper.h"
#include "shim/output_drain.h"
#include "shim/publisher.h"
#include "shim/runtime_client.h"
#include "sys/kernel.h"

namespace reaper::shim {

namespace task = ::containerd::task::v2;
using Empty = ::google::protobuf::Empty;

class TaskService {
 public:
  struct Options {
    // Per-task files of the shim and of RuntimeClient live in
    // <work_dir>/<id>/; Delete removes that directory.
    std::string work_dir;
  };

  // Receives the result of a Wait call, once.
  using WaitCallback = std::function<void(const Result<task::WaitResponse>& response)>;

  TaskService(sys::Kernel& kernel, Logger& logger, RuntimeClient& runtime, Publisher& publisher,
              ExitReaper& reaper, OutputDrain& drain, Options options);
  TaskService(const TaskService&) = delete;
  TaskService& operator=(const TaskService&) = delete;

  Result<task::CreateTaskResponse> Create(const task::CreateTaskRequest& request);
  Result<task::StartResponse> Start(const task::StartRequest& request);
  Result<task::StateResponse> State(const task::StateRequest& request);
  Result<task::DeleteResponse> Delete(const task::DeleteRequest& request);
  Result<task::PidsResponse> Pids(const task::PidsRequest& request);
  Result<Empty> Kill(const task::KillRequest& request);
  Result<Empty> Exec(const task::ExecProcessRequest& request);
  Result<Empty> CloseIO(const task::CloseIORequest& request);
  // Calls `done` at once for an exited process, else when it exits.
  void Wait(const task::WaitRequest& request, WaitCallback done);
  Result<task::ConnectResponse> Connect(const task::ConnectRequest& request);
  // Always OK. The caller ends the server when no task is left.
  Result<Empty> Shutdown(const task::ShutdownRequest& request);

  Result<Empty> Pause(const task::PauseRequest& request);
  Result<Empty> Resume(const task::ResumeRequest& request);
  Result<Empty> Checkpoint(const task::CheckpointTaskRequest& request);
  Result<Empty> Update(const task::UpdateTaskRequest& request);
  Result<Empty> ResizePty(const task::ResizePtyRequest& request);
  Result<task::StatsResponse> Stats(const task::StatsRequest& request);

  size_t task_count() const { return containers_.size(); }
  // The pid of a process, or 0 when it is unknown or not created yet; for
  // log lines.
  pid_t PidOf(const std::string& id, const std::string& exec_id);

 private:
  Result<Container*> FindContainer(const std::string& id);
  Result<Process*> FindProcess(const std::string& id, const std::string& exec_id);

  Status CreateProcess(Container& container);
  Status StartInit(Container& container);
  Status StartExec(Container& container, Process& process);
  void WatchExit(Process& process);
  // Handles a reaped exit: reports it at once, or once OutputDrain has seen
  // the process's output FIFOs read empty. Ignored when the process is gone,
  // already stopped or already waiting for its output.
  void HandleExit(const std::string& container_id, const std::string& exec_id, pid_t pid,
                  const ExitInfo& exit);
  // Records an exit: closes the process's stdio, publishes TaskExit and
  // replies to its pending Waits. Ignored when the process is gone or already
  // stopped.
  void ReportExit(const std::string& container_id, const std::string& exec_id, pid_t pid,
                  const ExitInfo& exit);
  Status KillProcess(Container& container, Process& process, int signal, bool all);
  // Signals the process and its process group.
  Status Signal(const Process& process, int signal);
  // Signals what is left in the process group of an exited process.
  void SignalLeftovers(const Process& process, int signal);
  // Kills a created init that was never started, and waits for its exit.
  void KillUnstarted(Container& container);
  Result<task::DeleteResponse> DeleteInit(Container& container);
  // Kills every process still below the shim once the last task is deleted:
  // the shim serves one pod, so they are left over from its workloads.
  void KillLeftoverDescendants(const std::string& last_id);

  sys::Kernel& kernel_;
  Logger& logger_;
  RuntimeClient& runtime_;
  Publisher& publisher_;
  ExitReaper& reaper_;
  OutputDrain& drain_;
  const Options options_;
  std::map<std::string, std::unique_ptr<Container>> containers_;
};

}  // namespace reaper::shim

#endif  // REAPER_SHIM_TASK_SERVICE_H_
