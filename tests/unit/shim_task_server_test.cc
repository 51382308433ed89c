// The task service bound to a real ttrpc::Server, over a unix socket in a
// temporary directory: decoding, replies, error codes and the Shutdown
// callback. Rootless: only the pod sandbox task is used, which runs no
// process, and the loop runs on a thread of the test.
#include "shim/task_server.h"

#include <stdlib.h>

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <string>
#include <thread>

#include "common/event_loop.h"
#include "common/files.h"
#include "common/log.h"
#include "shim/exit_reaper.h"
#include "sys/linux_kernel.h"
#include "tests/unit/shim_test_fakes.h"
#include "ttrpc/client.h"
#include "ttrpc/server.h"

namespace reaper::shim {
namespace {

constexpr int kCallTimeoutMs = 10000;

// Fails every call: the sandbox task never reaches reaper-runtime.
class UnusedRuntimeClient : public RuntimeClient {
 public:
  Result<pid_t> Create(const std::string&, const std::string&, const ChildStdio&) override {
    return Unexpected();
  }
  Status Start(const std::string&) override { return Unexpected(); }
  Result<pid_t> Exec(const std::string&, const std::string&, const std::string&,
                     const ChildStdio&) override {
    return Unexpected();
  }
  Status Delete(const std::string&, bool) override { return Unexpected(); }
  Result<std::string> State(const std::string&) override { return Unexpected(); }

 private:
  static Status Unexpected() {
    ADD_FAILURE() << "reaper-runtime called";
    return Status(Code::kInternal, "unexpected runtime call");
  }
};

class TaskServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char directory[] = "/tmp/reaper-task-server-test-XXXXXX";
    ASSERT_NE(mkdtemp(directory), nullptr);
    directory_ = directory;
    socket_path_ = directory_ + "/shim.sock";
    ASSERT_TRUE(WriteFileAtomic(kernel_, directory_ + "/config.json",
                                "{\"annotations\":{\"io.kubernetes.cri.container-type\":"
                                "\"sandbox\"}}")
                    .ok());

    ASSERT_TRUE(loop_.Init().ok());
    RegisterTaskService(server_, service_, logger_, [this] {
      idle_shutdowns_++;
      loop_.Stop();
    });
    Result<int> socket = kernel_.UnixSocket(sys::kSockStream | sys::kSockCloexec);
    ASSERT_TRUE(socket.ok());
    ASSERT_TRUE(kernel_.Bind(*socket, socket_path_).ok());
    ASSERT_TRUE(kernel_.Listen(*socket, 16).ok());
    ASSERT_TRUE(server_.Serve(*socket).ok());
    loop_thread_ = std::thread([this] { run_status_ = loop_.Run(); });
    ASSERT_TRUE(client_.Connect(socket_path_).ok());
  }

  void TearDown() override {
    StopLoop();
    (void)RemoveTree(kernel_, directory_);
  }

  void StopLoop() {
    if (!loop_thread_.joinable()) return;
    loop_.Post([this] {
      server_.Close();
      loop_.Stop();
    });
    loop_thread_.join();
    EXPECT_TRUE(run_status_.ok()) << run_status_.ToString();
  }

  template <typename Response>
  Result<Response> Call(ttrpc::Client& client, const std::string& method,
                        const google::protobuf::MessageLite& request) {
    Result<std::string> reply = client.Call(kTaskServiceName, method, request.SerializeAsString(),
                                            {}, kCallTimeoutMs);
    if (!reply.ok()) return reply.status();
    Response response;
    EXPECT_TRUE(response.ParseFromString(*reply));
    return response;
  }

  task::CreateTaskRequest CreateRequest() {
    task::CreateTaskRequest request;
    request.set_id("sb");
    request.set_bundle(directory_);
    return request;
  }

  sys::LinuxKernel kernel_;
  Logger logger_{kernel_};
  EventLoop loop_{kernel_};
  UnusedRuntimeClient runtime_;
  RecordingPublisher publisher_;
  ExitReaper reaper_{kernel_, logger_};
  std::string directory_;
  std::string socket_path_;
  RecordingOutputDrain drain_;
  TaskService service_{kernel_, logger_, runtime_, publisher_, reaper_, drain_,
                       {"/tmp/reaper-task-server-test-unused"}};
  ttrpc::Server server_{kernel_, loop_, logger_};
  ttrpc::Client client_{kernel_};
  std::thread loop_thread_;
  Status run_status_;
  std::atomic<int> idle_shutdowns_{0};
};

