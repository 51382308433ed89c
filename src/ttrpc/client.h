// ttrpc::Client: a blocking client for the shim's few outgoing unary calls
// (events Forward to containerd).
//
// One call is on the wire at a time. Each call waits on the socket with epoll
// until its response arrives or its timeout passes. A response that arrives
// after its call timed out is read and dropped by a later call.
//
// Thread-safety: all methods may be called from any thread; calls are
// serialized with a mutex.
#ifndef REAPER_TTRPC_CLIENT_H_
#define REAPER_TTRPC_CLIENT_H_

#include <cstdint>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "sys/kernel.h"
#include "ttrpc/frame.h"

namespace reaper::ttrpc {

class Client {
 public:
  explicit Client(sys::Kernel& kernel);
  // Closes the connection.
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Connects to `address`, closing any earlier connection:
  //   "unix:///path" or "/path"  a filesystem socket
  //   "name"                     the abstract socket "\0name", as containerd
  //                              dials an address that has no scheme
  // Also sets SIGPIPE to be ignored, so that writing to a server that went
  // away fails with EPIPE instead of killing the process.
  Status Connect(const std::string& address);
  bool connected() const;
  void Close();

  // Sends one unary request and waits for its response. `timeout_ms` bounds
  // the whole call and is sent as the request's timeout_nano; 0 or less waits
  // without a limit. Returns the response payload, or:
  //   the response's status code and message when the server failed the call,
  //   DeadlineExceeded when the timeout passed,
  //   Unavailable when not connected or the connection broke (the client is
  //   then disconnected; Connect() again).
  Result<std::string> Call(const std::string& service, const std::string& method,
                           const std::string& payload,
                           const std::vector<std::pair<std::string, std::string>>& metadata,
                           int timeout_ms);

 private:
  Status ConnectLocked(const std::string& address);
  void CloseLocked();
  // deadline_ns is on the monotonic clock; -1 means none.
  Status SendLocked(const std::string& frame, int64_t deadline_ns);
  Result<std::string> ReceiveLocked(uint32_t stream_id, int64_t deadline_ns);
  static Result<std::string> DecodeResponse(const std::string& data);
  Status WaitReadyLocked(uint32_t events, int64_t deadline_ns);

  sys::Kernel& kernel_;
  mutable std::mutex mutex_;
  int socket_fd_ = -1;
  int epoll_fd_ = -1;
  uint32_t watched_events_ = 0;
  uint32_t next_stream_id_ = 1;
  FrameReader reader_;
};

}  // namespace reaper::ttrpc

#endif  // REAPER_TTRPC_CLIENT_H_
