/*
 * test-schema.c - the schema validator: exact messages, paths, at_key,
 * custom formats, errorMessage, anyOf/oneOf reporting, caps.
 * Conformance to draft-07 is tested by tests/schema-suite.
 */
#include "core/error.h"
#include "core/strbuf.h"
#include "schema/schema.h"
#include "schema/schema-int.h"

#include "test.h"

#include <regex.h>
#include <stdlib.h>

static void collect(void *ctx, const dr_schema_error *e)
{
	dr_strbuf *sb = ctx;

	dr_strbuf_addf(sb, "%s|%s|%s|%d|%s\n", e->instance_path, e->schema_path, e->keyword,
		       e->at_key, e->message);
}

static dr_schema *compile(const char *schema_json)
{
	json_error_t jerr;
	json_t *j = json_loads(schema_json, JSON_DECODE_ANY, &jerr);
	dr_schema *s = NULL;
	char *msg = NULL;

	if (!j) {
		fprintf(stderr, "bad test schema: %s\n", jerr.text);
		return NULL;
	}
	if (dr_schema_compile(j, "", &s, &msg)) {
		fprintf(stderr, "compile: %s\n", msg);
		free(msg);
	}
	json_decref(j);
	return s;
}

/* Validate and render every error as "ipath|spath|keyword|at_key|message". */
static char *run_opts(const char *schema_json, const char *instance_json,
		      const dr_schema_options *opts, int *count)
{
	dr_schema *s = compile(schema_json);
	json_t *inst = json_loads(instance_json, JSON_DECODE_ANY, NULL);
	dr_strbuf sb = DR_STRBUF_INIT;
	int n;

	if (!s || !inst) {
		dr_schema_free(s);
		json_decref(inst);
		return strdup("setup failed");
	}
	n = dr_schema_validate_opts(s, inst, opts, collect, &sb);
	if (count)
		*count = n;
	dr_schema_free(s);
	json_decref(inst);
	return dr_strbuf_detach(&sb, NULL);
}

static char *run(const char *schema_json, const char *instance_json)
{
	return run_opts(schema_json, instance_json, NULL, NULL);
}

#define CHECK_ERRS(schema, inst, expected)                                     \
	do {                                                                   \
		char *got_ = run(schema, inst);                                \
		CHECK_STR(got_, expected);                                     \
		free(got_);                                                    \
	} while (0)

TEST(type_messages)
{
	CHECK_ERRS("{\"type\":\"integer\"}", "\"12\"",
		   "|#/type|type|0|expected integer, got string \"12\"\n");
	CHECK_ERRS("{\"type\":[\"string\",\"null\"]}", "5",
		   "|#/type|type|0|expected string or null, got integer 5\n");
	CHECK_ERRS("{\"type\":[\"string\",\"integer\",\"object\"]}", "[1]",
		   "|#/type|type|0|expected string, integer or object, got array\n");
	CHECK_ERRS("{\"type\":\"object\"}", "true",
		   "|#/type|type|0|expected object, got boolean true\n");
	/* 1.0 is an integer in draft-07. */
	CHECK_ERRS("{\"type\":\"integer\"}", "1.0", "");
	CHECK_ERRS("{\"type\":\"integer\"}", "1.5",
		   "|#/type|type|0|expected integer, got number 1.5\n");
}

TEST(required_and_paths)
{
	const char *schema =
		"{\"properties\":{\"machines\":{\"type\":\"array\",\"items\":"
		"{\"$ref\":\"#/definitions/machine\"}}},"
		"\"definitions\":{\"machine\":{\"type\":\"object\","
		"\"required\":[\"name\",\"ip\"],"
		"\"properties\":{\"name\":{\"type\":\"string\"},"
		"\"ip\":{\"type\":\"string\",\"format\":\"ipv4\"}}}}}";

	CHECK_ERRS(schema, "{\"machines\":[{\"name\":\"a\",\"ip\":\"10.0.0.1\"},{\"ip\":\"10.0.0.300\"}]}",
		   "/machines/1|#/definitions/machine/required|required|0|missing required key \"name\"\n"
		   "/machines/1/ip|#/definitions/machine/properties/ip/format|format|0|"
		   "\"10.0.0.300\" is not a valid IPv4 address\n");
}

