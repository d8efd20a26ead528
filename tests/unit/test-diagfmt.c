#include "core/error.h"
#include "core/strbuf.h"
#include "report/diagfmt.h"
#include "test.h"

#include "../diagfmt/sample.h"

#include <stdlib.h>

static char *render(const dr_diags *d, dr_diagfmt fmt, const dr_diagfmt_opts *o)
{
	dr_strbuf sb = DR_STRBUF_INIT;
	int rc = dr_diags_render(d, fmt, o, &sb);

	CHECK_INT(rc, 0);
	return dr_strbuf_detach(&sb, NULL);
}

/* Compare and, on a mismatch, show where the two part. */
#define CHECK_OUT(got, want)                                                   \
	do {                                                                   \
		char *g_ = (got);                                              \
		const char *w_ = (want);                                       \
		if (strcmp(g_, w_)) {                                          \
			size_t i_ = 0;                                         \
			while (g_[i_] && g_[i_] == w_[i_])                     \
				i_++;                                          \
			fprintf(stderr, "%s:%d: output differs at byte %zu:\n" \
				"--- got:\n%s\n--- want:\n%s\n",               \
				__FILE__, __LINE__, i_, g_ + i_, w_ + i_);     \
			test_failed_checks++;                                  \
		}                                                              \
		free(g_);                                                      \
	} while (0)

static const char want_text[] =
	"drplan: error: cannot read 'x' & <y> [DR-IO]\n"
	"inventory/erp.json:1:11: error: items must be objects [INV-ITEMS]\n"
	"    1 | {\"items\": [1, 2]}\n"
	"      |           ^\n"
	"plans/erp.yaml:3:3: info: one machine [PLAN-ITEM]\n"
	"    3 |   - name: sql01\n"
	"      |   ^\n"
	"plans/erp.yaml:3:5: error: name too short [PLAN-NAME]\n"
	"    3 |   - name: sql01\n"
	"      |     ^~~~\n"
	"plans/erp.yaml:4:21: error: \"Standard_E8s_v5x\" is not a known Azure VM size [AZ-SIZE-UNKNOWN]\n"
	"    4 |     target: { size: Standard_E8s_v5x }\n"
	"      |                     ^~~~~~~~~~~~~~~~\n"
	"note: did you mean \"Standard_E8s_v5\"?\n"
	"plans/erp.yaml:5:9: warning: odd note <&> \"here\"\n"
	"second line [PLAN-NOTE]\n"
	"    5 | \t\tnote: \"a \\\"b\\\" <c>\" # comment\n"
	"      | \t\t      ^~~~~~~~~~~~~\n"
	"plans/erp.yaml:6:10: error: accents [PLAN-UTF8]\n"
	"    6 |   h\xc3\xb4te: \xc3\xa9t\xc3\xa9 d'\xc3\xa9t\xc3\xa9, x\n"
	"      |         ^~~~~~~~~\n"
	"plans/erp.yaml:7:7: warning: not an IP [PLAN-QUOTE]\n"
	"    7 |   ip: 'it''s' \n"
	"      |       ^~~~~~~\n"
	"5 errors, 2 warnings\n";

