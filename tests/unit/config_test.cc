#include "common/config.h"

#include <gtest/gtest.h>

#include "fakes/fake_kernel.h"

namespace reaper {
namespace {

Config ParseOk(const std::string& content, const Environment& environment = {}) {
  Result<Config> config = ParseConfig(content, "/etc/reaper/reaper.conf", environment);
  EXPECT_TRUE(config.ok()) << config.status().ToString();
  return config.ok() ? *config : Config();
}

std::string ParseError(const std::string& content, const Environment& environment = {}) {
  Result<Config> config = ParseConfig(content, "/etc/reaper/reaper.conf", environment);
  EXPECT_FALSE(config.ok());
  if (config.ok()) return "";
  EXPECT_EQ(config.status().code(), Code::kInvalidArgument);
  return config.status().message();
}

TEST(ConfigTest, DefaultsWithoutFileOrEnvironment) {
  Config config = ParseOk("");
  EXPECT_EQ(config.state_dir, "/run/reaper");
  EXPECT_EQ(config.runtime_root, "/run/reaper/runtime");
  EXPECT_EQ(config.overlay_base, "/run/reaper/overlay");
  EXPECT_EQ(config.ns_dir, "/run/reaper/ns");
  EXPECT_EQ(config.log_file, "");
  EXPECT_EQ(config.log_level, LogLevel::kInfo);
  EXPECT_EQ(config.runtime_path, "");
  EXPECT_TRUE(config.warnings.empty());
}

TEST(ConfigTest, StateDirMovesDerivedDefaults) {
  Config config = ParseOk("REAPER_STATE_DIR=/var/run/r\n");
  EXPECT_EQ(config.state_dir, "/var/run/r");
  EXPECT_EQ(config.runtime_root, "/var/run/r/runtime");
  EXPECT_EQ(config.overlay_base, "/var/run/r/overlay");
  EXPECT_EQ(config.ns_dir, "/var/run/r/ns");
}

TEST(ConfigTest, ReadsEveryKeyWithCommentsQuotesAndBlanks) {
  Config config = ParseOk(
      "# Reaper node configuration\n"
      "\n"
      "REAPER_STATE_DIR = /srv/reaper\n"
      "  REAPER_RUNTIME_ROOT=\"/srv/runtime root\"\n"
      "REAPER_OVERLAY_BASE='/srv/overlay'\n"
      "REAPER_NS_DIR=/srv/ns\r\n"
      "REAPER_LOG_FILE=/var/log/reaper.log\n"
      "REAPER_LOG_LEVEL=debug\n"
      "REAPER_RUNTIME_PATH=/usr/local/bin/reaper-runtime\n"
      "   # indented comment\n");
  EXPECT_EQ(config.state_dir, "/srv/reaper");
  EXPECT_EQ(config.runtime_root, "/srv/runtime root");
  EXPECT_EQ(config.overlay_base, "/srv/overlay");
  EXPECT_EQ(config.ns_dir, "/srv/ns");
  EXPECT_EQ(config.log_file, "/var/log/reaper.log");
  EXPECT_EQ(config.log_level, LogLevel::kDebug);
  EXPECT_EQ(config.runtime_path, "/usr/local/bin/reaper-runtime");
  EXPECT_TRUE(config.warnings.empty());
}

TEST(ConfigTest, EnvironmentOverridesFile) {
  Config config = ParseOk("REAPER_STATE_DIR=/from/file\nREAPER_LOG_LEVEL=error\n",
                          {{"REAPER_STATE_DIR", "/from/env"}, {"REAPER_NS_DIR", "/env/ns"},
                           {"HOME", "/root"}});
  EXPECT_EQ(config.state_dir, "/from/env");
  EXPECT_EQ(config.runtime_root, "/from/env/runtime");
  EXPECT_EQ(config.ns_dir, "/env/ns");
  EXPECT_EQ(config.log_level, LogLevel::kError);
}

TEST(ConfigTest, EmptyValueRestoresDefault) {
  Config config = ParseOk("REAPER_STATE_DIR=/srv\nREAPER_LOG_FILE=/x.log\n",
                          {{"REAPER_STATE_DIR", ""}, {"REAPER_LOG_FILE", ""}});
  EXPECT_EQ(config.state_dir, "/run/reaper");
  EXPECT_EQ(config.log_file, "");
}

TEST(ConfigTest, UnknownKeyIsWarningNamingLine) {
  Config config = ParseOk("REAPER_STATE_DIR=/srv\nREAPER_COLOR=blue\n");
  ASSERT_EQ(config.warnings.size(), 1u);
  EXPECT_EQ(config.warnings[0], "/etc/reaper/reaper.conf:2: unknown key REAPER_COLOR ignored");
  EXPECT_EQ(config.state_dir, "/srv");
}

TEST(ConfigTest, LineWithoutEqualsIsError) {
  EXPECT_EQ(ParseError("# comment\nREAPER_STATE_DIR /srv\n"),
            "/etc/reaper/reaper.conf:2: expected KEY=VALUE, found \"REAPER_STATE_DIR /srv\"");
}

TEST(ConfigTest, InvalidKeyIsError) {
  EXPECT_EQ(ParseError("=value\n"), "/etc/reaper/reaper.conf:1: invalid key \"\"");
  EXPECT_EQ(ParseError("\n\nBAD-KEY=1\n"), "/etc/reaper/reaper.conf:3: invalid key \"BAD-KEY\"");
}

TEST(ConfigTest, RelativePathIsError) {
  EXPECT_EQ(ParseError("REAPER_NS_DIR=run/ns\n"),
            "/etc/reaper/reaper.conf:1: REAPER_NS_DIR must be an absolute path, not \"run/ns\"");
  EXPECT_EQ(ParseError("", {{"REAPER_RUNTIME_ROOT", "rel"}}),
            "environment variable: REAPER_RUNTIME_ROOT must be an absolute path, not \"rel\"");
}

TEST(ConfigTest, InvalidLogLevelIsError) {
  EXPECT_EQ(ParseError("REAPER_LOG_LEVEL=loud\n"),
            "/etc/reaper/reaper.conf:1: REAPER_LOG_LEVEL: invalid log level \"loud\": expected "
            "debug, info, warning or error");
}

TEST(ConfigTest, ParsesLogLevels) {
  EXPECT_EQ(*ParseLogLevel("debug"), LogLevel::kDebug);
  EXPECT_EQ(*ParseLogLevel("info"), LogLevel::kInfo);
  EXPECT_EQ(*ParseLogLevel("warning"), LogLevel::kWarning);
  EXPECT_EQ(*ParseLogLevel("error"), LogLevel::kError);
  EXPECT_FALSE(ParseLogLevel("INFO").ok());
}

TEST(ConfigTest, EnvironmentFromStringsKeepsFirstEntry) {
  Environment environment =
      EnvironmentFromStrings({"A=1", "B=x=y", "NOEQUALS", "A=2", "EMPTY="});
  EXPECT_EQ(environment.size(), 3u);
  EXPECT_EQ(environment["A"], "1");
  EXPECT_EQ(environment["B"], "x=y");
  EXPECT_EQ(environment["EMPTY"], "");
}

TEST(ConfigTest, LoadWithoutDefaultFileUsesDefaults) {
  fakes::FakeKernel kernel;
  Result<Config> config = LoadConfig(kernel, {{"REAPER_STATE_DIR", "/tmp/s"}});
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->config_path, "/etc/reaper/reaper.conf");
  EXPECT_EQ(config->runtime_root, "/tmp/s/runtime");
}

TEST(ConfigTest, LoadReadsDefaultFile) {
  fakes::FakeKernel kernel;
  kernel.WriteFile("/etc/reaper/reaper.conf", "REAPER_STATE_DIR=/srv/r\n");
  Result<Config> config = LoadConfig(kernel, {});
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->state_dir, "/srv/r");
}

