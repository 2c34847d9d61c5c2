// erpmod/detail/runtime.h: the JavaScript face of a module (the `Handler` export and the handler
// object it returns) and the per-environment state behind it. Internal to the SDK; included by
// erpmod/module.h.
//
// Every entry point from JavaScript runs inside Guard(): a C++ exception never crosses the
// Node-API boundary, it becomes a JavaScript Error carrying the exception's message.
#ifndef ERPMOD_DETAIL_RUNTIME_H_
#define ERPMOD_DETAIL_RUNTIME_H_

#include "erpmod/detail/execution.h"
#include "erpmod/detail/host-api.h"
#include "erpmod/detail/napi-config.h"

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace erpmod {
namespace detail {

struct ModuleInfo {
  Module* (*create)();
  const char* code;
  const char* version;
  bool has_health;
};

template <typename F>
Napi::Value Guard(Napi::Env env, F&& body) {
  try {
    return body();
  } catch (const Napi::Error& e) {
    e.ThrowAsJavaScriptException();
  } catch (const std::exception& e) {
    Napi::Error::New(env, e.what()).ThrowAsJavaScriptException();
  } catch (...) {
    Napi::Error::New(env, "unknown native exception").ThrowAsJavaScriptException();
  }
  return env.Undefined();
}

class Runtime;

// Instance data of one Node-API environment (one load of the library in one thread).
struct Instance {
  ModuleInfo info{};
  // `{ 'content-type': 'application/json' }`, frozen and shared by every JSON response.
  Napi::ObjectReference json_headers;
  Napi::FunctionReference json_parse;
  // One per Handler() call; they live as long as the environment because the functions handed
  // to the host point at them.
  std::vector<std::unique_ptr<Runtime>> runtimes;
};

// One module object and its context, behind one handler object.
class Runtime {
 public:
  Runtime(Instance* inst, std::unique_ptr<Module> module) : inst_(inst), module_(std::move(module)) {}

  Napi::Object MakeHandlerObject(Napi::Env env) {
    Napi::Object obj = Napi::Object::New(env);
    obj.Set("getModuleCode", Napi::Function::New(env, &Runtime::JsGetModuleCode, "getModuleCode", this));
    obj.Set("getModuleVersion", Napi::Function::New(env, &Runtime::JsGetModuleVersion, "getModuleVersion", this));
    obj.Set("initialize", Napi::Function::New(env, &Runtime::JsInitialize, "initialize", this));
    obj.Set("getHandler", Napi::Function::New(env, &Runtime::JsGetHandler, "getHandler", this));
    // Added with execution: pool (same ABI 1): the host runs routes declared `execution: pool` through it.
    obj.Set("getPoolHandler", Napi::Function::New(env, &Runtime::JsGetPoolHandler, "getPoolHandler", this));
#if ERPMOD_FIBERS
    // Added with fibers (same ABI 1): where ctx.db answers with promises the host runs `main` routes
    // through it: on the JavaScript thread, suspended on a fiber while ctx answers (fiber.h).
    obj.Set("getSuspendingHandler", Napi::Function::New(env, &Runtime::JsGetSuspendingHandler, "getSuspendingHandler", this));
#endif
    // ctx.db may answer with promises (module data on PostgreSQL): pool handlers wait for them, and
    // Initialize, event subscribers and Health then run where they may wait (HostApi::OnPool: a fiber,
    // or a worker thread where fibers do not fit) and answer with promises.
    obj.Set("asyncDb", true);
    obj.Set("cleanup", Napi::Function::New(env, &Runtime::JsCleanup, "cleanup", this));
    if (inst_->info.has_health) {
      obj.Set("health", Napi::Function::New(env, &Runtime::JsHealth, "health", this));
    }
    return obj;
  }

 private:
  enum class State { kCreated, kInitialized, kCleanedUp };

  static Runtime* Self(const Napi::CallbackInfo& info) { return static_cast<Runtime*>(info.Data()); }

  static Napi::Value JsGetModuleCode(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), Self(info)->inst_->info.code);
  }

  static Napi::Value JsGetModuleVersion(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), Self(info)->inst_->info.version);
  }

  static Napi::Value JsInitialize(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return Guard(env, [&]() -> Napi::Value {
      Runtime* self = Self(info);
      if (self->state_ == State::kInitialized) throw std::logic_error("initialize() was already called");
      if (self->state_ == State::kCleanedUp) throw std::logic_error("initialize() called after cleanup()");
      if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "initialize(ctx): ctx must be an object");
      self->module_->ctx_ = nullptr;
      self->context_.reset();
      self->host_ = std::make_unique<HostApi>(info[0].As<Napi::Object>(), self->inst_->json_parse.Value());
      self->context_ = std::make_unique<Context>(self->host_.get());
      self->module_->ctx_ = self->context_.get();
      if (self->host_->db_async()) return self->InitializeOnPool(env);
      try {
        self->module_->Initialize(*self->context_);
      } catch (...) {
        self->module_->ctx_ = nullptr;
        self->host_->Release();
        throw;
      }
      self->state_ = State::kInitialized;
      return env.Undefined();
    });
  }

  // Initialize where ctx.db may wait for PostgreSQL (HostApi::OnPool); the host awaits the promise.
  Napi::Value InitializeOnPool(Napi::Env env) {
    return host_->OnPool<std::optional<std::string>>(
        env,
        [this]() -> std::optional<std::string> {
          std::optional<NativeFailure> failure = CatchNative([this] { module_->Initialize(*context_); });
          if (!failure) return std::nullopt;
          return std::move(failure->message);
        },
        [this](Napi::Env js, std::optional<std::string>& failure) -> napi_value {
          if (!failure) {
            state_ = State::kInitialized;
            return js.Undefined();
          }
          module_->ctx_ = nullptr;
          host_->Release();
          throw Napi::Error::New(js, *failure);
        });
  }

  // Where a route's handler runs: on the JavaScript thread as called, on a pool thread, or on a
  // fiber of the JavaScript thread that waits suspended (fiber.h).
  enum class Where { kCaller, kPool, kFiber };

  static Napi::Value JsGetHandler(const Napi::CallbackInfo& info) { return ResolveHandler(info, Where::kCaller); }

  // Like getHandler, but the function it returns copies the request, runs the handler on one of
  // the module's pool threads and returns a promise of the reply.
  static Napi::Value JsGetPoolHandler(const Napi::CallbackInfo& info) { return ResolveHandler(info, Where::kPool); }

  // Like getPoolHandler, but the handler runs on a fiber of the JavaScript thread (a worker thread
  // where fibers do not fit this host: HostApi::fibers()).
  static Napi::Value JsGetSuspendingHandler(const Napi::CallbackInfo& info) { return ResolveHandler(info, Where::kFiber); }

  static Napi::Value ResolveHandler(const Napi::CallbackInfo& info, Where where) {
    Napi::Env env = info.Env();
    return Guard(env, [&]() -> Napi::Value {
      Runtime* self = Self(info);
      const char* name = where == Where::kPool ? "getPoolHandler" : where == Where::kFiber ? "getSuspendingHandler" : "getHandler";
      if (info.Length() < 2 || !info[0].IsString() || !info[1].IsString()) {
        throw Napi::TypeError::New(env, std::string(name) + "(route, method): route and method must be strings");
      }
      std::string route = info[0].As<Napi::String>().Utf8Value();
      std::string method = info[1].As<Napi::String>().Utf8Value();
      HandlerFn fn = self->module_->GetHandler(route, method);
      if (!fn) return env.Null();
      if (where != Where::kCaller) {
        return Napi::Function::New(
            env,
            [self, fn = std::move(fn), where](const Napi::CallbackInfo& call) -> Napi::Value { return self->ServePool(call, fn, where); },
            method + " " + route + (where == Where::kPool ? " (pool)" : " (fiber)"));
      }
      return Napi::Function::New(
          env,
          [self, fn = std::move(fn)](const Napi::CallbackInfo& call) -> Napi::Value { return self->Serve(call, fn); },
          method + " " + route);
    });
  }

  static Napi::Value JsCleanup(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return Guard(env, [&]() -> Napi::Value {
      Runtime* self = Self(info);
      State was = self->state_;
      self->state_ = State::kCleanedUp;
      if (was != State::kInitialized) return env.Undefined();
      try {
        self->module_->Cleanup();
      } catch (...) {
        self->Detach();
        throw;
      }
      self->Detach();
      return env.Undefined();
    });
  }

  static Napi::Value JsHealth(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return Guard(env, [&]() -> Napi::Value {
      Runtime* self = Self(info);
      if (self->host_ && self->host_->db_async() && self->state_ == State::kInitialized) {
        return self->host_->OnPool<HealthReport>(
            env, [self]() { return self->module_->Health(); }, [self](Napi::Env js, HealthReport& report) -> napi_value { return self->HealthToJs(js, report); });
      }
      return self->HealthToJs(env, self->module_->Health());
    });
  }

  Napi::Value HealthToJs(Napi::Env env, const HealthReport& report) {
    Napi::Object obj = Napi::Object::New(env);
    const char* status = report.status == HealthReport::Status::kHealthy    ? "healthy"
                         : report.status == HealthReport::Status::kDegraded ? "degraded"
                                                                             : "unhealthy";
    obj.Set("status", status);
    if (!report.details_json.empty()) {
      obj.Set("details", inst_->json_parse.Call(env.Undefined(), {Napi::String::New(env, report.details_json)}));
    }
    return obj;
  }

  Napi::Value Serve(const Napi::CallbackInfo& call, const HandlerFn& fn) {
    Napi::Env env = call.Env();
    return Guard(env, [&]() -> Napi::Value {
      if (call.Length() < 1 || !call[0].IsObject()) throw Napi::TypeError::New(env, "handler(req): req must be an object");
      Request req(call[0].As<Napi::Object>());
      RequestIdScope request_id(req.requestId());
      Response res;
      try {
        res = fn(req);
      } catch (const HttpError& e) {
        res = e.ToResponse();
      }
      return ToJs(env, res);
    });
  }

  Napi::Value ServePool(const Napi::CallbackInfo& call, const HandlerFn& fn, Where where) {
    Napi::Env env = call.Env();
    return Guard(env, [&]() -> Napi::Value {
      if (call.Length() < 1 || !call[0].IsObject()) throw Napi::TypeError::New(env, "handler(req): req must be an object");
      if (state_ != State::kInitialized || !host_) throw std::logic_error("a pool handler was called outside initialize()..cleanup()");
      auto copy = RequestCopy::From(call[0].As<Napi::Object>());
      napi_deferred deferred = nullptr;
      napi_value promise = nullptr;
      NAPI_THROW_IF_FAILED(env, napi_create_promise(env, &deferred, &promise), Napi::Value());
      if (!pool_ && where == Where::kPool) pool_ = WorkerPool::Create();
      std::shared_ptr<Bridge> bridge = host_->bridge();
      // Held until the reply is built, so a process without a server (a unit test) waits for it.
      bridge->Ref(env);
      auto job = [this, fn, copy = std::move(copy), deferred, bridge]() mutable {
        auto res = std::make_shared<Response>();
        std::string code;
        std::optional<NativeFailure> failure = CatchNative([&] {
          try {
            Request req(std::move(copy));
            RequestIdScope request_id(req.requestId());
            try {
              *res = fn(req);
            } catch (const HttpError& e) {
              *res = e.ToResponse();
            }
          } catch (const DbError& e) {
            // The code travels with the rejection: the host answers ERPMOD_DATABASE_UNAVAILABLE with 503.
            code = e.code();
            throw;
          }
        });
        if (failure) failure->code = std::move(code);
        // The reply is built on the JavaScript thread; if the module is gone by then, the promise
        // is never settled (the host already answered that request).
        bridge->Post([this, bridge, res, failure = std::move(failure), deferred](napi_env raw) {
          if (raw == nullptr) return;
          bridge->Unref(raw);
          Napi::Env js(raw);
          Napi::HandleScope scope(js);
          try {
            if (failure) {
              RejectWith(js, deferred, *failure);
            } else {
              napi_resolve_deferred(raw, deferred, ToJs(js, *res));
            }
          } catch (const Napi::Error& e) {
            napi_reject_deferred(raw, deferred, e.Value());
          }
        });
      };
      try {
        if (where == Where::kFiber) host_->Waitable(std::move(job));
        else pool_->Submit(std::move(job));
      } catch (...) {
        bridge->Unref(env);
        throw;
      }
      return Napi::Value(env, promise);
    });
  }

  // `{ status, headers, body }` in one napi_define_properties call.
  Napi::Value ToJs(Napi::Env env, const Response& res) {
    napi_value obj = nullptr;
    NAPI_THROW_IF_FAILED(env, napi_create_object(env, &obj), Napi::Value());
    napi_property_descriptor props[3];
    size_t n = 0;
    auto add = [&](const char* name, napi_value value) {
      props[n++] = napi_property_descriptor{name, nullptr, nullptr, nullptr, nullptr, value, napi_default_jsproperty, nullptr};
    };
    add("status", Napi::Number::New(env, res.status));
    if (res.content_type == kJsonContentType && res.headers.empty()) {
      add("headers", inst_->json_headers.Value());
    } else if (!res.content_type.empty() || !res.headers.empty()) {
      Napi::Object headers = Napi::Object::New(env);
      if (!res.content_type.empty()) headers.Set("content-type", res.content_type);
      for (const auto& h : res.headers) headers.Set(h.first, h.second);
      add("headers", headers);
    }
    add("body", Napi::String::New(env, res.body));
    NAPI_THROW_IF_FAILED(env, napi_define_properties(env, obj, n, props), Napi::Value());
    return Napi::Value(env, obj);
  }

  void Detach() {
    module_->ctx_ = nullptr;
    if (pool_) pool_->Stop();
    if (host_) host_->Release();
  }

  Instance* inst_;
  // Destroyed in reverse order: the module first, then what it may point at.
  std::unique_ptr<HostApi> host_;
  std::unique_ptr<Context> context_;
  std::unique_ptr<Module> module_;
  State state_ = State::kCreated;
  // Created at the first pool request.
  std::shared_ptr<WorkerPool> pool_;
};

