// JSON values, a strict parser and a compact writer (RFC 8259).
//
// The parser reads untrusted input (OCI config.json, process.json, state
// files), so it is strict and bounded:
// - the whole text must be one value, with only whitespace around it;
// - strings must be valid UTF-8 (no overlong forms, no surrogate code
//   points) without raw control characters; \u escapes are decoded, and a
//   surrogate pair becomes one code point, while a lone surrogate is an error;
// - an object may not repeat a key, because two readers could pick different
//   values for it;
// - numbers follow the RFC grammar; an integer literal that fits in int64_t
//   keeps its exact value, anything else is a finite double;
// - the input size and the nesting depth are limited (ParseOptions).
// A failure is InvalidArgument with the line, column and byte offset of the
// problem: "line 3, column 7 (byte 41): expected ',' or '}' in object".
//
// Object members keep their input order, and the writer emits them in that
// order, so a parsed-then-written document keeps its layout.
//
// Thread-safety: values are plain data; Parse and Write are reentrant.
#ifndef REAPER_COMMON_JSON_H_
#define REAPER_COMMON_JSON_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace reaper {
namespace json {

class Value {
 public:
  enum class Type { kNull, kBool, kNumber, kString, kArray, kObject };
  using Array = std::vector<Value>;
  using Member = std::pair<std::string, Value>;
  using Object = std::vector<Member>;

  Value() = default;  // null
  static Value Bool(bool value);
  static Value Integer(int64_t value);
  static Value Number(double value);
  static Value String(std::string value);
  static Value MakeArray(Array elements = {});
  static Value MakeObject(Object members = {});

  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::kNull; }
  bool is_bool() const { return type_ == Type::kBool; }
  bool is_number() const { return type_ == Type::kNumber; }
  bool is_string() const { return type_ == Type::kString; }
  bool is_array() const { return type_ == Type::kArray; }
  bool is_object() const { return type_ == Type::kObject; }
  // True for a number whose value is exactly an int64_t: a literal without
  // fraction or exponent that fits, or a value built with Integer().
  bool is_integer() const { return type_ == Type::kNumber && is_integer_; }

  // Typed accessors. On a value of another type they return false, 0 or an
  // empty string, array or object.
  bool bool_value() const { return bool_; }
  int64_t integer_value() const { return integer_; }
  double number_value() const { return number_; }
  const std::string& string_value() const { return string_; }
  const Array& array() const { return array_; }
  Array& array() { return array_; }
  const Object& object() const { return object_; }
  Object& object() { return object_; }

  // The member named `key` of an object, or nullptr when this is not an
  // object or has no such member.
  const Value* Find(const std::string& key) const;
  // Appends a member to an object; a value that is not an object becomes an
  // empty object first. Does not check for an existing key.
  void Add(std::string key, Value value);

 private:
  Type type_ = Type::kNull;
  bool bool_ = false;
  bool is_integer_ = false;
  int64_t integer_ = 0;
  double number_ = 0;
  std::string string_;
  Array array_;
  Object object_;
};

const char* TypeName(Value::Type type);

struct ParseOptions {
  size_t max_bytes = 4 << 20;
  // Arrays and objects nested deeper than this are rejected; the top-level
  // value is at depth 1.
  int max_depth = 64;
};

Result<Value> Parse(const std::string& text, const ParseOptions& options = {});

// Writes `value` as compact JSON: no whitespace, '"', '\\' and control
// characters escaped, other UTF-8 bytes written as they are, integers
// exactly, doubles with 17 significant digits. A non-finite double, which
// JSON cannot represent, is written as null.
std::string Write(const Value& value);

// Writes `text` as a JSON string literal, quotes included.
std::string Quote(const std::string& text);

}  // namespace json
}  // namespace reaper

#endif  // REAPER_COMMON_JSON_H_
