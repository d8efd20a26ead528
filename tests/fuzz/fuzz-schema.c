/*
 * fuzz-schema.c - libFuzzer target for the schema validator.
 *
 * The input is parsed as JSON and validated against a fixed schema that
 * uses most keywords (the plan schema is not written yet). When the input
 * is itself an object or a boolean it is also compiled as a schema and
 * the input validated against itself, which exercises $ref resolution,
 * URI handling and the regular expression translation on hostile input.
 * Every error's strings are read, so ASan sees bad pointers. An input of
 * the form ["pattern", "subject"] checks that the fast matcher for simple
 * patterns agrees with regexec() on the translated pattern.
 */
#include "schema/schema.h"
#include "schema/schema-int.h"

#include <jansson.h>
#include <regex.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char schema_text[] =
	"{\"$id\":\"http://drplan.invalid/fuzz.json\","
	"\"type\":\"object\",\"required\":[\"name\",\"machines\"],"
	"\"additionalProperties\":false,"
	"\"propertyNames\":{\"pattern\":\"^[a-zA-Z$][a-zA-Z0-9_-]*$\",\"maxLength\":40},"
	"\"properties\":{"
	"\"name\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":63,"
	"\"pattern\":\"^[a-z][a-z0-9-]*$\",\"errorMessage\":\"bad plan name\"},"
	"\"version\":{\"const\":1},"
	"\"rpo\":{\"type\":\"string\",\"format\":\"dr-duration\"},"
	"\"when\":{\"type\":\"string\",\"format\":\"date-time\"},"
	"\"contact\":{\"type\":\"string\",\"format\":\"email\"},"
	"\"site\":{\"type\":\"string\",\"format\":\"uri\"},"
	"\"host\":{\"type\":\"string\",\"format\":\"hostname\"},"
	"\"network\":{\"type\":\"string\",\"format\":\"ipv4-cidr\"},"
	"\"ratio\":{\"type\":\"number\",\"exclusiveMinimum\":0,\"exclusiveMaximum\":1,"
	"\"multipleOf\":0.05},"
	"\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\"},\"uniqueItems\":true,"
	"\"maxItems\":20,\"contains\":{\"const\":\"prod\"}},"
	"\"pair\":{\"type\":\"array\",\"items\":[{\"type\":\"integer\"},{\"type\":\"string\"}],"
	"\"additionalItems\":false,\"minItems\":1},"
	"\"labels\":{\"type\":\"object\",\"maxProperties\":8,\"minProperties\":1,"
	"\"patternProperties\":{\"^x-\":{\"type\":\"string\"},\"\\\\d+\":{\"type\":\"integer\"}},"
	"\"additionalProperties\":{\"type\":[\"string\",\"null\"]},"
	"\"dependencies\":{\"a\":[\"b\"],\"c\":{\"required\":[\"d\"]}}},"
	"\"machines\":{\"type\":\"array\",\"minItems\":1,"
	"\"items\":{\"$ref\":\"#/definitions/machine\"}},"
	"\"steps\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/definitions/step\"}}},"
	"\"definitions\":{"
	"\"machine\":{\"type\":\"object\",\"required\":[\"name\",\"ip\"],"
	"\"additionalProperties\":false,\"properties\":{"
	"\"name\":{\"type\":\"string\"},\"ip\":{\"type\":\"string\",\"format\":\"ipv4\"},"
	"\"tier\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":9},"
	"\"recoveryPoint\":{\"enum\":[\"latest\",\"latest-processed\",\"latest-app-consistent\"]},"
	"\"children\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/definitions/machine\"}}},"
	"\"if\":{\"properties\":{\"tier\":{\"const\":0}}},"
	"\"then\":{\"required\":[\"recoveryPoint\"]},\"else\":{\"not\":{\"required\":[\"zz\"]}}},"
	"\"step\":{\"oneOf\":["
	"{\"title\":\"vm\",\"type\":\"object\",\"required\":[\"kind\",\"vm\"],"
	"\"properties\":{\"kind\":{\"const\":\"vm\"},\"vm\":{\"type\":\"string\"}}},"
	"{\"title\":\"wait\",\"type\":\"object\",\"required\":[\"kind\",\"for\"],"
	"\"properties\":{\"kind\":{\"const\":\"wait\"},\"for\":{\"format\":\"dr-duration\"}}},"
	"{\"type\":\"string\",\"anyOf\":[{\"pattern\":\"^run \"},{\"pattern\":\"^echo\\\\s\"}]}"
	"]}}}";

static dr_schema *fixed;

static void touch(void *ctx, const dr_schema_error *e)
{
	size_t *sum = ctx;

	*sum += strlen(e->instance_path) + strlen(e->schema_path) + strlen(e->keyword) +
		strlen(e->message) + (size_t)e->at_key;
}

static void differential(const json_t *pair)
{
	const char *pat = json_string_value(json_array_get(pair, 0));
	const char *subj = json_string_value(json_array_get(pair, 1));
	struct dr_schema_sre *fast;
	dr_strbuf ere = DR_STRBUF_INIT;
	const char *why;
	regex_t re;

	if (!pat || !subj)
		return;
	fast = dr_schema_sre_compile(pat);
	if (fast && !dr_schema_regex_translate(pat, &ere, &why) &&
	    !regcomp(&re, ere.buf, REG_EXTENDED | REG_NOSUB)) {
		int a = dr_schema_sre_match(fast, subj, strlen(subj));

		if (a >= 0 && a != !regexec(&re, subj, 0, NULL, 0))
			abort(); /* the two matchers disagree */
		regfree(&re);
	}
	free(fast);
	dr_strbuf_release(&ere);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *inst;
	size_t sum = 0;

	if (!fixed) {
		json_t *j = json_loads(schema_text, 0, NULL);
		char *msg = NULL;

		if (!j || dr_schema_compile(j, "", &fixed, &msg))
			abort(); /* the embedded schema is broken */
		json_decref(j);
	}
	inst = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
	if (!inst)
		return 0;
	if (dr_schema_validate(fixed, inst, touch, &sum) < 0)
		abort();
	if (json_is_array(inst) && json_array_size(inst) == 2)
		differential(inst);
	if (json_is_object(inst) || json_is_boolean(inst)) {
		dr_schema *self = NULL;
		char *msg = NULL;
		dr_schema_options opts = { 20, 3 };

		if (!dr_schema_compile(inst, "http://drplan.invalid/input.json", &self, &msg)) {
			if (dr_schema_validate_opts(self, inst, &opts, touch, &sum) < 0)
				abort();
		} else if (!msg || !*msg) {
			abort(); /* a compile failure must explain itself */
		}
		free(msg);
		dr_schema_free(self);
	}
	json_decref(inst);
	return 0;
}
