/*
 * run-suite.c - run the official JSON-Schema-Test-Suite (draft-07) against
 * the schema validator.
 *
 * Usage: run-suite [SUITE_DIR [METASCHEMA]]
 * SUITE_DIR defaults to /usr/share/json-schema-test-suite (Debian package
 * json-schema-test-suite). The documents refRemote.json fetches from
 * http://localhost:1234/ are served from SUITE_DIR/remotes through the
 * resource registry; the draft-07 meta-schema comes from METASCHEMA.
 * Every case of the files in tests/draft7 must pass; a few optional files
 * (the formats drplan asserts, ECMA regex) are run for information only.
 *
 * Every case is also read back as YAML (dr_yaml_load of the JSON text) and
 * validated through the dr_ynode accessor: the errors (paths, keywords,
 * messages, at_key) must equal those of the jansson value, in order.
 */
#include "core/arena.h"
#include "core/diag.h"
#include "core/error.h"
#include "core/strbuf.h"
#include "plan/ynode-schema.h"
#include "schema/schema.h"

#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* snprintf that gives up on paths too long to matter. */
#define JOIN(buf, ...)                                                         \
	do {                                                                   \
		if ((size_t)snprintf(buf, sizeof(buf), __VA_ARGS__) >= sizeof(buf)) { \
			fprintf(stderr, "run-suite: path too long\n");          \
			exit(2);                                               \
		}                                                              \
	} while (0)

#ifndef DR_SUITE_METASCHEMA
#define DR_SUITE_METASCHEMA "tests/schema-suite/draft-07-schema.json"
#endif

/* Cases that cannot pass, with the reason. Empty: all pass. */
static const struct { const char *file, *group, *test, *why; } skips[] = {
	{ NULL, NULL, NULL, NULL },
};

static dr_schema_resource *res;
static size_t nres, ares;

static void add_resource(const char *uri, json_t *doc)
{
	if (nres == ares) {
		ares = ares ? ares * 2 : 16;
		res = realloc(res, ares * sizeof(*res));
	}
	res[nres].uri = strdup(uri);
	res[nres].doc = doc;
	nres++;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted list of entries of dir (without . and ..). */
static char **list_dir(const char *dir, size_t *n)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **v = NULL;
	size_t a = 0;

	*n = 0;
	if (!d)
		return NULL;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		if (*n == a) {
			a = a ? a * 2 : 32;
			v = realloc(v, a * sizeof(*v));
		}
		v[(*n)++] = strdup(e->d_name);
	}
	closedir(d);
	qsort(v, *n, sizeof(*v), cmp_str);
	return v;
}

static void load_remotes(const char *dir, const char *rel)
{
	size_t n, i;
	char **ents = list_dir(dir, &n);

	for (i = 0; i < n; i++) {
		char path[4096], uri[4096];
		struct stat st;

		JOIN(path, "%s/%s", dir, ents[i]);
		JOIN(uri, "http://localhost:1234/%s%s", rel, ents[i]);
		if (!stat(path, &st) && S_ISDIR(st.st_mode)) {
			char sub[4096];

			JOIN(sub, "%s%s/", rel, ents[i]);
			load_remotes(path, sub);
		} else if (strlen(ents[i]) > 5 &&
			   !strcmp(ents[i] + strlen(ents[i]) - 5, ".json")) {
			json_error_t err;
			json_t *doc = json_load_file(path, JSON_DECODE_ANY, &err);

			if (doc)
				add_resource(uri, doc);
			else
				fprintf(stderr, "%s: %s\n", path, err.text);
		}
		free(ents[i]);
	}
	free(ents);
}

static const char *skip_reason(const char *file, const char *group, const char *test)
{
	size_t i;

	for (i = 0; i < sizeof(skips) / sizeof(skips[0]); i++)
		if (skips[i].file && !strcmp(skips[i].file, file) &&
		    !strcmp(skips[i].group, group) && !strcmp(skips[i].test, test))
			return skips[i].why;
	return NULL;
}

static void print_error(void *ctx, const dr_schema_error *e)
{
	(void)ctx;
	fprintf(stderr, "      %s [%s] %s\n", e->instance_path, e->schema_path, e->message);
}

static int ynode_compared, ynode_skipped;

static void collect(void *ctx, const dr_schema_error *e)
{
	dr_strbuf_addf(ctx, "%s|%s|%s|%s|%d\n", e->instance_path, e->schema_path,
		       e->keyword, e->message, e->at_key);
}

/* 1 when the YAML tree of data validates exactly like data; -1: not YAML. */
static int same_through_ynode(const dr_schema *schema, const json_t *data)
{
	dr_strbuf a = DR_STRBUF_INIT, b = DR_STRBUF_INIT;
	char *text = json_dumps(data, JSON_ENCODE_ANY);
	dr_arena *ar = dr_arena_new();
	dr_diags *d = dr_diags_new();
	dr_ynode *root = NULL;
	int ok = -1;

	if (text && !dr_yaml_load(ar, "data", text, strlen(text), d, &root) && root &&
	    !dr_diags_count(d, DR_SEV_WARNING) && !dr_diags_count(d, DR_SEV_ERROR)) {
		int na = dr_schema_validate(schema, data, collect, &a);
		int nb = dr_schema_validate_ynode(schema, root, NULL, collect, &b);

		ok = na == nb && !strcmp(a.buf ? a.buf : "", b.buf ? b.buf : "");
		if (!ok)
			printf("    jansson (%d):\n%s    ynode (%d) of %s:\n%s", na,
			       a.buf ? a.buf : "", nb, text, b.buf ? b.buf : "");
	}
	free(text);
	dr_strbuf_release(&a);
	dr_strbuf_release(&b);
	dr_diags_free(d);
	dr_arena_free(ar);
	return ok;
}

