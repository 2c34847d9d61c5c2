// erpmod/detail/host-api.h: the host's `ctx` functions, held by persistent references so the
// module can call them on every later request. Internal to the SDK.
#ifndef ERPMOD_DETAIL_HOST_API_H_
#define ERPMOD_DETAIL_HOST_API_H_

#include "erpmod/detail/execution.h"
#include "erpmod/detail/napi-config.h"

#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace erpmod {
namespace detail {

// What a job threw on a worker thread, for the JavaScript thread to reject its promise with.
struct NativeFailure {
  std::string message;
  // An error code the rejection carries (a DbError's, set by the caller that knows the type); "" for none.
  std::string code;
};

// Runs `body` on a worker thread, where nothing may escape: what it threw becomes a NativeFailure
// (what(), or "unknown native exception" for anything that is not a std::exception).
template <typename F>
std::optional<NativeFailure> CatchNative(F&& body) {
  try {
    body();
    return std::nullopt;
  } catch (const std::exception& e) {
    return NativeFailure{e.what(), {}};
  } catch (...) {
    return NativeFailure{"unknown native exception", {}};
  }
}

// On the JavaScript thread: rejects with an Error carrying the failure's message, and its code if any.
inline void RejectWith(Napi::Env env, napi_deferred deferred, const NativeFailure& failure) {
  Napi::Error rejection = Napi::Error::New(env, failure.message);
  if (!failure.code.empty()) rejection.Set("code", Napi::String::New(env, failure.code));
  napi_reject_deferred(env, deferred, rejection.Value());
}

// One host function, bound to the object it must be called on (`ctx.db.run` with this = ctx.db).
class HostMethod {
 public:
  void Bind(Napi::Value owner, std::string path, const char* name) {
    path_ = std::move(path);
    if (!owner.IsObject()) return;
    Napi::Value fn = owner.As<Napi::Object>().Get(name);
    if (!fn.IsFunction()) return;
    self_ = Napi::Persistent(owner.As<Napi::Object>());
    fn_ = Napi::Persistent(fn.As<Napi::Function>());
  }
  bool bound() const { return !fn_.IsEmpty(); }
  const std::string& path() const { return path_; }
  Napi::Value Call(std::initializer_list<napi_value> args) const { return fn_.Call(self_.Value(), args); }
  void Reset() {
    fn_.Reset();
    self_.Reset();
  }

 private:
  std::string path_;
  Napi::ObjectReference self_;
  Napi::FunctionReference fn_;
};

enum LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// What a settled promise hands back to the code waiting for it (on a pool thread or a fiber, whose
// stack holds this until `done` is told): see HostApi::Then. JavaScript thread only.
class Settlement {
 public:
  virtual void Fulfilled(Napi::Value value) = 0;
  virtual void Rejected(Napi::Value error) = 0;

  // The waiting code's completion, set by Then.
  std::shared_ptr<Completion> done;

 protected:
  ~Settlement() = default;
};

// Everything the SDK needs from `ctx`, resolved once in initialize.
class HostApi {
 public:
  HostApi(Napi::Object ctx, Napi::Function json_parse) : env_(ctx.Env()) {
    ctx_ = Napi::Persistent(ctx);
    json_parse_ = Napi::Persistent(json_parse);
    // Made once: a promise's callbacks are these bound to the waiting code (Then), not functions made per call.
    on_fulfilled_ = Napi::Persistent(Napi::Function::New(env_, &HostApi::OnFulfilled, "erpmod:fulfilled"));
    on_rejected_ = Napi::Persistent(Napi::Function::New(env_, &HostApi::OnRejected, "erpmod:rejected"));
    code_ = StringMember(ctx, "code");
    version_ = StringMember(ctx, "version");
    data_dir_ = StringMember(ctx, "dataDir");
    Napi::Value config = ctx.Get("config");
    config_ = Napi::Persistent(config.IsObject() ? config.As<Napi::Object>() : Napi::Object::New(env_));
    Napi::Value db = ctx.Get("db");
    db_exec.Bind(db, "ctx.db.exec", "exec");
    db_run.Bind(db, "ctx.db.run", "run");
    db_get.Bind(db, "ctx.db.get", "get");
    db_all.Bind(db, "ctx.db.all", "all");
    // PostgreSQL: every ctx.db call answers with a promise, which only a pool thread or a fiber can wait for.
    if (db.IsObject()) {
      Napi::Value promises = db.As<Napi::Object>().Get("promises");
      db_async_ = promises.IsBoolean() && promises.As<Napi::Boolean>().Value();
      // Transactions by handle, each on a connection of its own (hosts that offer them); without them the
      // module's transactions take turns on the database lock.
      Napi::Value tx = db.As<Napi::Object>().Get("transactions");
      tx_begin.Bind(tx, "ctx.db.transactions.begin", "begin");
      tx_exec.Bind(tx, "ctx.db.transactions.exec", "exec");
      tx_run.Bind(tx, "ctx.db.transactions.run", "run");
      tx_get.Bind(tx, "ctx.db.transactions.get", "get");
      tx_all.Bind(tx, "ctx.db.transactions.all", "all");
      tx_commit.Bind(tx, "ctx.db.transactions.commit", "commit");
      tx_rollback.Bind(tx, "ctx.db.transactions.rollback", "rollback");
      db_tx_handles_ = db_async_ && tx_begin.bound() && tx_exec.bound() && tx_run.bound() && tx_get.bound() &&
                       tx_all.bound() && tx_commit.bound() && tx_rollback.bound();
    }
    Napi::Value logger = ctx.Get("logger");
    static constexpr const char* kLevels[] = {"debug", "info", "warn", "error"};
    for (int i = 0; i < 4; ++i) log[i].Bind(logger, std::string("ctx.logger.") + kLevels[i], kLevels[i]);
    Napi::Value events = ctx.Get("events");
    publish.Bind(events, "ctx.events.publish", "publish");
    subscribe.Bind(events, "ctx.events.subscribe", "subscribe");
    // Hosts before `execution: pool` give no ctx.http; the SDK then says so when it is used.
    http_request.Bind(ctx.Get("http"), "ctx.http.request", "request");
    bridge_ = Bridge::Create(env_, "erpmod:" + code_);
  }

