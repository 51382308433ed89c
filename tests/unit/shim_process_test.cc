#include "shim/process.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace reaper::shim {
namespace {

struct Case {
  ProcessState state;
  Operation operation;
  Code expected;
  std::string message;  // checked when not empty
};

void MoveTo(Process& process, ProcessState state) {
  if (state == ProcessState::kCreated) process.SetCreated(10);
  if (state == ProcessState::kRunning) process.SetRunning(10);
  if (state == ProcessState::kStopped) {
    process.SetRunning(10);
    (void)process.SetExited(ExitInfo{0, {}});
  }
}

TEST(ProcessTest, LifecycleTable) {
  const std::vector<Case> cases = {
      {ProcessState::kCreated, Operation::kStart, Code::kOk, ""},
      {ProcessState::kRunning, Operation::kStart, Code::kFailedPrecondition,
       "task t1 cannot be started: it is running"},
      {ProcessState::kStopped, Operation::kStart, Code::kFailedPrecondition,
       "task t1 cannot be started: it is stopped"},
      {ProcessState::kCreated, Operation::kKill, Code::kFailedPrecondition,
       "task t1 cannot be signalled: it is not started"},
      {ProcessState::kRunning, Operation::kKill, Code::kOk, ""},
      {ProcessState::kStopped, Operation::kKill, Code::kNotFound, "process already finished"},
      {ProcessState::kCreated, Operation::kDelete, Code::kOk, ""},
      {ProcessState::kRunning, Operation::kDelete, Code::kFailedPrecondition,
       "cannot delete a running process: task t1 is running"},
      {ProcessState::kStopped, Operation::kDelete, Code::kOk, ""},
      {ProcessState::kCreated, Operation::kExec, Code::kFailedPrecondition,
       "cannot exec in task t1: it is created"},
      {ProcessState::kRunning, Operation::kExec, Code::kOk, ""},
      {ProcessState::kStopped, Operation::kExec, Code::kFailedPrecondition,
       "cannot exec in task t1: it is stopped"},
  };
  for (const Case& test_case : cases) {
    SCOPED_TRACE(std::string(ProcessStateName(test_case.state)) + " " +
                 OperationName(test_case.operation));
    Process process("t1", "", StdioPaths{});
    MoveTo(process, test_case.state);

    Status status = process.Check(test_case.operation);

    EXPECT_EQ(status.code(), test_case.expected);
    if (!test_case.message.empty()) {
      EXPECT_EQ(status.message(), test_case.message);
    }
  }
}

TEST(ProcessTest, ExecNamesItselfInErrors) {
  Process process("t1", "e1", StdioPaths{});
  process.SetRunning(10);
  EXPECT_EQ(process.Check(Operation::kStart).message(),
            "exec e1 of task t1 cannot be started: it is running");
}

TEST(ProcessTest, EventIdIsExecIdOrContainerId) {
  EXPECT_EQ(Process("t1", "", StdioPaths{}).event_id(), "t1");
  EXPECT_EQ(Process("t1", "e1", StdioPaths{}).event_id(), "e1");
}

TEST(ProcessTest, SetExitedReturnsWaitersOnce) {
  Process process("t1", "", StdioPaths{});
  process.SetRunning(10);
  int calls = 0;
  process.AddWaiter([&calls](const ExitInfo&) { ++calls; });
  process.AddWaiter([&calls](const ExitInfo&) { ++calls; });

  std::vector<ExitCallback> waiters = process.SetExited(ExitInfo{3, {5, 6}});
  for (ExitCallback& waiter : waiters) waiter(process.exit());

  EXPECT_EQ(calls, 2);
  EXPECT_EQ(process.waiter_count(), 0u);
  EXPECT_EQ(process.state(), ProcessState::kStopped);
  EXPECT_EQ(process.exit().status, 3u);
  EXPECT_TRUE(process.SetExited(ExitInfo{9, {}}).empty());
  EXPECT_EQ(process.exit().status, 3u);
}

}  // namespace
}  // namespace reaper::shim
