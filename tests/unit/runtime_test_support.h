// Helpers for the reaper-runtime unit tests on the fake kernel.
#ifndef REAPER_TESTS_UNIT_RUNTIME_TEST_SUPPORT_H_
#define REAPER_TESTS_UNIT_RUNTIME_TEST_SUPPORT_H_

#include <deque>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "fakes/fake_kernel.h"
#include "runtime/process_launcher.h"

namespace reaper {
namespace runtime {

// Runs each queued step of a forked child with FakeKernel::RunAsChild when
// the parent is about to wait for that child. Steps of a process that has
// exited or exec'd are dropped, as a real process would not run them.
class FakeChildScheduler : public ChildScheduler {
 public:
  explicit FakeChildScheduler(fakes::FakeKernel& kernel) : kernel_(kernel) {}

  void Schedule(pid_t pid, std::function<void()> step) override {
    steps_[pid].push_back(std::move(step));
  }

  // Makes RunNextStep end a process that has exec'd and has no step left,
  // as if its program exited with `code`.
  void ExitProgramsWith(int code) { program_exit_code_ = code; }

  void RunNextStep(pid_t pid) override {
    std::deque<std::function<void()>>& queue = steps_[pid];
    if (queue.empty()) {
      bool executed = kernel_.ProcessExists(pid) &&
                      kernel_.Process(pid).state == fakes::FakeKernel::ProcessState::kExecuted;
      if (executed && program_exit_code_ >= 0) kernel_.ExitProcess(pid, program_exit_code_);
      return;
    }
    std::function<void()> step = std::move(queue.front());
    queue.pop_front();
    bool running = kernel_.ProcessExists(pid) &&
                   kernel_.Process(pid).state == fakes::FakeKernel::ProcessState::kRunning;
    if (!running) {
      queue.clear();
      return;
    }
    kernel_.RunAsChild(pid, step);
  }

  size_t PendingSteps(pid_t pid) { return steps_[pid].size(); }

 private:
  fakes::FakeKernel& kernel_;
  std::map<pid_t, std::deque<std::function<void()>>> steps_;
  int program_exit_code_ = -1;
};

// A mount table as lines of target, type, source and propagation, leaving
// out the mount ids so that tables can be compared.
inline std::vector<std::string> DescribeMounts(
    const std::vector<fakes::FakeKernel::MountEntry>& mounts) {
  std::vector<std::string> described;
  for (const fakes::FakeKernel::MountEntry& mount : mounts) {
    std::string propagation = "private";
    if (mount.propagation == fakes::FakeKernel::Propagation::kShared) propagation = "shared";
    if (mount.propagation == fakes::FakeKernel::Propagation::kSlave) propagation = "slave";
    if (mount.propagation == fakes::FakeKernel::Propagation::kUnbindable) propagation = "unbindable";
    described.push_back(mount.target + " " + mount.fstype + " " + mount.source + " " +
                        propagation);
  }
  return described;
}

}  // namespace runtime
}  // namespace reaper

#endif  // REAPER_TESTS_UNIT_RUNTIME_TEST_SUPPORT_H_
