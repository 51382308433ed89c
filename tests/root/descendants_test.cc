// DescendantsOf on the real /proc: a child and a grandchild of the test
// process are found, parent first.
#include "shim/descendants.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "sys/linux_kernel.h"

namespace reaper::shim {
namespace {

TEST(DescendantsRootTest, FindsChildAndGrandchild) {
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // Only async-signal-safe calls between fork and _exit.
    const pid_t grandchild = fork();
    if (grandchild == 0) {
      for (;;) pause();
    }
    (void)write(ready[1], &grandchild, sizeof(grandchild));
    for (;;) pause();
  }
  close(ready[1]);
  pid_t grandchild = 0;
  ASSERT_EQ(read(ready[0], &grandchild, sizeof(grandchild)),
            static_cast<ssize_t>(sizeof(grandchild)));
  close(ready[0]);

  sys::LinuxKernel kernel;
  Result<std::vector<pid_t>> descendants = DescendantsOf(kernel, getpid());
  Result<std::vector<pid_t>> below_child = DescendantsOf(kernel, child);

  kill(grandchild, SIGKILL);
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);

  ASSERT_TRUE(descendants.ok()) << descendants.status().ToString();
  auto child_at = std::find(descendants->begin(), descendants->end(), child);
  auto grandchild_at = std::find(descendants->begin(), descendants->end(), grandchild);
  ASSERT_NE(child_at, descendants->end());
  ASSERT_NE(grandchild_at, descendants->end());
  EXPECT_LT(child_at, grandchild_at);
  ASSERT_TRUE(below_child.ok()) << below_child.status().ToString();
  EXPECT_EQ(*below_child, std::vector<pid_t>{grandchild});
}

}  // namespace
}  // namespace reaper::shim
