// erpmod/json-value.h: a read-only view of a JavaScript value (a parsed request body, an event
// payload, a config entry).
//
// Nothing is converted up front: each accessor reads one property through Node-API when it is
// called, which costs far less than turning a whole body into C++ containers.
//
// Lifetime: a JsonValue (and anything read from it) is valid only during the call that produced
// it: the request handler, event callback or Initialize. Copy what you need to keep into C++ types.
//
// On a pool thread (`execution: pool`) the SDK hands out *detached* JsonValues instead: a copy of
// the value made on the JavaScript thread before the hop, owned by the JsonValue (and shared with
// the values read from it), so it stays valid for as long as it is kept. The accessors behave the
// same; only napi() is empty (no JavaScript value may cross threads).
#ifndef ERPMOD_JSON_VALUE_H_
#define ERPMOD_JSON_VALUE_H_

#include "erpmod/detail/napi-config.h"
#include "erpmod/json-writer.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <memory>
#include <utility>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace erpmod {

// Largest integer a JavaScript number holds exactly (Number.MAX_SAFE_INTEGER).
inline constexpr int64_t kMaxSafeInteger = 9007199254740991LL;

namespace detail {

// A JavaScript value copied into C++ (the detached form of JsonValue).
struct JsonNode {
  enum class Kind { kUndefined, kNull, kBool, kNumber, kBigInt, kString, kArray, kObject, kOther };
  Kind kind = Kind::kUndefined;
  bool boolean = false;
  double number = 0;
  int64_t bigint = 0;
  bool bigint_lossless = false;
  std::string text;
  std::vector<JsonNode> items;
  std::vector<std::pair<std::string, JsonNode>> members;
};

// Deep enough for any sane document; deeper input is refused instead of overflowing the stack.
inline constexpr int kMaxDetachDepth = 200;

inline void DetachInto(Napi::Value v, JsonNode& out, int depth) {
  using Kind = JsonNode::Kind;
  if (depth > kMaxDetachDepth) throw std::runtime_error("value nested deeper than 200 levels");
  if (v.IsEmpty() || v.IsUndefined()) { out.kind = Kind::kUndefined; return; }
  if (v.IsNull()) { out.kind = Kind::kNull; return; }
  if (v.IsBoolean()) { out.kind = Kind::kBool; out.boolean = v.As<Napi::Boolean>().Value(); return; }
  if (v.IsNumber()) { out.kind = Kind::kNumber; out.number = v.As<Napi::Number>().DoubleValue(); return; }
  if (v.IsString()) { out.kind = Kind::kString; out.text = v.As<Napi::String>().Utf8Value(); return; }
  if (v.IsBigInt()) {
    out.kind = Kind::kBigInt;
    out.bigint = v.As<Napi::BigInt>().Int64Value(&out.bigint_lossless);
    return;
  }
  if (v.IsBuffer()) {
    auto buf = v.As<Napi::Buffer<char>>();
    out.kind = Kind::kString;
    out.text.assign(buf.Data(), buf.Length());
    return;
  }
  if (v.IsArray()) {
    Napi::Array arr = v.As<Napi::Array>();
    uint32_t n = arr.Length();
    out.kind = Kind::kArray;
    out.items.resize(n);
    for (uint32_t i = 0; i < n; ++i) DetachInto(arr.Get(i), out.items[i], depth + 1);
    return;
  }
  if (v.IsFunction()) { out.kind = Kind::kOther; return; }
  if (v.IsObject()) {
    Napi::Object obj = v.As<Napi::Object>();
    Napi::Array names = obj.GetPropertyNames();
    uint32_t n = names.Length();
    out.kind = Kind::kObject;
    out.members.resize(n);
    for (uint32_t i = 0; i < n; ++i) {
      Napi::Value name = names.Get(i);
      out.members[i].first = name.ToString().Utf8Value();
      DetachInto(obj.Get(name), out.members[i].second, depth + 1);
    }
    return;
  }
  out.kind = Kind::kOther;
}

// The shortest text that reads back as `d`, like JavaScript's Number#toString for finite values.
inline std::string FormatNumber(double d) {
  if (std::trunc(d) == d && std::fabs(d) <= static_cast<double>(kMaxSafeInteger)) return std::to_string(static_cast<int64_t>(d));
  char buf[40];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, d);
    if (std::strtod(buf, nullptr) == d) break;
  }
  return buf;
}

}  // namespace detail

