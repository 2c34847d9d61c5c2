// The inventory module: articles (items) with stock and reservations held by orders.
#ifndef ERPMOD_MODULES_INVENTORY_H_
#define ERPMOD_MODULES_INVENTORY_H_

#include <erpmod/module.h>

#include <cstdint>
#include <optional>
#include <string>

namespace inventory {

// *_at columns hold erpmod::UtcTimestamp() (UTC, ISO 8601 with milliseconds), bound as a parameter so the
// SQL runs unchanged on SQLite and PostgreSQL.

// Every column of `items`, in the order WriteItem reads them.
inline constexpr const char* kItemColumns = "sku, name, stock, reserved, created_at, updated_at";

// A SKU is 1..64 characters of [A-Za-z0-9-_].
bool IsValidSku(const std::string& sku);

class Inventory : public erpmod::Module {
 public:
  Inventory();

  void Initialize(erpmod::Context& ctx) override;
  erpmod::HandlerFn GetHandler(const std::string& route, const std::string& method) override;
  erpmod::HealthReport Health() override;

 private:
  // Routes (inventory-module.cc).
  erpmod::Response ListItems(erpmod::Request& req);
  erpmod::Response CreateItem(erpmod::Request& req);
  erpmod::Response GetItem(erpmod::Request& req);
  erpmod::Response SetStock(erpmod::Request& req);

  // Events (reservations.cc).
  void OnOrderCreated(const erpmod::JsonValue& payload);
  void OnOrderCancelled(const erpmod::JsonValue& payload);

  // The item as JSON, or nothing when there is no such SKU.
  std::optional<std::string> ItemJson(const std::string& sku);

  erpmod::RouteTable routes_;
  int64_t max_stock_ = 1000000000;
};

}  // namespace inventory

#endif  // ERPMOD_MODULES_INVENTORY_H_
