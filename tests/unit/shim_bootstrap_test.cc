#include "shim/bootstrap.h"

#include <fcntl.h>

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "containerd/runtime/bootstrap/v1/bootstrap.pb.h"
#include "containerd/runtimeoptions/v1/api.pb.h"
#include "fakes/fake_kernel.h"
#include "google/protobuf/any.pb.h"
#include "shim/bundle.h"
#include "tests/unit/shim_test_fakes.h"

namespace reaper::shim {
namespace {

// Bytes containerd 1.6.20 wrote to the stdin of `start` for a runtime with
// TypeUrl = "reaper.v1.Config" and ConfigPath = "/etc/reaper/config.toml".
std::string ObservedOptionsBytes() {
  return std::string("\x0a\x19", 2) + "runtimeoptions.v1.Options" + std::string("\x12\x2b", 2) +
         std::string("\x0a\x10", 2) + "reaper.v1.Config" + std::string("\x12\x17", 2) +
         "/etc/reaper/config.toml";
}

TEST(RuntimeOptionsTest, ReadsConfigPathOfObservedBytes) {
  Result<std::string> path = ConfigPathFromOptions(ObservedOptionsBytes());
  ASSERT_TRUE(path.ok()) << path.status().ToString();
  EXPECT_EQ(*path, "/etc/reaper/config.toml");
}

TEST(RuntimeOptionsTest, EmptyStdinHasNoConfigPath) {
  Result<std::string> path = ConfigPathFromOptions("");
  ASSERT_TRUE(path.ok());
  EXPECT_EQ(*path, "");
}

TEST(RuntimeOptionsTest, OtherMessageHasNoConfigPath) {
  ::google::protobuf::Any any;
  any.set_type_url("containerd.runc.v1.Options");
  any.set_value("\x0a\x03" "abc");
  std::string ignored_type;
  Result<std::string> path = ConfigPathFromOptions(any.SerializeAsString(), &ignored_type);
  ASSERT_TRUE(path.ok());
  EXPECT_EQ(*path, "");
  EXPECT_EQ(ignored_type, "containerd.runc.v1.Options");
}

TEST(RuntimeOptionsTest, AcceptsPrefixedTypeUrl) {
  ::runtimeoptions::v1::Options options;
  options.set_config_path("/etc/reaper/reaper.conf");
  ::google::protobuf::Any any;
  any.set_type_url("type.googleapis.com/runtimeoptions.v1.Options");
  any.set_value(options.SerializeAsString());
  Result<std::string> path = ConfigPathFromOptions(any.SerializeAsString());
  ASSERT_TRUE(path.ok());
  EXPECT_EQ(*path, "/etc/reaper/reaper.conf");
}

TEST(RuntimeOptionsTest, RejectsUndecodableOptions) {
  ::google::protobuf::Any any;
  any.set_type_url("runtimeoptions.v1.Options");
  any.set_value("\xff\xff\xff");
  Result<std::string> path = ConfigPathFromOptions(any.SerializeAsString());
  ASSERT_FALSE(path.ok());
  EXPECT_EQ(path.status().code(), Code::kInvalidArgument);
}

// containerd 2.3 and later: BootstrapParams with the options Any as an
// extension.
std::string BootstrapParamsBytes(const std::string& options_type_url,
                                 const std::string& config_path) {
  ::containerd::runtime::bootstrap::v1::BootstrapParams params;
  params.set_instance_id("pod1");
  params.set_namespace_("k8s.io");
  params.set_containerd_version("2.3.0");
  params.set_containerd_ttrpc_address("/run/containerd/containerd.sock.ttrpc");
  params.set_containerd_grpc_address("/run/containerd/containerd.sock");
  if (!options_type_url.empty()) {
    ::runtimeoptions::v1::Options options;
    options.set_config_path(config_path);
    ::google::protobuf::Any* any = params.add_extensions()->mutable_value();
    any->set_type_url(options_type_url);
    any->set_value(options.SerializeAsString());
  }
  return params.SerializeAsString();
}

TEST(RuntimeOptionsTest, ReadsConfigPathFromBootstrapParams) {
  Result<std::string> path = ConfigPathFromOptions(
      BootstrapParamsBytes("runtimeoptions.v1.Options", "/etc/reaper/node.conf"));
  ASSERT_TRUE(path.ok()) << path.status().ToString();
  EXPECT_EQ(*path, "/etc/reaper/node.conf");
}

TEST(RuntimeOptionsTest, BootstrapParamsWithoutOptionsHaveNoConfigPath) {
  Result<std::string> path = ConfigPathFromOptions(BootstrapParamsBytes("", ""));
  ASSERT_TRUE(path.ok()) << path.status().ToString();
  EXPECT_EQ(*path, "");
}

TEST(RuntimeOptionsTest, RuncOptionsInBootstrapParamsIgnored) {
  // A runtime table copied from runc's, with its [options], must not break
  // the shim.
  Result<std::string> path =
      ConfigPathFromOptions(BootstrapParamsBytes("containerd.runc.v1.Options", "ignored"));
  ASSERT_TRUE(path.ok()) << path.status().ToString();
  EXPECT_EQ(*path, "");
}

TEST(RuntimeOptionsTest, ReadsLongConfigPathOfLegacyAny) {
  // From 128 bytes on, the length prefix inside the Any's value is not
  // UTF-8, which must not matter to the BootstrapParams attempt.
  const std::string long_path = "/etc/reaper/" + std::string(200, 'c') + ".conf";
  ::runtimeoptions::v1::Options options;
  options.set_config_path(long_path);
  ::google::protobuf::Any any;
  any.set_type_url("runtimeoptions.v1.Options");
  any.set_value(options.SerializeAsString());

  Result<std::string> path = ConfigPathFromOptions(any.SerializeAsString());

  ASSERT_TRUE(path.ok()) << path.status().ToString();
  EXPECT_EQ(*path, long_path);
}

TEST(RuntimeOptionsTest, GarbageStdinHasNoConfigPath) {
  Result<std::string> path = ConfigPathFromOptions("not a protobuf message\xff");
  ASSERT_TRUE(path.ok()) << path.status().ToString();
  EXPECT_EQ(*path, "");
}

TEST(StartAnswerTest, AddressIsNotABootstrapResult) {
  // containerd 2.3 decodes the output of start as a BootstrapResult first
  // and falls back to reading an address only when that decode fails.
  const std::string answer =
      "unix://" + SocketPathFor("/run/reaper", "/run/containerd/containerd.sock", "k8s.io", "pod1");
  ::containerd::runtime::bootstrap::v1::BootstrapResult result;
  EXPECT_FALSE(result.ParseFromString(answer));
  EXPECT_EQ(answer.find('\n'), std::string::npos);
  EXPECT_NE(answer[0], '{');
}

TEST(ShimPathsTest, RuntimeRootIsPerNamespace) {
  EXPECT_EQ(RuntimeRootFor("/run/reaper/runtime", "k8s.io"), "/run/reaper/runtime/k8s.io");
  EXPECT_NE(RuntimeRootFor("/run/reaper/runtime", "default"),
            RuntimeRootFor("/run/reaper/runtime", "k8s.io"));
}

TEST(ShimPathsTest, WorkDirectoryIsPerNamespace) {
  EXPECT_EQ(WorkDirectoryFor("/run/reaper", "k8s.io"), "/run/reaper/shim/k8s.io");
}

TEST(BundleAnnotationsTest, ReadsSandboxAnnotations) {
  Result<BundleAnnotations> annotations = ParseBundleAnnotations(
      "{\"annotations\":{\"io.kubernetes.cri.container-type\":\"sandbox\","
      "\"io.kubernetes.cri.sandbox-id\":\"pod1\"}}");
  ASSERT_TRUE(annotations.ok());
  EXPECT_TRUE(annotations->is_sandbox);
  EXPECT_EQ(annotations->sandbox_id, "pod1");
}

TEST(BundleAnnotationsTest, ContainerOfPodIsNotSandbox) {
  Result<BundleAnnotations> annotations = ParseBundleAnnotations(
      "{\"annotations\":{\"io.kubernetes.cri.container-type\":\"container\","
      "\"io.kubernetes.cri.sandbox-id\":\"pod1\"}}");
  ASSERT_TRUE(annotations.ok());
  EXPECT_FALSE(annotations->is_sandbox);
  EXPECT_EQ(annotations->sandbox_id, "pod1");
}

TEST(BundleAnnotationsTest, NoAnnotationsIsPlainTask) {
  Result<BundleAnnotations> annotations = ParseBundleAnnotations("{\"ociVersion\":\"1.0.2\"}");
  ASSERT_TRUE(annotations.ok());
  EXPECT_FALSE(annotations->is_sandbox);
  EXPECT_EQ(annotations->sandbox_id, "");
}

TEST(BundleAnnotationsTest, RejectsNonStringAnnotation) {
  Result<BundleAnnotations> annotations = ParseBundleAnnotations("{\"annotations\":{\"a\":1}}");
  ASSERT_FALSE(annotations.ok());
  EXPECT_EQ(annotations.status().message(), "annotation \"a\" is not a string");
}

TEST(CloseInheritedFdsTest, KeepsStdioAndListener) {
  fakes::FakeKernel kernel;
  Result<int> inherited = kernel.Open("/dev/null", O_RDONLY);
  Result<int> listener = kernel.Open("/dev/null", O_RDWR | O_CLOEXEC);
  Result<int> stray = kernel.Open("/dev/null", O_WRONLY | O_CLOEXEC);
  ASSERT_TRUE(inherited.ok());
  ASSERT_TRUE(listener.ok());
  ASSERT_TRUE(stray.ok());

  CloseInheritedFds(kernel, *listener);

  EXPECT_EQ(kernel.OpenFds(kernel.current()), (std::vector<int>{0, 1, 2, *listener}));
}

class CleanupTaskTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(kernel_.SetChildSubreaper().ok()); }

