/*
 * test-schema-split.c - a big array validated in two halves on two threads
 * (dr_schema_set_split_min) gives the very errors of one thread, in the
 * same order, also when the caps on errors cut the list short and when an
 * earlier keyword left errors on the same items.
 */
#include "core/arena.h"
#include "core/diag.h"
#include "core/strbuf.h"
#include "plan/ynode-schema.h"
#include "schema/schema.h"

#include "test.h"

#include <stdint.h>
#include <stdlib.h>

static void collect(void *ctx, const dr_schema_error *e)
{
	dr_strbuf_addf(ctx, "%s|%s|%s|%d|%s\n", e->instance_path, e->schema_path,
		       e->keyword, e->at_key, e->message);
}

/* Errors of instance against schema as text, with split_min set. */
static char *errors(const char *schema, const json_t *inst, size_t split_min,
		    size_t max_errors, size_t per_loc, int *count)
{
	json_t *sj = json_loads(schema, 0, NULL);
	dr_schema_options o = { max_errors, per_loc };
	dr_strbuf sb = DR_STRBUF_INIT;
	dr_schema *s = NULL;
	char *msg = NULL;
	size_t old;

	if (!sj || dr_schema_compile(sj, "", &s, &msg)) {
		fprintf(stderr, "schema does not compile: %s\n", msg ? msg : "?");
		free(msg);
		json_decref(sj);
		*count = -1;
		return strdup("");
	}
	old = dr_schema_set_split_min(split_min);
	*count = dr_schema_validate_opts(s, inst, &o, collect, &sb);
	dr_schema_set_split_min(old);
	dr_schema_free(s);
	json_decref(sj);
	return dr_strbuf_detach(&sb, NULL);
}

/*
 * n items {"a": i, "b": "x"}; items listed in bad get "a": "no" (a type
 * error), in extra an unknown key "c" as well.
 */
static json_t *items(size_t n, const size_t *bad, size_t nbad,
		     const size_t *extra, size_t nextra)
{
	json_t *arr = json_array();
	size_t i, k;

	for (i = 0; i < n; i++) {
		json_t *o = json_pack("{s:I,s:s}", "a", (json_int_t)i, "b", "x");

		for (k = 0; k < nbad; k++)
			if (bad[k] == i)
				json_object_set_new(o, "a", json_string("no"));
		for (k = 0; k < nextra; k++)
			if (extra[k] == i)
				json_object_set_new(o, "c", json_true());
		json_array_append_new(arr, o);
	}
	return arr;
}

static const char item_schema[] =
	"{\"type\":\"array\",\"items\":{\"type\":\"object\","
	"\"properties\":{\"a\":{\"type\":\"integer\"},\"b\":{\"type\":\"string\"}},"
	"\"additionalProperties\":false}}";

/* Split at 2 and never: the same errors; returns the one-thread list. */
static char *both(const char *schema, const json_t *inst, size_t max_errors,
		  size_t per_loc, int *count)
{
	int n1, n2;
	char *one = errors(schema, inst, SIZE_MAX, max_errors, per_loc, &n1);
	char *two = errors(schema, inst, 2, max_errors, per_loc, &n2);

	CHECK_INT(n2, n1);
	CHECK_STR(two, one);
	free(two);
	*count = n1;
	return one;
}

TEST(errors_in_both_halves)
{
	static const size_t bad[] = { 1, 7, 12, 19 }, extra[] = { 7, 15 };
	json_t *inst = items(20, bad, 4, extra, 2);
	int n;
	char *e = both(item_schema, inst, 0, 0, &n);

	CHECK_INT(n, 6);
	CHECK_STR(e,
		  "/1/a|#/items/properties/a/type|type|0|expected integer, got string \"no\"\n"
		  "/7/a|#/items/properties/a/type|type|0|expected integer, got string \"no\"\n"
		  "/7/c|#/items/additionalProperties|additionalProperties|1|unknown key \"c\"\n"
		  "/12/a|#/items/properties/a/type|type|0|expected integer, got string \"no\"\n"
		  "/15/c|#/items/additionalProperties|additionalProperties|1|unknown key \"c\"\n"
		  "/19/a|#/items/properties/a/type|type|0|expected integer, got string \"no\"\n");
	free(e);
	json_decref(inst);
}

/* max_errors reached in the first half, in the second, or just not. */
TEST(error_cap)
{
	static const size_t bad[] = { 0, 2, 4, 11, 13, 15, 17 };
	json_t *inst = items(18, bad, 7, NULL, 0);
	size_t max;

	for (max = 1; max <= 8; max++) {
		int n;
		char *e = both(item_schema, inst, max, 0, &n);

		CHECK_INT(n, max < 7 ? (int)max : 7);
		free(e);
	}
	json_decref(inst);
}

/*
 * allOf checks the items twice: the second pass's first error repeats the
 * path of the first pass's last one, and the per-location cap counts the
 * run of equal paths across them.
 */
TEST(per_location_cap_across_passes)
{
	static const char schema[] =
		"{\"allOf\":[{\"items\":{\"type\":\"integer\"}},"
		"{\"items\":{\"type\":\"integer\",\"minimum\":0}},"
		"{\"items\":{\"not\":{\"type\":\"string\"}}}]}";
	json_t *inst = json_pack("[i,i,i,i,i,i,i,s]", 1, 2, 3, 4, 5, 6, 7, "z");
	size_t per;

	for (per = 1; per <= 3; per++) {
		int n;
		char *e = both(schema, inst, 0, per, &n);

		CHECK_INT(n, (int)per);
		free(e);
	}
	json_decref(inst);
}

