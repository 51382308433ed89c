// Test doubles for the shim's unit tests: a RuntimeClient that creates
// processes in the fake kernel the way reaper-runtime does on Linux, and a
// Publisher that records events.
#ifndef REAPER_TESTS_UNIT_SHIM_TEST_FAKES_H_
#define REAPER_TESTS_UNIT_SHIM_TEST_FAKES_H_

#include <sys/wait.h>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "fakes/fake_kernel.h"
#include "shim/output_drain.h"
#include "shim/publisher.h"
#include "shim/runtime_client.h"

namespace reaper::shim {

// Records every published event, encoded, in order.
class RecordingPublisher : public Publisher {
 public:
  struct Event {
    std::string topic;
    std::string type_name;
    std::string payload;
  };

  void Publish(const std::string& topic, const google::protobuf::MessageLite& event) override {
    events_.push_back({topic, event.GetTypeName(), event.SerializeAsString()});
  }

  const std::vector<Event>& events() const { return events_; }
  std::vector<std::string> Topics() const {
    std::vector<std::string> topics;
    for (const Event& event : events_) topics.push_back(event.topic);
    return topics;
  }
  // Decodes the last event of `topic`; fails the test when there is none.
  template <typename Message>
  Message Last(const std::string& topic) const {
    Message message;
    for (auto it = events_.rbegin(); it != events_.rend(); ++it) {
      if (it->topic != topic) continue;
      EXPECT_TRUE(message.ParseFromString(it->payload));
      return message;
    }
    ADD_FAILURE() << "no event with topic " << topic;
    return message;
  }
  void Clear() { events_.clear(); }

 private:
  std::vector<Event> events_;
};

// Keeps every drain request until the test finishes it, as if the client
// read the FIFOs empty.
class RecordingOutputDrain : public OutputDrain {
 public:
  void WhenDrained(const std::vector<int>& fds, std::function<void()> done) override {
    pending_.push_back({fds, std::move(done)});
  }

  size_t pending_count() const { return pending_.size(); }
  // The fds of the oldest pending request; empty when none is pending.
  std::vector<int> first_fds() const { return pending_.empty() ? std::vector<int>() : pending_[0].fds; }
  void FinishAll() {
    std::vector<Request> pending;
    pending.swap(pending_);
    for (Request& request : pending) request.done();
  }

 private:
  struct Request {
    std::vector<int> fds;
    std::function<void()> done;
  };
  std::vector<Request> pending_;
};

// Acts like reaper-runtime on the fake kernel: each create or exec forks a
// runtime process, which puts the given stdio on its fds 0-2, forks the
// workload, makes it a session leader and exits. The client then reaps the runtime process, so the
// workload is re-parented to the nearest child subreaper: the test process,
// which plays the shim.
class FakeRuntimeClient : public RuntimeClient {
 public:
  explicit FakeRuntimeClient(fakes::FakeKernel& kernel) : kernel_(kernel) {}

  Result<pid_t> Create(const std::string& id, const std::string& bundle,
                       const ChildStdio& stdio) override {
    calls_.push_back("create " + id + " " + bundle);
    if (create_error_) return *create_error_;
    pid_t pid = Spawn(stdio);
    containers_[id] = pid;
    return pid;
  }

  Status Start(const std::string& id) override {
    calls_.push_back("start " + id);
    if (start_error_) return *start_error_;
    return Status::Ok();
  }

  Result<pid_t> Exec(const std::string& id, const std::string& exec_id,
                     const std::string& process_json, const ChildStdio& stdio) override {
    calls_.push_back("exec " + id + " " + exec_id + " " + process_json);
    if (exec_error_) return *exec_error_;
    return Spawn(stdio);
  }

  Status Delete(const std::string& id, bool force) override {
    calls_.push_back(std::string("delete ") + (force ? "--force " : "") + id);
    if (containers_.erase(id) == 0) {
      return Status(Code::kNotFound, "container " + id + " does not exist");
    }
    return Status::Ok();
  }

  Result<std::string> State(const std::string& id) override {
    calls_.push_back("state " + id);
    auto found = containers_.find(id);
    if (found == containers_.end()) {
      return Status(Code::kNotFound, "container " + id + " does not exist");
    }
    return "{\"id\":\"" + id + "\",\"pid\":" + std::to_string(found->second) +
           ",\"status\":\"created\"}";
  }

  // Makes the runtime process stay a zombie instead of being reaped, as a
  // helper left behind by reaper-runtime would. The shim's reaper then reaps
  // an exit that belongs to no process.
  void LeaveRuntimeUnreaped() { reap_runtime_ = false; }
  pid_t last_runtime_pid() const { return last_runtime_pid_; }

  // Runs after each process is spawned, before its pid is returned.
  std::function<void(pid_t workload)> after_spawn_;
  std::optional<Status> create_error_;
  std::optional<Status> start_error_;
  std::optional<Status> exec_error_;
  const std::vector<std::string>& calls() const { return calls_; }

 private:
  pid_t Spawn(const ChildStdio& stdio) {
    Result<pid_t> runtime = kernel_.Fork();
    EXPECT_TRUE(runtime.ok()) << runtime.status().ToString();
    last_runtime_pid_ = *runtime;
    pid_t workload = 0;
    kernel_.RunAsChild(*runtime, [&] {
      const int sources[] = {stdio.stdin_fd, stdio.stdout_fd, stdio.stderr_fd};
      for (int target = 0; target < 3; ++target) {
        if (sources[target] < 0) continue;
        EXPECT_TRUE(kernel_.Dup3(sources[target], target, 0).ok());
      }
      Result<pid_t> forked = kernel_.Fork();
      EXPECT_TRUE(forked.ok());
      workload = *forked;
      kernel_.Exit(0);
    });
    kernel_.RunAsChild(workload, [&] { EXPECT_TRUE(kernel_.SetSid().ok()); });
    if (reap_runtime_) {
      Result<sys::WaitResult> reaped = kernel_.Wait(*runtime, 0);
      EXPECT_TRUE(reaped.ok()) << reaped.status().ToString();
    }
    if (after_spawn_) after_spawn_(workload);
    return workload;
  }

  fakes::FakeKernel& kernel_;
  std::map<std::string, pid_t> containers_;
  std::vector<std::string> calls_;
  bool reap_runtime_ = true;
  pid_t last_runtime_pid_ = 0;
};

}  // namespace reaper::shim

#endif  // REAPER_TESTS_UNIT_SHIM_TEST_FAKES_H_
