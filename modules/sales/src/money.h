// Integer money arithmetic for sales: checked, and rounded half to even where a rate applies.
//
// Amounts are int64 minor units (cents) and never exceed kMaxAmount = 2^53 - 1, the largest
// integer a JSON reader using doubles (JavaScript) keeps exact. Every function returns nothing
// instead of overflowing, and the caller turns that into a 400.
#ifndef ERPMOD_MODULES_SALES_MONEY_H_
#define ERPMOD_MODULES_SALES_MONEY_H_

#include <cstdint>
#include <limits>
#include <optional>

namespace sales {

inline constexpr int64_t kMaxAmount = 9007199254740991LL;

// a + b for 0 <= a, b; nothing above kMaxAmount.
inline std::optional<int64_t> AddAmounts(int64_t a, int64_t b) {
  if (a < 0 || b < 0 || a > kMaxAmount - b) return std::nullopt;
  return a + b;
}

// a * b for 0 <= a, b; nothing above kMaxAmount.
inline std::optional<int64_t> MulAmounts(int64_t a, int64_t b) {
  if (a < 0 || b < 0) return std::nullopt;
  if (a != 0 && b > kMaxAmount / a) return std::nullopt;
  return a * b;
}

// a * b / d rounded half to even (banker's rounding), for 0 <= a, b and d > 0, computed without
// a wider integer type: a = q*d + r, so a*b/d = q*b + r*b/d exactly.
inline std::optional<int64_t> MulDivHalfEven(int64_t a, int64_t b, int64_t d) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  if (a < 0 || b < 0 || d <= 0) return std::nullopt;
  int64_t q = a / d;
  int64_t r = a % d;
  if (b != 0 && (q > kMax / b || r > kMax / b)) return std::nullopt;
  int64_t whole = q * b;
  int64_t rb = r * b;
  int64_t extra = rb / d;
  int64_t rem = rb % d;
  if (whole > kMax - extra) return std::nullopt;
  whole += extra;
  // rem / d is the fraction left over: above one half rounds up, exactly one half rounds to even.
  if (rem > d - rem || (rem == d - rem && (whole % 2) != 0)) {
    if (whole == kMax) return std::nullopt;
    ++whole;
  }
  if (whole > kMaxAmount) return std::nullopt;
  return whole;
}

}  // namespace sales

#endif  // ERPMOD_MODULES_SALES_MONEY_H_
