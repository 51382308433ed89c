#include "runtime/oci_spec.h"

#include <cerrno>
#include <cstdint>

#include "common/files.h"
#include "common/json.h"

namespace reaper {
namespace runtime {
namespace {

using json::Value;

Status Invalid(const std::string& message) { return Status(Code::kInvalidArgument, message); }

Status WrongType(const std::string& field, const char* expected, const Value& value) {
  return Invalid(field + " must be " + expected + ", not " + json::TypeName(value.type()));
}

// Joins a parent field name and a member name: "" + "args" = "args",
// "process" + "args" = "process.args".
std::string Member(const std::string& parent, const std::string& name) {
  return parent.empty() ? name : parent + "." + name;
}

std::string Element(const std::string& parent, size_t index) {
  return parent + "[" + std::to_string(index) + "]";
}

Status CheckNoNul(const std::string& field, const std::string& text) {
  if (text.find('\0') != std::string::npos) return Invalid(field + " contains a NUL character");
  return Status::Ok();
}

Result<std::string> ReadString(const Value& value, const std::string& field) {
  if (!value.is_string()) return WrongType(field, "a string", value);
  REAPER_RETURN_IF_ERROR(CheckNoNul(field, value.string_value()));
  return value.string_value();
}

Result<std::vector<std::string>> ReadStringArray(const Value& value, const std::string& field) {
  if (!value.is_array()) return WrongType(field, "an array of strings", value);
  std::vector<std::string> strings;
  for (size_t i = 0; i < value.array().size(); ++i) {
    Result<std::string> text = ReadString(value.array()[i], Element(field, i));
    if (!text.ok()) return text.status();
    strings.push_back(*text);
  }
  return strings;
}

// Reads a uid or gid: an integer in 0..2^32-2 (2^32-1 is the "no id" value
// of the set*id calls).
Result<uint32_t> ReadId(const Value& value, const std::string& field) {
  if (!value.is_integer()) return WrongType(field, "an integer", value);
  int64_t number = value.integer_value();
  if (number < 0 || number > 0xfffffffeLL) {
    return Invalid(field + " is out of range: " + std::to_string(number));
  }
  return static_cast<uint32_t>(number);
}

Status ParseUser(const Value& value, const std::string& field, User* user) {
  if (!value.is_object()) return WrongType(field, "an object", value);
  if (const Value* uid = value.Find("uid")) {
    Result<uint32_t> parsed = ReadId(*uid, Member(field, "uid"));
    if (!parsed.ok()) return parsed.status();
    user->uid = *parsed;
  }
  if (const Value* gid = value.Find("gid")) {
    Result<uint32_t> parsed = ReadId(*gid, Member(field, "gid"));
    if (!parsed.ok()) return parsed.status();
    user->gid = *parsed;
  }
  if (const Value* groups = value.Find("additionalGids")) {
    std::string groups_field = Member(field, "additionalGids");
    if (!groups->is_array()) return WrongType(groups_field, "an array of integers", *groups);
    for (size_t i = 0; i < groups->array().size(); ++i) {
      Result<uint32_t> parsed = ReadId(groups->array()[i], Element(groups_field, i));
      if (!parsed.ok()) return parsed.status();
      user->additional_gids.push_back(*parsed);
    }
  }
  return Status::Ok();
}

Status ParseArgs(const Value& process, const std::string& field, ProcessSpec* spec) {
  const Value* args = process.Find("args");
  std::string args_field = Member(field, "args");
  if (args == nullptr) return Invalid(args_field + " is missing");
  Result<std::vector<std::string>> parsed = ReadStringArray(*args, args_field);
  if (!parsed.ok()) return parsed.status();
  if (parsed->empty()) return Invalid(args_field + " is empty");
  if ((*parsed)[0].empty()) return Invalid(Element(args_field, 0) + " is empty");
  spec->args = std::move(*parsed);
  return Status::Ok();
}

Status ParseEnv(const Value& process, const std::string& field, ProcessSpec* spec) {
  const Value* env = process.Find("env");
  if (env == nullptr) return Status::Ok();
  std::string env_field = Member(field, "env");
  Result<std::vector<std::string>> parsed = ReadStringArray(*env, env_field);
  if (!parsed.ok()) return parsed.status();
  for (size_t i = 0; i < parsed->size(); ++i) {
    size_t equals = (*parsed)[i].find('=');
    if (equals == std::string::npos || equals == 0) {
      return Invalid(Element(env_field, i) + " \"" + (*parsed)[i] + "\" is not NAME=value");
    }
  }
  spec->env = std::move(*parsed);
  return Status::Ok();
}

Status ParseCwd(const Value& process, const std::string& field, ProcessSpec* spec) {
  const Value* cwd = process.Find("cwd");
  if (cwd == nullptr) return Status::Ok();
  std::string cwd_field = Member(field, "cwd");
  Result<std::string> parsed = ReadString(*cwd, cwd_field);
  if (!parsed.ok()) return parsed.status();
  if (parsed->empty() || (*parsed)[0] != '/') {
    return Invalid(cwd_field + " \"" + *parsed + "\" must be an absolute path");
  }
  spec->cwd = *parsed;
  return Status::Ok();
}

Status ParseTerminal(const Value& process, const std::string& field, ProcessSpec* spec) {
  const Value* terminal = process.Find("terminal");
  if (terminal == nullptr) return Status::Ok();
  std::string terminal_field = Member(field, "terminal");
  if (!terminal->is_bool()) return WrongType(terminal_field, "a boolean", *terminal);
  if (terminal->bool_value()) {
    return Status(Code::kUnimplemented,
                  terminal_field + " is true, but reaper-runtime does not support terminals yet");
  }
  spec->terminal = false;
  return Status::Ok();
}

Status ParseOomScoreAdj(const Value& process, const std::string& field, ProcessSpec* spec) {
  const Value* adjustment = process.Find("oomScoreAdj");
  if (adjustment == nullptr) return Status::Ok();
  std::string adjustment_field = Member(field, "oomScoreAdj");
  if (!adjustment->is_integer()) return WrongType(adjustment_field, "an integer", *adjustment);
  int64_t value = adjustment->integer_value();
  if (value < -1000 || value > 1000) {
    return Invalid(adjustment_field + " " + std::to_string(value) + " is outside -1000..1000");
  }
  spec->oom_score_adj = static_cast<int>(value);
  return Status::Ok();
}

Status ParseProcessObject(const Value& process, const std::string& field, ProcessSpec* spec) {
  if (!process.is_object()) return WrongType(field.empty() ? "process" : field, "an object", process);
  REAPER_RETURN_IF_ERROR(ParseTerminal(process, field, spec));
  REAPER_RETURN_IF_ERROR(ParseArgs(process, field, spec));
  REAPER_RETURN_IF_ERROR(ParseEnv(process, field, spec));
  REAPER_RETURN_IF_ERROR(ParseCwd(process, field, spec));
  if (const Value* user = process.Find("user")) {
    REAPER_RETURN_IF_ERROR(ParseUser(*user, Member(field, "user"), &spec->user));
  }
  return ParseOomScoreAdj(process, field, spec);
}

Status ParseAnnotations(const Value& root, BundleSpec* spec) {
  const Value* annotations = root.Find("annotations");
  if (annotations == nullptr || annotations->is_null()) return Status::Ok();
  if (!annotations->is_object()) return WrongType("annotations", "an object", *annotations);
  for (const Value::Member& member : annotations->object()) {
    Result<std::string> value = ReadString(member.second, "annotations." + member.first);
    if (!value.ok()) return value.status();
    spec->annotations[member.first] = *value;
  }
  return Status::Ok();
}

Status ParseMounts(const Value& root, BundleSpec* spec) {
  const Value* mounts = root.Find("mounts");
  if (mounts == nullptr || mounts->is_null()) return Status::Ok();
  if (!mounts->is_array()) return WrongType("mounts", "an array", *mounts);
  for (size_t i = 0; i < mounts->array().size(); ++i) {
    const Value& entry = mounts->array()[i];
    const std::string field = "mounts[" + std::to_string(i) + "]";
    if (!entry.is_object()) return WrongType(field, "an object", entry);
    MountSpec mount;
    const Value* destination = entry.Find("destination");
    if (destination == nullptr) return Invalid(field + ".destination is missing");
    Result<std::string> parsed = ReadString(*destination, field + ".destination");
    if (!parsed.ok()) return parsed.status();
    mount.destination = *parsed;
    for (auto [name, target] : {std::make_pair("type", &mount.type),
                                std::make_pair("source", &mount.source)}) {
      const Value* value = entry.Find(name);
      if (value == nullptr) continue;
      Result<std::string> text = ReadString(*value, field + "." + name);
      if (!text.ok()) return text.status();
      *target = *text;
    }
    spec->mounts.push_back(std::move(mount));
  }
  return Status::Ok();
}

Status ParseRoot(const Value& root, BundleSpec* spec) {
  const Value* root_object = root.Find("root");
  if (root_object == nullptr) return Status::Ok();
  if (!root_object->is_object()) return WrongType("root", "an object", *root_object);
  const Value* path = root_object->Find("path");
  if (path == nullptr) return Status::Ok();
  Result<std::string> parsed = ReadString(*path, "root.path");
  if (!parsed.ok()) return parsed.status();
  spec->root_path = *parsed;
  return Status::Ok();
}

Result<Value> ParseJson(const std::string& text) {
  json::ParseOptions options;
  options.max_bytes = kMaxSpecBytes;
  options.max_depth = kMaxSpecDepth;
  Result<Value> document = json::Parse(text, options);
  if (!document.ok()) return document.status().Annotate("invalid JSON");
  if (!document->is_object()) return WrongType("the document", "an object", *document);
  return document;
}

}  // namespace

Result<BundleSpec> ParseBundleSpec(const std::string& text) {
  Result<Value> document = ParseJson(text);
  if (!document.ok()) return document.status();

  BundleSpec spec;
  if (const Value* version = document->Find("ociVersion")) {
    Result<std::string> parsed = ReadString(*version, "ociVersion");
    if (!parsed.ok()) return parsed.status();
    spec.oci_version = *parsed;
  }
  const Value* process = document->Find("process");
  if (process == nullptr) return Invalid("process is missing");
  REAPER_RETURN_IF_ERROR(ParseProcessObject(*process, "process", &spec.process));
  REAPER_RETURN_IF_ERROR(ParseAnnotations(*document, &spec));
  REAPER_RETURN_IF_ERROR(ParseMounts(*document, &spec));
  REAPER_RETURN_IF_ERROR(ParseRoot(*document, &spec));
  return spec;
}

Result<ProcessSpec> ParseProcessSpec(const std::string& text) {
  Result<Value> document = ParseJson(text);
  if (!document.ok()) return document.status();

  ProcessSpec spec;
  REAPER_RETURN_IF_ERROR(ParseProcessObject(*document, "", &spec));
  return spec;
}

Result<BundleSpec> LoadBundleSpec(sys::Kernel& kernel, const std::string& bundle) {
  Result<std::string> text = ReadFile(kernel, bundle + "/config.json", kMaxSpecBytes);
  if (!text.ok()) return text.status().Annotate("read config.json in bundle " + bundle);

  Result<BundleSpec> spec = ParseBundleSpec(*text);
  if (!spec.ok()) return spec.status().Annotate("config.json");
  return spec;
}

Result<ProcessSpec> LoadProcessSpec(sys::Kernel& kernel, const std::string& path) {
  Result<std::string> text = ReadFile(kernel, path, kMaxSpecBytes);
  if (!text.ok()) return text.status().Annotate("read process file");

  Result<ProcessSpec> spec = ParseProcessSpec(*text);
  if (!spec.ok()) return spec.status().Annotate("process file " + path);
  return spec;
}

std::optional<std::string> FindEnv(const std::vector<std::string>& env, const std::string& name) {
  for (const std::string& entry : env) {
    if (entry.size() > name.size() && entry.compare(0, name.size(), name) == 0 &&
        entry[name.size()] == '=') {
      return entry.substr(name.size() + 1);
    }
  }
  return std::nullopt;
}

}  // namespace runtime
}  // namespace reaper
