// The part of an OCI bundle's config.json that the shim reads: the
// annotations CRI sets, which decide the pod grouping and whether a task is
// the pod sandbox. reaper-runtime reads the rest.
//
// Thread-safety: pure functions over the given Kernel.
#ifndef REAPER_SHIM_BUNDLE_H_
#define REAPER_SHIM_BUNDLE_H_

#include <string>

#include "common/status.h"
#include "sys/kernel.h"

namespace reaper::shim {

inline constexpr char kContainerTypeAnnotation[] = "io.kubernetes.cri.container-type";
inline constexpr char kSandboxIdAnnotation[] = "io.kubernetes.cri.sandbox-id";

struct BundleAnnotations {
  bool is_sandbox = false;  // container-type is "sandbox"
  std::string sandbox_id;   // empty when not set
};

// Parses config.json content. Fails with InvalidArgument when it is not JSON
// or "annotations" is not an object of strings.
Result<BundleAnnotations> ParseBundleAnnotations(const std::string& config_json);

// Reads <bundle>/config.json and parses it.
Result<BundleAnnotations> ReadBundleAnnotations(sys::Kernel& kernel, const std::string& bundle);

}  // namespace reaper::shim

#endif  // REAPER_SHIM_BUNDLE_H_
