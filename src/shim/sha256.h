// SHA-256 (FIPS 180-4), used to name the shim's socket after the pod it
// serves. Written here because the only runtime dependency is
// libprotobuf-lite, which has no hash functions.
//
// Thread-safety: a Sha256 object is a plain value for one thread; the free
// function is pure.
#ifndef REAPER_SHIM_SHA256_H_
#define REAPER_SHIM_SHA256_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace reaper::shim {

// Incremental hasher: Update() any number of times, then Finish() once.
class Sha256 {
 public:
  static constexpr size_t kDigestSize = 32;
  using Digest = std::array<uint8_t, kDigestSize>;

  Sha256();

  void Update(const void* data, size_t size);
  void Update(const std::string& data) { Update(data.data(), data.size()); }
  // Pads the message and returns the digest. The object must not be used
  // afterwards.
  Digest Finish();

 private:
  void ProcessBlock(const uint8_t* block);

  std::array<uint32_t, 8> state_;
  std::array<uint8_t, 64> block_;
  size_t block_size_ = 0;
  uint64_t message_bytes_ = 0;
};

// Returns the lowercase hexadecimal SHA-256 of `data` (64 characters).
std::string Sha256Hex(const std::string& data);

}  // namespace reaper::shim

#endif  // REAPER_SHIM_SHA256_H_
