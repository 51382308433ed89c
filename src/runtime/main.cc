// reaper-runtime: the short-lived, runc-like CLI that the shim runs to
// create, start, signal, inspect, delete and exec into containers.
#include <string>
#include <vector>

#include "common/config.h"
#include "runtime/commands.h"
#include "sys/linux_kernel.h"

extern char** environ;

int main(int argc, char** argv) {
  std::vector<std::string> arguments(argv + 1, argv + argc);
  std::vector<std::string> environment_entries;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    environment_entries.emplace_back(*entry);
  }

  sys::LinuxKernel kernel;
  return reaper::runtime::RunRuntime(kernel, arguments,
                                     reaper::EnvironmentFromStrings(environment_entries));
}
