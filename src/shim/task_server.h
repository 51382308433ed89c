// Binds TaskService to a ttrpc::Server as the service containerd.task.v2.Task.
// Each call is decoded, logged at debug level and passed to the method. The
// reply is encoded, or the error converted by ToTtrpcStatus(), the one place
// where errors become the status codes containerd receives.
//
// Thread-safety: everything runs on the loop thread of the server.
#ifndef REAPER_SHIM_TASK_SERVER_H_
#define REAPER_SHIM_TASK_SERVER_H_

#include <functional>

#include "common/log.h"
#include "common/status.h"
#include "shim/task_service.h"
#include "ttrpc/server.h"

namespace reaper::shim {

inline constexpr char kTaskServiceName[] = "containerd.task.v2.Task";

// Registers every method of the task API. `on_idle_shutdown` runs after the
// reply to a Shutdown call has been sent while no task is left. It should end
// the server.
void RegisterTaskService(ttrpc::Server& server, TaskService& service, Logger& logger,
                         std::function<void()> on_idle_shutdown);

// Converts an error for containerd, which maps NotFound, AlreadyExists,
// InvalidArgument, FailedPrecondition and Unimplemented to its own error
// classes and acts on them (a NotFound from Kill means "already dead"). A
// status from a failed system call carries its errno's code, for example
// NotFound for ENOENT. That code describes a file and not the task, so it
// becomes Internal. OK stays OK.
Status ToTtrpcStatus(const Status& status);

}  // namespace reaper::shim

#endif  // REAPER_SHIM_TASK_SERVER_H_
