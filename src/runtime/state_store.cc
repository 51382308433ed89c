#include "runtime/state_store.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "common/files.h"
#include "common/json.h"
#include "runtime/rfc3339.h"

namespace reaper {
namespace runtime {
namespace {

using json::Value;

constexpr size_t kMaxStateBytes = 1 << 20;

Status InvalidState(const std::string& problem) {
  return Status(Code::kInternal, "invalid state.json: " + problem);
}

Result<std::string> StringMember(const Value& document, const char* name) {
  const Value* value = document.Find(name);
  if (value == nullptr || !value->is_string()) {
    return InvalidState(std::string(name) + " is missing or not a string");
  }
  return value->string_value();
}

Result<int64_t> IntegerMember(const Value& document, const char* name) {
  const Value* value = document.Find(name);
  if (value == nullptr || !value->is_integer()) {
    return InvalidState(std::string(name) + " is missing or not an integer");
  }
  return value->integer_value();
}

Value AnnotationsValue(const std::map<std::string, std::string>& annotations) {
  Value object = Value::MakeObject();
  for (const auto& [key, value] : annotations) object.Add(key, Value::String(value));
  return object;
}

}  // namespace

const char* StatusName(ContainerStatus status) {
  switch (status) {
    case ContainerStatus::kCreated: return "created";
    case ContainerStatus::kRunning: return "running";
    case ContainerStatus::kStopped: return "stopped";
  }
  return "unknown";
}

std::string EncodeState(const ContainerState& state) {
  Value document = Value::MakeObject();
  document.Add("id", Value::String(state.id));
  document.Add("pid", Value::Integer(state.pid));
  document.Add("startTime", Value::Integer(static_cast<int64_t>(state.start_time)));
  document.Add("bundle", Value::String(state.bundle));
  document.Add("rootPath", Value::String(state.root_path));
  document.Add("created", Value::String(FormatRfc3339(state.created)));
  document.Add("annotations", AnnotationsValue(state.annotations));
  return json::Write(document) + "\n";
}

Result<ContainerState> DecodeState(const std::string& text) {
  Result<Value> document = json::Parse(text);
  if (!document.ok()) return InvalidState(document.status().message());

  ContainerState state;
  Result<std::string> id = StringMember(*document, "id");
  Result<int64_t> pid = IntegerMember(*document, "pid");
  Result<int64_t> start_time = IntegerMember(*document, "startTime");
  Result<std::string> bundle = StringMember(*document, "bundle");
  Result<std::string> root_path = StringMember(*document, "rootPath");
  Result<std::string> created = StringMember(*document, "created");
  for (const Status& status : {id.status(), pid.status(), start_time.status(), bundle.status(),
                               root_path.status(), created.status()}) {
    if (!status.ok()) return status;
  }
  if (*pid <= 0) return InvalidState("pid " + std::to_string(*pid) + " is not positive");
  Result<sys::Timespec> created_time = ParseRfc3339(*created);
  if (!created_time.ok()) return InvalidState(created_time.status().message());

  state.id = *id;
  state.pid = static_cast<pid_t>(*pid);
  state.start_time = static_cast<uint64_t>(*start_time);
  state.bundle = *bundle;
  state.root_path = *root_path;
  state.created = *created_time;
  const Value* annotations = document->Find("annotations");
  if (annotations != nullptr && annotations->is_object()) {
    for (const Value::Member& member : annotations->object()) {
      if (member.second.is_string()) state.annotations[member.first] = member.second.string_value();
    }
  }
  return state;
}

StateStore::StateStore(sys::Kernel& kernel, std::string root)
    : kernel_(kernel), root_(std::move(root)) {}

Status StateStore::CreateContainerDir(const std::string& id) {
  REAPER_RETURN_IF_ERROR(MakeDirectories(kernel_, root_, 0711));
  Status created = kernel_.Mkdir(ContainerDir(id), 0700);
  if (created.error_number() == EEXIST) {
    return Status(Code::kAlreadyExists, "container " + id + " already exists", EEXIST);
  }
  return created;
}

Status StateStore::Save(const ContainerState& state) {
  return WriteFileAtomic(kernel_, StatePath(state.id), EncodeState(state), 0600);
}

Result<ContainerState> StateStore::Load(const std::string& id) {
  Result<std::string> text = ReadFile(kernel_, StatePath(id), kMaxStateBytes);
  if (!text.ok()) {
    if (text.status().error_number() == ENOENT) {
      return Status(Code::kNotFound, "container " + id + " does not exist", ENOENT);
    }
    return text.status();
  }
  Result<ContainerState> state = DecodeState(*text);
  if (!state.ok()) return state.status().Annotate(StatePath(id));
  if (state->id != id) return InvalidState("it records id " + state->id + " under " + id);
  return state;
}

ContainerStatus StateStore::CurrentStatus(const ContainerState& state) {
  Result<ProcessStat> stat = ReadProcessStat(kernel_, state.pid);
  bool alive = stat.ok() && stat->start_time == state.start_time && stat->state != 'Z' &&
               stat->state != 'X';
  if (!alive) return ContainerStatus::kStopped;

  Result<sys::FileInfo> fifo = kernel_.Lstat(ExecFifoPath(state.id));
  return fifo.ok() ? ContainerStatus::kCreated : ContainerStatus::kRunning;
}

Status StateStore::Remove(const std::string& id) { return RemoveTree(kernel_, ContainerDir(id)); }

std::string StateStore::StateJson(const ContainerState& state, ContainerStatus status) const {
  Value document = Value::MakeObject();
  document.Add("ociVersion", Value::String("1.0.2"));
  document.Add("id", Value::String(state.id));
  document.Add("status", Value::String(StatusName(status)));
  // Like runc, a stopped container reports pid 0: the recorded pid may
  // already belong to another process.
  document.Add("pid", Value::Integer(status == ContainerStatus::kStopped ? 0 : state.pid));
  document.Add("bundle", Value::String(state.bundle));
  document.Add("created", Value::String(FormatRfc3339(state.created)));
  document.Add("annotations", AnnotationsValue(state.annotations));
  return json::Write(document) + "\n";
}

}  // namespace runtime
}  // namespace reaper
