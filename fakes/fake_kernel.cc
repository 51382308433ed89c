// FakeKernel: construction, the call log, fault injection, identity, the
// clock, and the calls that are not modeled.
#include "fakes/fake_kernel.h"

#include <gtest/gtest.h>

#include <fcntl.h>

#include <algorithm>
#include <cstdio>

#include "fakes/fake_kernel_internal.h"

namespace fakes {

using reaper::Code;
using sys::Result;
using sys::Status;

namespace internal {

std::vector<std::string> SplitPath(const std::string& path) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    if (end > start) parts.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

std::vector<std::string> SplitPathList(const std::string& list) {
  std::vector<std::string> paths;
  size_t start = 0;
  while (start <= list.size()) {
    size_t end = list.find(':', start);
    if (end == std::string::npos) end = list.size();
    if (end > start) paths.push_back(list.substr(start, end - start));
    start = end + 1;
  }
  return paths;
}

std::string NormalizePath(const std::string& absolute) {
  std::vector<std::string> kept;
  for (const std::string& part : SplitPath(absolute)) {
    if (part == ".") continue;
    if (part == "..") {
      if (!kept.empty()) kept.pop_back();
      continue;
    }
    kept.push_back(part);
  }
  std::string result;
  for (const std::string& part : kept) result += "/" + part;
  return result.empty() ? "/" : result;
}

std::string JoinRelative(const std::string& left, const std::string& right) {
  if (left.empty()) return right;
  if (right.empty()) return left;
  return left + "/" + right;
}

std::string Hex(unsigned long value) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "0x%lx", value);
  return buffer;
}

std::string Quote(const std::string& value) { return value.empty() ? "\"\"" : value; }

}  // namespace internal

FakeKernel::FakeKernel() {
  BuildHost();

  ProcessRecord init;
  init.info.pid = kInitPid;
  init.info.pgid = kInitPid;
  init.info.sid = kInitPid;
  init.info.cwd = "/";
  init.info.mount_namespace = host_namespace_;
  processes_[kInitPid] = init;

  ProcessRecord test;
  test.info.pid = kTestPid;
  test.info.parent = kInitPid;
  test.info.pgid = kTestPid;
  test.info.sid = kInitPid;
  test.info.cwd = "/";
  test.info.mount_namespace = host_namespace_;
  processes_[kTestPid] = test;

  for (int fd = 0; fd <= 2; ++fd) {
    auto file = std::make_shared<OpenFile>();
    file->kind = OpenFile::Kind::kDevNull;
    file->path = "/dev/null";
    file->status_flags = O_RDWR;
    file->reads = true;
    file->writes = true;
    Install(processes_[kTestPid], file, false, fd);
  }
}

FakeKernel::~FakeKernel() = default;

// ---- Call log and fault injection ------------------------------------------

std::optional<Status> FakeKernel::Enter(const char* method, const std::string& what,
                                        const std::vector<std::string>& arguments) {
  std::string line = method;
  for (const std::string& argument : arguments) line += " " + argument;
  calls_.push_back(line);

  for (auto it = injected_.begin(); it != injected_.end(); ++it) {
    if (it->method != method) continue;
    if (!it->substring.empty() && line.find(it->substring) == std::string::npos) continue;
    const int error_number = it->error_number;
    if (--it->remaining <= 0) injected_.erase(it);
    return Status::FromErrno(error_number, what);
  }
  return std::nullopt;
}

void FakeKernel::FailNext(const std::string& method, int error_number, int count) {
  FailNextMatching(method, "", error_number, count);
}

void FakeKernel::FailNextMatching(const std::string& method, const std::string& substring,
                                  int error_number, int count) {
  InjectedFailure failure;
  failure.method = method;
  failure.substring = substring;
  failure.error_number = error_number;
  failure.remaining = count;
  injected_.push_back(failure);
}

std::vector<std::string> FakeKernel::CallsOf(const std::string& method) const {
  std::vector<std::string> matching;
  for (const std::string& line : calls_) {
    if (line == method || line.rfind(method + " ", 0) == 0) matching.push_back(line);
  }
  return matching;
}

Status FakeKernel::NotModeled(const std::string& what) {
  return Status(Code::kUnimplemented, "fake kernel: " + what + " is not modeled");
}

Status FakeKernel::WouldBlock(const std::string& what) {
  ADD_FAILURE() << "fake kernel: " << what << " would block forever";
  return Status(Code::kUnimplemented, "fake kernel: " + what + " would block forever");
}

// ---- Processes: lookup -----------------------------------------------------

FakeKernel::ProcessRecord& FakeKernel::Caller() { return processes_.at(current_); }

const FakeKernel::ProcessRecord* FakeKernel::Find(pid_t pid) const {
  auto it = processes_.find(pid);
  return it == processes_.end() ? nullptr : &it->second;
}

