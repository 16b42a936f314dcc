/* The tests' JSON reader (json.h) reads what RFC 8259 allows, exactly,
 * and refuses what it does not: the fixtures' expected values are only
 * as good as the reader that takes them in. */
#include <string.h>

#include "harness.h"
#include "json.h"

static json *parse(const char *s) { return json_parse(s, strlen(s)); }

static void refused(const char *text)
{
    json *j = parse(text);
    CHECK(j == NULL, "invalid JSON accepted: %s", text);
    json_free(j);
}

TEST_MAIN_BEGIN
    json *j = parse("{\"a\": [1, 2.5e1, -0.5, true, false, null], \"s\": \"x\\u00e9\\ud83d\\ude00\\n\\\"\", "
                    "\"big\": 9007199254740993, \"o\": {\"k\": \"v\"}, \"z\": 1}");
    REQUIRE(j != NULL, "valid document refused");
    const json *a = json_get(j, "a");
    CHECK(a && a->n == 6, "array of 6");
    CHECK(json_num(json_at(a, 0), 0) == 1 && json_num(json_at(a, 1), 0) == 25 && json_num(json_at(a, 2), 0) == -0.5,
          "numbers");
    CHECK(json_num(json_at(a, 3), -1) == 1 && json_num(json_at(a, 4), -1) == 0, "booleans");
    CHECK(json_at(a, 5) && json_at(a, 5)->type == JV_NULL && json_at(a, 6) == NULL, "null and out of range");
    CHECK(!strcmp(json_str(json_get(j, "s"), ""), "x\xc3\xa9\xf0\x9f\x98\x80\n\""), "escapes and a surrogate pair: %s",
          json_str(json_get(j, "s"), "(none)"));
    CHECK(!strcmp(json_str(json_get(json_get(j, "o"), "k"), ""), "v"), "nested object");
    CHECK(j->n == 5 && !strcmp(json_at(j, 0)->key, "a") && !strcmp(json_at(j, 4)->key, "z"), "members in document order");
    CHECK(json_get(j, "missing") == NULL, "absent key");
    json_free(j);

    /* not JSON (RFC 8259) */
    refused("");
    refused("{} x");             /* trailing garbage */
    refused("[1,]");             /* trailing comma */
    refused("{\"a\":1,}");
    refused("[01]");             /* leading zero */
    refused("[1.]");
    refused("[.5]");
    refused("[+1]");
    refused("[NaN]");
    refused("[\"a\tb\"]");       /* raw control character in a string */
    refused("[\"\\ud800\"]");    /* lone surrogate */
    refused("[\"\\x41\"]");      /* unknown escape */
    refused("{a:1}");            /* unquoted key */
    refused("['a']");
    refused("[1 2]");
    refused("[\"\xff\"]");       /* not UTF-8 */
TEST_MAIN_END
