#include "runtime/oci_spec.h"

#include <gtest/gtest.h>

#include <string>

#include "fakes/fake_kernel.h"

namespace reaper {
namespace runtime {
namespace {

std::string SpecError(const std::string& text) {
  Result<BundleSpec> spec = ParseBundleSpec(text);
  EXPECT_FALSE(spec.ok()) << text;
  return spec.ok() ? "" : spec.status().message();
}

TEST(OciSpecTest, ParsesFullProcess) {
  Result<BundleSpec> spec = ParseBundleSpec(R"({
    "ociVersion": "1.0.2",
    "process": {
      "terminal": false,
      "user": {"uid": 1000, "gid": 100, "additionalGids": [10, 20]},
      "args": ["/bin/sh", "-c", "echo hi"],
      "env": ["PATH=/usr/bin:/bin", "EMPTY="],
      "cwd": "/work",
      "oomScoreAdj": -500,
      "capabilities": {"bounding": ["CAP_KILL"]}
    },
    "root": {"path": "rootfs", "readonly": true},
    "annotations": {"io.kubernetes.cri.container-type": "container"},
    "linux": {"namespaces": [{"type": "pid"}]}
  })");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->oci_version, "1.0.2");
  EXPECT_EQ(spec->process.args, (std::vector<std::string>{"/bin/sh", "-c", "echo hi"}));
  EXPECT_EQ(spec->process.env, (std::vector<std::string>{"PATH=/usr/bin:/bin", "EMPTY="}));
  EXPECT_EQ(spec->process.cwd, "/work");
  EXPECT_EQ(spec->process.user.uid, 1000u);
  EXPECT_EQ(spec->process.user.gid, 100u);
  EXPECT_EQ(spec->process.user.additional_gids, (std::vector<gid_t>{10, 20}));
  EXPECT_FALSE(spec->process.terminal);
  ASSERT_TRUE(spec->process.oom_score_adj.has_value());
  EXPECT_EQ(*spec->process.oom_score_adj, -500);
  EXPECT_EQ(spec->root_path, "rootfs");
  EXPECT_EQ(spec->annotations.at("io.kubernetes.cri.container-type"), "container");
}

TEST(OciSpecTest, AppliesDefaults) {
  Result<BundleSpec> spec = ParseBundleSpec(R"({"process": {"args": ["true"]}})");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->process.cwd, "/");
  EXPECT_TRUE(spec->process.env.empty());
  EXPECT_EQ(spec->process.user.uid, 0u);
  EXPECT_EQ(spec->process.user.gid, 0u);
  EXPECT_FALSE(spec->process.oom_score_adj.has_value());
  EXPECT_TRUE(spec->annotations.empty());
  EXPECT_EQ(spec->root_path, "");
}

TEST(OciSpecTest, RejectsMissingOrEmptyArgs) {
  EXPECT_EQ(SpecError(R"({})"), "process is missing");
  EXPECT_EQ(SpecError(R"({"process": {}})"), "process.args is missing");
  EXPECT_EQ(SpecError(R"({"process": {"args": []}})"), "process.args is empty");
  EXPECT_EQ(SpecError(R"({"process": {"args": [""]}})"), "process.args[0] is empty");
}

TEST(OciSpecTest, RejectsWrongTypesNamingField) {
  EXPECT_EQ(SpecError(R"([])"), "the document must be an object, not an array");
  EXPECT_EQ(SpecError(R"({"process": []})"), "process must be an object, not an array");
  EXPECT_EQ(SpecError(R"({"process": {"args": "sh"}})"),
            "process.args must be an array of strings, not a string");
  EXPECT_EQ(SpecError(R"({"process": {"args": ["sh", 1]}})"),
            "process.args[1] must be a string, not a number");
  EXPECT_EQ(SpecError(R"({"process": {"args": ["sh"], "env": ["A=1", null]}})"),
            "process.env[1] must be a string, not null");
  EXPECT_EQ(SpecError(R"({"process": {"args": ["sh"], "cwd": 5}})"),
            "process.cwd must be a string, not a number");
  EXPECT_EQ(SpecError(R"({"process": {"args": ["sh"], "user": {"uid": "0"}}})"),
            "process.user.uid must be an integer, not a string");
  EXPECT_EQ(SpecError(R"({"process": {"args": ["sh"], "user": {"gid": 1.5}}})"),
            "process.user.gid must be an integer, not a number");
  EXPECT_EQ(SpecError(R"({"process": {"args": ["sh"], "user": {"additionalGids": [1, true]}}})"),
            "process.user.additionalGids[1] must be an integer, not a boolean");
  EXPECT_EQ(SpecError(R"({"process": {"args": ["sh"], "terminal": "no"}})"),
            "process.terminal must be a boolean, not a string");
  EXPECT_EQ(SpecError(R"({"process": {"args": ["sh"]}, "annotations": {"a": 1}})"),
            "annotations.a must be a string, not a number");
  EXPECT_EQ(SpecError(R"({"process": {"args": ["sh"]}, "root": {"path": false}})"),
            "root.path must be a string, not a boolean");
  EXPECT_EQ(SpecError(R"({"ociVersion": 1, "process": {"args": ["sh"]}})"),
            "ociVersion must be a string, not a number");
}

TEST(OciSpecTest, ParsesKubeletMounts) {
  Result<BundleSpec> spec = ParseBundleSpec(R"({"process": {"args": ["sh"]}, "mounts": [
      {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid"]},
      {"destination": "/etc/hosts", "type": "bind", "source": "/var/lib/kubelet/pods/p/etc-hosts"},
      {"destination": "/dev/termination-log"}]})");

  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  ASSERT_EQ(spec->mounts.size(), 3u);
  EXPECT_EQ(spec->mounts[0].destination, "/proc");
  EXPECT_EQ(spec->mounts[0].type, "proc");
  EXPECT_EQ(spec->mounts[1].source, "/var/lib/kubelet/pods/p/etc-hosts");
  EXPECT_EQ(spec->mounts[2].destination, "/dev/termination-log");
  EXPECT_EQ(spec->mounts[2].type, "");
}

