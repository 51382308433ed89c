#include "common/config.h"

#include <cerrno>
#include <utility>

#include "common/files.h"

namespace reaper {
namespace {

// The conf file is a few lines; anything bigger is not a Reaper conf file.
constexpr size_t kMaxConfigBytes = 64 << 10;

constexpr const char* kKnownKeys[] = {
    "REAPER_STATE_DIR",  "REAPER_RUNTIME_ROOT", "REAPER_OVERLAY_BASE", "REAPER_NS_DIR",
    "REAPER_LOG_FILE",   "REAPER_LOG_LEVEL",    "REAPER_RUNTIME_PATH",
};

bool IsKnownKey(const std::string& key) {
  for (const char* known : kKnownKeys) {
    if (key == known) return true;
  }
  return false;
}

bool IsValidKey(const std::string& key) {
  if (key.empty()) return false;
  for (char c : key) {
    bool valid = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                 c == '_';
    if (!valid) return false;
  }
  return !(key[0] >= '0' && key[0] <= '9');
}

std::string Trim(const std::string& text) {
  size_t begin = text.find_first_not_of(" \t\r");
  if (begin == std::string::npos) return "";
  size_t end = text.find_last_not_of(" \t\r");
  return text.substr(begin, end - begin + 1);
}

std::string Unquote(const std::string& value) {
  if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
      value.back() == value.front()) {
    return value.substr(1, value.size() - 2);
  }
  return value;
}

// Settings by key, each remembering where it came from for messages.
struct Setting {
  std::string value;
  std::string source;  // "<file>:<line>" or "environment variable"
};
using Settings = std::map<std::string, Setting>;

Status ParseLines(const std::string& content, const std::string& path, Settings* settings,
                  std::vector<std::string>* warnings) {
  size_t line_number = 0;
  size_t position = 0;
  while (position < content.size()) {
    size_t end = content.find('\n', position);
    if (end == std::string::npos) end = content.size();
    std::string line = Trim(content.substr(position, end - position));
    position = end + 1;
    ++line_number;
    if (line.empty() || line[0] == '#') continue;

    std::string where = path + ":" + std::to_string(line_number);
    size_t equals = line.find('=');
    if (equals == std::string::npos) {
      return Status(Code::kInvalidArgument, where + ": expected KEY=VALUE, found \"" + line + "\"");
    }
    std::string key = Trim(line.substr(0, equals));
    if (!IsValidKey(key)) {
      return Status(Code::kInvalidArgument, where + ": invalid key \"" + key + "\"");
    }
    if (!IsKnownKey(key)) {
      warnings->push_back(where + ": unknown key " + key + " ignored");
      continue;
    }
    (*settings)[key] = Setting{Unquote(Trim(line.substr(equals + 1))), where};
  }
  return Status::Ok();
}

// Sets `*field` from the setting named `key` when present, checking that it
// is an absolute path. An empty value restores `empty_value`, the default.
Status ApplyPath(const Settings& settings, const std::string& key, std::string* field,
                 const std::string& empty_value = "") {
  auto found = settings.find(key);
  if (found == settings.end()) return Status::Ok();
  const Setting& setting = found->second;
  if (setting.value.empty()) {
    *field = empty_value;
    return Status::Ok();
  }
  if (setting.value[0] != '/') {
    return Status(Code::kInvalidArgument, setting.source + ": " + key + " must be an absolute path, not \"" +
                                              setting.value + "\"");
  }
  *field = setting.value;
  return Status::Ok();
}

Status ApplySettings(const Settings& settings, Config* config) {
  REAPER_RETURN_IF_ERROR(ApplyPath(settings, "REAPER_STATE_DIR", &config->state_dir, kDefaultStateDir));
  REAPER_RETURN_IF_ERROR(ApplyPath(settings, "REAPER_RUNTIME_ROOT", &config->runtime_root));
  REAPER_RETURN_IF_ERROR(ApplyPath(settings, "REAPER_OVERLAY_BASE", &config->overlay_base));
  REAPER_RETURN_IF_ERROR(ApplyPath(settings, "REAPER_NS_DIR", &config->ns_dir));
  REAPER_RETURN_IF_ERROR(ApplyPath(settings, "REAPER_LOG_FILE", &config->log_file));
  REAPER_RETURN_IF_ERROR(ApplyPath(settings, "REAPER_RUNTIME_PATH", &config->runtime_path));

  auto level = settings.find("REAPER_LOG_LEVEL");
  if (level != settings.end() && !level->second.value.empty()) {
    Result<LogLevel> parsed = ParseLogLevel(level->second.value);
    if (!parsed.ok()) return parsed.status().Annotate(level->second.source + ": REAPER_LOG_LEVEL");
    config->log_level = *parsed;
  }
  return Status::Ok();
}

void FillDerivedDefaults(Config* config) {
  if (config->runtime_root.empty()) config->runtime_root = config->state_dir + "/runtime";
  if (config->overlay_base.empty()) config->overlay_base = config->state_dir + "/overlay";
  if (config->ns_dir.empty()) config->ns_dir = config->state_dir + "/ns";
}

}  // namespace

Environment EnvironmentFromStrings(const std::vector<std::string>& entries) {
  Environment environment;
  for (const std::string& entry : entries) {
    size_t equals = entry.find('=');
    if (equals == std::string::npos) continue;
    environment.emplace(entry.substr(0, equals), entry.substr(equals + 1));
  }
  return environment;
}

Result<LogLevel> ParseLogLevel(const std::string& text) {
  if (text == "debug") return LogLevel::kDebug;
  if (text == "info") return LogLevel::kInfo;
  if (text == "warning" || text == "warn") return LogLevel::kWarning;
  if (text == "error") return LogLevel::kError;
  return Status(Code::kInvalidArgument,
                "invalid log level \"" + text + "\": expected debug, info, warning or error");
}

Result<Config> ParseConfig(const std::string& content, const std::string& path,
                           const Environment& environment) {
  Config config;
  if (!path.empty()) config.config_path = path;

  Settings settings;
  REAPER_RETURN_IF_ERROR(ParseLines(content, path, &settings, &config.warnings));
  for (const char* key : kKnownKeys) {
    auto found = environment.find(key);
    if (found != environment.end()) {
      settings[key] = Setting{found->second, std::string("environment variable")};
    }
  }

  REAPER_RETURN_IF_ERROR(ApplySettings(settings, &config));
  FillDerivedDefaults(&config);
  return config;
}

Result<Config> LoadConfig(sys::Kernel& kernel, const Environment& environment) {
  auto explicit_path = environment.find("REAPER_CONFIG");
  bool is_explicit = explicit_path != environment.end() && !explicit_path->second.empty();
  std::string path = is_explicit ? explicit_path->second : kDefaultConfigPath;

  Result<std::string> content = ReadFile(kernel, path, kMaxConfigBytes);
  if (!content.ok()) {
    bool missing = content.status().error_number() == ENOENT;
    if (missing && !is_explicit) return ParseConfig("", path, environment);
    return content.status().Annotate("read config file " + path);
  }
  return ParseConfig(*content, path, environment);
}

}  // namespace reaper
