#include "shim/publisher.h"

#include <gtest/gtest.h>

#include <string>

#include "containerd/events/task.pb.h"
#include "containerd/services/events/v1/events.pb.h"
#include "shim/task_server.h"

namespace reaper::shim {
namespace {

TEST(ForwardRequestTest, CarriesEnvelopeWithBareTypeUrl) {
  ::containerd::events::TaskExit exit;
  exit.set_container_id("t1");
  exit.set_id("t1");
  exit.set_pid(42);
  exit.set_exit_status(137);

  std::string bytes =
      TtrpcPublisher::EncodeForwardRequest({1700000000, 5}, "k8s.io", "/tasks/exit", exit);

  ::containerd::services::events::ttrpc::v1::ForwardRequest request;
  ASSERT_TRUE(request.ParseFromString(bytes));
  const auto& envelope = request.envelope();
  EXPECT_EQ(envelope.timestamp().seconds(), 1700000000);
  EXPECT_EQ(envelope.timestamp().nanos(), 5);
  EXPECT_EQ(envelope.namespace_(), "k8s.io");
  EXPECT_EQ(envelope.topic(), "/tasks/exit");
  EXPECT_EQ(envelope.event().type_url(), "containerd.events.TaskExit");
  ::containerd::events::TaskExit decoded;
  ASSERT_TRUE(decoded.ParseFromString(envelope.event().value()));
  EXPECT_EQ(decoded.pid(), 42u);
  EXPECT_EQ(decoded.exit_status(), 137u);
}

TEST(TtrpcStatusTest, KeepsTaskLevelCodes) {
  for (Code code : {Code::kNotFound, Code::kAlreadyExists, Code::kInvalidArgument,
                    Code::kFailedPrecondition, Code::kUnimplemented}) {
    Status converted = ToTtrpcStatus(Status(code, "message"));
    EXPECT_EQ(converted.code(), code);
    EXPECT_EQ(converted.message(), "message");
  }
}

TEST(TtrpcStatusTest, SystemCallErrorsBecomeInternal) {
  Status missing_file = Status::FromErrno(ENOENT, "open /b/config.json");
  ASSERT_EQ(missing_file.code(), Code::kNotFound);

  Status converted = ToTtrpcStatus(missing_file.Annotate("create task t1"));

  EXPECT_EQ(converted.code(), Code::kInternal);
  EXPECT_EQ(converted.message(), "create task t1: open /b/config.json: No such file or directory");
}

TEST(TtrpcStatusTest, OkStaysOk) { EXPECT_TRUE(ToTtrpcStatus(Status::Ok()).ok()); }

}  // namespace
}  // namespace reaper::shim
