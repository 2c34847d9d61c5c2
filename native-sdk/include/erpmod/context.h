// erpmod/context.h: what the host gives a module in initialize(ctx): identity, configuration,
// logger, database, event bus and a data directory.
//
// The Context lives from Initialize until Cleanup; keep a reference (or use Module::context()).
// Every member may be called from the JavaScript thread (inside a call from the host: a request
// with `execution: main`, an event, Initialize, Cleanup) and from the thread running a handler
// with `execution: pool`: there each call is carried to the JavaScript thread and blocks only the
// calling thread until it is done; values it returns are detached copies (see json-value.h).
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
#include <initializer_list>
#include <memory>
#include <optional>
#include <utility>
#include <vector>
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
  JsonValue Get(std::string_view key) const {
    bool detach = !host_->OnJsThread();
    return host_->OnJs([&](Napi::Env) {
      Napi::Value v = host_->config().Get(std::string(key));
      return detach ? JsonValue::Detach(v) : JsonValue(v);
    });
  }

  std::string GetString(std::string_view key, std::string_view fallback = "") const {
    JsonValue v = Get(key);
    if (v.IsMissing()) return std::string(fallback);
    if (auto s = v.ToText()) return *s;
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

// One structured log field: a name and any scalar JsonWriter::Value takes (strings, integers,
// floating point, bool, nullptr, std::optional). Written to JSON at once, so it may name temporaries.
class LogField {
 public:
  template <typename T>
  LogField(std::string_view key, const T& value) : key_(key) {
    JsonWriter w;
    w.Value(value);
    json_ = w.Take();
  }
  const std::string& key() const { return key_; }
  const std::string& json() const { return json_; }

 private:
  std::string key_;
  std::string json_;
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

  // With fields listed in place: `logger.Info("order placed", {{"order", id}, {"sku", sku}})`.
  void Debug(std::string_view msg, std::initializer_list<LogField> fields) const { LogFields(detail::kDebug, msg, fields); }
  void Info(std::string_view msg, std::initializer_list<LogField> fields) const { LogFields(detail::kInfo, msg, fields); }
  void Warn(std::string_view msg, std::initializer_list<LogField> fields) const { LogFields(detail::kWarn, msg, fields); }
  void Error(std::string_view msg, std::initializer_list<LogField> fields) const { LogFields(detail::kError, msg, fields); }

 private:
  void LogFields(detail::LogLevel level, std::string_view msg, std::initializer_list<LogField> fields) const {
    JsonWriter w;
    w.BeginObject();
    for (const LogField& f : fields) w.Key(f.key()).Raw(f.json());
    w.EndObject();
    Log(level, msg, &w);
  }

  void Log(detail::LogLevel level, std::string_view msg, const JsonWriter* fields) const {
    if (!host_->OnJsThread()) {
      // Not waited for: a log line from a pool thread is queued in order behind the thread's
      // earlier calls and written when the JavaScript thread gets to it.
      std::string text(msg), json = fields ? fields->str() : std::string();
      bool has_fields = fields != nullptr;
      host_->bridge()->Post([host = host_, level, text = std::move(text), json = std::move(json), has_fields](napi_env raw) {
        if (raw == nullptr || host->released()) return;
        try {
          Napi::HandleScope scope(raw);
          Napi::Env env(raw);
          napi_value t = Napi::String::New(env, text);
          if (has_fields) host->Call(host->log[level], {t, host->ParseJson(json)});
          else host->Call(host->log[level], {t});
        } catch (...) {
          // A failing logger must not take the host down; there is nobody to tell.
        }
      });
      return;
    }
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
// module.yml `events`. Subscribers run on the JavaScript thread (with module data on PostgreSQL,
// where ctx.db may wait: on a fiber of it, or on the module's worker threads where fibers do not fit);
// Publish from a pool thread or fiber waits until they all ran, so a handler's reply reflects what its
// events caused.
class Events {
 public:
  using Handler = std::function<void(const JsonValue& payload, const std::string& topic)>;

  explicit Events(detail::HostApi* host) : host_(host) {}

  // `payload_json` must be a JSON object; it is parsed once and handed to the host.
  void Publish(std::string_view topic, std::string_view payload_json) const {
    if (host_->db_async() && !host_->OnJsThread()) return PublishAndWait(topic, payload_json);
    host_->OnJs([&](Napi::Env env) {
      Napi::Value payload = host_->ParseJson(payload_json);
      host_->Call(host_->publish, {Napi::String::New(env, topic.data(), topic.size()), payload});
    });
  }
  void Publish(std::string_view topic, const JsonWriter& payload) const { Publish(topic, payload.str()); }

  // The handler runs on every event of `topic`; an exception it throws becomes a JavaScript
  // error for the host to log.
  void Subscribe(std::string_view topic, Handler handler) const {
    host_->OnJs([&](Napi::Env env) { SubscribeOnJs(env, topic, std::move(handler)); });
  }

 private:
  // With module data on PostgreSQL, subscribers run where ctx.db can wait (HostApi::OnPool) and the
  // host's publish answers with a promise of the whole delivery: this pool thread or fiber waits for
  // it, so what subscribers did is done when Publish returns, as on SQLite.
  void PublishAndWait(std::string_view topic, std::string_view payload_json) const {
    // Inside this thread's Transaction (by handle) the event is recorded in that transaction.
    const detail::OpenTransaction& open = detail::ThreadTransaction();
    const int64_t transaction = open.host == host_ ? open.value.id : 0;
    // A subscriber's failure is the host's to log; the publisher goes on either way.
    struct Delivery final : detail::Settlement {
      void Fulfilled(Napi::Value) override { done->Done(); }
      void Rejected(Napi::Value) override { done->Done(); }
    } delivery;
    host_->bridge()->CallAsync([&](Napi::Env env, std::shared_ptr<detail::Completion> done) {
      Napi::Value payload = host_->ParseJson(payload_json);
      napi_value name = Napi::String::New(env, topic.data(), topic.size());
      Napi::Value delivered = transaction == 0 ? host_->Call(host_->publish, {name, payload})
                                               : host_->Call(host_->publish, {name, payload, Napi::Number::New(env, static_cast<double>(transaction))});
      if (!delivered.IsPromise()) return done->Done();
      host_->Then(delivered.As<Napi::Object>(), &delivery, std::move(done));
    });
  }

  void SubscribeOnJs(Napi::Env env, std::string_view topic, Handler handler) const {
    std::string name = "erpmod:" + host_->code() + ":" + std::string(topic);
    detail::HostApi* host = host_;
    Napi::Function fn = Napi::Function::New(
        env,
        [handler = std::move(handler), host](const Napi::CallbackInfo& info) -> Napi::Value {
          Napi::Env cb_env = info.Env();
          try {
            std::string topic_arg = info.Length() > 1 && info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "";
            if (host->db_async()) {
              JsonValue payload = JsonValue::Detach(info.Length() > 0 ? info[0] : cb_env.Undefined());
              // The host's third argument names the event delivery (the outbox): the transaction the
              // subscriber begins on its thread records it as handled, in the same commit.
              double delivery = info.Length() > 2 && info[2].IsNumber() ? info[2].As<Napi::Number>().DoubleValue() : 0;
              return host->OnPool<bool>(
                  cb_env,
                  [handler, payload, topic_arg, delivery, host]() {
                    detail::OpenDelivery& open = detail::ThreadDelivery();
                    const detail::OpenDelivery outer = open;
                    open = delivery != 0 ? detail::OpenDelivery{host, {delivery}} : detail::OpenDelivery{};
                    struct Restore {
                      detail::OpenDelivery& open;
                      detail::OpenDelivery outer;
                      ~Restore() { open = outer; }
                    } restore{open, outer};
                    handler(payload, topic_arg);
                    return true;
                  },
                  [](Napi::Env e, bool&) -> napi_value { return e.Undefined(); });
            }
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

  detail::HostApi* host_;
};

// One outbound HTTP request through `ctx.http` (undici in the host, on the JavaScript thread).
struct HttpRequest {
  std::string method = "GET";
  // Absolute http:// or https:// URL; its host:port must be in module.yml `http.allow`.
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // 0: the host's default (the module's timeouts.request_ms).
  int timeout_ms = 0;
};

struct HttpResponse {
  int status = 0;
  // Lower-case names, in the order received.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // The body parsed, when the response's content-type is JSON and it parses (a detached value);
  // undefined otherwise.
  JsonValue json;

  std::optional<std::string> header(std::string_view name) const {
    for (const auto& h : headers) {
      if (h.first == name) return h.second;
    }
    return std::nullopt;
  }
};

// A request that got no HTTP response. code() is the host's stable code:
//   ERPMOD_HTTP_NOT_ALLOWED      the URL's host:port is not in module.yml http.allow (or the URL is invalid)
//   ERPMOD_HTTP_TIMEOUT          no complete response within the timeout
//   ERPMOD_HTTP_UNREACHABLE      connection refused or reset, name not resolved, TLS failure
//   ERPMOD_HTTP_RESPONSE_TOO_LARGE  the response body exceeded the host's bound
// cause() is the underlying reason when known (e.g. "ECONNREFUSED", "CERT_HAS_EXPIRED").
class HttpClientError : public std::runtime_error {
 public:
  HttpClientError(const std::string& message, std::string code, std::string cause)
      : std::runtime_error(message), code_(std::move(code)), cause_(std::move(cause)) {}
  const std::string& code() const { return code_; }
  const std::string& cause() const { return cause_; }
  // 504 for a timeout, 502 for the rest: what a handler usually answers when a dependency fails.
  int SuggestedStatus() const { return code_ == "ERPMOD_HTTP_TIMEOUT" ? 504 : 502; }

 private:
  std::string code_;
  std::string cause_;
};

// `ctx.http`: outbound HTTP for handlers that may wait: `execution: pool`, and with module data on
// PostgreSQL `main` too (on a fiber, fiber.h). The caller waits until the response is complete; the
// JavaScript thread keeps serving meanwhile. On the JavaScript thread's own stack (`execution: main`
// on SQLite) it throws: waiting there would stall the host.
class Http {
 public:
  explicit Http(detail::HostApi* host) : host_(host) {}

  HttpResponse Request(const HttpRequest& request) const {
    if (host_->OnJsThread()) {
      throw std::logic_error("ctx.http() needs a route with execution: pool (a request on the JavaScript thread would stall the host)");
    }
    // The response is copied into C++ on the JavaScript thread as the promise settles.
    struct Exchange final : detail::Settlement {
      const detail::HostApi* host;
      HttpResponse response;
      explicit Exchange(const detail::HostApi* h) : host(h) {}
      void Fulfilled(Napi::Value value) override {
        try {
          Napi::Object r = value.As<Napi::Object>();
          response.status = r.Get("status").As<Napi::Number>().Int32Value();
          Napi::Value hv = r.Get("headers");
          if (hv.IsObject()) {
            Napi::Object h = hv.As<Napi::Object>();
            Napi::Array names = h.GetPropertyNames();
            for (uint32_t i = 0; i < names.Length(); ++i) {
              std::string name = names.Get(i).ToString().Utf8Value();
              response.headers.emplace_back(name, h.Get(name).ToString().Utf8Value());
            }
          }
          Napi::Value body = r.Get("body");
          if (body.IsBuffer()) {
            auto buf = body.As<Napi::Buffer<char>>();
            response.body.assign(buf.Data(), buf.Length());
          } else if (body.IsString()) {
            response.body = body.As<Napi::String>().Utf8Value();
          }
          auto type = response.header("content-type");
          if (type && (type->find("application/json") != std::string::npos || type->find("+json") != std::string::npos)) {
            try {
              response.json = JsonValue::Detach(host->ParseJson(response.body));
            } catch (const Napi::Error&) {
              // Not JSON after all: `json` stays undefined, `body` has the text.
            }
          }
          done->Done();
        } catch (...) {
          done->Fail();
        }
      }
      void Rejected(Napi::Value error) override {
        try {
          std::string message = "ctx.http request failed", code = "ERPMOD_HTTP_UNREACHABLE", cause;
          if (error.IsObject()) {
            Napi::Object err = error.As<Napi::Object>();
            Napi::Value m = err.Get("message"), c = err.Get("code"), why = err.Get("reason");
            if (m.IsString()) message = m.As<Napi::String>().Utf8Value();
            if (c.IsString()) code = c.As<Napi::String>().Utf8Value();
            if (why.IsString()) cause = why.As<Napi::String>().Utf8Value();
          }
          done->Done(std::make_exception_ptr(HttpClientError(message, code, cause)));
        } catch (...) {
          done->Fail();
        }
      }
    } exchange(host_);
    host_->bridge()->CallAsync([&](Napi::Env env, std::shared_ptr<detail::Completion> done) {
      Napi::Object options = Napi::Object::New(env);
      options.Set("method", request.method);
      options.Set("url", request.url);
      Napi::Object headers = Napi::Object::New(env);
      for (const auto& h : request.headers) headers.Set(h.first, h.second);
      options.Set("headers", headers);
      if (!request.body.empty()) options.Set("body", Napi::Buffer<char>::Copy(env, request.body.data(), request.body.size()));
      if (request.timeout_ms > 0) options.Set("timeoutMs", request.timeout_ms);
      Napi::Value promise = host_->Call(host_->http_request, {options});
      if (!promise.IsPromise() && !promise.IsObject()) throw std::runtime_error("ctx.http.request did not return a promise");
      host_->Then(promise.As<Napi::Object>(), &exchange, std::move(done));
    });
    return std::move(exchange.response);
  }

  HttpResponse Get(std::string url, int timeout_ms = 0) const {
    HttpRequest r;
    r.url = std::move(url);
    r.timeout_ms = timeout_ms;
    return Request(r);
  }

 private:
  detail::HostApi* host_;
};

class Context {
 public:
  explicit Context(detail::HostApi* host)
      : host_(host), config_(host), logger_(host), db_(host), events_(host), http_(host) {}
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
  // Outbound HTTP; from pool handlers only (see Http).
  const Http& http() const { return http_; }

  // The raw ctx object, for what the SDK does not wrap; on the JavaScript thread only.
  Napi::Object napi() const {
    if (!host_->OnJsThread()) throw std::logic_error("Context::napi() used on a pool thread: JavaScript values stay on the JavaScript thread");
    return host_->ctx();
  }

 private:
  detail::HostApi* host_;
  Config config_;
  Logger logger_;
  Db db_;
  Events events_;
  Http http_;
};

}  // namespace erpmod

#endif  // ERPMOD_CONTEXT_H_
