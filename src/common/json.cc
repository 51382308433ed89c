#include "common/json.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>

namespace reaper {
namespace json {

Value Value::Bool(bool value) {
  Value result;
  result.type_ = Type::kBool;
  result.bool_ = value;
  return result;
}

Value Value::Integer(int64_t value) {
  Value result;
  result.type_ = Type::kNumber;
  result.is_integer_ = true;
  result.integer_ = value;
  result.number_ = static_cast<double>(value);
  return result;
}

Value Value::Number(double value) {
  Value result;
  result.type_ = Type::kNumber;
  result.number_ = value;
  return result;
}

Value Value::String(std::string value) {
  Value result;
  result.type_ = Type::kString;
  result.string_ = std::move(value);
  return result;
}

Value Value::MakeArray(Array elements) {
  Value result;
  result.type_ = Type::kArray;
  result.array_ = std::move(elements);
  return result;
}

Value Value::MakeObject(Object members) {
  Value result;
  result.type_ = Type::kObject;
  result.object_ = std::move(members);
  return result;
}

const Value* Value::Find(const std::string& key) const {
  if (type_ != Type::kObject) return nullptr;
  for (const Member& member : object_) {
    if (member.first == key) return &member.second;
  }
  return nullptr;
}

void Value::Add(std::string key, Value value) {
  if (type_ != Type::kObject) *this = MakeObject();
  object_.emplace_back(std::move(key), std::move(value));
}

const char* TypeName(Value::Type type) {
  switch (type) {
    case Value::Type::kNull: return "null";
    case Value::Type::kBool: return "a boolean";
    case Value::Type::kNumber: return "a number";
    case Value::Type::kString: return "a string";
    case Value::Type::kArray: return "an array";
    case Value::Type::kObject: return "an object";
  }
  return "unknown";
}

namespace {

class Parser {
 public:
  Parser(const std::string& text, const ParseOptions& options) : text_(text), options_(options) {}

  Result<Value> ParseDocument() {
    if (text_.size() > options_.max_bytes) {
      return Status(Code::kInvalidArgument, "JSON text is " + std::to_string(text_.size()) +
                                                " bytes, more than the limit of " +
                                                std::to_string(options_.max_bytes));
    }
    SkipWhitespace();
    Value value;
    if (!ParseValue(1, &value)) return error_;
    SkipWhitespace();
    if (position_ != text_.size()) {
      Fail("unexpected data after the JSON value");
      return error_;
    }
    return value;
  }

 private:
  bool AtEnd() const { return position_ >= text_.size(); }
  char Peek() const { return AtEnd() ? '\0' : text_[position_]; }

  void SkipWhitespace() {
    while (!AtEnd()) {
      char c = text_[position_];
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
      ++position_;
    }
  }

  // Records the first error with the position where it was found.
  bool Fail(const std::string& message) { return FailAt(position_, message); }

