// The processes below the shim in the process tree, read from /proc.
//
// The shim serves one pod and is a child subreaper, so every process its
// workloads started either still descends from a workload or, once its
// parent died, became the shim's own child. When the pod's last task is
// deleted, what is still below the shim is left over from that pod: for
// example a daemon that left its workload's process group with setsid.
//
// Thread-safety: plain functions; each reads /proc through the given Kernel.
#ifndef REAPER_SHIM_DESCENDANTS_H_
#define REAPER_SHIM_DESCENDANTS_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "common/status.h"
#include "sys/kernel.h"

namespace reaper::shim {

// Returns every descendant of `ancestor`, parents before their children.
// Processes that exit while /proc is read are skipped.
Result<std::vector<pid_t>> DescendantsOf(sys::Kernel& kernel, pid_t ancestor);

}  // namespace reaper::shim

#endif  // REAPER_SHIM_DESCENDANTS_H_
