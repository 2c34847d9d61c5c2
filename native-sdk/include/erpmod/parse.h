// erpmod/parse.h: typed values from request text (path parameters, query values), with the field
// error a client gets when the text is not one.
//
//   int64_t id = req.param<int64_t>("id");                      // "abc" -> 400, fields.id
//   int64_t limit = req.queryOr<int64_t>("limit", 20, {1, 100}); // absent -> 20; "500" -> 400
//   auto from = req.query<erpmod::Date>("from");                 // std::optional<Date>; "2027-02-30" -> 400
//
// Supported types: any integer type (decimal, optional '-' for signed types, no '+', no spaces,
// overflow detected), double (finite decimal), bool (true/false/1/0), std::string, erpmod::Date,
// erpmod::DateTime. A value that is not one throws erpmod::BadRequest, which the SDK answers as
// 400 ERPMOD_VALIDATION with `"fields":{"<name>":"<expected>, got \"<text>\""}`; it works the same
// on the JavaScript thread and on pool threads.
#ifndef ERPMOD_PARSE_H_
#define ERPMOD_PARSE_H_

#include "erpmod/date.h"
#include "erpmod/response.h"

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

namespace erpmod {

// Inclusive bounds; either side may be open. `{1, 100}`, `AtLeast<int64_t>(0)`.
template <typename T>
struct Range {
  std::optional<T> min;
  std::optional<T> max;

  Range() = default;
  Range(T lo, T hi) : min(lo), max(hi) {}
  bool Contains(const T& v) const { return (!min || !(v < *min)) && (!max || !(*max < v)); }
  bool bounded() const { return min.has_value() || max.has_value(); }
};
template <typename T>
Range<T> AtLeast(T lo) {
  Range<T> r;
  r.min = lo;
  return r;
}
template <typename T>
Range<T> AtMost(T hi) {
  Range<T> r;
  r.max = hi;
  return r;
}

// A 400 ERPMOD_VALIDATION naming the fields that were wrong. Thrown from a handler (or anything
// it calls), the SDK answers it; it is an HttpError, so existing catch blocks see it too.
class BadRequest : public HttpError {
 public:
  BadRequest(FieldErrors fields, const std::string& message = "the request is invalid")
      : HttpError(400, kValidationErrorCode, message, std::move(fields)) {}
  BadRequest(std::string field, std::string expected_got, const std::string& message = "the request is invalid")
      : HttpError(400, kValidationErrorCode, message, One(std::move(field), std::move(expected_got))) {}

