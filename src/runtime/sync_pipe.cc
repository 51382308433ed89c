#include "runtime/sync_pipe.h"

#include <cstdint>
#include <cstdlib>

#include "common/files.h"

namespace reaper {
namespace runtime {
namespace {

bool IsKnownType(char type) {
  switch (static_cast<SyncMessageType>(type)) {
    case SyncMessageType::kNamespaceReady:
    case SyncMessageType::kContinue:
    case SyncMessageType::kWarning:
    case SyncMessageType::kReady:
    case SyncMessageType::kError:
      return true;
  }
  return false;
}

// Reads exactly `size` bytes. Returns the count read, which is less than
// `size` only at end of file.
Result<size_t> ReadFully(sys::Kernel& kernel, int fd, char* buffer, size_t size) {
  size_t total = 0;
  while (total < size) {
    Result<size_t> count = kernel.Read(fd, buffer + total, size - total);
    if (!count.ok()) return count.status();
    if (*count == 0) break;
    total += *count;
  }
  return total;
}

Status Truncated() {
  return Status(Code::kInternal, "sync pipe: end of file inside a message");
}

}  // namespace

std::string EncodeSyncMessage(SyncMessageType type, const std::string& text) {
  size_t length = text.size() < kMaxSyncText ? text.size() : kMaxSyncText;
  std::string wire(1, static_cast<char>(type));
  for (int shift = 0; shift < 32; shift += 8) {
    wire += static_cast<char>((length >> shift) & 0xff);
  }
  wire.append(text, 0, length);
  return wire;
}

Status SendSyncMessage(sys::Kernel& kernel, int fd, SyncMessageType type,
                       const std::string& text) {
  return WriteAll(kernel, fd, EncodeSyncMessage(type, text));
}

Status SendSyncError(sys::Kernel& kernel, int fd, const Status& status) {
  std::string text = std::to_string(static_cast<int>(status.code())) + " " +
                     std::to_string(status.error_number()) + " " + status.message();
  return SendSyncMessage(kernel, fd, SyncMessageType::kError, text);
}

Status DecodeSyncError(const std::string& text) {
  char* end = nullptr;
  long code = std::strtol(text.c_str(), &end, 10);
  bool valid = end != text.c_str() && *end == ' ' && code > 0 && code <= 16;
  char* errno_end = nullptr;
  long error_number = valid ? std::strtol(end + 1, &errno_end, 10) : 0;
  valid = valid && errno_end != end + 1 && *errno_end == ' ' && error_number >= 0;
  if (!valid) return Status(Code::kInternal, text);
  return Status(static_cast<Code>(code), std::string(errno_end + 1), static_cast<int>(error_number));
}

Result<std::optional<SyncMessage>> ReceiveSyncMessage(sys::Kernel& kernel, int fd) {
  char header[5];
  Result<size_t> count = ReadFully(kernel, fd, header, sizeof(header));
  if (!count.ok()) return count.status();
  if (*count == 0) return std::optional<SyncMessage>();
  if (*count < sizeof(header)) return Truncated();
  if (!IsKnownType(header[0])) {
    return Status(Code::kInternal, "sync pipe: unknown message type " +
                                       std::to_string(static_cast<unsigned char>(header[0])));
  }

  uint32_t length = 0;
  for (int i = 0; i < 4; ++i) {
    length |= static_cast<uint32_t>(static_cast<unsigned char>(header[1 + i])) << (8 * i);
  }
  if (length > kMaxSyncText) {
    return Status(Code::kInternal, "sync pipe: message of " + std::to_string(length) +
                                       " bytes is over the limit");
  }

  SyncMessage message;
  message.type = static_cast<SyncMessageType>(header[0]);
  message.text.resize(length);
  count = ReadFully(kernel, fd, message.text.data(), length);
  if (!count.ok()) return count.status();
  if (*count < length) return Truncated();
  return std::optional<SyncMessage>(std::move(message));
}

}  // namespace runtime
}  // namespace reaper