static const char want_json[] =
	"{\n"
	"  \"version\": 1,\n"
	"  \"diagnostics\": [\n"
	"    {\"file\": null, \"line\": null, \"column\": null, \"severity\": \"error\", \"rule\": \"DR-IO\", \"message\": \"cannot read 'x' & <y>\", \"path\": null, \"note\": null},\n"
	"    {\"file\": \"inventory/erp.json\", \"line\": 1, \"column\": 11, \"severity\": \"error\", \"rule\": \"INV-ITEMS\", \"message\": \"items must be objects\", \"path\": \"/items\", \"note\": null},\n"
	"    {\"file\": \"plans/erp.yaml\", \"line\": 3, \"column\": 3, \"severity\": \"info\", \"rule\": \"PLAN-ITEM\", \"message\": \"one machine\", \"path\": \"/machines/0\", \"note\": null},\n"
	"    {\"file\": \"plans/erp.yaml\", \"line\": 3, \"column\": 5, \"severity\": \"error\", \"rule\": \"PLAN-NAME\", \"message\": \"name too short\", \"path\": \"/machines/0/name\", \"note\": null},\n"
	"    {\"file\": \"plans/erp.yaml\", \"line\": 4, \"column\": 21, \"severity\": \"error\", \"rule\": \"AZ-SIZE-UNKNOWN\", \"message\": \"\\\"Standard_E8s_v5x\\\" is not a known Azure VM size\", \"path\": \"/machines/0/target/size\", \"note\": \"did you mean \\\"Standard_E8s_v5\\\"?\"},\n"
	"    {\"file\": \"plans/erp.yaml\", \"line\": 5, \"column\": 9, \"severity\": \"warning\", \"rule\": \"PLAN-NOTE\", \"message\": \"odd note <&> \\\"here\\\"\\nsecond line\", \"path\": \"/note\", \"note\": null},\n"
	"    {\"file\": \"plans/erp.yaml\", \"line\": 6, \"column\": 10, \"severity\": \"error\", \"rule\": \"PLAN-UTF8\", \"message\": \"accents\", \"path\": \"/h\xc3\xb4te\", \"note\": null},\n"
	"    {\"file\": \"plans/erp.yaml\", \"line\": 7, \"column\": 7, \"severity\": \"warning\", \"rule\": \"PLAN-QUOTE\", \"message\": \"not an IP\", \"path\": \"/ip\", \"note\": null}\n"
	"  ],\n"
	"  \"errors\": 5,\n"
	"  \"warnings\": 2\n"
	"}\n";

static const char want_junit[] =
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	"<testsuites name=\"drplan\" tests=\"4\" failures=\"3\" errors=\"0\">\n"
	"  <testsuite name=\"drplan validate\" tests=\"4\" failures=\"3\" errors=\"0\" skipped=\"0\">\n"
	"    <testcase classname=\"plans/erp.yaml\" name=\"plans/erp.yaml\">\n"
	"      <failure message=\"name too short\" type=\"PLAN-NAME\">plans/erp.yaml:3:5: error: name too short [PLAN-NAME]</failure>\n"
	"      <failure message=\"&quot;Standard_E8s_v5x&quot; is not a known Azure VM size\" type=\"AZ-SIZE-UNKNOWN\">plans/erp.yaml:4:21: error: &quot;Standard_E8s_v5x&quot; is not a known Azure VM size [AZ-SIZE-UNKNOWN]\n"
	"note: did you mean &quot;Standard_E8s_v5&quot;?</failure>\n"
	"      <failure message=\"accents\" type=\"PLAN-UTF8\">plans/erp.yaml:6:10: error: accents [PLAN-UTF8]</failure>\n"
	"      <system-out>plans/erp.yaml:3:3: info: one machine [PLAN-ITEM]\n"
	"plans/erp.yaml:5:9: warning: odd note &lt;&amp;&gt; &quot;here&quot;\n"
	"second line [PLAN-NOTE]\n"
	"plans/erp.yaml:7:7: warning: not an IP [PLAN-QUOTE]\n"
	"</system-out>\n"
	"    </testcase>\n"
	"    <testcase classname=\"plans/clean.yaml\" name=\"plans/clean.yaml\"/>\n"
	"    <testcase classname=\"inventory/erp.json\" name=\"inventory/erp.json\">\n"
	"      <failure message=\"items must be objects\" type=\"INV-ITEMS\">inventory/erp.json:1:11: error: items must be objects [INV-ITEMS]</failure>\n"
	"    </testcase>\n"
	"    <testcase classname=\"drplan\" name=\"drplan\">\n"
	"      <failure message=\"cannot read &apos;x&apos; &amp; &lt;y&gt;\" type=\"DR-IO\">drplan: error: cannot read &apos;x&apos; &amp; &lt;y&gt; [DR-IO]</failure>\n"
	"    </testcase>\n"
	"  </testsuite>\n"
	"</testsuites>\n";

static dr_diagfmt_opts sample_opts(void)
{
	dr_diagfmt_opts o = { 0 };

	o.files = sample_files;
	o.nfiles = 2;
	o.summary = 1;
	return o;
}

TEST(text)
{
	dr_diags *d = sample_diags();
	dr_diagfmt_opts o = sample_opts();

	CHECK_OUT(render(d, DR_DIAGFMT_TEXT, &o), want_text);
	dr_diags_free(d);
}

