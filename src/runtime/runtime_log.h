// RuntimeLog: where reaper-runtime writes its log lines and errors.
//
// With --log FILE, lines are appended to FILE in the chosen format:
//   text: time="2026-12-04T20:43:19.123456789Z" level=error msg="..." (logfmt)
//   json: {"level":"error","msg":"...","time":"2026-12-04T20:43:19.123456789Z"}
// one line per event, each written with a single write(). The json form is
// runc's --log-format json, so a caller such as the shim can read the last
// "error" line to learn why a command failed.
// Debug lines are written only with --debug. Without --log, warnings and
// errors go to stderr as "reaper-runtime: <message>" (warnings with
// "warning: " first), and info lines are dropped, because stderr is also the
// workload's stderr.
//
// Thread-safety: none; reaper-runtime is single-threaded.
#ifndef REAPER_RUNTIME_RUNTIME_LOG_H_
#define REAPER_RUNTIME_RUNTIME_LOG_H_

#include <string>

#include "common/log.h"
#include "common/status.h"
#include "runtime/command_line.h"
#include "sys/kernel.h"

namespace reaper {
namespace runtime {

class RuntimeLog {
 public:
  RuntimeLog(sys::Kernel& kernel, LogFormat format, bool debug);
  ~RuntimeLog();
  RuntimeLog(const RuntimeLog&) = delete;
  RuntimeLog& operator=(const RuntimeLog&) = delete;

  // Appends to `path` from now on instead of writing to stderr. The file is
  // created with mode 0600 when missing.
  Status OpenFile(const std::string& path);

  void Log(LogLevel level, const std::string& message, const LogFields& fields = {});
  void Debug(const std::string& message, const LogFields& fields = {}) {
    Log(LogLevel::kDebug, message, fields);
  }
  void Warning(const std::string& message, const LogFields& fields = {}) {
    Log(LogLevel::kWarning, message, fields);
  }
  void Error(const std::string& message, const LogFields& fields = {}) {
    Log(LogLevel::kError, message, fields);
  }

  // One json line, newline included; exposed for tests.
  static std::string FormatJsonLine(sys::Timespec time, LogLevel level, const std::string& message,
                                    const LogFields& fields);

 private:
  sys::Kernel& kernel_;
  LogFormat format_;
  bool debug_;
  int file_fd_ = -1;
};

}  // namespace runtime
}  // namespace reaper

#endif  // REAPER_RUNTIME_RUNTIME_LOG_H_
