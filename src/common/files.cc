#include "common/files.h"

#include <fcntl.h>

#include <cerrno>

namespace reaper {

Result<std::string> ReadFile(sys::Kernel& kernel, const std::string& path, size_t max_bytes) {
  Result<int> fd = kernel.Open(path, O_RDONLY | O_CLOEXEC);
  if (!fd.ok()) return fd.status();

  std::string content;
  char buffer[8192];
  Status status;
  while (true) {
    Result<size_t> count = kernel.Read(*fd, buffer, sizeof(buffer));
    if (!count.ok()) {
      status = count.status();
      break;
    }
    if (*count == 0) break;
    content.append(buffer, *count);
    if (content.size() > max_bytes) {
      status = Status(Code::kInvalidArgument,
                      "read " + path + ": file is larger than " + std::to_string(max_bytes) +
                          " bytes");
      break;
    }
  }
  (void)kernel.Close(*fd);
  if (!status.ok()) return status;
  return content;
}

Status WriteAll(sys::Kernel& kernel, int fd, const std::string& data) {
  size_t written = 0;
  while (written < data.size()) {
    Result<size_t> count = kernel.Write(fd, data.data() + written, data.size() - written);
    if (!count.ok()) return count.status();
    written += *count;
  }
  return Status::Ok();
}

Status WriteFileAtomic(sys::Kernel& kernel, const std::string& path, const std::string& data,
                       mode_t mode) {
  const std::string temporary = path + ".tmp";
  Result<int> fd = kernel.Open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (!fd.ok()) return fd.status();

  Status status = WriteAll(kernel, *fd, data);
  Status closed = kernel.Close(*fd);
  if (status.ok()) status = closed;
  if (status.ok()) status = kernel.Rename(temporary, path);
  if (!status.ok()) (void)kernel.Unlink(temporary);
  return status;
}

Status MakeDirectories(sys::Kernel& kernel, const std::string& path, mode_t mode) {
  if (path.empty()) return Status::Ok();
  size_t position = 0;
  while (position != std::string::npos) {
    position = path.find('/', position + 1);
    std::string prefix = path.substr(0, position);
    if (prefix.empty()) continue;
    Status status = kernel.Mkdir(prefix, mode);
    if (!status.ok() && status.error_number() != EEXIST) return status;
  }
  Result<sys::FileInfo> info = kernel.Stat(path);
  if (!info.ok()) return info.status();
  if (info->type != sys::FileInfo::Type::kDirectory) {
    return Status(Code::kInvalidArgument, "mkdir " + path + ": exists and is not a directory",
                  ENOTDIR);
  }
  return Status::Ok();
}

Status RemoveTree(sys::Kernel& kernel, const std::string& path) {
  Result<sys::FileInfo> info = kernel.Lstat(path);
  if (!info.ok()) {
    return info.status().error_number() == ENOENT ? Status::Ok() : info.status();
  }
  if (info->type != sys::FileInfo::Type::kDirectory) {
    Status status = kernel.Unlink(path);
    return status.error_number() == ENOENT ? Status::Ok() : status;
  }

  Result<std::vector<std::string>> entries = kernel.ListDirectory(path);
  if (!entries.ok()) return entries.status();
  for (const std::string& entry : *entries) {
    REAPER_RETURN_IF_ERROR(RemoveTree(kernel, path + "/" + entry));
  }
  Status status = kernel.Rmdir(path);
  return status.error_number() == ENOENT ? Status::Ok() : status;
}

}  // namespace reaper
