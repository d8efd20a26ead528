/*
 * test-ynode-schema.c - validating a YAML tree in place (dr_ynode accessor):
 * the same errors as its jansson copy, and the YAML-only cases pinned
 * (.inf/.nan as strings, 1.0 as an integer, equality across backends).
 * The JSON-Schema-Test-Suite runner also compares both for every case.
 */
#include "core/arena.h"
#include "core/diag.h"
#include "core/error.h"
#include "core/strbuf.h"
#include "plan/ynode-schema.h"
#include "schema/schema.h"

#include "test.h"

#include <stdlib.h>

static void collect(void *ctx, const dr_schema_error *e)
{
	dr_strbuf_addf(ctx, "%s|%s|%s|%d|%s\n", e->instance_path, e->schema_path,
		       e->keyword, e->at_key, e->message);
}

/*
 * Validate yaml through the accessor and through dr_ynode_to_json(); the
 * two renderings must agree. Returns the errors, or a note on failure.
 */
static char *run(const char *schema_json, const char *yaml)
{
	json_t *sj = json_loads(schema_json, JSON_DECODE_ANY, NULL), *copy;
	dr_arena *a = dr_arena_new();
	dr_diags *d = dr_diags_new();
	dr_strbuf x = DR_STRBUF_INIT, y = DR_STRBUF_INIT;
	dr_schema *s = NULL;
	dr_ynode *root = NULL;
	char *msg = NULL, *out;
	int nx, ny;

	if (!sj || dr_schema_compile(sj, "", &s, &msg) ||
	    dr_yaml_load(a, "t.yaml", yaml, strlen(yaml), d, &root)) {
		out = strdup("setup failed");
		goto done;
	}
	copy = dr_ynode_to_json(root);
	nx = dr_schema_validate_ynode(s, root, NULL, collect, &x);
	ny = dr_schema_validate(s, copy, collect, &y);
	json_decref(copy);
	if (nx != ny || strcmp(x.buf ? x.buf : "", y.buf ? y.buf : "")) {
		fprintf(stderr, "ynode:\n%s\njansson:\n%s\n", x.buf, y.buf);
		out = strdup("backends differ");
	} else {
		out = strdup(x.buf ? x.buf : "");
	}
done:
	free(msg);
	dr_schema_free(s);
	json_decref(sj);
	dr_strbuf_release(&x);
	dr_strbuf_release(&y);
	dr_diags_free(d);
	dr_arena_free(a);
	return out;
}

#define CHECK_ERRS(schema, yaml, expected)                                     \
	do {                                                                   \
		char *got_ = run(schema, yaml);                                \
		CHECK_STR(got_, expected);                                     \
		free(got_);                                                    \
	} while (0)

TEST(scalar_types)
{
	const char *sch = "{\"type\": \"object\", \"additionalProperties\": "
			  "{\"type\": \"integer\"}}";

	CHECK_ERRS(sch, "a: 1\nb: 1.0\nc: 1.5\nd: .inf\ne: -.NaN\nf: '1'\ng: true\n"
			"h: ~\ni: [1]\nj: {k: 1}\n",
		   "/c|#/additionalProperties/type|type|0|expected integer, got number 1.5\n"
		   "/d|#/additionalProperties/type|type|0|expected integer, got string \".inf\"\n"
		   "/e|#/additionalProperties/type|type|0|expected integer, got string \"-.NaN\"\n"
		   "/f|#/additionalProperties/type|type|0|expected integer, got string \"1\"\n"
		   "/g|#/additionalProperties/type|type|0|expected integer, got boolean true\n"
		   "/h|#/additionalProperties/type|type|0|expected integer, got null\n"
		   "/i|#/additionalProperties/type|type|0|expected integer, got array\n"
		   "/j|#/additionalProperties/type|type|0|expected integer, got object\n");
}