FakeKernel::ProcessRecord* FakeKernel::Find(pid_t pid) {
  auto it = processes_.find(pid);
  return it == processes_.end() ? nullptr : &it->second;
}

// ---- Identity --------------------------------------------------------------

Status FakeKernel::SetIdentity(uid_t uid, gid_t gid, const std::vector<gid_t>& groups) {
  std::string group_list;
  for (gid_t group : groups) group_list += (group_list.empty() ? "" : ",") + std::to_string(group);
  const std::string what = "setgroups (" + std::to_string(groups.size()) + " groups)";
  if (auto failure = Enter("SetIdentity", what,
                           {std::to_string(uid), std::to_string(gid), internal::Quote(group_list)})) {
    return *failure;
  }

  // setgroups needs CAP_SETGID, which only root has in this model.
  ProcessRecord& caller = Caller();
  if (caller.info.uid != 0) return Status::FromErrno(EPERM, what);
  caller.info.groups = groups;
  caller.info.gid = gid;
  caller.info.uid = uid;
  return Status::Ok();
}

uid_t FakeKernel::GetEffectiveUid() { return Caller().info.uid; }

// ---- Clock -----------------------------------------------------------------

namespace {

sys::Timespec Add(sys::Timespec time, int64_t seconds, int32_t nanos) {
  time.seconds += seconds;
  int64_t total_nanos = static_cast<int64_t>(time.nanos) + nanos;
  time.seconds += total_nanos / 1000000000;
  total_nanos %= 1000000000;
  if (total_nanos < 0) {
    total_nanos += 1000000000;
    time.seconds -= 1;
  }
  time.nanos = static_cast<int32_t>(total_nanos);
  return time;
}

}  // namespace

sys::Timespec FakeKernel::Now() { return now_; }

sys::Timespec FakeKernel::MonotonicNow() { return monotonic_; }

void FakeKernel::AdvanceClock(int64_t seconds, int32_t nanos) {
  now_ = Add(now_, seconds, nanos);
  monotonic_ = Add(monotonic_, seconds, nanos);
}

// ---- Not modeled: unix sockets and epoll -----------------------------------

Result<int> FakeKernel::UnixSocket(int type) {
  if (auto failure = Enter("UnixSocket", "socket", {internal::Hex(type)})) return *failure;
  return NotModeled("UnixSocket");
}

Status FakeKernel::Bind(int fd, const std::string& path) {
  if (auto failure = Enter("Bind", "bind", {std::to_string(fd), internal::Quote(path)})) {
    return *failure;
  }
  return NotModeled("Bind");
}

Status FakeKernel::Listen(int fd, int backlog) {
  if (auto failure = Enter("Listen", "listen", {std::to_string(fd), std::to_string(backlog)})) {
    return *failure;
  }
  return NotModeled("Listen");
}

Result<int> FakeKernel::Accept(int fd, int flags) {
  if (auto failure = Enter("Accept", "accept", {std::to_string(fd), internal::Hex(flags)})) {
    return *failure;
  }
  return NotModeled("Accept");
}

Status FakeKernel::Connect(int fd, const std::string& path) {
  if (auto failure = Enter("Connect", "connect", {std::to_string(fd), internal::Quote(path)})) {
    return *failure;
  }
  return NotModeled("Connect");
}

Result<sys::PeerCredentials> FakeKernel::PeerCredentialsOf(int fd) {
  if (auto failure = Enter("PeerCredentialsOf", "getsockopt SO_PEERCRED", {std::to_string(fd)})) {
    return *failure;
  }
  return NotModeled("PeerCredentialsOf");
}

Status FakeKernel::Shutdown(int fd, int how) {
  if (auto failure = Enter("Shutdown", "shutdown", {std::to_string(fd), std::to_string(how)})) {
    return *failure;
  }
  return NotModeled("Shutdown");
}

Result<int> FakeKernel::EpollCreate() {
  if (auto failure = Enter("EpollCreate", "epoll_create1", {})) return *failure;
  return NotModeled("EpollCreate");
}

Status FakeKernel::EpollCtl(int epoll_fd, int op, int fd, uint32_t events, uint64_t data) {
  if (auto failure = Enter("EpollCtl", "epoll_ctl",
                           {std::to_string(epoll_fd), std::to_string(op), std::to_string(fd),
                            internal::Hex(events), std::to_string(data)})) {
    return *failure;
  }
  return NotModeled("EpollCtl");
}

Result<std::vector<sys::EpollEvent>> FakeKernel::EpollWait(int epoll_fd, int max_events,
                                                           int timeout_ms) {
  if (auto failure = Enter("EpollWait", "epoll_wait",
                           {std::to_string(epoll_fd), std::to_string(max_events),
                            std::to_string(timeout_ms)})) {
    return *failure;
  }
  return NotModeled("EpollWait");
}

}  // namespace fakes
