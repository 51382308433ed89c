#include <signal.h>

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "runtime/command_line.h"

namespace reaper {
namespace runtime {
namespace {

CommandLine ParseOk(const std::vector<std::string>& arguments) {
  Result<CommandLine> command = ParseCommandLine(arguments);
  EXPECT_TRUE(command.ok()) << command.status().ToString();
  return command.ok() ? *command : CommandLine();
}

std::string ParseError(const std::vector<std::string>& arguments) {
  Result<CommandLine> command = ParseCommandLine(arguments);
  EXPECT_FALSE(command.ok());
  if (command.ok()) return "";
  EXPECT_EQ(command.status().code(), Code::kInvalidArgument);
  return command.status().message();
}

TEST(RuntimeCliTest, ParsesCreateWithSeparateValues) {
  CommandLine command = ParseOk({"--root", "/r", "--log", "/l.json", "--log-format", "json",
                                 "create", "--bundle", "/b", "--pid-file", "/p", "t1"});
  EXPECT_EQ(command.verb, Verb::kCreate);
  EXPECT_EQ(command.global.root, "/r");
  EXPECT_EQ(command.global.log_file, "/l.json");
  EXPECT_EQ(command.global.log_format, LogFormat::kJson);
  EXPECT_FALSE(command.global.debug);
  EXPECT_EQ(command.bundle, "/b");
  EXPECT_EQ(command.pid_file, "/p");
  EXPECT_EQ(command.id, "t1");
}

TEST(RuntimeCliTest, ParsesCreateWithInlineValuesAndSingleDash) {
  CommandLine command = ParseOk({"-root=/r", "-debug", "--log=/l", "create", "-bundle=/b",
                                 "--pid-file=/p", "--console-socket", "/sock", "t1"});
  EXPECT_EQ(command.global.root, "/r");
  EXPECT_TRUE(command.global.debug);
  EXPECT_EQ(command.global.log_file, "/l");
  EXPECT_EQ(command.global.log_format, LogFormat::kText);
  EXPECT_EQ(command.bundle, "/b");
  EXPECT_EQ(command.pid_file, "/p");
  EXPECT_EQ(command.console_socket, "/sock");
}

TEST(RuntimeCliTest, AcceptsRuncShortAliases) {
  CommandLine create = ParseOk({"create", "-b", "/b", "t1"});
  EXPECT_EQ(create.bundle, "/b");
  CommandLine exec = ParseOk({"exec", "-p", "/p.json", "-d", "t1"});
  EXPECT_EQ(exec.process_file, "/p.json");
  EXPECT_TRUE(exec.detach);
}

TEST(RuntimeCliTest, ParsesFlagsAfterId) {
  CommandLine command = ParseOk({"create", "t1", "--bundle", "/b"});
  EXPECT_EQ(command.id, "t1");
  EXPECT_EQ(command.bundle, "/b");
}

TEST(RuntimeCliTest, DoubleDashEndsFlags) {
  CommandLine command = ParseOk({"start", "--", "-odd-id"});
  EXPECT_EQ(command.verb, Verb::kStart);
  EXPECT_EQ(command.id, "-odd-id");
}

TEST(RuntimeCliTest, ParsesStartAndState) {
  EXPECT_EQ(ParseOk({"start", "t1"}).verb, Verb::kStart);
  CommandLine state = ParseOk({"state", "t2"});
  EXPECT_EQ(state.verb, Verb::kState);
  EXPECT_EQ(state.id, "t2");
}

TEST(RuntimeCliTest, KillDefaultsToSigterm) {
  CommandLine command = ParseOk({"kill", "t1"});
  EXPECT_EQ(command.verb, Verb::kKill);
  EXPECT_EQ(command.signal, SIGTERM);
  EXPECT_FALSE(command.all);
}

TEST(RuntimeCliTest, KillTakesSignalAndAll) {
  CommandLine command = ParseOk({"kill", "--all", "t1", "KILL"});
  EXPECT_TRUE(command.all);
  EXPECT_EQ(command.signal, SIGKILL);
  EXPECT_EQ(ParseOk({"kill", "-all=false", "t1", "9"}).all, false);
}

TEST(RuntimeCliTest, ParsesSignalForms) {
  EXPECT_EQ(*ParseSignal("TERM"), SIGTERM);
  EXPECT_EQ(*ParseSignal("SIGTERM"), SIGTERM);
  EXPECT_EQ(*ParseSignal("sigterm"), SIGTERM);
  EXPECT_EQ(*ParseSignal("15"), SIGTERM);
  EXPECT_EQ(*ParseSignal("SIGUSR1"), SIGUSR1);
  EXPECT_EQ(*ParseSignal("hup"), SIGHUP);
  EXPECT_EQ(*ParseSignal("64"), 64);
}

TEST(RuntimeCliTest, RejectsBadSignals) {
  EXPECT_EQ(ParseSignal("SIGNOPE").status().message(), "invalid signal \"SIGNOPE\"");
  EXPECT_EQ(ParseSignal("0").status().message(), "invalid signal \"0\": number out of range");
  EXPECT_EQ(ParseSignal("65").status().message(), "invalid signal \"65\": number out of range");
  EXPECT_EQ(ParseSignal("99999999999").status().message(),
            "invalid signal \"99999999999\": number out of range");
  EXPECT_EQ(ParseSignal("").status().message(), "invalid signal \"\"");
  EXPECT_EQ(ParseError({"kill", "t1", "BOGUS"}), "kill: invalid signal \"BOGUS\"");
}

TEST(RuntimeCliTest, ParsesDelete) {
  CommandLine command = ParseOk({"delete", "--force", "t1"});
  EXPECT_EQ(command.verb, Verb::kDelete);
  EXPECT_TRUE(command.force);
  EXPECT_FALSE(ParseOk({"delete", "t1"}).force);
}

TEST(RuntimeCliTest, ParsesExec) {
  CommandLine command =
      ParseOk({"exec", "--process", "/p.json", "--pid-file=/e.pid", "--detach", "t1"});
  EXPECT_EQ(command.verb, Verb::kExec);
  EXPECT_EQ(command.process_file, "/p.json");
  EXPECT_EQ(command.pid_file, "/e.pid");
  EXPECT_TRUE(command.detach);
  EXPECT_EQ(command.id, "t1");
}

TEST(RuntimeCliTest, ExecNeedsProcessFile) {
  EXPECT_EQ(ParseError({"exec", "t1"}), "exec: missing --process FILE");
}

TEST(RuntimeCliTest, ParsesVersionAndHelp) {
  EXPECT_EQ(ParseOk({"--version"}).verb, Verb::kVersion);
  EXPECT_EQ(ParseOk({"-v"}).verb, Verb::kVersion);
  EXPECT_EQ(ParseOk({"version"}).verb, Verb::kVersion);
  EXPECT_EQ(ParseOk({"--help"}).verb, Verb::kHelp);
  EXPECT_EQ(ParseOk({"-h"}).verb, Verb::kHelp);
  EXPECT_EQ(ParseOk({"help"}).verb, Verb::kHelp);
}

TEST(RuntimeCliTest, UnknownFlagIsNamed) {
  EXPECT_EQ(ParseError({"create", "--bundel", "/b", "t1"}), "unknown flag --bundel for create");
  EXPECT_EQ(ParseError({"start", "-x", "t1"}), "unknown flag -x for start");
  EXPECT_EQ(ParseError({"--rot", "/r", "state", "t1"}), "unknown global flag --rot");
  EXPECT_EQ(ParseError({"kill", "--force", "t1"}), "unknown flag --force for kill");
}

TEST(RuntimeCliTest, UnknownVerbIsNamed) {
  EXPECT_EQ(ParseError({"destroy", "t1"}), "unknown command \"destroy\"");
}

TEST(RuntimeCliTest, MissingVerbIsError) {
  EXPECT_EQ(ParseError({}), "missing command");
  EXPECT_EQ(ParseError({"--root", "/r"}), "missing command");
}

TEST(RuntimeCliTest, MissingIdIsError) {
  for (const char* verb : {"create", "start", "state", "kill", "delete"}) {
    EXPECT_EQ(ParseError({verb}), std::string(verb) + ": missing container id");
  }
  EXPECT_EQ(ParseError({"exec", "--process", "/p"}), "exec: missing container id");
}

TEST(RuntimeCliTest, MissingFlagValueIsError) {
  EXPECT_EQ(ParseError({"create", "t1", "--bundle"}), "flag --bundle needs a value");
  EXPECT_EQ(ParseError({"--root"}), "flag --root needs a value");
}

TEST(RuntimeCliTest, ExtraArgumentIsError) {
  EXPECT_EQ(ParseError({"start", "t1", "t2"}), "start: unexpected argument \"t2\"");
  EXPECT_EQ(ParseError({"kill", "t1", "TERM", "x"}), "kill: unexpected argument \"x\"");
}

TEST(RuntimeCliTest, RejectsBadFlagValues) {
  EXPECT_EQ(ParseError({"--log-format", "xml", "state", "t1"}),
            "invalid value \"xml\" for flag --log-format: expected text or json");
  EXPECT_EQ(ParseError({"delete", "--force=maybe", "t1"}),
            "invalid value \"maybe\" for flag --force: expected true or false");
}

TEST(RuntimeCliTest, UsageListsEveryVerb) {
  std::string usage = UsageText();
  for (const char* verb : {"create", "start", "state", "kill", "delete", "exec"}) {
    EXPECT_NE(usage.find(std::string("  ") + verb), std::string::npos) << verb;
  }
}

}  // namespace
}  // namespace runtime
}  // namespace reaper
