// reaper-runtime's command line, close to runc's:
//
//   reaper-runtime [global flags] <verb> [flags] <id> [args]
//
// Flags are written "--name value", "--name=value", "-name value" or
// "-name=value" (Go's flag package accepts all four, and callers written for
// runc use them). Boolean flags take no value, or "=true" / "=false". "--"
// ends the flags, so an id that starts with '-' can still be given. Flags may
// come before or after the positional arguments of a verb; global flags come
// before the verb.
//
// Thread-safety: pure functions.
#ifndef REAPER_RUNTIME_COMMAND_LINE_H_
#define REAPER_RUNTIME_COMMAND_LINE_H_

#include <string>
#include <vector>

#include "common/status.h"

namespace reaper {
namespace runtime {

enum class Verb { kCreate, kStart, kState, kKill, kDelete, kExec, kVersion, kHelp };

enum class LogFormat { kText, kJson };

struct GlobalFlags {
  std::string root;  // --root; empty: the configured REAPER_RUNTIME_ROOT
  std::string log_file;  // --log; empty: errors go to stderr
  LogFormat log_format = LogFormat::kText;
  bool debug = false;
};

struct CommandLine {
  GlobalFlags global;
  Verb verb = Verb::kHelp;
  std::string id;
  std::string bundle;          // create --bundle
  std::string pid_file;        // create, exec --pid-file
  std::string console_socket;  // create --console-socket
  std::string process_file;    // exec --process
  bool detach = false;         // exec --detach
  bool all = false;            // kill --all
  bool force = false;          // delete --force
  int signal = 15;             // kill: SIGTERM unless given
};

// Parses argv without argv[0]. Errors are InvalidArgument and name the bad
// flag, verb or argument ("unknown flag --bundel for create"), for a usage
// message.
Result<CommandLine> ParseCommandLine(const std::vector<std::string>& arguments);

// Parses a signal given as a number ("9"), a name ("KILL") or a name with
// the SIG prefix ("SIGKILL"), case-insensitively.
Result<int> ParseSignal(const std::string& text);

// The text printed by --help and after a usage error.
std::string UsageText();

}  // namespace runtime
}  // namespace reaper

#endif  // REAPER_RUNTIME_COMMAND_LINE_H_
