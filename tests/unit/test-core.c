#include "core/arena.h"
#include "core/diag.h"
#include "core/error.h"
#include "core/parse.h"
#include "core/strbuf.h"
#include "test.h"

#include <stdint.h>

TEST(strbuf_basic)
{
	dr_strbuf sb = DR_STRBUF_INIT;

	CHECK_STR(sb.buf, "");
	dr_strbuf_addstr(&sb, "abc");
	dr_strbuf_addf(&sb, "-%d", 42);
	CHECK_STR(sb.buf, "abc-42");
	CHECK_INT(sb.len, 6);
	dr_strbuf_setlen(&sb, 2);
	CHECK_STR(sb.buf, "ab");
	dr_strbuf_release(&sb);
	CHECK_STR(sb.buf, "");
}

TEST(strbuf_max)
{
	dr_strbuf sb = DR_STRBUF_INIT;

	sb.max = 4;
	CHECK_INT(dr_strbuf_addstr(&sb, "abcd"), 0);
	CHECK_INT(dr_strbuf_addch(&sb, 'e'), DR_ELIMIT);
	CHECK_STR(sb.buf, "abcd");
	dr_strbuf_release(&sb);
}

/* addf formats into the free space first: each way out of that path. */
TEST(strbuf_addf_paths)
{
	dr_strbuf sb = DR_STRBUF_INIT;
	char big[1000];
	size_t i, len;

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	/* Empty buffer, longer than the stack scratch. */
	CHECK_INT(dr_strbuf_addf(&sb, "<%s>", big), 0);
	CHECK_INT(sb.len, 1001);
	CHECK(sb.buf[0] == '<' && sb.buf[1000] == '>' && sb.buf[1001] == '\0');
	dr_strbuf_release(&sb);
	/* Many small ones: some fit the free space, some grow it. */
	for (i = 0; i < 500; i++)
		CHECK_INT(dr_strbuf_addf(&sb, "%zu,", i % 10), 0);
	CHECK_INT(sb.len, 1000);
	CHECK(!memcmp(sb.buf, "0,1,2,3,4,5,6,7,8,9,0,", 22));
	CHECK_STR(sb.buf + 980, "0,1,2,3,4,5,6,7,8,9,");
	/* Room in the buffer but not under max: refused, buffer unchanged. */
	len = sb.len;
	sb.max = len + 3;
	CHECK_INT(dr_strbuf_addf(&sb, "%s", "abcd"), DR_ELIMIT);
	CHECK_INT(sb.len, len);
	CHECK_STR(sb.buf + 980, "0,1,2,3,4,5,6,7,8,9,");
	CHECK_INT(dr_strbuf_addf(&sb, "%s", "abc"), 0);
	CHECK_STR(sb.buf + 980, "0,1,2,3,4,5,6,7,8,9,abc");
	dr_strbuf_release(&sb);
	/* An empty buffer with a max. */
	sb.max = 3;
	CHECK_INT(dr_strbuf_addf(&sb, "%d", 1234), DR_ELIMIT);
	CHECK_STR(sb.buf, "");
	CHECK_INT(dr_strbuf_addf(&sb, "%d", 123), 0);
	CHECK_STR(sb.buf, "123");
	dr_strbuf_release(&sb);
}

TEST(strbuf_escape)
{
	dr_strbuf sb = DR_STRBUF_INIT;

	dr_strbuf_add_json_escaped(&sb, "a\"b\\\n\x01");
	CHECK_STR(sb.buf, "a\\\"b\\\\\\n\\u0001");
	dr_strbuf_reset(&sb);
	dr_strbuf_add_xml_escaped(&sb, "<a&'\">");
	CHECK_STR(sb.buf, "&lt;a&amp;&apos;&quot;&gt;");
	dr_strbuf_release(&sb);
}

TEST(arena)
{
	dr_arena *a = dr_arena_new();
	char *s = dr_arena_strdup(a, "hello");
	int i;

	CHECK_STR(s, "hello");
	CHECK_STR(dr_arena_printf(a, "%s-%d", s, 7), "hello-7");
	for (i = 0; i < 10000; i++)
		CHECK(((uintptr_t)dr_arena_alloc(a, (size_t)i % 97 + 1) & 15) == 0);
	CHECK(dr_arena_alloc(a, 1 << 20) != NULL);
	CHECK(dr_arena_reserved(a) >= dr_arena_used(a));
	dr_arena_free(a);
}

