#include "shim/bundle.h"

#include "common/files.h"
#include "common/json.h"

namespace reaper::shim {

Result<BundleAnnotations> ParseBundleAnnotations(const std::string& config_json) {
  Result<json::Value> config = json::Parse(config_json);
  if (!config.ok()) return config.status();
  if (!config->is_object()) {
    return Status(Code::kInvalidArgument, "the document is not a JSON object");
  }

  BundleAnnotations result;
  const json::Value* annotations = config->Find("annotations");
  if (annotations == nullptr || annotations->is_null()) return result;
  if (!annotations->is_object()) {
    return Status(Code::kInvalidArgument, "\"annotations\" is not an object");
  }
  for (const auto& [key, value] : annotations->object()) {
    if (!value.is_string()) {
      return Status(Code::kInvalidArgument, "annotation " + json::Quote(key) + " is not a string");
    }
    if (key == kContainerTypeAnnotation) result.is_sandbox = value.string_value() == "sandbox";
    if (key == kSandboxIdAnnotation) result.sandbox_id = value.string_value();
  }
  return result;
}

Result<BundleAnnotations> ReadBundleAnnotations(sys::Kernel& kernel, const std::string& bundle) {
  const std::string path = bundle + "/config.json";
  Result<std::string> content = ReadFile(kernel, path);
  if (!content.ok()) return content.status().Annotate("read the OCI spec");
  Result<BundleAnnotations> annotations = ParseBundleAnnotations(*content);
  if (!annotations.ok()) return annotations.status().Annotate("parse " + path);
  return annotations;
}

}  // namespace reaper::shim