TEST(OciSpecTest, RejectsMalformedMountsNamingField) {
  EXPECT_EQ(SpecError(R"({"process": {"args": ["sh"]}, "mounts": {}})"),
            "mounts must be an array, not an object");
  EXPECT_EQ(SpecError(R"({"process": {"args": ["sh"]}, "mounts": ["/proc"]})"),
            "mounts[0] must be an object, not a string");
  EXPECT_EQ(SpecError(R"({"process": {"args": ["sh"]}, "mounts": [{"type": "proc"}]})"),
            "mounts[0].destination is missing");
  EXPECT_EQ(SpecError(R"({"process": {"args": ["sh"]}, "mounts": [{"destination": "/x", "source": 1}]})"),
            "mounts[0].source must be a string, not a number");
}

TEST(OciSpecTest, RejectsInvalidValues) {
  EXPECT_EQ(SpecError(R"({"process": {"args": ["sh"], "cwd": "work"}})"),
            "process.cwd \"work\" must be an absolute path");
  EXPECT_EQ(SpecError(R"({"process": {"args": ["sh"], "env": ["NOVALUE"]}})"),
            "process.env[0] \"NOVALUE\" is not NAME=value");
  EXPECT_EQ(SpecError(R"({"process": {"args": ["sh"], "env": ["=x"]}})"),
            "process.env[0] \"=x\" is not NAME=value");
  EXPECT_EQ(SpecError(R"({"process": {"args": ["sh"], "user": {"uid": -1}}})"),
            "process.user.uid is out of range: -1");
  EXPECT_EQ(SpecError(R"({"process": {"args": ["sh"], "user": {"uid": 4294967295}}})"),
            "process.user.uid is out of range: 4294967295");
  EXPECT_EQ(SpecError(R"({"process": {"args": ["sh"], "oomScoreAdj": 1001}})"),
            "process.oomScoreAdj 1001 is outside -1000..1000");
  EXPECT_EQ(SpecError(R"({"process": {"args": ["s\u0000h"]}})"),
            "process.args[0] contains a NUL character");
}