TEST(unknown_key_did_you_mean)
{
	const char *schema =
		"{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{"
		"\"recoveryPoint\":{\"type\":\"string\"},\"name\":{},"
		"\"a/b~c\":{}}}";

	CHECK_ERRS(schema, "{\"recoveryPiont\":\"x\"}",
		   "/recoveryPiont|#/additionalProperties|additionalProperties|1|"
		   "unknown key \"recoveryPiont\" (did you mean \"recoveryPoint\"?)\n");
	CHECK_ERRS(schema, "{\"zzzzzzz\":1}",
		   "/zzzzzzz|#/additionalProperties|additionalProperties|1|unknown key \"zzzzzzz\"\n");
	/* Keys are escaped in the instance path (RFC 6901). */
	CHECK_ERRS(schema, "{\"a/b~d\":1}",
		   "/a~1b~0d|#/additionalProperties|additionalProperties|1|"
		   "unknown key \"a/b~d\" (did you mean \"a/b~c\"?)\n");
	/* Long names allow distance 3. */
	CHECK_ERRS(schema, "{\"recovryPiont\":1}",
		   "/recovryPiont|#/additionalProperties|additionalProperties|1|"
		   "unknown key \"recovryPiont\" (did you mean \"recoveryPoint\"?)\n");
}

TEST(property_names)
{
	CHECK_ERRS("{\"propertyNames\":{\"pattern\":\"^[a-z]\"}}", "{\"ok\":1,\"Bad\":2}",
		   "/Bad|#/propertyNames/pattern|pattern|1|"
		   "invalid key \"Bad\": does not match pattern \"^[a-z]\"\n");
	CHECK_ERRS("{\"propertyNames\":false}", "{\"x\":1}",
		   "/x|#/propertyNames|propertyNames|1|unknown key \"x\"\n");
}

TEST(enum_const)
{
	CHECK_ERRS("{\"enum\":[\"latest\",\"latest-processed\",\"latest-app-consistent\"]}",
		   "\"fast\"",
		   "|#/enum|enum|0|\"fast\" is not one of: latest, latest-processed, "
		   "latest-app-consistent\n");
	CHECK_ERRS("{\"enum\":[1,null,\"x\"]}", "2",
		   "|#/enum|enum|0|2 is not one of: 1, null, x\n");
	CHECK_ERRS("{\"const\":\"vm\"}", "\"db\"", "|#/const|const|0|must be \"vm\"\n");
	CHECK_ERRS("{\"const\":1}", "1.0", "");
}

TEST(custom_formats)
{
	CHECK_ERRS("{\"format\":\"dr-duration\"}", "\"5 min\"",
		   "|#/format|format|0|\"5 min\" is not a valid duration "
		   "(examples: 90s, 5m, 1h30m, 2d)\n");
	CHECK_ERRS("{\"format\":\"dr-duration\"}", "\"1h30m\"", "");
	CHECK_ERRS("{\"format\":\"ipv4-cidr\"}", "\"10.0.0.0/33\"",
		   "|#/format|format|0|\"10.0.0.0/33\" is not a valid IPv4 CIDR\n");
	CHECK_ERRS("{\"format\":\"ipv4-cidr\"}", "\"10.20.0.0/16\"", "");
	CHECK_ERRS("{\"format\":\"date-time\"}", "\"2024-02-30T10:00:00Z\"",
		   "|#/format|format|0|\"2024-02-30T10:00:00Z\" is not a valid date-time "
		   "(RFC 3339, e.g. 2024-05-01T12:00:00Z)\n");
	CHECK_ERRS("{\"format\":\"date-time\"}", "\"2024-02-29T10:00:00.5+01:00\"", "");
	/* Unknown formats are annotations; formats apply to strings only. */
	CHECK_ERRS("{\"format\":\"no-such-format\"}", "\"anything\"", "");
	CHECK_ERRS("{\"format\":\"ipv4\"}", "12", "");
	CHECK_ERRS("{\"format\":\"hostname\"}", "\"-bad.example\"",
		   "|#/format|format|0|\"-bad.example\" is not a valid hostname\n");
	CHECK_ERRS("{\"format\":\"email\"}", "\"ops@example.com\"", "");
	CHECK_ERRS("{\"format\":\"uri\"}", "\"https://example.com/a?b#c\"", "");
	CHECK_ERRS("{\"format\":\"regex\"}", "\"^a\\\\Z\"",
		   "|#/format|format|0|\"^a\\\\Z\" is not a supported regular expression\n");
	CHECK_ERRS("{\"format\":\"uri\"}", "\"//example.com\"",
		   "|#/format|format|0|\"//example.com\" is not a valid URI\n");
}

