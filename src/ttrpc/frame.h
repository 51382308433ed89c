// ttrpc framing: a 10-byte header followed by the frame data.
//
// Header layout, all integers big-endian:
//   bytes 0-3  length of the data (the header is not counted)
//   bytes 4-7  stream id (odd for streams a client starts)
//   byte  8    frame type (1 request, 2 response, 3 data)
//   byte  9    flags (0 for unary calls)
// A request frame carries one encoded ttrpc.Request, a response frame one
// ttrpc.Response. Receivers reject data longer than kMaxDataSize.
//
// Thread-safety: FrameReader is a plain value; use one per connection from
// one thread.
#ifndef REAPER_TTRPC_FRAME_H_
#define REAPER_TTRPC_FRAME_H_

#include <cstddef>
#include <cstdint>
#include <string>

namespace reaper::ttrpc {

constexpr size_t kHeaderSize = 10;
// The largest frame data ttrpc accepts: 4 MiB.
constexpr uint32_t kMaxDataSize = 4 << 20;

enum class FrameType : uint8_t { kRequest = 1, kResponse = 2, kData = 3 };

struct FrameHeader {
  uint32_t length = 0;
  uint32_t stream_id = 0;
  uint8_t type = 0;  // a FrameType value, or an unknown type as received
  uint8_t flags = 0;
};

// Returns the header and `data`. Does not check `data` against kMaxDataSize;
// senders do.
std::string EncodeFrame(uint32_t stream_id, FrameType type, uint8_t flags,
                        const std::string& data);

// Incremental decoder: Append() bytes as they arrive, split anywhere, and
// call Next() until it returns kNeedMore.
class FrameReader {
 public:
  enum class Outcome {
    kNeedMore,  // no complete frame buffered
    kFrame,     // *header and *data hold the next frame
    kOversize,  // *header is a frame longer than kMaxDataSize; its data is
                // discarded as it arrives and *data is cleared
  };

  void Append(const char* data, size_t size);
  // Returns the next frame. An oversize frame is reported once, when its
  // header is complete; the frames after it are then decoded normally.
  Outcome Next(FrameHeader* header, std::string* data);

  // Bytes received and not yet returned (oversize data is not kept).
  size_t buffered() const { return buffer_.size() - position_; }

 private:
  void Discard(size_t size);

  std::string buffer_;
  size_t position_ = 0;
  // Data bytes of an oversize frame still to be dropped. While non-zero the
  // buffer contains no unread bytes.
  uint64_t skip_remaining_ = 0;
};

}  // namespace reaper::ttrpc

#endif  // REAPER_TTRPC_FRAME_H_
