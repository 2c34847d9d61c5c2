// Stock reservations driven by sales events.
//
// order.created   {order_id, lines:[{sku, quantity}]}  -> reserve every line or none of them,
//                 then publish stock.reserved {order_id, lines} or
//                 stock.insufficient {order_id, shortages:[{sku, requested, available}]}.
// order.cancelled {order_id}                            -> release what the order reserved,
//                 then publish stock.released {order_id, lines}.
//
// Events are published after COMMIT (or the rollback): a subscriber runs synchronously inside Publish
// and must see the committed state.
#include "inventory.h"

#include <map>
#include <optional>
#include <stdexcept>
#include <string>

namespace inventory {
namespace {

int64_t RequireOrderId(const erpmod::JsonValue& payload, const char* topic) {
  auto id = payload.Get("order_id").AsInt64();
  if (!id || *id <= 0) {
    throw std::invalid_argument(std::string(topic) + ": order_id must be a positive integer, got " +
                                payload.Get("order_id").TypeName());
  }
  return *id;
}

void WriteLines(erpmod::JsonWriter& w, const std::map<std::string, int64_t>& lines) {
  w.Key("lines").BeginArray();
  for (const auto& [sku, quantity] : lines) {
    w.BeginObject().Field("sku", sku).Field("quantity", quantity).EndObject();
  }
  w.EndArray();
}

}  // namespace

void Inventory::OnOrderCreated(const erpmod::JsonValue& payload) {
  int64_t order_id = RequireOrderId(payload, "order.created");
  erpmod::JsonValue lines = payload.Get("lines");
  if (!lines.IsArray() || lines.Size() == 0) throw std::invalid_argument("order.created: lines must be a non-empty array");

  // Quantities per SKU; an order may name one SKU on several lines.
  std::map<std::string, int64_t> wanted;
  for (uint32_t i = 0; i < lines.Size(); ++i) {
    erpmod::JsonValue line = lines.At(i);
    auto sku = line.Get("sku").AsString();
    auto quantity = line.Get("quantity").AsInt64();
    if (!sku || !quantity || *quantity <= 0) {
      throw std::invalid_argument("order.created: lines[" + std::to_string(i) + "] needs a sku and a positive quantity");
    }
    int64_t& total = wanted[*sku];
    if (*quantity > erpmod::kMaxSafeInteger - total) throw std::invalid_argument("order.created: quantity overflow");
    total += *quantity;
  }

  const erpmod::Context& ctx = context();
  const erpmod::Db& db = ctx.db();
  std::optional<std::string> refused;  // The SKU that could not be reserved, if one could not.
  {
    // Writes only, the claim first: the reservation row's primary key refuses a second claim of the
    // order, and each item gives its units only if enough are left, in one conditional UPDATE. Nothing
    // is read before a write, so a plain BEGIN is enough (no module-wide write lock): orders for other
    // items commit side by side, and orders for one item queue on its row (PostgreSQL re-checks the
    // condition on the row it waited for; SQLite has one writer). Items are taken in SKU order (a std::map),
    // so two orders never wait on each other's rows.
    erpmod::Transaction tx(db, "BEGIN");
    std::string now = erpmod::UtcTimestamp();
    for (const auto& [sku, quantity] : wanted) {
      try {
        db.Run("INSERT INTO reservations (order_id, sku, quantity, created_at) VALUES (?, ?, ?, ?)", {order_id, sku, quantity, now});
      } catch (const erpmod::DbError& e) {
        if (e.IsUnique()) {
          // A repeated delivery: the order already holds its stock.
          ctx.logger().Warn("order.created delivered twice; reservation kept", {{"order_id", order_id}});
          return;
        }
        if (!e.IsForeignKey()) throw;
        refused = sku;  // No such item.
        break;
      }
      if (db.Run("UPDATE items SET reserved = reserved + ?, updated_at = ? WHERE sku = ? AND stock - reserved >= ?",
                 {quantity, now, sku, quantity})
              .changes == 0) {
        refused = sku;
        break;
      }
    }
    // Short of stock: the transaction rolls back when tx goes out of scope; nothing was kept.
    if (!refused) tx.Commit();
  }
  if (!refused) {
    erpmod::JsonWriter event;
    event.BeginObject().Field("order_id", order_id);
    WriteLines(event, wanted);
    event.EndObject();
    ctx.events().Publish("stock.reserved", event);
    return;
  }
  // What each short line lacks, as the stock stands now (the refused one even if stock came back since).
  erpmod::JsonWriter event;
  event.BeginObject().Field("order_id", order_id).Key("shortages").BeginArray();
  for (const auto& [sku, quantity] : wanted) {
    auto row = db.Get("SELECT stock - reserved AS available FROM items WHERE sku = ?", {sku});
    int64_t available = row ? row->Int64("available") : 0;
    if (available < quantity || refused == sku) {
      event.BeginObject().Field("sku", sku).Field("requested", quantity).Field("available", available).EndObject();
    }
  }
  event.EndArray().EndObject();
  ctx.events().Publish("stock.insufficient", event);
}

void Inventory::OnOrderCancelled(const erpmod::JsonValue& payload) {
  int64_t order_id = RequireOrderId(payload, "order.cancelled");
  const erpmod::Context& ctx = context();
  const erpmod::Db& db = ctx.db();
  std::map<std::string, int64_t> released;
  {
    erpmod::Transaction tx(db);
    for (const erpmod::Row& row : db.All("SELECT sku, quantity FROM reservations WHERE order_id = ?", {order_id})) {
      released[row.String("sku")] = row.Int64("quantity");
    }
    if (released.empty()) return;  // A backordered order held nothing.
    std::string now = erpmod::UtcTimestamp();
    for (const auto& [sku, quantity] : released) {
      db.Run("UPDATE items SET reserved = reserved - ?, updated_at = ? WHERE sku = ?", {quantity, now, sku});
    }
    db.Run("DELETE FROM reservations WHERE order_id = ?", {order_id});
    tx.Commit();
  }
  erpmod::JsonWriter event;
  event.BeginObject().Field("order_id", order_id);
  WriteLines(event, released);
  event.EndObject();
  ctx.events().Publish("stock.released", event);
}

}  // namespace inventory
