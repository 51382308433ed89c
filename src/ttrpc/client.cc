#include "ttrpc/client.h"

#include <fcntl.h>
#include <signal.h>

#include <cerrno>

#include "ttrpc/request.pb.h"

namespace reaper::ttrpc {
namespace {

constexpr char kUnixScheme[] = "unix://";
constexpr size_t kReadChunkSize = 64 * 1024;
constexpr int64_t kNanosPerMilli = 1000 * 1000;

bool IsWouldBlock(const Status& status) {
  return status.error_number() == EAGAIN || status.error_number() == EWOULDBLOCK;
}

// Maps a ttrpc address to the socket path Kernel::Connect takes; see
// Client::Connect for the forms.
Result<std::string> SocketPathOf(const std::string& address) {
  if (address.rfind(kUnixScheme, 0) == 0) {
    std::string path = address.substr(sizeof(kUnixScheme) - 1);
    if (path.empty()) return Status(Code::kInvalidArgument, "address has no socket path");
    return path;
  }
  if (address.empty()) return Status(Code::kInvalidArgument, "address is empty");
  if (address[0] == '/') return address;
  if (address.find("://") != std::string::npos) {
    return Status(Code::kInvalidArgument, "address scheme is not supported, only unix:// is");
  }
  return std::string(1, '\0') + address;
}

int64_t ToNanos(sys::Timespec time) {
  return time.seconds * 1000 * kNanosPerMilli + time.nanos;
}

// Connection failures are Unavailable whatever the errno, which is how
// callers tell "retry after Connect()" from a failed call.
Status Broken(const Status& cause) {
  return Status(Code::kUnavailable, cause.message(), cause.error_number());
}

}  // namespace

Client::Client(sys::Kernel& kernel) : kernel_(kernel) {}

Client::~Client() { Close(); }

Status Client::Connect(const std::string& address) {
  std::lock_guard<std::mutex> lock(mutex_);
  CloseLocked();

  Status status = ConnectLocked(address);
  if (!status.ok()) {
    CloseLocked();
    return status.Annotate("connect to ttrpc server " + address);
  }
  return Status::Ok();
}

Status Client::ConnectLocked(const std::string& address) {
  Result<std::string> path = SocketPathOf(address);
  if (!path.ok()) return path.status();
  REAPER_RETURN_IF_ERROR(kernel_.SetSignalIgnored(SIGPIPE, true));

  Result<int> socket = kernel_.UnixSocket(sys::kSockStream | sys::kSockCloexec);
  if (!socket.ok()) return socket.status();
  socket_fd_ = *socket;
  // A blocking connect: a unix socket connects at once unless the server's
  // backlog is full. The socket becomes non-blocking afterwards, so that
  // calls can wait with a deadline.
  REAPER_RETURN_IF_ERROR(kernel_.Connect(socket_fd_, *path));
  Result<int> flags = kernel_.Fcntl(socket_fd_, F_GETFL, 0);
  if (!flags.ok()) return flags.status();
  Result<int> set = kernel_.Fcntl(socket_fd_, F_SETFL, *flags | O_NONBLOCK);
  if (!set.ok()) return set.status();

  Result<int> epoll = kernel_.EpollCreate();
  if (!epoll.ok()) return epoll.status();
  epoll_fd_ = *epoll;
  watched_events_ = 0;
  return kernel_.EpollCtl(epoll_fd_, sys::kEpollCtlAdd, socket_fd_, watched_events_, 0);
}

bool Client::connected() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return socket_fd_ >= 0;
}

void Client::Close() {
  std::lock_guard<std::mutex> lock(mutex_);
  CloseLocked();
}

void Client::CloseLocked() {
  if (epoll_fd_ >= 0) (void)kernel_.Close(epoll_fd_);
  if (socket_fd_ >= 0) (void)kernel_.Close(socket_fd_);
  epoll_fd_ = -1;
  socket_fd_ = -1;
  watched_events_ = 0;
  next_stream_id_ = 1;
  reader_ = FrameReader();
}

