// The subset of the OCI runtime specification (config.json, and the Process
// JSON that `exec --process` reads) that reaper-runtime uses.
//
// Read fields:
//   process.args            required, non-empty array of strings
//   process.env             array of "NAME=value" strings
//   process.cwd             absolute path, default "/"
//   process.user            uid, gid, additionalGids (default 0, 0, none)
//   process.terminal        true is rejected (Unimplemented) until consoles
//                           are supported
//   process.oomScoreAdj     optional integer in -1000..1000
//   mounts                  array of {destination, type, source}; parsed
//                           and logged, not mounted yet (Reaper's workloads
//                           see the host's /proc, /sys, /dev and the files
//                           under the overlay)
//   annotations             object of strings
//   root.path               kept for `state`; Reaper runs the process on
//                           the host's overlay, not in this root
// Other fields are ignored. A wrong type is InvalidArgument naming the field
// ("process.args[1] must be a string, not a number"); strings that reach
// execve may not contain NUL bytes.
//
// Thread-safety: plain data and pure functions (the Load functions read
// through the given Kernel).
#ifndef REAPER_RUNTIME_OCI_SPEC_H_
#define REAPER_RUNTIME_OCI_SPEC_H_

#include <sys/types.h>

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "sys/kernel.h"

namespace reaper {
namespace runtime {

// config.json bigger than this is rejected; real ones are a few KiB.
inline constexpr size_t kMaxSpecBytes = 4 << 20;
inline constexpr int kMaxSpecDepth = 64;

struct User {
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> additional_gids;
};

struct ProcessSpec {
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::string cwd = "/";
  User user;
  bool terminal = false;
  std::optional<int> oom_score_adj;
};

// One entry of config.json's "mounts".
struct MountSpec {
  std::string destination;
  std::string type;
  std::string source;
};

struct BundleSpec {
  std::string oci_version;
  ProcessSpec process;
  std::vector<MountSpec> mounts;
  std::map<std::string, std::string> annotations;
  std::string root_path;
};

// Parses config.json content.
Result<BundleSpec> ParseBundleSpec(const std::string& text);

// Parses a Process object on its own, as `exec --process` receives it. Field
// names in messages are relative to it ("args[0]").
Result<ProcessSpec> ParseProcessSpec(const std::string& text);

// Reads and parses <bundle>/config.json. A missing file is NotFound
// "read config.json in bundle <dir>: ...", a parse error InvalidArgument
// "config.json: ...".
Result<BundleSpec> LoadBundleSpec(sys::Kernel& kernel, const std::string& bundle);

// Reads and parses a process.json file.
Result<ProcessSpec> LoadProcessSpec(sys::Kernel& kernel, const std::string& path);

// The value of NAME in an env list of "NAME=value" strings, or nullopt.
std::optional<std::string> FindEnv(const std::vector<std::string>& env, const std::string& name);

}  // namespace runtime
}  // namespace reaper

#endif  // REAPER_RUNTIME_OCI_SPEC_H_
