// erpmod/db.h: the module's own database through `ctx.db`: a SQLite file (better-sqlite3 in the
// host), or its own schema on PostgreSQL when the host has a database_url. The same calls and SQL
// (the portable subset in native-sdk/README.md) work on both.
//
//   ctx.db().Exec("DELETE FROM drafts");
//   erpmod::RunResult r = ctx.db().Run("INSERT INTO items (sku, stock) VALUES (?, ?)", {sku, stock});
//   if (auto row = ctx.db().Get("SELECT stock FROM items WHERE sku = ?", {sku})) row->Int64("stock");
//   for (const erpmod::Row& row : ctx.db().All("SELECT * FROM items")) ...
//
// Parameters bind to `?` placeholders in order. A failing statement throws erpmod::DbError with
// the engine's message and SQLite's code (e.g. "SQLITE_CONSTRAINT_PRIMARYKEY"), on PostgreSQL too. Rows are views: valid during
// the current call, like JsonValue; on a pool thread they are detached copies.
//
// From pool threads (`execution: pool`) every statement runs on the JavaScript thread, where the
// connection lives, and the module's statements are serialized: a Transaction holds the module's
// database from BEGIN to COMMIT / ROLLBACK, so another request's statements wait instead of landing
// inside it. A statement from the JavaScript thread (a `main` route, an event callback) while a pool
// request holds an open transaction fails with code "SQLITE_BUSY" instead of joining it.
// Where the host gives each transaction a connection of its own (module data on PostgreSQL), nothing
// is serialized: each pool thread's Transaction has its own connection, the statements made on that
// thread meanwhile go to it, and other requests' statements run beside it, never inside it.
//
// On a host that keeps module data on PostgreSQL, ctx.db answers with promises: a pool thread or a
// fiber (detail/fiber.h) waits for them; on the JavaScript thread's own stack a statement fails with
// code "SQLITE_MISUSE" (waiting there would stall the host). The host therefore runs such a module's
// `pool` routes on the pool and its `main` routes on fibers, and the SDK its Initialize, event
// subscribers and Health on fibers (on the module's worker threads where fibers do not fit).
#ifndef ERPMOD_DB_H_
#define ERPMOD_DB_H_

#include "erpmod/detail/host-api.h"
#include "erpmod/detail/napi-config.h"
#include "erpmod/json-value.h"

#include <cctype>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace erpmod {

namespace detail {
// What a pool thread or a fiber is doing for one module (module data on PostgreSQL), one per
// thread of execution: it runs one handler at a time. `T` is the value; `host` says which module it
// belongs to.
template <typename T>
struct ThreadState {
  const HostApi* host = nullptr;
  T value{};
};
template <typename T>
inline ThreadState<T>& ThreadSlot() {
  return ExecutionLocal<ThreadState<T>>();
}
// The transaction open by handle (its statements go to that transaction's connection): its id.
struct TransactionId {
  int64_t id = 0;
};
using OpenTransaction = ThreadState<TransactionId>;
inline OpenTransaction& ThreadTransaction() { return ThreadSlot<TransactionId>(); }
// The event delivery a subscriber runs for: a transaction it begins is the one that records the
// delivery as handled when it commits, and no other.
struct DeliveryId {
  double event = 0;
};
using OpenDelivery = ThreadState<DeliveryId>;
inline OpenDelivery& ThreadDelivery() { return ThreadSlot<DeliveryId>(); }
}  // namespace detail

// One bound parameter: NULL, a 64-bit integer, a double or text. bool binds as 0 / 1 (SQLite has
// no boolean type); integers beyond 2^53 are passed as BigInt so they stay exact.
class Param {
 public:
  Param(std::nullptr_t) : kind_(kNull) {}
  template <typename T, std::enable_if_t<std::is_same_v<T, bool>, int> = 0>
  Param(T v) : kind_(kInt), int_(v ? 1 : 0) {}
  template <typename T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>, int> = 0>
  Param(T v) : kind_(kInt), int_(static_cast<int64_t>(v)) {}
  template <typename T, std::enable_if_t<std::is_floating_point_v<T>, int> = 0>
  Param(T v) : kind_(kDouble), double_(static_cast<double>(v)) {}
  Param(const char* v) : kind_(v ? kText : kNull), text_(v ? v : "") {}
  Param(std::string v) : kind_(kText), text_(std::move(v)) {}
  Param(std::string_view v) : kind_(kText), text_(v) {}
  template <typename T>
  Param(const std::optional<T>& v) : Param(nullptr) {
    if (v) *this = Param(*v);
  }

