// The sales module: orders with priced lines, their life cycle, and stock reservation through
// inventory's events.
//
// POST /orders inserts the order as `pending`, commits, then publishes order.created. The host
// delivers events synchronously, so inventory's stock.reserved / stock.insufficient (and the status
// change they cause here) happen inside Publish, and the reply shows the resulting status.
#include <erpmod/module.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>

#include "money.h"
#include "order-input.h"
#include "pricing.h"

namespace sales {
namespace {

constexpr const char* kOrderColumns =
    "id, status, customer, currency, subtotal, discount, tax, total, created_at, updated_at";
constexpr std::array<const char*, 4> kStatuses = {"pending", "confirmed", "backordered", "cancelled"};
constexpr int64_t kDefaultLimit = 20;
constexpr int64_t kMaxLimit = 100;

// Order ids as a path holds them: an id outside this range names no order (404, not 400).
const erpmod::Range<int64_t> kIdRange{0, kMaxAmount};

bool IsStatus(const std::string& s) {
  for (const char* status : kStatuses) {
    if (s == status) return true;
  }
  return false;
}

// The order's own fields, without closing the object (lines may follow).
void WriteOrderFields(erpmod::JsonWriter& w, const erpmod::Row& row) {
  w.Field("id", row.Int64("id"))
      .Field("status", row.String("status"))
      .Field("customer", row.String("customer"))
      .Field("currency", row.String("currency"))
      .Field("subtotal", row.Int64("subtotal"))
      .Field("discount", row.Int64("discount"))
      .Field("tax", row.Int64("tax"))
      .Field("total", row.Int64("total"))
      .Field("created_at", row.String("created_at"))
      .Field("updated_at", row.String("updated_at"));
}

erpmod::Response OrderNotFound(const std::string& id) {
  return erpmod::Response::Error(404, "SALES_ORDER_NOT_FOUND", "no order with id \"" + id + "\"");
}

}  // namespace

class Sales : public erpmod::Module {
 public:
  Sales() {
    routes_.Add("GET", "/orders", [this](erpmod::Request& r) { return ListOrders(r); })
        .Add("POST", "/orders", [this](erpmod::Request& r) { return CreateOrder(r); })
        .Add("GET", "/orders/:id", [this](erpmod::Request& r) { return GetOrder(r); })
        .Add("POST", "/orders/:id/cancel", [this](erpmod::Request& r) { return CancelOrder(r); })
        .Add("GET", "/summary", [this](erpmod::Request& r) { return Summary(r); })
        // execution: pool (module.yml): they wait on a service or work through every order.
        .Add("GET", "/orders/:id/quote", [this](erpmod::Request& r) { return Quote(r); })
        .Add("GET", "/export", [this](erpmod::Request& r) { return Export(r); });
  }

  void Initialize(erpmod::Context& ctx) override {
    tax_rate_bp_ = ctx.config().GetInt("tax_rate_bp", tax_rate_bp_);
    if (tax_rate_bp_ < 0 || tax_rate_bp_ > 100000) {
      throw std::invalid_argument("config.tax_rate_bp: expected an integer in 0..100000 basis points, got " +
                                  std::to_string(tax_rate_bp_));
    }
    default_currency_ = ctx.config().GetString("default_currency", default_currency_);
    rates_url_ = ctx.config().GetString("rates_url", rates_url_);
    rates_timeout_ms_ = ctx.config().GetInt("rates_timeout_ms", rates_timeout_ms_);
    if (!IsValidCurrency(default_currency_)) {
      throw std::invalid_argument("config.default_currency: expected 3 upper-case letters, got \"" + default_currency_ + "\"");
    }
    ctx.events().Subscribe("stock.reserved", [this](const erpmod::JsonValue& p, const std::string&) {
      SetStatusFromEvent(p, "confirmed", "status IN ('pending', 'backordered')");
    });
    ctx.events().Subscribe("stock.insufficient", [this](const erpmod::JsonValue& p, const std::string&) {
      SetStatusFromEvent(p, "backordered", "status = 'pending'");
    });
    ctx.logger().Info("sales ready", {{"tax_rate_bp", tax_rate_bp_}, {"default_currency", default_currency_}});
  }

  erpmod::HandlerFn GetHandler(const std::string& route, const std::string& method) override {
    return routes_.Find(route, method);
  }

