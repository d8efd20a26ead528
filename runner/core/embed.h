/*
 * embed.h - files compiled into the binary (see cmake/embed.cmake).
 *
 * The schema and the size catalog under schemas/ are embedded so that
 * drplan validates with exactly the files editors use, wherever it runs.
 */
#ifndef DR_EMBED_H
#define DR_EMBED_H

#include <stddef.h>

struct dr_embedded {
	const char *name;
	const unsigned char *data; /* NUL-terminated; len excludes the NUL */
	size_t len;
};

/* Terminated by an entry whose name is NULL. */
extern const struct dr_embedded dr_embedded_files[];

/* Look up an embedded file by its name ("recovery-plan.schema.json"). */
const struct dr_embedded *dr_embedded_find(const char *name);

#endif
