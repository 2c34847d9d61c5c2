// Sales orders as the API receives them, validated, and priced.
#ifndef ERPMOD_MODULES_SALES_PRICING_H_
#define ERPMOD_MODULES_SALES_PRICING_H_

#include <erpmod/response.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace sales {

inline constexpr int64_t kMaxQuantity = 1000000;
inline constexpr int64_t kMaxDiscountBp = 10000;
inline constexpr size_t kMaxLines = 100;
inline constexpr size_t kMaxCustomerLength = 200;

struct LineInput {
  std::string sku;
  int64_t quantity = 0;
  int64_t unit_price = 0;
  int64_t discount_bp = 0;
};

struct OrderInput {
  std::string customer;
  std::string currency;
  std::vector<LineInput> lines;
};

struct PricedLine {
  LineInput input;
  int64_t subtotal = 0;  // quantity * unit_price
  int64_t discount = 0;  // round_half_even(subtotal * discount_bp / 10000)
  int64_t total = 0;     // subtotal - discount
};

struct PricedOrder {
  std::vector<PricedLine> lines;
  int64_t subtotal = 0;  // sum of line subtotals
  int64_t discount = 0;  // sum of line discounts
  int64_t tax = 0;       // round_half_even((subtotal - discount) * tax_rate_bp / 10000)
  int64_t total = 0;     // subtotal - discount + tax
};

bool IsValidSku(const std::string& sku);
bool IsValidCurrency(const std::string& currency);

// Prices an order (see README.md, "Amounts and rounding"). Adds a field error and returns nothing
// when an amount would exceed 2^53 - 1 minor units.
std::optional<PricedOrder> PriceOrder(const OrderInput& order, int64_t tax_rate_bp, erpmod::FieldErrors& errors);

}  // namespace sales

#endif  // ERPMOD_MODULES_SALES_PRICING_H_
