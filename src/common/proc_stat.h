// The fields of /proc/<pid>/stat (proc(5)) that Reaper reads.
//
// Thread-safety: plain data and functions; ReadProcessStat reads through the
// given Kernel.
#ifndef REAPER_COMMON_PROC_STAT_H_
#define REAPER_COMMON_PROC_STAT_H_

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "common/status.h"
#include "sys/kernel.h"

namespace reaper {

struct ProcessStat {
  char state = '?';     // field 3: R, S, D, Z, T...
  pid_t parent_pid = 0;  // field 4
  uint64_t start_time = 0;  // field 22, in clock ticks since boot
};

// Reads /proc/<pid>/stat. NotFound when the process does not exist.
Result<ProcessStat> ReadProcessStat(sys::Kernel& kernel, pid_t pid);

// Parses the content of /proc/<pid>/stat; the command name in parentheses
// may contain spaces and parentheses.
Result<ProcessStat> ParseProcessStat(const std::string& text);

}  // namespace reaper

#endif  // REAPER_COMMON_PROC_STAT_H_