TEST(text_color_and_summary)
{
	static const char src[] = "a: b\n";
	dr_diags *d = dr_diags_new();
	dr_diagfmt_opts o = { 0 };
	dr_diag *g;

	dr_diags_add_source(d, "p.yaml", src, sizeof(src) - 1);
	g = dr_diags_add(d, DR_SEV_ERROR, "R-1", "p.yaml", 1, 4, NULL, "bad");
	dr_diag_note(g, "try c");
	dr_diags_add(d, DR_SEV_WARNING, "R-2", "p.yaml", 1, 1, NULL, "meh");
	dr_diags_add(d, DR_SEV_INFO, "R-3", "p.yaml", 2, 0, NULL, "fyi");
	dr_diags_add(d, DR_SEV_WARNING, "R-4", "q.yaml", 0, 0, NULL, "nofile");
	dr_diags_sort(d);
	o.color = 1;
	o.summary = 1;
	CHECK_OUT(render(d, DR_DIAGFMT_TEXT, &o),
		"\033[1mp.yaml:1:1:\033[0m \033[1;35mwarning:\033[0m meh [R-2]\n"
		"    1 | a: b\n"
		"      | \033[1;32m^\033[0m\n"
		"\033[1mp.yaml:1:4:\033[0m \033[1;31merror:\033[0m bad [R-1]\n"
		"    1 | a: b\n"
		"      |    \033[1;32m^\033[0m\n"
		"\033[1;36mnote:\033[0m try c\n"
		"\033[1mp.yaml:2:\033[0m \033[1;36minfo:\033[0m fyi [R-3]\n"
		"    2 | \n"
		"\033[1mq.yaml:\033[0m \033[1;35mwarning:\033[0m nofile [R-4]\n"
		"1 error, 2 warnings\n");
	o.color = 0;
	o.summary = 0;
	CHECK_OUT(render(d, DR_DIAGFMT_TEXT, &o),
		"p.yaml:1:1: warning: meh [R-2]\n"
		"    1 | a: b\n"
		"      | ^\n"
		"p.yaml:1:4: error: bad [R-1]\n"
		"    1 | a: b\n"
		"      |    ^\n"
		"note: try c\n"
		"p.yaml:2: info: fyi [R-3]\n"
		"    2 | \n"
		"q.yaml: warning: nofile [R-4]\n");
	dr_diags_free(d);

	d = dr_diags_new();
	o.summary = 1;
	CHECK_OUT(render(d, DR_DIAGFMT_TEXT, &o), "0 errors, 0 warnings\n");
	dr_diags_add(d, DR_SEV_ERROR, "R", NULL, 0, 0, NULL, "x");
	dr_diags_add(d, DR_SEV_WARNING, "R", NULL, 0, 0, NULL, "y");
	CHECK_OUT(render(d, DR_DIAGFMT_TEXT, &o),
		  "drplan: error: x [R]\ndrplan: warning: y [R]\n"
		  "1 error, 1 warning\n");
	o.summary = 0;
	dr_diags_free(d);
	d = dr_diags_new();
	CHECK_OUT(render(d, DR_DIAGFMT_TEXT, &o), "");
	dr_diags_free(d);
}

