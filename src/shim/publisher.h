// Publishing task events (/tasks/create, /tasks/exit, ...) to containerd.
//
// Publisher is the interface the task service uses. Publish() queues an event
// and returns at once. Events leave in the order they were published, so the
// task service keeps TaskStart before TaskExit and TaskExit before
// TaskDelete by publishing them in that order.
//
// TtrpcPublisher sends them from its own thread, over one ttrpc connection to
// containerd's TTRPC_ADDRESS: service containerd.services.events.ttrpc.v1.Events,
// method Forward, with the metadata containerd-namespace-ttrpc=<namespace>.
// The Any in the envelope carries the bare message name as type_url
// ("containerd.events.TaskExit"), because containerd 1.6 cannot decode the
// "type.googleapis.com/" form. A Forward that fails for want of a connection
// or by timing out is retried after a growing delay, reconnecting first. An
// event still undelivered after the last attempt, or rejected by containerd,
// is dropped with an error log, and the next one is tried.
//
// Thread-safety: Publish() and Close() may be called from any thread.
#ifndef REAPER_SHIM_PUBLISHER_H_
#define REAPER_SHIM_PUBLISHER_H_

#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <google/protobuf/message_lite.h>

#include "common/log.h"
#include "sys/kernel.h"
#include "ttrpc/client.h"

namespace reaper::shim {

// Topics of the events the shim sends.
inline constexpr char kTopicTaskCreate[] = "/tasks/create";
inline constexpr char kTopicTaskStart[] = "/tasks/start";
inline constexpr char kTopicTaskExit[] = "/tasks/exit";
inline constexpr char kTopicTaskDelete[] = "/tasks/delete";
inline constexpr char kTopicTaskExecAdded[] = "/tasks/exec-added";
inline constexpr char kTopicTaskExecStarted[] = "/tasks/exec-started";

class Publisher {
 public:
  virtual ~Publisher() = default;
  // Queues `event` under `topic` and returns without network I/O.
  virtual void Publish(const std::string& topic, const google::protobuf::MessageLite& event) = 0;
};

class TtrpcPublisher : public Publisher {
 public:
  struct Options {
    // containerd's ttrpc socket, as in TTRPC_ADDRESS: a path, or unix://path.
    // Empty: events are logged at debug level and dropped.
    std::string address;
    std::string namespace_name;
    int call_timeout_ms = 5000;
    // Delays before the second, third... attempt; its size + 1 attempts in
    // all.
    std::vector<int> retry_delays_ms = {100, 200, 400, 800};
  };

  TtrpcPublisher(sys::Kernel& kernel, Logger& logger, Options options);
  // Close()s.
  ~TtrpcPublisher() override;
  TtrpcPublisher(const TtrpcPublisher&) = delete;
  TtrpcPublisher& operator=(const TtrpcPublisher&) = delete;

  // Starts the sending thread.
  void Start();
  void Publish(const std::string& topic, const google::protobuf::MessageLite& event) override;
  // Sends what is queued, skipping the retry delays, then stops the thread.
  void Close();

  // Encodes the ForwardRequest that carries `event`.
  static std::string EncodeForwardRequest(sys::Timespec timestamp,
                                          const std::string& namespace_name,
                                          const std::string& topic,
                                          const google::protobuf::MessageLite& event);

 private:
  struct QueuedEvent {
    std::string topic;
    std::string request;  // an encoded ForwardRequest
  };

  void Run();
  void Send(const QueuedEvent& event);
  Status Attempt(const QueuedEvent& event);
  // Waits `delay_ms` unless Close() is called meanwhile.
  void Delay(int delay_ms);

  sys::Kernel& kernel_;
  Logger& logger_;
  const Options options_;
  std::string socket_address_;
  ttrpc::Client client_;

  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<QueuedEvent> queue_;
  bool closing_ = false;
  std::thread thread_;
};

}  // namespace reaper::shim

#endif  // REAPER_SHIM_PUBLISHER_H_
