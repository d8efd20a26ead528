#include "core/alloc.h"
#include "core/error.h"
#include "core/strbuf.h"
#include "plan/ynode.h"
#include "test.h"
#include "ynode-dump.h"

#include <stdlib.h>
#include <time.h>

static dr_arena *arena;
static dr_diags *diags;

/* Load text; returns the root (or NULL) and keeps rc. */
static int rc;
static const dr_ynode *load(const char *text)
{
	dr_ynode *root;

	dr_diags_free(diags);
	dr_arena_free(arena);
	arena = dr_arena_new();
	diags = dr_diags_new();
	rc = dr_yaml_load(arena, "p.yaml", text, strlen(text), diags, &root);
	return root;
}

static const dr_ynode *loadn(const char *text, size_t len)
{
	dr_ynode *root;

	dr_diags_free(diags);
	dr_arena_free(arena);
	arena = dr_arena_new();
	diags = dr_diags_new();
	rc = dr_yaml_load(arena, "p.yaml", text, len, diags, &root);
	return root;
}

/* The i-th diagnostic as "line:col: severity: message [RULE]". */
static const char *diag(size_t i)
{
	static char buf[1024];
	const dr_diag *g = dr_diags_get(diags, i);

	if (!g)
		return "(none)";
	snprintf(buf, sizeof(buf), "%d:%d: %s: %s [%s]", g->line, g->col,
		 dr_severity_name(g->severity), g->message, g->rule);
	return buf;
}

static const char *json(const dr_ynode *n)
{
	static char buf[4096];
	json_t *j = dr_ynode_to_json(n);
	char *s = json_dumps(j, JSON_ENCODE_ANY | JSON_PRESERVE_ORDER |
					JSON_COMPACT);

	snprintf(buf, sizeof(buf), "%s", s ? s : "(null)");
	free(s);
	json_decref(j);
	return buf;
}

#define CHECK_POS(n, l, c)                                                     \
	do {                                                                   \
		const dr_ynode *n_ = (n);                                      \
		CHECK(n_ != NULL);                                             \
		if (n_) {                                                      \
			CHECK_INT(n_->line, l);                                \
			CHECK_INT(n_->col, c);                                 \
		}                                                              \
	} while (0)

TEST(positions_block)
{
	const dr_ynode *r = load("# plan\n"
				 "name: erp\n"
				 "machines:\n"
				 "  - name: sql01\n"
				 "    ip: \"10.0.0.1\"\n"
				 "  - 'app01'\n"
				 "list:\n"
				 "- a\n"
				 "- b\n");

	CHECK_INT(rc, 0);
	CHECK_INT(dr_diags_len(diags), 0);
	CHECK_POS(r, 2, 1);
	CHECK_INT(r->kind, DR_YNODE_MAP);
	CHECK_POS(dr_ynode_key(r, "name"), 2, 1);
	CHECK_POS(dr_ynode_get(r, "name"), 2, 7);
	CHECK_POS(dr_ynode_get(r, "machines"), 4, 3);
	CHECK_POS(dr_ynode_at(r, "/machines/0"), 4, 5);
	CHECK_POS(dr_ynode_at(r, "/machines/0/name"), 4, 11);
	CHECK_POS(dr_ynode_at(r, "/machines/0/ip"), 5, 9);
	CHECK_STR(dr_ynode_at(r, "/machines/0/ip")->str, "10.0.0.1");
	CHECK_POS(dr_ynode_at(r, "/machines/1"), 6, 5);
	CHECK_POS(dr_ynode_get(r, "list"), 8, 1);
	CHECK_POS(dr_ynode_at(r, "/list/1"), 9, 3);
	CHECK_INT(dr_ynode_at(r, "/machines/1")->index, 1);
	CHECK_STR(dr_ynode_name(dr_ynode_at(r, "/machines/0/ip")), "ip");
	CHECK(dr_ynode_at(r, "/machines/0/ip")->parent ==
	      dr_ynode_at(r, "/machines/0"));
	CHECK_STR(dr_ynode_at(r, "/machines/0/ip")->file, "p.yaml");
}

TEST(positions_flow_and_utf8)
{
	const dr_ynode *r = load("a: {x: [1, \"two\", 'th'], y: {}}\n"
				 "\xc3\xa9t\xc3\xa9: [\xc3\xa9, z]\n");

	CHECK_INT(rc, 0);
	CHECK_POS(dr_ynode_get(r, "a"), 1, 4);
	CHECK_POS(dr_ynode_at(r, "/a/x"), 1, 8);
	CHECK_POS(dr_ynode_at(r, "/a/x/0"), 1, 9);
	CHECK_POS(dr_ynode_at(r, "/a/x/1"), 1, 12);
	CHECK_POS(dr_ynode_at(r, "/a/x/2"), 1, 19);
	CHECK_POS(dr_ynode_at(r, "/a/y"), 1, 29);
	CHECK_INT(dr_ynode_at(r, "/a/y")->n, 0);
	/* Columns count bytes: "été" is 5 bytes. */
	CHECK_POS(dr_ynode_get(r, "\xc3\xa9t\xc3\xa9"), 2, 8);
	CHECK_POS(dr_ynode_at(r, "/\xc3\xa9t\xc3\xa9/1"), 2, 13);
}

TEST(positions_line_breaks)
{
	/* libyaml breaks lines at NEL and lone CR too; we count LFs only, like
	 * editors and the renderers. */
	const dr_ynode *r = load("a: \"x\xc2\x85y\"\nb: [p, q]\n");

	CHECK_INT(rc, 0);
	CHECK_POS(dr_ynode_at(r, "/b/1"), 2, 8);
	load("a: x\xc2\x85y\nb: [p, q]\n");
	CHECK_STR(diag(0), "2:1: error: could not find expected ':' (while "
			   "scanning a simple key that starts at line 1, "
			   "column 7) [YAML-SYNTAX]");
	r = load("a: [1,\r 2]\nb: 3\n");
	CHECK_INT(rc, 0);
	CHECK_POS(dr_ynode_at(r, "/a/1"), 1, 9);
	CHECK_POS(dr_ynode_get(r, "b"), 2, 4);
	/* Marks that go back (an empty value) are fine too. */
	r = load("\xc3\xa9:\nb:\n");
	CHECK_POS(dr_ynode_get(r, "\xc3\xa9"), 1, 4);
	CHECK_POS(dr_ynode_key(r, "b"), 2, 1);
}

