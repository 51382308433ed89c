#include "common/log.h"

#include <cstdio>
#include <ctime>

namespace reaper {
const char* LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarning: return "warning";
    case LogLevel::kError: return "error";
  }
  return "info";
}

namespace {

// Quotes a value when it is empty or contains spaces, quotes, '=' or
// control characters, escaping as logfmt readers expect.
std::string QuoteIfNeeded(const std::string& value) {
  bool needs_quotes = value.empty();
  for (char c : value) {
    if (c == ' ' || c == '"' || c == '=' || c == '\\' || static_cast<unsigned char>(c) < 0x20) {
      needs_quotes = true;
      break;
    }
  }
  if (!needs_quotes) return value;

  std::string quoted = "\"";
  for (char c : value) {
    switch (c) {
      case '"': quoted += "\\\""; break;
      case '\\': quoted += "\\\\"; break;
      case '\n': quoted += "\\n"; break;
      case '\t': quoted += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char escape[8];
          std::snprintf(escape, sizeof(escape), "\\x%02x", static_cast<unsigned char>(c));
          quoted += escape;
        } else {
          quoted += c;
        }
    }
  }
  return quoted + "\"";
}

}  // namespace

std::string Logger::FormatLine(sys::Timespec time, LogLevel level, const std::string& message,
                               const LogFields& fields) {
  std::time_t seconds = static_cast<std::time_t>(time.seconds);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char stamp[64];
  std::snprintf(stamp, sizeof(stamp), "%04d-%02d-%02dT%02d:%02d:%02d.%09dZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, time.nanos);

  std::string line = "time=\"" + std::string(stamp) + "\" level=" + LogLevelName(level) +
                     " msg=" + QuoteIfNeeded(message);
  for (const auto& [key, value] : fields) line += " " + key + "=" + QuoteIfNeeded(value);
  return line + "\n";
}

void Logger::Log(LogLevel level, const std::string& message, const LogFields& fields) {
  if (level < level_ || fds_.empty()) return;
  std::string line = FormatLine(kernel_.Now(), level, message, fields);
  for (int fd : fds_) {
    // A failed or short write is dropped: logging must not fail the caller.
    (void)kernel_.Write(fd, line.data(), line.size());
  }
}

}  // namespace reaper