TEST_F(TaskServerTest, SandboxLifecycleOverTtrpc) {
  Result<task::CreateTaskResponse> created =
      Call<task::CreateTaskResponse>(client_, "Create", CreateRequest());
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_EQ(created->pid(), static_cast<uint32_t>(kernel_.GetPid()));
  task::StartRequest start;
  start.set_id("sb");
  ASSERT_TRUE(Call<task::StartResponse>(client_, "Start", start).ok());

  // Wait stays pending on its own connection while Kill goes through.
  ttrpc::Client waiter(kernel_);
  ASSERT_TRUE(waiter.Connect(socket_path_).ok());
  task::WaitRequest wait;
  wait.set_id("sb");
  std::future<Result<task::WaitResponse>> waited = std::async(std::launch::async, [&] {
    return Call<task::WaitResponse>(waiter, "Wait", wait);
  });
  EXPECT_EQ(waited.wait_for(std::chrono::milliseconds(100)), std::future_status::timeout);
  task::KillRequest kill;
  kill.set_id("sb");
  kill.set_signal(9);
  ASSERT_TRUE(Call<Empty>(client_, "Kill", kill).ok());
  Result<task::WaitResponse> wait_response = waited.get();
  ASSERT_TRUE(wait_response.ok()) << wait_response.status().ToString();
  EXPECT_EQ(wait_response->exit_status(), 137u);

  task::DeleteRequest remove;
  remove.set_id("sb");
  Result<task::DeleteResponse> deleted = Call<task::DeleteResponse>(client_, "Delete", remove);
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  EXPECT_EQ(deleted->exit_status(), 137u);
  EXPECT_EQ(deleted->exited_at().seconds(), wait_response->exited_at().seconds());

  task::ShutdownRequest shutdown;
  shutdown.set_id("sb");
  ASSERT_TRUE(Call<Empty>(client_, "Shutdown", shutdown).ok());
  loop_thread_.join();
  EXPECT_EQ(idle_shutdowns_.load(), 1);
  EXPECT_EQ(publisher_.Topics(), (std::vector<std::string>{"/tasks/create", "/tasks/start",
                                                           "/tasks/exit", "/tasks/delete"}));
}

TEST_F(TaskServerTest, ShutdownWithTaskLeftKeepsServing) {
  ASSERT_TRUE(Call<task::CreateTaskResponse>(client_, "Create", CreateRequest()).ok());
  task::ShutdownRequest shutdown;
  shutdown.set_id("other");
  ASSERT_TRUE(Call<Empty>(client_, "Shutdown", shutdown).ok());

  task::StateRequest state;
  state.set_id("sb");
  Result<task::StateResponse> response = Call<task::StateResponse>(client_, "State", state);
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_EQ(idle_shutdowns_.load(), 0);
}

TEST_F(TaskServerTest, ErrorsArriveWithTheirCodes) {
  task::StateRequest state;
  state.set_id("nope");
  Result<task::StateResponse> missing = Call<task::StateResponse>(client_, "State", state);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
  EXPECT_EQ(missing.status().message(),
            "ttrpc call containerd.task.v2.Task/State: task nope not found");

  task::PauseRequest pause;
  pause.set_id("nope");
  Result<Empty> paused = Call<Empty>(client_, "Pause", pause);
  ASSERT_FALSE(paused.ok());
  EXPECT_EQ(paused.status().code(), Code::kUnimplemented);

  task::CreateTaskRequest create = CreateRequest();
  create.set_bundle(directory_ + "/missing");
  Result<task::CreateTaskResponse> created =
      Call<task::CreateTaskResponse>(client_, "Create", create);
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.status().code(), Code::kInternal);
  EXPECT_NE(created.status().message().find("/missing/config.json"), std::string::npos);
}

TEST_F(TaskServerTest, UndecodableRequestIsInvalidArgument) {
  Result<std::string> reply =
      client_.Call(kTaskServiceName, "State", std::string("\xff\xff\xff", 3), {}, kCallTimeoutMs);
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(reply.status().message(),
            "ttrpc call containerd.task.v2.Task/State: cannot decode the State request");
}

}  // namespace
}  // namespace reaper::shim