TEST(numbers_and_counts)
{
	CHECK_ERRS("{\"minimum\":1}", "0", "|#/minimum|minimum|0|must be at least 1\n");
	CHECK_ERRS("{\"maximum\":2.5}", "3", "|#/maximum|maximum|0|must be at most 2.5\n");
	CHECK_ERRS("{\"exclusiveMinimum\":0}", "0",
		   "|#/exclusiveMinimum|exclusiveMinimum|0|must be greater than 0\n");
	CHECK_ERRS("{\"exclusiveMaximum\":100}", "100",
		   "|#/exclusiveMaximum|exclusiveMaximum|0|must be less than 100\n");
	CHECK_ERRS("{\"multipleOf\":0.01}", "19.99", "");
	CHECK_ERRS("{\"multipleOf\":0.01}", "19.995",
		   "|#/multipleOf|multipleOf|0|must be a multiple of 0.01\n");
	CHECK_ERRS("{\"multipleOf\":5}", "12", "|#/multipleOf|multipleOf|0|must be a multiple of 5\n");
	CHECK_ERRS("{\"minItems\":1}", "[]", "|#/minItems|minItems|0|must have at least 1 item\n");
	CHECK_ERRS("{\"maxItems\":2}", "[1,2,3]", "|#/maxItems|maxItems|0|must have at most 2 items\n");
	CHECK_ERRS("{\"minProperties\":2}", "{\"a\":1}",
		   "|#/minProperties|minProperties|0|must have at least 2 keys\n");
	CHECK_ERRS("{\"uniqueItems\":true}", "[1,2,3,1.0]",
		   "|#/uniqueItems|uniqueItems|0|items must be unique (items 0 and 3 are equal)\n");
	CHECK_ERRS("{\"pattern\":\"^[a-z]\"}", "\"Abc\"",
		   "|#/pattern|pattern|0|does not match pattern \"^[a-z]\"\n");
	CHECK_ERRS("{\"pattern\":\"^\\\\d+\\\\s\\\\w$\"}", "\"12 x\"", "");
	/* A newline defeats the fast path's "." but not [\s\S]. */
	CHECK_ERRS("{\"pattern\":\"^[\\\\s\\\\S]+$\"}", "\"a\\nb\\u00e9\"", "");
	CHECK_ERRS("{\"pattern\":\"^.+$\"}", "\"a\\nb\"",
		   "|#/pattern|pattern|0|does not match pattern \"^.+$\"\n");
	CHECK_ERRS("{\"contains\":{\"const\":3}}", "[1,2]",
		   "|#/contains|contains|0|must contain at least one matching item\n");
	CHECK_ERRS("{\"dependencies\":{\"a\":[\"b\"]}}", "{\"a\":1}",
		   "|#/dependencies|dependencies|0|key \"b\" is required when \"a\" is present\n");
	CHECK_ERRS("{\"items\":[{}],\"additionalItems\":false}", "[1,2]",
		   "/1|#/additionalItems|additionalItems|0|unexpected item (at most 1 item is allowed)\n");
}

TEST(unique_items_large)
{
	/* More than 16 items takes the hashing path; the reported pair must
	 * be the same as the quadratic scan would give. */
	CHECK_ERRS("{\"uniqueItems\":true}",
		   "[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,{\"a\":[1]},16,17,18,7,{\"a\":[1.0]},3]",
		   "|#/uniqueItems|uniqueItems|0|items must be unique (items 7 and 19 are equal)\n");
	CHECK_ERRS("{\"uniqueItems\":true}",
		   "[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20]", "");
}

TEST(unicode_length)
{
	/* "héllo" is 5 code points but 6 bytes; the emoji is one code point. */
	CHECK_ERRS("{\"maxLength\":5}", "\"h\\u00e9llo\"", "");
	CHECK_ERRS("{\"maxLength\":4}", "\"h\\u00e9llo\"",
		   "|#/maxLength|maxLength|0|must be at most 4 characters long\n");
	CHECK_ERRS("{\"minLength\":2}", "\"\\ud83d\\ude00\"",
		   "|#/minLength|minLength|0|must be at least 2 characters long\n");
	CHECK_ERRS("{\"minLength\":1}", "\"\"",
		   "|#/minLength|minLength|0|must be at least 1 character long\n");
}