TEST(text_source_edge_cases)
{
	static const char src[] = "\xef\xbb\xbfkey: v # c\n"
				  "x: [a,b]\n"
				  "short\n"
				  "s: \"unterminated\n";
	dr_strbuf big = DR_STRBUF_INIT;
	dr_diags *d = dr_diags_new();
	dr_diagfmt_opts o = { 0 };
	int i;

	dr_diags_add_source(d, "p.yaml", src, sizeof(src) - 1);
	/* The BOM is not shown and not counted. */
	dr_diags_add(d, DR_SEV_ERROR, "R", "p.yaml", 1, 6, NULL, "bom");
	dr_diags_add(d, DR_SEV_ERROR, "R", "p.yaml", 2, 7, NULL, "flow");
	/* Past the end of the line: the caret goes after it. */
	dr_diags_add(d, DR_SEV_ERROR, "R", "p.yaml", 3, 9, NULL, "eol");
	dr_diags_add(d, DR_SEV_ERROR, "R", "p.yaml", 4, 4, NULL, "open");
	/* A line the source does not have: no quote. */
	dr_diags_add(d, DR_SEV_ERROR, "R", "p.yaml", 9, 1, NULL, "none");
	CHECK_OUT(render(d, DR_DIAGFMT_TEXT, &o),
		"p.yaml:1:6: error: bom [R]\n"
		"    1 | key: v # c\n"
		"      |      ^\n"
		"p.yaml:2:7: error: flow [R]\n"
		"    2 | x: [a,b]\n"
		"      |       ^\n"
		"p.yaml:3:9: error: eol [R]\n"
		"    3 | short\n"
		"      |         ^\n"
		"p.yaml:4:4: error: open [R]\n"
		"    4 | s: \"unterminated\n"
		"      |    ^~~~~~~~~~~~~\n"
		"p.yaml:9:1: error: none [R]\n");
	dr_diags_free(d);

	/* A long line is quoted around the column only. */
	for (i = 0; i < 100; i++)
		dr_strbuf_addstr(&big, "{\"k\": 1}, ");
	d = dr_diags_new();
	dr_diags_add_source(d, "m.json", big.buf, big.len);
	dr_diags_add(d, DR_SEV_ERROR, "R", "m.json", 1, 501, NULL, "deep");
	CHECK_OUT(render(d, DR_DIAGFMT_TEXT, &o),
		"m.json:1:501: error: deep [R]\n"
		"    1 | ...{\"k\": 1}, {\"k\": 1}, {\"k\": 1}, {\"k\": 1}, {\"k\": 1}, {\"k\": 1}, {\"k\": 1}, {\"k\": 1}, {\"k\": 1}, {\"k\": 1}, {\"k\": 1}, {\"k\": 1}, {\"k\": 1}, {\"k\": 1}, {\"k\": 1}, {\"k\": 1}, {\"k\": 1}, {\"k\": 1}, {\"k\": 1}, {\"k\": 1}, {\"k\": 1}, {\"k\": 1}, {\"k\": 1}, {\"k\": 1}, ...\n"
		"      |                                                                                    ^\n");
	dr_diags_free(d);
	dr_strbuf_release(&big);
}

TEST(json)
{
	dr_diags *d = sample_diags();

	CHECK_OUT(render(d, DR_DIAGFMT_JSON, NULL), want_json);
	dr_diags_free(d);
	d = dr_diags_new();
	CHECK_OUT(render(d, DR_DIAGFMT_JSON, NULL),
		  "{\n  \"version\": 1,\n  \"diagnostics\": [],\n"
		  "  \"errors\": 0,\n  \"warnings\": 0\n}\n");
	dr_diags_free(d);
}

TEST(junit)
{
	dr_diags *d = sample_diags();
	dr_diagfmt_opts o = sample_opts();

	CHECK_OUT(render(d, DR_DIAGFMT_JUNIT, &o), want_junit);
	dr_diags_free(d);

	d = dr_diags_new();
	dr_diags_add(d, DR_SEV_WARNING, "W-1", "a.yaml", 2, 3, NULL,
		     "tab\there\x01 \xff");
	o.strict = 1;
	CHECK_OUT(render(d, DR_DIAGFMT_JUNIT, &o),
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<testsuites name=\"drplan\" tests=\"3\" failures=\"1\" errors=\"0\">\n"
		"  <testsuite name=\"drplan validate\" tests=\"3\" failures=\"1\" errors=\"0\" skipped=\"0\">\n"
		"    <testcase classname=\"plans/erp.yaml\" name=\"plans/erp.yaml\"/>\n"
		"    <testcase classname=\"plans/clean.yaml\" name=\"plans/clean.yaml\"/>\n"
		"    <testcase classname=\"a.yaml\" name=\"a.yaml\">\n"
		"      <failure message=\"tab&#9;here\xef\xbf\xbd \xef\xbf\xbd\" type=\"W-1\">a.yaml:2:3: warning: tab\there\xef\xbf\xbd \xef\xbf\xbd [W-1]</failure>\n"
		"    </testcase>\n"
		"  </testsuite>\n"
		"</testsuites>\n");
	o.nfiles = 0;
	dr_diags_free(d);
	d = dr_diags_new();
	CHECK_OUT(render(d, DR_DIAGFMT_JUNIT, &o),
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<testsuites name=\"drplan\" tests=\"0\" failures=\"0\" errors=\"0\">\n"
		"  <testsuite name=\"drplan validate\" tests=\"0\" failures=\"0\" errors=\"0\" skipped=\"0\">\n"
		"  </testsuite>\n"
		"</testsuites>\n");
	dr_diags_free(d);
}

