#include "ttrpc/frame.h"

#include <gtest/gtest.h>

#include <string>

#include "containerd/task/v2/shim.pb.h"
#include "google/rpc/status.pb.h"
#include "ttrpc/request.pb.h"

namespace reaper::ttrpc {
namespace {

// Builds a string from bytes that may contain NUL.
std::string Bytes(std::initializer_list<int> bytes) {
  std::string out;
  for (int byte : bytes) out.push_back(static_cast<char>(byte));
  return out;
}

struct Decoded {
  FrameHeader header;
  std::string data;
};

// Returns every complete frame the reader holds, failing the test on an
// oversize report.
std::vector<Decoded> DrainFrames(FrameReader& reader) {
  std::vector<Decoded> frames;
  Decoded frame;
  while (true) {
    FrameReader::Outcome outcome = reader.Next(&frame.header, &frame.data);
    if (outcome == FrameReader::Outcome::kNeedMore) break;
    EXPECT_EQ(outcome, FrameReader::Outcome::kFrame);
    frames.push_back(frame);
  }
  return frames;
}

TEST(FrameTest, EncodeWritesBigEndianHeader) {
  std::string frame = EncodeFrame(0x01020304, FrameType::kResponse, 0x05, "abc");

  EXPECT_EQ(frame, Bytes({0, 0, 0, 3, 1, 2, 3, 4, 2, 5}) + "abc");
}

TEST(FrameTest, EmptyDataEncodesHeaderOnly) {
  std::string frame = EncodeFrame(7, FrameType::kResponse, 0, "");

  EXPECT_EQ(frame, Bytes({0, 0, 0, 0, 0, 0, 0, 7, 2, 0}));
}

TEST(FrameTest, RoundTripKeepsHeaderAndData) {
  std::string data = Bytes({0, 1, 0xff, 0x80}) + std::string(300, 'x');
  std::string frame = EncodeFrame(0xfffffffd, FrameType::kRequest, 0x04, data);
  FrameReader reader;
  reader.Append(frame.data(), frame.size());

  FrameHeader header;
  std::string decoded;
  ASSERT_EQ(reader.Next(&header, &decoded), FrameReader::Outcome::kFrame);
  EXPECT_EQ(header.length, data.size());
  EXPECT_EQ(header.stream_id, 0xfffffffdu);
  EXPECT_EQ(header.type, static_cast<uint8_t>(FrameType::kRequest));
  EXPECT_EQ(header.flags, 0x04);
  EXPECT_EQ(decoded, data);
  EXPECT_EQ(reader.Next(&header, &decoded), FrameReader::Outcome::kNeedMore);
  EXPECT_EQ(reader.buffered(), 0u);
}

TEST(FrameTest, FrameFedByteByByteIsDecodedOnce) {
  std::string frame = EncodeFrame(1, FrameType::kRequest, 0, "hello");
  FrameReader reader;
  FrameHeader header;
  std::string data;

  for (size_t i = 0; i + 1 < frame.size(); ++i) {
    reader.Append(&frame[i], 1);
    ASSERT_EQ(reader.Next(&header, &data), FrameReader::Outcome::kNeedMore) << "after byte " << i;
  }
  reader.Append(&frame.back(), 1);

  ASSERT_EQ(reader.Next(&header, &data), FrameReader::Outcome::kFrame);
  EXPECT_EQ(header.stream_id, 1u);
  EXPECT_EQ(data, "hello");
}

TEST(FrameTest, OneAppendYieldsSeveralFrames) {
  std::string bytes = EncodeFrame(1, FrameType::kRequest, 0, "one") +
                      EncodeFrame(3, FrameType::kRequest, 0, "") +
                      EncodeFrame(5, FrameType::kData, 1, "three");
  FrameReader reader;
  reader.Append(bytes.data(), bytes.size());

  std::vector<Decoded> frames = DrainFrames(reader);

  ASSERT_EQ(frames.size(), 3u);
  EXPECT_EQ(frames[0].header.stream_id, 1u);
  EXPECT_EQ(frames[0].data, "one");
  EXPECT_EQ(frames[1].header.stream_id, 3u);
  EXPECT_EQ(frames[1].data, "");
  EXPECT_EQ(frames[2].header.stream_id, 5u);
  EXPECT_EQ(frames[2].header.type, static_cast<uint8_t>(FrameType::kData));
  EXPECT_EQ(frames[2].header.flags, 1);
  EXPECT_EQ(frames[2].data, "three");
}

TEST(FrameTest, HeaderSplitAcrossAppendsIsDecoded) {
  std::string bytes = EncodeFrame(9, FrameType::kResponse, 0, "payload") +
                      EncodeFrame(11, FrameType::kResponse, 0, "next");
  FrameReader reader;

  reader.Append(bytes.data(), 4);
  EXPECT_TRUE(DrainFrames(reader).empty());
  reader.Append(bytes.data() + 4, kHeaderSize + 7 + 3 - 4);
  std::vector<Decoded> first = DrainFrames(reader);
  reader.Append(bytes.data() + kHeaderSize + 7 + 3, bytes.size() - (kHeaderSize + 7 + 3));
  std::vector<Decoded> second = DrainFrames(reader);

  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].header.stream_id, 9u);
  EXPECT_EQ(first[0].data, "payload");
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].header.stream_id, 11u);
  EXPECT_EQ(second[0].data, "next");
}

