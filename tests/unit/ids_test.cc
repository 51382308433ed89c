#include "common/ids.h"

#include <gtest/gtest.h>

#include <string>

namespace reaper {
namespace {

TEST(IdsTest, AcceptsValidIds) {
  for (const std::string& id :
       {std::string("t1"), std::string("a"), std::string("A-b_c.d"), std::string(".hidden"),
        std::string("..."), std::string("0123456789abcdef"), std::string(1024, 'x')}) {
    EXPECT_TRUE(ValidateId("container", id).ok()) << id;
  }
}

struct InvalidCase {
  std::string id;
  std::string message;
};

TEST(IdsTest, RejectsInvalidIds) {
  const InvalidCase cases[] = {
      {"", "invalid container id \"\": the id is empty"},
      {".", "invalid container id \".\": \".\" and \"..\" are not allowed"},
      {"..", "invalid container id \"..\": \".\" and \"..\" are not allowed"},
      {"a/b", "invalid container id \"a/b\": only letters, digits, '_', '.' and '-' are allowed"},
      {"../etc", "invalid container id \"../etc\": only letters, digits, '_', '.' and '-' are "
                 "allowed"},
      {"a b", "invalid container id \"a b\": only letters, digits, '_', '.' and '-' are allowed"},
      {std::string("a\0b", 3),
       "invalid container id \"a\\x00b\": only letters, digits, '_', '.' and '-' are allowed"},
      {"caf\xc3\xa9",
       "invalid container id \"caf\xc3\xa9\": only letters, digits, '_', '.' and '-' are allowed"},
      {std::string(1025, 'x'), "invalid container id \"" + std::string(64, 'x') +
                                   "...\": the id is 1025 bytes long, the maximum is 1024"},
  };
  for (const InvalidCase& test : cases) {
    Status status = ValidateId("container", test.id);
    EXPECT_EQ(status.code(), Code::kInvalidArgument) << test.id;
    EXPECT_EQ(status.message(), test.message);
  }
}

TEST(IdsTest, MessageNamesKind) {
  EXPECT_EQ(ValidateId("exec", "x/y").message(),
            "invalid exec id \"x/y\": only letters, digits, '_', '.' and '-' are allowed");
}

TEST(IdsTest, QuoteEscapesAndTruncates) {
  EXPECT_EQ(QuoteForMessage("a\"b\\c\n"), "\"a\\\"b\\\\c\\x0a\"");
  EXPECT_EQ(QuoteForMessage("abcdef", 3), "\"abc...\"");
}

}  // namespace
}  // namespace reaper
