// ttrpc::Server and ttrpc::Client over real unix sockets in a temporary
// directory. Rootless: the server's loop runs on a thread of the test.
#include "ttrpc/server.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/event_loop.h"
#include "common/log.h"
#include "sys/linux_kernel.h"
#include "ttrpc/client.h"
#include "ttrpc/frame.h"
#include "ttrpc/request.pb.h"

namespace reaper::ttrpc {
namespace {

constexpr auto kTestTimeout = std::chrono::seconds(10);
constexpr int kTestTimeoutMs = 10000;

// The Linux kernel, except that it can claim another effective uid so that
// every peer looks like a foreign user.
class TestKernel : public sys::LinuxKernel {
 public:
  uid_t GetEffectiveUid() override {
    uid_t real = sys::LinuxKernel::GetEffectiveUid();
    return claim_other_uid ? real + 1 : real;
  }

  std::atomic<bool> claim_other_uid{false};
};

std::string RequestFrame(uint32_t stream_id, const std::string& service,
                         const std::string& method, const std::string& payload) {
  ::ttrpc::Request request;
  request.set_service(service);
  request.set_method(method);
  request.set_payload(payload);
  return EncodeFrame(stream_id, FrameType::kRequest, 0, request.SerializeAsString());
}

// A client socket driven byte by byte, for what ttrpc::Client never sends.
// Writes block; reads wait at most kTestTimeout.
class RawConnection {
 public:
  explicit RawConnection(sys::Kernel& kernel) : kernel_(kernel) {}
  ~RawConnection() { Close(); }

  void Connect(const std::string& path) {
    Result<int> socket = kernel_.UnixSocket(sys::kSockStream | sys::kSockCloexec);
    ASSERT_TRUE(socket.ok()) << socket.status().ToString();
    socket_fd_ = *socket;
    Status connected = kernel_.Connect(socket_fd_, path);
    ASSERT_TRUE(connected.ok()) << connected.ToString();
    Result<int> epoll = kernel_.EpollCreate();
    ASSERT_TRUE(epoll.ok()) << epoll.status().ToString();
    epoll_fd_ = *epoll;
    Status watched = kernel_.EpollCtl(epoll_fd_, sys::kEpollCtlAdd, socket_fd_, sys::kEpollIn, 0);
    ASSERT_TRUE(watched.ok()) << watched.ToString();
  }

  void Send(const std::string& bytes) {
    size_t written = 0;
    while (written < bytes.size()) {
      Result<size_t> write = kernel_.Write(socket_fd_, bytes.data() + written, bytes.size() - written);
      ASSERT_TRUE(write.ok()) << write.status().ToString();
      written += *write;
    }
  }

  // Returns false when no frame arrives in time or the server closed the
  // connection.
  bool ReadFrame(FrameHeader* header, std::string* data) {
    while (reader_.Next(header, data) != FrameReader::Outcome::kFrame) {
      Result<std::vector<sys::EpollEvent>> ready = kernel_.EpollWait(epoll_fd_, 1, kTestTimeoutMs);
      if (!ready.ok() || ready->empty()) return false;
      char buffer[4096];
      Result<size_t> read = kernel_.Read(socket_fd_, buffer, sizeof(buffer));
      if (!read.ok() || *read == 0) return false;
      reader_.Append(buffer, *read);
    }
    return true;
  }

  // Reads a response frame and decodes it, failing the test otherwise.
  ::ttrpc::Response ReadResponse(uint32_t* stream_id, size_t* data_size = nullptr) {
    FrameHeader header;
    std::string data;
    ::ttrpc::Response response;
    if (!ReadFrame(&header, &data)) {
      ADD_FAILURE() << "no response frame";
      return response;
    }
    EXPECT_EQ(header.type, static_cast<uint8_t>(FrameType::kResponse));
    EXPECT_EQ(header.flags, 0);
    EXPECT_TRUE(response.ParseFromString(data));
    *stream_id = header.stream_id;
    if (data_size != nullptr) *data_size = data.size();
    return response;
  }