TEST(FrameTest, ConnectRequestMatchesWorkedExample) {
  containerd::task::v2::ConnectRequest connect;
  connect.set_id("t1");
  ::ttrpc::Request request;
  request.set_service("containerd.task.v2.Task");
  request.set_method("Connect");
  request.set_payload(connect.SerializeAsString());

  std::string frame = EncodeFrame(1, FrameType::kRequest, 0, request.SerializeAsString());

  std::string expected = Bytes({0x00, 0x00, 0x00, 0x28, 0x00, 0x00, 0x00, 0x01, 0x01, 0x00}) +
                         Bytes({0x0a, 0x17}) + "containerd.task.v2.Task" + Bytes({0x12, 0x07}) +
                         "Connect" + Bytes({0x1a, 0x04, 0x0a, 0x02}) + "t1";
  EXPECT_EQ(frame, expected);
}

TEST(FrameTest, ErrorResponseMatchesWorkedExample) {
  ::ttrpc::Response response;
  response.mutable_status()->set_code(12);
  response.mutable_status()->set_message("not implemented");

  std::string frame = EncodeFrame(3, FrameType::kResponse, 0, response.SerializeAsString());

  std::string expected = Bytes({0x00, 0x00, 0x00, 0x15, 0x00, 0x00, 0x00, 0x03, 0x02, 0x00}) +
                         Bytes({0x0a, 0x13, 0x08, 0x0c, 0x12, 0x0f}) + "not implemented";
  EXPECT_EQ(frame, expected);
}

TEST(FrameTest, OversizeFrameReportedOnceThenSkipped) {
  const uint32_t oversize = kMaxDataSize + 1;
  std::string header = Bytes({0x00, 0x40, 0x00, 0x01, 0x00, 0x00, 0x00, 0x05, 0x01, 0x00});
  std::string junk(oversize, 'j');
  std::string next = EncodeFrame(7, FrameType::kRequest, 0, "after");
  FrameReader reader;
  FrameHeader decoded;
  std::string data = "stale";

  // The header and a little data arrive first, the rest of the data in two
  // chunks, the second of which also carries the next frame.
  reader.Append(header.data(), header.size());
  reader.Append(junk.data(), 100);
  ASSERT_EQ(reader.Next(&decoded, &data), FrameReader::Outcome::kOversize);
  EXPECT_EQ(decoded.length, oversize);
  EXPECT_EQ(decoded.stream_id, 5u);
  EXPECT_EQ(decoded.type, static_cast<uint8_t>(FrameType::kRequest));
  EXPECT_EQ(data, "");
  EXPECT_EQ(reader.Next(&decoded, &data), FrameReader::Outcome::kNeedMore);

  reader.Append(junk.data() + 100, oversize - 200);
  EXPECT_EQ(reader.Next(&decoded, &data), FrameReader::Outcome::kNeedMore);
  EXPECT_EQ(reader.buffered(), 0u);
  std::string tail = junk.substr(0, 100) + next;
  reader.Append(tail.data(), tail.size());

  ASSERT_EQ(reader.Next(&decoded, &data), FrameReader::Outcome::kFrame);
  EXPECT_EQ(decoded.stream_id, 7u);
  EXPECT_EQ(data, "after");
  EXPECT_EQ(reader.Next(&decoded, &data), FrameReader::Outcome::kNeedMore);
}

TEST(FrameTest, OversizeFrameInOneAppendIsSkipped) {
  std::string bytes = Bytes({0x00, 0x40, 0x00, 0x01, 0x00, 0x00, 0x00, 0x05, 0x01, 0x00}) +
                      std::string(kMaxDataSize + 1, 'j') +
                      EncodeFrame(7, FrameType::kRequest, 0, "after");
  FrameReader reader;
  reader.Append(bytes.data(), bytes.size());
  FrameHeader decoded;
  std::string data;

  ASSERT_EQ(reader.Next(&decoded, &data), FrameReader::Outcome::kOversize);
  ASSERT_EQ(reader.Next(&decoded, &data), FrameReader::Outcome::kFrame);
  EXPECT_EQ(decoded.stream_id, 7u);
  EXPECT_EQ(data, "after");
}

TEST(FrameTest, FrameOfExactlyMaxSizeIsAccepted) {
  std::string frame = EncodeFrame(1, FrameType::kRequest, 0, std::string(kMaxDataSize, 'm'));
  FrameReader reader;
  reader.Append(frame.data(), frame.size());
  FrameHeader decoded;
  std::string data;

  ASSERT_EQ(reader.Next(&decoded, &data), FrameReader::Outcome::kFrame);
  EXPECT_EQ(data.size(), kMaxDataSize);
}

}  // namespace
}  // namespace reaper::ttrpc