TEST(positions_bom_crlf)
{
	const dr_ynode *r = load("\xef\xbb\xbf"
				 "a: 1\r\nb: [x, y]\r\n");

	CHECK_INT(rc, 0);
	CHECK_POS(dr_ynode_key(r, "a"), 1, 1);
	CHECK_POS(dr_ynode_get(r, "a"), 1, 4);
	CHECK_POS(dr_ynode_at(r, "/b/1"), 2, 8);
}

struct typing {
	const char *text;
	dr_yscalar_type type;
	const char *json;
};

TEST(typing_table)
{
	static const struct typing t[] = {
		{ "", DR_YSCALAR_NULL, "null" },
		{ "~", DR_YSCALAR_NULL, "null" },
		{ "null", DR_YSCALAR_NULL, "null" },
		{ "Null", DR_YSCALAR_NULL, "null" },
		{ "NULL", DR_YSCALAR_NULL, "null" },
		{ "nULL", DR_YSCALAR_STRING, "\"nULL\"" },
		{ "true", DR_YSCALAR_BOOL, "true" },
		{ "True", DR_YSCALAR_BOOL, "true" },
		{ "TRUE", DR_YSCALAR_BOOL, "true" },
		{ "false", DR_YSCALAR_BOOL, "false" },
		{ "FALSE", DR_YSCALAR_BOOL, "false" },
		{ "yes", DR_YSCALAR_STRING, "\"yes\"" },
		{ "no", DR_YSCALAR_STRING, "\"no\"" },
		{ "on", DR_YSCALAR_STRING, "\"on\"" },
		{ "off", DR_YSCALAR_STRING, "\"off\"" },
		{ "0", DR_YSCALAR_INT, "0" },
		{ "42", DR_YSCALAR_INT, "42" },
		{ "-17", DR_YSCALAR_INT, "-17" },
		{ "+5", DR_YSCALAR_INT, "5" },
		{ "007", DR_YSCALAR_INT, "7" },
		{ "0x1F", DR_YSCALAR_INT, "31" },
		{ "0o17", DR_YSCALAR_INT, "15" },
		{ "0x", DR_YSCALAR_STRING, "\"0x\"" },
		{ "0o8", DR_YSCALAR_STRING, "\"0o8\"" },
		{ "-0x1", DR_YSCALAR_STRING, "\"-0x1\"" },
		{ "9223372036854775807", DR_YSCALAR_INT, "9223372036854775807" },
		{ "-9223372036854775808", DR_YSCALAR_INT,
		  "-9223372036854775808" },
		{ "1e3", DR_YSCALAR_FLOAT, "1000.0" },
		{ "1.5", DR_YSCALAR_FLOAT, "1.5" },
		{ "-.5", DR_YSCALAR_FLOAT, "-0.5" },
		{ "1.", DR_YSCALAR_FLOAT, "1.0" },
		{ "2.5E-1", DR_YSCALAR_FLOAT, "0.25" },
		{ "9.25", DR_YSCALAR_FLOAT, "9.25" },
		{ "1e", DR_YSCALAR_STRING, "\"1e\"" },
		{ ".", DR_YSCALAR_STRING, "\".\"" },
		{ "1.2.3", DR_YSCALAR_STRING, "\"1.2.3\"" },
		{ ".inf", DR_YSCALAR_FLOAT, "\".inf\"" },
		{ "-.Inf", DR_YSCALAR_FLOAT, "\"-.Inf\"" },
		{ "+.INF", DR_YSCALAR_FLOAT, "\"+.INF\"" },
		{ ".nan", DR_YSCALAR_FLOAT, "\".nan\"" },
		{ ".NaN", DR_YSCALAR_FLOAT, "\".NaN\"" },
		{ "\"123\"", DR_YSCALAR_STRING, "\"123\"" },
		{ "'true'", DR_YSCALAR_STRING, "\"true\"" },
		{ "\"\"", DR_YSCALAR_STRING, "\"\"" },
		{ "!!str 123", DR_YSCALAR_STRING, "\"123\"" },
		{ "!!str", DR_YSCALAR_STRING, "\"\"" },
		{ "!!int \"12\"", DR_YSCALAR_INT, "12" },
		{ "!!float 3", DR_YSCALAR_FLOAT, "3.0" },
		{ "!!float 0x10", DR_YSCALAR_FLOAT, "16.0" },
		{ "!!float 0o17", DR_YSCALAR_FLOAT, "15.0" },
		{ "!!float -7", DR_YSCALAR_FLOAT, "-7.0" },
		{ "!!bool \"True\"", DR_YSCALAR_BOOL, "true" },
		{ "!!null ''", DR_YSCALAR_NULL, "null" },
		{ "! 12", DR_YSCALAR_STRING, "\"12\"" },
		{ "Standard_E8s_v5", DR_YSCALAR_STRING, "\"Standard_E8s_v5\"" },
		{ "10.20.1.10", DR_YSCALAR_STRING, "\"10.20.1.10\"" },
		{ "5m", DR_YSCALAR_STRING, "\"5m\"" },
	};
	size_t i;

	for (i = 0; i < DR_ARRAY_SIZE(t); i++) {
		char buf[128];
		const dr_ynode *r, *v;

		snprintf(buf, sizeof(buf), "v: %s\n", t[i].text);
		r = load(buf);
		v = dr_ynode_get(r, "v");
		if (rc != 0 || !v || v->type != t[i].type ||
		    strcmp(json(v), t[i].json)) {
			fprintf(stderr, "typing of <%s>: rc %d type %d json %s\n",
				t[i].text, rc, v ? (int)v->type : -1,
				v ? json(v) : "-");
			test_failed_checks++;
		}
	}
	{
		const dr_ynode *r = load("[0x1F, -12, 2.5, true]");

		CHECK_INT(r->items[0]->integer, 31);
		CHECK_INT(r->items[1]->integer, -12);
		CHECK(r->items[2]->real == 2.5);
		CHECK_INT(r->items[3]->boolean, 1);
		CHECK_STR(r->items[0]->str, "0x1F");
		CHECK_INT(r->items[0]->len, 4);
	}
}

