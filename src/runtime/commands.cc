#include "runtime/commands.h"

#include "common/files.h"
#include "runtime/command_line.h"
#include "runtime/container.h"
#include "runtime/overlay_namespace.h"
#include "runtime/runtime_log.h"
#include "runtime/state_store.h"

namespace reaper {
namespace runtime {
namespace {

void Print(sys::Kernel& kernel, int fd, const std::string& text) {
  (void)WriteAll(kernel, fd, text);
}

// Runs the verb of `command`; returns the exit status or the error.
Result<int> RunVerb(Containers& containers, sys::Kernel& kernel, const CommandLine& command) {
  switch (command.verb) {
    case Verb::kCreate: {
      if (!command.console_socket.empty()) {
        return Status(Code::kUnimplemented,
                      "create container " + command.id +
                          ": --console-socket is not supported: reaper-runtime has no terminal "
                          "support yet");
      }
      REAPER_RETURN_IF_ERROR(containers.Create(command.id, command.bundle, command.pid_file));
      return kExitSuccess;
    }
    case Verb::kStart:
      REAPER_RETURN_IF_ERROR(containers.Start(command.id));
      return kExitSuccess;
    case Verb::kState: {
      Result<std::string> state = containers.State(command.id);
      if (!state.ok()) return state.status();
      Print(kernel, 1, *state);
      return kExitSuccess;
    }
    case Verb::kKill:
      REAPER_RETURN_IF_ERROR(containers.Kill(command.id, command.signal, command.all));
      return kExitSuccess;
    case Verb::kDelete:
      REAPER_RETURN_IF_ERROR(containers.Delete(command.id, command.force));
      return kExitSuccess;
    case Verb::kExec:
      return containers.Exec(command.id, command.process_file, command.pid_file, command.detach);
    case Verb::kVersion:
    case Verb::kHelp:
      break;
  }
  return Status(Code::kInternal, "no verb to run");
}

int RunWithLog(sys::Kernel& kernel, const CommandLine& command, const Environment& environment,
               ChildScheduler* scheduler, RuntimeLog& log) {
  Result<Config> config = LoadConfig(kernel, environment);
  if (!config.ok()) {
    log.Error(config.status().message());
    return kExitFailure;
  }
  for (const std::string& warning : config->warnings) log.Warning(warning);

  std::string root = command.global.root.empty() ? config->runtime_root : command.global.root;
  StateStore store(kernel, root);
  OverlayNamespace overlay(
      kernel, MakeOverlayLayout(config->overlay_base, config->ns_dir, kNodeIsolationKey));
  Containers containers(kernel, store, overlay, log, scheduler);

  Result<int> exit_status = RunVerb(containers, kernel, command);
  if (!exit_status.ok()) {
    log.Error(exit_status.status().message());
    return kExitFailure;
  }
  return *exit_status;
}

}  // namespace

int RunRuntime(sys::Kernel& kernel, const std::vector<std::string>& arguments,
               const Environment& environment, ChildScheduler* scheduler) {
  Result<CommandLine> command = ParseCommandLine(arguments);
  if (!command.ok()) {
    Print(kernel, 2, "reaper-runtime: " + command.status().message() +
                         "\nRun 'reaper-runtime --help' for usage.\n");
    return kExitUsage;
  }
  if (command->verb == Verb::kHelp) {
    Print(kernel, 1, UsageText());
    return kExitSuccess;
  }
  if (command->verb == Verb::kVersion) {
    Print(kernel, 1, std::string("reaper-runtime version ") + kRuntimeVersion + "\nspec: " +
                         kOciSpecVersion + "\n");
    return kExitSuccess;
  }

  RuntimeLog log(kernel, command->global.log_format, command->global.debug);
  if (!command->global.log_file.empty()) {
    Status opened = log.OpenFile(command->global.log_file);
    if (!opened.ok()) {
      log.Error(opened.message());
      return kExitFailure;
    }
  }
  return RunWithLog(kernel, *command, environment, scheduler, log);
}

}  // namespace runtime
}  // namespace reaper
