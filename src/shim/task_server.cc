#include "shim/task_server.h"

#include <string>
#include <utility>

namespace reaper::shim {
namespace {

// Every request of the task API has an id, most have an exec_id.
template <typename Request>
auto ExecIdOf(const Request& request, int) -> decltype(request.exec_id()) {
  return request.exec_id();
}
template <typename Request>
std::string ExecIdOf(const Request&, long) {
  return std::string();
}

// The ids that the log lines of one call carry.
struct CallInfo {
  std::string method;
  std::string id;
  std::string exec_id;

  LogFields Fields() const {
    LogFields fields = {{"method", method}, {"id", id}};
    if (!exec_id.empty()) fields.push_back({"exec_id", exec_id});
    return fields;
  }
};

// Decodes the payload and logs the request, or replies InvalidArgument.
template <typename Request>
bool Decode(Logger& logger, const std::string& method, const std::string& payload,
            Request* request, const ttrpc::Responder& respond, CallInfo* call) {
  if (!request->ParseFromString(payload)) {
    logger.Error("request failed: cannot decode it", {{"method", method}});
    respond(Status(Code::kInvalidArgument, "cannot decode the " + method + " request"), "");
    return false;
  }
  *call = CallInfo{method, request->id(), ExecIdOf(*request, 0)};
  logger.Debug("request", call->Fields());
  return true;
}

// Sends a result: the encoded response, or the error converted for
// containerd and logged with the ids and pid involved.
template <typename Response>
void Reply(Logger& logger, TaskService& service, const CallInfo& call,
           const Result<Response>& result, const ttrpc::Responder& respond) {
  if (result.ok()) {
    respond(Status::Ok(), result->SerializeAsString());
    return;
  }
  LogFields fields = call.Fields();
  pid_t pid = service.PidOf(call.id, call.exec_id);
  if (pid != 0) fields.push_back({"pid", std::to_string(pid)});
  fields.push_back({"error", result.status().ToString()});
  logger.Error("request failed", fields);
  respond(ToTtrpcStatus(result.status()), "");
}

// Registers a method that replies at once.
template <typename Request, typename Response>
void Route(ttrpc::Server& server, TaskService& service, Logger& logger, const std::string& method,
           Result<Response> (TaskService::*handler)(const Request&)) {
  server.Register(kTaskServiceName, method,
                  [&service, &logger, method, handler](const ttrpc::CallContext&,
                                                       const std::string& payload,
                                                       ttrpc::Responder respond) {
                    Request request;
                    CallInfo call;
                    if (!Decode(logger, method, payload, &request, respond, &call)) return;
                    Reply(logger, service, call, (service.*handler)(request), respond);
                  });
}

}  // namespace

Status ToTtrpcStatus(const Status& status) {
  if (status.ok()) return status;
  if (status.error_number() != 0) return Status(Code::kInternal, status.message());
  return Status(status.code(), status.message());
}

void RegisterTaskService(ttrpc::Server& server, TaskService& service, Logger& logger,
                         std::function<void()> on_idle_shutdown) {
  Route(server, service, logger, "Create", &TaskService::Create);
  Route(server, service, logger, "Start", &TaskService::Start);
  Route(server, service, logger, "State", &TaskService::State);
  Route(server, service, logger, "Delete", &TaskService::Delete);
  Route(server, service, logger, "Pids", &TaskService::Pids);
  Route(server, service, logger, "Kill", &TaskService::Kill);
  Route(server, service, logger, "Exec", &TaskService::Exec);
  Route(server, service, logger, "CloseIO", &TaskService::CloseIO);
  Route(server, service, logger, "Connect", &TaskService::Connect);
  Route(server, service, logger, "Pause", &TaskService::Pause);
  Route(server, service, logger, "Resume", &TaskService::Resume);
  Route(server, service, logger, "Checkpoint", &TaskService::Checkpoint);
  Route(server, service, logger, "Update", &TaskService::Update);
  Route(server, service, logger, "ResizePty", &TaskService::ResizePty);
  Route(server, service, logger, "Stats", &TaskService::Stats);

  // Wait keeps its Responder until the process exits.
  server.Register(kTaskServiceName, "Wait",
                  [&service, &logger](const ttrpc::CallContext&, const std::string& payload,
                                      ttrpc::Responder respond) {
                    task::WaitRequest request;
                    CallInfo call;
                    if (!Decode(logger, "Wait", payload, &request, respond, &call)) return;
                    service.Wait(request, [&service, &logger, call, respond](
                                              const Result<task::WaitResponse>& result) {
                      Reply(logger, service, call, result, respond);
                    });
                  });

  // containerd sends Shutdown after deleting each task of the pod; the server
  // ends only once the last task is gone.
  server.Register(kTaskServiceName, "Shutdown",
                  [&service, &logger, on_idle_shutdown](const ttrpc::CallContext&,
                                                        const std::string& payload,
                                                        ttrpc::Responder respond) {
                    task::ShutdownRequest request;
                    CallInfo call;
                    if (!Decode(logger, "Shutdown", payload, &request, respond, &call)) return;
                    Result<Empty> result = service.Shutdown(request);
                    Reply(logger, service, call, result, respond);
                    if (result.ok() && service.task_count() == 0) on_idle_shutdown();
                  });
}

}  // namespace reaper::shim
