// erpmod/request.h: the request a handler receives, read lazily from the host's JavaScript object
// `{ method, route, path, params, query, headers, body, rawBody, requestId }`.
//
// Each accessor reads what it needs on first use; strings are cached for the rest of the call.
// Lifetime: a Request and the JsonValues it hands out are valid during the handler call only.
// A handler with `execution: pool` gets a Request copied on the JavaScript thread before the hop
// (strings, detached JsonValues, the body bytes): the same accessors, valid as long as it is kept;
// napi() and env() are not available there.
#ifndef ERPMOD_REQUEST_H_
#define ERPMOD_REQUEST_H_

#include "erpmod/detail/napi-config.h"
#include "erpmod/json-value.h"
#include "erpmod/parse.h"

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace erpmod {

namespace detail {

// A request copied out of the JavaScript heap, for a handler running on a pool thread.
struct RequestCopy {
  std::string method, route, path, request_id;
  JsonValue params, query, headers, body;
  std::string raw_body;

  // On the JavaScript thread.
  static std::shared_ptr<const RequestCopy> From(Napi::Object req) {
    auto copy = std::make_shared<RequestCopy>();
    auto text = [&](const char* name) {
      Napi::Value v = req.Get(name);
      return v.IsString() ? v.As<Napi::String>().Utf8Value() : std::string();
    };
    copy->method = text("method");
    copy->route = text("route");
    copy->path = text("path");
    copy->request_id = text("requestId");
    copy->params = JsonValue::Detach(req.Get("params"));
    copy->query = JsonValue::Detach(req.Get("query"));
    copy->headers = JsonValue::Detach(req.Get("headers"));
    copy->body = JsonValue::Detach(req.Get("body"));
    Napi::Value raw = req.Get("rawBody");
    if (raw.IsBuffer()) {
      auto buf = raw.As<Napi::Buffer<char>>();
      copy->raw_body.assign(buf.Data(), buf.Length());
    }
    return copy;
  }
};

}  // namespace detail

class Request {
 public:
  explicit Request(Napi::Object req) : req_(req) {}
  explicit Request(std::shared_ptr<const detail::RequestCopy> copy) : copy_(std::move(copy)) {}

  // Upper case, e.g. "POST".
  const std::string& method() const { return copy_ ? copy_->method : Cached(method_, "method"); }
  // The declared route pattern, e.g. "/orders/:id".
  const std::string& route() const { return copy_ ? copy_->route : Cached(route_, "route"); }
  // The path as requested, below the module's prefix, e.g. "/orders/42".
  const std::string& path() const { return copy_ ? copy_->path : Cached(path_, "path"); }
  const std::string& requestId() const { return copy_ ? copy_->request_id : Cached(request_id_, "requestId"); }

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

  // Typed values (erpmod/parse.h). A malformed value throws erpmod::BadRequest, answered as 400
  // ERPMOD_VALIDATION with the field named; the collecting forms add to `errors` instead, so one
  // reply can list every bad field.

  // A route parameter as a T: `req.param<int64_t>("id")`, `req.param<int64_t>("id", {1, 999})`.
  template <typename T>
  T param(std::string_view name, const Range<T>& range = Range<T>()) const {
    auto text = Member("params", name);
    if (!text) throw BadRequest(std::string(name), ExpectedText(range) + ", got nothing", kPathInvalid);
    return ParseOrThrow<T>(name, *text, range, kPathInvalid);
  }
  // A route parameter as a T, or std::nullopt when it is not one (for a module that answers 404
  // for an id that cannot exist rather than 400).
  template <typename T>
  std::optional<T> tryParam(std::string_view name, const Range<T>& range = Range<T>()) const {
    auto text = Member("params", name);
    return text ? ParseAs<T>(*text, range) : std::nullopt;
  }

  // A query value as a T; std::nullopt when absent: `req.query<int64_t>("limit")`.
  template <typename T>
  std::optional<T> query(std::string_view name, const Range<T>& range = Range<T>()) const {
    auto text = query(name);
    if (!text) return std::nullopt;
    return ParseOrThrow<T>(name, *text, range, kQueryInvalid);
  }
  template <typename T>
  std::optional<T> query(std::string_view name, const Range<T>& range, FieldErrors& errors) const {
    auto text = query(name);
    if (!text) return std::nullopt;
    auto v = ParseAs<T>(*text, range);
    if (!v) errors.Add(std::string(name), FieldErrorText<T>(*text, range));
    return v;
  }

  // A query value as a T, `fallback` when absent: `req.queryOr<int64_t>("limit", 20, {1, 100})`.
  template <typename T>
  T queryOr(std::string_view name, const T& fallback, const Range<T>& range = Range<T>()) const {
    auto v = query<T>(name, range);
    return v ? *v : fallback;
  }
  // Collecting form: a malformed value adds a field error and yields `fallback`.
  template <typename T>
  T queryOr(std::string_view name, const T& fallback, const Range<T>& range, FieldErrors& errors) const {
    auto v = query<T>(name, range, errors);
    return v ? *v : fallback;
  }

  // The message of the 400 a typed path or query accessor throws.
  static constexpr const char* kPathInvalid = "the path is invalid";
  static constexpr const char* kQueryInvalid = "the query is invalid";

  // A request header by lower-case name.
  std::optional<std::string> header(std::string_view name) const { return Member("headers", name); }
  std::string header(std::string_view name, std::string_view fallback) const {
    auto v = header(name);
    return v ? *v : std::string(fallback);
  }

  // The parsed JSON body; undefined when the request had no JSON body.
  JsonValue body() const { return copy_ ? copy_->body : JsonValue(req_.Get("body")); }

  // The body bytes as received; empty when there was none. Valid during the call.
  std::string_view rawBody() const {
    if (copy_) return copy_->raw_body;
    Napi::Value raw = req_.Get("rawBody");
    if (!raw.IsBuffer()) return std::string_view();
    auto buf = raw.As<Napi::Buffer<char>>();
    return std::string_view(buf.Data(), buf.Length());
  }

  // The JavaScript request object; not available on a pool thread.
  Napi::Object napi() const {
    if (copy_) throw std::logic_error("Request::napi() used on a pool thread: JavaScript values stay on the JavaScript thread");
    return req_;
  }
  Napi::Env env() const { return napi().Env(); }

 private:
  const std::string& Cached(std::optional<std::string>& slot, const char* name) const {
    if (!slot) {
      Napi::Value v = req_.Get(name);
      slot = v.IsString() ? v.As<Napi::String>().Utf8Value() : std::string();
    }
    return *slot;
  }

  std::optional<std::string> Member(const char* group, std::string_view name) const {
    if (copy_) {
      const JsonValue& g = group[0] == 'p' ? copy_->params : group[0] == 'q' ? copy_->query : copy_->headers;
      JsonValue v = g.Get(name);
      if (v.IsArray()) {
        if (v.Size() == 0) return std::nullopt;
        v = v.At(0);
      }
      return v.ToText();
    }
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
  std::shared_ptr<const detail::RequestCopy> copy_;
  mutable std::optional<std::string> method_, route_, path_, request_id_;
};

}  // namespace erpmod

#endif  // ERPMOD_REQUEST_H_