 private:
  erpmod::Response ListOrders(erpmod::Request& req) {
    erpmod::FieldErrors errors;
    // The collecting forms: every bad query value is reported in one reply.
    int64_t limit = req.queryOr<int64_t>("limit", kDefaultLimit, {1, kMaxLimit}, errors);
    int64_t offset = req.queryOr<int64_t>("offset", 0, erpmod::AtLeast<int64_t>(0), errors);
    auto status = req.query("status");
    if (status && !IsStatus(*status)) errors.Add("status", "one of pending, confirmed, backordered, cancelled");
    if (!errors.empty()) return erpmod::Response::ValidationError(errors, erpmod::Request::kQueryInvalid);

    const erpmod::Db& db = context().db();
    std::string where = status ? " WHERE status = ?" : "";
    erpmod::Params filter;
    if (status) filter.emplace_back(*status);
    auto count = db.Get("SELECT COUNT(*) AS n FROM orders" + where, filter);
    erpmod::Params page = filter;
    page.emplace_back(limit);
    page.emplace_back(offset);
    auto rows = db.All(std::string("SELECT ") + kOrderColumns + " FROM orders" + where +
                           " ORDER BY id DESC LIMIT ? OFFSET ?",
                       page);
    erpmod::JsonWriter w;
    w.BeginObject().Key("items").BeginArray();
    for (const erpmod::Row& row : rows) {
      w.BeginObject();
      WriteOrderFields(w, row);
      w.EndObject();
    }
    w.EndArray().Field("total", count->Int64("n")).Field("limit", limit).Field("offset", offset).EndObject();
    return erpmod::Response::Json(200, w);
  }

  erpmod::Response CreateOrder(erpmod::Request& req) {
    erpmod::FieldErrors errors;
    auto input = ReadOrderInput(req.body(), default_currency_, errors);
    if (!input) return erpmod::Response::ValidationError(errors, "the order is invalid");
    auto priced = PriceOrder(*input, tax_rate_bp_, errors);
    if (!priced) return erpmod::Response::ValidationError(errors, "the order amounts are out of range");

    const erpmod::Context& ctx = context();
    const erpmod::Db& db = ctx.db();
    int64_t id = 0;
    {
      // Plain BEGIN: the order and its lines are only inserted (nothing read and then written), so
      // orders need not take turns: on PostgreSQL they commit side by side (READ COMMITTED), on SQLite
      // the first INSERT takes the write lock as IMMEDIATE would.
      erpmod::Transaction tx(db, "BEGIN");
      std::string now = erpmod::UtcTimestamp();
      id = db.Run("INSERT INTO orders (customer, status, currency, subtotal, discount, tax, total, created_at, updated_at) "
                  "VALUES (?, 'pending', ?, ?, ?, ?, ?, ?, ?)",
                  {input->customer, input->currency, priced->subtotal, priced->discount, priced->tax, priced->total, now, now})
               .last_insert_rowid;
      int64_t line_no = 0;
      for (const PricedLine& line : priced->lines) {
        db.Run("INSERT INTO order_lines (order_id, line_no, sku, quantity, unit_price, discount_bp, line_subtotal, "
               "line_discount, line_total) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
               {id, ++line_no, line.input.sku, line.input.quantity, line.input.unit_price, line.input.discount_bp,
                line.subtotal, line.discount, line.total});
      }
      tx.Commit();
    }

    erpmod::JsonWriter event;
    event.BeginObject().Field("order_id", id).Field("customer", input->customer).Key("lines").BeginArray();
    for (const PricedLine& line : priced->lines) {
      event.BeginObject().Field("sku", line.input.sku).Field("quantity", line.input.quantity).EndObject();
    }
    event.EndArray().EndObject();
    ctx.events().Publish("order.created", event);

    return erpmod::Response::Json(201, *OrderJson(id)).Header("location", "orders/" + std::to_string(id));
  }

  erpmod::Response GetOrder(erpmod::Request& req) {
    std::string text = req.param("id");
    auto id = req.tryParam<int64_t>("id", kIdRange);
    auto json = id ? OrderJson(*id) : std::nullopt;
    if (!json) return OrderNotFound(text);
    return erpmod::Response::Json(200, std::move(*json));
  }