inline Napi::Value HandlerExport(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, [&]() -> Napi::Value {
    Instance* inst = env.GetInstanceData<Instance>();
    if (inst == nullptr) throw std::logic_error("erpmod: the library was not registered in this environment");
    std::unique_ptr<Module> module(inst->info.create());
    inst->runtimes.push_back(std::make_unique<Runtime>(inst, std::move(module)));
    return inst->runtimes.back()->MakeHandlerObject(env);
  });
}

// Body of napi_register_module_v1 (see ERPMOD_MODULE).
inline napi_value RegisterAddon(napi_env raw_env, napi_value raw_exports, const ModuleInfo& info) {
  Napi::Env env(raw_env);
  return Guard(env, [&]() -> Napi::Value {
    auto inst = std::make_unique<Instance>();
    inst->info = info;
    Napi::Object headers = Napi::Object::New(env);
    headers.Set("content-type", kJsonContentType);
    headers.Freeze();
    inst->json_headers = Napi::Persistent(headers);
    Napi::Object json = env.Global().Get("JSON").As<Napi::Object>();
    inst->json_parse = Napi::Persistent(json.Get("parse").As<Napi::Function>());
    env.SetInstanceData(inst.release());
    Napi::Object exports(env, raw_exports);
    exports.Set(ERPMOD_EXPORT_HANDLER, Napi::Function::New(env, &HandlerExport, ERPMOD_EXPORT_HANDLER));
    return exports;
  });
}

}  // namespace detail
}  // namespace erpmod

#endif  // ERPMOD_DETAIL_RUNTIME_H_