  fakes::FakeKernel kernel_;
  FakeRuntimeClient runtime_{kernel_};
  const std::string work_dir_ = "/run/reaper/shim/default";
};

TEST_F(CleanupTaskTest, ReportsPidAndKilledStatus) {
  Result<pid_t> pid = runtime_.Create("t1", "/b", ChildStdio{});
  ASSERT_TRUE(pid.ok());
  kernel_.WriteFile(work_dir_ + "/t1/create.log", "");
  kernel_.AdvanceClock(30, 7);
  std::vector<std::string> warnings;

  ::containerd::task::v2::DeleteResponse response =
      CleanupTask(kernel_, runtime_, work_dir_, "t1", &warnings);

  EXPECT_EQ(response.pid(), static_cast<uint32_t>(*pid));
  EXPECT_EQ(response.exit_status(), 137u);
  EXPECT_EQ(response.exited_at().seconds(), kernel_.Now().seconds);
  EXPECT_EQ(response.exited_at().nanos(), kernel_.Now().nanos);
  EXPECT_TRUE(warnings.empty());
  EXPECT_EQ(runtime_.calls().back(), "delete --force t1");
  EXPECT_FALSE(kernel_.Exists(work_dir_ + "/t1"));
}

TEST_F(CleanupTaskTest, SucceedsTwiceAndForUnknownTask) {
  std::vector<std::string> warnings;
  ::containerd::task::v2::DeleteResponse first =
      CleanupTask(kernel_, runtime_, work_dir_, "gone", &warnings);
  ::containerd::task::v2::DeleteResponse second =
      CleanupTask(kernel_, runtime_, work_dir_, "gone", &warnings);

  EXPECT_EQ(first.pid(), 0u);
  EXPECT_EQ(first.exit_status(), 137u);
  EXPECT_EQ(second.exit_status(), 137u);
  EXPECT_TRUE(warnings.empty());
}

TEST_F(CleanupTaskTest, ResponseEncodesAsContainerdReadsIt) {
  kernel_.SetNow({1700000123, 0});
  std::vector<std::string> warnings;
  std::string bytes =
      CleanupTask(kernel_, runtime_, work_dir_, "gone", &warnings).SerializeAsString();

  // exit_status = 137 (field 2), exited_at = {seconds 1700000123} (field 3),
  // encoded by hand from the protobuf wire format.
  EXPECT_EQ(bytes, std::string("\x10\x89\x01\x1a\x06\x08\xfb\xe2\xcf\xaa\x06", 11));
}

}  // namespace
}  // namespace reaper::shim
