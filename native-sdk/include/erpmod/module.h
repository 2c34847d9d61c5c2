// erpmod/module.h: write an erpmod module in C++.
//
//   #include <erpmod/module.h>
//
//   class Hello : public erpmod::Module {
//    public:
//     void Initialize(erpmod::Context& ctx) override { ctx.logger().Info("ready"); }
//     erpmod::HandlerFn GetHandler(const std::string& route, const std::string& method) override {
//       if (method == "GET" && route == "/hello")
//         return [](erpmod::Request&) { return erpmod::Response::Json(200, R"({"hello":"world"})"); };
//       return nullptr;
//     }
//   };
//
//   ERPMOD_MODULE(Hello, "hello", "1.0.0")
//
// ERPMOD_MODULE emits the info block, registers the Node-API addon and exports `Handler`. State
// lives in the module object and in per-environment instance data, never in mutable statics, so
// one library can be loaded by several environments (worker threads) at once.
#ifndef ERPMOD_MODULE_H_
#define ERPMOD_MODULE_H_

#include "erpmod/detail/napi-config.h"

#include "erpmod/context.h"
#include "erpmod/date.h"
#include "erpmod/db.h"
#include "erpmod/json-value.h"
#include "erpmod/json-writer.h"
#include "erpmod/parse.h"
#include "erpmod/request.h"
#include "erpmod/response.h"
#include "erpmod/timestamp.h"

#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

namespace erpmod {

// Serves one route. May throw: HttpError becomes its error response; any other exception becomes
// a JavaScript Error, which the host answers with a 500 (and logs the message).
using HandlerFn = std::function<Response(Request&)>;

struct HealthReport {
  enum class Status { kHealthy, kDegraded, kUnhealthy };
  Status status = Status::kHealthy;
  // Optional JSON object text, sent as `details`.
  std::string details_json;

  static HealthReport Healthy(std::string details_json = "") { return {Status::kHealthy, std::move(details_json)}; }
  static HealthReport Degraded(std::string details_json = "") { return {Status::kDegraded, std::move(details_json)}; }
  static HealthReport Unhealthy(std::string details_json = "") { return {Status::kUnhealthy, std::move(details_json)}; }
};

namespace detail {
class Runtime;
}

class Module {
 public:
  virtual ~Module() = default;

  // Called once, before any request. Throw to fail the load; the message reaches the operator.
  virtual void Initialize(Context& ctx) { (void)ctx; }

  // The function serving `route` (the declared pattern, e.g. "/orders/:id") for `method` (upper
  // case); an empty HandlerFn (nullptr) when the module does not serve it. May be called before
  // Initialize (the compliance checker resolves routes without a context).
  virtual HandlerFn GetHandler(const std::string& route, const std::string& method) = 0;

  // Called once on unload, reload or shutdown, after in-flight requests finished.
  virtual void Cleanup() {}

  // Override to report health; the SDK exports `health()` only when a module overrides it.
  virtual HealthReport Health() { return HealthReport::Healthy(); }

 protected:
  // The context given to Initialize; throws before Initialize and after Cleanup.
  Context& context() const {
    if (ctx_ == nullptr) throw std::logic_error("erpmod::Module::context() used outside Initialize..Cleanup");
    return *ctx_;
  }

 private:
  friend class detail::Runtime;
  Context* ctx_ = nullptr;
};

// A small route table for GetHandler:
//
//   routes_.Add("GET", "/items/:sku", [this](erpmod::Request& r) { return GetItem(r); });
//   ...
//   erpmod::HandlerFn GetHandler(const std::string& route, const std::string& method) override {
//     return routes_.Find(route, method);
//   }
class RouteTable {
 public:
  RouteTable& Add(std::string method, std::string route, HandlerFn fn) {
    table_[{std::move(method), std::move(route)}] = std::move(fn);
    return *this;
  }
  HandlerFn Find(const std::string& route, const std::string& method) const {
    auto it = table_.find({method, route});
    return it == table_.end() ? HandlerFn() : it->second;
  }
  size_t size() const { return table_.size(); }

 private:
  std::map<std::pair<std::string, std::string>, HandlerFn> table_;
};

}  // namespace erpmod

#include "erpmod/detail/runtime.h"
#include "erpmod/identity.h"

// True when `Class` overrides Module::Health (its `&Class::Health` then names a member of a
// class derived from Module, not of Module itself). Health overrides must be public.
#define ERPMOD_HAS_HEALTH_(Class) \
  (!std::is_same_v<decltype(&Class::Health), decltype(&::erpmod::Module::Health)>)

// Defines the module library: the info block for `code` / `version` (string literals equal to
// module.yml, checked at compile time when the build passes module.yml's: erpmod/identity.h), the
// Node-API registration and the `Handler` export. Use once per library.
#define ERPMOD_MODULE(Class, code, version)                                                  \
  ERPMOD_CHECK_IDENTITY_(code, version)                                                      \
  ERPMOD_INFO_BLOCK(code, version)                                                           \
  static_assert(std::is_base_of_v<::erpmod::Module, Class>, #Class " must derive from erpmod::Module"); \
  static ::erpmod::Module* erpmod_create_module_() { return new Class(); }                   \
  NAPI_MODULE_INIT() {                                                                       \
    return ::erpmod::detail::RegisterAddon(                                                  \
        env, exports,                                                                        \
        ::erpmod::detail::ModuleInfo{&erpmod_create_module_, code, version, ERPMOD_HAS_HEALTH_(Class)}); \
  }

#endif  // ERPMOD_MODULE_H_