TEST(typing_errors)
{
	const dr_ynode *r = load("a: 9223372036854775808\n"
				 "b: -0x1\n"
				 "c: !!int x1\n"
				 "d: !!bool yes\n"
				 "e: !Ref other\n"
				 "f: !!binary aGk=\n"
				 "g: !!int 0x10000000000000000\n"
				 "h: !custom [1]\n"
				 "i: \"a\\0b\"\n");

	CHECK_INT(rc, DR_EINVAL);
	CHECK(r != NULL);
	CHECK_INT(dr_diags_len(diags), 8);
	CHECK_STR(diag(0), "1:4: error: the integer \"9223372036854775808\" is "
			   "out of range (-9223372036854775808 to "
			   "9223372036854775807); quote it if it is meant as "
			   "text [YAML-NUMBER]");
	CHECK_STR(diag(1), "3:4: error: \"x1\" is not a valid !!int value; fix "
			   "the value or remove the tag [YAML-TAG]");
	CHECK_STR(diag(2), "4:4: error: \"yes\" is not a valid !!bool value; "
			   "fix the value or remove the tag [YAML-TAG]");
	CHECK_STR(diag(3), "5:4: warning: unknown tag !Ref is ignored; remove "
			   "it [YAML-TAG]");
	CHECK_STR(diag(4), "6:4: warning: tag !!binary is not supported and is "
			   "ignored; remove it [YAML-TAG]");
	CHECK_STR(diag(5), "7:4: error: the integer \"0x10000000000000000\" is "
			   "out of range (-9223372036854775808 to "
			   "9223372036854775807); quote it if it is meant as "
			   "text [YAML-NUMBER]");
	CHECK_STR(diag(6), "8:4: warning: tag !custom is not supported on a "
			   "sequence and is ignored; remove it [YAML-TAG]");
	CHECK_STR(diag(7), "9:4: error: this string contains a NUL character "
			   "(\\0); remove it [YAML-ENCODING]");
	CHECK_STR(json(r), "{\"a\":\"9223372036854775808\",\"b\":\"-0x1\","
			   "\"c\":\"x1\",\"d\":\"yes\",\"e\":\"other\","
			   "\"f\":\"aGk=\",\"g\":\"0x10000000000000000\","
			   "\"h\":[1],\"i\":\"a\\u0000b\"}");

	/* Only warnings: the load succeeds. */
	r = load("e: !Ref other\n");
	CHECK_INT(rc, 0);
	CHECK_INT(dr_diags_len(diags), 1);
}

TEST(duplicate_keys)
{
	const dr_ynode *r = load("name: a\n"
				 "x: 1\n"
				 "name: b\n"
				 "m: {k: 1, \"k\": 2}\n");

	CHECK_INT(rc, DR_EINVAL);
	CHECK_INT(dr_diags_len(diags), 2);
	/* A mapping reports when it ends: the inner one first. */
	CHECK_STR(diag(0), "4:11: error: duplicate key \"k\" (first defined at "
			   "line 4); remove one of them [YAML-DUPLICATE-KEY]");
	CHECK_STR(diag(1), "3:1: error: duplicate key \"name\" (first defined "
			   "at line 1); remove one of them "
			   "[YAML-DUPLICATE-KEY]");
	/* The first one stays. */
	CHECK_STR(json(r), "{\"name\":\"a\",\"x\":1,\"m\":{\"k\":1}}");
	CHECK_INT(dr_ynode_get(r, "m")->index, 2);
}

/* Key texts are interned: an alias used as a key still finds its twin,
 * and equal keys of different maps share their text. */
TEST(duplicate_keys_interned)
{
	const dr_ynode *r = load("a: &k name\n"
				 "m:\n"
				 "  name: 1\n"
				 "  *k : 2\n"
				 "n: {name: 3, x: 1.0}\n");

	CHECK_INT(rc, DR_EINVAL);
	CHECK_INT(dr_diags_len(diags), 1);
	CHECK_STR(diag(0), "4:3: error: duplicate key \"name\" (first defined "
			   "at line 3); remove one of them [YAML-DUPLICATE-KEY]");
	CHECK(dr_ynode_key(dr_ynode_get(r, "m"), "name")->str ==
	      dr_ynode_key(dr_ynode_get(r, "n"), "name")->str);
	CHECK_INT(dr_ynode_get(dr_ynode_get(r, "n"), "x")->real == 1.0, 1);
	CHECK(sizeof(dr_ynode) <= 72); /* 64-bit; the tree of a big plan is mostly nodes */
}

TEST(duplicate_keys_large_map)
{
	dr_strbuf sb = DR_STRBUF_INIT;
	int i;

	for (i = 0; i < 5000; i++)
		dr_strbuf_addf(&sb, "k%d: %d\n", i, i);
	dr_strbuf_addstr(&sb, "k4321: dup\n");
	load(sb.buf);
	CHECK_INT(rc, DR_EINVAL);
	CHECK_INT(dr_diags_len(diags), 1);
	CHECK_STR(diag(0), "5001:1: error: duplicate key \"k4321\" (first "
			   "defined at line 4322); remove one of them "
			   "[YAML-DUPLICATE-KEY]");
	dr_strbuf_release(&sb);
}

TEST(key_type)
{
	const dr_ynode *r = load("? [a, b]\n: 1\n{x: 1}: 2\nok: 3\n");

	CHECK_INT(rc, DR_EINVAL);
	CHECK_INT(dr_diags_len(diags), 2);
	CHECK_STR(diag(0), "1:3: error: a sequence cannot be a mapping key; use "
			   "a plain string as the key [YAML-KEY-TYPE]");
	CHECK_STR(diag(1), "3:1: error: a mapping cannot be a mapping key; use "
			   "a plain string as the key [YAML-KEY-TYPE]");
	CHECK_STR(json(r), "{\"ok\":3}");
	CHECK_INT(dr_ynode_get(r, "ok")->index, 0);
	/* Scalar keys of other types are kept as their text. */
	r = load("1: a\ntrue: b\n~: c\n");
	CHECK_INT(rc, 0);
	CHECK_STR(json(r), "{\"1\":\"a\",\"true\":\"b\",\"~\":\"c\"}");
}

