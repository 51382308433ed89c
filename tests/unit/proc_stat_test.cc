#include "common/proc_stat.h"

#include <gtest/gtest.h>

#include <string>

namespace reaper {
namespace {

TEST(ProcStatTest, ParsesProcStat) {
  Result<ProcessStat> stat = ParseProcessStat(
      "4242 (sh) S 1 4242 4242 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 987654 1000 10 "
      "18446744073709551615\n");
  ASSERT_TRUE(stat.ok()) << stat.status().ToString();
  EXPECT_EQ(stat->state, 'S');
  EXPECT_EQ(stat->parent_pid, 1);
  EXPECT_EQ(stat->start_time, 987654u);
}

TEST(ProcStatTest, ParsesProcStatWithParenthesesInName) {
  Result<ProcessStat> stat = ParseProcessStat(
      "7 (a) b (c) Z 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 55 0 0\n");
  ASSERT_TRUE(stat.ok()) << stat.status().ToString();
  EXPECT_EQ(stat->state, 'Z');
  EXPECT_EQ(stat->parent_pid, 1);
  EXPECT_EQ(stat->start_time, 55u);
}

TEST(ProcStatTest, RejectsShortProcStat) {
  EXPECT_FALSE(ParseProcessStat("7 (a) S 1 2 3").ok());
  EXPECT_FALSE(ParseProcessStat("garbage").ok());
}

TEST(ProcStatTest, ReadsParentPid) {
  Result<ProcessStat> stat = ParseProcessStat(
      "1234 (sleep) S 77 1234 1234 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 99 0 0\n");
  ASSERT_TRUE(stat.ok()) << stat.status().ToString();
  EXPECT_EQ(stat->parent_pid, 77);
}

TEST(ProcStatTest, ParentPidAfterNameWithSpacesAndParentheses) {
  Result<ProcessStat> stat = ParseProcessStat(
      "42 (my (odd) name) R 9 42 42 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 7 0 0\n");
  ASSERT_TRUE(stat.ok()) << stat.status().ToString();
  EXPECT_EQ(stat->parent_pid, 9);
}

TEST(ProcStatTest, RejectsMalformedLines) {
  // The last line has every field, but its parent pid is not a number.
  for (const std::string& line :
       {std::string(""), std::string("12 sleep S 1"), std::string("12 (sleep)"),
        std::string("12 (sleep) S"),
        std::string("12 (sleep) S x 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 7")}) {
    SCOPED_TRACE(line);
    Result<ProcessStat> stat = ParseProcessStat(line);
    ASSERT_FALSE(stat.ok());
    EXPECT_EQ(stat.status().code(), Code::kInvalidArgument);
  }
}

}  // namespace
}  // namespace reaper
