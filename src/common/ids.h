// Validation of the ids that reach Reaper from outside: container ids and
// exec ids. They become path components under the state directory, so a bad
// id must be rejected before any path is built from it.
//
// Thread-safety: pure functions.
#ifndef REAPER_COMMON_IDS_H_
#define REAPER_COMMON_IDS_H_

#include <cstddef>
#include <string>

#include "common/status.h"

namespace reaper {

inline constexpr size_t kMaxIdLength = 1024;

// Accepts 1 to kMaxIdLength bytes of [A-Za-z0-9_.-], except "." and "..".
// `kind` names the id in the error ("container", "exec"). Returns
// InvalidArgument with a message like
//   invalid container id "a/b": only letters, digits, '_', '.' and '-' are allowed
// where an id longer than 64 bytes is shown truncated.
Status ValidateId(const std::string& kind, const std::string& id);

// Formats a value from outside for an error message: quoted, with control
// characters escaped and anything past max_bytes replaced by "...".
std::string QuoteForMessage(const std::string& value, size_t max_bytes = 64);

}  // namespace reaper

#endif  // REAPER_COMMON_IDS_H_
