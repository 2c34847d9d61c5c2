// Reading POST /orders bodies: strict types, every problem reported against its JSON path.
#ifndef ERPMOD_MODULES_SALES_ORDER_INPUT_H_
#define ERPMOD_MODULES_SALES_ORDER_INPUT_H_

#include <erpmod/json-value.h>
#include <erpmod/response.h>

#include <optional>
#include <string>

#include "pricing.h"

namespace sales {

// The order in `body`, or nothing with `errors` filled (`customer`, `lines[0].quantity`, ...).
std::optional<OrderInput> ReadOrderInput(const erpmod::JsonValue& body, const std::string& default_currency,
                                         erpmod::FieldErrors& errors);

}  // namespace sales

#endif  // ERPMOD_MODULES_SALES_ORDER_INPUT_H_
