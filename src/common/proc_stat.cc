#include "common/proc_stat.h"

#include <cstdlib>

#include "common/files.h"

namespace reaper {
namespace {

// /proc/<pid>/stat is one line of a few hundred bytes.
constexpr size_t kMaxProcStatBytes = 4096;

}  // namespace

Result<ProcessStat> ParseProcessStat(const std::string& text) {
  // "pid (comm) state ppid ..." where comm may contain ") ", so the fields
  // start after the last ')'.
  size_t close = text.rfind(')');
  if (close == std::string::npos || close + 2 >= text.size()) {
    return Status(Code::kInvalidArgument, "malformed /proc stat line");
  }
  ProcessStat stat;
  stat.state = text[close + 2];

  // The state is field 3; the parent pid follows it, and the start time is
  // field 22.
  size_t position = close + 2;
  for (int field = 3; field < 22; ++field) {
    position = text.find(' ', position);
    if (position == std::string::npos) {
      return Status(Code::kInvalidArgument, "malformed /proc stat line: too few fields");
    }
    ++position;
    if (field == 3) {
      char* end = nullptr;
      const long parent = std::strtol(text.c_str() + position, &end, 10);
      if (end == text.c_str() + position || parent < 0) {
        return Status(Code::kInvalidArgument, "malformed /proc stat line: no parent pid");
      }
      stat.parent_pid = static_cast<pid_t>(parent);
    }
  }
  char* end = nullptr;
  stat.start_time = std::strtoull(text.c_str() + position, &end, 10);
  if (end == text.c_str() + position) {
    return Status(Code::kInvalidArgument, "malformed /proc stat line: no start time");
  }
  return stat;
}

Result<ProcessStat> ReadProcessStat(sys::Kernel& kernel, pid_t pid) {
  Result<std::string> text =
      ReadFile(kernel, "/proc/" + std::to_string(pid) + "/stat", kMaxProcStatBytes);
  if (!text.ok()) return text.status();
  return ParseProcessStat(*text);
}

}  // namespace reaper