TEST(merge_keys)
{
	const dr_ynode *r = load("base: &b {size: S, disk: P, ip: 1}\n"
				 "more: &m {zone: 2, size: X}\n"
				 "vm:\n"
				 "  name: vm1\n"
				 "  <<: *b\n"
				 "  size: L\n"
				 "vm2:\n"
				 "  <<: [*m, *b]\n"
				 "vm3: {\"<<\": 1}\n");
	const dr_ynode *vm;

	CHECK_INT(rc, 0);
	CHECK_INT(dr_diags_len(diags), 0);
	vm = dr_ynode_get(r, "vm");
	CHECK_STR(json(vm), "{\"name\":\"vm1\",\"disk\":\"P\",\"ip\":1,"
			    "\"size\":\"L\"}");
	CHECK_STR(json(dr_ynode_get(r, "vm2")),
		  "{\"zone\":2,\"size\":\"X\",\"disk\":\"P\",\"ip\":1}");
	/* A quoted "<<" is an ordinary key. */
	CHECK_STR(json(dr_ynode_get(r, "vm3")), "{\"<<\":1}");
	/* Merged entries belong to the mapping and point at the anchor. */
	CHECK(dr_ynode_get(vm, "disk")->parent == vm);
	CHECK_INT(dr_ynode_get(vm, "disk")->index, 1);
	CHECK_POS(dr_ynode_get(vm, "disk"), 1, 26);
	CHECK_STR(dr_ynode_path(arena, dr_ynode_get(vm, "ip")), "/vm/ip");

	r = load("a: &a 1\nb:\n  <<: *a\n  <<: {x: 1}\nc: {<<: [{y: 1}, *a]}\n");
	CHECK_INT(rc, DR_EINVAL);
	CHECK_INT(dr_diags_len(diags), 3);
	CHECK_STR(diag(0), "4:3: error: duplicate key \"<<\" (first defined at "
			   "line 3); merge several mappings with <<: [*a, *b] "
			   "[YAML-DUPLICATE-KEY]");
	CHECK_STR(diag(1), "3:7: error: the value of a merge key (<<) must be a "
			   "mapping or a list of mappings, not an integer; use "
			   "an alias such as *defaults [YAML-MERGE]");
	CHECK_STR(diag(2), "5:18: error: a merge key (<<) can only merge "
			   "mappings, not an integer; use an alias of a mapping "
			   "such as *defaults [YAML-MERGE]");
	CHECK_STR(json(r), "{\"a\":1,\"b\":{},\"c\":{\"y\":1}}");
}

TEST(aliases_copy)
{
	const dr_ynode *r = load("d: &d {net: {vnet: v}}\n"
				 "a: *d\n"
				 "b: [*d, *d]\n");
	const dr_ynode *a, *b1;

	CHECK_INT(rc, 0);
	CHECK_STR(json(r), "{\"d\":{\"net\":{\"vnet\":\"v\"}},"
			   "\"a\":{\"net\":{\"vnet\":\"v\"}},"
			   "\"b\":[{\"net\":{\"vnet\":\"v\"}},"
			   "{\"net\":{\"vnet\":\"v\"}}]}");
	a = dr_ynode_get(r, "a");
	b1 = dr_ynode_at(r, "/b/1");
	CHECK(a != dr_ynode_get(r, "d"));
	/* Each copy has one parent: its own. */
	CHECK(dr_ynode_get(a, "net")->parent == a);
	CHECK(dr_ynode_get(b1, "net")->parent == b1);
	CHECK_STR(dr_ynode_path(arena, dr_ynode_at(r, "/b/1/net/vnet")),
		  "/b/1/net/vnet");
	/* The copy is at the alias, its insides at the anchor. */
	CHECK_POS(a, 2, 4);
	CHECK_POS(b1, 3, 9);
	CHECK_POS(dr_ynode_at(r, "/b/1/net/vnet"), 1, 20);

	r = load("a: *nope\nb: &r [1, *r]\n\"\": 1\n*k : 2\n");
	CHECK_INT(rc, DR_EINVAL);
	CHECK_INT(dr_diags_len(diags), 3);
	CHECK_STR(diag(0), "1:4: error: unknown alias *nope; define the anchor "
			   "&nope before using it [YAML-ALIAS]");
	CHECK_STR(diag(1), "2:11: error: alias *r refers to the node that "
			   "contains it; a node cannot include itself "
			   "[YAML-ALIAS]");
	/* A bad alias as a key drops the entry, nothing more is said. */
	CHECK_STR(diag(2), "4:1: error: unknown alias *k; define the anchor &k "
			   "before using it [YAML-ALIAS]");
	CHECK_STR(json(r), "{\"a\":null,\"b\":[1,null],\"\":1}");
}

