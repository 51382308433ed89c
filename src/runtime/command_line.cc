#include "runtime/command_line.h"

#include <signal.h>

#include <cctype>
#include <cstdlib>

namespace reaper {
namespace runtime {
namespace {

// One flag a verb accepts. Exactly one of `text` and `boolean` is set.
struct FlagSpec {
  const char* name;
  const char* alias;  // single-letter runc alias, or nullptr
  std::string CommandLine::*text;
  bool CommandLine::*boolean;
};

const FlagSpec kCreateFlags[] = {
    {"bundle", "b", &CommandLine::bundle, nullptr},
    {"pid-file", nullptr, &CommandLine::pid_file, nullptr},
    {"console-socket", nullptr, &CommandLine::console_socket, nullptr},
};
const FlagSpec kExecFlags[] = {
    {"process", "p", &CommandLine::process_file, nullptr},
    {"pid-file", nullptr, &CommandLine::pid_file, nullptr},
    {"detach", "d", nullptr, &CommandLine::detach},
};
const FlagSpec kKillFlags[] = {
    {"all", "a", nullptr, &CommandLine::all},
};
const FlagSpec kDeleteFlags[] = {
    {"force", "f", nullptr, &CommandLine::force},
};

struct VerbSpec {
  const char* name;
  Verb verb;
  const FlagSpec* flags;
  size_t flag_count;
  size_t max_positionals;  // the id included
};

template <size_t N>
constexpr size_t CountOf(const FlagSpec (&)[N]) {
  return N;
}

const VerbSpec kVerbs[] = {
    {"create", Verb::kCreate, kCreateFlags, CountOf(kCreateFlags), 1},
    {"start", Verb::kStart, nullptr, 0, 1},
    {"state", Verb::kState, nullptr, 0, 1},
    {"kill", Verb::kKill, kKillFlags, CountOf(kKillFlags), 2},
    {"delete", Verb::kDelete, kDeleteFlags, CountOf(kDeleteFlags), 1},
    {"exec", Verb::kExec, kExecFlags, CountOf(kExecFlags), 1},
};

const struct {
  const char* name;
  int number;
} kSignals[] = {
    {"HUP", SIGHUP},     {"INT", SIGINT},       {"QUIT", SIGQUIT},   {"ILL", SIGILL},
    {"TRAP", SIGTRAP},   {"ABRT", SIGABRT},     {"IOT", SIGIOT},     {"BUS", SIGBUS},
    {"FPE", SIGFPE},     {"KILL", SIGKILL},     {"USR1", SIGUSR1},   {"SEGV", SIGSEGV},
    {"USR2", SIGUSR2},   {"PIPE", SIGPIPE},     {"ALRM", SIGALRM},   {"TERM", SIGTERM},
    {"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD},   {"CONT", SIGCONT},   {"STOP", SIGSTOP},
    {"TSTP", SIGTSTP},   {"TTIN", SIGTTIN},     {"TTOU", SIGTTOU},   {"URG", SIGURG},
    {"XCPU", SIGXCPU},   {"XFSZ", SIGXFSZ},     {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF},
    {"WINCH", SIGWINCH}, {"IO", SIGIO},         {"POLL", SIGPOLL},   {"PWR", SIGPWR},
    {"SYS", SIGSYS},
};

Status UsageError(const std::string& message) {
  return Status(Code::kInvalidArgument, message);
}

// A command-line word split into flag name and inline value: "--root=/x"
// gives {"root", "/x", true}.
struct FlagWord {
  std::string name;
  std::string value;
  bool has_value = false;
};

bool IsFlag(const std::string& word) { return word.size() > 1 && word[0] == '-'; }

FlagWord SplitFlag(const std::string& word) {
  FlagWord flag;
  size_t start = (word.size() > 2 && word[1] == '-') ? 2 : 1;
  size_t equals = word.find('=', start);
  flag.name = word.substr(start, equals == std::string::npos ? std::string::npos : equals - start);
  if (equals != std::string::npos) {
    flag.value = word.substr(equals + 1);
    flag.has_value = true;
  }
  return flag;
}

Result<bool> ParseBoolean(const std::string& flag, const FlagWord& word) {
  if (!word.has_value) return true;
  if (word.value == "true" || word.value == "1") return true;
  if (word.value == "false" || word.value == "0") return false;
  return UsageError("invalid value \"" + word.value + "\" for flag --" + flag +
                    ": expected true or false");
}

// Takes the value of a flag from "=value" or from the next word.
Result<std::string> TakeValue(const std::string& flag, const FlagWord& word,
                              const std::vector<std::string>& arguments, size_t* index) {
  if (word.has_value) return word.value;
  if (*index + 1 >= arguments.size()) return UsageError("flag --" + flag + " needs a value");
  ++*index;
  return arguments[*index];
}

Status ParseGlobalFlag(const FlagWord& word, const std::vector<std::string>& arguments,
                       size_t* index, CommandLine* command) {
  GlobalFlags& global = command->global;
  if (word.name == "root") {
    Result<std::string> value = TakeValue("root", word, arguments, index);
    if (!value.ok()) return value.status();
    global.root = *value;
  } else if (word.name == "log") {
    Result<std::string> value = TakeValue("log", word, arguments, index);
    if (!value.ok()) return value.status();
    global.log_file = *value;
  } else if (word.name == "log-format") {
    Result<std::string> value = TakeValue("log-format", word, arguments, index);
    if (!value.ok()) return value.status();
    if (*value == "text") {
      global.log_format = LogFormat::kText;
    } else if (*value == "json") {
      global.log_format = LogFormat::kJson;
    } else {
      return UsageError("invalid value \"" + *value + "\" for flag --log-format: expected text or json");
    }
  } else if (word.name == "debug") {
    Result<bool> value = ParseBoolean("debug", word);
    if (!value.ok()) return value.status();
    global.debug = *value;
  } else if (word.name == "version" || word.name == "v") {
    command->verb = Verb::kVersion;
  } else {
    return UsageError("unknown global flag -" + std::string(word.name.size() > 1 ? "-" : "") +
                      word.name);
  }
  return Status::Ok();
}

const FlagSpec* FindFlag(const VerbSpec& verb, const std::string& name) {
  for (size_t i = 0; i < verb.flag_count; ++i) {
    const FlagSpec& flag = verb.flags[i];
    if (name == flag.name || (flag.alias != nullptr && name == flag.alias)) return &flag;
  }
  return nullptr;
}

Status ParseVerbFlag(const VerbSpec& verb, const FlagWord& word,
                     const std::vector<std::string>& arguments, size_t* index,
                     CommandLine* command) {
  const FlagSpec* flag = FindFlag(verb, word.name);
  if (flag == nullptr) {
    return UsageError("unknown flag -" + std::string(word.name.size() > 1 ? "-" : "") + word.name +
                      " for " + verb.name);
  }
  if (flag->boolean != nullptr) {
    Result<bool> value = ParseBoolean(flag->name, word);
    if (!value.ok()) return value.status();
    command->*(flag->boolean) = *value;
    return Status::Ok();
  }
  Result<std::string> value = TakeValue(flag->name, word, arguments, index);
  if (!value.ok()) return value.status();
  command->*(flag->text) = *value;
  return Status::Ok();
}

Status ParseVerbArguments(const VerbSpec& verb, const std::vector<std::string>& arguments,
                          size_t index, CommandLine* command) {
  std::vector<std::string> positionals;
  bool flags_ended = false;
  for (; index < arguments.size(); ++index) {
    const std::string& word = arguments[index];
    if (!flags_ended && word == "--") {
      flags_ended = true;
    } else if (!flags_ended && IsFlag(word)) {
      REAPER_RETURN_IF_ERROR(ParseVerbFlag(verb, SplitFlag(word), arguments, &index, command));
    } else {
      positionals.push_back(word);
    }
  }

  if (positionals.empty()) return UsageError(std::string(verb.name) + ": missing container id");
  if (positionals.size() > verb.max_positionals) {
    return UsageError(std::string(verb.name) + ": unexpected argument \"" +
                      positionals[verb.max_positionals] + "\"");
  }
  command->id = positionals[0];
  if (positionals.size() > 1) {
    Result<int> signal = ParseSignal(positionals[1]);
    if (!signal.ok()) return signal.status().Annotate(verb.name);
    command->signal = *signal;
  }
  return Status::Ok();
}

Status CheckRequiredFlags(const CommandLine& command) {
  if (command.verb == Verb::kExec && command.process_file.empty()) {
    return UsageError("exec: missing --process FILE");
  }
  return Status::Ok();
}

std::string ToUpper(std::string text) {
  for (char& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return text;
}

}  // namespace

Result<int> ParseSignal(const std::string& text) {
  bool numeric = !text.empty();
  for (char c : text) numeric = numeric && c >= '0' && c <= '9';
  if (numeric) {
    long number = text.size() <= 3 ? std::strtol(text.c_str(), nullptr, 10) : 0;
    if (number < 1 || number > SIGRTMAX) {
      return UsageError("invalid signal \"" + text + "\": number out of range");
    }
    return static_cast<int>(number);
  }

  std::string name = ToUpper(text);
  if (name.compare(0, 3, "SIG") == 0) name = name.substr(3);
  for (const auto& signal : kSignals) {
    if (name == signal.name) return signal.number;
  }
  return UsageError("invalid signal \"" + text + "\"");
}

Result<CommandLine> ParseCommandLine(const std::vector<std::string>& arguments) {
  CommandLine command;
  size_t index = 0;
  for (; index < arguments.size() && IsFlag(arguments[index]); ++index) {
    FlagWord word = SplitFlag(arguments[index]);
    if (word.name == "help" || word.name == "h") {
      command.verb = Verb::kHelp;
      return command;
    }
    REAPER_RETURN_IF_ERROR(ParseGlobalFlag(word, arguments, &index, &command));
    if (command.verb == Verb::kVersion) return command;
  }
  if (index >= arguments.size()) return UsageError("missing command");

  const std::string& name = arguments[index];
  if (name == "help") {
    command.verb = Verb::kHelp;
    return command;
  }
  if (name == "version") {
    command.verb = Verb::kVersion;
    return command;
  }
  for (const VerbSpec& verb : kVerbs) {
    if (name != verb.name) continue;
    command.verb = verb.verb;
    REAPER_RETURN_IF_ERROR(ParseVerbArguments(verb, arguments, index + 1, &command));
    REAPER_RETURN_IF_ERROR(CheckRequiredFlags(command));
    return command;
  }
  return UsageError("unknown command \"" + name + "\"");
}

std::string UsageText() {
  return "Usage: reaper-runtime [global flags] <command> [flags] <container-id>\n"
         "\n"
         "Runs OCI bundle processes on the host, inside the node's shared overlay mount\n"
         "namespace: the host's root is the read-only lower layer and writes go to an\n"
         "upper directory.\n"
         "\n"
         "Commands:\n"
         "  create --bundle DIR [--pid-file FILE] ID\n"
         "                        prepare the process of DIR/config.json; it waits for start\n"
         "  start ID              let the created process run\n"
         "  state ID              print the container's state as JSON\n"
         "  kill [--all] ID [SIGNAL]\n"
         "                        send SIGNAL (name or number, default SIGTERM) to the\n"
         "                        process, or with --all to its whole process group\n"
         "  delete [--force] ID   remove the container's state; --force first kills a\n"
         "                        process that still runs\n"
         "  exec --process FILE [--pid-file FILE] [--detach] ID\n"
         "                        run the OCI process of FILE next to the container; without\n"
         "                        --detach, wait and exit with its status\n"
         "\n"
         "Global flags:\n"
         "  --root DIR            state directory (default: REAPER_RUNTIME_ROOT from\n"
         "                        /etc/reaper/reaper.conf or the environment,\n"
         "                        /run/reaper/runtime if unset)\n"
         "  --log FILE            append log lines to FILE instead of writing errors to stderr\n"
         "  --log-format FORMAT   text (logfmt) or json, default text\n"
         "  --debug               also log debug lines\n"
         "  --version             print the version\n"
         "  --help                print this help\n";
}

}  // namespace runtime
}  // namespace reaper