TEST(duration)
{
	uint64_t ms;
	char buf[32];

	CHECK_INT(dr_parse_duration("90s", &ms), 0);
	CHECK_INT(ms, 90000);
	CHECK_INT(dr_parse_duration("1h30m", &ms), 0);
	CHECK_INT(ms, 5400000);
	CHECK_INT(dr_parse_duration("2d", &ms), 0);
	CHECK_INT(ms, 172800000);
	CHECK_INT(dr_parse_duration("250ms", &ms), 0);
	CHECK_INT(ms, 250);
	CHECK_INT(dr_parse_duration("1m500ms", &ms), 0);
	CHECK_INT(ms, 60500);
	CHECK_INT(dr_parse_duration("", &ms), DR_EINVAL);
	CHECK_INT(dr_parse_duration("5", &ms), DR_EINVAL);
	CHECK_INT(dr_parse_duration("m", &ms), DR_EINVAL);
	CHECK_INT(dr_parse_duration("30m1h", &ms), DR_EINVAL);
	CHECK_INT(dr_parse_duration("5m5m", &ms), DR_EINVAL);
	CHECK_INT(dr_parse_duration("5 m", &ms), DR_EINVAL);
	CHECK_INT(dr_parse_duration("5min", &ms), DR_EINVAL);
	CHECK_INT(dr_parse_duration("99999999999999999999d", &ms), DR_EINVAL);
	dr_format_duration(5400000, buf, sizeof(buf));
	CHECK_STR(buf, "1h30m");
	dr_format_duration(0, buf, sizeof(buf));
	CHECK_STR(buf, "0s");
	dr_format_duration(1500, buf, sizeof(buf));
	CHECK_STR(buf, "1s500ms");
	dr_format_duration(UINT64_MAX, buf, sizeof(buf));
	CHECK_STR(buf, "213503982334d14h25m51s615ms");
	/* A short buffer keeps the prefix that fits, like snprintf. */
	dr_format_duration(5400000, buf, 5);
	CHECK_STR(buf, "1h30");
	dr_format_duration(0, buf, 2);
	CHECK_STR(buf, "0");
	dr_format_duration(86400000, buf, 1);
	CHECK_STR(buf, "");
}

TEST(ipv4)
{
	uint32_t a;
	int p;
	char buf[20];

	CHECK_INT(dr_parse_ipv4("10.20.1.10", &a), 0);
	CHECK_INT(a, 0x0a14010a);
	dr_format_ipv4(a, buf, sizeof(buf));
	CHECK_STR(buf, "10.20.1.10");
	CHECK_INT(dr_parse_ipv4("256.1.1.1", &a), DR_EINVAL);
	CHECK_INT(dr_parse_ipv4("1.2.3", &a), DR_EINVAL);
	CHECK_INT(dr_parse_ipv4("1.2.3.4.5", &a), DR_EINVAL);
	CHECK_INT(dr_parse_ipv4("01.2.3.4", &a), DR_EINVAL);
	CHECK_INT(dr_parse_ipv4("1.2.3.4 ", &a), DR_EINVAL);
	CHECK_INT(dr_parse_ipv4("", &a), DR_EINVAL);
	CHECK_INT(dr_parse_cidr("10.20.0.0/16", &a, &p), 0);
	CHECK_INT(p, 16);
	CHECK_INT(dr_parse_cidr("10.20.1.0/16", &a, &p), DR_EINVAL);
	CHECK_INT(dr_parse_cidr("10.20.0.0/33", &a, &p), DR_EINVAL);
	CHECK_INT(dr_parse_cidr("10.20.0.0", &a, &p), DR_EINVAL);
	CHECK_INT(dr_parse_cidr("0.0.0.0/0", &a, &p), 0);
	CHECK_INT(dr_prefix_mask(24), 0xffffff00u);
}

