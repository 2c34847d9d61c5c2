// erpmod/request.h: the request a handler receives, read lazily from the host's JavaScript object
// `{ method, route, path, params, query, headers, body, rawBody, requestId }`.
//
// Each accessor reads what it needs on first use; strings are cached for the rest of the call.
// Lifetime: a Request and the JsonValues it hands out are valid during the handler call only.
#ifndef ERPMOD_REQUEST_H_
#define ERPMOD_REQUEST_H_

#include "erpmod/detail/napi-config.h"
#include "erpmod/json-value.h"

#include <optional>
#include <string>
#include <string_view>

namespace erpmod {

class Request {
 public:
  explicit Request(Napi::Object req) : req_(req) {}

  // Upper case, e.g. "POST".
  const std::string& method() const { return Cached(method_, "method"); }
  // The declared route pattern, e.g. "/orders/:id".
  const std::string& route() const { return Cached(route_, "route"); }
  // The path as requested, below the module's prefix, e.g. "/orders/42".
  const std::string& path() const { return Cached(path_, "path"); }
  const std::string& requestId() const { return Cached(request_id_, "requestId"); }

  // A route parameter (`:id`); "" when the route has no such parameter.
  std::string param(std::string_view name) const {
    return Member("params", name).value_or(std::string());
  }

  // A query-string value; the first one when the key repeats.
  std::optional<std::string> query(std::string_view name) const { return Member("query", name); }
  std::string query(std::string_view name, std::string_view fallback) const {
    auto v = query(name);
    return v ? *v : std::string(fallback);
  }

  // A request header by lower-case name.
  std::optional<std::string> header(std::string_view name) const { return Member("headers", name); }
  std::string header(std::string_view name, std::string_view fallback) const {
    auto v = header(name);
    return v ? *v : std::string(fallback);
  }

  // The parsed JSON body; undefined when the request had no JSON body.
  JsonValue body() const { return JsonValue(req_.Get("body")); }

  // The body bytes as received; empty when there was none. Valid during the call.
  std::string_view rawBody() const {
    Napi::Value raw = req_.Get("rawBody");
    if (!raw.IsBuffer()) return std::string_view();
    auto buf = raw.As<Napi::Buffer<char>>();
    return std::string_view(buf.Data(), buf.Length());
  }

  Napi::Object napi() const { return req_; }
  Napi::Env env() const { return req_.Env(); }

 private:
  const std::string& Cached(std::optional<std::string>& slot, const char* name) const {
    if (!slot) {
      Napi::Value v = req_.Get(name);
      slot = v.IsString() ? v.As<Napi::String>().Utf8Value() : std::string();
    }
    return *slot;
  }

  std::optional<std::string> Member(const char* group, std::string_view name) const {
    Napi::Value obj = req_.Get(group);
    if (!obj.IsObject()) return std::nullopt;
    Napi::Value v = obj.As<Napi::Object>().Get(std::string(name));
    if (v.IsArray()) {
      Napi::Array arr = v.As<Napi::Array>();
      if (arr.Length() == 0) return std::nullopt;
      v = arr.Get(uint32_t{0});
    }
    if (v.IsString()) return v.As<Napi::String>().Utf8Value();
    if (v.IsNumber() || v.IsBoolean()) return v.ToString().Utf8Value();
    return std::nullopt;
  }

  Napi::Object req_;
  mutable std::optional<std::string> method_, route_, path_, request_id_;
};

}  // namespace erpmod

#endif  // ERPMOD_REQUEST_H_
