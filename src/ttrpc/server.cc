#include "ttrpc/server.h"

#include <fcntl.h>
#include <signal.h>

#include <cerrno>
#include <string>
#include <utility>

#include "ttrpc/request.pb.h"

namespace reaper::ttrpc {
namespace {

constexpr size_t kReadChunkSize = 64 * 1024;
// Reads per readiness event. Epoll is level-triggered, so a connection with
// more input is served again after the others had their turn.
constexpr int kMaxReadsPerEvent = 16;

bool IsWouldBlock(const Status& status) {
  return status.error_number() == EAGAIN || status.error_number() == EWOULDBLOCK;
}

// Errors that mean the peer went away, which is routine for short-lived
// clients such as ctr.
bool IsPeerGone(const Status& status) {
  return status.error_number() == EPIPE || status.error_number() == ECONNRESET;
}

std::string Bytes(size_t size) { return std::to_string(size) + " bytes"; }

}  // namespace

struct Server::Connection {
  uint64_t id = 0;
  int fd = -1;
  FrameReader reader;
  std::string output;  // encoded response frames not yet written
  bool watching_writable = false;
  bool closed = false;
};

Server::Server(sys::Kernel& kernel, EventLoop& loop, Logger& logger)
    : kernel_(kernel), loop_(loop), logger_(logger) {}

Server::~Server() { Close(); }

void Server::Register(const std::string& service, const std::string& method, Handler handler) {
  handlers_[service][method] = std::move(handler);
}

Status Server::Serve(int listen_fd) {
  if (listen_fd_ >= 0) {
    (void)kernel_.Close(listen_fd);
    return Status(Code::kFailedPrecondition, "ttrpc server: already serving");
  }
  Status status = [&]() -> Status {
    Result<int> flags = kernel_.Fcntl(listen_fd, F_GETFL, 0);
    if (!flags.ok()) return flags.status();
    Result<int> set = kernel_.Fcntl(listen_fd, F_SETFL, *flags | O_NONBLOCK);
    if (!set.ok()) return set.status();
    Result<int> cloexec = kernel_.Fcntl(listen_fd, F_SETFD, FD_CLOEXEC);
    if (!cloexec.ok()) return cloexec.status();
    REAPER_RETURN_IF_ERROR(kernel_.SetSignalIgnored(SIGPIPE, true));
    return loop_.Add(listen_fd, sys::kEpollIn, [this](uint32_t) { AcceptConnections(); });
  }();
  if (!status.ok()) {
    (void)kernel_.Close(listen_fd);
    return status.Annotate("ttrpc server: serve on fd " + std::to_string(listen_fd));
  }
  listen_fd_ = listen_fd;
  return Status::Ok();
}

void Server::Close() {
  if (listen_fd_ >= 0) {
    loop_.Remove(listen_fd_);
    (void)kernel_.Close(listen_fd_);
    listen_fd_ = -1;
  }
  // CloseConnection erases from connections_, so iterate over a copy.
  std::map<uint64_t, std::shared_ptr<Connection>> connections = connections_;
  for (auto& [id, connection] : connections) CloseConnection(connection, Status::Ok());
}

void Server::AcceptConnections() {
  while (listen_fd_ >= 0) {
    Result<int> accepted = kernel_.Accept(listen_fd_, sys::kSockNonblock | sys::kSockCloexec);
    if (!accepted.ok()) {
      if (IsWouldBlock(accepted.status())) return;
      // The peer gave up before the accept; the next one may be fine.
      if (accepted.status().error_number() == ECONNABORTED) continue;
      // NOTE: with EMFILE or ENFILE the pending connection stays in the
      // backlog and epoll reports it again at once, so this line repeats
      // until an fd is freed.
      logger_.Error("ttrpc server: accept failed", {{"error", accepted.status().message()}});
      return;
    }

    uint64_t id = next_connection_id_++;
    if (!PeerAllowed(*accepted, id)) {
      (void)kernel_.Close(*accepted);
      continue;
    }
    auto connection = std::make_shared<Connection>();
    connection->id = id;
    connection->fd = *accepted;
    std::weak_ptr<Connection> weak = connection;
    Status added = loop_.Add(connection->fd, sys::kEpollIn, [this, weak](uint32_t events) {
      if (std::shared_ptr<Connection> alive = weak.lock()) OnConnectionEvent(alive, events);
    });
    if (!added.ok()) {
      logger_.Error("ttrpc server: watch new connection failed",
                    {{"connection", std::to_string(id)}, {"error", added.message()}});
      (void)kernel_.Close(connection->fd);
      continue;
    }
    connections_[id] = connection;
    connection_count_ = connections_.size();
    logger_.Debug("ttrpc connection accepted", {{"connection", std::to_string(id)}});
  }
}

bool Server::PeerAllowed(int fd, uint64_t connection_id) {
  Result<sys::PeerCredentials> peer = kernel_.PeerCredentialsOf(fd);
  if (!peer.ok()) {
    logger_.Warning("ttrpc server: rejected a connection whose peer credentials are unreadable",
                    {{"connection", std::to_string(connection_id)},
                     {"error", peer.status().message()}});
    return false;
  }
  uid_t own_uid = kernel_.GetEffectiveUid();
  if (peer->uid != own_uid) {
    logger_.Warning("ttrpc server: rejected a connection from another user",
                    {{"connection", std::to_string(connection_id)},
                     {"peer_uid", std::to_string(peer->uid)},
                     {"peer_pid", std::to_string(peer->pid)},
                     {"server_uid", std::to_string(own_uid)}});
    return false;
  }
  return true;
}

void Server::OnConnectionEvent(const std::shared_ptr<Connection>& connection, uint32_t events) {
  if (events & (sys::kEpollIn | sys::kEpollHup | sys::kEpollErr)) ReadFrom(connection);
  if (connection->closed) return;
  if (events & sys::kEpollOut) Flush(connection);
}

void Server::ReadFrom(const std::shared_ptr<Connection>& connection) {
  char buffer[kReadChunkSize];
  for (int i = 0; i < kMaxReadsPerEvent; ++i) {
    Result<size_t> read = kernel_.Read(connection->fd, buffer, sizeof(buffer));
    if (!read.ok()) {
      if (!IsWouldBlock(read.status())) CloseConnection(connection, read.status());
      return;
    }
    if (*read == 0) {
      CloseConnection(connection, Status::Ok());
      return;
    }

    connection->reader.Append(buffer, *read);
    FrameHeader header;
    std::string data;
    while (true) {
      FrameReader::Outcome outcome = connection->reader.Next(&header, &data);
      if (outcome == FrameReader::Outcome::kNeedMore) break;
      if (outcome == FrameReader::Outcome::kOversize) {
        HandleOversizeFrame(connection, header);
      } else {
        HandleFrame(connection, header, data);
      }
      // A response written from a handler can find the peer gone.
      if (connection->closed) return;
    }
    if (*read < sizeof(buffer)) return;
  }
}

void Server::HandleOversizeFrame(const std::shared_ptr<Connection>& connection,
                                 const FrameHeader& header) {
  std::string message = "frame of " + Bytes(header.length) + " exceeds the limit of " +
                        Bytes(kMaxDataSize);
  logger_.Warning("ttrpc server: discarded an oversize frame",
                  {{"connection", std::to_string(connection->id)},
                   {"stream", std::to_string(header.stream_id)},
                   {"length", std::to_string(header.length)}});
  if (header.type == static_cast<uint8_t>(FrameType::kRequest)) {
    Respond(connection, header.stream_id, Status(Code::kResourceExhausted, message), "");
  }
}

void Server::HandleFrame(const std::shared_ptr<Connection>& connection, const FrameHeader& header,
                         const std::string& data) {
  switch (static_cast<FrameType>(header.type)) {
    case FrameType::kRequest:
      HandleRequest(connection, header.stream_id, data);
      return;
    case FrameType::kData:
      // Data frames belong to streaming calls, which this server does not
      // serve; containerd sends only unary calls to a task shim.
      logger_.Debug("ttrpc server: ignored a data frame on a unary stream",
                    {{"connection", std::to_string(connection->id)},
                     {"stream", std::to_string(header.stream_id)}});
      return;
    case FrameType::kResponse:
      break;
  }
  logger_.Debug("ttrpc server: ignored a frame of unexpected type",
                {{"connection", std::to_string(connection->id)},
                 {"stream", std::to_string(header.stream_id)},
                 {"type", std::to_string(header.type)}});
}

void Server::HandleRequest(const std::shared_ptr<Connection>& connection, uint32_t stream_id,
                           const std::string& data) {
  std::string connection_id = std::to_string(connection->id);
  if (stream_id % 2 == 0) {
    logger_.Warning("ttrpc server: rejected a request on an even stream id",
                    {{"connection", connection_id}, {"stream", std::to_string(stream_id)}});
    Respond(connection, stream_id,
            Status(Code::kInvalidArgument, "stream id " + std::to_string(stream_id) +
                                               " is even, but a client's streams have odd ids"),
            "");
    return;
  }
  ::ttrpc::Request request;
  if (!request.ParseFromString(data)) {
    logger_.Warning("ttrpc server: rejected an undecodable request",
                    {{"connection", connection_id}, {"stream", std::to_string(stream_id)}});
    Respond(connection, stream_id,
            Status(Code::kInvalidArgument, "request on stream " + std::to_string(stream_id) +
                                               " is not a valid ttrpc.Request message"),
            "");
    return;
  }
  logger_.Debug("ttrpc request", {{"service", request.service()},
                                  {"method", request.method()},
                                  {"stream", std::to_string(stream_id)},
                                  {"connection", connection_id}});

  Status unknown;
  const Handler* found = FindHandler(request.service(), request.method(), &unknown);
  if (found == nullptr) {
    Respond(connection, stream_id, unknown, "");
    return;
  }
  CallContext context;
  context.service = request.service();
  context.method = request.method();
  context.stream_id = stream_id;
  context.timeout_nano = request.timeout_nano();
  for (const ::ttrpc::KeyValue& entry : request.metadata()) {
    context.metadata.emplace_back(entry.key(), entry.value());
  }
  context.connection_id = connection->id;

  // A copy, so that a handler that registers handlers cannot destroy itself.
  Handler handler = *found;
  handler(context, request.payload(), MakeResponder(connection, stream_id));
}

const Handler* Server::FindHandler(const std::string& service, const std::string& method,
                                   Status* error) const {
  auto methods = handlers_.find(service);
  if (methods == handlers_.end()) {
    *error = Status(Code::kUnimplemented, "unknown service " + service);
    return nullptr;
  }
  auto handler = methods->second.find(method);
  if (handler == methods->second.end()) {
    *error = Status(Code::kUnimplemented, "unknown method " + method + " of service " + service);
    return nullptr;
  }
  return &handler->second;
}

Responder Server::MakeResponder(const std::shared_ptr<Connection>& connection,
                                uint32_t stream_id) {
  std::weak_ptr<Connection> weak = connection;
  auto answered = std::make_shared<bool>(false);
  // Runs on the loop thread only. A closed connection has released its last
  // shared_ptr, which also guarantees that `this` is still alive when the
  // lock succeeds: the server owns its connections.
  auto deliver = [this, weak, stream_id, answered](const Status& status,
                                                   const std::string& payload) {
    std::shared_ptr<Connection> alive = weak.lock();
    if (!alive || alive->closed) return;
    if (*answered) {
      logger_.Error("ttrpc server: a handler responded twice to the same call",
                    {{"connection", std::to_string(alive->id)},
                     {"stream", std::to_string(stream_id)}});
      return;
    }
    *answered = true;
    Respond(alive, stream_id, status, payload);
  };
  EventLoop* loop = &loop_;
  return [loop, deliver](const Status& status, const std::string& payload) {
    if (loop->RunningOnAnotherThread()) {
      loop->Post([deliver, status, payload] { deliver(status, payload); });
      return;
    }
    deliver(status, payload);
  };
}

void Server::Respond(const std::shared_ptr<Connection>& connection, uint32_t stream_id,
                     const Status& status, const std::string& payload) {
  ::ttrpc::Response response;
  if (status.ok()) {
    response.set_payload(payload);
  } else {
    response.mutable_status()->set_code(static_cast<int>(status.code()));
    response.mutable_status()->set_message(status.message());
    logger_.Debug("ttrpc call failed", {{"connection", std::to_string(connection->id)},
                                        {"stream", std::to_string(stream_id)},
                                        {"code", CodeName(status.code())},
                                        {"error", status.message()}});
  }
  std::string data = response.SerializeAsString();
  if (data.size() > kMaxDataSize) {
    std::string message = "response of " + Bytes(data.size()) + " exceeds the limit of " +
                          Bytes(kMaxDataSize);
    logger_.Error("ttrpc server: " + message, {{"connection", std::to_string(connection->id)},
                                               {"stream", std::to_string(stream_id)}});
    response.Clear();
    response.mutable_status()->set_code(static_cast<int>(Code::kResourceExhausted));
    response.mutable_status()->set_message(message);
    data = response.SerializeAsString();
  }

  connection->output += EncodeFrame(stream_id, FrameType::kResponse, 0, data);
  Flush(connection);
}

void Server::Flush(const std::shared_ptr<Connection>& connection) {
  size_t written = 0;
  while (written < connection->output.size()) {
    Result<size_t> write = kernel_.Write(connection->fd, connection->output.data() + written,
                                         connection->output.size() - written);
    if (!write.ok()) {
      if (IsWouldBlock(write.status())) break;
      CloseConnection(connection, write.status());
      return;
    }
    written += *write;
  }
  connection->output.erase(0, written);

  // Watch for writability only while output is pending: level-triggered
  // EPOLLOUT on an idle socket would fire on every wait.
  bool pending = !connection->output.empty();
  if (pending == connection->watching_writable) return;
  uint32_t events = pending ? (sys::kEpollIn | sys::kEpollOut) : sys::kEpollIn;
  Status modified = loop_.Modify(connection->fd, events);
  if (!modified.ok()) {
    CloseConnection(connection, modified);
    return;
  }
  connection->watching_writable = pending;
}

void Server::CloseConnection(const std::shared_ptr<Connection>& connection, const Status& cause) {
  if (connection->closed) return;
  connection->closed = true;
  loop_.Remove(connection->fd);
  (void)kernel_.Close(connection->fd);
  connections_.erase(connection->id);
  connection_count_ = connections_.size();

  LogFields fields = {{"connection", std::to_string(connection->id)}};
  if (cause.ok() || IsPeerGone(cause)) {
    if (!cause.ok()) fields.emplace_back("error", cause.message());
    logger_.Debug("ttrpc connection closed", fields);
    return;
  }
  fields.emplace_back("error", cause.message());
  logger_.Warning("ttrpc server: closed a connection after an error", fields);
}

}  // namespace reaper::ttrpc