class JsonValue {
 public:
  JsonValue() = default;
  explicit JsonValue(Napi::Value value) : value_(value) {}

  // Copies `value` into C++ (on the JavaScript thread); the copy may be read on any thread.
  static JsonValue Detach(Napi::Value value) {
    auto root = std::make_shared<detail::JsonNode>();
    detail::DetachInto(value, *root, 0);
    return JsonValue(root, root.get());
  }
  // Whether this is a detached copy (see the top of this file).
  bool IsDetached() const { return node_ != nullptr; }

  bool IsUndefined() const {
    if (node_) return node_->kind == Kind::kUndefined;
    return value_.IsEmpty() || value_.IsUndefined();
  }
  bool IsNull() const {
    if (node_) return node_->kind == Kind::kNull;
    return !value_.IsEmpty() && value_.IsNull();
  }
  // Undefined or null: "not given".
  bool IsMissing() const { return IsUndefined() || IsNull(); }
  bool IsBool() const { return node_ ? node_->kind == Kind::kBool : !value_.IsEmpty() && value_.IsBoolean(); }
  bool IsNumber() const { return node_ ? node_->kind == Kind::kNumber : !value_.IsEmpty() && value_.IsNumber(); }
  bool IsString() const { return node_ ? node_->kind == Kind::kString : !value_.IsEmpty() && value_.IsString(); }
  bool IsArray() const { return node_ ? node_->kind == Kind::kArray : !value_.IsEmpty() && value_.IsArray(); }
  // A plain object (not an array, not null).
  bool IsObject() const {
    if (node_) return node_->kind == Kind::kObject;
    return !value_.IsEmpty() && value_.IsObject() && !value_.IsArray() && !value_.IsFunction();
  }

  // Member `name` of an object; undefined when this is not an object or has no such member.
  JsonValue Get(std::string_view name) const {
    if (!IsObject()) return JsonValue();
    if (node_) {
      for (const auto& m : node_->members) {
        if (m.first == name) return JsonValue(root_, &m.second);
      }
      return Undefined();
    }
    Napi::Object obj = value_.As<Napi::Object>();
    return JsonValue(obj.Get(std::string(name)));
  }
  JsonValue operator[](std::string_view name) const { return Get(name); }

  // Whether an object has its own member `name` (a member set to undefined counts).
  bool Has(std::string_view name) const {
    if (!IsObject()) return false;
    if (node_) {
      for (const auto& m : node_->members) {
        if (m.first == name) return true;
      }
      return false;
    }
    return value_.As<Napi::Object>().HasOwnProperty(std::string(name));
  }

  // Element count of an array; 0 for anything else.
  uint32_t Size() const {
    if (!IsArray()) return 0;
    return node_ ? static_cast<uint32_t>(node_->items.size()) : value_.As<Napi::Array>().Length();
  }

  // Element `index` of an array; undefined when out of range or not an array.
  JsonValue At(uint32_t index) const {
    if (!IsArray() || index >= Size()) return node_ ? Undefined() : JsonValue();
    if (node_) return JsonValue(root_, &node_->items[index]);
    return JsonValue(value_.As<Napi::Array>().Get(index));
  }

  // Own enumerable member names of an object, in property order.
  std::vector<std::string> Keys() const {
    std::vector<std::string> keys;
    if (!IsObject()) return keys;
    if (node_) {
      for (const auto& m : node_->members) keys.push_back(m.first);
      return keys;
    }
    Napi::Array names = value_.As<Napi::Object>().GetPropertyNames();
    uint32_t n = names.Length();
    keys.reserve(n);
    for (uint32_t i = 0; i < n; ++i) keys.push_back(names.Get(i).ToString().Utf8Value());
    return keys;
  }

  std::optional<std::string> AsString() const {
    if (!IsString()) return std::nullopt;
    if (node_) return node_->text;
    return value_.As<Napi::String>().Utf8Value();
  }

