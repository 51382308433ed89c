#include "runtime/mount_info.h"

#include <cstdlib>
#include <sstream>

#include "common/files.h"

namespace reaper {
namespace runtime {
namespace {

// A large host can have thousands of mounts; 16 MiB is far above that.
constexpr size_t kMaxMountInfoBytes = 16 << 20;

// Undoes the octal escapes (\040 space, \011 tab, \012 newline, \134
// backslash) that the kernel writes in paths.
std::string Unescape(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 3 < text.size()) {
      const std::string digits = text.substr(i + 1, 3);
      bool octal = true;
      for (char c : digits) octal = octal && c >= '0' && c <= '7';
      if (octal) {
        out += static_cast<char>(std::strtol(digits.c_str(), nullptr, 8));
        i += 3;
        continue;
      }
    }
    out += text[i];
  }
  return out;
}

Result<MountEntry> ParseLine(const std::string& line, size_t line_number) {
  std::istringstream fields(line);
  std::vector<std::string> words;
  std::string word;
  while (fields >> word) words.push_back(word);

  auto invalid = [&]() {
    return Status(Code::kInvalidArgument,
                  "malformed mountinfo line " + std::to_string(line_number) + ": " + line);
  };
  // 6 fixed fields, optional fields, "-", then fstype, source, super options.
  if (words.size() < 10) return invalid();
  size_t separator = 6;
  while (separator < words.size() && words[separator] != "-") ++separator;
  if (separator + 3 > words.size()) return invalid();

  MountEntry entry;
  entry.id = std::atoi(words[0].c_str());
  entry.parent_id = std::atoi(words[1].c_str());
  entry.root = Unescape(words[3]);
  entry.mount_point = Unescape(words[4]);
  entry.options = words[5];
  entry.optional_fields.assign(words.begin() + 6, words.begin() + separator);
  entry.fstype = words[separator + 1];
  entry.source = Unescape(words[separator + 2]);
  return entry;
}

}  // namespace

Result<std::vector<MountEntry>> ParseMountInfo(const std::string& text) {
  std::vector<MountEntry> mounts;
  std::istringstream lines(text);
  std::string line;
  size_t line_number = 0;
  while (std::getline(lines, line)) {
    ++line_number;
    if (line.empty()) continue;
    Result<MountEntry> entry = ParseLine(line, line_number);
    if (!entry.ok()) return entry.status();
    mounts.push_back(std::move(*entry));
  }
  return mounts;
}

Result<std::vector<MountEntry>> ReadMountInfo(sys::Kernel& kernel) {
  Result<std::string> text = ReadFile(kernel, "/proc/self/mountinfo", kMaxMountInfoBytes);
  if (!text.ok()) return text.status();
  return ParseMountInfo(*text);
}

const MountEntry* FindMount(const std::vector<MountEntry>& mounts, const std::string& mount_point) {
  const MountEntry* found = nullptr;
  for (const MountEntry& entry : mounts) {
    if (entry.mount_point == mount_point) found = &entry;
  }
  return found;
}

bool IsShared(const MountEntry& entry) {
  for (const std::string& field : entry.optional_fields) {
    if (field.compare(0, 7, "shared:") == 0) return true;
  }
  return false;
}

}  // namespace runtime
}  // namespace reaper