static const char *desc(const char *id)
{
	return !strcmp(id, "AZ-1") ? "Known sizes only" : NULL;
}

/* A finding in a shared inventory fails every plan that uses it. */
TEST(junit_origin)
{
	static const char *const files[] = { "a.yaml", "b.yaml" };
	dr_diagfmt_opts o = { .files = files, .nfiles = 2 };
	dr_diags *d = dr_diags_new();

	dr_diags_set_origin(d, "a.yaml");
	dr_diags_add(d, DR_SEV_ERROR, "INV-SCHEMA", "inv.json", 4, 2, NULL, "bad");
	dr_diags_set_origin(d, "b.yaml");
	dr_diags_add(d, DR_SEV_ERROR, "INV-SCHEMA", "inv.json", 4, 2, NULL, "bad");
	dr_diags_sort(d);
	CHECK_INT(dr_diags_len(d), 2);
	CHECK_OUT(render(d, DR_DIAGFMT_JUNIT, &o),
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<testsuites name=\"drplan\" tests=\"2\" failures=\"2\" errors=\"0\">\n"
		"  <testsuite name=\"drplan validate\" tests=\"2\" failures=\"2\" errors=\"0\" skipped=\"0\">\n"
		"    <testcase classname=\"a.yaml\" name=\"a.yaml\">\n"
		"      <failure message=\"bad\" type=\"INV-SCHEMA\">inv.json:4:2: error: bad [INV-SCHEMA]</failure>\n"
		"    </testcase>\n"
		"    <testcase classname=\"b.yaml\" name=\"b.yaml\">\n"
		"      <failure message=\"bad\" type=\"INV-SCHEMA\">inv.json:4:2: error: bad [INV-SCHEMA]</failure>\n"
		"    </testcase>\n"
		"  </testsuite>\n"
		"</testsuites>\n");
	dr_diags_free(d);
}

