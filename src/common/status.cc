#include "common/status.h"

#include <cstring>

namespace reaper {

const char* CodeName(Code code) {
  switch (code) {
    case Code::kOk: return "OK";
    case Code::kCanceled: return "Canceled";
    case Code::kUnknown: return "Unknown";
    case Code::kInvalidArgument: return "InvalidArgument";
    case Code::kDeadlineExceeded: return "DeadlineExceeded";
    case Code::kNotFound: return "NotFound";
    case Code::kAlreadyExists: return "AlreadyExists";
    case Code::kPermissionDenied: return "PermissionDenied";
    case Code::kResourceExhausted: return "ResourceExhausted";
    case Code::kFailedPrecondition: return "FailedPrecondition";
    case Code::kUnimplemented: return "Unimplemented";
    case Code::kInternal: return "Internal";
    case Code::kUnavailable: return "Unavailable";
  }
  return "Unknown";
}

// Maps the errno values whose meaning callers rely on to a code; the rest
// become Internal.
static Code CodeForErrno(int error_number) {
  switch (error_number) {
    case ENOENT:
    case ESRCH:
      return Code::kNotFound;
    case EEXIST:
    case EADDRINUSE:
      return Code::kAlreadyExists;
    case EINVAL:
    case ENAMETOOLONG:
    case ENOTDIR:
    case EISDIR:
      return Code::kInvalidArgument;
    case EPERM:
    case EACCES:
      return Code::kPermissionDenied;
    case ETIMEDOUT:
      return Code::kDeadlineExceeded;
    case ENOSYS:
    case EOPNOTSUPP:
      return Code::kUnimplemented;
    case EAGAIN:
    case ECONNREFUSED:
      return Code::kUnavailable;
    default:
      return Code::kInternal;
  }
}

Status Status::FromErrno(int error_number, const std::string& what) {
  return Status(CodeForErrno(error_number), what + ": " + std::strerror(error_number),
                error_number);
}

Status Status::Annotate(const std::string& context) const {
  if (ok()) return *this;
  return Status(code_, context + ": " + message_, error_number_);
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  return std::string(CodeName(code_)) + ": " + message_;
}

}  // namespace reaper