  // Runs `fn(env)` on the JavaScript thread: inline when already there (handlers with
  // `execution: main`, event callbacks, Initialize), else through the bridge, blocking the
  // calling pool thread until it ran. Whatever `fn` returns must not hold JavaScript values
  // unless the caller is on the JavaScript thread.
  template <typename F>
  auto OnJs(F&& fn) const -> decltype(fn(std::declval<Napi::Env>())) {
    if (bridge_ == nullptr || bridge_->OnJsThread()) return fn(env_);
    return bridge_->Call(std::forward<F>(fn));
  }
  bool OnJsThread() const { return bridge_ == nullptr || bridge_->OnJsThread(); }
  const std::shared_ptr<Bridge>& bridge() const { return bridge_; }
  DbLock& db_lock() const { return *db_lock_; }
  bool db_async() const { return db_async_; }
  // Pool threads run each transaction on its own connection and need no database lock.
  bool db_tx_handles() const { return db_tx_handles_; }
  // What waits for PostgreSQL without a thread of its own runs on a fiber (fiber.h): where fibers
  // exist, ctx.db answers with promises and each transaction has a connection of its own.
  bool fibers() const { return ERPMOD_FIBERS && db_async_ && db_tx_handles_; }

  // Runs `job` where it may wait (a fiber when fibers(), else one of the module's worker threads)
  // and returns a promise, settled on the JavaScript thread with `to_js(result)` or rejected with
  // the job's exception. For what the host calls on the JavaScript thread but must be able to wait
  // for PostgreSQL (db_async()).
  template <typename R>
  Napi::Value OnPool(Napi::Env env, std::function<R()> job, std::function<napi_value(Napi::Env, R&)> to_js) const {
    napi_deferred deferred = nullptr;
    napi_value promise = nullptr;
    NAPI_THROW_IF_FAILED(env, napi_create_promise(env, &deferred, &promise), Napi::Value());
    std::shared_ptr<Bridge> bridge = bridge_;
    bridge->Ref(env);
    try {
      Waitable([job = std::move(job), to_js = std::move(to_js), deferred, bridge]() {
        auto out = std::make_shared<R>();
        std::optional<NativeFailure> failure = CatchNative([&] { *out = job(); });
        bridge->Post([bridge, out, failure = std::move(failure), deferred, to_js](napi_env raw) {
          if (raw == nullptr) return;
          bridge->Unref(raw);
          Napi::Env js(raw);
          Napi::HandleScope scope(js);
          try {
            if (failure) RejectWith(js, deferred, *failure);
            else napi_resolve_deferred(raw, deferred, to_js(js, *out));
          } catch (const Napi::Error& e) {
            napi_reject_deferred(raw, deferred, e.Value());
          }
        });
      });
    } catch (...) {
      bridge->Unref(env);
      throw;
    }
    return Napi::Value(env, promise);
  }