TEST(error_message_keyword)
{
	CHECK_ERRS("{\"properties\":{\"rpo\":{\"type\":\"string\",\"pattern\":\"^[0-9]+m$\","
		   "\"errorMessage\":\"rpo must be minutes, like 15m\"}}}",
		   "{\"rpo\":\"15\"}",
		   "/rpo|#/properties/rpo/pattern|pattern|0|rpo must be minutes, like 15m\n");
	/* Valid values never show the message. */
	CHECK_ERRS("{\"type\":\"string\",\"errorMessage\":\"nope\"}", "\"x\"", "");
}

static const char *const alt_schema =
	"{\"type\":\"array\",\"items\":{\"anyOf\":["
	"{\"title\":\"vm step\",\"type\":\"object\",\"required\":[\"kind\",\"vm\"],"
	"\"properties\":{\"kind\":{\"const\":\"vm\"},\"vm\":{\"type\":\"string\"}}},"
	"{\"title\":\"script step\",\"type\":\"object\",\"required\":[\"kind\",\"run\"],"
	"\"properties\":{\"kind\":{\"const\":\"script\"},\"run\":{\"type\":\"string\"}}},"
	"{\"type\":\"string\"}]}}";

TEST(any_of_reporting)
{
	/* The discriminator picks the branch: its errors are reported. */
	CHECK_ERRS(alt_schema, "[{\"kind\":\"vm\",\"vm\":5}]",
		   "/0/vm|#/items/anyOf/0/properties/vm/type|type|0|expected string, got integer 5\n");
	CHECK_ERRS(alt_schema, "[{\"kind\":\"script\"}]",
		   "/0|#/items/anyOf/1/required|required|0|missing required key \"run\"\n");
	/* Nothing tells the branches apart: one summary error. */
	CHECK_ERRS(alt_schema, "[{\"kind\":\"other\"}]",
		   "/0|#/items/anyOf|anyOf|0|does not match any of the allowed forms: "
		   "vm step; script step; string\n");
	CHECK_ERRS(alt_schema, "[{}]",
		   "/0|#/items/anyOf|anyOf|0|does not match any of the allowed forms: "
		   "vm step; script step; string\n");
	/* Only one branch has the right type. */
	CHECK_ERRS("{\"anyOf\":[{\"type\":\"string\",\"minLength\":3},{\"type\":\"integer\"}]}",
		   "\"ab\"", "|#/anyOf/0/minLength|minLength|0|must be at least 3 characters long\n");
	CHECK_ERRS(alt_schema, "[\"x\",{\"kind\":\"vm\",\"vm\":\"a\"}]", "");
}

TEST(one_of_reporting)
{
	CHECK_ERRS("{\"oneOf\":[{\"type\":\"integer\"},{\"minimum\":2,\"title\":\"big\"}]}", "3",
		   "|#/oneOf|oneOf|0|matches more than one of the allowed forms "
		   "(integer and big); exactly one is allowed\n");
	CHECK_ERRS("{\"oneOf\":[{\"type\":\"integer\"},{\"minimum\":2}]}", "1", "");
	CHECK_ERRS("{\"oneOf\":[{\"type\":\"integer\"},{\"type\":\"boolean\"}]}", "null",
		   "|#/oneOf|oneOf|0|does not match any of the allowed forms: integer; boolean\n");
}

TEST(combinators)
{
	CHECK_ERRS("{\"not\":{\"type\":\"null\"}}", "null",
		   "|#/not|not|0|must not match the excluded form\n");
	CHECK_ERRS("{\"if\":{\"properties\":{\"kind\":{\"const\":\"vm\"}}},"
		   "\"then\":{\"required\":[\"size\"]},\"else\":{\"required\":[\"cmd\"]}}",
		   "{\"kind\":\"vm\"}",
		   "|#/then/required|required|0|missing required key \"size\"\n");
	CHECK_ERRS("{\"allOf\":[{\"minimum\":1},{\"maximum\":0}]}", "0.5",
		   "|#/allOf/0/minimum|minimum|0|must be at least 1\n"
		   "|#/allOf/1/maximum|maximum|0|must be at most 0\n");
	CHECK_ERRS("{\"properties\":{\"x\":false}}", "{\"x\":1}",
		   "/x|#/properties|properties|1|key \"x\" is not allowed here\n");
	CHECK_ERRS("false", "1", "|#|false|0|no value is allowed here\n");
}

