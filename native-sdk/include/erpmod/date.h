// erpmod/date.h: ISO 8601 calendar dates and date-times, parsed strictly and calendar-correct.
//
//   auto d = erpmod::Date::Parse("2027-02-30");              // std::nullopt: February has no 30th
//   auto t = erpmod::DateTime::Parse("2027-03-01T09:30:00.250+01:00");
//   t->ToUtcString();                                          // "2027-03-01T08:30:00.250Z"
//
// Accepted forms (the ones JSON APIs exchange, RFC 3339's profile of ISO 8601):
//   date       YYYY-MM-DD, year 0001..9999, the day valid in that month (leap years by the Gregorian rule)
//   date-time  YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM); 'T' and 'Z' in either case;
//              fraction 1..9 digits; the offset is required (a time without one names no instant)
// Refused: week and ordinal dates, basic format without dashes, a missing offset, a leap second (:60),
// 24:00, and anything before or after the text. The types are plain values; no time-zone database.
#ifndef ERPMOD_DATE_H_
#define ERPMOD_DATE_H_

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

namespace erpmod {

namespace detail {

// `n` ASCII digits at `s[pos]`, or -1.
inline int ReadDigits(std::string_view s, size_t pos, size_t n) {
  if (pos + n > s.size()) return -1;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

}  // namespace detail

struct Date {
  int year = 1970;
  int month = 1;
  int day = 1;

  static constexpr bool IsLeapYear(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }
  static constexpr int DaysInMonth(int y, int m) {
    constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && IsLeapYear(y) ? 29 : kDays[m - 1];
  }
  static constexpr bool IsValid(int y, int m, int d) {
    return y >= 1 && y <= 9999 && m >= 1 && m <= 12 && d >= 1 && d <= DaysInMonth(y, m);
  }

  // "YYYY-MM-DD" and nothing else; std::nullopt for any other text or a day the calendar lacks.
  static std::optional<Date> Parse(std::string_view text) {
    if (text.size() != 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
    int y = detail::ReadDigits(text, 0, 4), m = detail::ReadDigits(text, 5, 2), d = detail::ReadDigits(text, 8, 2);
    if (y < 0 || m < 0 || d < 0 || !IsValid(y, m, d)) return std::nullopt;
    return Date{y, m, d};
  }

  // Days since 1970-01-01 (negative before it); exact for every valid date.
  int64_t DaysSinceEpoch() const {
    // Howard Hinnant's days_from_civil.
    int64_t y = year - (month <= 2 ? 1 : 0);
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t mp = (month + 9) % 12;
    int64_t doy = (153 * mp + 2) / 5 + day - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
  }

  static Date FromDaysSinceEpoch(int64_t z) {
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
    int m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
    int y = static_cast<int>(yoe + era * 400 + (m <= 2 ? 1 : 0));
    return Date{y, m, d};
  }

  // 1 = Monday .. 7 = Sunday (ISO 8601).
  int Weekday() const {
    int64_t days = DaysSinceEpoch();
    int64_t w = (days % 7 + 7 + 3) % 7;  // 1970-01-01 was a Thursday
    return static_cast<int>(w) + 1;
  }

  Date AddDays(int64_t n) const { return FromDaysSinceEpoch(DaysSinceEpoch() + n); }

  std::string ToString() const {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", year, month, day);
    return buf;
  }

  friend bool operator==(const Date& a, const Date& b) { return a.year == b.year && a.month == b.month && a.day == b.day; }
  friend bool operator!=(const Date& a, const Date& b) { return !(a == b); }
  friend bool operator<(const Date& a, const Date& b) { return a.DaysSinceEpoch() < b.DaysSinceEpoch(); }
  friend bool operator>(const Date& a, const Date& b) { return b < a; }
  friend bool operator<=(const Date& a, const Date& b) { return !(b < a); }
  friend bool operator>=(const Date& a, const Date& b) { return !(a < b); }
};

// An instant written with its UTC offset. Comparisons compare instants: 10:00+01:00 == 09:00Z.
struct DateTime {
  Date date;
  int hour = 0;
  int minute = 0;
  int second = 0;
  // The fraction of the second, in nanoseconds (".25" is 250000000).
  int32_t nanos = 0;
  // East of UTC, in minutes ("+05:30" is 330, "Z" is 0).
  int offset_minutes = 0;

