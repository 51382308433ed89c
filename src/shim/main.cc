// containerd-shim-reaper-v2: the containerd shim v2 of Reaper
// (runtime_type io.containerd.reaper.v2). See shim/bootstrap.h for the
// start and delete actions and shim/shim_server.h for the server.
#include <string>
#include <vector>

#include <google/protobuf/stubs/logging.h>

#include "shim/bootstrap.h"
#include "shim/flags.h"
#include "sys/linux_kernel.h"

extern char** environ;

int main(int argc, char** argv) {
  sys::LinuxKernel kernel;
  std::vector<std::string> arguments(argv + 1, argv + argc);
  std::vector<std::string> environment;
  for (char** entry = environ; *entry != nullptr; ++entry) environment.push_back(*entry);

  // containerd reads the stdout and stderr of start through one pipe and
  // dials what they contain, so protobuf must never print its own
  // diagnostics there (it logs to stderr, for example for a string field
  // that is not UTF-8). Errors travel as Status values instead.
  google::protobuf::SetLogHandler(nullptr);

  auto write = [&kernel](int fd, const std::string& text) {
    (void)kernel.Write(fd, text.data(), text.size());
  };
  reaper::Result<reaper::shim::ShimFlags> flags = reaper::shim::ParseFlags(arguments);
  if (!flags.ok()) {
    write(2, "containerd-shim-reaper-v2: " + flags.status().message() + "\n");
    return 1;
  }
  if (flags->version) {
    write(1, std::string("containerd-shim-reaper-v2 version ") + reaper::shim::kShimVersion +
                 "\n");
    return 0;
  }
  switch (flags->action) {
    case reaper::shim::Action::kStart:
      return reaper::shim::RunStart(kernel, *flags, environment);
    case reaper::shim::Action::kDelete:
      return reaper::shim::RunDelete(kernel, *flags, environment);
    case reaper::shim::Action::kNone:
      break;
  }
  write(2, "containerd-shim-reaper-v2: missing action: start or delete\n");
  return 1;
}