  napi_value ToNapi(Napi::Env env) const {
    switch (kind_) {
      case kNull: return env.Null();
      case kInt:
        if (int_ > kMaxSafeInteger || int_ < -kMaxSafeInteger) return Napi::BigInt::New(env, int_);
        return Napi::Number::New(env, static_cast<double>(int_));
      case kDouble: return Napi::Number::New(env, double_);
      case kText: return Napi::String::New(env, text_);
    }
    return env.Null();
  }

 private:
  enum Kind { kNull, kInt, kDouble, kText };
  Kind kind_;
  int64_t int_ = 0;
  double double_ = 0;
  std::string text_;
};

using Params = std::vector<Param>;

struct RunResult {
  int64_t changes = 0;
  int64_t last_insert_rowid = 0;
};

class DbError : public std::runtime_error {
 public:
  DbError(const std::string& message, std::string code) : std::runtime_error(message), code_(std::move(code)) {}
  // SQLite's extended result code name, e.g. "SQLITE_CONSTRAINT_UNIQUE"; "" when unknown.
  const std::string& code() const { return code_; }
  // True for any SQLITE_CONSTRAINT_* failure (unique, primary key, check, foreign key, not null).
  bool IsConstraint() const { return code_.rfind("SQLITE_CONSTRAINT", 0) == 0; }
  // A duplicate key: a UNIQUE or PRIMARY KEY constraint.
  bool IsUnique() const { return code_ == "SQLITE_CONSTRAINT_UNIQUE" || code_ == "SQLITE_CONSTRAINT_PRIMARYKEY"; }
  // A reference to a row that does not exist (or a row still referenced).
  bool IsForeignKey() const { return code_ == "SQLITE_CONSTRAINT_FOREIGNKEY"; }
  // PostgreSQL (database_url) could not be reached; the host answers the request 503 if it fails.
  bool IsUnavailable() const { return code_ == "ERPMOD_DATABASE_UNAVAILABLE"; }

 private:
  std::string code_;
};

// One result row (a JavaScript object keyed by column name), read column by column.
// The typed getters throw std::runtime_error naming the column when the value has another type.
class Row {
 public:
  explicit Row(Napi::Object row) : row_(row) {}
  // A detached row (pool threads): `row` is a detached JsonValue object.
  explicit Row(JsonValue row) : detached_(std::move(row)) {}

  bool Has(std::string_view column) const {
    if (detached_.IsDetached()) return detached_.Has(column);
    return row_.HasOwnProperty(std::string(column));
  }
  bool IsNull(std::string_view column) const { return Column(column).IsMissing(); }
  JsonValue Column(std::string_view column) const {
    if (detached_.IsDetached()) return detached_.Get(column);
    return JsonValue(row_.Get(std::string(column)));
  }

  int64_t Int64(std::string_view column) const { return Required(column, OptInt64(column), "an integer"); }
  double Double(std::string_view column) const { return Required(column, OptDouble(column), "a number"); }
  std::string String(std::string_view column) const { return Required(column, OptString(column), "text"); }
  // An integer column read as a flag (0 = false).
  bool Bool(std::string_view column) const { return Int64(column) != 0; }

  // Empty when the column is NULL; throws when it holds another type.
  std::optional<int64_t> OptInt64(std::string_view column) const {
    JsonValue v = Column(column);
    if (v.IsMissing()) return std::nullopt;
    if (auto i = v.AsInt64()) return i;
    throw TypeMismatch(column, "an integer", v);
  }
  std::optional<double> OptDouble(std::string_view column) const {
    JsonValue v = Column(column);
    if (v.IsMissing()) return std::nullopt;
    if (auto d = v.AsDouble()) return d;
    if (auto i = v.AsInt64()) return static_cast<double>(*i);
    throw TypeMismatch(column, "a number", v);
  }
  std::optional<std::string> OptString(std::string_view column) const {
    JsonValue v = Column(column);
    if (v.IsMissing()) return std::nullopt;
    if (auto s = v.AsString()) return s;
    throw TypeMismatch(column, "text", v);
  }