TEST(alias_bomb)
{
	dr_strbuf sb = DR_STRBUF_INIT;
	clock_t t = clock();
	int i;

	dr_strbuf_addstr(&sb, "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
	for (i = 1; i < 12; i++) {
		int k;

		dr_strbuf_addf(&sb, "a%d: &a%d [", i, i);
		for (k = 0; k < 10; k++)
			dr_strbuf_addf(&sb, "%s*a%d", k ? ", " : "", i - 1);
		dr_strbuf_addstr(&sb, "]\n");
	}
	CHECK(load(sb.buf) == NULL);
	CHECK_INT(rc, DR_EINVAL);
	CHECK_INT(dr_diags_len(diags), 1);
	CHECK_STR(diag(0), "5:10: error: alias *a3 expands to more nodes than "
			   "allowed (15800); this looks like an alias bomb, "
			   "use fewer aliases [YAML-ALIAS]");
	/* Well under a second, even with sanitizers. */
	CHECK((double)(clock() - t) / CLOCKS_PER_SEC < 1.0);
	dr_strbuf_release(&sb);
}

TEST(depth_bomb)
{
	dr_strbuf sb = DR_STRBUF_INIT;
	int i;

	for (i = 0; i < 100000; i++)
		dr_strbuf_addch(&sb, '[');
	CHECK(load(sb.buf) == NULL);
	CHECK_INT(rc, DR_EINVAL);
	CHECK_INT(dr_diags_len(diags), 1);
	CHECK_STR(diag(0), "1:257: error: the document nests deeper than 256 "
			   "levels; flatten it [YAML-DEPTH]");

	/* 256 levels are fine. */
	dr_strbuf_reset(&sb);
	for (i = 0; i < 256; i++)
		dr_strbuf_addch(&sb, '[');
	for (i = 0; i < 256; i++)
		dr_strbuf_addch(&sb, ']');
	CHECK(load(sb.buf) != NULL);
	CHECK_INT(rc, 0);

	/* An alias can make it deeper too. */
	dr_strbuf_reset(&sb);
	dr_strbuf_addstr(&sb, "a: &a ");
	for (i = 0; i < 200; i++)
		dr_strbuf_addch(&sb, '[');
	for (i = 0; i < 200; i++)
		dr_strbuf_addch(&sb, ']');
	dr_strbuf_addstr(&sb, "\nb: ");
	for (i = 0; i < 100; i++)
		dr_strbuf_addch(&sb, '[');
	dr_strbuf_addstr(&sb, "*a");
	for (i = 0; i < 100; i++)
		dr_strbuf_addch(&sb, ']');
	load(sb.buf);
	CHECK_INT(rc, DR_EINVAL);
	CHECK_STR(diag(0), "2:104: error: alias *a makes the document nest "
			   "deeper than 256 levels; flatten it [YAML-DEPTH]");
	dr_strbuf_release(&sb);
}

TEST(multi_doc)
{
	const dr_ynode *r = load("a: 1\n---\nb: 2\n");

	CHECK_INT(rc, DR_EINVAL);
	CHECK_INT(dr_diags_len(diags), 1);
	CHECK_STR(diag(0), "2:1: error: the file holds more than one YAML "
			   "document; keep one document per file "
			   "[YAML-MULTI-DOC]");
	CHECK_STR(json(r), "{\"a\":1}");

	/* One explicit document (with its end marker) is fine. */
	r = load("---\na: 1\n...\n");
	CHECK_INT(rc, 0);
	CHECK_STR(json(r), "{\"a\":1}");
}

TEST(syntax_errors)
{
	const dr_diag *g;

	CHECK(load("a: 1\nb: c: d\n") == NULL);
	CHECK_INT(rc, DR_EINVAL);
	CHECK_INT(dr_diags_len(diags), 1);
	CHECK_STR(diag(0), "2:5: error: mapping values are not allowed in this "
			   "context [YAML-SYNTAX]");
	g = dr_diags_get(diags, 0);
	CHECK_STR(g->note, "a value cannot contain \": \" unless it is quoted; "
			   "quote the value or fix the indentation");
	CHECK_STR(g->file, "p.yaml");

	load("a:\n  b: 1\n c: 2\n");
	CHECK_STR(diag(0), "3:2: error: did not find expected key (while "
			   "parsing a block mapping that starts at line 1, "
			   "column 1) [YAML-SYNTAX]");
	CHECK_STR(dr_diags_get(diags, 0)->note,
		  "check the indentation of this line");

	load("a:\n\t- b\n");
	CHECK_STR(diag(0), "2:1: error: found character that cannot start any "
			   "token (while scanning for the next token) "
			   "[YAML-SYNTAX]");
	CHECK_STR(dr_diags_get(diags, 0)->note,
		  "YAML does not allow tabs for indentation; indent with "
		  "spaces");

	load("a: \"unterminated\n");
	CHECK_STR(diag(0), "2:1: error: found unexpected end of stream (while "
			   "scanning a quoted scalar that starts at line 1, "
			   "column 4) [YAML-SYNTAX]");

	/* Positions after multi-byte characters count bytes. */
	load("\xc3\xa9: [1, 2\n");
	CHECK_STR(diag(0), "2:1: error: did not find expected ',' or ']' "
			   "(while parsing a flow sequence that starts at line "
			   "1, column 5) [YAML-SYNTAX]");

	/* Only the first syntax error is reported. */
	load("a: [\nb: ]\n}\n");
	CHECK_INT(dr_diags_len(diags), 1);
}

TEST(encoding)
{
	CHECK(loadn("a: 1\nb: x\0y\n", 11) == NULL);
	CHECK_INT(rc, DR_EINVAL);
	CHECK_INT(dr_diags_len(diags), 1);
	CHECK_STR(diag(0), "2:5: error: the file contains a NUL byte; a YAML "
			   "file must be text, remove it [YAML-ENCODING]");

	CHECK(load("a: 1\nb: caf\xe9\n") == NULL);
	CHECK_STR(diag(0), "2:7: error: the file is not valid UTF-8 "
			   "(incomplete UTF-8 octet sequence); save it as UTF-8 "
			   "[YAML-ENCODING]");

	load("a: \xc3\xa9\xff\n");
	CHECK_STR(diag(0), "1:6: error: the file is not valid UTF-8 (invalid "
			   "leading UTF-8 octet); save it as UTF-8 "
			   "[YAML-ENCODING]");

	load("a: \xc3\n");
	CHECK_STR(diag(0), "1:4: error: the file is not valid UTF-8 (invalid "
			   "trailing UTF-8 octet); save it as UTF-8 "
			   "[YAML-ENCODING]");

	load("a: \x07\n");
	CHECK_STR(diag(0), "1:4: error: control character U+0007 is not "
			   "allowed in YAML; remove it [YAML-ENCODING]");

	loadn("\xff\xfe" "a\0:\0", 6);
	CHECK_STR(diag(0), "1:1: error: the file is UTF-16; save it as UTF-8 "
			   "[YAML-ENCODING]");
}

TEST(empty)
{
	const dr_ynode *r = load("");

	CHECK_INT(rc, 0);
	CHECK(r != NULL);
	CHECK_INT(r->kind, DR_YNODE_SCALAR);
	CHECK_INT(r->type, DR_YSCALAR_NULL);
	CHECK_POS(r, 1, 1);
	CHECK_STR(json(r), "null");
	r = load("# only a comment\n\n");
	CHECK_INT(rc, 0);
	CHECK_INT(r->type, DR_YSCALAR_NULL);
	r = loadn(NULL, 0);
	CHECK_INT(rc, 0);
	CHECK(r != NULL);
}

TEST(pointers)
{
	const dr_ynode *r = load("\"a/b\": {\"m~n\": [x, y]}\n"
				 "\"\": empty\n"
				 "s: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n");
	const dr_ynode *y;

	CHECK_INT(rc, 0);
	y = dr_ynode_at(r, "/a~1b/m~0n/1");
	CHECK(y != NULL);
	CHECK_STR(y ? y->str : NULL, "y");
	CHECK_STR(dr_ynode_path(arena, y), "/a~1b/m~0n/1");
	CHECK(dr_ynode_at(r, "") == r);
	CHECK_STR(dr_ynode_path(arena, r), "");
	CHECK_STR(dr_ynode_at(r, "/")->str, "empty");
	CHECK_STR(dr_ynode_at(r, "/s/10")->str, "10");
	CHECK(dr_ynode_at(r, "/s/11") == NULL);
	CHECK(dr_ynode_at(r, "/s/01") == NULL);
	CHECK(dr_ynode_at(r, "/s/-") == NULL);
	CHECK(dr_ynode_at(r, "/s/1/x") == NULL);
	CHECK(dr_ynode_at(r, "/a~2b") == NULL);
	CHECK(dr_ynode_at(r, "a") == NULL);
	CHECK(dr_ynode_at(r, "/nope") == NULL);
	/* Key nodes have the path of their entry. */
	CHECK_STR(dr_ynode_path(arena, dr_ynode_key(r, "s")), "/s");
	{
		char *p = dr_ynode_path(NULL, y);

		CHECK_STR(p, "/a~1b/m~0n/1");
		free(p);
	}
	CHECK(dr_ynode_get(y, "x") == NULL);
	CHECK(dr_ynode_get(NULL, "x") == NULL);
}

TEST(type_names_and_diag_at)
{
	const dr_ynode *r = load("m:\n  s: [1, 2.5, x, true, ~]\n");
	const dr_diag *g;

	CHECK_STR(dr_ynode_type_name(r), "mapping");
	CHECK_STR(dr_ynode_type_name(dr_ynode_get(r, "m")), "mapping");
	CHECK_STR(dr_ynode_type_name(dr_ynode_at(r, "/m/s")), "sequence");
	CHECK_STR(dr_ynode_type_name(dr_ynode_at(r, "/m/s/0")), "integer");
	CHECK_STR(dr_ynode_type_name(dr_ynode_at(r, "/m/s/1")), "number");
	CHECK_STR(dr_ynode_type_name(dr_ynode_at(r, "/m/s/2")), "string");
	CHECK_STR(dr_ynode_type_name(dr_ynode_at(r, "/m/s/3")), "boolean");
	CHECK_STR(dr_ynode_type_name(dr_ynode_at(r, "/m/s/4")), "null");

	g = dr_diag_at(diags, dr_ynode_at(r, "/m/s/2"), DR_SEV_WARNING,
		       "PLAN-X", "bad %s", "thing");
	CHECK_STR(g->file, "p.yaml");
	CHECK_INT(g->line, 2);
	CHECK_INT(g->col, 15);
	CHECK_STR(g->path, "/m/s/2");
	CHECK_STR(g->message, "bad thing");
	CHECK_STR(g->rule, "PLAN-X");
	CHECK_INT(g->severity, DR_SEV_WARNING);
	g = dr_diag_at(diags, NULL, DR_SEV_ERROR, "PLAN-Y", "none");
	CHECK(g->file == NULL);
	CHECK(g->path == NULL);
	CHECK_INT(g->line, 0);
}

TEST(to_json_round_trip)
{
	const char *src = "{\"a\":[1,2.5,\"x\",true,false,null],"
			  "\"b\":{\"c\":{\"d\":[]},\"e\":{}},"
			  "\"u\":\"\\u00e9\\n\\\"q\\\"\",\"z\":-3}";
	const dr_ynode *r = load(src);
	json_t *want = json_loads(src, 0, NULL), *got = dr_ynode_to_json(r);

	CHECK_INT(rc, 0);
	CHECK(json_equal(want, got));
	/* Key order is kept. */
	CHECK_STR(json(r), "{\"a\":[1,2.5,\"x\",true,false,null],"
			   "\"b\":{\"c\":{\"d\":[]},\"e\":{}},"
			   "\"u\":\"\xc3\xa9\\n\\\"q\\\"\",\"z\":-3}");
	json_decref(want);
	json_decref(got);
}

/* Everything a load leaves: the tree (ynode-dump.h) and the diagnostics. */
static char *load_dump(const char *text, size_t len)
{
	dr_strbuf sb = DR_STRBUF_INIT;
	const dr_ynode *root = loadn(text, len);
	size_t i;

	dr_strbuf_addf(&sb, "rc %d\n", rc);
	ynode_dump(&sb, root);
	for (i = 0; i < dr_diags_len(diags); i++) {
		const dr_diag *g = dr_diags_get(diags, i);

		dr_strbuf_addf(&sb, "\n%s note=%s", diag(i),
			       g->note ? g->note : "-");
	}
	return dr_strbuf_detach(&sb, NULL);
}

/*
 * Large texts are parsed on a second thread (dr_yaml_set_pipe_min): the
 * same texts loaded both ways must leave the same tree and diagnostics,
 * also when loading stops early and far beyond the events in flight.
 */
TEST(piped_same_as_inline)
{
	dr_strbuf base = DR_STRBUF_INIT, t = DR_STRBUF_INIT;
	size_t old = dr_yaml_set_pipe_min(0), k;
	int i;

	/* 30,000 entries (over 60,000 events: many times the ring), with
	 * anchors, aliases, merges, non-ASCII text and a duplicate key. */
	dr_strbuf_addstr(&base, "base: &b {x: 1, y: [a, b]}\n"
				"list:\n");
	for (i = 0; i < 30000; i++)
		dr_strbuf_addf(&base, "  - {<<: *b, n: %d, s: \"\xc3\xa9%d\", "
				      "t: !!str %d}\n", i, i, i);
	dr_strbuf_addstr(&base, "dup: 1\ndup: 2\n");
	for (k = 0; k < 4; k++) {
		char *a, *b;

		dr_strbuf_reset(&t);
		dr_strbuf_add(&t, base.buf, base.len);
		if (k == 1)
			dr_strbuf_addstr(&t, "end: [1, 2\n"); /* syntax error */
		if (k == 2)
			dr_strbuf_addstr(&t, "---\nsecond: doc\n");
		if (k == 3)
			dr_strbuf_setlen(&t, base.len / 2); /* cut mid-line */
		dr_yaml_set_pipe_min((size_t)-1);
		a = load_dump(t.buf, t.len);
		dr_yaml_set_pipe_min(0);
		b = load_dump(t.buf, t.len);
		CHECK_INT(strcmp(a, b), 0);
		if (k == 0 || k == 2)
			CHECK(strlen(a) > 1000000);
		if (k == 2)
			CHECK(strstr(a, "[YAML-MULTI-DOC]") != NULL);
		if (k == 0 || k == 2)
			CHECK(strstr(a, "[YAML-DUPLICATE-KEY]") != NULL);
		if (k == 1)
			CHECK(strstr(a, "30006:1: error: did not find expected "
					"',' or ']' (while parsing a flow sequence "
					"that starts at line 30005, column 6)") != NULL);
		if (k == 3)
			CHECK(strstr(a, "[YAML-SYNTAX]") != NULL);
		free(a);
		free(b);
	}
	dr_yaml_set_pipe_min(old);
	dr_strbuf_release(&base);
	dr_strbuf_release(&t);
}

/*
 * A large text may be cut in two at an item of its long sequence and the
 * halves loaded on two threads (dr_yaml_set_split_min). Where that is
 * exact it must happen, and leave what one pass leaves; where one pass
 * could see something else, the text must be loaded in one pass.
 */
static void items(dr_strbuf *sb, int n, const char *fmt)
{
	int i;

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	for (i = 0; i < n; i++)
		dr_strbuf_addf(sb, fmt, i, i, i);
#pragma GCC diagnostic pop
}

TEST(split_same_as_one_pass)
{
	static const struct {
		const char *head, *item, *tail;
		int split;
	} cases[] = {
		/* Cut: a plan's shape, indented or not, with what may come
		 * right before a cut (an empty value, comments, blank lines,
		 * an empty item), block and multi-line plain scalars, CRLF,
		 * non-ASCII text, tags inside items, nested sequences. */
		{ "apiVersion: drplan/v1\nmachines:\n",
		  "  - name: vm%d\n    disks:\n      - {sizeGiB: %d}\n"
		  "    ip: \"10.0.0.%d\"\n",
		  "groups:\n  - name: g\n", 1 },
		{ "machines:\n", "- name: vm%d\n  tags: [a, %d, %d]\n",
		  "drill: {schedule: \"0 2 * * 6\"}\n", 1 },
		{ "machines:   # all\n",
		  "  - name: vm%d\n    note:\n\n  # comment %d\n  -\n  - %d\n",
		  "", 1 },
		{ "machines:\n", "  - name: vm%d\n    note:\n  # %d %d\n", "",
		  1 },
		{ "machines:\n", "  - - %d\n    - %d %d\n    -\n\n", "", 1 },
		{ "machines:\n",
		  "  - name: vm%d\n    script: |\n      echo %d\n"
		  "      - not an item\n    text: one\n      two %d\n",
		  "end: 1\n", 1 },
		{ "machines:\r\n", "  - name: vm%d\r\n    n: %d %d\r\n", "", 1 },
		{ "\xef\xbb\xbfm:\n",
		  "  - name: caf\xc3\xa9 %d\n    d: \xe2\x80\x94 %d %d\n",
		  "x: \xc3\xa9\n", 1 },
		{ "m:\n", "  - name: !!str %d\n    v: !!float %d.%d\n", "", 1 },
		{ "m:\n", "- - a%d\n  - b%d\n- %d\n", "", 1 },
		/* One pass: an alias (its anchor in the other half), a key at
		 * the top in both halves, a quoted or flow value across the
		 * middle, a syntax error, a second document, warnings, a
		 * merge key at the top, a tag on the sequence, no key line. */
		{ "b: &b {x: 1}\nm:\n", "  - {<<: *b, n: %d, o: %d, p: %d}\n",
		  "", 0 },
		{ "groups: []\nm:\n", "  - n%d%d%d\n", "groups: [x]\n", 0 },
		{ "m:\n  - \"a\n", "  - b%d%d%d\n", "  - c\"\n", 0 },
		{ "m:\n  - [a,\n", "  - b%d%d%d,\n", "  c]\n", 0 },
		{ "m:\n", "  - n%d%d%d\n", "  - [unclosed\nx: 1\n", 0 },
		{ "m:\n", "  - n%d%d%d\n", "---\nother: doc\n", 0 },
		{ "m:\n", "  - !custom n%d%d%d\n", "", 0 },
		{ "<<: {x: 1}\nm:\n", "  - n%d%d%d\n", "x: 2\n", 0 },
		{ "m: !!seq\n", "  - n%d%d%d\n", "", 0 },
		{ "\"m\":\n", "  - n%d%d%d\n", "", 0 },
		{ "m:\n", "  - {n: %d, n: %d%d}\n", "", 0 },
	};
	size_t old_split = dr_yaml_set_split_min((size_t)-1);
	size_t old_pipe = dr_yaml_set_pipe_min((size_t)-1);
	dr_strbuf t = DR_STRBUF_INIT;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned long before;
		char *one, *two;

		dr_strbuf_reset(&t);
		dr_strbuf_addstr(&t, cases[i].head);
		items(&t, 200, cases[i].item);
		dr_strbuf_addstr(&t, cases[i].tail);
		dr_yaml_set_split_min((size_t)-1);
		one = load_dump(t.buf, t.len);
		dr_yaml_set_split_min(0);
		before = dr_yaml_split_count();
		two = load_dump(t.buf, t.len);
		if (strcmp(one, two))
			fprintf(stderr, "case %zu differs\n", i);
		CHECK_INT(strcmp(one, two), 0);
		CHECK_INT((int)(dr_yaml_split_count() - before), cases[i].split);
		free(one);
		free(two);
	}
	dr_yaml_set_split_min(old_split);
	dr_yaml_set_pipe_min(old_pipe);
	dr_strbuf_release(&t);
}