  void Close() {
    if (epoll_fd_ >= 0) (void)kernel_.Close(epoll_fd_);
    if (socket_fd_ >= 0) (void)kernel_.Close(socket_fd_);
    epoll_fd_ = -1;
    socket_fd_ = -1;
  }

 private:
  sys::Kernel& kernel_;
  int socket_fd_ = -1;
  int epoll_fd_ = -1;
  FrameReader reader_;
};

class TtrpcServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char directory[] = "/tmp/reaper-ttrpc-test-XXXXXX";
    ASSERT_NE(mkdtemp(directory), nullptr);
    directory_ = directory;
    socket_path_ = directory_ + "/ttrpc.sock";

    ASSERT_TRUE(loop_.Init().ok());
    RegisterHandlers();
    Result<int> listener = Listen(socket_path_);
    ASSERT_TRUE(listener.ok()) << listener.status().ToString();
    Status served = server_.Serve(*listener);
    ASSERT_TRUE(served.ok()) << served.ToString();
    loop_thread_ = std::thread([this] { run_status_ = loop_.Run(); });
  }

  void TearDown() override {
    if (loop_thread_.joinable()) {
      loop_.Post([this] {
        server_.Close();
        loop_.Stop();
      });
      loop_thread_.join();
      EXPECT_TRUE(run_status_.ok()) << run_status_.ToString();
    }
    (void)kernel_.Unlink(socket_path_);
    (void)kernel_.Rmdir(directory_);
  }

  Result<int> Listen(const std::string& path) {
    Result<int> socket = kernel_.UnixSocket(sys::kSockStream | sys::kSockCloexec);
    if (!socket.ok()) return socket;
    Status bound = kernel_.Bind(*socket, path);
    if (bound.ok()) bound = kernel_.Listen(*socket, 16);
    if (!bound.ok()) {
      (void)kernel_.Close(*socket);
      return bound;
    }
    return socket;
  }

  void RegisterHandlers() {
    server_.Register("test.Echo", "Echo",
                     [](const CallContext&, const std::string& payload, Responder respond) {
                       respond(Status::Ok(), payload);
                     });
    server_.Register("test.Echo", "Context",
                     [this](const CallContext& context, const std::string&, Responder respond) {
                       {
                         std::lock_guard<std::mutex> lock(mutex_);
                         last_context_ = context;
                       }
                       respond(Status::Ok(), "");
                     });
    server_.Register("test.Fail", "Fail",
                     [](const CallContext&, const std::string&, Responder respond) {
                       respond(Status(Code::kNotFound, "container t1 not found"), "ignored");
                     });
    server_.Register("test.Hold", "Hold",
                     [this](const CallContext&, const std::string& payload, Responder respond) {
                       std::lock_guard<std::mutex> lock(mutex_);
                       held_.push_back({payload, std::move(respond)});
                       held_changed_.notify_all();
                     });
  }

  // Waits until `count` Hold calls arrived; returns false on timeout.
  bool WaitForHeld(size_t count) {
    std::unique_lock<std::mutex> lock(mutex_);
    return held_changed_.wait_for(lock, kTestTimeout, [&] { return held_.size() >= count; });
  }

  Responder HeldResponder(size_t index) {
    std::lock_guard<std::mutex> lock(mutex_);
    return held_.at(index).second;
  }

  // Runs `task` on the loop thread and waits for it.
  void RunOnLoop(std::function<void()> task) {
    std::promise<void> done;
    loop_.Post([&] {
      task();
      done.set_value();
    });
    ASSERT_EQ(done.get_future().wait_for(kTestTimeout), std::future_status::ready);
  }

  // Waits until the server has `count` connections. The server notices a
  // closed peer asynchronously, so the test checks repeatedly.
  bool WaitForConnectionCount(size_t count) {
    auto deadline = std::chrono::steady_clock::now() + kTestTimeout;
    while (server_.connection_count() != count) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
  }

  TestKernel kernel_;
  Logger logger_{kernel_};
  EventLoop loop_{kernel_};
  Server server_{kernel_, loop_, logger_};
  std::thread loop_thread_;
  Status run_status_;
  std::string directory_;
  std::string socket_path_;

