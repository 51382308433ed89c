#include "shim/bootstrap.h"

#include <fcntl.h>
#include <signal.h>

#include <cerrno>
#include <cstdlib>

#include "common/files.h"
#include "common/ids.h"
#include "common/json.h"
#include "containerd/runtime/bootstrap/v1/bootstrap.pb.h"
#include "containerd/runtimeoptions/v1/api.pb.h"
#include "google/protobuf/any.pb.h"
#include "shim/bundle.h"
#include "shim/sha256.h"
#include "shim/shim_server.h"

namespace reaper::shim {
namespace {

constexpr char kOptionsTypeName[] = "runtimeoptions.v1.Options";
// The file in the bundle that keeps the runtime options' config_path for the
// delete action.
constexpr char kConfigPathFile[] = "reaper-config-path";
constexpr size_t kMaxConfigPathBytes = 4096;
constexpr char kUnixScheme[] = "unix://";
constexpr char kDevNull[] = "/dev/null";
// sizeof(sockaddr_un.sun_path) minus the terminating NUL.
constexpr size_t kMaxSocketPathLength = 107;
constexpr int kListenBacklog = 64;
constexpr int kMaxOomScoreAdj = 1000;
constexpr int kLockExclusive = 2;  // LOCK_EX of flock(2), from <sys/file.h>

bool EndsWith(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string ReadAll(sys::Kernel& kernel, int fd) {
  std::string data;
  char buffer[4096];
  while (true) {
    Result<size_t> count = kernel.Read(fd, buffer, sizeof(buffer));
    if (!count.ok() || *count == 0) return data;
    data.append(buffer, *count);
  }
}

void WriteText(sys::Kernel& kernel, int fd, const std::string& text) {
  (void)WriteAll(kernel, fd, text);
}

// Logs to the bundle's `log` FIFO, which containerd copies into its own log,
// and to REAPER_LOG_FILE when set. Opening the FIFO without O_NONBLOCK would
// block forever if containerd had not opened its end. With O_NONBLOCK the
// open fails (ENXIO) instead, and the shim logs to the file alone.
int OpenLogFifo(sys::Kernel& kernel) {
  Result<int> fd = kernel.Open("log", O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (!fd.ok()) return -1;
  Result<int> flags = kernel.Fcntl(*fd, F_GETFL, 0);
  if (flags.ok()) (void)kernel.Fcntl(*fd, F_SETFL, *flags & ~O_NONBLOCK);
  return *fd;
}

void AddLogFile(sys::Kernel& kernel, Logger& logger, const Config& config) {
  if (config.log_file.empty()) return;
  Result<int> fd = kernel.Open(config.log_file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd.ok()) logger.AddFd(*fd);
}

void SetLogLevel(Logger& logger, const ShimFlags& flags, const Config& config) {
  logger.SetLevel(flags.debug ? LogLevel::kDebug : config.log_level);
}

// Loads the configuration; a config_path from the runtime options wins over
// REAPER_CONFIG and is passed on to reaper-runtime in its environment. The
// path is also saved in the bundle, because containerd runs the delete
// action without runtime options.
Result<Config> LoadStartConfig(sys::Kernel& kernel, const std::string& bundle,
                               std::vector<std::string>* environment) {
  std::string ignored_type;
  Result<std::string> config_path = ConfigPathFromOptions(ReadAll(kernel, 0), &ignored_type);
  if (!config_path.ok()) return config_path.status().Annotate("read runtime options from stdin");
  if (!config_path->empty()) {
    environment->push_back("REAPER_CONFIG=" + *config_path);
    Status saved = WriteFileAtomic(kernel, bundle + "/" + kConfigPathFile, *config_path, 0600);
    if (!saved.ok()) return saved.Annotate("save the runtime options' config path");
  }

  Environment variables = EnvironmentFromStrings(*environment);
  if (!config_path->empty()) variables["REAPER_CONFIG"] = *config_path;
  Result<Config> config = LoadConfig(kernel, variables);
  if (config.ok() && !ignored_type.empty()) {
    config->warnings.push_back("runtime options of type " + ignored_type +
                               " ignored: Reaper reads only runtimeoptions.v1.Options "
                               "(ConfigPath); fix the options table of the runtime in "
                               "containerd's configuration");
  }
  return config;
}

// Reports whether a server accepts connections on `path`.
bool ServerAccepts(sys::Kernel& kernel, const std::string& path) {
  Result<int> probe = kernel.UnixSocket(sys::kSockStream | sys::kSockCloexec);
  if (!probe.ok()) return false;
  Status connected = kernel.Connect(*probe, path);
  (void)kernel.Close(*probe);
  return connected.ok();
}

// Binds `path`, replacing a stale socket. Returns the listening fd, or -1
// when a live server already owns the path.
Result<int> BindOrReuse(sys::Kernel& kernel, const std::string& path) {
  Result<int> socket = kernel.UnixSocket(sys::kSockStream | sys::kSockCloexec);
  if (!socket.ok()) return socket.status();

  Status bound = kernel.Bind(*socket, path);
  if (!bound.ok() && bound.error_number() == EADDRINUSE) {
    if (ServerAccepts(kernel, path)) {
      (void)kernel.Close(*socket);
      return -1;
    }
    (void)kernel.Unlink(path);
    bound = kernel.Bind(*socket, path);
  }
  if (bound.ok()) bound = kernel.Chmod(path, 0600);
  if (bound.ok()) bound = kernel.Listen(*socket, kListenBacklog);
  if (!bound.ok()) {
    (void)kernel.Close(*socket);
    return bound;
  }
  return *socket;
}

// Gives the server containerd's oom_score_adj + 1, so that the kernel's OOM
// killer picks the shim before containerd. Best effort, as in the Go shims.
void AdjustOomScore(sys::Kernel& kernel, pid_t server_pid) {
  const std::string parent =
      "/proc/" + std::to_string(kernel.GetParentPid()) + "/oom_score_adj";
  Result<std::string> text = ReadFile(kernel, parent, 32);
  if (!text.ok()) return;
  int score = std::atoi(text->c_str()) + 1;
  if (score > kMaxOomScoreAdj) score = kMaxOomScoreAdj;
  Result<int> fd =
      kernel.Open("/proc/" + std::to_string(server_pid) + "/oom_score_adj", O_WRONLY | O_CLOEXEC);
  if (!fd.ok()) return;
  WriteText(kernel, *fd, std::to_string(score));
  (void)kernel.Close(*fd);
}

// The forked server: detaches from containerd's session and from the pipe of
// `start`'s fds 1 and 2, then serves. Never returns.
void BecomeServer(sys::Kernel& kernel, ServerSetup setup) {
  CloseInheritedFds(kernel, setup.listen_fd);
  (void)kernel.SetSid();

  Result<int> null = kernel.Open(kDevNull, O_RDWR | O_CLOEXEC);
  int log_fd = OpenLogFifo(kernel);
  if (null.ok()) {
    (void)kernel.Dup3(*null, 0, 0);
    (void)kernel.Dup3(*null, 1, 0);
    (void)kernel.Dup3(log_fd >= 0 ? log_fd : *null, 2, 0);
    (void)kernel.Close(*null);
  }
  if (log_fd >= 0) (void)kernel.Close(log_fd);

  Logger logger(kernel);
  logger.AddFd(2);
  AddLogFile(kernel, logger, setup.config);
  SetLogLevel(logger, setup.flags, setup.config);
  for (const std::string& warning : setup.config.warnings) logger.Warning(warning);
  kernel.Exit(RunServer(kernel, logger, setup));
}

// Steps of start after the configuration is loaded. Returns the address to
// print.
Result<std::string> StartServer(sys::Kernel& kernel, const ShimFlags& flags,
                                const std::string& bundle, const Config& config,
                                const std::vector<std::string>& environment, Logger& logger) {
  Result<BundleAnnotations> annotations = ReadBundleAnnotations(kernel, bundle);
  if (!annotations.ok()) return annotations.status();
  const std::string group = annotations->sandbox_id.empty() ? flags.id : annotations->sandbox_id;
  REAPER_RETURN_IF_ERROR(ValidateId("pod", group));

  const std::string path =
      SocketPathFor(config.state_dir, flags.address, flags.namespace_name, group);
  if (path.size() > kMaxSocketPathLength) {
    return Status(Code::kInvalidArgument, "socket path " + path + " is longer than " +
                                              std::to_string(kMaxSocketPathLength) +
                                              " bytes; choose a shorter REAPER_STATE_DIR");
  }
  const std::string address = kUnixScheme + path;
  // 0700 and not the Go shims' 0600: as private, and usable by a shim that
  // runs without CAP_DAC_OVERRIDE.
  REAPER_RETURN_IF_ERROR(MakeDirectories(kernel, path.substr(0, path.rfind('/')), 0700));

  // Serializes concurrent starts of one pod, so that two of them cannot
  // both find no server and both start one.
  const std::string lock_path = path + ".lock";
  Result<int> lock = kernel.Open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (!lock.ok()) return lock.status();
  Status locked = kernel.Flock(*lock, kLockExclusive);
  Result<int> listen_fd = locked.ok() ? BindOrReuse(kernel, path) : Result<int>(locked);
  if (!listen_fd.ok() || *listen_fd < 0) {
    (void)kernel.Close(*lock);
    if (!listen_fd.ok()) return listen_fd.status().Annotate("listen on " + path);
    logger.Info("reusing the pod's shim server", {{"id", flags.id}, {"address", address}});
    REAPER_RETURN_IF_ERROR(WriteFileAtomic(kernel, bundle + "/address", address, 0600));
    return address;
  }

  Result<pid_t> server = kernel.Fork();
  if (!server.ok()) {
    (void)kernel.Close(*listen_fd);
    (void)kernel.Close(*lock);
    return server.status().Annotate("fork the shim server");
  }
  if (*server == 0) {
    BecomeServer(kernel, ServerSetup{flags, config, environment, *listen_fd, path, lock_path});
  }
  (void)kernel.Close(*listen_fd);
  AdjustOomScore(kernel, *server);
  Status written = WriteFileAtomic(kernel, bundle + "/address", address, 0600);
  (void)kernel.Close(*lock);
  REAPER_RETURN_IF_ERROR(written);
  logger.Info("shim server forked",
              {{"id", flags.id}, {"pid", std::to_string(*server)}, {"address", address}});
  return address;
}

}  // namespace

std::string SocketPathFor(const std::string& state_dir, const std::string& containerd_address,
                          const std::string& namespace_name, const std::string& group) {
  return state_dir + "/s/" + Sha256Hex(containerd_address + "/" + namespace_name + "/" + group);
}

std::string RuntimeRootFor(const std::string& runtime_root, const std::string& namespace_name) {
  return runtime_root + "/" + namespace_name;
}

std::string WorkDirectoryFor(const std::string& state_dir, const std::string& namespace_name) {
  return state_dir + "/shim/" + namespace_name;
}

Result<std::string> ConfigPathFromOptions(const std::string& stdin_bytes,
                                          std::string* ignored_type) {
  if (stdin_bytes.empty()) return std::string();
  ::google::protobuf::Any any;
  // containerd 2.3 and later send BootstrapParams, whose fields 1 and 2
  // also decode as an Any. Only BootstrapParams carries field 5 or 6.
  ::containerd::runtime::bootstrap::v1::BootstrapParams params;
  if (params.ParseFromString(stdin_bytes) &&
      (!params.containerd_ttrpc_address().empty() || !params.containerd_grpc_address().empty())) {
    for (const auto& extension : params.extensions()) {
      if (EndsWith(extension.value().type_url(), kOptionsTypeName)) any = extension.value();
    }
  } else if (!any.ParseFromString(stdin_bytes)) {
    return std::string();
  }
  if (!EndsWith(any.type_url(), kOptionsTypeName)) {
    if (ignored_type != nullptr) *ignored_type = any.type_url();
    return std::string();
  }
  ::runtimeoptions::v1::Options options;
  if (!options.ParseFromString(any.value())) {
    return Status(Code::kInvalidArgument, "cannot decode runtimeoptions.v1.Options");
  }
  return options.config_path();
}

void CloseInheritedFds(sys::Kernel& kernel, int keep) {
  Result<std::vector<std::string>> names = kernel.ListDirectory("/proc/self/fd");
  if (!names.ok()) return;
  for (const std::string& name : *names) {
    int fd = std::atoi(name.c_str());
    // The fd that listed the directory is closed already and fails harmlessly.
    if (fd > 2 && fd != keep) (void)kernel.Close(fd);
  }
}

int RunStart(sys::Kernel& kernel, const ShimFlags& flags,
             const std::vector<std::string>& environment) {
  // Until the server is forked, stderr is containerd's pipe: it carries
  // only the error that fails start, which containerd shows to its caller.
  Logger logger(kernel);
  int log_fd = OpenLogFifo(kernel);
  if (log_fd >= 0) logger.AddFd(log_fd);

  std::vector<std::string> server_environment = environment;
  Status status = ValidateId("container", flags.id);
  if (status.ok()) status = ValidateId("namespace", flags.namespace_name);
  Result<std::string> bundle = kernel.Getcwd();
  if (status.ok()) status = bundle.status();
  Result<Config> config = status.ok() ? LoadStartConfig(kernel, *bundle, &server_environment)
                                      : Result<Config>(status);
  Result<std::string> address = config.ok() ? Result<std::string>(Status()) : config.status();
  if (config.ok()) {
    AddLogFile(kernel, logger, *config);
    SetLogLevel(logger, flags, *config);
    for (const std::string& warning : config->warnings) logger.Warning(warning);
    address = StartServer(kernel, flags, *bundle, *config, server_environment, logger);
  }
  if (!address.ok()) {
    WriteText(kernel, 2, "start task " + flags.id + ": " + address.status().message() + "\n");
    return 1;
  }
  WriteText(kernel, 1, *address);
  return 0;
}

::containerd::task::v2::DeleteResponse CleanupTask(sys::Kernel& kernel, RuntimeClient& runtime,
                                                   const std::string& work_dir,
                                                   const std::string& id,
                                                   std::vector<std::string>* warnings) {
  ::containerd::task::v2::DeleteResponse response;
  Result<std::string> state = runtime.State(id);
  if (state.ok()) {
    Result<json::Value> document = json::Parse(*state);
    const json::Value* pid = document.ok() ? document->Find("pid") : nullptr;
    if (pid != nullptr && pid->is_integer() && pid->integer_value() > 0) {
      response.set_pid(static_cast<uint32_t>(pid->integer_value()));
    }
  }

  Status deleted = runtime.Delete(id, true);
  if (!deleted.ok() && deleted.code() != Code::kNotFound) {
    warnings->push_back("delete task " + id + ": " + deleted.message());
  }
  Status removed = RemoveTree(kernel, work_dir + "/" + id);
  if (!removed.ok()) warnings->push_back("remove the shim's files of task " + id + ": " +
                                         removed.message());

  // The status containerd's runc shim reports for a task it cleaned up:
  // killed by SIGKILL.
  response.set_exit_status(128 + SIGKILL);
  sys::Timespec now = kernel.Now();
  response.mutable_exited_at()->set_seconds(now.seconds);
  response.mutable_exited_at()->set_nanos(now.nanos);
  return response;
}

int RunDelete(sys::Kernel& kernel, const ShimFlags& flags,
              const std::vector<std::string>& environment) {
  Status valid = ValidateId("container", flags.id);
  if (valid.ok()) valid = ValidateId("namespace", flags.namespace_name);
  if (!valid.ok()) {
    WriteText(kernel, 2, "delete: " + valid.message() + "\n");
    return 1;
  }

  std::vector<std::string> warnings;
  std::vector<std::string> runtime_environment = environment;
  Environment variables = EnvironmentFromStrings(environment);
  // containerd sends no runtime options to delete, so the config_path that
  // start received comes from the bundle.
  Result<std::string> bundle = flags.bundle.empty() ? kernel.Getcwd() : flags.bundle;
  Result<std::string> config_path =
      bundle.ok() ? ReadFile(kernel, *bundle + "/" + kConfigPathFile, kMaxConfigPathBytes)
                  : Result<std::string>(bundle.status());
  if (config_path.ok() && !config_path->empty()) {
    variables["REAPER_CONFIG"] = *config_path;
    runtime_environment.push_back("REAPER_CONFIG=" + *config_path);
  } else if (!config_path.ok() && config_path.status().error_number() != ENOENT) {
    warnings.push_back("read the saved config path: " + config_path.status().message());
  }
  Result<Config> config = LoadConfig(kernel, variables);
  if (!config.ok()) {
    warnings.push_back("load the configuration: " + config.status().message());
    config = ParseConfig("", "", variables);
  }

  Logger logger(kernel);
  Result<std::string> runtime_path =
      config.ok() ? FindRuntimeBinary(kernel, config->runtime_path, variables)
                  : Result<std::string>(config.status());
  if (!runtime_path.ok()) warnings.push_back(runtime_path.status().message());
  const std::string state_dir = config.ok() ? config->state_dir : kDefaultStateDir;
  const std::string work_dir = WorkDirectoryFor(state_dir, flags.namespace_name);
  ReaperRuntimeClient runtime(
      kernel, logger,
      {runtime_path.ok() ? *runtime_path : "",
       config.ok() ? RuntimeRootFor(config->runtime_root, flags.namespace_name) : "", work_dir,
       runtime_environment, flags.debug});

  ::containerd::task::v2::DeleteResponse response =
      CleanupTask(kernel, runtime, work_dir, flags.id, &warnings);
  for (const std::string& warning : warnings) WriteText(kernel, 2, warning + "\n");
  WriteText(kernel, 1, response.SerializeAsString());
  return 0;
}

}  // namespace reaper::shim
