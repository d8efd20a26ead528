/* diagfmt-sample FORMAT: print the sample diagnostics in FORMAT. */
#include "core/strbuf.h"
#include "report/diagfmt.h"
#include "sample.h"

#include <stdio.h>

int main(int argc, char **argv)
{
	dr_diagfmt_opts o = { 0 };
	dr_strbuf sb = DR_STRBUF_INIT;
	dr_diagfmt fmt;
	dr_diags *d;

	if (argc != 2 || dr_diagfmt_parse(argv[1], &fmt) < 0) {
		fprintf(stderr, "usage: diagfmt-sample text|json|sarif|junit\n");
		return 2;
	}
	d = sample_diags();
	o.files = sample_files;
	o.nfiles = 2;
	o.summary = 1;
	dr_diags_render(d, fmt, &o, &sb);
	fwrite(sb.buf, 1, sb.len, stdout);
	dr_strbuf_release(&sb);
	dr_diags_free(d);
	return 0;
}