static int run_file(const char *path, const char *name, int *passed, int *failed,
		    int *skipped)
{
	json_error_t jerr;
	json_t *groups = json_load_file(path, 0, &jerr), *g;
	size_t gi;
	int p = 0, f = 0, s = 0;

	if (!groups) {
		fprintf(stderr, "%s: %s\n", path, jerr.text);
		(*failed)++;
		return -1;
	}
	json_array_foreach(groups, gi, g) {
		const char *gdesc = json_string_value(json_object_get(g, "description"));
		json_t *tests = json_object_get(g, "tests"), *t;
		dr_schema *schema = NULL;
		char *msg = NULL;
		size_t ti;
		int rc;

		rc = dr_schema_compile_with(json_object_get(g, "schema"), "", res, nres,
					    &schema, &msg);
		json_array_foreach(tests, ti, t) {
			const char *tdesc = json_string_value(json_object_get(t, "description"));
			int want = json_is_true(json_object_get(t, "valid"));
			const char *why = skip_reason(name, gdesc, tdesc);
			int got;

			if (why) {
				printf("  SKIP %s: %s / %s: %s\n", name, gdesc, tdesc, why);
				s++;
				continue;
			}
			if (rc) {
				printf("  FAIL %s: %s: schema does not compile: %s\n", name,
				       gdesc, msg);
				f++;
				continue;
			}
			got = dr_schema_validate(schema, json_object_get(t, "data"), NULL, NULL);
			switch (same_through_ynode(schema, json_object_get(t, "data"))) {
			case -1:
				ynode_skipped++;
				break;
			case 0:
				printf("  FAIL %s: %s / %s: the YAML tree validates "
				       "differently\n", name, gdesc, tdesc);
				f++;
				continue;
			default:
				ynode_compared++;
			}
			if ((got == 0) == want) {
				p++;
				continue;
			}
			printf("  FAIL %s: %s / %s: expected %s\n", name, gdesc, tdesc,
			       want ? "valid" : "invalid");
			dr_schema_validate(schema, json_object_get(t, "data"), print_error, NULL);
			f++;
		}
		free(msg);
		dr_schema_free(schema);
	}
	json_decref(groups);
	printf("%-40s %3d passed, %d failed%s\n", name, p, f, s ? " (some skipped)" : "");
	*passed += p;
	*failed += f;
	*skipped += s;
	return 0;
}

int main(int argc, char **argv)
{
	const char *suite = argc > 1 ? argv[1] : "/usr/share/json-schema-test-suite";
	const char *meta = argc > 2 ? argv[2] : DR_SUITE_METASCHEMA;
	static const char *const informational[] = {
		"optional/format/ipv4.json", "optional/format/date-time.json",
		"optional/format/email.json", "optional/format/hostname.json",
		"optional/format/uri.json", "optional/ecmascript-regex.json",
	};
	char dir[4096], path[4096];
	int passed = 0, failed = 0, skipped = 0, ip = 0, ifl = 0, is = 0;
	json_error_t jerr;
	json_t *metadoc;
	size_t n, i;
	char **files;
	struct stat st;

	JOIN(dir, "%s/tests/draft7", suite);
	if (stat(dir, &st) || !S_ISDIR(st.st_mode)) {
		fprintf(stderr,
			"run-suite: %s not found; install the JSON Schema test suite "
			"with `apt-get install json-schema-test-suite` or pass its "
			"directory as the first argument\n",
			dir);
		return 2;
	}
	metadoc = json_load_file(meta, 0, &jerr);
	if (!metadoc) {
		fprintf(stderr, "run-suite: %s: %s\n", meta, jerr.text);
		return 2;
	}
	add_resource("http://json-schema.org/draft-07/schema", metadoc);
	JOIN(path, "%s/remotes", suite);
	load_remotes(path, "");

	files = list_dir(dir, &n);
	for (i = 0; i < n; i++) {
		size_t len = strlen(files[i]);

		if (len > 5 && !strcmp(files[i] + len - 5, ".json")) {
			JOIN(path, "%s/%s", dir, files[i]);
			run_file(path, files[i], &passed, &failed, &skipped);
		}
		free(files[i]);
	}
	free(files);

	printf("informational (not required):\n");
	for (i = 0; i < sizeof(informational) / sizeof(informational[0]); i++) {
		JOIN(path, "%s/%s", dir, informational[i]);
		run_file(path, informational[i], &ip, &ifl, &is);
	}
	printf("optional (informational): %d passed, %d failed\n", ip, ifl);
	if (skipped)
		printf("%d skipped\n", skipped);
	printf("through dr_ynode: %d cases compared, %d not loadable as YAML\n",
	       ynode_compared, ynode_skipped);
	printf("%d passed, %d failed\n", passed, failed);
	for (i = 0; i < nres; i++) {
		free((char *)res[i].uri);
		json_decref((json_t *)res[i].doc);
	}
	free(res);
	return failed ? 1 : 0;
}
