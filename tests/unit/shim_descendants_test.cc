#include "shim/descendants.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "fakes/fake_kernel.h"

namespace reaper::shim {
namespace {

TEST(ParseParentPidTest, ReadsFieldFour) {
  Result<pid_t> parent = ParseParentPid("1234 (sleep) S 77 1234 1234 0 -1 4194560 0");
  ASSERT_TRUE(parent.ok()) << parent.status().ToString();
  EXPECT_EQ(*parent, 77);
}

TEST(ParseParentPidTest, CommandNameWithSpacesAndParentheses) {
  Result<pid_t> parent = ParseParentPid("42 (my (odd) name) R 9 42 42 0 -1");
  ASSERT_TRUE(parent.ok()) << parent.status().ToString();
  EXPECT_EQ(*parent, 9);
}

TEST(ParseParentPidTest, RejectsMalformedLines) {
  for (const std::string& line : {std::string(""), std::string("12 sleep S 1"),
                                  std::string("12 (sleep)"), std::string("12 (sleep) S"),
                                  std::string("12 (sleep) S x")}) {
    SCOPED_TRACE(line);
    Result<pid_t> parent = ParseParentPid(line);
    ASSERT_FALSE(parent.ok());
    EXPECT_EQ(parent.status().code(), Code::kInvalidArgument);
  }
}

class DescendantsTest : public ::testing::Test {
 protected:
  pid_t ForkOf(pid_t parent) {
    pid_t child = 0;
    kernel_.RunAsChild(parent, [&] {
      Result<pid_t> forked = kernel_.Fork();
      ASSERT_TRUE(forked.ok());
      child = *forked;
    });
    return child;
  }

  fakes::FakeKernel kernel_;
};

TEST_F(DescendantsTest, ListsWholeSubtreeParentsFirst) {
  const pid_t shim = kernel_.current();
  Result<pid_t> child = kernel_.Fork();
  ASSERT_TRUE(child.ok());
  const pid_t grandchild = ForkOf(*child);
  const pid_t great_grandchild = ForkOf(grandchild);
  Result<pid_t> other = kernel_.Fork();
  ASSERT_TRUE(other.ok());

  Result<std::vector<pid_t>> descendants = DescendantsOf(kernel_, *child);

  ASSERT_TRUE(descendants.ok()) << descendants.status().ToString();
  EXPECT_EQ(*descendants, (std::vector<pid_t>{grandchild, great_grandchild}));
  Result<std::vector<pid_t>> of_shim = DescendantsOf(kernel_, shim);
  ASSERT_TRUE(of_shim.ok());
  EXPECT_NE(std::find(of_shim->begin(), of_shim->end(), *other), of_shim->end());
  EXPECT_EQ(std::find(of_shim->begin(), of_shim->end(), shim), of_shim->end());
}

TEST_F(DescendantsTest, ProcessWithoutChildrenHasNone) {
  Result<pid_t> child = kernel_.Fork();
  ASSERT_TRUE(child.ok());
  Result<std::vector<pid_t>> descendants = DescendantsOf(kernel_, *child);
  ASSERT_TRUE(descendants.ok());
  EXPECT_TRUE(descendants->empty());
}

}  // namespace
}  // namespace reaper::shim
