// POST /orders body validation.
//
// {"customer": "ACME", "currency": "EUR"?, "lines": [{"sku": "W-1", "quantity": 3, "unit_price": 1250,
//  "discount_bp": 0?}]}
#include "order-input.h"

#include <string>

#include "money.h"

namespace sales {
namespace {

bool IsBlank(const std::string& s) { return s.find_first_not_of(" \t\r\n") == std::string::npos; }

// An integer in [min, max]; adds `rule` against `field` otherwise.
std::optional<int64_t> ReadInt(const erpmod::JsonValue& v, int64_t min, int64_t max, const std::string& field,
                               const std::string& rule, erpmod::FieldErrors& errors) {
  auto i = v.AsInt64();
  if (!i || *i < min || *i > max) {
    errors.Add(field, rule + " (got " + (v.IsNumber() && !i ? std::string("a non-integer number") :
                                         i ? std::to_string(*i) : v.TypeName()) + ")");
    return std::nullopt;
  }
  return i;
}

std::optional<LineInput> ReadLine(const erpmod::JsonValue& v, const std::string& field, erpmod::FieldErrors& errors) {
  if (!v.IsObject()) {
    errors.Add(field, "must be an object (got " + v.TypeName() + ")");
    return std::nullopt;
  }
  size_t before = errors.size();
  for (const std::string& key : v.Keys()) {
    if (key != "sku" && key != "quantity" && key != "unit_price" && key != "discount_bp") {
      errors.Add(field + "." + key, "unknown field");
    }
  }
  LineInput line;
  auto sku = v.Get("sku").AsString();
  if (!sku || !IsValidSku(*sku)) {
    errors.Add(field + ".sku", "required, 1..64 chars [A-Za-z0-9-_]");
  } else {
    line.sku = *sku;
  }
  auto quantity = ReadInt(v.Get("quantity"), 1, kMaxQuantity, field + ".quantity",
                          "required, an integer in 1.." + std::to_string(kMaxQuantity), errors);
  auto price = ReadInt(v.Get("unit_price"), 0, kMaxAmount, field + ".unit_price",
                       "required, an integer amount in minor units, 0.." + std::to_string(kMaxAmount), errors);
  erpmod::JsonValue discount = v.Get("discount_bp");
  std::optional<int64_t> discount_bp = int64_t{0};
  if (!discount.IsUndefined()) {
    discount_bp = ReadInt(discount, 0, kMaxDiscountBp, field + ".discount_bp",
                          "an integer in 0..10000 (basis points of the line amount)", errors);
  }
  if (errors.size() != before || !quantity || !price || !discount_bp) return std::nullopt;
  line.quantity = *quantity;
  line.unit_price = *price;
  line.discount_bp = *discount_bp;
  return line;
}

}  // namespace

std::optional<OrderInput> ReadOrderInput(const erpmod::JsonValue& body, const std::string& default_currency,
                                         erpmod::FieldErrors& errors) {
  if (!body.IsObject()) {
    errors.Add("body", "required, a JSON object (got " + body.TypeName() + ")");
    return std::nullopt;
  }
  for (const std::string& key : body.Keys()) {
    if (key != "customer" && key != "currency" && key != "lines") errors.Add(key, "unknown field");
  }
  OrderInput order;
  auto customer = body.Get("customer").AsString();
  if (!customer || IsBlank(*customer) || customer->size() > kMaxCustomerLength) {
    errors.Add("customer", "required, 1.." + std::to_string(kMaxCustomerLength) + " chars, not blank");
  } else {
    order.customer = *customer;
  }
  erpmod::JsonValue currency = body.Get("currency");
  if (currency.IsUndefined()) {
    order.currency = default_currency;
  } else if (auto c = currency.AsString(); c && IsValidCurrency(*c)) {
    order.currency = *c;
  } else {
    errors.Add("currency", "3 upper-case letters (ISO 4217), e.g. EUR");
  }
  erpmod::JsonValue lines = body.Get("lines");
  if (!lines.IsArray() || lines.Size() == 0 || lines.Size() > kMaxLines) {
    errors.Add("lines", "required, an array of 1.." + std::to_string(kMaxLines) + " lines");
  } else {
    for (uint32_t i = 0; i < lines.Size(); ++i) {
      auto line = ReadLine(lines.At(i), "lines[" + std::to_string(i) + "]", errors);
      if (line) order.lines.push_back(std::move(*line));
    }
  }
  if (!errors.empty()) return std::nullopt;
  return order;
}

}  // namespace sales