  erpmod::Response CancelOrder(erpmod::Request& req) {
    std::string text = req.param("id");
    auto id = req.tryParam<int64_t>("id", kIdRange);
    if (!id) return OrderNotFound(text);
    const erpmod::Context& ctx = context();
    const erpmod::Db& db = ctx.db();
    {
      erpmod::Transaction tx(db);
      auto row = db.Get("SELECT status FROM orders WHERE id = ?", {*id});
      if (!row) return OrderNotFound(text);
      if (row->String("status") == "cancelled") {
        return erpmod::Response::Error(409, "SALES_ORDER_ALREADY_CANCELLED", "order " + text + " is already cancelled");
      }
      db.Run("UPDATE orders SET status = 'cancelled', updated_at = ? WHERE id = ?", {erpmod::UtcTimestamp(), *id});
      tx.Commit();
    }
    ctx.events().Publish("order.cancelled", erpmod::JsonWriter().BeginObject().Field("order_id", *id).EndObject());
    return erpmod::Response::Json(200, *OrderJson(*id));
  }

  erpmod::Response Summary(erpmod::Request&) {
    auto rows = context().db().All(
        "SELECT status, COUNT(*) AS n, COALESCE(SUM(total), 0) AS total FROM orders GROUP BY status");
    erpmod::JsonWriter w;
    w.BeginObject().Key("by_status").BeginObject();
    int64_t count = 0;
    int64_t total = 0;
    for (const char* status : kStatuses) {
      int64_t n = 0;
      int64_t sum = 0;
      for (const erpmod::Row& row : rows) {
        if (row.String("status") == status) {
          n = row.Int64("n");
          sum = row.Int64("total");
        }
      }
      count += n;
      total += sum;
      w.Key(status).BeginObject().Field("count", n).Field("total", sum).EndObject();
    }
    w.EndObject().Field("count", count).Field("total", total).EndObject();
    return erpmod::Response::Json(200, w);
  }

  // GET /orders/:id/quote?currency=USD: the order's amounts in another currency, at the rate the
  // rates service gives now (ctx.http; runs on the pool). The service down or slow is a 503 within
  // rates_timeout_ms, never a hang.
  erpmod::Response Quote(erpmod::Request& req) {
    std::string text = req.param("id");
    auto id = req.tryParam<int64_t>("id", kIdRange);
    std::string target = req.query("currency", "");
    if (!IsValidCurrency(target)) {
      erpmod::FieldErrors errors;
      errors.Add("currency", "3 upper-case letters, e.g. USD");
      return erpmod::Response::ValidationError(errors, erpmod::Request::kQueryInvalid);
    }
    auto order = id ? context().db().Get("SELECT currency, subtotal, discount, tax, total FROM orders WHERE id = ?", {*id})
                    : std::nullopt;
    if (!order) return OrderNotFound(text);
    std::string from = order->String("currency");
    double rate = 1.0;
    if (from != target) {
      erpmod::HttpResponse res;
      try {
        res = context().http().Get(rates_url_ + "?from=" + from + "&to=" + target, static_cast<int>(rates_timeout_ms_));
      } catch (const erpmod::HttpClientError& e) {
        context().logger().Warn("rates service failed", {{"code", e.code()}, {"cause", e.cause()}});
        return erpmod::Response::Error(503, "SALES_RATES_UNAVAILABLE",
                                       "the exchange-rate service did not answer (" + e.code() + "); retry later")
            .Header("retry-after", "5");
      }
      auto value = res.json.Get("rate").AsDouble();
      if (res.status != 200 || !value || *value <= 0) {
        return erpmod::Response::Error(502, "SALES_RATES_INVALID",
                                       "the exchange-rate service answered " + std::to_string(res.status) + " without a positive rate");
      }
      rate = *value;
    }
    auto convert = [rate](int64_t minor) { return static_cast<int64_t>(std::llround(static_cast<double>(minor) * rate)); };
    erpmod::JsonWriter w;
    w.BeginObject()
        .Field("order_id", *id)
        .Field("from", from)
        .Field("currency", target)
        .Field("rate", rate)
        .Field("subtotal", convert(order->Int64("subtotal")))
        .Field("discount", convert(order->Int64("discount")))
        .Field("tax", convert(order->Int64("tax")))
        .Field("total", convert(order->Int64("total")))
        .EndObject();
    return erpmod::Response::Json(200, w);
  }

