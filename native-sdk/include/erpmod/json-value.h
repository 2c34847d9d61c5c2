// erpmod/json-value.h: a read-only view of a JavaScript value (a parsed request body, an event
// payload, a config entry).
//
// Nothing is converted up front: each accessor reads one property through Node-API when it is
// called, which costs far less than turning a whole body into C++ containers.
//
// Lifetime: a JsonValue (and anything read from it) is valid only during the call that produced
// it: the request handler, event callback or Initialize. Copy what you need to keep into C++ types.
#ifndef ERPMOD_JSON_VALUE_H_
#define ERPMOD_JSON_VALUE_H_

#include "erpmod/detail/napi-config.h"

#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace erpmod {

// Largest integer a JavaScript number holds exactly (Number.MAX_SAFE_INTEGER).
inline constexpr int64_t kMaxSafeInteger = 9007199254740991LL;

class JsonValue {
 public:
  JsonValue() = default;
  explicit JsonValue(Napi::Value value) : value_(value) {}

  bool IsUndefined() const { return value_.IsEmpty() || value_.IsUndefined(); }
  bool IsNull() const { return !value_.IsEmpty() && value_.IsNull(); }
  // Undefined or null: "not given".
  bool IsMissing() const { return IsUndefined() || IsNull(); }
  bool IsBool() const { return !value_.IsEmpty() && value_.IsBoolean(); }
  bool IsNumber() const { return !value_.IsEmpty() && value_.IsNumber(); }
  bool IsString() const { return !value_.IsEmpty() && value_.IsString(); }
  bool IsArray() const { return !value_.IsEmpty() && value_.IsArray(); }
  // A plain object (not an array, not null).
  bool IsObject() const { return !value_.IsEmpty() && value_.IsObject() && !value_.IsArray() && !value_.IsFunction(); }

  // Member `name` of an object; undefined when this is not an object or has no such member.
  JsonValue Get(std::string_view name) const {
    if (!IsObject()) return JsonValue();
    Napi::Object obj = value_.As<Napi::Object>();
    return JsonValue(obj.Get(std::string(name)));
  }
  JsonValue operator[](std::string_view name) const { return Get(name); }

  // Whether an object has its own member `name` (a member set to undefined counts).
  bool Has(std::string_view name) const {
    return IsObject() && value_.As<Napi::Object>().HasOwnProperty(std::string(name));
  }

  // Element count of an array; 0 for anything else.
  uint32_t Size() const { return IsArray() ? value_.As<Napi::Array>().Length() : 0; }

  // Element `index` of an array; undefined when out of range or not an array.
  JsonValue At(uint32_t index) const {
    if (!IsArray() || index >= Size()) return JsonValue();
    return JsonValue(value_.As<Napi::Array>().Get(index));
  }

  // Own enumerable member names of an object, in property order.
  std::vector<std::string> Keys() const {
    std::vector<std::string> keys;
    if (!IsObject()) return keys;
    Napi::Array names = value_.As<Napi::Object>().GetPropertyNames();
    uint32_t n = names.Length();
    keys.reserve(n);
    for (uint32_t i = 0; i < n; ++i) keys.push_back(names.Get(i).ToString().Utf8Value());
    return keys;
  }

  std::optional<std::string> AsString() const {
    if (!IsString()) return std::nullopt;
    return value_.As<Napi::String>().Utf8Value();
  }

  // A number that is an integer in [-(2^53-1), 2^53-1], or a BigInt that fits in 64 bits.
  // 3.0 is an integer (JSON cannot tell them apart); 3.5, "3", true and 1e300 are not.
  std::optional<int64_t> AsInt64() const {
    if (IsNumber()) {
      double d = value_.As<Napi::Number>().DoubleValue();
      if (!std::isfinite(d) || std::trunc(d) != d) return std::nullopt;
      if (d > static_cast<double>(kMaxSafeInteger) || d < -static_cast<double>(kMaxSafeInteger)) return std::nullopt;
      return static_cast<int64_t>(d);
    }
    if (!value_.IsEmpty() && value_.IsBigInt()) {
      bool lossless = false;
      int64_t v = value_.As<Napi::BigInt>().Int64Value(&lossless);
      if (!lossless) return std::nullopt;
      return v;
    }
    return std::nullopt;
  }

  // A finite number.
  std::optional<double> AsDouble() const {
    if (!IsNumber()) return std::nullopt;
    double d = value_.As<Napi::Number>().DoubleValue();
    if (!std::isfinite(d)) return std::nullopt;
    return d;
  }

  std::optional<bool> AsBool() const {
    if (!IsBool()) return std::nullopt;
    return value_.As<Napi::Boolean>().Value();
  }

  // The JSON type name, for messages: "undefined", "null", "boolean", "integer", "number",
  // "string", "array", "object" (or "bigint", "function").
  std::string TypeName() const {
    if (IsUndefined()) return "undefined";
    if (IsNull()) return "null";
    if (IsBool()) return "boolean";
    if (IsNumber()) return AsInt64() ? "integer" : "number";
    if (IsString()) return "string";
    if (IsArray()) return "array";
    if (value_.IsBigInt()) return "bigint";
    if (value_.IsFunction()) return "function";
    return "object";
  }

  // JSON.stringify of the value ("" for undefined).
  std::string ToJson() const {
    if (IsUndefined()) return "";
    Napi::Env env = value_.Env();
    Napi::Object json = env.Global().Get("JSON").As<Napi::Object>();
    Napi::Value text = json.Get("stringify").As<Napi::Function>().Call(json, {value_});
    return text.IsString() ? text.As<Napi::String>().Utf8Value() : std::string();
  }

  // The underlying value, for code that needs node-addon-api directly.
  Napi::Value napi() const { return value_; }

 private:
  Napi::Value value_;
};

}  // namespace erpmod

#endif  // ERPMOD_JSON_VALUE_H_
