// The shim's command line, as containerd writes it:
//   containerd-shim-reaper-v2 -namespace <ns> -address <grpc address>
//       -publish-binary <containerd> -id <task id> [-bundle <dir>] [-debug] start|delete
//
// The parser accepts what Go's flag package accepts, because containerd and
// the Go shims rely on it: "-name value", "-name=value", "--name value" and
// "--name=value", and boolean flags as "-debug" or "-debug=true". Flags end
// at the first argument that is not a flag, or at "--". The first argument
// after the flags is the action.
//
// Thread-safety: pure functions.
#ifndef REAPER_SHIM_FLAGS_H_
#define REAPER_SHIM_FLAGS_H_

#include <string>
#include <vector>

#include "common/status.h"

namespace reaper::shim {

enum class Action {
  kNone,    // no action word: an error, since the server is forked by start
  kStart,   // start or reuse the pod's server, print its address
  kDelete,  // clean up after a task, print a DeleteResponse
};

struct ShimFlags {
  std::string namespace_name;  // -namespace
  std::string address;         // -address: containerd's gRPC socket
  std::string publish_binary;  // -publish-binary: accepted, unused
  std::string id;              // -id: the task id
  std::string bundle;          // -bundle: given to delete only
  std::string socket;          // -socket: accepted, unused
  bool debug = false;          // -debug: log at debug level
  bool version = false;        // -v: print the version and exit
  Action action = Action::kNone;
};

// Parses argv without argv[0]. Fails with InvalidArgument naming the
// offending argument: an unknown flag, a missing value, a bad boolean, an
// unknown action or an argument after the action.
Result<ShimFlags> ParseFlags(const std::vector<std::string>& arguments);

}  // namespace reaper::shim

#endif  // REAPER_SHIM_FLAGS_H_
