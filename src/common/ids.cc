#include "common/ids.h"

#include <cstdio>

namespace reaper {
namespace {

bool IsIdCharacter(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '-';
}

}  // namespace

std::string QuoteForMessage(const std::string& value, size_t max_bytes) {
  std::string quoted = "\"";
  size_t shown_bytes = value.size() <= max_bytes ? value.size() : max_bytes;
  for (size_t i = 0; i < shown_bytes; ++i) {
    unsigned char c = static_cast<unsigned char>(value[i]);
    if (c == '"' || c == '\\') {
      quoted += '\\';
      quoted += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      char escape[8];
      std::snprintf(escape, sizeof(escape), "\\x%02x", c);
      quoted += escape;
    } else {
      quoted += static_cast<char>(c);
    }
  }
  if (shown_bytes < value.size()) quoted += "...";
  return quoted + "\"";
}

Status ValidateId(const std::string& kind, const std::string& id) {
  auto invalid = [&](const std::string& reason) {
    return Status(Code::kInvalidArgument, "invalid " + kind + " id " + QuoteForMessage(id) + ": " +
                                              reason);
  };

  if (id.empty()) return invalid("the id is empty");
  if (id.size() > kMaxIdLength) {
    return invalid("the id is " + std::to_string(id.size()) + " bytes long, the maximum is " +
                   std::to_string(kMaxIdLength));
  }
  if (id == "." || id == "..") return invalid("\".\" and \"..\" are not allowed");
  for (char c : id) {
    if (!IsIdCharacter(c)) return invalid("only letters, digits, '_', '.' and '-' are allowed");
  }
  return Status::Ok();
}

}  // namespace reaper
