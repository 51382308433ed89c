#include "ttrpc/frame.h"

#include <algorithm>

namespace reaper::ttrpc {
namespace {

void PutUint32(uint32_t value, std::string* out) {
  out->push_back(static_cast<char>(value >> 24));
  out->push_back(static_cast<char>(value >> 16));
  out->push_back(static_cast<char>(value >> 8));
  out->push_back(static_cast<char>(value));
}

uint32_t GetUint32(const char* bytes) {
  auto byte = [bytes](int i) { return static_cast<uint32_t>(static_cast<uint8_t>(bytes[i])); };
  return byte(0) << 24 | byte(1) << 16 | byte(2) << 8 | byte(3);
}

// Unread bytes are moved to the front once the consumed prefix is at least
// this large, so a long-lived connection does not grow its buffer forever.
constexpr size_t kCompactThreshold = 64 * 1024;

}  // namespace

std::string EncodeFrame(uint32_t stream_id, FrameType type, uint8_t flags,
                        const std::string& data) {
  std::string frame;
  frame.reserve(kHeaderSize + data.size());
  PutUint32(static_cast<uint32_t>(data.size()), &frame);
  PutUint32(stream_id, &frame);
  frame.push_back(static_cast<char>(type));
  frame.push_back(static_cast<char>(flags));
  frame += data;
  return frame;
}

void FrameReader::Append(const char* data, size_t size) {
  size_t skipped = static_cast<size_t>(std::min<uint64_t>(skip_remaining_, size));
  skip_remaining_ -= skipped;
  buffer_.append(data + skipped, size - skipped);
}

FrameReader::Outcome FrameReader::Next(FrameHeader* header, std::string* data) {
  if (buffered() < kHeaderSize) return Outcome::kNeedMore;

  const char* bytes = buffer_.data() + position_;
  FrameHeader parsed;
  parsed.length = GetUint32(bytes);
  parsed.stream_id = GetUint32(bytes + 4);
  parsed.type = static_cast<uint8_t>(bytes[8]);
  parsed.flags = static_cast<uint8_t>(bytes[9]);

  if (parsed.length > kMaxDataSize) {
    Discard(kHeaderSize);
    size_t dropped = static_cast<size_t>(std::min<uint64_t>(parsed.length, buffered()));
    Discard(dropped);
    skip_remaining_ = parsed.length - dropped;
    *header = parsed;
    data->clear();
    return Outcome::kOversize;
  }

  if (buffered() < kHeaderSize + parsed.length) return Outcome::kNeedMore;
  data->assign(bytes + kHeaderSize, parsed.length);
  Discard(kHeaderSize + parsed.length);
  *header = parsed;
  return Outcome::kFrame;
}

void FrameReader::Discard(size_t size) {
  position_ += size;
  if (position_ == buffer_.size()) {
    buffer_.clear();
    position_ = 0;
  } else if (position_ >= kCompactThreshold) {
    buffer_.erase(0, position_);
    position_ = 0;
  }
}

}  // namespace reaper::ttrpc
