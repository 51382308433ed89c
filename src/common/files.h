// Whole-file helpers over sys::Kernel, shared by the shim and the runtime.
#ifndef REAPER_COMMON_FILES_H_
#define REAPER_COMMON_FILES_H_

#include <string>

#include "sys/kernel.h"

namespace reaper {

// Reads a whole file. Fails with InvalidArgument when it is larger than
// max_bytes, so a hostile file cannot exhaust memory.
Result<std::string> ReadFile(sys::Kernel& kernel, const std::string& path,
                             size_t max_bytes = 16 << 20);

// Writes all of `data` to fd, retrying short writes.
Status WriteAll(sys::Kernel& kernel, int fd, const std::string& data);

// Replaces path's content atomically: writes "<path>.tmp" then renames it.
Status WriteFileAtomic(sys::Kernel& kernel, const std::string& path, const std::string& data,
                       mode_t mode = 0600);

// mkdir -p; existing directories are fine.
Status MakeDirectories(sys::Kernel& kernel, const std::string& path, mode_t mode = 0711);

// rm -r of a tree that contains only files, FIFOs, symlinks and
// directories (no mount points). A missing path is not an error.
Status RemoveTree(sys::Kernel& kernel, const std::string& path);

}  // namespace reaper

#endif  // REAPER_COMMON_FILES_H_