  // GET /export: every order line as CSV, then per-customer totals, with a digest of the file, computed
  // on a pool thread (one query, then work that would otherwise hold the JavaScript thread).
  erpmod::Response Export(erpmod::Request&) {
    auto lines = context().db().All(
        "SELECT o.id, o.customer, o.status, o.currency, l.line_no, l.sku, l.quantity, l.unit_price, l.line_total "
        "FROM orders o JOIN order_lines l ON l.order_id = o.id ORDER BY o.id, l.line_no");
    std::string csv = "order_id,customer,status,currency,line_no,sku,quantity,unit_price,line_total\n";
    std::map<std::string, int64_t> by_customer;
    for (const erpmod::Row& line : lines) {
      std::string customer = line.String("customer");
      csv += std::to_string(line.Int64("id")) + "," + CsvField(customer) + "," + line.String("status") + "," +
             line.String("currency") + "," + std::to_string(line.Int64("line_no")) + "," + CsvField(line.String("sku")) + "," +
             std::to_string(line.Int64("quantity")) + "," + std::to_string(line.Int64("unit_price")) + "," +
             std::to_string(line.Int64("line_total")) + "\n";
      if (line.String("status") != "cancelled") by_customer[customer] += line.Int64("line_total");
    }
    // Per-customer totals (cancelled orders left out) close the file, after one empty line.
    std::string summary = "\ncustomer,total\n";
    for (const auto& entry : by_customer) summary += CsvField(entry.first) + "," + std::to_string(entry.second) + "\n";
    csv += summary;
    // FNV-1a over the file, so a consumer can tell two exports apart without comparing them.
    uint64_t digest = 1469598103934665603ULL;
    for (unsigned char c : csv) digest = (digest ^ c) * 1099511628211ULL;
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(digest));
    erpmod::Response res = erpmod::Response::Text(200, std::move(csv));
    res.content_type = "text/csv; charset=utf-8";
    return res.Header("x-export-lines", std::to_string(lines.size())).Header("x-export-digest", hex);
  }

  static std::string CsvField(const std::string& value) {
    if (value.find_first_of(",\"\n\r") == std::string::npos) return value;
    std::string quoted = "\"";
    for (char c : value) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
    return quoted + "\"";
  }

  // The order with its lines as JSON, or nothing.
  std::optional<std::string> OrderJson(int64_t id) {
    const erpmod::Db& db = context().db();
    auto order = db.Get(std::string("SELECT ") + kOrderColumns + " FROM orders WHERE id = ?", {id});
    if (!order) return std::nullopt;
    erpmod::JsonWriter w;
    w.BeginObject();
    WriteOrderFields(w, *order);
    w.Key("lines").BeginArray();
    for (const erpmod::Row& line : db.All("SELECT line_no, sku, quantity, unit_price, discount_bp, line_subtotal, "
                                          "line_discount, line_total FROM order_lines WHERE order_id = ? ORDER BY line_no",
                                          {id})) {
      w.BeginObject()
          .Field("line_no", line.Int64("line_no"))
          .Field("sku", line.String("sku"))
          .Field("quantity", line.Int64("quantity"))
          .Field("unit_price", line.Int64("unit_price"))
          .Field("discount_bp", line.Int64("discount_bp"))
          .Field("line_subtotal", line.Int64("line_subtotal"))
          .Field("line_discount", line.Int64("line_discount"))
          .Field("line_total", line.Int64("line_total"))
          .EndObject();
    }
    w.EndArray().EndObject();
    return w.Take();
  }

  void SetStatusFromEvent(const erpmod::JsonValue& payload, const char* status, const char* from) {
    auto id = payload.Get("order_id").AsInt64();
    if (!id) throw std::invalid_argument("stock event without an integer order_id");
    auto result = context().db().Run(std::string("UPDATE orders SET status = ?, updated_at = ? WHERE id = ? AND ") + from,
                                      {status, erpmod::UtcTimestamp(), *id});
    if (result.changes == 0) {
      context().logger().Warn("stock event for an order not awaiting stock; ignored", {{"order_id", *id}, {"status", status}});
    }
  }

  erpmod::RouteTable routes_;
  int64_t tax_rate_bp_ = 2000;
  std::string default_currency_ = "EUR";
  std::string rates_url_ = "https://rates.example.com/v1/rates";
  int64_t rates_timeout_ms_ = 1500;
};

}  // namespace sales

ERPMOD_MODULE(sales::Sales, "sales", "1.4.0")