  // A number that is an integer in [-(2^53-1), 2^53-1], or a BigInt that fits in 64 bits.
  // 3.0 is an integer (JSON cannot tell them apart); 3.5, "3", true and 1e300 are not.
  std::optional<int64_t> AsInt64() const {
    if (node_ && node_->kind == Kind::kBigInt) {
      if (!node_->bigint_lossless) return std::nullopt;
      return node_->bigint;
    }
    if (IsNumber()) {
      double d = node_ ? node_->number : value_.As<Napi::Number>().DoubleValue();
      if (!std::isfinite(d) || std::trunc(d) != d) return std::nullopt;
      if (d > static_cast<double>(kMaxSafeInteger) || d < -static_cast<double>(kMaxSafeInteger)) return std::nullopt;
      return static_cast<int64_t>(d);
    }
    if (!node_ && !value_.IsEmpty() && value_.IsBigInt()) {
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
    double d = node_ ? node_->number : value_.As<Napi::Number>().DoubleValue();
    if (!std::isfinite(d)) return std::nullopt;
    return d;
  }

  std::optional<bool> AsBool() const {
    if (!IsBool()) return std::nullopt;
    if (node_) return node_->boolean;
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
    if (node_) return node_->kind == Kind::kBigInt ? "bigint" : node_->kind == Kind::kOther ? "function" : "object";
    if (value_.IsBigInt()) return "bigint";
    if (value_.IsFunction()) return "function";
    return "object";
  }

  // The value as text, the way JavaScript's String() shows a string, number or boolean;
  // nothing for other types.
  std::optional<std::string> ToText() const {
    if (auto s = AsString()) return s;
    if (auto b = AsBool()) return std::string(*b ? "true" : "false");
    if (IsNumber()) return detail::FormatNumber(node_ ? node_->number : value_.As<Napi::Number>().DoubleValue());
    return std::nullopt;
  }

  // JSON.stringify of the value ("" for undefined).
  std::string ToJson() const {
    if (IsUndefined()) return "";
    if (node_) {
      JsonWriter w;
      WriteNode(w, *node_);
      return w.Take();
    }
    Napi::Env env = value_.Env();
    Napi::Object json = env.Global().Get("JSON").As<Napi::Object>();
    Napi::Value text = json.Get("stringify").As<Napi::Function>().Call(json, {value_});
    return text.IsString() ? text.As<Napi::String>().Utf8Value() : std::string();
  }

  // The underlying value, for code that needs node-addon-api directly; empty for a detached value.
  Napi::Value napi() const { return value_; }

 private:
  using Kind = detail::JsonNode::Kind;

  JsonValue(std::shared_ptr<const detail::JsonNode> root, const detail::JsonNode* node) : root_(std::move(root)), node_(node) {}

  // A detached undefined (so values read from a detached value stay detached).
  static JsonValue Undefined() {
    auto node = std::make_shared<detail::JsonNode>();
    const detail::JsonNode* raw = node.get();
    return JsonValue(std::move(node), raw);
  }

  static void WriteNode(JsonWriter& w, const detail::JsonNode& n) {
    switch (n.kind) {
      case Kind::kNull: case Kind::kUndefined: case Kind::kOther: w.Null(); return;
      case Kind::kBool: w.Bool(n.boolean); return;
      case Kind::kNumber: w.Double(n.number); return;
      case Kind::kBigInt: w.Int(n.bigint); return;
      case Kind::kString: w.String(n.text); return;
      case Kind::kArray:
        w.BeginArray();
        for (const auto& item : n.items) WriteNode(w, item);
        w.EndArray();
        return;
      case Kind::kObject:
        w.BeginObject();
        for (const auto& m : n.members) {
          if (m.second.kind == Kind::kUndefined || m.second.kind == Kind::kOther) continue;
          w.Key(m.first);
          WriteNode(w, m.second);
        }
        w.EndObject();
        return;
    }
  }

  Napi::Value value_;
  std::shared_ptr<const detail::JsonNode> root_;
  const detail::JsonNode* node_ = nullptr;
};

}  // namespace erpmod

#endif  // ERPMOD_JSON_VALUE_H_
