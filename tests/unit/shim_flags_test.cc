#include "shim/flags.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace reaper::shim {
namespace {

TEST(ShimFlagsTest, ParsesContainerdStartCommandLine) {
  Result<ShimFlags> flags =
      ParseFlags({"-namespace", "default", "-address", "/run/containerd/containerd.sock",
                  "-publish-binary", "/usr/bin/containerd", "-id", "t1", "-debug", "start"});
  ASSERT_TRUE(flags.ok()) << flags.status().ToString();
  EXPECT_EQ(flags->namespace_name, "default");
  EXPECT_EQ(flags->address, "/run/containerd/containerd.sock");
  EXPECT_EQ(flags->publish_binary, "/usr/bin/containerd");
  EXPECT_EQ(flags->id, "t1");
  EXPECT_TRUE(flags->debug);
  EXPECT_EQ(flags->action, Action::kStart);
}

TEST(ShimFlagsTest, AcceptsEqualsForm) {
  Result<ShimFlags> flags = ParseFlags({"-id=t1", "-bundle=/b", "delete"});
  ASSERT_TRUE(flags.ok()) << flags.status().ToString();
  EXPECT_EQ(flags->id, "t1");
  EXPECT_EQ(flags->bundle, "/b");
  EXPECT_EQ(flags->action, Action::kDelete);
}

TEST(ShimFlagsTest, AcceptsDoubleDashForm) {
  Result<ShimFlags> flags = ParseFlags({"--namespace", "k8s.io", "--id=t2", "--debug", "start"});
  ASSERT_TRUE(flags.ok()) << flags.status().ToString();
  EXPECT_EQ(flags->namespace_name, "k8s.io");
  EXPECT_EQ(flags->id, "t2");
  EXPECT_TRUE(flags->debug);
}

TEST(ShimFlagsTest, ValueMayStartWithDash) {
  Result<ShimFlags> flags = ParseFlags({"-id", "-odd", "start"});
  ASSERT_TRUE(flags.ok()) << flags.status().ToString();
  EXPECT_EQ(flags->id, "-odd");
}

TEST(ShimFlagsTest, BooleanTakesExplicitValue) {
  Result<ShimFlags> flags = ParseFlags({"-debug=false", "start"});
  ASSERT_TRUE(flags.ok()) << flags.status().ToString();
  EXPECT_FALSE(flags->debug);
}

TEST(ShimFlagsTest, RejectsBadBooleanValue) {
  Result<ShimFlags> flags = ParseFlags({"-debug=maybe", "start"});
  ASSERT_FALSE(flags.ok());
  EXPECT_EQ(flags.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(flags.status().message(), "invalid boolean value \"maybe\" for flag -debug");
}

TEST(ShimFlagsTest, VersionFlagNeedsNoAction) {
  Result<ShimFlags> flags = ParseFlags({"-v"});
  ASSERT_TRUE(flags.ok()) << flags.status().ToString();
  EXPECT_TRUE(flags->version);
  EXPECT_EQ(flags->action, Action::kNone);
}

TEST(ShimFlagsTest, RejectsUnknownFlag) {
  Result<ShimFlags> flags = ParseFlags({"-id", "t1", "-info", "start"});
  ASSERT_FALSE(flags.ok());
  EXPECT_EQ(flags.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(flags.status().message(), "unknown flag \"-info\"");
}

TEST(ShimFlagsTest, RejectsMissingValue) {
  Result<ShimFlags> flags = ParseFlags({"-id"});
  ASSERT_FALSE(flags.ok());
  EXPECT_EQ(flags.status().message(), "flag -id needs a value");
}

TEST(ShimFlagsTest, RejectsUnknownAction) {
  Result<ShimFlags> flags = ParseFlags({"-id", "t1", "serve"});
  ASSERT_FALSE(flags.ok());
  EXPECT_EQ(flags.status().message(), "unknown action \"serve\": expected start or delete");
}

TEST(ShimFlagsTest, RejectsArgumentAfterAction) {
  Result<ShimFlags> flags = ParseFlags({"start", "-id", "t1"});
  ASSERT_FALSE(flags.ok());
  EXPECT_EQ(flags.status().message(), "unexpected argument \"-id\" after the action");
}

TEST(ShimFlagsTest, DoubleDashEndsFlags) {
  Result<ShimFlags> flags = ParseFlags({"-id", "t1", "--", "delete"});
  ASSERT_TRUE(flags.ok()) << flags.status().ToString();
  EXPECT_EQ(flags->action, Action::kDelete);
}

TEST(ShimFlagsTest, NoArgumentsGiveNoAction) {
  Result<ShimFlags> flags = ParseFlags({});
  ASSERT_TRUE(flags.ok());
  EXPECT_EQ(flags->action, Action::kNone);
}

}  // namespace
}  // namespace reaper::shim