TEST(refs_and_ids)
{
	/* Recursive reference, pointer escapes, $id base change. */
	CHECK_ERRS("{\"properties\":{\"child\":{\"$ref\":\"#\"},\"n\":{\"type\":\"integer\"}}}",
		   "{\"child\":{\"child\":{\"n\":\"x\"}}}",
		   "/child/child/n|#/properties/n/type|type|0|expected integer, got string \"x\"\n");
	CHECK_ERRS("{\"definitions\":{\"a~b/c%d\":{\"type\":\"null\"}},"
		   "\"$ref\":\"#/definitions/a~0b~1c%25d\"}", "1",
		   "|#/definitions/a~0b~1c%d/type|type|0|expected null, got integer 1\n");
	CHECK_ERRS("{\"$id\":\"http://example.com/root.json\",\"items\":{\"$ref\":\"item.json\"},"
		   "\"definitions\":{\"i\":{\"$id\":\"item.json\",\"type\":\"string\"}}}",
		   "[1]", "/0|#/definitions/i/type|type|0|expected string, got integer 1\n");
	CHECK_ERRS("{\"definitions\":{\"a\":{\"$id\":\"#anchor\",\"type\":\"string\"}},"
		   "\"$ref\":\"#anchor\"}", "1",
		   "|#/definitions/a/type|type|0|expected string, got integer 1\n");
}

TEST(resources)
{
	json_t *remote = json_loads("{\"definitions\":{\"port\":{\"type\":\"integer\","
				    "\"maximum\":65535}}}", 0, NULL);
	json_t *root = json_loads("{\"$ref\":\"http://drplan.invalid/common.json#/definitions/port\"}",
				  0, NULL);
	dr_schema_resource res = { "http://drplan.invalid/common.json", remote };
	dr_schema *s = NULL;
	char *msg = NULL;
	dr_strbuf sb = DR_STRBUF_INIT;
	json_t *inst = json_integer(70000);

	CHECK_INT(dr_schema_compile(root, NULL, &s, &msg), DR_EINVAL);
	CHECK_STR(msg, "cannot resolve $ref \"http://drplan.invalid/common.json#/definitions/port\" "
		  "(unknown document \"http://drplan.invalid/common.json\")");
	free(msg);
	msg = NULL;
	CHECK_INT(dr_schema_compile_with(root, NULL, &res, 1, &s, &msg), 0);
	CHECK_INT(dr_schema_validate(s, inst, collect, &sb), 1);
	CHECK_STR(sb.buf, "|http://drplan.invalid/common.json#/definitions/port/maximum|maximum|0|"
		  "must be at most 65535\n");
	dr_schema_free(s);
	/* The compiled schema holds its own references. */
	json_decref(remote);
	json_decref(root);
	json_decref(inst);
	dr_strbuf_release(&sb);
}

static void check_compile_error(const char *schema_json, const char *expected)
{
	json_t *j = json_loads(schema_json, JSON_DECODE_ANY, NULL);
	dr_schema *s = NULL;
	char *msg = NULL;

	CHECK_INT(dr_schema_compile(j, "", &s, &msg), DR_EINVAL);
	CHECK(s == NULL);
	CHECK_STR(msg, expected);
	free(msg);
	json_decref(j);
}

TEST(compile_errors)
{
	check_compile_error("{\"type\":\"strnig\"}", "#/type: unknown type \"strnig\"");
	check_compile_error("{\"properties\":{\"a\":{\"$ref\":\"#/nope\"}}}",
			    "cannot resolve $ref \"#/nope\"");
	check_compile_error("{\"pattern\":\"(?=a)\"}",
			    "#/pattern: unsupported regular expression \"(?=a)\": "
			    "look-around and named groups are not supported");
	check_compile_error("{\"definitions\":{\"a\":{\"$ref\":\"#/definitions/b\"},"
			    "\"b\":{\"$ref\":\"#/definitions/a\"}},\"$ref\":\"#/definitions/a\"}",
			    "#: $ref cycle");
	check_compile_error("{\"minLength\":-1}", "#/minLength: expected a non-negative integer");
	check_compile_error("[]", "#: a schema must be an object or a boolean");
}