  static std::optional<DateTime> Parse(std::string_view text) {
    if (text.size() < 20) return std::nullopt;
    auto date = Date::Parse(text.substr(0, 10));
    if (!date || (text[10] != 'T' && text[10] != 't') || text[13] != ':' || text[16] != ':') return std::nullopt;
    DateTime t;
    t.date = *date;
    t.hour = detail::ReadDigits(text, 11, 2);
    t.minute = detail::ReadDigits(text, 14, 2);
    t.second = detail::ReadDigits(text, 17, 2);
    if (t.hour < 0 || t.hour > 23 || t.minute < 0 || t.minute > 59 || t.second < 0 || t.second > 59) return std::nullopt;
    size_t pos = 19;
    if (text[pos] == '.') {
      size_t start = ++pos;
      int64_t nanos = 0;
      while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
        if (pos - start >= 9) return std::nullopt;
        nanos = nanos * 10 + (text[pos] - '0');
        ++pos;
      }
      if (pos == start) return std::nullopt;
      for (size_t n = pos - start; n < 9; ++n) nanos *= 10;
      t.nanos = static_cast<int32_t>(nanos);
    }
    if (pos >= text.size()) return std::nullopt;
    char zone = text[pos];
    if (zone == 'Z' || zone == 'z') {
      return pos + 1 == text.size() ? std::optional<DateTime>(t) : std::nullopt;
    }
    if ((zone != '+' && zone != '-') || text.size() != pos + 6 || text[pos + 3] != ':') return std::nullopt;
    int oh = detail::ReadDigits(text, pos + 1, 2), om = detail::ReadDigits(text, pos + 4, 2);
    if (oh < 0 || oh > 23 || om < 0 || om > 59) return std::nullopt;
    t.offset_minutes = (zone == '-' ? -1 : 1) * (oh * 60 + om);
    return t;
  }

  // Seconds since 1970-01-01T00:00:00Z of the instant (the fraction left out).
  int64_t EpochSeconds() const {
    return date.DaysSinceEpoch() * 86400 + hour * 3600 + minute * 60 + second - int64_t{offset_minutes} * 60;
  }
  // Milliseconds since the epoch, the fraction truncated to milliseconds.
  int64_t EpochMillis() const { return EpochSeconds() * 1000 + nanos / 1000000; }

  // The same instant at offset zero.
  DateTime ToUtc() const {
    int64_t secs = EpochSeconds();
    int64_t days = (secs >= 0 ? secs : secs - 86399) / 86400;
    int64_t rest = secs - days * 86400;
    DateTime u;
    u.date = Date::FromDaysSinceEpoch(days);
    u.hour = static_cast<int>(rest / 3600);
    u.minute = static_cast<int>(rest / 60 % 60);
    u.second = static_cast<int>(rest % 60);
    u.nanos = nanos;
    return u;
  }

  // "YYYY-MM-DDTHH:MM:SS.mmmZ" in UTC, the form erpmod::UtcTimestamp() writes (so stored text sorts).
  std::string ToUtcString() const {
    DateTime u = ToUtc();
    char buf[40];
    std::snprintf(buf, sizeof buf, "%sT%02d:%02d:%02d.%03dZ", u.date.ToString().c_str(), u.hour, u.minute, u.second,
                  static_cast<int>(u.nanos / 1000000));
    return buf;
  }

  friend bool operator==(const DateTime& a, const DateTime& b) { return a.EpochSeconds() == b.EpochSeconds() && a.nanos == b.nanos; }
  friend bool operator!=(const DateTime& a, const DateTime& b) { return !(a == b); }
  friend bool operator<(const DateTime& a, const DateTime& b) {
    int64_t sa = a.EpochSeconds(), sb = b.EpochSeconds();
    return sa != sb ? sa < sb : a.nanos < b.nanos;
  }
  friend bool operator>(const DateTime& a, const DateTime& b) { return b < a; }
  friend bool operator<=(const DateTime& a, const DateTime& b) { return !(b < a); }
  friend bool operator>=(const DateTime& a, const DateTime& b) { return !(a < b); }
};

}  // namespace erpmod

#endif  // ERPMOD_DATE_H_
