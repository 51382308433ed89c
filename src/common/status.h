// Status and Result<T>: errors as values.
//
// A Status carries a code (the gRPC/ttrpc code that the shim eventually
// returns to containerd), the errno that caused it when it came from the
// kernel, and a message that names what failed and on which id or path.
// Each layer that returns an error adds what it was doing with Annotate(),
// so the final message reads from the outermost action to the root cause:
//   "create task t1: mount overlay on /run/reaper/merged/default: Device or resource busy"
//
// Thread-safety: plain values; copy them freely.
#ifndef REAPER_COMMON_STATUS_H_
#define REAPER_COMMON_STATUS_H_

#include <cerrno>
#include <string>
#include <utility>
#include <variant>

namespace reaper {

// Numbers equal the gRPC codes, which ttrpc and containerd use unchanged.
enum class Code : int {
  kOk = 0,
  kCanceled = 1,
  kUnknown = 2,
  kInvalidArgument = 3,
  kDeadlineExceeded = 4,
  kNotFound = 5,
  kAlreadyExists = 6,
  kPermissionDenied = 7,
  kResourceExhausted = 8,
  kFailedPrecondition = 9,
  kUnimplemented = 12,
  kInternal = 13,
  kUnavailable = 14,
};

const char* CodeName(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message, int error_number = 0)
      : code_(code), error_number_(error_number), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  // Builds a status from a failed system call: `what` names the call and
  // its argument ("open /run/x"), the errno text is appended.
  static Status FromErrno(int error_number, const std::string& what);

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  // The errno of the failed system call, or 0 when the error did not come
  // from the kernel.
  int error_number() const { return error_number_; }
  const std::string& message() const { return message_; }

  // Returns a copy whose message is "<context>: <message>"; code and errno
  // are kept.
  Status Annotate(const std::string& context) const;

  std::string ToString() const;

 private:
  Code code_ = Code::kOk;
  int error_number_ = 0;
  std::string message_;
};

// Either a value or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}  // NOLINT: implicit on purpose
  Result(Status status) : state_(std::move(status)) {}  // NOLINT

  bool ok() const { return std::holds_alternative<T>(state_); }
  // Valid only when !ok(); OK otherwise.
  Status status() const { return ok() ? Status() : std::get<Status>(state_); }
  T& value() & { return std::get<T>(state_); }
  const T& value() const& { return std::get<T>(state_); }
  T&& value() && { return std::get<T>(std::move(state_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> state_;
};

}  // namespace reaper

// Returns early from the enclosing function when `expr` yields a non-OK
// Status.
#define REAPER_RETURN_IF_ERROR(expr)            \
  do {                                          \
    ::reaper::Status reaper_status_ = (expr);   \
    if (!reaper_status_.ok()) return reaper_status_; \
  } while (0)

#endif  // REAPER_COMMON_STATUS_H_
