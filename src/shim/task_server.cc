#include "shim/task_server.h"

#include <memory>
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

template <typename Request>
LogFields RequestFields(const std::string& method, const Request& request) {
  LogFields fields = {{"method", method}, {"id", request.id()}};
  std::string exec_id = ExecIdOf(request, 0);
  if (!exec_id.empty()) fields.push_back({"exec_id", exec_id});
  return fields;
}

// Decodes the payload into a Request, or answers InvalidArgument.
template <typename Request>
bool Decode(const std::string& method, const std::string& payload, Request* request,
            const ttrpc::Responder& respond) {
  if (request->ParseFromString(payload)) return true;
  respond(Status(Code::kInvalidArgument, "cannot decode the " + method + " request"), "");
  return false;
}

void Reply(Logger& logger, const LogFields& fields, const Status& status,
           const std::string& payload, const ttrpc::Responder& respond) {
  if (status.ok()) {
    respond(status, payload);
    return;
  }
  LogFields error_fields = fields;
  error_fields.push_back({"error", status.ToString()});
  logger.Error("request failed", error_fields);
  respond(ToTtrpcStatus(status), "");
}

// Registers a method that answers at once.
template <typename Request, typename Response>
void Route(ttrpc::Server& server, Logger& logger, const std::string& method,
           std::function<Result<Response>(const Request&)> call) {
  server.Register(kTaskServiceName, method,
                  [&logger, method, call](const ttrpc::CallContext&, const std::string& payload,
                                          ttrpc::Responder respond) {
                    Request request;
                    if (!Decode(method, payload, &request, respond)) return;
                    LogFields fields = RequestFields(method, request);
                    logger.Debug("request", fields);
                    Result<Response> result = call(request);
                    Reply(logger, fields, result.status(),
                          result.ok() ? result->SerializeAsString() : std::string(), respond);
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
  TaskService* s = &service;
  Route<task::CreateTaskRequest, task::CreateTaskResponse>(
      server, logger, "Create", [s](const auto& request) { return s->Create(request); });
  Route<task::StartRequest, task::StartResponse>(
      server, logger, "Start", [s](const auto& request) { return s->Start(request); });
  Route<task::StateRequest, task::StateResponse>(
      server, logger, "State", [s](const auto& request) { return s->State(request); });
  Route<task::DeleteRequest, task::DeleteResponse>(
      server, logger, "Delete", [s](const auto& request) { return s->Delete(request); });
  Route<task::PidsRequest, task::PidsResponse>(
      server, logger, "Pids", [s](const auto& request) { return s->Pids(request); });
  Route<task::KillRequest, Empty>(server, logger, "Kill",
                                  [s](const auto& request) { return s->Kill(request); });
  Route<task::ExecProcessRequest, Empty>(server, logger, "Exec",
                                         [s](const auto& request) { return s->Exec(request); });
  Route<task::CloseIORequest, Empty>(server, logger, "CloseIO",
                                     [s](const auto& request) { return s->CloseIO(request); });
  Route<task::ConnectRequest, task::ConnectResponse>(
      server, logger, "Connect", [s](const auto& request) { return s->Connect(request); });
  Route<task::PauseRequest, Empty>(server, logger, "Pause",
                                   [s](const auto& request) { return s->Pause(request); });
  Route<task::ResumeRequest, Empty>(server, logger, "Resume",
                                    [s](const auto& request) { return s->Resume(request); });
  Route<task::CheckpointTaskRequest, Empty>(
      server, logger, "Checkpoint", [s](const auto& request) { return s->Checkpoint(request); });
  Route<task::UpdateTaskRequest, Empty>(server, logger, "Update",
                                        [s](const auto& request) { return s->Update(request); });
  Route<task::ResizePtyRequest, Empty>(
      server, logger, "ResizePty", [s](const auto& request) { return s->ResizePty(request); });
  Route<task::StatsRequest, task::StatsResponse>(
      server, logger, "Stats", [s](const auto& request) { return s->Stats(request); });

  // Wait keeps its Responder until the process exits.
  server.Register(kTaskServiceName, "Wait",
                  [s, &logger](const ttrpc::CallContext&, const std::string& payload,
                               ttrpc::Responder respond) {
                    task::WaitRequest request;
                    if (!Decode("Wait", payload, &request, respond)) return;
                    LogFields fields = RequestFields("Wait", request);
                    logger.Debug("request", fields);
                    s->Wait(request, [&logger, fields, respond](const auto& result) {
                      Reply(logger, fields, result.status(),
                            result.ok() ? result->SerializeAsString() : std::string(), respond);
                    });
                  });

  // Shutdown exits only once the last task is gone; containerd sends it after
  // deleting each task of the pod.
  server.Register(kTaskServiceName, "Shutdown",
                  [s, &logger, on_idle_shutdown](const ttrpc::CallContext&,
                                                 const std::string& payload,
                                                 ttrpc::Responder respond) {
                    task::ShutdownRequest request;
                    if (!Decode("Shutdown", payload, &request, respond)) return;
                    LogFields fields = RequestFields("Shutdown", request);
                    logger.Debug("request", fields);
                    Result<Empty> result = s->Shutdown(request);
                    Reply(logger, fields, result.status(), std::string(), respond);
                    if (result.ok() && s->task_count() == 0) on_idle_shutdown();
                  });
}

}  // namespace reaper::shim
