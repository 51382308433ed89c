#include "shim/descendants.h"

#include <cstdlib>
#include <map>
#include <set>

#include "common/files.h"

namespace reaper::shim {
namespace {

// /proc/<pid>/stat is one line of a few hundred bytes.
constexpr size_t kMaxStatBytes = 4096;

bool IsPid(const std::string& name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

}  // namespace

Result<pid_t> ParseParentPid(const std::string& stat) {
  const size_t name_end = stat.rfind(')');
  if (name_end == std::string::npos || name_end + 2 >= stat.size()) {
    return Status(Code::kInvalidArgument, "invalid /proc stat line: no command name");
  }
  // After ") " come the state (field 3) and the parent pid (field 4).
  const size_t parent_start = stat.find(' ', name_end + 2);
  if (parent_start == std::string::npos) {
    return Status(Code::kInvalidArgument, "invalid /proc stat line: no parent pid");
  }
  char* end = nullptr;
  const long parent = std::strtol(stat.c_str() + parent_start + 1, &end, 10);
  if (end == stat.c_str() + parent_start + 1 || parent < 0) {
    return Status(Code::kInvalidArgument, "invalid /proc stat line: parent pid is not a number");
  }
  return static_cast<pid_t>(parent);
}

Result<std::vector<pid_t>> DescendantsOf(sys::Kernel& kernel, pid_t ancestor) {
  Result<std::vector<std::string>> names = kernel.ListDirectory("/proc");
  if (!names.ok()) return names.status().Annotate("list /proc");

  std::multimap<pid_t, pid_t> children_by_parent;
  for (const std::string& name : *names) {
    if (!IsPid(name)) continue;
    Result<std::string> stat = ReadFile(kernel, "/proc/" + name + "/stat", kMaxStatBytes);
    if (!stat.ok()) continue;  // exited meanwhile
    Result<pid_t> parent = ParseParentPid(*stat);
    if (!parent.ok()) continue;
    children_by_parent.emplace(*parent, static_cast<pid_t>(std::atol(name.c_str())));
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
