#include "shim/stdio.h"

#include <fcntl.h>

#include "common/ids.h"

namespace reaper::shim {
namespace {

constexpr char kDevNull[] = "/dev/null";
constexpr char kFileScheme[] = "file://";
constexpr char kFifoScheme[] = "fifo://";
constexpr char kBinaryScheme[] = "binary://";
// One page: the smallest pipe size, and a pipe with a single buffer slot.
constexpr int kOnePage = 4096;

bool StartsWith(const std::string& text, const std::string& prefix) {
  return text.compare(0, prefix.size(), prefix) == 0;
}

}  // namespace

Result<std::unique_ptr<ProcessStdio>> ProcessStdio::Open(sys::Kernel& kernel,
                                                         const StdioPaths& paths) {
  if (paths.terminal) {
    return Status(Code::kUnimplemented,
                  "a terminal was requested, but Reaper does not support terminals yet; run "
                  "without -t/tty");
  }
  std::unique_ptr<ProcessStdio> stdio(new ProcessStdio(kernel));
  REAPER_RETURN_IF_ERROR(stdio->OpenStdin(paths.stdin_path));
  REAPER_RETURN_IF_ERROR(
      stdio->OpenOutput(paths.stdout_path, &stdio->stdout_holder_, &stdio->child_.stdout_fd)
          .Annotate("open stdout"));
  REAPER_RETURN_IF_ERROR(
      stdio->OpenOutput(paths.stderr_path, &stdio->stderr_holder_, &stdio->child_.stderr_fd)
          .Annotate("open stderr"));
  stdio->stdout_drainable_ = stdio->ShrinkToOnePage(stdio->stdout_holder_);
  stdio->stderr_drainable_ = stdio->ShrinkToOnePage(stdio->stderr_holder_);
  return stdio;
}

ProcessStdio::~ProcessStdio() { CloseAll(); }

Status ProcessStdio::OpenStdin(const std::string& path) {
  if (path.empty()) {
    Result<int> null = kernel_.Open(kDevNull, O_RDONLY | O_CLOEXEC);
    if (!null.ok()) return null.status().Annotate("open stdin");
    child_.stdin_fd = *null;
    return Status::Ok();
  }

  // A blocking open would wait for a writer; the client opens its write end
  // in the background, so it may not exist yet.
  Result<int> reader = kernel_.Open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (!reader.ok()) return reader.status().Annotate("open stdin");
  child_.stdin_fd = *reader;

  // The process expects blocking reads on its fd 0.
  Result<int> flags = kernel_.Fcntl(*reader, F_GETFL, 0);
  if (!flags.ok()) return flags.status().Annotate("open stdin " + path);
  Result<int> cleared = kernel_.Fcntl(*reader, F_SETFL, *flags & ~O_NONBLOCK);
  if (!cleared.ok()) return cleared.status().Annotate("open stdin " + path);

  // Succeeds without blocking because the reader above exists.
  Result<int> writer = kernel_.Open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (!writer.ok()) return writer.status().Annotate("open stdin");
  stdin_writer_ = *writer;
  return Status::Ok();
}

Status ProcessStdio::OpenOutput(const std::string& uri, int* holder, int* child_end) {
  if (uri.empty()) {
    Result<int> null = kernel_.Open(kDevNull, O_WRONLY | O_CLOEXEC);
    if (!null.ok()) return null.status();
    *child_end = *null;
    return Status::Ok();
  }
  if (StartsWith(uri, kBinaryScheme)) {
    return Status(Code::kUnimplemented, "logging binaries (" + QuoteForMessage(uri) +
                                            ") are not supported by Reaper yet");
  }
  if (StartsWith(uri, kFileScheme)) {
    Result<int> file = kernel_.Open(uri.substr(sizeof(kFileScheme) - 1),
                                    O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (!file.ok()) return file.status();
    *child_end = *file;
    return Status::Ok();
  }

  std::string path = StartsWith(uri, kFifoScheme) ? uri.substr(sizeof(kFifoScheme) - 1) : uri;
  Result<int> read_write = kernel_.Open(path, O_RDWR | O_CLOEXEC);
  if (!read_write.ok()) return read_write.status();
  *holder = *read_write;

  // O_NONBLOCK makes a FIFO open for writing fail with ENXIO instead of
  // blocking when there is no reader, and the fd above is a reader. The
  // process expects blocking writes, so O_NONBLOCK is cleared afterwards.
  Result<int> writer = kernel_.Open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (!writer.ok()) return writer.status();
  *child_end = *writer;
  Result<int> flags = kernel_.Fcntl(*writer, F_GETFL, 0);
  if (!flags.ok()) return flags.status();
  return kernel_.Fcntl(*writer, F_SETFL, *flags & ~O_NONBLOCK).status();
}

bool ProcessStdio::ShrinkToOnePage(int holder) {
  if (holder < 0) return false;
  Result<int> size = kernel_.Fcntl(holder, F_SETPIPE_SZ, kOnePage);
  return size.ok() && *size == kOnePage;
}

std::vector<int> ProcessStdio::UndrainedOutputs() {
  std::vector<int> fds;
  for (auto [holder, drainable] : {std::make_pair(stdout_holder_, stdout_drainable_),
                                   std::make_pair(stderr_holder_, stderr_drainable_)}) {
    if (holder < 0 || !drainable) continue;
    Result<int> unread = kernel_.BytesReadable(holder);
    if (unread.ok() && *unread > 0) fds.push_back(holder);
  }
  return fds;
}

void ProcessStdio::CloseFd(int* fd) {
  if (*fd < 0) return;
  (void)kernel_.Close(*fd);
  *fd = -1;
}

void ProcessStdio::CloseChildEnds() {
  CloseFd(&child_.stdin_fd);
  CloseFd(&child_.stdout_fd);
  CloseFd(&child_.stderr_fd);
}

void ProcessStdio::CloseStdin() { CloseFd(&stdin_writer_); }

void ProcessStdio::CloseOutputs() {
  CloseFd(&stdout_holder_);
  CloseFd(&stderr_holder_);
}

void ProcessStdio::CloseAll() {
  CloseChildEnds();
  CloseStdin();
  CloseOutputs();
}

}  // namespace reaper::shim
