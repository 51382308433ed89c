// Node configuration shared by the shim and reaper-runtime.
//
// Read from a KEY=VALUE file (default /etc/reaper/reaper.conf), then
// overridden by environment variables of the same name. File syntax:
//   # a comment line
//   REAPER_STATE_DIR=/run/reaper
//   REAPER_LOG_LEVEL = "debug"     # whitespace around '=' is allowed
// Blank lines and lines starting with '#' are skipped. A value may be wrapped
// in one pair of double or single quotes, which are removed. Nothing else is
// unescaped, and a '#' after a value is part of the value. An unknown key is a
// warning (Config::warnings). A line without '=' or with an invalid key is an
// error naming "<file>:<line>".
//
// Keys:
//   REAPER_CONFIG        path of the file itself (environment only). Default
//                        /etc/reaper/reaper.conf; a missing default file is
//                        fine, a missing file named here is an error.
//   REAPER_STATE_DIR     base of all runtime state. Default /run/reaper.
//   REAPER_RUNTIME_ROOT  reaper-runtime's state directory; the shim uses one
//                        subdirectory per containerd namespace, and
//                        reaper-runtime one below it per container.
//                        Default $REAPER_STATE_DIR/runtime.
//   REAPER_OVERLAY_BASE  upper, work and merged directories of the overlay,
//                        one subdirectory per isolation key. Default
//                        $REAPER_STATE_DIR/overlay.
//   REAPER_NS_DIR        where the shared mount namespaces are pinned (bind
//                        mounts of nsfs files) with their lock files. Default
//                        $REAPER_STATE_DIR/ns.
//   REAPER_LOG_FILE      optional file the shim also logs to. Default none.
//   REAPER_LOG_LEVEL     debug, info, warning or error. Default info.
//   REAPER_RUNTIME_PATH  the reaper-runtime binary the shim runs. Default
//                        empty: the shim looks next to its own binary, then
//                        in PATH.
// Every path must be absolute. An empty value, in the file or in the
// environment, means the default. The defaults derived from REAPER_STATE_DIR
// follow its final value, wherever it was set.
//
// The library never reads the process environment itself: main() passes it
// in, so tests control it completely.
//
// Thread-safety: plain data and pure functions (LoadConfig reads through
// the given Kernel).
#ifndef REAPER_COMMON_CONFIG_H_
#define REAPER_COMMON_CONFIG_H_

#include <map>
#include <string>
#include <vector>

#include "common/log.h"
#include "common/status.h"
#include "sys/kernel.h"

namespace reaper {

// Environment variables by name.
using Environment = std::map<std::string, std::string>;

inline constexpr char kDefaultConfigPath[] = "/etc/reaper/reaper.conf";
inline constexpr char kDefaultStateDir[] = "/run/reaper";

struct Config {
  std::string config_path = kDefaultConfigPath;
  std::string state_dir = kDefaultStateDir;
  std::string runtime_root;  // REAPER_RUNTIME_ROOT
  std::string overlay_base;  // REAPER_OVERLAY_BASE
  std::string ns_dir;        // REAPER_NS_DIR
  std::string log_file;      // REAPER_LOG_FILE, empty when unset
  LogLevel log_level = LogLevel::kInfo;
  std::string runtime_path;  // REAPER_RUNTIME_PATH, empty when unset
  // Problems that did not stop loading, such as unknown keys, for the caller
  // to log.
  std::vector<std::string> warnings;
};

// Builds an Environment from "NAME=value" strings, as in environ. Entries
// without '=' are skipped; the first of two entries with one name wins, as
// getenv() would return it.
Environment EnvironmentFromStrings(const std::vector<std::string>& entries);

// Reads the file named by REAPER_CONFIG (or the default path), applies the
// environment overrides and fills in the derived defaults.
Result<Config> LoadConfig(sys::Kernel& kernel, const Environment& environment);

// The same from file content already read: `path` is used in messages only.
// Pass empty content and path to apply the environment alone.
Result<Config> ParseConfig(const std::string& content, const std::string& path,
                           const Environment& environment);

// Parses "debug", "info", "warning" or "error".
Result<LogLevel> ParseLogLevel(const std::string& text);

}  // namespace reaper

#endif  // REAPER_COMMON_CONFIG_H_
