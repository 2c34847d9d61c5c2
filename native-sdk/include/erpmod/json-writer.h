// erpmod/json-writer.h: builds JSON text into a std::string.
//
// Handing JavaScript one string is about ten times cheaper than building the same object property
// by property through Node-API, so responses and event payloads are written as JSON text here.
// The writer keeps track of commas and nesting and escapes strings; it never produces invalid
// JSON: invalid UTF-8 becomes U+FFFD, NaN and infinities become null, unbalanced End* calls throw.
#ifndef ERPMOD_JSON_WRITER_H_
#define ERPMOD_JSON_WRITER_H_

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>
#if __has_include(<charconv>)
#include <charconv>
#endif

namespace erpmod {

class JsonWriter {
 public:
  JsonWriter() { out_.reserve(256); }

  JsonWriter& BeginObject() { return Open('{'); }
  JsonWriter& EndObject() { return Close('{', '}'); }
  JsonWriter& BeginArray() { return Open('['); }
  JsonWriter& EndArray() { return Close('[', ']'); }

  // The name of the next member; only valid directly inside an object.
  JsonWriter& Key(std::string_view name) {
    if (stack_.empty() || stack_.back().kind != '{' || after_key_) {
      throw std::logic_error("erpmod::JsonWriter: Key() outside an object or after another Key()");
    }
    Level& level = stack_.back();
    if (level.has_items) out_ += ',';
    level.has_items = true;
    AppendString(out_, name);
    out_ += ':';
    after_key_ = true;
    return *this;
  }

  JsonWriter& String(std::string_view v) { Separate(); AppendString(out_, v); return *this; }
  JsonWriter& Int(int64_t v) { Separate(); out_ += std::to_string(v); return *this; }
  JsonWriter& Uint(uint64_t v) { Separate(); out_ += std::to_string(v); return *this; }
  JsonWriter& Bool(bool v) { Separate(); out_ += v ? "true" : "false"; return *this; }
  JsonWriter& Null() { Separate(); out_ += "null"; return *this; }
  JsonWriter& Double(double v) { Separate(); AppendDouble(out_, v); return *this; }
  // Inserts already serialised JSON (for example a stored document) as one value, unchecked.
  JsonWriter& Raw(std::string_view json) { Separate(); out_.append(json); return *this; }

  // Any scalar: strings, integers, floating point, bool, nullptr, std::optional (empty = null).
  template <typename T>
  JsonWriter& Value(const T& v) {
    using U = std::decay_t<T>;
    if constexpr (std::is_same_v<U, bool>) {
      return Bool(v);
    } else if constexpr (std::is_same_v<U, std::nullptr_t>) {
      return Null();
    } else if constexpr (std::is_integral_v<U> && std::is_signed_v<U>) {
      return Int(static_cast<int64_t>(v));
    } else if constexpr (std::is_integral_v<U>) {
      return Uint(static_cast<uint64_t>(v));
    } else if constexpr (std::is_floating_point_v<U>) {
      return Double(static_cast<double>(v));
    } else if constexpr (std::is_convertible_v<const U&, std::string_view>) {
      return String(std::string_view(v));
    } else {
      return OptionalValue(v);
    }
  }

  // Key(name).Value(v) in one call.
  template <typename T>
  JsonWriter& Field(std::string_view name, const T& v) {
    Key(name);
    return Value(v);
  }

  // The text written so far; complete once every Begin* has its End*.
  const std::string& str() const { return out_; }
  bool complete() const { return stack_.empty() && !out_.empty() && !after_key_; }
  std::string Take() { stack_.clear(); after_key_ = false; return std::move(out_); }

  // Appends `s` as a quoted JSON string.
  static void AppendString(std::string& out, std::string_view s);
  // Appends the shortest text that reads back as `v` (null when not finite).
  static void AppendDouble(std::string& out, double v);

 private:
  struct Level {
    char kind;
    bool has_items;
  };

  template <typename T>
  JsonWriter& OptionalValue(const std::optional<T>& v) {
    if (!v) return Null();
    return Value(*v);
  }

  JsonWriter& Open(char kind) {
    Separate();
    out_ += kind;
    stack_.push_back({kind, false});
    return *this;
  }

  JsonWriter& Close(char kind, char closer) {
    if (stack_.empty() || stack_.back().kind != kind || after_key_) {
      throw std::logic_error("erpmod::JsonWriter: unbalanced End" +
                             std::string(kind == '{' ? "Object" : "Array") + "()");
    }
    stack_.pop_back();
    out_ += closer;
    return *this;
  }

  void Separate() {
    if (after_key_) {
      after_key_ = false;
      return;
    }
    if (stack_.empty()) {
      if (!out_.empty()) throw std::logic_error("erpmod::JsonWriter: a second top-level value");
      return;
    }
    Level& level = stack_.back();
    if (level.kind == '{') throw std::logic_error("erpmod::JsonWriter: a value in an object needs Key() first");
    if (level.has_items) out_ += ',';
    level.has_items = true;
  }

  std::string out_;
  std::vector<Level> stack_;
  bool after_key_ = false;
};

inline void JsonWriter::AppendString(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.reserve(out.size() + s.size() + 2);
  out += '"';
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    unsigned char c = *p;
    if (c < 0x80) {
      switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        default:
          if (c < 0x20) {
            out += "\\u00";
            out += kHex[c >> 4];
            out += kHex[c & 0xF];
          } else {
            out += static_cast<char>(c);
          }
      }
      ++p;
      continue;
    }
    // Multi-byte UTF-8: copy a well-formed sequence, replace anything else with U+FFFD.
    size_t len = 0;
    uint32_t cp = 0;
    if ((c & 0xE0) == 0xC0) { len = 2; cp = c & 0x1F; }
    else if ((c & 0xF0) == 0xE0) { len = 3; cp = c & 0x0F; }
    else if ((c & 0xF8) == 0xF0) { len = 4; cp = c & 0x07; }
    bool ok = len != 0 && static_cast<size_t>(end - p) >= len;
    for (size_t i = 1; ok && i < len; ++i) {
      if ((p[i] & 0xC0) != 0x80) ok = false;
      else cp = (cp << 6) | (p[i] & 0x3F);
    }
    if (ok) {
      bool overlong = (len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000);
      ok = !overlong && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
    }
    if (ok) {
      out.append(reinterpret_cast<const char*>(p), len);
      p += len;
    } else {
      out += "\xEF\xBF\xBD";
      ++p;
    }
  }
  out += '"';
}

inline void JsonWriter::AppendDouble(std::string& out, double v) {
  if (!std::isfinite(v)) {
    out += "null";
    return;
  }
  char buf[32];
#if defined(__cpp_lib_to_chars) && __cpp_lib_to_chars >= 201611L
  auto res = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, res.ptr);
#else
  int n = std::snprintf(buf, sizeof buf, "%.17g", v);
  out.append(buf, static_cast<size_t>(n));
#endif
}

}  // namespace erpmod

#endif  // ERPMOD_JSON_WRITER_H_
