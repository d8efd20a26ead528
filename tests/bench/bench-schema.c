/*
 * bench-schema.c - how fast the schema validator checks a large plan.
 *
 * Builds 10,000 machine objects of 30 properties each (about the size of a
 * 4 MB YAML plan) and validates them against a plan-like schema that uses
 * $ref, required, additionalProperties, enum, pattern, formats, numeric
 * bounds and nested objects. Prints the best and median of several runs,
 * in thread CPU time, next to a plain traversal of the same value (the
 * floor set by memory access to jansson's tree).
 * Not a ctest: run it by hand, `build/tests/bench-schema [machines] [runs]`.
 */
#include "schema/schema.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const schema_text =
	"{\"type\":\"object\",\"required\":[\"machines\"],\"additionalProperties\":false,"
	"\"properties\":{\"machines\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/definitions/machine\"}}},"
	"\"definitions\":{"
	"\"name\":{\"type\":\"string\",\"pattern\":\"^[a-z][a-z0-9-]{0,62}$\"},"
	"\"machine\":{\"type\":\"object\",\"additionalProperties\":false,"
	"\"required\":[\"name\",\"ip\",\"tier\",\"rpo\",\"size\"],"
	"\"properties\":{"
	"\"name\":{\"$ref\":\"#/definitions/name\"},"
	"\"ip\":{\"type\":\"string\",\"format\":\"ipv4\"},"
	"\"subnet\":{\"type\":\"string\",\"format\":\"ipv4-cidr\"},"
	"\"tier\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":9},"
	"\"rpo\":{\"type\":\"string\",\"format\":\"dr-duration\"},"
	"\"rto\":{\"type\":\"string\",\"format\":\"dr-duration\"},"
	"\"size\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":64},"
	"\"os\":{\"enum\":[\"linux\",\"windows\"]},"
	"\"recoveryPoint\":{\"enum\":[\"latest\",\"latest-processed\",\"latest-app-consistent\"]},"
	"\"group\":{\"type\":\"integer\",\"minimum\":1},"
	"\"weight\":{\"type\":\"number\",\"exclusiveMinimum\":0},"
	"\"critical\":{\"type\":\"boolean\"},"
	"\"owner\":{\"type\":\"string\"},"
	"\"team\":{\"type\":\"string\"},"
	"\"zone\":{\"type\":\"string\",\"enum\":[\"1\",\"2\",\"3\"]},"
	"\"disks\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":64},"
	"\"memoryGb\":{\"type\":\"integer\",\"multipleOf\":2},"
	"\"cpus\":{\"type\":\"integer\",\"minimum\":1},"
	"\"nics\":{\"type\":\"integer\",\"minimum\":1},"
	"\"dependsOn\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/definitions/name\"},\"uniqueItems\":true},"
	"\"tags\":{\"type\":\"object\",\"additionalProperties\":{\"type\":\"string\"}},"
	"\"preScript\":{\"type\":\"string\"},"
	"\"postScript\":{\"type\":\"string\"},"
	"\"timeout\":{\"type\":\"string\",\"format\":\"dr-duration\"},"
	"\"retries\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":10},"
	"\"shutdown\":{\"type\":\"boolean\"},"
	"\"sourceRegion\":{\"type\":\"string\"},"
	"\"targetRegion\":{\"type\":\"string\"},"
	"\"resourceGroup\":{\"type\":\"string\"},"
	"\"notes\":{\"type\":\"string\",\"maxLength\":1000},"
	"\"health\":{\"type\":\"object\",\"required\":[\"port\"],\"properties\":{"
	"\"port\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":65535},"
	"\"path\":{\"type\":\"string\"}}}"
	"}}}}";