/*
 * Random documents of the shape the split looks for, built from fragments
 * that stress what may sit next to a cut: multi-line scalars of every
 * style, flow collections over several lines, empty values and items,
 * comments and blank lines, tags, anchors, nested sequences, explicit
 * keys, CRLF, non-ASCII text, and a few fragments that must send the text
 * to one pass. Loaded both ways, every document must give the same dump.
 */
static const char *const fragments[] = {
	"- name: vm@\n  disks:\n    - {sizeGiB: 64}\n",
	"- \"quoted @\"\n",
	"- 'single @\n  continued'\n",
	"- [a@, b,\n   c]\n",
	"- {x: @,\n   y: 2}\n",
	"- |\n  block @\n   more\n\n",
	"- >-\n  folded @\n\n  para\n",
	"-\n",
	"- key@:\n",
	"- key: @\n  other:\n    - nested\n    -\n  x: ~\n",
	"- plain @\n  continued line\n",
	"# comment @\n",
	"  # indented comment @\n",
	"\n",
	"   \n",
	"- !!str @\n",
	"- !!int 5@\n",
	"- 0x1F@\n",
	"- .inf\n",
	"- yes@\n",
	"- key: value @ # comment\n",
	"- ? complex @\n  : value\n",
	"- a@: &anc@ 1\n",
	"- \"caf\xc3\xa9 @\"\n",
	"- \"multi @\n  line\"\n",
	"- - nested @\n  - seq\n",
	"- n: @\n  t: \"\\t\\u00e9\"\n",
	/* These send the text to one pass. */
	"- {a: @, a: 2}\n",
	"- *nope@\n",
	"- !custom @\n",
};