  std::mutex mutex_;
  std::condition_variable held_changed_;
  std::vector<std::pair<std::string, Responder>> held_;
  CallContext last_context_;
};

TEST_F(TtrpcServerTest, UnaryCallReturnsPayload) {
  Client client(kernel_);
  ASSERT_TRUE(client.Connect("unix://" + socket_path_).ok());

  Result<std::string> reply = client.Call("test.Echo", "Echo", "ping", {}, kTestTimeoutMs);

  ASSERT_TRUE(reply.ok()) << reply.status().ToString();
  EXPECT_EQ(*reply, "ping");
}

TEST_F(TtrpcServerTest, HandlerReceivesCallContext) {
  Client client(kernel_);
  ASSERT_TRUE(client.Connect(socket_path_).ok());
  ASSERT_TRUE(client.Call("test.Echo", "Echo", "", {}, 0).ok());

  Result<std::string> reply = client.Call(
      "test.Echo", "Context", "", {{"containerd-namespace-ttrpc", "k8s.io"}, {"k", "v"}}, 2500);

  ASSERT_TRUE(reply.ok()) << reply.status().ToString();
  std::lock_guard<std::mutex> lock(mutex_);
  EXPECT_EQ(last_context_.service, "test.Echo");
  EXPECT_EQ(last_context_.method, "Context");
  EXPECT_EQ(last_context_.stream_id, 3u);
  EXPECT_EQ(last_context_.timeout_nano, 2500LL * 1000 * 1000);
  EXPECT_EQ(last_context_.metadata,
            (std::vector<std::pair<std::string, std::string>>{
                {"containerd-namespace-ttrpc", "k8s.io"}, {"k", "v"}}));
  EXPECT_EQ(last_context_.connection_id, 1u);
}

TEST_F(TtrpcServerTest, SuccessResponseHasNoStatusField) {
  RawConnection raw(kernel_);
  raw.Connect(socket_path_);

  raw.Send(RequestFrame(1, "test.Echo", "Echo", ""));
  uint32_t stream_id = 0;
  size_t data_size = 1;
  ::ttrpc::Response response = raw.ReadResponse(&stream_id, &data_size);

  EXPECT_EQ(stream_id, 1u);
  EXPECT_EQ(data_size, 0u);
  EXPECT_FALSE(response.has_status());
}

TEST_F(TtrpcServerTest, HandlerErrorBecomesStatusOnly) {
  RawConnection raw(kernel_);
  raw.Connect(socket_path_);

  raw.Send(RequestFrame(1, "test.Fail", "Fail", ""));
  uint32_t stream_id = 0;
  ::ttrpc::Response response = raw.ReadResponse(&stream_id);

  EXPECT_EQ(stream_id, 1u);
  EXPECT_EQ(response.status().code(), static_cast<int>(Code::kNotFound));
  EXPECT_EQ(response.status().message(), "container t1 not found");
  EXPECT_EQ(response.payload(), "");
}

TEST_F(TtrpcServerTest, ClientReturnsHandlerError) {
  Client client(kernel_);
  ASSERT_TRUE(client.Connect(socket_path_).ok());

  Result<std::string> reply = client.Call("test.Fail", "Fail", "", {}, kTestTimeoutMs);

  EXPECT_EQ(reply.status().code(), Code::kNotFound);
  EXPECT_EQ(reply.status().message(), "ttrpc call test.Fail/Fail: container t1 not found");
}

TEST_F(TtrpcServerTest, HeldResponderDoesNotBlockLaterCalls) {
  RawConnection raw(kernel_);
  raw.Connect(socket_path_);

  raw.Send(RequestFrame(1, "test.Hold", "Hold", "wait") + RequestFrame(3, "test.Echo", "Echo", "state"));
  uint32_t first_stream = 0;
  ::ttrpc::Response first = raw.ReadResponse(&first_stream);
  ASSERT_TRUE(WaitForHeld(1));
  Responder wait_responder = HeldResponder(0);
  loop_.Post([wait_responder] { wait_responder(Status::Ok(), "exited"); });
  uint32_t second_stream = 0;
  ::ttrpc::Response second = raw.ReadResponse(&second_stream);

  EXPECT_EQ(first_stream, 3u);
  EXPECT_EQ(first.payload(), "state");
  EXPECT_EQ(second_stream, 1u);
  EXPECT_EQ(second.payload(), "exited");
}

