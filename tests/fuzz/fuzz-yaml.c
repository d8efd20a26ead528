/*
 * fuzz-yaml - libFuzzer target for the YAML loader, its JSON conversion,
 * its JSON pointers and the diagnostic renderers.
 *
 * Built with -fsanitize=fuzzer when DR_FUZZ is on (clang). Without
 * DR_FUZZ_LIBFUZZER a main() replays files and directories given on the
 * command line, so the corpus runs as an ordinary test with any compiler.
 */
#include "core/arena.h"
#include "core/diag.h"
#include "core/strbuf.h"
#include "plan/ynode.h"
#include "report/diagfmt.h"
#include "../unit/ynode-dump.h"

#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every value's pointer leads back to it (a few thousand checked). */
static void check_paths(dr_arena *a, const dr_ynode *root, const dr_ynode *n,
			size_t *budget)
{
	size_t i;

	if (!*budget)
		return;
	(*budget)--;
	if (dr_ynode_at(root, dr_ynode_path(a, n)) != n)
		abort();
	for (i = 0; i < n->n; i++) {
		if (n->items[i]->parent != n)
			abort();
		if (n->kind == DR_YNODE_MAP &&
		    (n->keys[i]->kind != DR_YNODE_SCALAR ||
		     strcmp(dr_ynode_name(n->items[i]), n->keys[i]->str)))
			abort();
		check_paths(a, root, n->items[i], budget);
	}
}

static char *load_dump(const uint8_t *data, size_t size)
{
	dr_arena *a = dr_arena_new();
	dr_diags *d = dr_diags_new();
	dr_strbuf sb = DR_STRBUF_INIT;
	dr_ynode *root = NULL;
	size_t i;

	dr_strbuf_addf(&sb, "rc %d\n",
		       dr_yaml_load(a, "fuzz.yaml", (const char *)data, size, d,
				    &root));
	if (root)
		ynode_dump(&sb, root);
	for (i = 0; i < dr_diags_len(d); i++) {
		const dr_diag *g = dr_diags_get(d, i);

		dr_strbuf_addf(&sb, "%d %s %d:%d %s %s %s\n", (int)g->severity,
			       g->rule, g->line, g->col, g->path ? g->path : "-",
			       g->message, g->note ? g->note : "-");
	}
	dr_diags_free(d);
	dr_arena_free(a);
	return dr_strbuf_detach(&sb, NULL);
}

/*
 * A large text may be cut in two and loaded on two threads: loading any
 * text that way (forced with a threshold of 0) must leave exactly what one
 * pass leaves, tree, positions and diagnostics.
 */
static void check_split(const uint8_t *data, size_t size)
{
	size_t old_split = dr_yaml_set_split_min((size_t)-1);
	size_t old_pipe = dr_yaml_set_pipe_min((size_t)-1);
	char *one = load_dump(data, size), *two;

	dr_yaml_set_split_min(0);
	two = load_dump(data, size);
	if (strcmp(one, two)) {
		fprintf(stderr, "one pass:\n%s\nin two halves:\n%s\n", one, two);
		abort();
	}
	free(one);
	free(two);
	dr_yaml_set_split_min(old_split);
	dr_yaml_set_pipe_min(old_pipe);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	dr_arena *a = dr_arena_new();
	dr_diags *d = dr_diags_new();
	dr_strbuf sb = DR_STRBUF_INIT;
	dr_diagfmt_opts o = { 0 };
	dr_ynode *root;
	size_t budget = 5000;
	int rc;

	rc = dr_yaml_load(a, "fuzz.yaml", (const char *)data, size, d, &root);
	/* Success means a tree and no errors; an error is always said. */
	if (rc == 0 && (!root || dr_diags_count(d, DR_SEV_ERROR)))
		abort();
	if (rc != 0 && !dr_diags_count(d, DR_SEV_ERROR))
		abort();
	if (root) {
		json_t *j = dr_ynode_to_json(root);

		if (!j)
			abort();
		json_decref(j);
		check_paths(a, root, root, &budget);
	}
	dr_diags_add_source(d, "fuzz.yaml", (const char *)data, size);
	dr_diags_sort(d);
	o.summary = 1;
	o.color = size & 1;
	o.strict = size & 2;
	dr_diags_render(d, DR_DIAGFMT_TEXT, &o, &sb);
	dr_diags_render(d, DR_DIAGFMT_JSON, &o, &sb);
	dr_diags_render(d, DR_DIAGFMT_SARIF, &o, &sb);
	dr_diags_render(d, DR_DIAGFMT_JUNIT, &o, &sb);
	dr_strbuf_release(&sb);
	dr_diags_free(d);
	dr_arena_free(a);
	check_split(data, size);
	return 0;
}

#ifndef DR_FUZZ_LIBFUZZER
#include <dirent.h>
#include <sys/stat.h>

static int run_file(const char *path)
{
	dr_strbuf sb = DR_STRBUF_INIT;
	FILE *f = fopen(path, "rb");
	char buf[65536];
	size_t n;

	if (!f) {
		fprintf(stderr, "fuzz-yaml: cannot open %s\n", path);
		return 1;
	}
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		dr_strbuf_add(&sb, buf, n);
	fclose(f);
	LLVMFuzzerTestOneInput((const uint8_t *)sb.buf, sb.len);
	dr_strbuf_release(&sb);
	return 0;
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
	int i, failed = 0, files = 0;

	for (i = 1; i < argc; i++) {
		struct stat st;
		DIR *dir;
		struct dirent *e;
		char **names = NULL;
		size_t nn = 0, k;

		if (stat(argv[i], &st) || !S_ISDIR(st.st_mode)) {
			failed += run_file(argv[i]);
			files++;
			continue;
		}
		if (!(dir = opendir(argv[i]))) {
			fprintf(stderr, "fuzz-yaml: cannot open %s\n", argv[i]);
			return 1;
		}
		while ((e = readdir(dir))) {
			if (e->d_name[0] == '.')
				continue;
			names = realloc(names, (nn + 1) * sizeof(*names));
			names[nn] = malloc(strlen(argv[i]) + strlen(e->d_name) + 2);
			sprintf(names[nn++], "%s/%s", argv[i], e->d_name);
		}
		closedir(dir);
		qsort(names, nn, sizeof(*names), cmp);
		for (k = 0; k < nn; k++) {
			failed += run_file(names[k]);
			files++;
			free(names[k]);
		}
		free(names);
	}
	/* A bad input aborts; getting here means every file loaded. */
	printf("%d passed, %d failed\n", files - failed, failed);
	return failed ? 1 : 0;
}
#endif