Result<std::string> Client::Call(const std::string& service, const std::string& method,
                                 const std::string& payload,
                                 const std::vector<std::pair<std::string, std::string>>& metadata,
                                 int timeout_ms) {
  std::string call_name = "ttrpc call " + service + "/" + method;
  std::lock_guard<std::mutex> lock(mutex_);
  if (socket_fd_ < 0) return Status(Code::kUnavailable, call_name + ": not connected");

  ::ttrpc::Request request;
  request.set_service(service);
  request.set_method(method);
  request.set_payload(payload);
  if (timeout_ms > 0) request.set_timeout_nano(timeout_ms * kNanosPerMilli);
  for (const auto& [key, value] : metadata) {
    ::ttrpc::KeyValue* entry = request.add_metadata();
    entry->set_key(key);
    entry->set_value(value);
  }
  std::string data = request.SerializeAsString();
  if (data.size() > kMaxDataSize) {
    return Status(Code::kResourceExhausted, call_name + ": request of " +
                                                std::to_string(data.size()) +
                                                " bytes exceeds the limit of " +
                                                std::to_string(kMaxDataSize) + " bytes");
  }

  uint32_t stream_id = next_stream_id_;
  next_stream_id_ += 2;  // stays odd when it wraps around
  int64_t deadline_ns = -1;
  if (timeout_ms > 0) deadline_ns = ToNanos(kernel_.MonotonicNow()) + timeout_ms * kNanosPerMilli;

  Status sent = SendLocked(EncodeFrame(stream_id, FrameType::kRequest, 0, data), deadline_ns);
  Result<std::string> response =
      sent.ok() ? ReceiveLocked(stream_id, deadline_ns) : Result<std::string>(sent);
  if (!response.ok() && response.status().code() == Code::kDeadlineExceeded) {
    return Status(Code::kDeadlineExceeded,
                  call_name + ": no response within " + std::to_string(timeout_ms) + " ms");
  }
  if (!response.ok()) return response.status().Annotate(call_name);
  return response;
}

Status Client::SendLocked(const std::string& frame, int64_t deadline_ns) {
  size_t written = 0;
  while (written < frame.size()) {
    Result<size_t> write = kernel_.Write(socket_fd_, frame.data() + written, frame.size() - written);
    if (write.ok()) {
      written += *write;
      continue;
    }
    if (!IsWouldBlock(write.status())) {
      CloseLocked();
      return Broken(write.status().Annotate("send request"));
    }
    Status ready = WaitReadyLocked(sys::kEpollOut, deadline_ns);
    if (!ready.ok()) {
      // Part of a frame on the wire leaves the stream undecodable for the
      // server, so the connection cannot carry another call.
      if (written > 0) CloseLocked();
      return ready;
    }
  }
  return Status::Ok();
}

Result<std::string> Client::ReceiveLocked(uint32_t stream_id, int64_t deadline_ns) {
  char buffer[kReadChunkSize];
  while (true) {
    FrameHeader header;
    std::string data;
    FrameReader::Outcome outcome = reader_.Next(&header, &data);
    bool ours = header.stream_id == stream_id &&
                header.type == static_cast<uint8_t>(FrameType::kResponse);
    // Frames of other streams are responses to calls that timed out.
    if (outcome == FrameReader::Outcome::kOversize && ours) {
      return Status(Code::kResourceExhausted, "response of " + std::to_string(header.length) +
                                                  " bytes exceeds the limit of " +
                                                  std::to_string(kMaxDataSize) + " bytes");
    }
    if (outcome == FrameReader::Outcome::kFrame && ours) return DecodeResponse(data);
    if (outcome != FrameReader::Outcome::kNeedMore) continue;

    Result<size_t> read = kernel_.Read(socket_fd_, buffer, sizeof(buffer));
    if (read.ok() && *read == 0) {
      CloseLocked();
      return Status(Code::kUnavailable, "server closed the connection");
    }
    if (read.ok()) {
      reader_.Append(buffer, *read);
      continue;
    }
    if (!IsWouldBlock(read.status())) {
      CloseLocked();
      return Broken(read.status().Annotate("receive response"));
    }
    REAPER_RETURN_IF_ERROR(WaitReadyLocked(sys::kEpollIn, deadline_ns));
  }
}

Result<std::string> Client::DecodeResponse(const std::string& data) {
  ::ttrpc::Response response;
  if (!response.ParseFromString(data)) {
    return Status(Code::kInternal, "response is not a valid ttrpc.Response message");
  }
  // A missing status and code 0 both mean success.
  if (response.has_status() && response.status().code() != 0) {
    return Status(static_cast<Code>(response.status().code()), response.status().message());
  }
  return std::move(*response.mutable_payload());
}

Status Client::WaitReadyLocked(uint32_t events, int64_t deadline_ns) {
  if (events != watched_events_) {
    Status modified = kernel_.EpollCtl(epoll_fd_, sys::kEpollCtlMod, socket_fd_, events, 0);
    if (!modified.ok()) {
      CloseLocked();
      return Broken(modified);
    }
    watched_events_ = events;
  }

  while (true) {
    int timeout_ms = -1;
    if (deadline_ns >= 0) {
      int64_t left_ns = deadline_ns - ToNanos(kernel_.MonotonicNow());
      if (left_ns <= 0) return Status(Code::kDeadlineExceeded, "deadline passed");
      // Rounded up, so that the wait never ends just before the deadline.
      timeout_ms = static_cast<int>((left_ns + kNanosPerMilli - 1) / kNanosPerMilli);
    }
    Result<std::vector<sys::EpollEvent>> ready = kernel_.EpollWait(epoll_fd_, 1, timeout_ms);
    if (!ready.ok()) {
      CloseLocked();
      return Broken(ready.status());
    }
    // EPOLLHUP and EPOLLERR also end the wait: the next read or write
    // reports them.
    if (!ready->empty()) return Status::Ok();
  }
}

}  // namespace reaper::ttrpc