TEST_F(TtrpcServerTest, ResponderWorksFromAnotherThread) {
  Client client(kernel_);
  ASSERT_TRUE(client.Connect(socket_path_).ok());
  std::thread answerer([this] {
    ASSERT_TRUE(WaitForHeld(1));
    HeldResponder(0)(Status::Ok(), "from another thread");
  });

  Result<std::string> reply = client.Call("test.Hold", "Hold", "", {}, kTestTimeoutMs);
  answerer.join();

  ASSERT_TRUE(reply.ok()) << reply.status().ToString();
  EXPECT_EQ(*reply, "from another thread");
}

TEST_F(TtrpcServerTest, SecondAnswerOfSameCallIsIgnored) {
  RawConnection raw(kernel_);
  raw.Connect(socket_path_);
  raw.Send(RequestFrame(1, "test.Hold", "Hold", ""));
  ASSERT_TRUE(WaitForHeld(1));
  Responder responder = HeldResponder(0);

  RunOnLoop([responder] {
    responder(Status::Ok(), "first");
    responder(Status::Ok(), "second");
  });
  raw.Send(RequestFrame(3, "test.Echo", "Echo", "next"));
  uint32_t first_stream = 0;
  ::ttrpc::Response first = raw.ReadResponse(&first_stream);
  uint32_t next_stream = 0;
  ::ttrpc::Response next = raw.ReadResponse(&next_stream);

  EXPECT_EQ(first_stream, 1u);
  EXPECT_EQ(first.payload(), "first");
  EXPECT_EQ(next_stream, 3u);
  EXPECT_EQ(next.payload(), "next");
}

TEST_F(TtrpcServerTest, UnknownServiceReturnsUnimplemented) {
  Client client(kernel_);
  ASSERT_TRUE(client.Connect(socket_path_).ok());

  Result<std::string> reply = client.Call("test.Missing", "Echo", "", {}, kTestTimeoutMs);

  EXPECT_EQ(reply.status().code(), Code::kUnimplemented);
  EXPECT_EQ(static_cast<int>(reply.status().code()), 12);
  EXPECT_EQ(reply.status().message(), "ttrpc call test.Missing/Echo: unknown service test.Missing");
}

TEST_F(TtrpcServerTest, UnknownMethodReturnsUnimplemented) {
  Client client(kernel_);
  ASSERT_TRUE(client.Connect(socket_path_).ok());

  Result<std::string> reply = client.Call("test.Echo", "Shout", "", {}, kTestTimeoutMs);

  EXPECT_EQ(reply.status().code(), Code::kUnimplemented);
  EXPECT_EQ(reply.status().message(),
            "ttrpc call test.Echo/Shout: unknown method Shout of service test.Echo");
}

TEST_F(TtrpcServerTest, ClientCloseWithPendingCallKeepsServing) {
  {
    RawConnection raw(kernel_);
    raw.Connect(socket_path_);
    raw.Send(RequestFrame(1, "test.Hold", "Hold", ""));
    ASSERT_TRUE(WaitForHeld(1));
    ASSERT_EQ(server_.connection_count(), 1u);
  }
  ASSERT_TRUE(WaitForConnectionCount(0));

  // The held responder belongs to a closed connection, so it does nothing.
  Responder orphan = HeldResponder(0);
  RunOnLoop([orphan] { orphan(Status::Ok(), "too late"); });
  Client client(kernel_);
  ASSERT_TRUE(client.Connect(socket_path_).ok());
  Result<std::string> reply = client.Call("test.Echo", "Echo", "still here", {}, kTestTimeoutMs);

  ASSERT_TRUE(reply.ok()) << reply.status().ToString();
  EXPECT_EQ(*reply, "still here");
  EXPECT_EQ(server_.connection_count(), 1u);
}

