#include "shim/descendants.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "fakes/fake_kernel.h"

namespace reaper::shim {
namespace {

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