  // Empty for a detached row.
  Napi::Object napi() const { return row_; }

 private:
  template <typename T>
  T Required(std::string_view column, std::optional<T> v, const char* what) const {
    if (!v) throw std::runtime_error("column \"" + std::string(column) + "\": expected " + what + ", got NULL");
    return *v;
  }
  static std::runtime_error TypeMismatch(std::string_view column, const char* what, const JsonValue& v) {
    return std::runtime_error("column \"" + std::string(column) + "\": expected " + what + ", got " + v.TypeName());
  }

  Napi::Object row_;
  JsonValue detached_;
};

class Db {
 public:
  explicit Db(detail::HostApi* host) : host_(host) {}

  // Runs one or more statements without parameters (DDL, BEGIN / COMMIT).
  void Exec(std::string_view sql) const {
    Statement<int>(host_->db_exec, host_->tx_exec, sql, nullptr, [](Napi::Value, bool) { return 0; });
  }

  RunResult Run(std::string_view sql, const Params& params = {}) const {
    return Statement<RunResult>(host_->db_run, host_->tx_run, sql, &params, [](Napi::Value v, bool) {
      RunResult r;
      if (v.IsObject()) {
        JsonValue info(v);
        r.changes = info.Get("changes").AsInt64().value_or(0);
        r.last_insert_rowid = info.Get("lastInsertRowid").AsInt64().value_or(0);
      }
      return r;
    });
  }

  // The first row, or nothing.
  std::optional<Row> Get(std::string_view sql, const Params& params = {}) const {
    return Statement<std::optional<Row>>(host_->db_get, host_->tx_get, sql, &params, [](Napi::Value v, bool detach) -> std::optional<Row> {
      if (!v.IsObject()) return std::nullopt;
      if (detach) return Row(JsonValue::Detach(v));
      return Row(v.As<Napi::Object>());
    });
  }

  std::vector<Row> All(std::string_view sql, const Params& params = {}) const {
    return Statement<std::vector<Row>>(host_->db_all, host_->tx_all, sql, &params, [](Napi::Value v, bool detach) {
      std::vector<Row> rows;
      if (!v.IsArray()) return rows;
      Napi::Array arr = v.As<Napi::Array>();
      uint32_t n = arr.Length();
      rows.reserve(n);
      for (uint32_t i = 0; i < n; ++i) {
        Napi::Value item = arr.Get(i);
        if (!item.IsObject()) continue;
        if (detach) rows.emplace_back(JsonValue::Detach(item));
        else rows.emplace_back(item.As<Napi::Object>());
      }
      return rows;
    });
  }

 private:
  friend class Transaction;

  // One statement. On the JavaScript thread: inline, as before pools existed. On a pool thread: carried
  // to the JavaScript thread; when the host's ctx.db answers with a promise (module data on PostgreSQL),
  // this thread waits for it to settle. With transactions by handle (db_tx_handles()) a statement inside
  // this thread's Transaction goes to its connection (`in_tx`) and no lock is needed; otherwise the
  // module's database lock serializes the statement. `convert(value, detach)` runs on the JavaScript
  // thread and must copy what it keeps when `detach` is true.
  template <typename R, typename Convert>
  R Statement(const detail::HostMethod& method, const detail::HostMethod& in_tx, std::string_view sql, const Params* params,
              Convert convert) const {
    if (host_->OnJsThread()) {
      if (host_->db_lock().TransactionOpenElsewhere()) {
        throw DbError("the module's database is inside a transaction of a request running on the pool; retry", "SQLITE_BUSY");
      }
      Napi::Value v = Guarded(method, sql, params);
      if (v.IsPromise()) {
        throw DbError(method.path() + " returned a promise (this host keeps module data on PostgreSQL): call it from a route with execution: pool",
                      "SQLITE_MISUSE");
      }
      return convert(v, false);
    }
    if (host_->db_tx_handles()) {
      const detail::OpenTransaction& open = detail::ThreadTransaction();
      if (open.host != host_) return Awaited<R>([&] { return Guarded(method, sql, params); }, convert);
      int64_t id = open.value.id;
      return Awaited<R>([&] { return GuardedOn(in_tx, id, sql, params); }, convert);
    }
    detail::DbLock& lock = host_->db_lock();
    lock.Acquire();
    struct Releaser {
      detail::DbLock& lock;
      ~Releaser() { lock.Release(); }
    } releaser{lock};
    return Awaited<R>([&] { return Guarded(method, sql, params); }, convert);
  }

