/*
 * store-get SPEC KEY: print the object KEY of the state store SPEC on
 * stdout (tests read the simulator's state and the scheduler's records of
 * an azblob:// store with it). Exit 0, or 1 with the store's message.
 */
#include "core/error.h"
#include "core/strbuf.h"
#include "journal/store.h"

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
	dr_store *s = NULL;
	dr_strbuf sb = DR_STRBUF_INIT;
	int rc;

	if (argc != 3) {
		fprintf(stderr, "usage: store-get SPEC KEY\n");
		return 2;
	}
	rc = dr_store_open(argv[1], 0, &s);
	if (rc == 0)
		rc = dr_store_get(s, argv[2], &sb, NULL);
	if (rc == 0)
		fwrite(sb.buf, 1, sb.len, stdout);
	else
		fprintf(stderr, "store-get: %s\n", dr_error_msg());
	dr_strbuf_release(&sb);
	dr_store_free(s);
	return rc == 0 ? 0 : 1;
}