static json_t *make_machine(size_t i, int bad)
{
	char buf[64];
	json_t *m = json_object(), *tags = json_object(), *deps = json_array(),
	       *health = json_object();

	snprintf(buf, sizeof(buf), "vm-%zu", i);
	json_object_set_new(m, "name", json_string(buf));
	snprintf(buf, sizeof(buf), "10.%zu.%zu.%s", (i >> 16) & 255, (i >> 8) & 255,
		 bad ? "300" : "7");
	json_object_set_new(m, "ip", json_string(buf));
	json_object_set_new(m, "subnet", json_string("10.20.0.0/16"));
	json_object_set_new(m, "tier", json_integer((json_int_t)(i % 10)));
	json_object_set_new(m, "rpo", json_string("5m"));
	json_object_set_new(m, "rto", json_string("1h30m"));
	json_object_set_new(m, "size", json_string("Standard_D4s_v5"));
	json_object_set_new(m, "os", json_string(i % 3 ? "linux" : "windows"));
	json_object_set_new(m, "recoveryPoint", json_string("latest-processed"));
	json_object_set_new(m, "group", json_integer(1 + (json_int_t)(i % 7)));
	json_object_set_new(m, "weight", json_real(1.5));
	json_object_set_new(m, "critical", json_boolean(i % 2));
	json_object_set_new(m, "owner", json_string("ops@example.com"));
	json_object_set_new(m, "team", json_string("platform"));
	json_object_set_new(m, "zone", json_string("2"));
	json_object_set_new(m, "disks", json_integer(4));
	json_object_set_new(m, "memoryGb", json_integer(16));
	json_object_set_new(m, "cpus", json_integer(4));
	json_object_set_new(m, "nics", json_integer(1));
	if (i) {
		snprintf(buf, sizeof(buf), "vm-%zu", i - 1);
		json_array_append_new(deps, json_string(buf));
	}
	json_object_set_new(m, "dependsOn", deps);
	json_object_set_new(tags, "env", json_string("prod"));
	json_object_set_new(tags, "app", json_string("billing"));
	json_object_set_new(m, "tags", tags);
	json_object_set_new(m, "preScript", json_string("scripts/pre.lua"));
	json_object_set_new(m, "postScript", json_string("scripts/post.lua"));
	json_object_set_new(m, "timeout", json_string("45s"));
	json_object_set_new(m, "retries", json_integer(3));
	json_object_set_new(m, "shutdown", json_true());
	json_object_set_new(m, "sourceRegion", json_string("westeurope"));
	json_object_set_new(m, "targetRegion", json_string("northeurope"));
	json_object_set_new(m, "resourceGroup", json_string("rg-dr-target"));
	json_object_set_new(m, "notes", json_string("restart the cache after failover"));
	json_object_set_new(health, "port", json_integer(8080));
	json_object_set_new(health, "path", json_string("/healthz"));
	json_object_set_new(m, "health", health);
	return m;
}

static double now_ms(void)
{
	struct timespec ts;

	/* Thread CPU time: other processes on a busy machine do not count. */
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void count_error(void *ctx, const dr_schema_error *e)
{
	(void)e;
	(*(size_t *)ctx)++;
}

/* The floor: visit every value and read its type and string bytes. */
static size_t walk(const json_t *j)
{
	size_t sum = (size_t)json_typeof(j);
	const char *k;
	json_t *v;
	size_t i;

	if (json_is_object(j)) {
		json_object_foreach((json_t *)j, k, v)
			sum += walk(v) + (unsigned char)k[0];
	} else if (json_is_array(j)) {
		json_array_foreach(j, i, v)
			sum += walk(v);
	} else if (json_is_string(j)) {
		sum += (unsigned char)json_string_value(j)[0];
	}
	return sum;
}

static void bench_walk(const json_t *doc, int runs)
{
	double best = 1e9;
	size_t sum = 0;
	int r;

	for (r = 0; r < runs; r++) {
		double t0 = now_ms(), t;

		sum += walk(doc);
		t = now_ms() - t0;
		if (t < best)
			best = t;
	}
	printf("%-34s best %7.2f ms  (checksum %zu)\n", "plain traversal (the floor)", best,
	       sum % 1000);
}

static void bench(const char *label, const dr_schema *s, const json_t *doc, int runs)
{
	double *t = calloc((size_t)runs, sizeof(*t));
	int r, n = 0;
	size_t seen = 0;

	for (r = 0; r < runs; r++) {
		double t0 = now_ms();

		n = dr_schema_validate(s, doc, count_error, &seen);
		t[r] = now_ms() - t0;
	}
	qsort(t, (size_t)runs, sizeof(*t), cmp_double);
	printf("%-34s best %7.2f ms  median %7.2f ms  (%d errors)\n", label, t[0],
	       t[runs / 2], n);
	free(t);
}

int main(int argc, char **argv)
{
	size_t machines = argc > 1 ? strtoul(argv[1], NULL, 10) : 10000, i, props = 0;
	int runs = argc > 2 ? atoi(argv[2]) : 15;
	json_t *schema_json = json_loads(schema_text, 0, NULL);
	json_t *good = json_object(), *bad = json_object();
	json_t *ga = json_array(), *ba = json_array();
	dr_schema *s = NULL;
	char *msg = NULL, *dump;
	double t0;

	if (!schema_json || runs < 1)
		return 2;
	t0 = now_ms();
	if (dr_schema_compile(schema_json, "", &s, &msg)) {
		fprintf(stderr, "compile: %s\n", msg);
		return 1;
	}
	printf("compile                            %7.3f ms\n", now_ms() - t0);
	for (i = 0; i < machines; i++) {
		json_t *m = make_machine(i, 0);

		props += json_object_size(m);
		json_array_append_new(ga, m);
		json_array_append_new(ba, make_machine(i, i % 100 == 0));
	}
	json_object_set_new(good, "machines", ga);
	json_object_set_new(bad, "machines", ba);
	dump = json_dumps(good, JSON_COMPACT);
	printf("instance: %zu machines, %zu properties, %zu bytes of JSON\n", machines,
	       props, strlen(dump));
	free(dump);
	bench_walk(good, runs);
	bench("validate (valid)", s, good, runs);
	bench("validate (1% bad ip, cap 100)", s, bad, runs);
	dr_schema_free(s);
	json_decref(schema_json);
	json_decref(good);
	json_decref(bad);
	return 0;
}