TEST(caps)
{
	dr_schema_options one = { 3, 0 }, loc = { 0, 2 };
	int n = 0;
	char *got;

	got = run_opts("{\"items\":{\"type\":\"string\"}}", "[1,2,3,4,5]", &one, &n);
	CHECK_INT(n, 3);
	CHECK_STR(got, "/0|#/items/type|type|0|expected string, got integer 1\n"
		       "/1|#/items/type|type|0|expected string, got integer 2\n"
		       "/2|#/items/type|type|0|expected string, got integer 3\n");
	free(got);
	got = run_opts("{\"required\":[\"a\",\"b\",\"c\"]}", "{}", &loc, &n);
	CHECK_INT(n, 2);
	CHECK_STR(got, "|#/required|required|0|missing required key \"a\"\n"
		       "|#/required|required|0|missing required key \"b\"\n");
	free(got);
}

TEST(deep_instance)
{
	/* A recursive schema and a very deep instance: an error, no crash. */
	dr_strbuf inst = DR_STRBUF_INIT;
	int i, n = 0;
	char *got;

	for (i = 0; i < 2000; i++)
		dr_strbuf_addch(&inst, '[');
	for (i = 0; i < 2000; i++)
		dr_strbuf_addch(&inst, ']');
	got = run_opts("{\"items\":{\"$ref\":\"#\"}}", inst.buf, NULL, &n);
	CHECK_INT(n, 1);
	CHECK(strstr(got, "nested too deeply to validate") != NULL);
	free(got);
	dr_strbuf_release(&inst);
}

TEST(regex_translation)
{
	dr_strbuf sb = DR_STRBUF_INIT;
	const char *why;

	CHECK_INT(dr_schema_regex_translate("^\\d{2,}[\\w-]*?(?:a|b)\\.$", &sb, &why), 0);
	/* ASCII classes are written out as byte sets. */
	CHECK_STR(sb.buf, "^[0-9]{2,}[0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_"
			  "abcdefghijklmnopqrstuvwxyz-]*(a|b)\\.$");
	dr_strbuf_reset(&sb);
	CHECK_INT(dr_schema_regex_translate("[^\\]a]", &sb, &why), 0);
	CHECK_STR(sb.buf, "[^]a]");
	dr_strbuf_reset(&sb);
	CHECK_INT(dr_schema_regex_translate("[\\s\\S]", &sb, &why), 0);
	CHECK_STR(sb.buf, ".");
	dr_strbuf_reset(&sb);
	CHECK_INT(dr_schema_regex_translate("[^\\S]", &sb, &why), 0);
	CHECK_STR(sb.buf, "[\t\n\v\f\r ]");
	dr_strbuf_reset(&sb);
	CHECK_INT(dr_schema_regex_translate("[a-c--/]", &sb, &why), 0);
	CHECK_STR(sb.buf, "[./abc-]");
	dr_strbuf_reset(&sb);
	/* What regcomp() would expand into gigabytes is refused. */
	CHECK_INT(dr_schema_regex_translate("a++", &sb, &why), DR_EINVAL);
	CHECK_STR(why, "quantifier without anything to repeat");
	CHECK_INT(dr_schema_regex_translate("((a{99}){99}){99}", &sb, &why), DR_EINVAL);
	CHECK_STR(why, "pattern too large once repetitions are expanded");
	CHECK_INT(dr_schema_regex_translate("a{1001}", &sb, &why), DR_EINVAL);
	CHECK_INT(dr_schema_regex_translate("(a|b))", &sb, &why), DR_EINVAL);
	CHECK_STR(why, "unmatched )");
	dr_strbuf_reset(&sb);
	CHECK_INT(dr_schema_regex_translate("(ab{2}|c){100}", &sb, &why), 0);
	dr_strbuf_reset(&sb);
	CHECK_INT(dr_schema_regex_translate("(a)\\1", &sb, &why), DR_EINVAL);
	CHECK_STR(why, "back-references are not supported");
	dr_strbuf_release(&sb);
}

