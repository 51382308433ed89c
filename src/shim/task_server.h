// Binds TaskService to a ttrpc::Server as the service containerd.task.v2.Task:
// decodes each request, logs it at debug level, calls the method, and encodes
// the reply or converts the error with ToTtrpcStatus(), the one place where
// errors become the status codes containerd sees.
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

// Registers every method of the task API. `on_idle_shutdown` runs after a
// Shutdown call has been answered while no task is left; it should end the
// server.
void RegisterTaskService(ttrpc::Server& server, TaskService& service, Logger& logger,
                         std::function<void()> on_idle_shutdown);

// Converts an error for containerd, which maps NotFound, AlreadyExists,
// InvalidArgument, FailedPrecondition and Unimplemented to its own error
// classes and acts on them (a NotFound from Kill means "already dead"). A
// status that came from a failed system call carries its errno's code
// (ENOENT gives NotFound); such a code describes a file, not the task, so it
// becomes Internal. OK stays OK.
Status ToTtrpcStatus(const Status& status);

}  // namespace reaper::shim

#endif  // REAPER_SHIM_TASK_SERVER_H_
