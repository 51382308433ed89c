#include "runtime/rfc3339.h"

#include <cstdint>
#include <cstdio>

namespace reaper {
namespace runtime {
namespace {

// Days since 1970-01-01 of a proleptic Gregorian date, and back: the
// era-based conversion that needs no time zone database.
int64_t DaysFromCivil(int64_t year, unsigned month, unsigned day) {
  year -= month <= 2;
  const int64_t era = (year >= 0 ? year : year - 399) / 400;
  const unsigned year_of_era = static_cast<unsigned>(year - era * 400);
  const unsigned day_of_year = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
  const unsigned day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + static_cast<int64_t>(day_of_era) - 719468;
}

void CivilFromDays(int64_t days, int64_t* year, unsigned* month, unsigned* day) {
  days += 719468;
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const unsigned day_of_era = static_cast<unsigned>(days - era * 146097);
  const unsigned year_of_era =
      (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  const unsigned day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  const unsigned shifted_month = (5 * day_of_year + 2) / 153;
  *day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
  *month = shifted_month < 10 ? shifted_month + 3 : shifted_month - 9;
  *year = static_cast<int64_t>(year_of_era) + era * 400 + (*month <= 2);
}

}  // namespace

std::string FormatRfc3339(sys::Timespec time) {
  int64_t days = time.seconds / 86400;
  int64_t seconds_of_day = time.seconds % 86400;
  if (seconds_of_day < 0) {
    seconds_of_day += 86400;
    --days;
  }
  int64_t year = 0;
  unsigned month = 0;
  unsigned day = 0;
  CivilFromDays(days, &year, &month, &day);
  char text[64];
  std::snprintf(text, sizeof(text), "%04lld-%02u-%02uT%02d:%02d:%02d.%09dZ",
                static_cast<long long>(year), month, day, static_cast<int>(seconds_of_day / 3600),
                static_cast<int>(seconds_of_day / 60 % 60), static_cast<int>(seconds_of_day % 60),
                time.nanos);
  return text;
}

Result<sys::Timespec> ParseRfc3339(const std::string& text) {
  int year = 0;
  unsigned month = 0;
  unsigned day = 0;
  int hour = 0;
  int minute = 0;
  int second = 0;
  int consumed = 0;
  if (std::sscanf(text.c_str(), "%4d-%2u-%2uT%2d:%2d:%2d%n", &year, &month, &day, &hour, &minute,
                  &second, &consumed) != 6 ||
      month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    return Status(Code::kInvalidArgument, "invalid RFC 3339 time \"" + text + "\"");
  }

  sys::Timespec time;
  size_t position = static_cast<size_t>(consumed);
  if (position < text.size() && text[position] == '.') {
    int32_t scale = 100000000;
    for (++position; position < text.size() && text[position] >= '0' && text[position] <= '9';
         ++position) {
      time.nanos += (text[position] - '0') * scale;
      scale /= 10;
    }
  }
  if (position + 1 != text.size() || text[position] != 'Z') {
    return Status(Code::kInvalidArgument, "invalid RFC 3339 time \"" + text + "\": expected UTC 'Z'");
  }
  time.seconds = DaysFromCivil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second;
  return time;
}

}  // namespace runtime
}  // namespace reaper