TEST(fast_matcher_agrees_with_regexec)
{
	static const char *const patterns[] = {
		"^[a-z][a-z0-9-]{0,62}$", "a+b", "^\\d{3}$", "x.y", "^$", "[^a-c]+$",
		"\\w\\s\\S", "^a?b*c{2,3}$", "^[\\d.]+$", "ab{0}c", "^.{2}$", "[-a]",
		"^[A-Z_]\\W", "c{2,}$", "\\.", "^[\\s\\S]*?$", "b{1,2}?c",
	};
	static const char *const subjects[] = {
		"", "a", "ab", "abc", "vm-1", "Vm", "123", "12", "1234", "x\ny", "xzy",
		"acc", "abccc", "bcc", "a b", "1.2.3", "ac", "-", "dd", "A!", "_a",
		"ccc", "bbbc", "x.y",
	};
	size_t i, k, simple = 0;

	for (i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++) {
		struct dr_schema_sre *fast = dr_schema_sre_compile(patterns[i]);
		dr_strbuf ere = DR_STRBUF_INIT;
		const char *why;
		regex_t re;

		CHECK_INT(dr_schema_regex_translate(patterns[i], &ere, &why), 0);
		CHECK_INT(regcomp(&re, ere.buf, REG_EXTENDED | REG_NOSUB), 0);
		simple += fast != NULL;
		for (k = 0; fast && k < sizeof(subjects) / sizeof(subjects[0]); k++) {
			int a = dr_schema_sre_match(fast, subjects[k], strlen(subjects[k]));
			int b = !regexec(&re, subjects[k], 0, NULL, 0);

			if (a != b)
				fprintf(stderr, "pattern %s subject \"%s\": fast %d, regexec %d\n",
					patterns[i], subjects[k], a, b);
			CHECK_INT(a, b);
		}
		regfree(&re);
		free(fast);
		dr_strbuf_release(&ere);
	}
	/* Every pattern above is simple enough for the fast path. */
	CHECK_INT(simple, sizeof(patterns) / sizeof(patterns[0]));
	/* Groups and alternation go to regexec. */
	CHECK(dr_schema_sre_compile("(a|b)") == NULL);
}

TEST(uri_resolution)
{
	static const char *const cases[][3] = {
		{ "http://a/b/c/d;p?q", "g", "http://a/b/c/g" },
		{ "http://a/b/c/d;p?q", "../g", "http://a/b/g" },
		{ "http://a/b/c/d;p?q", "/./g", "http://a/g" },
		{ "http://a/b/c/d;p?q", "#s", "http://a/b/c/d;p?q#s" },
		{ "http://a/b/c/d;p?q", "//g", "http://g" },
		{ "http://localhost:1234/", "folder/", "http://localhost:1234/folder/" },
		{ "", "#/definitions/a", "#/definitions/a" },
		{ "urn:example:root", "#x", "urn:example:root#x" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		dr_strbuf sb = DR_STRBUF_INIT;

		dr_schema_uri_resolve(cases[i][0], cases[i][1], &sb);
		CHECK_STR(sb.buf, cases[i][2]);
		dr_strbuf_release(&sb);
	}
}

TEST(deterministic)
{
	const char *schema = "{\"additionalProperties\":false,\"properties\":{\"a\":{},\"b\":{}},"
			     "\"required\":[\"z\"]}";
	char *a = run(schema, "{\"x\":1,\"y\":2,\"a\":1}");
	char *b = run(schema, "{\"x\":1,\"y\":2,\"a\":1}");

	CHECK_STR(a, b);
	CHECK_STR(a, "|#/required|required|0|missing required key \"z\"\n"
		     "/x|#/additionalProperties|additionalProperties|1|unknown key \"x\"\n"
		     "/y|#/additionalProperties|additionalProperties|1|unknown key \"y\"\n");
	free(a);
	free(b);
}

int main(void)
{
	RUN(type_messages);
	RUN(required_and_paths);
	RUN(unknown_key_did_you_mean);
	RUN(property_names);
	RUN(enum_const);
	RUN(custom_formats);
	RUN(numbers_and_counts);
	RUN(unique_items_large);
	RUN(unicode_length);
	RUN(error_message_keyword);
	RUN(any_of_reporting);
	RUN(one_of_reporting);
	RUN(combinators);
	RUN(refs_and_ids);
	RUN(resources);
	RUN(compile_errors);
	RUN(caps);
	RUN(deep_instance);
	RUN(regex_translation);
	RUN(fast_matcher_agrees_with_regexec);
	RUN(uri_resolution);
	RUN(deterministic);
	return test_summary();
}
