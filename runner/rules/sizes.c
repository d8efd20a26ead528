#include "rules/sizes.h"

#include "core/alloc.h"
#include "core/embed.h"
#include "core/error.h"
#include "core/parse.h"
#include "rules/rules-int.h"

#include <ctype.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static dr_vm_size *sizes;
static const dr_vm_size **by_name; /* sorted case-insensitively */
static size_t nsizes;
static int load_state; /* 0: not tried, 1: loaded, <0: the error */

static int bad(const char *what, size_t i)
{
	return dr_error_set(DR_EINVAL, "embedded azure-vm-sizes.json: %s (size %zu)",
			    what, i);
}

static int parse_size(json_t *o, size_t i, dr_vm_size *s)
{
	const char *name = NULL, *family = NULL, *an = NULL;
	json_int_t vcpus = 0, disks = 0, nics = 0;
	double mem = 0;
	int prem = 0, gen2 = 0;
	json_error_t err;

	if (json_unpack_ex(o, &err, JSON_STRICT,
			   "{s:s, s:s, s:I, s:F, s:I, s:I, s:b, s:b, s:s}",
			   "name", &name, "family", &family, "vcpus", &vcpus,
			   "memoryGiB", &mem, "maxDataDisks", &disks,
			   "maxNics", &nics, "premiumStorage", &prem,
			   "gen2", &gen2, "acceleratedNetworking", &an))
		return bad(err.text, i);
	if (vcpus <= 0 || disks <= 0 || nics <= 0 || mem <= 0 ||
	    vcpus > 100000 || disks > 100000 || nics > 100000)
		return bad("counts must be positive", i);
	s->name = dr_xstrdup(name);
	s->family = dr_xstrdup(family);
	s->vcpus = (int)vcpus;
	s->memory_gib = mem;
	s->max_data_disks = (int)disks;
	s->max_nics = (int)nics;
	s->premium_storage = prem;
	s->gen2 = gen2;
	if (!strcmp(an, "required"))
		s->accelerated_networking = DR_ACCEL_REQUIRED;
	else if (!strcmp(an, "yes"))
		s->accelerated_networking = DR_ACCEL_YES;
	else if (!strcmp(an, "no"))
		s->accelerated_networking = DR_ACCEL_NO;
	else
		return bad("acceleratedNetworking must be yes, no or required", i);
	return 0;
}

static int cmp_size(const void *a, const void *b)
{
	const dr_vm_size *x = *(const dr_vm_size *const *)a;
	const dr_vm_size *y = *(const dr_vm_size *const *)b;

	return dr_rcasecmp(x->name, y->name);
}

static int load(void)
{
	const struct dr_embedded *e = dr_embedded_find("azure-vm-sizes.json");
	json_error_t err;
	json_t *root, *list;
	size_t i;
	int rc = 0;

	if (!e)
		return dr_error_set(DR_EINVAL, "azure-vm-sizes.json is not embedded");
	root = json_loadb((const char *)e->data, e->len, 0, &err);
	if (!root)
		return dr_error_set(DR_EINVAL, "embedded azure-vm-sizes.json: %s",
				    err.text);
	list = json_object_get(root, "sizes");
	if (!json_is_array(list)) {
		json_decref(root);
		return dr_error_set(DR_EINVAL,
				    "embedded azure-vm-sizes.json has no \"sizes\" array");
	}
	sizes = dr_xcalloc(json_array_size(list) + 1, sizeof(*sizes));
	for (i = 0; i < json_array_size(list) && !rc; i++)
		rc = parse_size(json_array_get(list, i), i, &sizes[i]);
	json_decref(root);
	if (rc) {
		/* Keep what was parsed unreachable rather than half-usable. */
		nsizes = 0;
		return rc;
	}
	nsizes = i;
	by_name = dr_xcalloc(nsizes + 1, sizeof(*by_name));
	for (i = 0; i < nsizes; i++)
		by_name[i] = &sizes[i];
	qsort(by_name, nsizes, sizeof(*by_name), cmp_size);
	return 0;
}

int dr_sizes_load(void)
{
	if (!load_state) {
		int rc = load();

		load_state = rc ? rc : 1;
	}
	return load_state < 0 ? load_state : 0;
}

const dr_vm_size *dr_size_find(const char *name)
{
	size_t lo = 0, hi;

	/* Called once per machine: a binary search keeps 10,000 cheap. */
	if (!name || dr_sizes_load())
		return NULL;
	hi = nsizes;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = dr_rcasecmp(name, by_name[mid]->name);

		if (!c)
			return by_name[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

const dr_vm_size *dr_sizes_list(size_t *n)
{
	*n = dr_sizes_load() ? 0 : nsizes;
	return sizes;
}

static void fold(const char *in, char *out, size_t size)
{
	size_t i;

	for (i = 0; in[i] && i + 1 < size; i++)
		out[i] = (char)tolower((unsigned char)in[i]);
	out[i] = '\0';
}

const dr_vm_size *dr_size_suggest(const char *name)
{
	char want[128], have[128];
	const dr_vm_size *best = NULL;
	size_t i, best_d, max;

	if (!name || dr_sizes_load())
		return NULL;
	fold(name, want, sizeof(want));
	/* Allow about a third of the name to differ ("Standard_D4_v7"). */
	max = strlen(want) / 3 + 1;
	best_d = max + 1;
	for (i = 0; i < nsizes; i++) {
		size_t d;

		fold(sizes[i].name, have, sizeof(have));
		d = dr_edit_distance(want, have, max);
		/* On a tie the later entry wins: the catalog lists older
		 * series first, and a near miss most likely means a newer one. */
		if (d <= best_d) {
			best_d = d;
			best = &sizes[i];
		}
	}
	return best_d <= max ? best : NULL;
}