TEST_F(TtrpcServerTest, OversizeRequestGetsResourceExhausted) {
  RawConnection raw(kernel_);
  raw.Connect(socket_path_);
  std::string oversize = RequestFrame(1, "test.Echo", "Echo", std::string(kMaxDataSize, 'x'));

  raw.Send(oversize + RequestFrame(3, "test.Echo", "Echo", "small"));
  uint32_t first_stream = 0;
  ::ttrpc::Response first = raw.ReadResponse(&first_stream);
  uint32_t second_stream = 0;
  ::ttrpc::Response second = raw.ReadResponse(&second_stream);

  EXPECT_EQ(first_stream, 1u);
  EXPECT_EQ(first.status().code(), static_cast<int>(Code::kResourceExhausted));
  EXPECT_EQ(first.status().message(), "frame of " + std::to_string(oversize.size() - kHeaderSize) +
                                          " bytes exceeds the limit of 4194304 bytes");
  EXPECT_EQ(second_stream, 3u);
  EXPECT_EQ(second.payload(), "small");
}

TEST_F(TtrpcServerTest, EvenStreamIdReturnsInvalidArgument) {
  RawConnection raw(kernel_);
  raw.Connect(socket_path_);

  raw.Send(RequestFrame(2, "test.Echo", "Echo", "x"));
  uint32_t stream_id = 0;
  ::ttrpc::Response response = raw.ReadResponse(&stream_id);

  EXPECT_EQ(stream_id, 2u);
  EXPECT_EQ(response.status().code(), static_cast<int>(Code::kInvalidArgument));
  EXPECT_EQ(response.status().message(), "stream id 2 is even, but a client's streams have odd ids");
}

TEST_F(TtrpcServerTest, UndecodableRequestReturnsInvalidArgument) {
  RawConnection raw(kernel_);
  raw.Connect(socket_path_);

  // Field 1 claims 0x7f bytes but only one follows.
  raw.Send(EncodeFrame(5, FrameType::kRequest, 0, std::string("\x0a\x7f\x01", 3)));
  uint32_t stream_id = 0;
  ::ttrpc::Response response = raw.ReadResponse(&stream_id);

  EXPECT_EQ(stream_id, 5u);
  EXPECT_EQ(response.status().code(), static_cast<int>(Code::kInvalidArgument));
  EXPECT_EQ(response.status().message(), "request on stream 5 is not a valid ttrpc.Request message");
}

TEST_F(TtrpcServerTest, DataAndUnknownFramesAreIgnored) {
  RawConnection raw(kernel_);
  raw.Connect(socket_path_);

  raw.Send(EncodeFrame(1, FrameType::kData, 0x01, "chunk") +
           EncodeFrame(3, static_cast<FrameType>(0x7f), 0, "unknown") +
           RequestFrame(5, "test.Echo", "Echo", "after"));
  uint32_t stream_id = 0;
  ::ttrpc::Response response = raw.ReadResponse(&stream_id);

  EXPECT_EQ(stream_id, 5u);
  EXPECT_EQ(response.payload(), "after");
}

TEST_F(TtrpcServerTest, CallTimesOutWhenHandlerNeverAnswers) {
  Client client(kernel_);
  ASSERT_TRUE(client.Connect(socket_path_).ok());

  Result<std::string> reply = client.Call("test.Hold", "Hold", "", {}, 50);

  EXPECT_EQ(reply.status().code(), Code::kDeadlineExceeded);
  EXPECT_EQ(reply.status().message(), "ttrpc call test.Hold/Hold: no response within 50 ms");
  EXPECT_TRUE(client.connected());
}

TEST_F(TtrpcServerTest, LateResponseOfTimedOutCallIsSkipped) {
  Client client(kernel_);
  ASSERT_TRUE(client.Connect(socket_path_).ok());
  ASSERT_EQ(client.Call("test.Hold", "Hold", "", {}, 20).status().code(),
            Code::kDeadlineExceeded);
  ASSERT_TRUE(WaitForHeld(1));

  Responder late = HeldResponder(0);
  RunOnLoop([late] { late(Status::Ok(), "late"); });
  Result<std::string> reply = client.Call("test.Echo", "Echo", "fresh", {}, kTestTimeoutMs);

  ASSERT_TRUE(reply.ok()) << reply.status().ToString();
  EXPECT_EQ(*reply, "fresh");
}

