#include "runtime/state_store.h"

#include <gtest/gtest.h>

#include <string>

#include "fakes/fake_kernel.h"
#include "runtime/rfc3339.h"

namespace reaper {
namespace runtime {
namespace {

ContainerState SampleState() {
  ContainerState state;
  state.id = "t1";
  state.pid = 4242;
  state.start_time = 123456789;
  state.bundle = "/run/containerd/t1";
  state.root_path = "rootfs";
  state.created = sys::Timespec{1700000000, 5};
  state.annotations = {{"io.kubernetes.cri.sandbox-id", "s1"}, {"quote", "a\"b"}};
  return state;
}

TEST(StateStoreTest, FormatsRfc3339InUtc) {
  EXPECT_EQ(FormatRfc3339({0, 0}), "1970-01-01T00:00:00.000000000Z");
  EXPECT_EQ(FormatRfc3339({1700000000, 123456789}), "2023-11-14T22:13:20.123456789Z");
  EXPECT_EQ(FormatRfc3339({951782400, 0}), "2000-02-29T00:00:00.000000000Z");
}

TEST(StateStoreTest, ParsesRfc3339) {
  Result<sys::Timespec> time = ParseRfc3339("2023-11-14T22:13:20.123456789Z");
  ASSERT_TRUE(time.ok()) << time.status().ToString();
  EXPECT_EQ(time->seconds, 1700000000);
  EXPECT_EQ(time->nanos, 123456789);

  Result<sys::Timespec> whole = ParseRfc3339("2000-02-29T00:00:00Z");
  ASSERT_TRUE(whole.ok());
  EXPECT_EQ(whole->seconds, 951782400);
  EXPECT_EQ(whole->nanos, 0);

  EXPECT_FALSE(ParseRfc3339("2023-11-14 22:13:20Z").ok());
  EXPECT_FALSE(ParseRfc3339("2023-11-14T22:13:20+01:00").ok());
  EXPECT_FALSE(ParseRfc3339("2023-13-14T22:13:20Z").ok());
}

TEST(StateStoreTest, StateRoundTrips) {
  ContainerState state = SampleState();
  Result<ContainerState> decoded = DecodeState(EncodeState(state));
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->id, state.id);
  EXPECT_EQ(decoded->pid, state.pid);
  EXPECT_EQ(decoded->start_time, state.start_time);
  EXPECT_EQ(decoded->bundle, state.bundle);
  EXPECT_EQ(decoded->root_path, state.root_path);
  EXPECT_EQ(decoded->created.seconds, state.created.seconds);
  EXPECT_EQ(decoded->created.nanos, state.created.nanos);
  EXPECT_EQ(decoded->annotations, state.annotations);
}

TEST(StateStoreTest, DecodeRejectsBrokenState) {
  Result<ContainerState> missing_pid = DecodeState(
      R"({"id":"t1","startTime":1,"bundle":"/b","rootPath":"","created":"2023-11-14T22:13:20Z"})");
  ASSERT_FALSE(missing_pid.ok());
  EXPECT_EQ(missing_pid.status().message(), "invalid state.json: pid is missing or not an integer");

  Result<ContainerState> zero_pid = DecodeState(
      R"({"id":"t1","pid":0,"startTime":1,"bundle":"/b","rootPath":"","created":"2023-11-14T22:13:20Z"})");
  ASSERT_FALSE(zero_pid.ok());
  EXPECT_EQ(zero_pid.status().message(), "invalid state.json: pid 0 is not positive");

  EXPECT_FALSE(DecodeState("{").ok());
}

TEST(StateStoreTest, StateJsonFollowsOciFields) {
  fakes::FakeKernel kernel;
  StateStore store(kernel, "/run/reaper/runtime");
  EXPECT_EQ(store.StateJson(SampleState(), ContainerStatus::kCreated),
            "{\"ociVersion\":\"1.0.2\",\"id\":\"t1\",\"status\":\"created\",\"pid\":4242,"
            "\"bundle\":\"/run/containerd/t1\",\"created\":\"2023-11-14T22:13:20.000000005Z\","
            "\"annotations\":{\"io.kubernetes.cri.sandbox-id\":\"s1\",\"quote\":\"a\\\"b\"}}\n");
}

TEST(StateStoreTest, StoppedStateShowsPidZero) {
  fakes::FakeKernel kernel;
  StateStore store(kernel, "/run/reaper/runtime");
  std::string json = store.StateJson(SampleState(), ContainerStatus::kStopped);
  EXPECT_NE(json.find("\"status\":\"stopped\",\"pid\":0,"), std::string::npos) << json;
}

TEST(StateStoreTest, SaveThenLoad) {
  fakes::FakeKernel kernel;
  StateStore store(kernel, "/run/reaper/runtime");
  ASSERT_TRUE(store.CreateContainerDir("t1").ok());
  ASSERT_TRUE(store.Save(SampleState()).ok());
  EXPECT_TRUE(kernel.Exists("/run/reaper/runtime/t1/state.json"));
  EXPECT_FALSE(kernel.Exists("/run/reaper/runtime/t1/state.json.tmp"));

  Result<ContainerState> loaded = store.Load("t1");
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->pid, 4242);
  EXPECT_EQ(loaded->bundle, "/run/containerd/t1");
}

TEST(StateStoreTest, CreateOfExistingContainerIsAlreadyExists) {
  fakes::FakeKernel kernel;
  StateStore store(kernel, "/run/reaper/runtime");
  ASSERT_TRUE(store.CreateContainerDir("t1").ok());
  Status again = store.CreateContainerDir("t1");
  EXPECT_EQ(again.code(), Code::kAlreadyExists);
  EXPECT_EQ(again.message(), "container t1 already exists");
}

TEST(StateStoreTest, LoadOfUnknownContainerIsNotFound) {
  fakes::FakeKernel kernel;
  StateStore store(kernel, "/run/reaper/runtime");
  Result<ContainerState> loaded = store.Load("nope");
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), Code::kNotFound);
  EXPECT_EQ(loaded.status().message(), "container nope does not exist");
}

TEST(StateStoreTest, LoadRejectsStateOfAnotherId) {
  fakes::FakeKernel kernel;
  StateStore store(kernel, "/run/reaper/runtime");
  kernel.WriteFile("/run/reaper/runtime/t2/state.json", EncodeState(SampleState()));
  Result<ContainerState> loaded = store.Load("t2");
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().message(), "invalid state.json: it records id t1 under t2");
}

TEST(StateStoreTest, RemoveDeletesDirectory) {
  fakes::FakeKernel kernel;
  StateStore store(kernel, "/run/reaper/runtime");
  ASSERT_TRUE(store.CreateContainerDir("t1").ok());
  ASSERT_TRUE(store.Save(SampleState()).ok());
  ASSERT_TRUE(kernel.Mkfifo(store.ExecFifoPath("t1"), 0622).ok());
  ASSERT_TRUE(store.Remove("t1").ok());
  EXPECT_FALSE(kernel.Exists("/run/reaper/runtime/t1"));
  EXPECT_TRUE(store.Remove("t1").ok());
}

TEST(StateStoreTest, ProcessThatIsGoneIsStopped) {
  fakes::FakeKernel kernel;
  StateStore store(kernel, "/run/reaper/runtime");
  ContainerState state = SampleState();
  state.pid = 31999;  // no such process in the fake
  EXPECT_EQ(store.CurrentStatus(state), ContainerStatus::kStopped);
}

}  // namespace
}  // namespace runtime
}  // namespace reaper
