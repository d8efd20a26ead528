#include "core/embed.h"

#include <string.h>

const struct dr_embedded *dr_embedded_find(const char *name)
{
	const struct dr_embedded *e;

	for (e = dr_embedded_files; e->name; e++)
		if (!strcmp(e->name, name))
			return e;
	return NULL;
}
