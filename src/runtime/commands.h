// The reaper-runtime program: parses the command line, loads the node
// configuration, runs one verb and reports its outcome.
//
// Exit status: 0 on success, 1 when the verb failed, 2 for a usage error.
// `exec` without --detach exits with the status of the process it ran.
// A failure is logged as an error line to --log (see runtime/runtime_log.h),
// or written to stderr as "reaper-runtime: <message>" when no --log is given.
//
// Thread-safety: none; this is the whole program.
#ifndef REAPER_RUNTIME_COMMANDS_H_
#define REAPER_RUNTIME_COMMANDS_H_

#include <string>
#include <vector>

#include "common/config.h"
#include "runtime/process_launcher.h"
#include "sys/kernel.h"

namespace reaper {
namespace runtime {

inline constexpr char kRuntimeVersion[] = "0.1.0";
inline constexpr char kOciSpecVersion[] = "1.0.2";

inline constexpr int kExitSuccess = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

// Runs reaper-runtime. `arguments` excludes argv[0]. `scheduler` is nullptr
// except in tests on the fake kernel (runtime/process_launcher.h).
int RunRuntime(sys::Kernel& kernel, const std::vector<std::string>& arguments,
               const Environment& environment, ChildScheduler* scheduler = nullptr);

}  // namespace runtime
}  // namespace reaper

#endif  // REAPER_RUNTIME_COMMANDS_H_
