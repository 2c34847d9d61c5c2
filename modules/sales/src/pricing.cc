// Order pricing: integer minor units, banker's rounding, no silent overflow.
#include "pricing.h"

#include "money.h"

namespace sales {

bool IsValidSku(const std::string& sku) {
  if (sku.empty() || sku.size() > 64) return false;
  for (char c : sku) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

bool IsValidCurrency(const std::string& currency) {
  if (currency.size() != 3) return false;
  for (char c : currency) {
    if (c < 'A' || c > 'Z') return false;
  }
  return true;
}

std::optional<PricedOrder> PriceOrder(const OrderInput& order, int64_t tax_rate_bp, erpmod::FieldErrors& errors) {
  const std::string limit = std::to_string(kMaxAmount);
  PricedOrder priced;
  priced.lines.reserve(order.lines.size());
  bool ok = true;
  for (size_t i = 0; i < order.lines.size(); ++i) {
    const LineInput& in = order.lines[i];
    const std::string field = "lines[" + std::to_string(i) + "]";
    PricedLine line{in};
    auto gross = MulAmounts(in.quantity, in.unit_price);
    auto discount = gross ? MulDivHalfEven(*gross, in.discount_bp, 10000) : std::nullopt;
    if (!gross || !discount) {
      errors.Add(field, "quantity x unit_price exceeds " + limit + " minor units");
      ok = false;
      continue;
    }
    line.subtotal = *gross;
    line.discount = *discount;
    line.total = *gross - *discount;
    auto subtotal = AddAmounts(priced.subtotal, line.subtotal);
    if (!subtotal) {
      errors.Add("lines", "the order subtotal exceeds " + limit + " minor units");
      return std::nullopt;
    }
    priced.subtotal = *subtotal;
    priced.discount += line.discount;  // <= subtotal, so it cannot overflow
    priced.lines.push_back(std::move(line));
  }
  if (!ok) return std::nullopt;

  int64_t net = priced.subtotal - priced.discount;
  auto tax = MulDivHalfEven(net, tax_rate_bp, 10000);
  auto total = tax ? AddAmounts(net, *tax) : std::nullopt;
  if (!total) {
    errors.Add("lines", "the order total with tax exceeds " + limit + " minor units");
    return std::nullopt;
  }
  priced.tax = *tax;
  priced.total = *total;
  return priced;
}

}  // namespace sales
