// erpmod/response.h: what a request handler returns, field-level validation errors, and an
// exception that carries an HTTP error out of deep code.
//
// A Response reaches JavaScript as `{ status, headers, body }` with `body` a string: the host
// sends it as is. JSON responses share one frozen headers object per environment.
#ifndef ERPMOD_RESPONSE_H_
#define ERPMOD_RESPONSE_H_

#include "erpmod/detail/fiber.h"
#include "erpmod/json-writer.h"

#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace erpmod {

// The error code of a 400 built from FieldErrors.
inline constexpr const char* kValidationErrorCode = "ERPMOD_VALIDATION";

inline constexpr const char* kJsonContentType = "application/json";

namespace detail {

// The id of the request this thread is handling; set by the SDK around each handler call (on the
// JavaScript thread and on pool threads alike), so error bodies carry it like the host's do.
struct CurrentRequestId {
  std::string value;
};
inline std::string& CurrentRequestIdSlot() {
  // Keyed by its own type: ExecutionLocal keeps one value per type.
  return ExecutionLocal<CurrentRequestId>().value;
}

// Sets the current request id for a scope and restores the previous one (handlers can nest on the
// JavaScript thread when an event is delivered synchronously).
class RequestIdScope {
 public:
  explicit RequestIdScope(std::string id) : saved_(std::move(CurrentRequestIdSlot())) { CurrentRequestIdSlot() = std::move(id); }
  ~RequestIdScope() { CurrentRequestIdSlot() = std::move(saved_); }
  RequestIdScope(const RequestIdScope&) = delete;
  RequestIdScope& operator=(const RequestIdScope&) = delete;

 private:
  std::string saved_;
};

}  // namespace detail

// The host's id of the request the calling thread is handling ("" outside a request handler).
inline const std::string& CurrentRequestId() { return detail::CurrentRequestIdSlot(); }

// Messages keyed by the JSON path of the offending input (`sku`, `lines[0].quantity`), in the
// order they were found. The first message for a field wins.
class FieldErrors {
 public:
  void Add(std::string field, std::string message) {
    for (const auto& item : items_) {
      if (item.first == field) return;
    }
    items_.emplace_back(std::move(field), std::move(message));
  }
  bool empty() const { return items_.empty(); }
  size_t size() const { return items_.size(); }
  bool Has(std::string_view field) const {
    for (const auto& item : items_) {
      if (item.first == field) return true;
    }
    return false;
  }
  const std::vector<std::pair<std::string, std::string>>& items() const { return items_; }

  // Writes `{"field":"message",...}`.
  void WriteTo(JsonWriter& w) const {
    w.BeginObject();
    for (const auto& item : items_) w.Field(item.first, item.second);
    w.EndObject();
  }

 private:
  std::vector<std::pair<std::string, std::string>> items_;
};

struct Response {
  int status = 200;
  // Sent as is; for JSON responses, JSON text.
  std::string body;
  // Empty: no content-type header.
  std::string content_type = kJsonContentType;
  // Extra headers, lower-case names.
  std::vector<std::pair<std::string, std::string>> headers;

  // A JSON response from JSON text.
  static Response Json(int status, std::string json) {
    Response r;
    r.status = status;
    r.body = std::move(json);
    return r;
  }
  // A JSON response from a finished writer (the writer is emptied).
  static Response Json(int status, JsonWriter& writer) { return Json(status, writer.Take()); }
  static Response Json(int status, JsonWriter&& writer) { return Json(status, writer.Take()); }

  static Response Text(int status, std::string text) {
    Response r;
    r.status = status;
    r.body = std::move(text);
    r.content_type = "text/plain; charset=utf-8";
    return r;
  }

  // A response without a body (204 by default).
  static Response Empty(int status = 204) {
    Response r;
    r.status = status;
    r.content_type.clear();
    return r;
  }

  // `{"error":{"code":..,"message":..,"requestId":..}}`, plus `"fields":{..}` when fields are
  // given: the shape of the host's own error bodies. `requestId` is the id of the request being
  // handled (left out when built outside a handler).
  static Response Error(int status, std::string_view code, std::string_view message,
                        const FieldErrors& fields = FieldErrors()) {
    JsonWriter w;
    w.BeginObject().Key("error").BeginObject();
    w.Field("code", code).Field("message", message);
    const std::string& request_id = CurrentRequestId();
    if (!request_id.empty()) w.Field("requestId", request_id);
    if (!fields.empty()) {
      w.Key("fields");
      fields.WriteTo(w);
    }
    w.EndObject().EndObject();
    return Json(status, w);
  }

  // A 400 ERPMOD_VALIDATION response listing every field error.
  static Response ValidationError(const FieldErrors& fields,
                                  std::string_view message = "the request is invalid") {
    return Error(400, kValidationErrorCode, message, fields);
  }

  Response& Header(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
    return *this;
  }
};

// Thrown anywhere below a request handler, it becomes the matching error response (not a 500).
class HttpError : public std::runtime_error {
 public:
  HttpError(int status, std::string code, const std::string& message, FieldErrors fields = FieldErrors())
      : std::runtime_error(message), status_(status), code_(std::move(code)), fields_(std::move(fields)) {}

  int status() const { return status_; }
  const std::string& code() const { return code_; }
  const FieldErrors& fields() const { return fields_; }
  Response ToResponse() const { return Response::Error(status_, code_, what(), fields_); }

 private:
  int status_;
  std::string code_;
  FieldErrors fields_;
};

}  // namespace erpmod

#endif  // ERPMOD_RESPONSE_H_