  // From a pool thread: runs `call()` on the JavaScript thread and waits for its value, or for the
  // promise it returns to settle; `convert(value, true)` copies the result there.
  template <typename R, typename Call, typename Convert>
  R Awaited(Call call, Convert convert) const {
    // Lives on this (waiting) stack until `done` is told: the promise's callbacks point at it.
    struct Waiter final : detail::Settlement {
      R result{};
      Convert& convert;
      explicit Waiter(Convert& c) : convert(c) {}
      void Fulfilled(Napi::Value value) override {
        try {
          result = convert(value, true);
          done->Done();
        } catch (...) {
          done->Fail();
        }
      }
      void Rejected(Napi::Value error) override {
        try {
          done->Done(std::make_exception_ptr(ToDbError(error)));
        } catch (...) {
          // Reading the error failed (a JavaScript exception): Fail() keeps only its message.
          done->Fail();
        }
      }
    } waiter(convert);
    host_->bridge()->CallAsync([&](Napi::Env, std::shared_ptr<detail::Completion> done) {
      Napi::Value v = call();
      if (!v.IsPromise()) {
        waiter.result = convert(v, true);
        return done->Done();
      }
      host_->Then(v.As<Napi::Object>(), &waiter, std::move(done));
    });
    return std::move(waiter.result);
  }

  // Transactions by handle, from a pool thread: begin answers the handle, commit / rollback end it.
  int64_t BeginHandle(std::string_view begin) const {
    const detail::OpenDelivery delivery = detail::ThreadDelivery();
    return Awaited<int64_t>(
        [&]() -> Napi::Value {
          Napi::Env env = host_->env();
          try {
            napi_value text = Napi::String::New(env, begin.data(), begin.size());
            if (delivery.host != host_) return host_->Call(host_->tx_begin, {text});
            return host_->Call(host_->tx_begin, {text, Napi::Number::New(env, delivery.value.event)});
          } catch (const Napi::Error& e) {
            throw ToDbError(e.Value());
          }
        },
                            [](Napi::Value v, bool) { return JsonValue(v).AsInt64().value_or(0); });
  }
  void EndHandle(const detail::HostMethod& method, int64_t id) const {
    Awaited<int>(
        [&]() -> Napi::Value {
          try {
            return host_->Call(method, {Napi::Number::New(host_->env(), static_cast<double>(id))});
          } catch (const Napi::Error& e) {
            throw ToDbError(e.Value());
          }
        },
        [](Napi::Value, bool) { return 0; });
  }

  // A JavaScript error from ctx.db as a DbError (message and SQLite-style code).
  static DbError ToDbError(Napi::Value err) {
    std::string message = "ctx.db failed", code;
    if (err.IsObject()) {
      Napi::Object e = err.As<Napi::Object>();
      Napi::Value m = e.Get("message"), c = e.Get("code");
      if (m.IsString()) message = m.As<Napi::String>().Utf8Value();
      if (c.IsString()) code = c.As<Napi::String>().Utf8Value();
    }
    return DbError(message, std::move(code));
  }

  // A statement of the transaction `id` (by handle): the same arguments after the handle.
  Napi::Value GuardedOn(const detail::HostMethod& method, int64_t id, std::string_view sql, const Params* params) const {
    Napi::Env env = host_->env();
    try {
      napi_value handle = Napi::Number::New(env, static_cast<double>(id));
      napi_value text = Napi::String::New(env, sql.data(), sql.size());
      if (params == nullptr) return host_->Call(method, {handle, text});
      Napi::Array list = Napi::Array::New(env, params->size());
      for (size_t i = 0; i < params->size(); ++i) list.Set(static_cast<uint32_t>(i), (*params)[i].ToNapi(env));
      return host_->Call(method, {handle, text, list});
    } catch (const Napi::Error& e) {
      throw ToDbError(e.Value());
    }
  }

