// ttrpc::Server: serves unary ttrpc calls on a listening unix socket.
//
// Requests on one connection are served concurrently. A handler receives a
// Responder and may respond at once or keep it and respond later (Wait keeps
// it for the whole life of a task), while the connection goes on reading and
// serving other requests. Responses go out in the order they are given,
// through a per-connection output buffer that is flushed when the socket is
// writable, so a slow reader never blocks the loop.
//
// Errors the server returns by itself:
//   unknown service or method         -> Unimplemented
//   undecodable Request, even stream  -> InvalidArgument
//   frame data over 4 MiB             -> ResourceExhausted (connection kept)
// Only peers whose SO_PEERCRED uid equals the server's effective uid are
// accepted. A connection that closes (EOF, EPIPE, ECONNRESET) drops its
// pending responders and never stops the server.
//
// Thread-safety: call the methods on the loop thread, or while the loop is
// not running. Handlers run on the loop thread. A Responder may be called
// from any thread: off the loop thread it posts itself to the loop.
// connection_count() may be read from any thread.
#ifndef REAPER_TTRPC_SERVER_H_
#define REAPER_TTRPC_SERVER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/event_loop.h"
#include "common/log.h"
#include "common/status.h"
#include "sys/kernel.h"
#include "ttrpc/frame.h"

namespace reaper::ttrpc {

// The call a handler serves, as the request and the connection describe it.
struct CallContext {
  std::string service;
  std::string method;
  uint32_t stream_id = 0;
  int64_t timeout_nano = 0;  // time left until the caller's deadline; 0 = none
  std::vector<std::pair<std::string, std::string>> metadata;
  uint64_t connection_id = 0;
};

// Sends the response of one call: the payload when `status` is OK, else the
// status with an empty payload. Call it exactly once; later calls are logged
// and ignored, and calls after the connection closed are ignored. It must not
// outlive the EventLoop.
using Responder = std::function<void(const Status& status, const std::string& payload)>;
using Handler =
    std::function<void(const CallContext& context, const std::string& payload, Responder respond)>;

class Server {
 public:
  Server(sys::Kernel& kernel, EventLoop& loop, Logger& logger);
  // Closes the listening socket and every connection. Destroy the server
  // before its EventLoop.
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Routes calls of `service`/`method` to `handler`, replacing any earlier
  // handler of that name.
  void Register(const std::string& service, const std::string& method, Handler handler);

  // Takes ownership of a listening unix socket, makes it non-blocking and
  // close-on-exec, and accepts connections on the loop. Also sets SIGPIPE to
  // be ignored, so that writing to a peer that went away fails with EPIPE
  // instead of killing the process. On failure `listen_fd` is closed.
  Status Serve(int listen_fd);

  // Stops accepting and closes every connection; their pending responders
  // become no-ops.
  void Close();

  size_t connection_count() const { return connection_count_.load(); }

 private:
  struct Connection;

  void AcceptConnections();
  bool PeerAllowed(int fd, uint64_t connection_id);
  void OnConnectionEvent(const std::shared_ptr<Connection>& connection, uint32_t events);
  void ReadFrom(const std::shared_ptr<Connection>& connection);
  void HandleOversizeFrame(const std::shared_ptr<Connection>& connection,
                           const FrameHeader& header);
  void HandleFrame(const std::shared_ptr<Connection>& connection, const FrameHeader& header,
                   const std::string& data);
  void HandleRequest(const std::shared_ptr<Connection>& connection, uint32_t stream_id,
                     const std::string& data);
  const Handler* FindHandler(const std::string& service, const std::string& method,
                             Status* error) const;
  Responder MakeResponder(const std::shared_ptr<Connection>& connection, uint32_t stream_id);
  void Respond(const std::shared_ptr<Connection>& connection, uint32_t stream_id,
               const Status& status, const std::string& payload);
  void Flush(const std::shared_ptr<Connection>& connection);
  // `cause` is OK when the peer closed the connection or the server is
  // closing.
  void CloseConnection(const std::shared_ptr<Connection>& connection, const Status& cause);

  sys::Kernel& kernel_;
  EventLoop& loop_;
  Logger& logger_;
  int listen_fd_ = -1;
  uint64_t next_connection_id_ = 1;
  std::map<std::string, std::map<std::string, Handler>> handlers_;
  std::map<uint64_t, std::shared_ptr<Connection>> connections_;
  std::atomic<size_t> connection_count_{0};
};

}  // namespace reaper::ttrpc

#endif  // REAPER_TTRPC_SERVER_H_
