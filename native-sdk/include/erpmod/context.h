// erpmod/context.h: what the host gives a module in initialize(ctx): identity, configuration,
// logger, database, event bus and a data directory.
//
// The Context lives from Initialize until Cleanup; keep a reference (or use Module::context()).
// Every call must be made on the JavaScript thread, inside a call from the host (a request, an
// event, Initialize or Cleanup), like everything else in Node-API.
#ifndef ERPMOD_CONTEXT_H_
#define ERPMOD_CONTEXT_H_

#include "erpmod/db.h"
#include "erpmod/detail/host-api.h"
#include "erpmod/detail/napi-config.h"
#include "erpmod/json-value.h"
#include "erpmod/json-writer.h"

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace erpmod {

// module.yml `config` (with the host's environment overrides). A present value of the wrong type
// throws std::invalid_argument naming the key, so a bad configuration fails Initialize loudly
// instead of silently falling back. Numeric and boolean values given as strings (environment
// overrides) are accepted when they parse completely.
class Config {
 public:
  explicit Config(detail::HostApi* host) : host_(host) {}

  bool Has(std::string_view key) const { return !Get(key).IsMissing(); }
  JsonValue Get(std::string_view key) const { return JsonValue(host_->config().Get(std::string(key))); }

  std::string GetString(std::string_view key, std::string_view fallback = "") const {
    JsonValue v = Get(key);
    if (v.IsMissing()) return std::string(fallback);
    if (auto s = v.AsString()) return *s;
    if (v.IsNumber() || v.IsBool()) return v.napi().ToString().Utf8Value();
    throw Invalid(key, "a string", v);
  }

  int64_t GetInt(std::string_view key, int64_t fallback = 0) const {
    JsonValue v = Get(key);
    if (v.IsMissing()) return fallback;
    if (auto i = v.AsInt64()) return *i;
    if (auto s = v.AsString()) {
      errno = 0;
      char* end = nullptr;
      long long parsed = std::strtoll(s->c_str(), &end, 10);
      if (!s->empty() && end == s->c_str() + s->size() && errno == 0) return parsed;
    }
    throw Invalid(key, "an integer", v);
  }

  double GetDouble(std::string_view key, double fallback = 0) const {
    JsonValue v = Get(key);
    if (v.IsMissing()) return fallback;
    if (auto d = v.AsDouble()) return *d;
    if (auto s = v.AsString()) {
      errno = 0;
      char* end = nullptr;
      double parsed = std::strtod(s->c_str(), &end);
      if (!s->empty() && end == s->c_str() + s->size() && errno == 0) return parsed;
    }
    throw Invalid(key, "a number", v);
  }

  bool GetBool(std::string_view key, bool fallback = false) const {
    JsonValue v = Get(key);
    if (v.IsMissing()) return fallback;
    if (auto b = v.AsBool()) return *b;
    if (auto s = v.AsString()) {
      if (*s == "true" || *s == "1") return true;
      if (*s == "false" || *s == "0") return false;
    }
    throw Invalid(key, "a boolean", v);
  }

 private:
  static std::invalid_argument Invalid(std::string_view key, const char* what, const JsonValue& v) {
    std::string shown = v.IsString() ? "\"" + *v.AsString() + "\"" : v.TypeName();
    return std::invalid_argument("config." + std::string(key) + ": expected " + what + ", got " + shown);
  }

  detail::HostApi* host_;
};

// The module's logger (a pino child bound to { module, version } in the host).
class Logger {
 public:
  explicit Logger(detail::HostApi* host) : host_(host) {}

  void Debug(std::string_view msg) const { Log(detail::kDebug, msg, nullptr); }
  void Info(std::string_view msg) const { Log(detail::kInfo, msg, nullptr); }
  void Warn(std::string_view msg) const { Log(detail::kWarn, msg, nullptr); }
  void Error(std::string_view msg) const { Log(detail::kError, msg, nullptr); }

  // With structured fields: a finished JSON object, e.g. JsonWriter().BeginObject()...EndObject().
  void Debug(std::string_view msg, const JsonWriter& fields) const { Log(detail::kDebug, msg, &fields); }
  void Info(std::string_view msg, const JsonWriter& fields) const { Log(detail::kInfo, msg, &fields); }
  void Warn(std::string_view msg, const JsonWriter& fields) const { Log(detail::kWarn, msg, &fields); }
  void Error(std::string_view msg, const JsonWriter& fields) const { Log(detail::kError, msg, &fields); }

 private:
  void Log(detail::LogLevel level, std::string_view msg, const JsonWriter* fields) const {
    Napi::Env env = host_->env();
    napi_value text = Napi::String::New(env, msg.data(), msg.size());
    if (fields == nullptr) {
      host_->Call(host_->log[level], {text});
    } else {
      host_->Call(host_->log[level], {text, host_->ParseJson(fields->str())});
    }
  }

  detail::HostApi* host_;
};

// The host's event bus. Delivery is synchronous: Publish returns after every subscriber ran
// (a subscriber's exception is logged by the host, not thrown here). Topics must be declared in
// module.yml `events`.
class Events {
 public:
  using Handler = std::function<void(const JsonValue& payload, const std::string& topic)>;

  explicit Events(detail::HostApi* host) : host_(host) {}

  // `payload_json` must be a JSON object; it is parsed once and handed to the host.
  void Publish(std::string_view topic, std::string_view payload_json) const {
    Napi::Env env = host_->env();
    Napi::Value payload = host_->ParseJson(payload_json);
    host_->Call(host_->publish, {Napi::String::New(env, topic.data(), topic.size()), payload});
  }
  void Publish(std::string_view topic, const JsonWriter& payload) const { Publish(topic, payload.str()); }

  // The handler runs on every event of `topic`; an exception it throws becomes a JavaScript
  // error for the host to log.
  void Subscribe(std::string_view topic, Handler handler) const {
    Napi::Env env = host_->env();
    std::string name = "erpmod:" + host_->code() + ":" + std::string(topic);
    Napi::Function fn = Napi::Function::New(
        env,
        [handler = std::move(handler)](const Napi::CallbackInfo& info) -> Napi::Value {
          Napi::Env cb_env = info.Env();
          try {
            std::string topic_arg = info.Length() > 1 && info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "";
            handler(JsonValue(info.Length() > 0 ? info[0] : cb_env.Undefined()), topic_arg);
          } catch (const Napi::Error& e) {
            e.ThrowAsJavaScriptException();
          } catch (const std::exception& e) {
            Napi::Error::New(cb_env, e.what()).ThrowAsJavaScriptException();
          } catch (...) {
            Napi::Error::New(cb_env, "unknown native exception in an event subscriber").ThrowAsJavaScriptException();
          }
          return cb_env.Undefined();
        },
        name);
    host_->Call(host_->subscribe, {Napi::String::New(env, topic.data(), topic.size()), fn});
  }

 private:
  detail::HostApi* host_;
};

class Context {
 public:
  explicit Context(detail::HostApi* host)
      : host_(host), config_(host), logger_(host), db_(host), events_(host) {}
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  // The module's code and version as the host knows them (module.yml).
  const std::string& Code() const { return host_->code(); }
  const std::string& Version() const { return host_->version(); }
  // A directory the module may write to.
  const std::string& DataDir() const { return host_->data_dir(); }

  const Config& config() const { return config_; }
  const Logger& logger() const { return logger_; }
  const Db& db() const { return db_; }
  const Events& events() const { return events_; }

  // The raw ctx object, for what the SDK does not wrap.
  Napi::Object napi() const { return host_->ctx(); }

 private:
  detail::HostApi* host_;
  Config config_;
  Logger logger_;
  Db db_;
  Events events_;
};

}  // namespace erpmod

#endif  // ERPMOD_CONTEXT_H_
