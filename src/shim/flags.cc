#include "shim/flags.h"

#include <map>

#include "common/ids.h"

namespace reaper::shim {
namespace {

Status Invalid(const std::string& message) { return Status(Code::kInvalidArgument, message); }

// Splits "-name", "--name", "-name=value" into the name and, when present,
// the inline value.
void SplitFlag(const std::string& argument, std::string* name, std::string* value,
               bool* has_value) {
  size_t start = argument.compare(0, 2, "--") == 0 ? 2 : 1;
  size_t equals = argument.find('=', start);
  *has_value = equals != std::string::npos;
  *name = argument.substr(start, *has_value ? equals - start : std::string::npos);
  *value = *has_value ? argument.substr(equals + 1) : std::string();
}

// Go's strconv.ParseBool spellings.
Result<bool> ParseBool(const std::string& name, const std::string& text) {
  if (text == "1" || text == "t" || text == "T" || text == "true" || text == "TRUE" ||
      text == "True") {
    return true;
  }
  if (text == "0" || text == "f" || text == "F" || text == "false" || text == "FALSE" ||
      text == "False") {
    return false;
  }
  return Invalid("invalid boolean value " + QuoteForMessage(text) + " for flag -" + name);
}

Result<Action> ParseAction(const std::string& word) {
  if (word == "start") return Action::kStart;
  if (word == "delete") return Action::kDelete;
  return Invalid("unknown action " + QuoteForMessage(word) + ": expected start or delete");
}

}  // namespace

Result<ShimFlags> ParseFlags(const std::vector<std::string>& arguments) {
  ShimFlags flags;
  const std::map<std::string, std::string*> string_flags = {
      {"namespace", &flags.namespace_name}, {"address", &flags.address},
      {"publish-binary", &flags.publish_binary}, {"id", &flags.id},
      {"bundle", &flags.bundle}, {"socket", &flags.socket},
  };
  const std::map<std::string, bool*> bool_flags = {{"debug", &flags.debug}, {"v", &flags.version}};

  size_t index = 0;
  for (; index < arguments.size(); ++index) {
    const std::string& argument = arguments[index];
    if (argument == "--") {
      ++index;
      break;
    }
    if (argument.size() < 2 || argument[0] != '-') break;

    std::string name, value;
    bool has_value = false;
    SplitFlag(argument, &name, &value, &has_value);

    if (auto found = bool_flags.find(name); found != bool_flags.end()) {
      Result<bool> parsed = has_value ? ParseBool(name, value) : Result<bool>(true);
      if (!parsed.ok()) return parsed.status();
      *found->second = *parsed;
      continue;
    }
    auto found = string_flags.find(name);
    if (found == string_flags.end()) return Invalid("unknown flag " + QuoteForMessage(argument));
    if (!has_value) {
      if (index + 1 >= arguments.size()) return Invalid("flag -" + name + " needs a value");
      value = arguments[++index];
    }
    *found->second = value;
  }

  if (index < arguments.size()) {
    Result<Action> action = ParseAction(arguments[index]);
    if (!action.ok()) return action.status();
    flags.action = *action;
    ++index;
  }
  if (index < arguments.size()) {
    return Invalid("unexpected argument " + QuoteForMessage(arguments[index]) +
                   " after the action");
  }
  return flags;
}

}  // namespace reaper::shim
