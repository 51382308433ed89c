#include "shim/sha256.h"

#include <gtest/gtest.h>

#include <string>

#include "shim/bootstrap.h"

namespace reaper::shim {
namespace {

// Vectors from FIPS 180-2, appendix B.
TEST(Sha256Test, HashesAbc) {
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sha256Test, HashesEmptyString) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Sha256Test, HashesTwoBlockMessage) {
  EXPECT_EQ(Sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Sha256Test, HashesMillionA) {
  EXPECT_EQ(Sha256Hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256Test, IncrementalUpdatesMatchOneShot) {
  const std::string message(200, 'x');
  for (size_t split = 0; split <= message.size(); split += 7) {
    Sha256 hasher;
    hasher.Update(message.substr(0, split));
    hasher.Update(message.substr(split));
    Sha256::Digest digest = hasher.Finish();

    Sha256 whole;
    whole.Update(message);
    EXPECT_EQ(digest, whole.Finish()) << "split at " << split;
  }
}

// Padding edge cases: 55 bytes leave room for the length in the last block,
// 56 do not. Expected digests computed with Python's hashlib.
TEST(Sha256Test, HashesLengthsAroundPaddingBoundary) {
  EXPECT_EQ(Sha256Hex(std::string(55, 'a')),
            "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
  EXPECT_EQ(Sha256Hex(std::string(56, 'a')),
            "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
  EXPECT_EQ(Sha256Hex(std::string(64, 'a')),
            "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
}

// The expected digest was computed with Python's hashlib.
TEST(SocketPathTest, HashesAddressNamespaceAndGroup) {
  EXPECT_EQ(SocketPathFor("/run/reaper", "/run/containerd/containerd.sock", "default", "t1"),
            "/run/reaper/s/df6a0c5cd2e9a1a16d9a3f2447365d9fc6021bc1d3d9a4caa2f5b2c4f773758f");
}

TEST(SocketPathTest, DiffersPerGroup) {
  EXPECT_NE(SocketPathFor("/run/reaper", "/a.sock", "k8s.io", "pod1"),
            SocketPathFor("/run/reaper", "/a.sock", "k8s.io", "pod2"));
}

}  // namespace
}  // namespace reaper::shim