TEST(equality)
{
	CHECK_ERRS("{\"uniqueItems\": true}", "[1, 'a', 1.0]",
		   "|#/uniqueItems|uniqueItems|0|items must be unique (items 0 and 2 are equal)\n");
	CHECK_ERRS("{\"uniqueItems\": true}", "[{a: 1, b: [x]}, {b: [x], a: 1.0}]",
		   "|#/uniqueItems|uniqueItems|0|items must be unique (items 0 and 1 are equal)\n");
	CHECK_ERRS("{\"uniqueItems\": true}",
		   "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 5.0]",
		   "|#/uniqueItems|uniqueItems|0|items must be unique (items 5 and 18 are equal)\n");
	CHECK_ERRS("{\"uniqueItems\": true}", "[true, false, 1, '1', {}, []]", "");
	CHECK_ERRS("{\"const\": {\"a\": [1, true, null]}}", "{a: [1.0, true, ~]}", "");
	CHECK_ERRS("{\"const\": {\"a\": [1, true, null]}}", "{a: [1, false, ~]}",
		   "|#/const|const|0|must be {\"a\":[1,true,null]}\n");
	CHECK_ERRS("{\"enum\": [\"inf\", 2, \".inf\"]}", ".inf", "");
	CHECK_ERRS("{\"enum\": [{\"b\": 1, \"a\": 2}, [1]]}", "{z: 1, a: 2}",
		   "|#/enum|enum|0|{\"a\":2,\"z\":1} is not one of: {\"a\":2,\"b\":1}, [1]\n");
}

TEST(objects_in_file_order)
{
	const char *sch = "{\"properties\": {\"name\": {\"type\": \"string\"}}, "
			  "\"required\": [\"name\", \"id\"], "
			  "\"additionalProperties\": false}";

	CHECK_ERRS(sch, "zeta: 1\nnmae: x\nalpha: 2\n",
		   "|#/required|required|0|missing required key \"id\"\n"
		   "/zeta|#/additionalProperties|additionalProperties|1|unknown key \"zeta\"\n"
		   "/nmae|#/additionalProperties|additionalProperties|1|unknown key \"nmae\" "
		   "(did you mean \"name\"? it is required)\n"
		   "/alpha|#/additionalProperties|additionalProperties|1|unknown key \"alpha\"\n");
	/* A misspelt key that is not missing is only unknown. */
	CHECK_ERRS(sch, "name: a\nnmae: x\n",
		   "|#/required|required|0|missing required key \"id\"\n"
		   "/nmae|#/additionalProperties|additionalProperties|1|unknown key \"nmae\" "
		   "(did you mean \"name\"?)\n");
	CHECK_ERRS("{\"propertyNames\": {\"pattern\": \"^[a-z]+$\"}}", "ok: 1\nNo: 2\n",
		   "/No|#/propertyNames/pattern|pattern|1|invalid key \"No\": does not "
		   "match pattern \"^[a-z]+$\"\n");
	CHECK_ERRS("{\"dependencies\": {\"a\": [\"b\"]}}", "a: 1\n",
		   "|#/dependencies|dependencies|0|key \"b\" is required when \"a\" is present\n");
}

TEST(numbers_and_alternatives)
{
	CHECK_ERRS("{\"minimum\": 2, \"multipleOf\": 0.5}", "1.25",
		   "|#/minimum|minimum|0|must be at least 2\n"
		   "|#/multipleOf|multipleOf|0|must be a multiple of 0.5\n");
	CHECK_ERRS("{\"oneOf\": [{\"properties\": {\"kind\": {\"const\": \"vm\"}, "
		   "\"n\": {\"type\": \"integer\"}}}, {\"properties\": {\"kind\": "
		   "{\"const\": \"script\"}}}]}",
		   "{kind: vm, n: x}",
		   "/n|#/oneOf/0/properties/n/type|type|0|expected integer, got string \"x\"\n");
}

TEST(null_root_and_bad_args)
{
	json_t *sj = json_loads("{\"type\": \"string\"}", 0, NULL);
	dr_schema *s = NULL;

	CHECK_INT(dr_schema_compile(sj, "", &s, NULL), 0);
	CHECK_INT(dr_schema_validate_ynode(s, NULL, NULL, NULL, NULL), DR_EINVAL);
	CHECK_INT(dr_schema_validate_any(s, NULL, sj, NULL, NULL, NULL), DR_EINVAL);
	dr_schema_free(s);
	json_decref(sj);
	CHECK_ERRS("{\"type\": \"string\"}", "", "|#/type|type|0|expected string, got null\n");
}

int main(void)
{
	RUN(scalar_types);
	RUN(equality);
	RUN(objects_in_file_order);
	RUN(numbers_and_alternatives);
	RUN(null_root_and_bad_args);
	return test_summary();
}