static unsigned long long rnd_state;

static unsigned rnd(unsigned n)
{
	rnd_state = rnd_state * 6364136223846793005ull + 1442695040888963407ull;
	return (unsigned)(rnd_state >> 33) % n;
}

static void add_fragment(dr_strbuf *sb, const char *frag, size_t k, int id)
{
	const char *f;
	size_t i;

	for (f = frag; *f; f++) {
		if (f == frag || f[-1] == '\n') {
			if (*f != '\n')
				for (i = 0; i < k; i++)
					dr_strbuf_addch(sb, ' ');
		}
		if (*f == '@')
			dr_strbuf_addf(sb, "%d", id);
		else
			dr_strbuf_addch(sb, *f);
	}
}

TEST(split_random_documents)
{
	size_t old_split = dr_yaml_set_split_min((size_t)-1);
	size_t old_pipe = dr_yaml_set_pipe_min((size_t)-1);
	size_t nfrag = sizeof(fragments) / sizeof(fragments[0]);
	dr_strbuf t = DR_STRBUF_INIT, u = DR_STRBUF_INIT;
	unsigned long splits = 0;
	int doc;

	rnd_state = 20261125;
	for (doc = 0; doc < 400; doc++) {
		size_t k = (size_t)rnd(3) * 2, i, n = 20 + rnd(60);
		int safe = rnd(4) != 0; /* most documents only split-safe */
		unsigned long before;
		char *one, *two;

		dr_strbuf_reset(&t);
		if (rnd(5) == 0)
			dr_strbuf_addstr(&t, rnd(2) ? "%YAML 1.2\n---\n" : "---\n");
		if (rnd(2))
			dr_strbuf_addstr(&t, "apiVersion: drplan/v1\nmeta: {a: 1}\n");
		dr_strbuf_addstr(&t, rnd(4) ? "machines:\n" : "machines:  # all\n");
		for (i = 0; i < n; i++) {
			size_t f = rnd((unsigned)(safe ? nfrag - 3 : nfrag));

			/* Start with an item, so the sequence is one. */
			if (i == 0 && (fragments[f][0] != '-'))
				f = 0;
			add_fragment(&t, fragments[f], k, (int)i);
		}
		if (rnd(2))
			dr_strbuf_addstr(&t, "groups:\n  - name: g\ndrill: {}\n");
		if (rnd(6) == 0) {
			/* CRLF line ends everywhere. */
			dr_strbuf_reset(&u);
			for (i = 0; i < t.len; i++) {
				if (t.buf[i] == '\n')
					dr_strbuf_addch(&u, '\r');
				dr_strbuf_addch(&u, t.buf[i]);
			}
			dr_strbuf_reset(&t);
			dr_strbuf_add(&t, u.buf, u.len);
		}
		dr_yaml_set_split_min((size_t)-1);
		one = load_dump(t.buf, t.len);
		dr_yaml_set_split_min(0);
		before = dr_yaml_split_count();
		two = load_dump(t.buf, t.len);
		splits += dr_yaml_split_count() - before;
		if (strcmp(one, two))
			fprintf(stderr, "document %d differs:\n%s\n", doc, t.buf);
		CHECK_INT(strcmp(one, two), 0);
		free(one);
		free(two);
	}
	/* The shapes are common enough that many documents were split. */
	fprintf(stderr, "split_random_documents: %lu of 400 split\n", splits);
	CHECK(splits >= 250);
	dr_yaml_set_split_min(old_split);
	dr_yaml_set_pipe_min(old_pipe);
	dr_strbuf_release(&t);
	dr_strbuf_release(&u);
}