TEST_F(TtrpcServerTest, PeerOfAnotherUserIsRejected) {
  kernel_.claim_other_uid = true;
  Client client(kernel_);
  ASSERT_TRUE(client.Connect(socket_path_).ok());

  Result<std::string> reply = client.Call("test.Echo", "Echo", "", {}, kTestTimeoutMs);

  // Depending on timing, the request write fails with EPIPE or the read
  // returns end of file. Both mean a broken connection.
  EXPECT_EQ(reply.status().code(), Code::kUnavailable);
  EXPECT_EQ(reply.status().message().rfind("ttrpc call test.Echo/Echo: ", 0), 0u)
      << reply.status().message();
  EXPECT_FALSE(client.connected());
  EXPECT_EQ(server_.connection_count(), 0u);
}

TEST_F(TtrpcServerTest, ServerCloseDropsConnections) {
  Client client(kernel_);
  ASSERT_TRUE(client.Connect(socket_path_).ok());
  ASSERT_TRUE(client.Call("test.Echo", "Echo", "", {}, kTestTimeoutMs).ok());

  RunOnLoop([this] { server_.Close(); });
  Result<std::string> reply = client.Call("test.Echo", "Echo", "", {}, kTestTimeoutMs);

  EXPECT_EQ(server_.connection_count(), 0u);
  EXPECT_EQ(reply.status().code(), Code::kUnavailable);
  EXPECT_FALSE(client.connected());
}

TEST_F(TtrpcServerTest, ClientConnectsToAbstractAddress) {
  std::string name = "reaper-ttrpc-test-" + std::to_string(getpid());
  Result<int> listener = Listen(std::string(1, '\0') + name);
  ASSERT_TRUE(listener.ok()) << listener.status().ToString();
  EventLoop loop(kernel_);
  ASSERT_TRUE(loop.Init().ok());
  Server server(kernel_, loop, logger_);
  server.Register("test.Echo", "Echo",
                  [](const CallContext&, const std::string& payload, Responder respond) {
                    respond(Status::Ok(), payload);
                  });
  ASSERT_TRUE(server.Serve(*listener).ok());
  std::thread thread([&] { (void)loop.Run(); });

  Client client(kernel_);
  Status connected = client.Connect(name);
  Result<std::string> reply = client.Call("test.Echo", "Echo", "abstract", {}, kTestTimeoutMs);
  loop.Post([&] {
    server.Close();
    loop.Stop();
  });
  thread.join();

  ASSERT_TRUE(connected.ok()) << connected.ToString();
  ASSERT_TRUE(reply.ok()) << reply.status().ToString();
  EXPECT_EQ(*reply, "abstract");
}

TEST(TtrpcClientTest, CallWithoutConnectionIsUnavailable) {
  sys::LinuxKernel kernel;
  Client client(kernel);

  Result<std::string> reply = client.Call("s", "m", "", {}, 10);

  EXPECT_EQ(reply.status().code(), Code::kUnavailable);
  EXPECT_EQ(reply.status().message(), "ttrpc call s/m: not connected");
}

TEST(TtrpcClientTest, UnsupportedSchemeIsRejected) {
  sys::LinuxKernel kernel;
  Client client(kernel);

  Status connected = client.Connect("tcp://127.0.0.1:1");

  EXPECT_EQ(connected.code(), Code::kInvalidArgument);
  EXPECT_EQ(connected.message(),
            "connect to ttrpc server tcp://127.0.0.1:1: address scheme is not supported, only "
            "unix:// is");
  EXPECT_FALSE(client.connected());
}

TEST(TtrpcClientTest, MissingSocketFailsToConnect) {
  sys::LinuxKernel kernel;
  Client client(kernel);

  Status connected = client.Connect("unix:///nonexistent/reaper-ttrpc.sock");

  EXPECT_EQ(connected.code(), Code::kNotFound);
  EXPECT_EQ(connected.error_number(), ENOENT);
  EXPECT_FALSE(client.connected());
}

}  // namespace
}  // namespace reaper::ttrpc