  Napi::Value Guarded(const detail::HostMethod& method, std::string_view sql, const Params* params) const {
    Napi::Env env = host_->env();
    try {
      napi_value text = Napi::String::New(env, sql.data(), sql.size());
      if (params == nullptr) return host_->Call(method, {text});
      Napi::Array list = Napi::Array::New(env, params->size());
      for (size_t i = 0; i < params->size(); ++i) list.Set(static_cast<uint32_t>(i), (*params)[i].ToNapi(env));
      return host_->Call(method, {text, list});
    } catch (const Napi::Error& e) {
      throw ToDbError(e.Value());
    }
  }

  detail::HostApi* host_;
};

// BEGIN IMMEDIATE on construction, ROLLBACK on destruction unless Commit() ran. IMMEDIATE takes
// the write lock up front, so two processes sharing the file cannot deadlock on an upgrade.
//
//   erpmod::Transaction tx(ctx.db());
//   ctx.db().Run(...); ctx.db().Run(...);
//   tx.Commit();
//
// On a pool thread the transaction also holds the module's database lock from BEGIN to its end
// (see the top of this file) — except where the host gives each transaction a connection of its own
// (module data on PostgreSQL): there concurrent requests each run their own transaction at once, and
// the statements of this thread go to this transaction's connection alone.
class Transaction {
 public:
  explicit Transaction(const Db& db, std::string_view begin = "BEGIN IMMEDIATE") : db_(db) {
    pooled_ = !db_.host_->OnJsThread();
    if (pooled_ && db_.host_->db_tx_handles() && StartsWithBegin(begin)) {
      detail::OpenTransaction& open = detail::ThreadTransaction();
      if (open.host == db_.host_) throw DbError("cannot start a transaction within a transaction", "SQLITE_ERROR");
      int64_t id = db_.BeginHandle(begin);
      outer_ = open;
      open = {db_.host_, {id}};
      id_ = id;
      return;
    }
    if (pooled_) db_.host_->db_lock().Acquire();
    try {
      db_.Exec(begin);
    } catch (...) {
      Unlock();
      throw;
    }
    if (pooled_) db_.host_->db_lock().SetTransactionOpen(true);
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction() {
    if (done_) return;
    try {
      if (id_ != 0) {
        int64_t id = Detach();
        db_.EndHandle(db_.host_->tx_rollback, id);
      } else {
        db_.Exec("ROLLBACK");
      }
    } catch (...) {
      // The statement that failed may already have rolled the transaction back.
    }
    Unlock();
  }
  void Commit() {
    if (id_ != 0) {
      // Whatever COMMIT answers, the transaction is over and its connection returned.
      int64_t id = Detach();
      done_ = true;
      db_.EndHandle(db_.host_->tx_commit, id);
      return;
    }
    db_.Exec("COMMIT");
    done_ = true;
    Unlock();
  }
  void Rollback() {
    done_ = true;
    if (id_ != 0) return db_.EndHandle(db_.host_->tx_rollback, Detach());
    try {
      db_.Exec("ROLLBACK");
    } catch (...) {
      Unlock();
      throw;
    }
    Unlock();
  }

 private:
  static bool StartsWithBegin(std::string_view sql) {
    size_t at = sql.find_first_not_of(" \t\r\n");
    if (at == std::string_view::npos || sql.size() - at < 5) return false;
    for (size_t i = 0; i < 5; ++i) {
      if ((sql[at + i] & ~0x20) != "BEGIN"[i]) return false;
    }
    return sql.size() - at == 5 || !std::isalnum(static_cast<unsigned char>(sql[at + 5]));
  }
  // The thread's statements stop going to this transaction; its handle, for the statement that ends it.
  int64_t Detach() {
    detail::ThreadTransaction() = outer_;
    int64_t id = id_;
    id_ = 0;
    handled_ = true;
    return id;
  }
  void Unlock() {
    if (!pooled_ || unlocked_ || handled_) return;
    unlocked_ = true;
    db_.host_->db_lock().SetTransactionOpen(false);
    db_.host_->db_lock().Release();
  }

  const Db& db_;
  bool done_ = false;
  bool pooled_ = false;
  bool unlocked_ = false;
  // Transactions by handle: id_ while open; handled_ once it was one (no database lock to release).
  int64_t id_ = 0;
  bool handled_ = false;
  detail::OpenTransaction outer_;
};

}  // namespace erpmod

#endif  // ERPMOD_DB_H_