TEST(OciSpecTest, TerminalIsUnimplemented) {
  Result<BundleSpec> spec = ParseBundleSpec(R"({"process": {"args": ["sh"], "terminal": true}})");
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().code(), Code::kUnimplemented);
  EXPECT_EQ(spec.status().message(),
            "process.terminal is true, but reaper-runtime does not support terminals yet");
}

TEST(OciSpecTest, MalformedJsonNamesPosition) {
  Result<BundleSpec> spec = ParseBundleSpec("{\"process\": {\"args\": [\"sh\",]}}");
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(spec.status().message(),
            "invalid JSON: line 1, column 28 (byte 27): unexpected character ']', expected a "
            "value");
}

TEST(OciSpecTest, ParsesProcessFileFieldsWithoutPrefix) {
  Result<ProcessSpec> process =
      ParseProcessSpec(R"({"args": ["ls"], "env": ["PATH=/bin"], "cwd": "/tmp"})");
  ASSERT_TRUE(process.ok()) << process.status().ToString();
  EXPECT_EQ(process->args, (std::vector<std::string>{"ls"}));
  EXPECT_EQ(process->cwd, "/tmp");

  Result<ProcessSpec> empty = ParseProcessSpec(R"({"args": []})");
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.status().message(), "args is empty");
}

TEST(OciSpecTest, LoadOfMissingConfigIsNotFound) {
  fakes::FakeKernel kernel;
  kernel.MakeDirectory("/bundles/t1");
  Result<BundleSpec> spec = LoadBundleSpec(kernel, "/bundles/t1");
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().code(), Code::kNotFound);
  EXPECT_EQ(spec.status().message(),
            "read config.json in bundle /bundles/t1: open /bundles/t1/config.json: No such file "
            "or directory");
}

TEST(OciSpecTest, LoadPrefixesParseErrors) {
  fakes::FakeKernel kernel;
  kernel.WriteFile("/bundles/t1/config.json", R"({"process": {"args": []}})");
  Result<BundleSpec> spec = LoadBundleSpec(kernel, "/bundles/t1");
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(spec.status().message(), "config.json: process.args is empty");
}

TEST(OciSpecTest, LoadRejectsOversizedConfig) {
  fakes::FakeKernel kernel;
  kernel.WriteFile("/bundles/t1/config.json", std::string(kMaxSpecBytes + 1, ' '));
  Result<BundleSpec> spec = LoadBundleSpec(kernel, "/bundles/t1");
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(spec.status().message(),
            "read config.json in bundle /bundles/t1: read /bundles/t1/config.json: file is larger "
            "than 4194304 bytes");
}

TEST(OciSpecTest, LoadProcessFileNamesPath) {
  fakes::FakeKernel kernel;
  kernel.WriteFile("/tmp/p.json", R"({"args": ["sh"], "terminal": true})");
  Result<ProcessSpec> process = LoadProcessSpec(kernel, "/tmp/p.json");
  ASSERT_FALSE(process.ok());
  EXPECT_EQ(process.status().message(),
            "process file /tmp/p.json: terminal is true, but reaper-runtime does not support "
            "terminals yet");
}

TEST(OciSpecTest, FindEnvReturnsFirstMatch) {
  std::vector<std::string> env = {"PATHX=1", "PATH=/a", "PATH=/b"};
  EXPECT_EQ(FindEnv(env, "PATH").value_or(""), "/a");
  EXPECT_FALSE(FindEnv(env, "HOME").has_value());
}

}  // namespace
}  // namespace runtime
}  // namespace reaper
