// Inventory routes: list, create and read items, set stock levels.
#include "inventory.h"

#include <string>

namespace inventory {
namespace {

constexpr const char* kSkuRule = "required, 1..64 chars [A-Za-z0-9-_]";
constexpr size_t kMaxNameLength = 200;

void WriteItem(erpmod::JsonWriter& w, const erpmod::Row& row) {
  int64_t stock = row.Int64("stock");
  int64_t reserved = row.Int64("reserved");
  w.BeginObject()
      .Field("sku", row.String("sku"))
      .Field("name", row.String("name"))
      .Field("stock", stock)
      .Field("reserved", reserved)
      .Field("available", stock - reserved)
      .Field("created_at", row.String("created_at"))
      .Field("updated_at", row.String("updated_at"))
      .EndObject();
}

erpmod::Response NotFound(const std::string& sku) {
  return erpmod::Response::Error(404, "INVENTORY_ITEM_NOT_FOUND", "no item with sku \"" + sku + "\"");
}

// A stock level: an integer in 0..max.
std::optional<int64_t> ReadStock(const erpmod::JsonValue& v, int64_t max, erpmod::FieldErrors& errors) {
  auto stock = v.AsInt64();
  if (!stock || *stock < 0 || *stock > max) {
    errors.Add("stock", "required, an integer in 0.." + std::to_string(max) + " (got " + v.TypeName() + ")");
    return std::nullopt;
  }
  return stock;
}

}  // namespace

bool IsValidSku(const std::string& sku) {
  if (sku.empty() || sku.size() > 64) return false;
  for (char c : sku) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

Inventory::Inventory() {
  routes_.Add("GET", "/items", [this](erpmod::Request& r) { return ListItems(r); })
      .Add("POST", "/items", [this](erpmod::Request& r) { return CreateItem(r); })
      .Add("GET", "/items/:sku", [this](erpmod::Request& r) { return GetItem(r); })
      .Add("PUT", "/items/:sku/stock", [this](erpmod::Request& r) { return SetStock(r); });
}

void Inventory::Initialize(erpmod::Context& ctx) {
  max_stock_ = ctx.config().GetInt("max_stock", max_stock_);
  if (max_stock_ < 1 || max_stock_ > erpmod::kMaxSafeInteger) {
    throw std::invalid_argument("config.max_stock: expected an integer in 1..9007199254740991, got " +
                                std::to_string(max_stock_));
  }
  ctx.events().Subscribe("order.created", [this](const erpmod::JsonValue& p, const std::string&) { OnOrderCreated(p); });
  ctx.events().Subscribe("order.cancelled", [this](const erpmod::JsonValue& p, const std::string&) { OnOrderCancelled(p); });
  auto row = ctx.db().Get("SELECT COUNT(*) AS n FROM items");
  ctx.logger().Info("inventory ready", {{"items", row ? row->Int64("n") : int64_t{0}}});
}

erpmod::HandlerFn Inventory::GetHandler(const std::string& route, const std::string& method) {
  return routes_.Find(route, method);
}

erpmod::HealthReport Inventory::Health() {
  auto row = context().db().Get("SELECT COUNT(*) AS items, COALESCE(SUM(reserved), 0) AS reserved FROM items");
  erpmod::JsonWriter w;
  w.BeginObject().Field("items", row->Int64("items")).Field("reserved", row->Int64("reserved")).EndObject();
  return erpmod::HealthReport::Healthy(w.Take());
}

std::optional<std::string> Inventory::ItemJson(const std::string& sku) {
  auto row = context().db().Get(std::string("SELECT ") + kItemColumns + " FROM items WHERE sku = ?", {sku});
  if (!row) return std::nullopt;
  erpmod::JsonWriter w;
  WriteItem(w, *row);
  return w.Take();
}

erpmod::Response Inventory::ListItems(erpmod::Request&) {
  auto rows = context().db().All(std::string("SELECT ") + kItemColumns + " FROM items ORDER BY sku");
  erpmod::JsonWriter w;
  w.BeginObject().Key("items").BeginArray();
  for (const erpmod::Row& row : rows) WriteItem(w, row);
  w.EndArray().Field("count", rows.size()).EndObject();
  return erpmod::Response::Json(200, w);
}

erpmod::Response Inventory::CreateItem(erpmod::Request& req) {
  erpmod::JsonValue body = req.body();
  if (!body.IsObject()) {
    erpmod::FieldErrors errors;
    errors.Add("body", "required, a JSON object (got " + body.TypeName() + ")");
    return erpmod::Response::ValidationError(errors);
  }
  erpmod::FieldErrors errors;
  for (const std::string& key : body.Keys()) {
    if (key != "sku" && key != "name" && key != "stock") errors.Add(key, "unknown field");
  }
  auto sku = body.Get("sku").AsString();
  if (!sku || !IsValidSku(*sku)) errors.Add("sku", kSkuRule);
  auto name = body.Get("name").AsString();
  if (!name || name->find_first_not_of(" \t") == std::string::npos || name->size() > kMaxNameLength) {
    errors.Add("name", "required, 1.." + std::to_string(kMaxNameLength) + " chars, not blank");
  }
  auto stock = ReadStock(body.Get("stock"), max_stock_, errors);
  if (!errors.empty()) return erpmod::Response::ValidationError(errors, "the item is invalid");

  try {
    std::string now = erpmod::UtcTimestamp();
    context().db().Run("INSERT INTO items (sku, name, stock, reserved, created_at, updated_at) VALUES (?, ?, ?, 0, ?, ?)",
                       {*sku, *name, *stock, now, now});
  } catch (const erpmod::DbError& e) {
    if (!e.IsConstraint()) throw;
    return erpmod::Response::Error(409, "INVENTORY_SKU_EXISTS", "an item with sku \"" + *sku + "\" already exists");
  }
  return erpmod::Response::Json(201, *ItemJson(*sku)).Header("location", "items/" + *sku);
}

erpmod::Response Inventory::GetItem(erpmod::Request& req) {
  std::string sku = req.param("sku");
  auto json = IsValidSku(sku) ? ItemJson(sku) : std::nullopt;
  if (!json) return NotFound(sku);
  return erpmod::Response::Json(200, std::move(*json));
}

erpmod::Response Inventory::SetStock(erpmod::Request& req) {
  std::string sku = req.param("sku");
  erpmod::JsonValue body = req.body();
  erpmod::FieldErrors errors;
  if (!body.IsObject()) {
    errors.Add("body", "required, a JSON object (got " + body.TypeName() + ")");
    return erpmod::Response::ValidationError(errors);
  }
  for (const std::string& key : body.Keys()) {
    if (key != "stock") errors.Add(key, "unknown field");
  }
  auto stock = ReadStock(body.Get("stock"), max_stock_, errors);
  if (!errors.empty()) return erpmod::Response::ValidationError(errors, "the stock level is invalid");
  if (!IsValidSku(sku)) return NotFound(sku);

  const erpmod::Db& db = context().db();
  erpmod::Transaction tx(db);
  auto row = db.Get("SELECT reserved FROM items WHERE sku = ?", {sku});
  if (!row) return NotFound(sku);
  int64_t reserved = row->Int64("reserved");
  if (*stock < reserved) {
    errors.Add("stock", "must be at least the reserved quantity (" + std::to_string(reserved) + ")");
    return erpmod::Response::ValidationError(errors, "the stock level is below what open orders reserved");
  }
  db.Run("UPDATE items SET stock = ?, updated_at = ? WHERE sku = ?", {*stock, erpmod::UtcTimestamp(), sku});
  tx.Commit();
  return erpmod::Response::Json(200, *ItemJson(sku));
}

}  // namespace inventory

ERPMOD_MODULE(inventory::Inventory, "inventory", "1.0.0")