TEST(ConfigTest, LoadReadsExplicitFile) {
  fakes::FakeKernel kernel;
  kernel.WriteFile("/tmp/reaper.conf", "REAPER_LOG_LEVEL=warning\n");
  Result<Config> config = LoadConfig(kernel, {{"REAPER_CONFIG", "/tmp/reaper.conf"}});
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->config_path, "/tmp/reaper.conf");
  EXPECT_EQ(config->log_level, LogLevel::kWarning);
}

TEST(ConfigTest, LoadOfMissingExplicitFileFails) {
  fakes::FakeKernel kernel;
  Result<Config> config = LoadConfig(kernel, {{"REAPER_CONFIG", "/tmp/missing.conf"}});
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), Code::kNotFound);
  EXPECT_EQ(config.status().message(),
            "read config file /tmp/missing.conf: open /tmp/missing.conf: No such file or "
            "directory");
}

TEST(ConfigTest, LoadErrorNamesFileAndLine) {
  fakes::FakeKernel kernel;
  kernel.WriteFile("/tmp/reaper.conf", "REAPER_STATE_DIR=/a\njunk\n");
  Result<Config> config = LoadConfig(kernel, {{"REAPER_CONFIG", "/tmp/reaper.conf"}});
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().message(), "/tmp/reaper.conf:2: expected KEY=VALUE, found \"junk\"");
}

}  // namespace
}  // namespace reaper