/*
 * The same with errorMessage, which takes the schema path of the first
 * error it replaces: here the first pass's /7/a makes the second pass drop
 * its own /7/a, so the replaced error is /7/b's.
 */
TEST(per_location_cap_and_error_message)
{
	static const char schema[] =
		"{\"allOf\":[{\"items\":{\"properties\":{\"a\":{\"type\":\"integer\"}}}},"
		"{\"items\":{\"errorMessage\":\"bad item\",\"properties\":"
		"{\"a\":{\"type\":\"number\"},\"b\":{\"type\":\"string\"}}}}]}";
	json_t *inst = json_pack("[{si},{si},{si},{si},{si},{si},{si},{sssi}]",
				 "a", 1, "a", 2, "a", 3, "a", 4, "a", 5, "a", 6,
				 "a", 7, "a", "x", "b", 5);
	int n;
	char *e = both(schema, inst, 0, 1, &n);

	CHECK_INT(n, 2);
	CHECK_STR(e, "/7/a|#/allOf/0/items/properties/a/type|type|0|"
		     "expected integer, got string \"x\"\n"
		     "/7|#/allOf/1/items/properties/b/type|type|0|bad item\n");
	free(e);
	json_decref(inst);
}

/* errorMessage replaces an item's errors, also near the cap. */
TEST(error_message)
{
	static const char schema[] =
		"{\"items\":{\"type\":\"object\",\"errorMessage\":\"bad item\","
		"\"properties\":{\"a\":{\"type\":\"integer\"},\"c\":false}}}";
	static const size_t bad[] = { 3, 9, 14 }, extra[] = { 3, 10 };
	json_t *inst = items(16, bad, 3, extra, 2);
	size_t max;

	for (max = 1; max <= 5; max++) {
		int n;
		char *e = both(schema, inst, max, 0, &n);

		CHECK_INT(n, max < 4 ? (int)max : 4);
		if (max == 5)
			CHECK_STR(e, "/3|#/items/properties/a/type|type|0|bad item\n"
				     "/9|#/items/properties/a/type|type|0|bad item\n"
				     "/10|#/items/properties|properties|0|bad item\n"
				     "/14|#/items/properties/a/type|type|0|bad item\n");
		free(e);
	}
	json_decref(inst);
}

/* A valid array, and arrays nested in the items (split once, at the top). */
TEST(valid_and_nested)
{
	static const char schema[] =
		"{\"items\":{\"items\":{\"type\":\"integer\"}}}";
	json_t *inst = json_array();
	size_t i, k;
	int n;
	char *e;

	for (i = 0; i < 30; i++) {
		json_t *row = json_array();

		for (k = 0; k < 30; k++)
			json_array_append_new(row, i == 20 && k == 25 ?
						   json_null() : json_integer((json_int_t)k));
		json_array_append_new(inst, row);
	}
	e = both(schema, inst, 0, 0, &n);
	CHECK_INT(n, 1);
	CHECK_STR(e, "/20/25|#/items/items/type|type|0|expected integer, got null\n");
	free(e);
	json_array_set_new(json_array_get(inst, 20), 25, json_integer(1));
	e = both(schema, inst, 0, 0, &n);
	CHECK_INT(n, 0);
	CHECK_STR(e, "");
	free(e);
	json_decref(inst);
}

/* The YAML tree's accessor, as plans are validated. */
TEST(ynode_tree)
{
	static const char yaml[] =
		"- {a: 1, b: x}\n- {a: no, b: x}\n- {a: 3, b: x}\n"
		"- {a: 4, b: x, c: 1}\n- {a: 5, b: 7}\n";
	json_t *sj = json_loads(item_schema, 0, NULL);
	dr_arena *a = dr_arena_new();
	dr_diags *d = dr_diags_new();
	dr_strbuf one = DR_STRBUF_INIT, two = DR_STRBUF_INIT;
	dr_schema *s = NULL;
	dr_ynode *root = NULL;
	size_t old;
	int n1, n2;

	CHECK(!dr_schema_compile(sj, "", &s, NULL));
	CHECK(!dr_yaml_load(a, "t.yaml", yaml, strlen(yaml), d, &root));
	old = dr_schema_set_split_min(SIZE_MAX);
	n1 = dr_schema_validate_ynode(s, root, NULL, collect, &one);
	dr_schema_set_split_min(2);
	n2 = dr_schema_validate_ynode(s, root, NULL, collect, &two);
	dr_schema_set_split_min(old);
	CHECK_INT(n1, 3);
	CHECK_INT(n2, 3);
	CHECK_STR(two.buf, one.buf);
	CHECK_STR(one.buf,
		  "/1/a|#/items/properties/a/type|type|0|expected integer, got string \"no\"\n"
		  "/3/c|#/items/additionalProperties|additionalProperties|1|unknown key \"c\"\n"
		  "/4/b|#/items/properties/b/type|type|0|expected string, got integer 7\n");
	dr_strbuf_release(&one);
	dr_strbuf_release(&two);
	dr_schema_free(s);
	json_decref(sj);
	dr_diags_free(d);
	dr_arena_free(a);
}

int main(void)
{
	RUN(errors_in_both_halves);
	RUN(error_cap);
	RUN(per_location_cap_across_passes);
	RUN(per_location_cap_and_error_message);
	RUN(error_message);
	RUN(valid_and_nested);
	RUN(ynode_tree);
	return test_summary();
}
