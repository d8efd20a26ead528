/*
 * bench-yaml - how much the YAML tree costs on top of libyaml.
 *
 *     bench-yaml [FILE]
 *
 * Without FILE a plan with 10,000 machines (about 4 MB) is generated in
 * memory. Prints the size, libyaml's own parse time (events only), the time
 * to build the dr_ynode tree, the time to convert it to jansson, the node
 * count and the arena bytes. Each time is the best of five runs.
 */
#include "core/arena.h"
#include "core/diag.h"
#include "core/strbuf.h"
#include "plan/ynode.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <yaml.h>

#define RUNS 5

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void generate(dr_strbuf *sb, int machines)
{
	int i;

	dr_strbuf_addstr(sb,
		"apiVersion: drplan/v1\n"
		"kind: RecoveryPlan\n"
		"metadata: { name: bench, owners: [dr-team@example.com] }\n"
		"target:\n"
		"  provider: sim\n"
		"  inventory: inventory/bench.json\n"
		"defaults: &defaults\n"
		"  recoveryPoint: latest-processed\n"
		"  shutdownSource: true\n"
		"  target: { resourceGroup: rg-dr, network: { vnet: vnet-dr, "
		"subnet: app } }\n"
		"machines:\n");
	for (i = 0; i < machines; i++) {
		dr_strbuf_addf(sb,
			"  - name: vm%05d\n"
			"    source:\n"
			"      os: %s\n"
			"      osVersion: \"Windows Server 2019\"\n"
			"      boot: bios\n"
			"      mobilityAgent: \"9.56\"\n"
			"      disks:\n"
			"        - { role: os, sizeGiB: 256 }\n"
			"        - { sizeGiB: 2048, type: Premium_LRS }\n"
			"      nics: [{ dhcp: false, ip: 10.1.%d.%d }]\n"
			"    target:\n"
			"      name: vm%05d-dr\n"
			"      size: Standard_E8s_v5\n"
			"      ip: 10.20.%d.%d\n"
			"      diskType: Premium_LRS\n"
			"      tags: { owner: team-%d, costCenter: \"%d\" }\n"
			"    # a comment that the loader skips\n"
			"    extraFailoverTime: 90s\n",
			i, i % 3 ? "linux" : "windows", i / 250, i % 250, i,
			i / 250, i % 250, i % 17, 1000 + i % 50);
	}
	dr_strbuf_addstr(sb, "groups:\n");
	for (i = 0; i < machines / 100; i++)
		dr_strbuf_addf(sb, "  - name: g%d\n    machines: [vm%05d, "
			       "vm%05d]\n", i, i * 100, i * 100 + 1);
}

static int read_file(const char *path, dr_strbuf *sb)
{
	FILE *f = fopen(path, "rb");
	char buf[65536];
	size_t n;

	if (!f)
		return -1;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		dr_strbuf_add(sb, buf, n);
	fclose(f);
	return 0;
}

static size_t libyaml_only(const char *text, size_t len)
{
	yaml_parser_t p;
	yaml_event_t ev;
	size_t events = 0;
	int done = 0;

	yaml_parser_initialize(&p);
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	while (!done) {
		if (!yaml_parser_parse(&p, &ev))
			break;
		done = ev.type == YAML_STREAM_END_EVENT;
		yaml_event_delete(&ev);
		events++;
	}
	yaml_parser_delete(&p);
	return events;
}

static size_t count(const dr_ynode *n)
{
	size_t c = 1, i;

	for (i = 0; i < n->n; i++)
		c += count(n->items[i]) + (n->keys ? 1 : 0);
	return c;
}

int main(int argc, char **argv)
{
	dr_strbuf sb = DR_STRBUF_INIT;
	double t, best_y = 1e9, best_t = 1e9, best_j = 1e9;
	size_t events = 0, nodes = 0, used = 0;
	int i;

	if (argc > 1) {
		if (read_file(argv[1], &sb) < 0) {
			fprintf(stderr, "bench-yaml: cannot read %s\n", argv[1]);
			return 1;
		}
	} else {
		generate(&sb, 10000);
	}
	for (i = 0; i < RUNS; i++) {
		dr_arena *a = dr_arena_new();
		dr_diags *d = dr_diags_new();
		dr_ynode *root;
		json_t *j;
		int rc;

		t = now();
		events = libyaml_only(sb.buf, sb.len);
		t = now() - t;
		best_y = t < best_y ? t : best_y;

		t = now();
		rc = dr_yaml_load(a, "bench.yaml", sb.buf, sb.len, d, &root);
		t = now() - t;
		best_t = t < best_t ? t : best_t;
		if (rc || !root) {
			fprintf(stderr, "bench-yaml: load failed (%zu diagnostics)\n",
				dr_diags_len(d));
			return 1;
		}
		t = now();
		j = dr_ynode_to_json(root);
		t = now() - t;
		best_j = t < best_j ? t : best_j;
		json_decref(j);
		nodes = count(root);
		used = dr_arena_used(a);
		dr_diags_free(d);
		dr_arena_free(a);
	}
	printf("bytes        %zu\n", sb.len);
	printf("events       %zu\n", events);
	printf("libyaml only %.1f ms\n", best_y * 1e3);
	printf("tree build   %.1f ms (%.2fx libyaml)\n", best_t * 1e3,
	       best_t / best_y);
	printf("to_json      %.1f ms\n", best_j * 1e3);
	printf("nodes        %zu\n", nodes);
	printf("arena bytes  %zu\n", used);
	dr_strbuf_release(&sb);
	return 0;
}