TEST(edit_distance)
{
	CHECK_INT(dr_edit_distance("machines", "machine", 3), 1);
	CHECK_INT(dr_edit_distance("recoveryPiont", "recoveryPoint", 3), 2);
	CHECK_INT(dr_edit_distance("abc", "xyzxyzxyz", 3), 4);
}

TEST(diags_sort)
{
	dr_diags *d = dr_diags_new();
	const char text[] = "line one\nline two\r\nline three";
	size_t len;
	const char *l;

	dr_diags_add(d, DR_SEV_WARNING, "B", "f.yaml", 2, 1, NULL, "w");
	dr_diags_add(d, DR_SEV_ERROR, "A", "f.yaml", 1, 5, "/x", "e %d", 1);
	dr_diags_add(d, DR_SEV_ERROR, "A", "f.yaml", 1, 5, "/x", "e %d", 1);
	/* One token reached through an alias: same position, other path. */
	dr_diags_add(d, DR_SEV_ERROR, "A", "f.yaml", 1, 5, "/w", "e %d", 1);
	/* No position: the path is what tells them apart. */
	dr_diags_add(d, DR_SEV_ERROR, "C", "f.yaml", 0, 0, "/y", "e");
	dr_diags_add(d, DR_SEV_ERROR, "C", "f.yaml", 0, 0, "/z", "e");
	dr_diags_sort(d);
	CHECK_INT(dr_diags_len(d), 4);
	CHECK_STR(dr_diags_get(d, 0)->rule, "C");
	CHECK_STR(dr_diags_get(d, 0)->path, "/y");
	CHECK_STR(dr_diags_get(d, 1)->path, "/z");
	CHECK_STR(dr_diags_get(d, 2)->message, "e 1");
	CHECK_STR(dr_diags_get(d, 2)->path, "/w");
	CHECK_INT(dr_diags_count(d, DR_SEV_ERROR), 3);
	dr_diags_add_source(d, "f.yaml", text, sizeof(text) - 1);
	l = dr_diags_source_line(d, "f.yaml", 2, &len);
	CHECK(l && len == 8 && !strncmp(l, "line two", 8));
	l = dr_diags_source_line(d, "f.yaml", 3, &len);
	CHECK(l && len == 10);
	CHECK(dr_diags_source_line(d, "f.yaml", 4, &len) == NULL);
	dr_diags_free(d);
}

/* Work done on the side: moved over in order, with its sources, and
 * belonging to the plan the list was for when it was made. */
TEST(diags_move)
{
	dr_diags *d = dr_diags_new(), *side;
	size_t len = 0;
	const char *line;

	dr_diags_set_origin(d, "a.yaml");
	dr_diags_add(d, DR_SEV_ERROR, "R1", "a.yaml", 1, 1, NULL, "first");
	side = dr_diags_new_like(d);
	dr_diags_set_origin(d, "b.yaml");
	dr_diags_add_source(side, "inv.json", "{\n  \"x\": 1\n}\n", 13);
	dr_diags_add(side, DR_SEV_WARNING, "R2", "inv.json", 2, 3, "/x", "second");
	dr_diags_add(side, DR_SEV_INFO, "R3", NULL, 0, 0, NULL, "third");
	dr_diags_move(d, side);
	CHECK_INT(dr_diags_len(side), 0);
	dr_diags_move(d, side); /* nothing left to move */
	dr_diags_free(side);
	CHECK_INT(dr_diags_len(d), 3);
	CHECK_STR(dr_diags_get(d, 1)->message, "second");
	CHECK_STR(dr_diags_get(d, 1)->path, "/x");
	CHECK_STR(dr_diags_get(d, 1)->origin, "a.yaml");
	CHECK_STR(dr_diags_get(d, 2)->message, "third");
	line = dr_diags_source_line(d, "inv.json", 2, &len);
	CHECK(line != NULL);
	CHECK_INT(len, 8);
	CHECK(line && !strncmp(line, "  \"x\": 1", len));
	dr_diags_free(d);
}

int main(void)
{
	RUN(strbuf_basic);
	RUN(strbuf_max);
	RUN(strbuf_addf_paths);
	RUN(strbuf_escape);
	RUN(arena);
	RUN(duration);
	RUN(ipv4);
	RUN(edit_distance);
	RUN(diags_sort);
	RUN(diags_move);
	return test_summary();
}
