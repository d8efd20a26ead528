/*
 * fuzz-journal.c - libFuzzer target for journal replay: whatever the bytes,
 * replay must not crash, hang or leak, and what it reports must add up.
 */
#include "journal/journal.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seen {
	uint64_t records, last;
	int bad;
};

static int check(void *ctx, uint64_t seq, const char *type, json_t *rec)
{
	struct seen *s = ctx;

	if (seq != s->last + 1 || !type || !*type || !json_is_object(rec))
		s->bad = 1;
	s->last = seq;
	s->records++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	dr_journal_replay_info info;
	struct seen s = { 0 };
	int rc = dr_journal_replay_buf("fuzz", (const char *)data, size, check, &s, &info);

	if (s.bad || s.records != info.records || info.good_size > size)
		abort();
	if (rc == 0) {
		/* The good prefix and the torn tail cover the whole input. */
		uint64_t end = info.good_size + (info.torn ? info.torn_bytes : 0);
		if (end != size || (info.torn && info.torn_offset != info.good_size))
			abort();
		if (info.good_size && data[info.good_size - 1] != '\n')
			abort();
		/* Replaying the good prefix alone gives the same records, no tail. */
		dr_journal_replay_info again;
		if (dr_journal_replay_buf("fuzz", (const char *)data, (size_t)info.good_size,
					  NULL, NULL, &again) ||
		    again.records != info.records || again.torn)
			abort();
	}
	return 0;
}
