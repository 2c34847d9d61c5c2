// erpmod/timestamp.h: the current time as ISO 8601 UTC text with milliseconds,
// "2026-12-01T23:59:59.123Z", which is what SQLite's strftime('%Y-%m-%dT%H:%M:%fZ','now') gives.
// Bound as a parameter it keeps SQL portable between SQLite and PostgreSQL:
//
//   db.Run("UPDATE items SET updated_at = ? WHERE sku = ?", {erpmod::UtcTimestamp(), sku});
#ifndef ERPMOD_TIMESTAMP_H_
#define ERPMOD_TIMESTAMP_H_

#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>

namespace erpmod {

inline std::string UtcTimestamp() {
  using namespace std::chrono;
  auto now = system_clock::now();
  auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
#ifdef _WIN32
  gmtime_s(&tm, &secs);
#else
  gmtime_r(&secs, &tm);
#endif
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                tm.tm_sec, static_cast<int>(ms % 1000));
  return buf;
}

}  // namespace erpmod

#endif  // ERPMOD_TIMESTAMP_H_
