// Logger: one line per event, written with a single write() so lines from
// several processes sharing a log file or FIFO do not interleave.
//
// Line format (logfmt, which containerd's own log uses):
//   time="2026-12-04T20:43:19.123456789Z" level=info msg="..." id=t1 pid=42
// The shim writes to the bundle's `log` FIFO (containerd copies it into its
// own log) and, if configured, to a file; reaper-runtime writes to --log.
//
// Thread-safety: Log() may be called from several threads at once.
#ifndef REAPER_COMMON_LOG_H_
#define REAPER_COMMON_LOG_H_

#include <string>
#include <utility>
#include <vector>

#include "sys/kernel.h"

namespace reaper {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// Returns the level's name as log lines spell it: "debug", "info"...
const char* LogLevelName(LogLevel level);

// Key/value pairs appended to a line: {{"id", "t1"}, {"pid", "42"}}.
using LogFields = std::vector<std::pair<std::string, std::string>>;

class Logger {
 public:
  explicit Logger(sys::Kernel& kernel) : kernel_(kernel) {}

  // Adds a destination; the Logger does not own or close the fd. Writes to
  // a destination that fails (reader gone) are dropped.
  void AddFd(int fd) { fds_.push_back(fd); }
  void SetLevel(LogLevel level) { level_ = level; }
  LogLevel level() const { return level_; }

  void Log(LogLevel level, const std::string& message, const LogFields& fields = {});
  void Debug(const std::string& message, const LogFields& fields = {}) {
    Log(LogLevel::kDebug, message, fields);
  }
  void Info(const std::string& message, const LogFields& fields = {}) {
    Log(LogLevel::kInfo, message, fields);
  }
  void Warning(const std::string& message, const LogFields& fields = {}) {
    Log(LogLevel::kWarning, message, fields);
  }
  void Error(const std::string& message, const LogFields& fields = {}) {
    Log(LogLevel::kError, message, fields);
  }

  // Formats one line, newline included; exposed for tests.
  static std::string FormatLine(sys::Timespec time, LogLevel level, const std::string& message,
                                const LogFields& fields);

 private:
  sys::Kernel& kernel_;
  std::vector<int> fds_;
  LogLevel level_ = LogLevel::kInfo;
};

}  // namespace reaper

#endif  // REAPER_COMMON_LOG_H_
