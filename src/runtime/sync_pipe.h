// Messages between reaper-runtime (P) and the child it forks (C) before the
// child execs, over a pair of close-on-exec pipes.
//
// C -> P: kNamespaceReady, then any kWarning, then kReady; kError at any
//         point, after which C exits. End of file without kError means C died.
// P -> C: kContinue once the namespace is pinned.
//
// Wire format: one type byte, the text length as 4 bytes little-endian, the
// text. Text is limited to kMaxSyncText bytes.
//
// Thread-safety: free functions over a Kernel; one reader and one writer per
// pipe.
#ifndef REAPER_RUNTIME_SYNC_PIPE_H_
#define REAPER_RUNTIME_SYNC_PIPE_H_

#include <cstddef>
#include <optional>
#include <string>

#include "common/status.h"
#include "sys/kernel.h"

namespace reaper {
namespace runtime {

inline constexpr size_t kMaxSyncText = 64 << 10;

enum class SyncMessageType : char {
  kNamespaceReady = 'N',  // C is in the namespace and waits for kContinue
  kContinue = 'C',        // P has pinned the namespace; C goes on
  kWarning = 'W',         // a problem C worked around, for P to log
  kReady = 'R',           // C is prepared; it execs next
  kError = 'E',           // C failed with this error and exits
};

struct SyncMessage {
  SyncMessageType type = SyncMessageType::kError;
  std::string text;
};

std::string EncodeSyncMessage(SyncMessageType type, const std::string& text);

// Writes one message; text longer than kMaxSyncText is cut.
Status SendSyncMessage(sys::Kernel& kernel, int fd, SyncMessageType type,
                       const std::string& text = "");

// Sends kError with the code, errno and message of `status` as
// "<code> <errno> <message>", so P can return the child's error unchanged.
Status SendSyncError(sys::Kernel& kernel, int fd, const Status& status);

// Rebuilds the Status of a kError text. Text that is not in that form
// becomes an Internal error with the text as message.
Status DecodeSyncError(const std::string& text);

// Reads one message. Returns nullopt at end of file before the first byte.
// End of file inside a message, an unknown type or an oversized length is an
// Internal error.
Result<std::optional<SyncMessage>> ReceiveSyncMessage(sys::Kernel& kernel, int fd);

}  // namespace runtime
}  // namespace reaper

#endif  // REAPER_RUNTIME_SYNC_PIPE_H_
