#include "runtime/runtime_log.h"

#include <fcntl.h>

#include "common/json.h"
#include "runtime/rfc3339.h"

namespace reaper {
namespace runtime {
RuntimeLog::RuntimeLog(sys::Kernel& kernel, LogFormat format, bool debug)
    : kernel_(kernel), format_(format), debug_(debug) {}

RuntimeLog::~RuntimeLog() {
  if (file_fd_ >= 0) (void)kernel_.Close(file_fd_);
}

Status RuntimeLog::OpenFile(const std::string& path) {
  Result<int> fd = kernel_.Open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (!fd.ok()) return fd.status().Annotate("open log file");
  if (file_fd_ >= 0) (void)kernel_.Close(file_fd_);
  file_fd_ = *fd;
  return Status::Ok();
}

std::string RuntimeLog::FormatJsonLine(sys::Timespec time, LogLevel level,
                                       const std::string& message, const LogFields& fields) {
  json::Value line = json::Value::MakeObject();
  line.Add("level", json::Value::String(LogLevelName(level)));
  line.Add("msg", json::Value::String(message));
  line.Add("time", json::Value::String(FormatRfc3339(time)));
  for (const auto& [key, value] : fields) line.Add(key, json::Value::String(value));
  return json::Write(line) + "\n";
}

void RuntimeLog::Log(LogLevel level, const std::string& message, const LogFields& fields) {
  if (level == LogLevel::kDebug && !debug_) return;

  std::string line;
  int fd = file_fd_;
  if (fd >= 0) {
    line = format_ == LogFormat::kJson ? FormatJsonLine(kernel_.Now(), level, message, fields)
                                       : Logger::FormatLine(kernel_.Now(), level, message, fields);
  } else {
    // stderr may be the workload's stderr, so only what the caller must see
    // goes there.
    if (level == LogLevel::kInfo) return;
    fd = 2;
    line = "reaper-runtime: ";
    if (level == LogLevel::kWarning) line += "warning: ";
    if (level == LogLevel::kDebug) line += "debug: ";
    line += message;
    for (const auto& [key, value] : fields) line += " " + key + "=" + value;
    line += "\n";
  }
  // A log line that cannot be written is dropped: logging must not change
  // the outcome of the command.
  (void)kernel_.Write(fd, line.data(), line.size());
}

}  // namespace runtime
}  // namespace reaper
