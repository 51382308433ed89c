#include "shim/runtime_client.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>

#include <cerrno>
#include <utility>

#include "common/files.h"
#include "common/json.h"

namespace reaper::shim {
namespace {

constexpr char kRuntimeName[] = "reaper-runtime";
constexpr char kDevNull[] = "/dev/null";
constexpr size_t kMaxOutputBytes = 1 << 20;
constexpr int kExecutable = 1;  // X_OK of access(2), from <unistd.h>

// Reads `fd` until end of file, keeping at most kMaxOutputBytes.
std::string ReadToEnd(sys::Kernel& kernel, int fd) {
  std::string text;
  char buffer[4096];
  while (true) {
    Result<size_t> count = kernel.Read(fd, buffer, sizeof(buffer));
    if (!count.ok() || *count == 0) break;
    if (text.size() < kMaxOutputBytes) text.append(buffer, *count);
  }
  return text;
}

std::string DescribeWaitStatus(int raw_status) {
  if (WIFSIGNALED(raw_status)) return "was killed by signal " + std::to_string(WTERMSIG(raw_status));
  return "exited with status " + std::to_string(WEXITSTATUS(raw_status));
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

ReaperRuntimeClient::ReaperRuntimeClient(sys::Kernel& kernel, Logger& logger, Options options)
    : kernel_(kernel), logger_(logger), options_(std::move(options)) {}

Result<std::string> ReaperRuntimeClient::TaskDirectory(const std::string& id) {
  std::string directory = options_.work_dir + "/" + id;
  REAPER_RETURN_IF_ERROR(MakeDirectories(kernel_, directory, 0700));
  return directory;
}

Result<pid_t> ReaperRuntimeClient::Create(const std::string& id, const std::string& bundle,
                                          const ChildStdio& stdio) {
  Result<std::string> directory = TaskDirectory(id);
  if (!directory.ok()) return directory.status();
  const std::string pid_file = *directory + "/init.pid";
  (void)kernel_.Unlink(pid_file);

  REAPER_RETURN_IF_ERROR(
      Run(id, "create", {"--bundle", bundle, "--pid-file", pid_file, id}, stdio, nullptr));
  return ReadPidFile(pid_file);
}

Status ReaperRuntimeClient::Start(const std::string& id) {
  return Run(id, "start", {id}, ChildStdio{}, nullptr);
}

Result<pid_t> ReaperRuntimeClient::Exec(const std::string& id, const std::string& exec_id,
                                        const std::string& process_json,
                                        const ChildStdio& stdio) {
  Result<std::string> directory = TaskDirectory(id);
  if (!directory.ok()) return directory.status();
  const std::string process_file = *directory + "/exec-" + exec_id + ".json";
  const std::string pid_file = *directory + "/exec-" + exec_id + ".pid";
  (void)kernel_.Unlink(pid_file);
  REAPER_RETURN_IF_ERROR(WriteFileAtomic(kernel_, process_file, process_json, 0600)
                             .Annotate("write the process spec of exec " + exec_id));

  REAPER_RETURN_IF_ERROR(Run(
      id, "exec", {"--process", process_file, "--pid-file", pid_file, "--detach", id}, stdio,
      nullptr));
  return ReadPidFile(pid_file);
}

Status ReaperRuntimeClient::Delete(const std::string& id, bool force) {
  std::vector<std::string> arguments;
  if (force) arguments.push_back("--force");
  arguments.push_back(id);
  return Run(id, "delete", arguments, ChildStdio{}, nullptr);
}

Result<std::string> ReaperRuntimeClient::State(const std::string& id) {
  std::string output;
  REAPER_RETURN_IF_ERROR(Run(id, "state", {id}, ChildStdio{}, &output));
  return output;
}

Result<pid_t> ReaperRuntimeClient::ReadPidFile(const std::string& path) {
  Result<std::string> text = ReadFile(kernel_, path, 64);
  if (!text.ok()) return text.status().Annotate("read the pid file");
  long long pid = 0;
  size_t digits = 0;
  for (char c : *text) {
    if (c == '\n' || c == ' ') continue;
    if (c < '0' || c > '9' || pid > 100000000) {
      return Status(Code::kInternal, "pid file " + path + " does not hold a pid");
    }
    pid = pid * 10 + (c - '0');
    ++digits;
  }
  if (digits == 0 || pid <= 0) {
    return Status(Code::kInternal, "pid file " + path + " does not hold a pid");
  }
  return static_cast<pid_t>(pid);
}

Status ReaperRuntimeClient::Run(const std::string& id, const std::string& verb,
                                const std::vector<std::string>& verb_arguments,
                                const ChildStdio& stdio, std::string* output) {
  if (options_.runtime_path.empty()) {
    return Status(Code::kFailedPrecondition, "no reaper-runtime binary is configured");
  }
  Result<std::string> directory = TaskDirectory(id);
  if (!directory.ok()) return directory.status();
  const std::string log_path = *directory + "/" + verb + ".log";
  (void)kernel_.Unlink(log_path);

  std::vector<std::string> argv = {options_.runtime_path, "--root", options_.root, "--log",
                                   log_path, "--log-format", "json"};
  if (options_.debug) argv.push_back("--debug");
  argv.push_back(verb);
  argv.insert(argv.end(), verb_arguments.begin(), verb_arguments.end());

  logger_.Debug("run reaper-runtime", {{"verb", verb}, {"id", id}});
  return RunChecked(id, verb, log_path, argv, stdio, output)
      .Annotate(std::string(kRuntimeName) + " " + verb);
}

Status ReaperRuntimeClient::RunChecked(const std::string& id, const std::string& verb,
                                       const std::string& log_path,
                                       const std::vector<std::string>& argv, ChildStdio stdio,
                                       std::string* output) {
  // Streams the caller leaves out read and write /dev/null, so that
  // reaper-runtime never inherits the shim's own 0/1/2.
  std::vector<int> opened;
  for (int* fd : {&stdio.stdin_fd, &stdio.stdout_fd, &stdio.stderr_fd}) {
    if (*fd >= 0) continue;
    Result<int> null = kernel_.Open(kDevNull, O_RDWR | O_CLOEXEC);
    if (!null.ok()) return null.status();
    *fd = *null;
    opened.push_back(*null);
  }
  int capture_read = -1;
  if (output != nullptr) {
    Result<std::pair<int, int>> pipe = kernel_.Pipe(O_CLOEXEC);
    if (!pipe.ok()) return pipe.status();
    capture_read = pipe->first;
    stdio.stdout_fd = pipe->second;
    opened.push_back(pipe->second);
  }

  int error_pipe = -1;
  Result<pid_t> pid = Spawn(argv, stdio, &error_pipe);
  for (int fd : opened) (void)kernel_.Close(fd);
  if (!pid.ok()) {
    if (capture_read >= 0) (void)kernel_.Close(capture_read);
    return pid.status();
  }

  // The error pipe is close-on-exec: end of file without data means execve
  // succeeded.
  std::string exec_error = ReadToEnd(kernel_, error_pipe);
  (void)kernel_.Close(error_pipe);
  if (capture_read >= 0) {
    *output = ReadToEnd(kernel_, capture_read);
    (void)kernel_.Close(capture_read);
  }
  Result<sys::WaitResult> waited = kernel_.Wait(*pid, 0);
  if (!waited.ok()) return waited.status();

  if (!exec_error.empty()) return Status(Code::kFailedPrecondition, exec_error);
  if (WIFEXITED(waited->status) && WEXITSTATUS(waited->status) == 0) return Status::Ok();

  Result<std::string> log = ReadFile(kernel_, log_path, kMaxOutputBytes);
  std::string message = log.ok() ? LastRuntimeError(*log) : std::string();
  if (message.empty()) {
    message = DescribeWaitStatus(waited->status) + " without an error message (log " + log_path +
              ")";
  }
  logger_.Debug("reaper-runtime failed",
                {{"verb", verb}, {"id", id}, {"pid", std::to_string(*pid)}, {"error", message}});
  return Status(CodeOfRuntimeError(message), message);
}

Result<pid_t> ReaperRuntimeClient::Spawn(const std::vector<std::string>& argv,
                                         const ChildStdio& stdio, int* error_pipe) {
  Result<std::pair<int, int>> pipe = kernel_.Pipe(O_CLOEXEC);
  if (!pipe.ok()) return pipe.status();

  Result<pid_t> pid = kernel_.Fork();
  if (!pid.ok()) {
    (void)kernel_.Close(pipe->first);
    (void)kernel_.Close(pipe->second);
    return pid.status();
  }
  if (*pid == 0) {
    (void)kernel_.Close(pipe->first);
    ExecRuntimeChild(kernel_, argv, options_.environment, stdio, pipe->second);
  }
  (void)kernel_.Close(pipe->second);
  *error_pipe = pipe->first;
  return *pid;
}

void ExecRuntimeChild(sys::Kernel& kernel, const std::vector<std::string>& argv,
                      const std::vector<std::string>& environment, ChildStdio stdio,
                      int error_pipe) {
  // The shim blocks SIGCHLD and ignores SIGPIPE; reaper-runtime and the
  // workload it starts expect neither.
  Status status = kernel.SetSignalMask(SIG_SETMASK, {});
  if (status.ok()) status = kernel.ResetSignalDispositions();

  // Moves sources that sit on 0, 1 or 2 out of the way, so that putting one
  // stream in place cannot overwrite another stream's source.
  int* sources[] = {&stdio.stdin_fd, &stdio.stdout_fd, &stdio.stderr_fd};
  for (int target = 0; status.ok() && target < 3; ++target) {
    int* source = sources[target];
    if (*source > 2 || *source == target) continue;
    Result<int> moved = kernel.Fcntl(*source, F_DUPFD_CLOEXEC, 3);
    status = moved.status();
    if (moved.ok()) *source = *moved;
  }
  for (int target = 0; status.ok() && target < 3; ++target) {
    int source = *sources[target];
    if (source == target) {
      status = kernel.Fcntl(target, F_SETFD, 0).status();
    } else {
      status = kernel.Dup3(source, target, 0).status();
    }
  }

  if (status.ok()) status = kernel.Execve(argv[0], argv, environment);
  const std::string& message = status.message();
  (void)kernel.Write(error_pipe, message.data(), message.size());
  kernel.Exit(127);
}

std::string LastRuntimeError(const std::string& log_text) {
  std::string last;
  size_t start = 0;
  while (start < log_text.size()) {
    size_t end = log_text.find('\n', start);
    if (end == std::string::npos) end = log_text.size();
    Result<json::Value> line = json::Parse(log_text.substr(start, end - start));
    start = end + 1;
    if (!line.ok()) continue;
    const json::Value* level = line->Find("level");
    const json::Value* message = line->Find("msg");
    if (level == nullptr || message == nullptr || !message->is_string()) continue;
    if (level->string_value() == "error") last = message->string_value();
  }
  return last;
}

Code CodeOfRuntimeError(const std::string& message) {
  // reaper-runtime reports an unknown id as "container <id> does not exist".
  if (Contains(message, "does not exist")) return Code::kNotFound;
  if (message.compare(0, 7, "invalid") == 0) return Code::kInvalidArgument;
  return Code::kInternal;
}

Result<std::string> FindRuntimeBinary(sys::Kernel& kernel, const std::string& configured,
                                      const Environment& environment) {
  if (!configured.empty()) return configured;

  std::vector<std::string> directories;
  Result<std::string> self = kernel.Readlink("/proc/self/exe");
  if (self.ok() && self->rfind('/') != std::string::npos) {
    directories.push_back(self->substr(0, self->rfind('/')));
  }
  auto path = environment.find("PATH");
  if (path != environment.end()) {
    size_t start = 0;
    while (start <= path->second.size()) {
      size_t end = path->second.find(':', start);
      if (end == std::string::npos) end = path->second.size();
      std::string directory = path->second.substr(start, end - start);
      if (!directory.empty() && directory[0] == '/') directories.push_back(directory);
      start = end + 1;
    }
  }

  for (const std::string& directory : directories) {
    std::string candidate = directory + "/" + kRuntimeName;
    if (kernel.Access(candidate, kExecutable).ok()) return candidate;
  }
  return Status(Code::kFailedPrecondition,
                std::string(kRuntimeName) + " was not found next to the shim binary or in PATH; "
                "install it there or set REAPER_RUNTIME_PATH");
}

}  // namespace reaper::shim