 private:
  static FieldErrors One(std::string field, std::string text) {
    FieldErrors f;
    f.Add(std::move(field), std::move(text));
    return f;
  }
};

namespace detail {

template <typename T>
std::string BoundText(const T& v) {
  if constexpr (std::is_same_v<T, Date>) {
    return v.ToString();
  } else if constexpr (std::is_same_v<T, DateTime>) {
    return v.ToUtcString();
  } else if constexpr (std::is_same_v<T, std::string>) {
    return "\"" + v + "\"";
  } else if constexpr (std::is_same_v<T, double>) {
    JsonWriter w;
    w.Double(v);
    return w.Take();
  } else {
    return std::to_string(v);
  }
}

template <typename T>
std::optional<T> ParseInteger(std::string_view s) {
  if (s.empty()) return std::nullopt;
  bool negative = s[0] == '-';
  if (negative && !std::is_signed_v<T>) return std::nullopt;
  size_t i = negative ? 1 : 0;
  if (i == s.size()) return std::nullopt;
  using Wide = std::conditional_t<std::is_signed_v<T>, int64_t, uint64_t>;
  // Accumulated towards the sign so the most negative value is reachable without overflow.
  Wide v = 0;
  const Wide lo = static_cast<Wide>(std::numeric_limits<T>::min());
  const Wide hi = static_cast<Wide>(std::numeric_limits<T>::max());
  for (; i < s.size(); ++i) {
    char c = s[i];
    if (c < '0' || c > '9') return std::nullopt;
    Wide d = c - '0';
    if (negative) {
      if (v < (lo + d) / 10) return std::nullopt;
      v = v * 10 - d;
      if (v < lo) return std::nullopt;
    } else {
      if (v > (hi - d) / 10) return std::nullopt;
      v = v * 10 + d;
    }
  }
  return static_cast<T>(v);
}

}  // namespace detail

// How a T is read from text, and how the expected form is named in a field error.
template <typename T, typename = void>
struct ParseTraits;

template <typename T>
struct ParseTraits<T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>>> {
  static constexpr const char* kExpected = "an integer";
  static std::optional<T> Parse(std::string_view s) { return detail::ParseInteger<T>(s); }
};

template <>
struct ParseTraits<bool> {
  static constexpr const char* kExpected = "true or false";
  static std::optional<bool> Parse(std::string_view s) {
    if (s == "true" || s == "1") return true;
    if (s == "false" || s == "0") return false;
    return std::nullopt;
  }
};

template <>
struct ParseTraits<double> {
  static constexpr const char* kExpected = "a number";
  static std::optional<double> Parse(std::string_view s) {
    // Decimal only: strtod would also take hex, "inf", "nan" and leading spaces.
    if (s.empty() || s.size() > 64) return std::nullopt;
    size_t i = s[0] == '-' ? 1 : 0;
    bool digits = false, dot = false, exp = false;
    for (; i < s.size(); ++i) {
      char c = s[i];
      if (c >= '0' && c <= '9') digits = true;
      else if (c == '.' && !dot && !exp) dot = true;
      else if ((c == 'e' || c == 'E') && digits && !exp) {
        exp = true;
        digits = false;
        if (i + 1 < s.size() && (s[i + 1] == '+' || s[i + 1] == '-')) ++i;
      } else return std::nullopt;
    }
    if (!digits) return std::nullopt;
    std::string copy(s);
    errno = 0;
    double v = std::strtod(copy.c_str(), nullptr);
    if (errno == ERANGE || !std::isfinite(v)) return std::nullopt;
    return v;
  }
};

template <>
struct ParseTraits<std::string> {
  static constexpr const char* kExpected = "text";
  static std::optional<std::string> Parse(std::string_view s) { return std::string(s); }
};

template <>
struct ParseTraits<Date> {
  static constexpr const char* kExpected = "a date YYYY-MM-DD";
  static std::optional<Date> Parse(std::string_view s) { return Date::Parse(s); }
};

template <>
struct ParseTraits<DateTime> {
  static constexpr const char* kExpected = "a date-time YYYY-MM-DDTHH:MM:SS[.fff] with Z or an offset";
  static std::optional<DateTime> Parse(std::string_view s) { return DateTime::Parse(s); }
};

// What a field error says was expected: "an integer in 1..100", "a date YYYY-MM-DD >= 2027-01-01".
template <typename T>
std::string ExpectedText(const Range<T>& range = Range<T>()) {
  std::string text = ParseTraits<T>::kExpected;
  if (range.min && range.max) text += " in " + detail::BoundText(*range.min) + ".." + detail::BoundText(*range.max);
  else if (range.min) text += " >= " + detail::BoundText(*range.min);
  else if (range.max) text += " <= " + detail::BoundText(*range.max);
  return text;
}

// `text` read as a T within `range`; std::nullopt when it is not one.
template <typename T>
std::optional<T> ParseAs(std::string_view text, const Range<T>& range = Range<T>()) {
  std::optional<T> v = ParseTraits<T>::Parse(text);
  if (v && !range.Contains(*v)) return std::nullopt;
  return v;
}

// The field error text for `got`: `an integer in 1..100, got "500"` (long input shortened).
template <typename T>
std::string FieldErrorText(std::string_view got, const Range<T>& range = Range<T>()) {
  constexpr size_t kShown = 64;
  std::string shown(got.substr(0, kShown));
  if (got.size() > kShown) shown += "...";
  return ExpectedText(range) + ", got \"" + shown + "\"";
}

// `text` read as a T within `range`, or BadRequest naming `field`.
template <typename T>
T ParseOrThrow(std::string_view field, std::string_view text, const Range<T>& range = Range<T>(),
               const std::string& message = "the request is invalid") {
  std::optional<T> v = ParseAs<T>(text, range);
  if (!v) throw BadRequest(std::string(field), FieldErrorText<T>(text, range), message);
  return *v;
}

}  // namespace erpmod

#endif  // ERPMOD_PARSE_H_