static void run_all(void)
{
	RUN(positions_block);
	RUN(positions_flow_and_utf8);
	RUN(positions_line_breaks);
	RUN(positions_bom_crlf);
	RUN(typing_table);
	RUN(typing_errors);
	RUN(duplicate_keys);
	RUN(duplicate_keys_large_map);
	RUN(key_type);
	RUN(merge_keys);
	RUN(aliases_copy);
	RUN(alias_bomb);
	RUN(depth_bomb);
	RUN(multi_doc);
	RUN(syntax_errors);
	RUN(encoding);
	RUN(empty);
	RUN(pointers);
	RUN(type_names_and_diag_at);
	RUN(to_json_round_trip);
	RUN(duplicate_keys_interned);
}

int main(void)
{
	size_t old;

	run_all();
	/* Again with every text parsed on a second thread. */
	old = dr_yaml_set_pipe_min(0);
	run_all();
	dr_yaml_set_pipe_min(old);
	/* Again with every text tried in two halves. */
	old = dr_yaml_set_split_min(0);
	run_all();
	dr_yaml_set_split_min(old);
	RUN(piped_same_as_inline);
	RUN(split_same_as_one_pass);
	RUN(split_random_documents);
	dr_diags_free(diags);
	dr_arena_free(arena);
	return test_summary();
}
