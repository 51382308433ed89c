// RFC 3339 timestamps in UTC, as the OCI state document and JSON logs use
// them: "2026-12-04T20:43:19.123456789Z".
//
// Thread-safety: pure functions.
#ifndef REAPER_RUNTIME_RFC3339_H_
#define REAPER_RUNTIME_RFC3339_H_

#include <string>

#include "common/status.h"
#include "sys/kernel.h"

namespace reaper {
namespace runtime {

// Formats with nine fraction digits and the 'Z' suffix.
std::string FormatRfc3339(sys::Timespec time);

// Parses a UTC time with 'Z' and 0 to 9 fraction digits.
Result<sys::Timespec> ParseRfc3339(const std::string& text);

}  // namespace runtime
}  // namespace reaper

#endif  // REAPER_RUNTIME_RFC3339_H_