  // Starts `job` where it may wait for the JavaScript thread: on a fiber when fibers(), else on one
  // of the module's worker threads. JavaScript thread only.
  void Waitable(std::function<void()> job) const {
#if ERPMOD_FIBERS
    if (fibers()) return Fiber::Start(std::move(job));
#endif
    workers_->Submit(std::move(job));
  }

  Napi::Env env() const { return env_; }
  const std::string& code() const { return code_; }
  const std::string& version() const { return version_; }
  const std::string& data_dir() const { return data_dir_; }
  Napi::Object ctx() const { return ctx_.Value(); }
  Napi::Object config() const { return config_.Value(); }

  // Calls a host function, with a clear error when the host did not provide it or the module
  // was already cleaned up.
  Napi::Value Call(const HostMethod& method, std::initializer_list<napi_value> args) const {
    if (released_) throw std::runtime_error(method.path() + " called after cleanup()");
    if (!method.bound()) throw std::runtime_error(method.path() + " is not a function in the ctx given to initialize");
    return method.Call(args);
  }

  // Calls `settlement` (which tells `done`) when `promise` settles. Per call this binds the two
  // functions made once to a pointer, where making two Node-API functions (each with its finalizer)
  // cost ~5 % of the host's CPU per order on PostgreSQL. `settlement` must outlive the promise's settling.
  void Then(Napi::Object promise, Settlement* settlement, std::shared_ptr<Completion> done) const {
    settlement->done = std::move(done);
    napi_value token = nullptr;
    NAPI_THROW_IF_FAILED_VOID(env_, napi_create_external(env_, settlement, nullptr, nullptr, &token));
    auto bound = [&](const Napi::FunctionReference& fn) {
      return fn.Value().Get("bind").As<Napi::Function>().Call(fn.Value(), {env_.Undefined(), token});
    };
    promise.Get("then").As<Napi::Function>().Call(promise, {bound(on_fulfilled_), bound(on_rejected_)});
  }

  Napi::Value ParseJson(std::string_view text) const {
    return json_parse_.Call(env_.Undefined(), {Napi::String::New(env_, text.data(), text.size())});
  }

  // Drops every reference to the host's objects (after cleanup) so they can be collected.
  void Release() {
    released_ = true;
    workers_->Stop();
    if (bridge_) bridge_->Close();
    for (HostMethod* m : {&tx_begin, &tx_exec, &tx_run, &tx_get, &tx_all, &tx_commit, &tx_rollback}) m->Reset();
    for (HostMethod* m : {&db_exec, &db_run, &db_get, &db_all, &log[0], &log[1], &log[2], &log[3], &publish, &subscribe, &http_request}) {
      m->Reset();
    }
    config_ = Napi::Persistent(Napi::Object::New(env_));
    ctx_.Reset();
  }
  bool released() const { return released_; }

  HostMethod db_exec, db_run, db_get, db_all;
  HostMethod tx_begin, tx_exec, tx_run, tx_get, tx_all, tx_commit, tx_rollback;
  HostMethod log[4];
  HostMethod publish, subscribe;
  HostMethod http_request;

 private:
  static Settlement* SettlementOf(const Napi::CallbackInfo& info) {
    return static_cast<Settlement*>(info[0].As<Napi::External<Settlement>>().Data());
  }
  static Napi::Value OnFulfilled(const Napi::CallbackInfo& info) {
    SettlementOf(info)->Fulfilled(info.Length() > 1 ? info[1] : info.Env().Undefined());
    return info.Env().Undefined();
  }
  static Napi::Value OnRejected(const Napi::CallbackInfo& info) {
    SettlementOf(info)->Rejected(info.Length() > 1 ? info[1] : info.Env().Undefined());
    return info.Env().Undefined();
  }

  static std::string StringMember(Napi::Object obj, const char* name) {
    Napi::Value v = obj.Get(name);
    return v.IsString() ? v.As<Napi::String>().Utf8Value() : std::string();
  }

  Napi::Env env_;
  Napi::ObjectReference ctx_;
  Napi::ObjectReference config_;
  Napi::FunctionReference json_parse_;
  Napi::FunctionReference on_fulfilled_, on_rejected_;
  std::string code_, version_, data_dir_;
  bool released_ = false;
  std::shared_ptr<Bridge> bridge_;
  std::unique_ptr<DbLock> db_lock_ = std::make_unique<DbLock>();
  bool db_async_ = false;
  bool db_tx_handles_ = false;
  // Threads for Initialize, subscribers and Health when db_async(); none start until used.
  std::shared_ptr<WorkerPool> workers_ = WorkerPool::Create();
};

}  // namespace detail
}  // namespace erpmod

#endif  // ERPMOD_DETAIL_HOST_API_H_