TEST(sarif)
{
	static const char src[] = "n\xc3\xa4me: x\n";
	dr_diags *d = dr_diags_new();
	dr_diagfmt_opts o = { 0 };
	dr_diag *g;

	dr_diags_add_source(d, "dir with space/p#1.yaml", src, sizeof(src) - 1);
	g = dr_diags_add(d, DR_SEV_ERROR, "AZ-1", "dir with space/p#1.yaml", 1,
			 8, "/n\xc3\xa4me", "bad \"x\"");
	dr_diag_note(g, "use y");
	dr_diags_add(d, DR_SEV_INFO, "AZ-2", "/abs/q.yaml", 3, 0, NULL, "i");
	dr_diags_add(d, DR_SEV_WARNING, "AZ-1", NULL, 0, 0, "/x", "w");
	o.rule_desc = desc;
	CHECK_OUT(render(d, DR_DIAGFMT_SARIF, &o),
		"{\n"
		"  \"$schema\": \"https://json.schemastore.org/sarif-2.1.0.json\",\n"
		"  \"version\": \"2.1.0\",\n"
		"  \"runs\": [\n"
		"    {\n"
		"      \"tool\": {\n"
		"        \"driver\": {\n"
		"          \"name\": \"drplan\",\n"
		"          \"version\": \"0.1.0\",\n"
		"          \"informationUri\": \"https://drplan.invalid/docs/rules\",\n"
		"          \"rules\": [\n"
		"            {\n"
		"              \"id\": \"AZ-1\",\n"
		"              \"shortDescription\": {\n"
		"                \"text\": \"Known sizes only\"\n"
		"              }\n"
		"            },\n"
		"            {\n"
		"              \"id\": \"AZ-2\",\n"
		"              \"shortDescription\": {\n"
		"                \"text\": \"i\"\n"
		"              }\n"
		"            }\n"
		"          ]\n"
		"        }\n"
		"      },\n"
		"      \"results\": [\n"
		"        {\n"
		"          \"ruleId\": \"AZ-1\",\n"
		"          \"ruleIndex\": 0,\n"
		"          \"level\": \"error\",\n"
		"          \"message\": {\n"
		"            \"text\": \"bad \\\"x\\\"\\nnote: use y\"\n"
		"          },\n"
		"          \"locations\": [\n"
		"            {\n"
		"              \"physicalLocation\": {\n"
		"                \"artifactLocation\": {\n"
		"                  \"uri\": \"dir%20with%20space/p%231.yaml\",\n"
		"                  \"uriBaseId\": \"%SRCROOT%\"\n"
		"                },\n"
		"                \"region\": {\n"
		"                  \"startLine\": 1,\n"
		"                  \"startColumn\": 7\n"
		"                }\n"
		"              },\n"
		"              \"logicalLocations\": [\n"
		"                {\n"
		"                  \"fullyQualifiedName\": \"/n\xc3\xa4me\"\n"
		"                }\n"
		"              ]\n"
		"            }\n"
		"          ]\n"
		"        },\n"
		"        {\n"
		"          \"ruleId\": \"AZ-2\",\n"
		"          \"ruleIndex\": 1,\n"
		"          \"level\": \"note\",\n"
		"          \"message\": {\n"
		"            \"text\": \"i\"\n"
		"          },\n"
		"          \"locations\": [\n"
		"            {\n"
		"              \"physicalLocation\": {\n"
		"                \"artifactLocation\": {\n"
		"                  \"uri\": \"file:///abs/q.yaml\"\n"
		"                },\n"
		"                \"region\": {\n"
		"                  \"startLine\": 3\n"
		"                }\n"
		"              }\n"
		"            }\n"
		"          ]\n"
		"        },\n"
		"        {\n"
		"          \"ruleId\": \"AZ-1\",\n"
		"          \"ruleIndex\": 0,\n"
		"          \"level\": \"warning\",\n"
		"          \"message\": {\n"
		"            \"text\": \"w\"\n"
		"          },\n"
		"          \"locations\": [\n"
		"            {\n"
		"              \"logicalLocations\": [\n"
		"                {\n"
		"                  \"fullyQualifiedName\": \"/x\"\n"
		"                }\n"
		"              ]\n"
		"            }\n"
		"          ]\n"
		"        }\n"
		"      ],\n"
		"      \"columnKind\": \"unicodeCodePoints\"\n"
		"    }\n"
		"  ]\n"
		"}\n");
	dr_diags_free(d);
}

TEST(parse_and_limits)
{
	dr_diagfmt f = DR_DIAGFMT_TEXT;
	dr_strbuf sb = DR_STRBUF_INIT;
	dr_diags *d;

	CHECK_INT(dr_diagfmt_parse("sarif", &f), 0);
	CHECK_INT(f, DR_DIAGFMT_SARIF);
	CHECK_INT(dr_diagfmt_parse("junit", &f), 0);
	CHECK_INT(f, DR_DIAGFMT_JUNIT);
	CHECK_INT(dr_diagfmt_parse("json", &f), 0);
	CHECK_INT(f, DR_DIAGFMT_JSON);
	CHECK_INT(dr_diagfmt_parse("text", &f), 0);
	CHECK_INT(f, DR_DIAGFMT_TEXT);
	CHECK_INT(dr_diagfmt_parse("xml", &f), DR_EINVAL);
	CHECK_STR(dr_error_msg(),
		  "unknown output format 'xml'; use text, json, sarif or junit");
	CHECK_STR(dr_diagfmt_name(DR_DIAGFMT_SARIF), "sarif");

	/* A capped buffer is left as it was. */
	d = sample_diags();
	sb.max = 64;
	dr_strbuf_addstr(&sb, "keep");
	CHECK_INT(dr_diags_render(d, DR_DIAGFMT_JSON, NULL, &sb), DR_ELIMIT);
	CHECK_STR(sb.buf, "keep");
	dr_strbuf_release(&sb);
	dr_diags_free(d);
}

int main(void)
{
	RUN(text);
	RUN(text_color_and_summary);
	RUN(text_source_edge_cases);
	RUN(json);
	RUN(junit);
	RUN(junit_origin);
	RUN(sarif);
	RUN(parse_and_limits);
	return test_summary();
}
