#include "common/json.h"

#include <gtest/gtest.h>

#include <string>

namespace reaper {
namespace json {
namespace {

Value ParseOk(const std::string& text) {
  Result<Value> value = Parse(text);
  EXPECT_TRUE(value.ok()) << text << ": " << value.status().ToString();
  return value.ok() ? *value : Value();
}

std::string ParseError(const std::string& text, const ParseOptions& options = {}) {
  Result<Value> value = Parse(text, options);
  EXPECT_FALSE(value.ok()) << text;
  if (value.ok()) return "";
  EXPECT_EQ(value.status().code(), Code::kInvalidArgument) << text;
  return value.status().message();
}

TEST(JsonTest, ParsesScalars) {
  EXPECT_TRUE(ParseOk("null").is_null());
  EXPECT_TRUE(ParseOk("true").bool_value());
  EXPECT_FALSE(ParseOk("false").bool_value());
  EXPECT_EQ(ParseOk("\"text\"").string_value(), "text");
  EXPECT_EQ(ParseOk(" \t\r\n 42 \n").integer_value(), 42);
}

TEST(JsonTest, KeepsIntegersExact) {
  Value big = ParseOk("9007199254740993");
  ASSERT_TRUE(big.is_integer());
  EXPECT_EQ(big.integer_value(), 9007199254740993LL);

  Value negative = ParseOk("-9223372036854775808");
  ASSERT_TRUE(negative.is_integer());
  EXPECT_EQ(negative.integer_value(), INT64_MIN);
}

TEST(JsonTest, NonIntegersBecomeDoubles) {
  Value fraction = ParseOk("-1.5e2");
  EXPECT_TRUE(fraction.is_number());
  EXPECT_FALSE(fraction.is_integer());
  EXPECT_DOUBLE_EQ(fraction.number_value(), -150.0);

  Value huge = ParseOk("123456789012345678901234567890");
  EXPECT_FALSE(huge.is_integer());
  EXPECT_DOUBLE_EQ(huge.number_value(), 1.2345678901234568e29);
}

TEST(JsonTest, ParsesNestedContainersInOrder) {
  Value document = ParseOk(R"({"b": [1, {"c": null}], "a": {}})");
  ASSERT_TRUE(document.is_object());
  ASSERT_EQ(document.object().size(), 2u);
  EXPECT_EQ(document.object()[0].first, "b");
  EXPECT_EQ(document.object()[1].first, "a");
  const Value* array = document.Find("b");
  ASSERT_NE(array, nullptr);
  ASSERT_EQ(array->array().size(), 2u);
  EXPECT_EQ(array->array()[0].integer_value(), 1);
  EXPECT_TRUE(array->array()[1].Find("c")->is_null());
  EXPECT_EQ(document.Find("missing"), nullptr);
}

TEST(JsonTest, DecodesEscapes) {
  EXPECT_EQ(ParseOk(R"("\" \\ \/ \b \f \n \r \t")").string_value(), "\" \\ / \b \f \n \r \t");
  EXPECT_EQ(ParseOk(R"("\u00e9\u20AC")").string_value(), "\xc3\xa9\xe2\x82\xac");
  EXPECT_EQ(ParseOk(R"("\u0000")").string_value(), std::string(1, '\0'));
}

TEST(JsonTest, DecodesSurrogatePairToOneCodePoint) {
  EXPECT_EQ(ParseOk(R"("\ud83d\ude00")").string_value(), "\xf0\x9f\x98\x80");
}

TEST(JsonTest, RejectsLoneSurrogates) {
  EXPECT_NE(ParseError(R"("\ud83d")").find("high surrogate"), std::string::npos);
  EXPECT_NE(ParseError(R"("\ud83dx")").find("high surrogate"), std::string::npos);
  EXPECT_NE(ParseError(R"("\ude00")").find("lone low surrogate"), std::string::npos);
  EXPECT_NE(ParseError(R"("\ud83d\u0041")").find("high surrogate"), std::string::npos);
}

TEST(JsonTest, PassesValidUtf8Through) {
  EXPECT_EQ(ParseOk("\"gr\xc3\xbc\xc3\x9f \xf0\x9f\x98\x80\"").string_value(),
            "gr\xc3\xbc\xc3\x9f \xf0\x9f\x98\x80");
}

TEST(JsonTest, RejectsInvalidUtf8) {
  EXPECT_NE(ParseError("\"\xff\"").find("invalid UTF-8 byte 0xff"), std::string::npos);
  EXPECT_NE(ParseError("\"\xc0\xaf\"").find("invalid UTF-8"), std::string::npos);  // overlong '/'
  EXPECT_NE(ParseError("\"\xe0\x80\xaf\"").find("invalid UTF-8"), std::string::npos);
  EXPECT_NE(ParseError("\"\xed\xa0\x80\"").find("invalid UTF-8"), std::string::npos);  // surrogate
  EXPECT_NE(ParseError("\"\xf4\x90\x80\x80\"").find("invalid UTF-8"), std::string::npos);
  EXPECT_NE(ParseError("\"\xc3(\"").find("invalid UTF-8"), std::string::npos);
  EXPECT_NE(ParseError("\"\xe2\x82").find("truncated UTF-8"), std::string::npos);
}

TEST(JsonTest, RejectsRawControlCharacters) {
  EXPECT_NE(ParseError("\"a\nb\"").find("control character 0x0a"), std::string::npos);
}

TEST(JsonTest, RejectsDuplicateKeys) {
  EXPECT_EQ(ParseError(R"({"a": 1, "a": 2})"), "line 1, column 10 (byte 9): duplicate key \"a\"");
}

TEST(JsonTest, RejectsGrammarErrors) {
  EXPECT_NE(ParseError("").find("unexpected end of input"), std::string::npos);
  EXPECT_NE(ParseError("[1,]").find("expected a value"), std::string::npos);
  EXPECT_NE(ParseError(R"({"a":1,})").find("expected a string key"), std::string::npos);
  EXPECT_NE(ParseError("[1 2]").find("expected ',' or ']'"), std::string::npos);
  EXPECT_NE(ParseError(R"({"a" 1})").find("expected ':'"), std::string::npos);
  EXPECT_NE(ParseError("{'a': 1}").find("expected a string key"), std::string::npos);
  EXPECT_NE(ParseError("01").find("unexpected data after"), std::string::npos);
  EXPECT_NE(ParseError("1.").find("expected a digit after '.'"), std::string::npos);
  EXPECT_NE(ParseError("1e").find("exponent"), std::string::npos);
  EXPECT_NE(ParseError("-").find("expected a digit"), std::string::npos);
  EXPECT_NE(ParseError("+1").find("unexpected character '+'"), std::string::npos);
  EXPECT_NE(ParseError(".5").find("unexpected character '.'"), std::string::npos);
  EXPECT_NE(ParseError("tru").find("invalid literal"), std::string::npos);
  EXPECT_NE(ParseError("nul").find("invalid literal"), std::string::npos);
  EXPECT_NE(ParseError("\"abc").find("unterminated string"), std::string::npos);
  EXPECT_NE(ParseError(R"("\x")").find("invalid escape \\x"), std::string::npos);
  EXPECT_NE(ParseError(R"("\u12G4")").find("invalid hex digit"), std::string::npos);
  EXPECT_NE(ParseError("{} {}").find("unexpected data after the JSON value"), std::string::npos);
  EXPECT_NE(ParseError("1e999").find("out of range"), std::string::npos);
}

TEST(JsonTest, ErrorNamesLineColumnAndByte) {
  EXPECT_EQ(ParseError("{\n  \"a\": [1,\n   2 3]\n}"),
            "line 3, column 6 (byte 18): expected ',' or ']' in array");
}

TEST(JsonTest, LimitsDepth) {
  ParseOptions options;
  options.max_depth = 3;
  EXPECT_TRUE(Parse("[[[1]]]", options).ok());
  EXPECT_NE(ParseError("[[[[1]]]]", options).find("nesting deeper than the limit of 3"),
            std::string::npos);
  EXPECT_NE(ParseError(R"({"a":{"b":{"c":{}}}})", options).find("nesting deeper"),
            std::string::npos);
}

TEST(JsonTest, DefaultDepthLimitStopsDeepInput) {
  std::string deep(100000, '[');
  EXPECT_NE(ParseError(deep).find("nesting deeper than the limit of 64"), std::string::npos);
  std::string allowed = std::string(64, '[') + std::string(64, ']');
  EXPECT_TRUE(Parse(allowed).ok());
}

TEST(JsonTest, LimitsSize) {
  ParseOptions options;
  options.max_bytes = 8;
  EXPECT_TRUE(Parse("[1,2,3]", options).ok());
  EXPECT_EQ(ParseError("[1,2,3,4]", options), "JSON text is 9 bytes, more than the limit of 8");
}

TEST(JsonTest, WritesCompactJson) {
  Value document = Value::MakeObject();
  document.Add("id", Value::String("t1"));
  document.Add("pid", Value::Integer(-42));
  document.Add("ratio", Value::Number(0.5));
  document.Add("ok", Value::Bool(true));
  document.Add("none", Value());
  document.Add("list", Value::MakeArray({Value::Integer(1), Value::MakeObject()}));
  EXPECT_EQ(Write(document),
            R"({"id":"t1","pid":-42,"ratio":0.5,"ok":true,"none":null,"list":[1,{}]})");
}

TEST(JsonTest, WriterEscapesControlCharactersAndKeepsUtf8) {
  EXPECT_EQ(Quote("a\"b\\c\n\t\x01\x7f\xc3\xa9"), "\"a\\\"b\\\\c\\n\\t\\u0001\\u007f\xc3\xa9\"");
}

TEST(JsonTest, WriterTurnsNonFiniteIntoNull) {
  EXPECT_EQ(Write(Value::Number(1.0 / 0.0)), "null");
}

TEST(JsonTest, RoundTripKeepsValues) {
  const std::string text =
      R"({"a":[1,-2,3.25,"x\u0000y",true,false,null],"b":{"c":"\u00e9\ud83d\ude00"}})";
  Value first = ParseOk(text);
  Value second = ParseOk(Write(first));
  EXPECT_EQ(Write(first), Write(second));
  EXPECT_EQ(second.Find("b")->Find("c")->string_value(), "\xc3\xa9\xf0\x9f\x98\x80");
  EXPECT_EQ(second.Find("a")->array()[3].string_value(), std::string("x\0y", 3));
}

}  // namespace
}  // namespace json
}  // namespace reaper
