#include "shim/publisher.h"

#include <chrono>
#include <utility>

#include "containerd/services/events/v1/events.pb.h"

namespace reaper::shim {
namespace {

constexpr char kEventsService[] = "containerd.services.events.ttrpc.v1.Events";
constexpr char kForwardMethod[] = "Forward";
constexpr char kNamespaceKey[] = "containerd-namespace-ttrpc";
constexpr char kUnixScheme[] = "unix://";

// Only a connection problem or a timeout may go away on a retry; containerd
// rejecting the envelope would reject it again.
bool IsRetryable(const Status& status) {
  return status.code() == Code::kUnavailable || status.code() == Code::kDeadlineExceeded;
}

}  // namespace

TtrpcPublisher::TtrpcPublisher(sys::Kernel& kernel, Logger& logger, Options options)
    : kernel_(kernel), logger_(logger), options_(std::move(options)), client_(kernel) {
  socket_address_ = options_.address;
  if (socket_address_.compare(0, sizeof(kUnixScheme) - 1, kUnixScheme) == 0) {
    socket_address_ = socket_address_.substr(sizeof(kUnixScheme) - 1);
  }
}

TtrpcPublisher::~TtrpcPublisher() { Close(); }

void TtrpcPublisher::Start() {
  if (socket_address_.empty()) {
    logger_.Warning("TTRPC_ADDRESS is not set: task events will not reach containerd");
  }
  thread_ = std::thread([this] { Run(); });
}

std::string TtrpcPublisher::EncodeForwardRequest(sys::Timespec timestamp,
                                                 const std::string& namespace_name,
                                                 const std::string& topic,
                                                 const google::protobuf::MessageLite& event) {
  ::containerd::services::events::ttrpc::v1::ForwardRequest request;
  auto* envelope = request.mutable_envelope();
  envelope->mutable_timestamp()->set_seconds(timestamp.seconds);
  envelope->mutable_timestamp()->set_nanos(timestamp.nanos);
  envelope->set_namespace_(namespace_name);
  envelope->set_topic(topic);
  // The bare name, not Any::PackFrom's "type.googleapis.com/<name>".
  envelope->mutable_event()->set_type_url(event.GetTypeName());
  envelope->mutable_event()->set_value(event.SerializeAsString());
  return request.SerializeAsString();
}

void TtrpcPublisher::Publish(const std::string& topic,
                             const google::protobuf::MessageLite& event) {
  QueuedEvent queued{topic, EncodeForwardRequest(kernel_.Now(), options_.namespace_name, topic,
                                                 event)};
  std::lock_guard<std::mutex> lock(mutex_);
  queue_.push_back(std::move(queued));
  changed_.notify_all();
}

void TtrpcPublisher::Close() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    closing_ = true;
    changed_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
  client_.Close();
}

void TtrpcPublisher::Run() {
  while (true) {
    QueuedEvent event;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      changed_.wait(lock, [this] { return closing_ || !queue_.empty(); });
      if (queue_.empty()) return;
      event = std::move(queue_.front());
      queue_.pop_front();
    }
    Send(event);
  }
}

void TtrpcPublisher::Send(const QueuedEvent& event) {
  if (socket_address_.empty()) {
    logger_.Debug("event dropped: no TTRPC_ADDRESS", {{"topic", event.topic}});
    return;
  }
  Status status = Attempt(event);
  for (size_t retry = 0; IsRetryable(status) && retry < options_.retry_delays_ms.size(); ++retry) {
    logger_.Debug("forward event failed, retrying",
                  {{"topic", event.topic}, {"error", status.message()}});
    Delay(options_.retry_delays_ms[retry]);
    status = Attempt(event);
  }
  if (!status.ok()) {
    logger_.Error("event dropped: forwarding it to containerd failed",
                  {{"topic", event.topic}, {"error", status.message()}});
  }
}

Status TtrpcPublisher::Attempt(const QueuedEvent& event) {
  if (!client_.connected()) REAPER_RETURN_IF_ERROR(client_.Connect(socket_address_));
  Result<std::string> reply =
      client_.Call(kEventsService, kForwardMethod, event.request,
                   {{kNamespaceKey, options_.namespace_name}}, options_.call_timeout_ms);
  return reply.status();
}

void TtrpcPublisher::Delay(int delay_ms) {
  // A timed wait on the condition, so that Close() cuts the delay short.
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait_for(lock, std::chrono::milliseconds(delay_ms), [this] { return closing_; });
}

}  // namespace reaper::shim
