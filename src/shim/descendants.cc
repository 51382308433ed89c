#include "shim/descendants.h"

#include <cstdlib>
#include <map>
#include <set>

#include "common/proc_stat.h"

namespace reaper::shim {
namespace {

bool IsPid(const std::string& name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

}  // namespace

Result<std::vector<pid_t>> DescendantsOf(sys::Kernel& kernel, pid_t ancestor) {
  Result<std::vector<std::string>> names = kernel.ListDirectory("/proc");
  if (!names.ok()) return names.status().Annotate("list /proc");

  std::multimap<pid_t, pid_t> children_by_parent;
  for (const std::string& name : *names) {
    if (!IsPid(name)) continue;
    const pid_t pid = static_cast<pid_t>(std::atol(name.c_str()));
    Result<ProcessStat> stat = ReadProcessStat(kernel, pid);
    if (!stat.ok()) continue;  // exited meanwhile
    children_by_parent.emplace(stat->parent_pid, pid);
  }

  // Breadth first from the ancestor, so parents come before their children.
  // A pid reused while /proc was read could link the tree into a loop, so
  // each pid is taken once.
  std::vector<pid_t> descendants;
  std::set<pid_t> seen = {ancestor};
  std::vector<pid_t> level = {ancestor};
  while (!level.empty()) {
    std::vector<pid_t> next;
    for (pid_t parent : level) {
      auto range = children_by_parent.equal_range(parent);
      for (auto it = range.first; it != range.second; ++it) {
        if (!seen.insert(it->second).second) continue;
        descendants.push_back(it->second);
        next.push_back(it->second);
      }
    }
    level.swap(next);
  }
  return descendants;
}

}  // namespace reaper::shim