  bool FailAt(size_t offset, const std::string& message) {
    size_t line = 1;
    size_t column = 1;
    for (size_t i = 0; i < offset && i < text_.size(); ++i) {
      if (text_[i] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    error_ = Status(Code::kInvalidArgument, "line " + std::to_string(line) + ", column " +
                                                std::to_string(column) + " (byte " +
                                                std::to_string(offset) + "): " + message);
    return false;
  }

  bool ParseValue(int depth, Value* out) {
    if (AtEnd()) return Fail("unexpected end of input, expected a value");
    char c = Peek();
    switch (c) {
      case '{': return ParseObject(depth, out);
      case '[': return ParseArray(depth, out);
      case '"': {
        std::string text;
        if (!ParseString(&text)) return false;
        *out = Value::String(std::move(text));
        return true;
      }
      case 't': return ParseLiteral("true", Value::Bool(true), out);
      case 'f': return ParseLiteral("false", Value::Bool(false), out);
      case 'n': return ParseLiteral("null", Value(), out);
      default:
        if (c == '-' || (c >= '0' && c <= '9')) return ParseNumber(out);
        return Fail(std::string("unexpected character ") + Describe(c) + ", expected a value");
    }
  }

  static std::string Describe(char c) {
    unsigned char byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte < 0x7f) return std::string("'") + c + "'";
    char text[16];
    std::snprintf(text, sizeof(text), "0x%02x", byte);
    return text;
  }

  bool ParseLiteral(const char* word, Value value, Value* out) {
    size_t length = std::char_traits<char>::length(word);
    if (text_.compare(position_, length, word) != 0) return Fail("invalid literal, expected a value");
    position_ += length;
    *out = std::move(value);
    return true;
  }

  bool EnterNested(int depth) {
    if (depth > options_.max_depth) {
      return Fail("nesting deeper than the limit of " + std::to_string(options_.max_depth));
    }
    return true;
  }

  bool ParseObject(int depth, Value* out) {
    if (!EnterNested(depth)) return false;
    ++position_;  // '{'
    Value object = Value::MakeObject();
    SkipWhitespace();
    if (Peek() == '}') {
      ++position_;
      *out = std::move(object);
      return true;
    }
    while (true) {
      SkipWhitespace();
      if (Peek() != '"') return Fail("expected a string key in object");
      size_t key_offset = position_;
      std::string key;
      if (!ParseString(&key)) return false;
      if (object.Find(key) != nullptr) return FailAt(key_offset, "duplicate key \"" + key + "\"");
      SkipWhitespace();
      if (Peek() != ':') return Fail("expected ':' after object key");
      ++position_;
      SkipWhitespace();
      Value member;
      if (!ParseValue(depth + 1, &member)) return false;
      object.Add(std::move(key), std::move(member));
      SkipWhitespace();
      if (Peek() == ',') {
        ++position_;
        continue;
      }
      if (Peek() == '}') {
        ++position_;
        *out = std::move(object);
        return true;
      }
      return Fail("expected ',' or '}' in object");
    }
  }

  bool ParseArray(int depth, Value* out) {
    if (!EnterNested(depth)) return false;
    ++position_;  // '['
    Value array = Value::MakeArray();
    SkipWhitespace();
    if (Peek() == ']') {
      ++position_;
      *out = std::move(array);
      return true;
    }
    while (true) {
      SkipWhitespace();
      Value element;
      if (!ParseValue(depth + 1, &element)) return false;
      array.array().push_back(std::move(element));
      SkipWhitespace();
      if (Peek() == ',') {
        ++position_;
        continue;
      }
      if (Peek() == ']') {
        ++position_;
        *out = std::move(array);
        return true;
      }
      return Fail("expected ',' or ']' in array");
    }
  }

  static bool IsDigit(char c) { return c >= '0' && c <= '9'; }

  bool ParseNumber(Value* out) {
    size_t start = position_;
    bool is_integer = true;
    if (Peek() == '-') ++position_;
    if (Peek() == '0') {
      ++position_;
    } else if (IsDigit(Peek())) {
      while (IsDigit(Peek())) ++position_;
    } else {
      return Fail("invalid number: expected a digit");
    }
    if (Peek() == '.') {
      is_integer = false;
      ++position_;
      if (!IsDigit(Peek())) return Fail("invalid number: expected a digit after '.'");
      while (IsDigit(Peek())) ++position_;
    }
    if (Peek() == 'e' || Peek() == 'E') {
      is_integer = false;
      ++position_;
      if (Peek() == '+' || Peek() == '-') ++position_;
      if (!IsDigit(Peek())) return Fail("invalid number: expected a digit in the exponent");
      while (IsDigit(Peek())) ++position_;
    }

    std::string literal = text_.substr(start, position_ - start);
    if (is_integer) {
      errno = 0;
      char* end = nullptr;
      long long integer = std::strtoll(literal.c_str(), &end, 10);
      if (errno == 0 && end != nullptr && *end == '\0') {
        *out = Value::Integer(integer);
        return true;
      }
    }
    // strtod reads '.' as the decimal point only in the C locale, which is
    // in effect because Reaper never calls setlocale.
    errno = 0;
    double number = std::strtod(literal.c_str(), nullptr);
    if (errno == ERANGE && std::isinf(number)) {
      return FailAt(start, "number " + literal + " is out of range");
    }
    *out = Value::Number(number);
    return true;
  }

  bool ParseHex4(uint32_t* code) {
    if (position_ + 4 > text_.size()) return Fail("incomplete \\u escape");
    uint32_t value = 0;
    for (int i = 0; i < 4; ++i) {
      char c = text_[position_ + i];
      value <<= 4;
      if (c >= '0' && c <= '9') {
        value |= c - '0';
      } else if (c >= 'a' && c <= 'f') {
        value |= c - 'a' + 10;
      } else if (c >= 'A' && c <= 'F') {
        value |= c - 'A' + 10;
      } else {
        return Fail("invalid hex digit in \\u escape");
      }
    }
    position_ += 4;
    *code = value;
    return true;
  }

  static void AppendUtf8(uint32_t code, std::string* out) {
    if (code < 0x80) {
      *out += static_cast<char>(code);
    } else if (code < 0x800) {
      *out += static_cast<char>(0xc0 | (code >> 6));
      *out += static_cast<char>(0x80 | (code & 0x3f));
    } else if (code < 0x10000) {
      *out += static_cast<char>(0xe0 | (code >> 12));
      *out += static_cast<char>(0x80 | ((code >> 6) & 0x3f));
      *out += static_cast<char>(0x80 | (code & 0x3f));
    } else {
      *out += static_cast<char>(0xf0 | (code >> 18));
      *out += static_cast<char>(0x80 | ((code >> 12) & 0x3f));
      *out += static_cast<char>(0x80 | ((code >> 6) & 0x3f));
      *out += static_cast<char>(0x80 | (code & 0x3f));
    }
  }

  // Decodes the escape after a backslash (position_ is on the character
  // after it).
  bool ParseEscape(std::string* out) {
    size_t escape_offset = position_ - 1;
    if (AtEnd()) return Fail("unexpected end of input in string escape");
    char c = text_[position_++];
    switch (c) {
      case '"': *out += '"'; return true;
      case '\\': *out += '\\'; return true;
      case '/': *out += '/'; return true;
      case 'b': *out += '\b'; return true;
      case 'f': *out += '\f'; return true;
      case 'n': *out += '\n'; return true;
      case 'r': *out += '\r'; return true;
      case 't': *out += '\t'; return true;
      case 'u': break;
      default: return FailAt(escape_offset, "invalid escape \\" + std::string(1, c));
    }

    uint32_t code = 0;
    if (!ParseHex4(&code)) return false;
    if (code >= 0xdc00 && code <= 0xdfff) {
      return FailAt(escape_offset, "lone low surrogate in \\u escape");
    }
    if (code >= 0xd800 && code <= 0xdbff) {
      if (text_.compare(position_, 2, "\\u") != 0) {
        return FailAt(escape_offset, "high surrogate in \\u escape without a low surrogate");
      }
      position_ += 2;
      uint32_t low = 0;
      if (!ParseHex4(&low)) return false;
      if (low < 0xdc00 || low > 0xdfff) {
        return FailAt(escape_offset, "high surrogate in \\u escape without a low surrogate");
      }
      code = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
    }
    AppendUtf8(code, out);
    return true;
  }

  // Copies one UTF-8 encoded character that starts with a byte >= 0x80,
  // rejecting invalid, overlong and surrogate encodings.
  bool CopyUtf8(std::string* out) {
    size_t start = position_;
    unsigned char lead = static_cast<unsigned char>(text_[position_]);
    int continuation = 0;
    uint32_t code = 0;
    uint32_t minimum = 0;
    if (lead >= 0xc2 && lead <= 0xdf) {
      continuation = 1;
      code = lead & 0x1f;
      minimum = 0x80;
    } else if (lead >= 0xe0 && lead <= 0xef) {
      continuation = 2;
      code = lead & 0x0f;
      minimum = 0x800;
    } else if (lead >= 0xf0 && lead <= 0xf4) {
      continuation = 3;
      code = lead & 0x07;
      minimum = 0x10000;
    } else {
      return Fail("invalid UTF-8 byte " + Describe(static_cast<char>(lead)) + " in string");
    }

    if (position_ + continuation >= text_.size()) return Fail("truncated UTF-8 sequence in string");
    for (int i = 1; i <= continuation; ++i) {
      unsigned char byte = static_cast<unsigned char>(text_[position_ + i]);
      if ((byte & 0xc0) != 0x80) return Fail("invalid UTF-8 sequence in string");
      code = (code << 6) | (byte & 0x3f);
    }
    if (code < minimum || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) {
      return Fail("invalid UTF-8 sequence in string");
    }

    position_ += continuation + 1;
    out->append(text_, start, continuation + 1);
    return true;
  }

  bool ParseString(std::string* out) {
    ++position_;  // opening quote
    while (true) {
      if (AtEnd()) return Fail("unterminated string");
      unsigned char c = static_cast<unsigned char>(text_[position_]);
      if (c == '"') {
        ++position_;
        return true;
      }
      if (c == '\\') {
        ++position_;
        if (!ParseEscape(out)) return false;
      } else if (c < 0x20) {
        return Fail("control character " + Describe(static_cast<char>(c)) +
                    " in string must be escaped");
      } else if (c >= 0x80) {
        if (!CopyUtf8(out)) return false;
      } else {
        *out += static_cast<char>(c);
        ++position_;
      }
    }
  }

  const std::string& text_;
  const ParseOptions& options_;
  size_t position_ = 0;
  Status error_;
};

void WriteTo(const Value& value, std::string* out);

void WriteNumber(const Value& value, std::string* out) {
  if (value.is_integer()) {
    *out += std::to_string(value.integer_value());
    return;
  }
  double number = value.number_value();
  if (!std::isfinite(number)) {
    *out += "null";
    return;
  }
  char text[32];
  std::snprintf(text, sizeof(text), "%.17g", number);
  *out += text;
}

void WriteTo(const Value& value, std::string* out) {
  switch (value.type()) {
    case Value::Type::kNull: *out += "null"; return;
    case Value::Type::kBool: *out += value.bool_value() ? "true" : "false"; return;
    case Value::Type::kNumber: WriteNumber(value, out); return;
    case Value::Type::kString: *out += Quote(value.string_value()); return;
    case Value::Type::kArray: {
      *out += '[';
      bool first = true;
      for (const Value& element : value.array()) {
        if (!first) *out += ',';
        first = false;
        WriteTo(element, out);
      }
      *out += ']';
      return;
    }
    case Value::Type::kObject: {
      *out += '{';
      bool first = true;
      for (const Value::Member& member : value.object()) {
        if (!first) *out += ',';
        first = false;
        *out += Quote(member.first);
        *out += ':';
        WriteTo(member.second, out);
      }
      *out += '}';
      return;
    }
  }
}

}  // namespace

Result<Value> Parse(const std::string& text, const ParseOptions& options) {
  return Parser(text, options).ParseDocument();
}

std::string Write(const Value& value) {
  std::string out;
  WriteTo(value, &out);
  return out;
}

std::string Quote(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          char escape[8];
          std::snprintf(escape, sizeof(escape), "\\u%04x", static_cast<unsigned char>(c));
          out += escape;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

}  // namespace json
}  // namespace reaper
