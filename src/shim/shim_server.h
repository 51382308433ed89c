// The long-lived shim server: one per pod, forked by `start`.
//
// It becomes a child subreaper (so every workload ends up as its child),
// ignores SIGPIPE, and runs a single-threaded EventLoop with the ttrpc task
// service, the ExitReaper (SIGCHLD through a signalfd) and SIGTERM/SIGINT
// through a second signalfd. Events go out from the publisher's own thread.
// It ends when Shutdown arrives with no task left, or on SIGTERM/SIGINT,
// and then removes its socket and lock file.
//
// Thread-safety: RunServer runs on the calling thread, which becomes the
// loop thread.
#ifndef REAPER_SHIM_SHIM_SERVER_H_
#define REAPER_SHIM_SHIM_SERVER_H_

#include <string>
#include <vector>

#include "common/config.h"
#include "common/log.h"
#include "shim/flags.h"
#include "sys/kernel.h"

namespace reaper::shim {

struct ServerSetup {
  ShimFlags flags;
  Config config;
  // The environment given to reaper-runtime; TTRPC_ADDRESS is read from it.
  std::vector<std::string> environment;
  int listen_fd = -1;  // bound and listening; the server takes it over
  std::string socket_path;
  std::string lock_path;
};

// Serves until the end described above. Returns the exit status.
int RunServer(sys::Kernel& kernel, Logger& logger, const ServerSetup& setup);

}  // namespace reaper::shim

#endif  // REAPER_SHIM_SHIM_SERVER_H_
