// The mount table of a mount namespace as /proc/<pid>/mountinfo lists it
// (proc(5)), one MountEntry per line.
//
// Thread-safety: plain data and pure functions (ReadMountInfo reads through
// the given Kernel).
#ifndef REAPER_RUNTIME_MOUNT_INFO_H_
#define REAPER_RUNTIME_MOUNT_INFO_H_

#include <string>
#include <vector>

#include "common/status.h"
#include "sys/kernel.h"

namespace reaper {
namespace runtime {

struct MountEntry {
  int id = 0;
  int parent_id = 0;
  std::string root;         // the mounted directory within its file system
  std::string mount_point;  // unescaped: "\040" is read back as ' '
  std::string options;
  // Propagation tags such as "shared:12" or "master:3"; none for private.
  std::vector<std::string> optional_fields;
  std::string fstype;
  std::string source;
};

Result<std::vector<MountEntry>> ParseMountInfo(const std::string& text);

// Reads /proc/self/mountinfo: the mount namespace of the calling process.
Result<std::vector<MountEntry>> ReadMountInfo(sys::Kernel& kernel);

// The last (topmost) entry mounted at `mount_point`, or nullptr.
const MountEntry* FindMount(const std::vector<MountEntry>& mounts, const std::string& mount_point);

// True when the entry's propagation type is shared ("shared:N" tag).
bool IsShared(const MountEntry& entry);

}  // namespace runtime
}  // namespace reaper

#endif  // REAPER_RUNTIME_MOUNT_INFO_H_
