#include "shim/shim_server.h"

#include <signal.h>

#include "common/event_loop.h"
#include "shim/bootstrap.h"
#include "shim/exit_reaper.h"
#include "shim/publisher.h"
#include "shim/runtime_client.h"
#include "shim/output_drain.h"
#include "shim/task_server.h"
#include "shim/task_service.h"
#include "ttrpc/server.h"

namespace reaper::shim {
namespace {

// Watches SIGTERM and SIGINT, which end the server as they end the Go shims.
Result<int> OpenTerminationSignalFd(sys::Kernel& kernel) {
  REAPER_RETURN_IF_ERROR(kernel.SetSignalMask(SIG_BLOCK, {SIGTERM, SIGINT}));
  return kernel.SignalFd({SIGTERM, SIGINT});
}

Status PrepareProcess(sys::Kernel& kernel) {
  REAPER_RETURN_IF_ERROR(kernel.SetChildSubreaper().Annotate("become a child subreaper"));
  // A write to a FIFO or socket whose reader left must fail with EPIPE, not
  // kill the shim.
  return kernel.SetSignalIgnored(SIGPIPE, true).Annotate("ignore SIGPIPE");
}

}  // namespace

int RunServer(sys::Kernel& kernel, Logger& logger, const ServerSetup& setup) {
  const LogFields pod = {{"namespace", setup.flags.namespace_name}, {"id", setup.flags.id}};
  Status status = PrepareProcess(kernel);
  EventLoop loop(kernel);
  if (status.ok()) status = loop.Init();
  ExitReaper reaper(kernel, logger);
  if (status.ok()) status = reaper.Open();
  Result<int> termination_fd = OpenTerminationSignalFd(kernel);
  if (status.ok()) status = termination_fd.status();
  if (!status.ok()) {
    logger.Error("shim server setup failed: " + status.message(), pod);
    return 1;
  }

  // The publisher's thread starts only now, so that it inherits the mask
  // that blocks SIGCHLD, SIGTERM and SIGINT. Otherwise the kernel could
  // deliver them to that thread, where SIGCHLD would be discarded unseen by
  // the signalfds and SIGTERM would kill the server.
  Environment environment = EnvironmentFromStrings(setup.environment);
  TtrpcPublisher publisher(kernel, logger,
                           {environment["TTRPC_ADDRESS"], setup.flags.namespace_name});
  publisher.Start();

  Result<std::string> runtime_path =
      FindRuntimeBinary(kernel, setup.config.runtime_path, environment);
  if (!runtime_path.ok()) logger.Error(runtime_path.status().message(), pod);
  const std::string work_dir = WorkDirectoryFor(setup.config.state_dir, setup.flags.namespace_name);
  ReaperRuntimeClient runtime(
      kernel, logger,
      {runtime_path.ok() ? *runtime_path : "",
       RuntimeRootFor(setup.config.runtime_root, setup.flags.namespace_name), work_dir,
       setup.environment, logger.level() == LogLevel::kDebug});
  LoopOutputDrain drain(kernel, loop, logger);
  TaskService service(kernel, logger, runtime, publisher, reaper, drain, {work_dir});

  ttrpc::Server server(kernel, loop, logger);
  // The Shutdown reply is written before the callback runs, unless the
  // socket buffer is full, which a reply of a few bytes does not meet.
  RegisterTaskService(server, service, logger, [&loop] { loop.Stop(); });

  status = loop.Add(reaper.fd(), sys::kEpollIn, [&reaper](uint32_t) { reaper.OnReadable(); });
  if (status.ok()) {
    status = loop.Add(*termination_fd, sys::kEpollIn, [&](uint32_t) {
      Result<sys::SignalInfo> signal = kernel.ReadSignal(*termination_fd);
      if (!signal.ok()) return;
      logger.Info("terminated by signal " + std::to_string(signal->signal), pod);
      loop.Stop();
    });
  }
  if (status.ok()) status = server.Serve(setup.listen_fd);
  if (status.ok()) {
    logger.Info("shim server started", pod);
    status = loop.Run();
  }
  if (!status.ok()) logger.Error("shim server failed: " + status.message(), pod);

  server.Close();
  loop.Remove(reaper.fd());
  loop.Remove(*termination_fd);
  (void)kernel.Close(*termination_fd);
  (void)kernel.Unlink(setup.socket_path);
  (void)kernel.Unlink(setup.lock_path);
  publisher.Close();
  logger.Info("shim server stopped", pod);
  return status.ok() ? 0 : 1;
}

}  // namespace reaper::shim
