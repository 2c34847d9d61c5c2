// Micro-benchmark addon for docs/decisions.md "execution: pool": the cost of one request's hop to a
// worker thread and back, through (a) the SDK's own pool (condition variable + thread-safe function,
// erpmod/detail/execution.h) and (b) Node-API async work on libuv's thread pool; and the cost of one
// ctx call carried from a pool thread to the JavaScript thread and back (Bridge::Call).
#include <erpmod/module.h>

#include <chrono>
#include <memory>

namespace {

struct State {
  std::shared_ptr<erpmod::detail::Bridge> bridge;
  std::shared_ptr<erpmod::detail::WorkerPool> pool;
};

State& StateOf(Napi::Env env) { return *env.GetInstanceData<State>(); }

// A promise resolved after one trip through the SDK pool.
Napi::Value ViaSdkPool(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  State& state = StateOf(env);
  napi_deferred deferred;
  napi_value promise;
  napi_create_promise(env, &deferred, &promise);
  auto bridge = state.bridge;
  state.pool->Submit([bridge, deferred] {
    bridge->Post([deferred](napi_env raw) {
      if (raw == nullptr) return;
      napi_value undefined;
      napi_get_undefined(raw, &undefined);
      napi_resolve_deferred(raw, deferred, undefined);
    });
  });
  return Napi::Value(env, promise);
}

struct Work {
  napi_async_work work;
  napi_deferred deferred;
};

// A promise resolved after one trip through napi_create_async_work (libuv's pool).
Napi::Value ViaAsyncWork(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* w = new Work();
  napi_value promise;
  napi_create_promise(env, &w->deferred, &promise);
  napi_value name = Napi::String::New(env, "pool-hop");
  napi_create_async_work(
      env, nullptr, name, [](napi_env, void*) {},
      [](napi_env env, napi_status, void* data) {
        auto* w = static_cast<Work*>(data);
        napi_value undefined;
        napi_get_undefined(env, &undefined);
        napi_resolve_deferred(env, w->deferred, undefined);
        napi_delete_async_work(env, w->work);
        delete w;
      },
      w, &w->work);
  napi_queue_async_work(env, w->work);
  return Napi::Value(env, promise);
}

// Resolves with the mean nanoseconds of `n` Bridge::Call round trips made from a pool thread.
Napi::Value CallsFromPool(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  State& state = StateOf(env);
  int n = info[0].As<Napi::Number>().Int32Value();
  napi_deferred deferred;
  napi_value promise;
  napi_create_promise(env, &deferred, &promise);
  auto bridge = state.bridge;
  state.pool->Submit([bridge, deferred, n] {
    auto started = std::chrono::steady_clock::now();
    for (int i = 0; i < n; ++i) bridge->Call([](Napi::Env) { return 1; });
    double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - started).count() / n;
    bridge->Post([deferred, ns](napi_env raw) {
      if (raw == nullptr) return;
      napi_value value;
      napi_create_double(raw, ns, &value);
      napi_resolve_deferred(raw, deferred, value);
    });
  });
  return Napi::Value(env, promise);
}

}  // namespace

NAPI_MODULE_INIT() {
  Napi::Env e(env);
  auto* state = new State();
  state->bridge = erpmod::detail::Bridge::Create(e, "pool-hop");
  state->pool = erpmod::detail::WorkerPool::Create();
  e.SetInstanceData(state);
  Napi::Object out(e, exports);
  out.Set("viaSdkPool", Napi::Function::New(e, ViaSdkPool));
  out.Set("viaAsyncWork", Napi::Function::New(e, ViaAsyncWork));
  out.Set("callsFromPool", Napi::Function::New(e, CallsFromPool));
  return exports;
}
