#include "core/parse.h"

#include "core/error.h"

#include <stdio.h>
#include <string.h>

int dr_parse_duration(const char *s, uint64_t *ms)
{
	static const struct { const char *name; uint64_t ms; } units[] = {
		{ "d", 86400000ull }, { "h", 3600000ull }, { "m", 60000ull },
		{ "s", 1000ull },     { "ms", 1ull },
	};
	uint64_t total = 0;
	int last = -1;

	if (!s || !*s)
		return DR_EINVAL;
	while (*s) {
		uint64_t n = 0;
		int digits = 0, u, found = -1;

		while (*s >= '0' && *s <= '9') {
			if (n > (UINT64_MAX - 9) / 10)
				return DR_EINVAL;
			n = n * 10 + (uint64_t)(*s++ - '0');
			digits++;
		}
		if (!digits)
			return DR_EINVAL;
		/* "ms" must be tried before "m". */
		for (u = (int)(sizeof(units) / sizeof(units[0])) - 1; u >= 0; u--) {
			size_t l = strlen(units[u].name);

			if (!strncmp(s, units[u].name, l) &&
			    !(l == 1 && s[0] == 'm' && s[1] == 's')) {
				found = u;
				s += l;
				break;
			}
		}
		if (found < 0 || found <= last)
			return DR_EINVAL;
		last = found;
		if (n > UINT64_MAX / units[found].ms ||
		    total > UINT64_MAX - n * units[found].ms)
			return DR_EINVAL;
		total += n * units[found].ms;
	}
	*ms = total;
	return 0;
}

void dr_format_duration(uint64_t ms, char *buf, size_t size)
{
	static const struct { const char *name; uint64_t ms; } units[] = {
		{ "d", 86400000ull }, { "h", 3600000ull }, { "m", 60000ull },
		{ "s", 1000ull },     { "ms", 1ull },
	};
	/* Built whole, then copied: the dry run formats two durations per
	 * step, and snprintf per unit was a visible part of writing it. A
	 * short buffer gets the same prefix snprintf would have left. */
	char full[128], dig[24];
	size_t off = 0, i, n;

	if (size == 0)
		return;
	if (ms == 0) {
		memcpy(full, "0s", 3);
		off = 2;
	}
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		uint64_t q = ms / units[i].ms;

		if (!q)
			continue;
		ms -= q * units[i].ms;
		n = sizeof(dig);
		do {
			dig[--n] = (char)('0' + q % 10);
			q /= 10;
		} while (q);
		memcpy(full + off, dig + n, sizeof(dig) - n);
		off += sizeof(dig) - n;
		n = strlen(units[i].name);
		memcpy(full + off, units[i].name, n);
		off += n;
	}
	if (off > size - 1)
		off = size - 1;
	memcpy(buf, full, off);
	buf[off] = '\0';
}

int dr_parse_ipv4(const char *s, uint32_t *addr)
{
	uint32_t a = 0;
	int part;

	if (!s)
		return DR_EINVAL;
	for (part = 0; part < 4; part++) {
		unsigned v = 0;
		int digits = 0;

		if (part && *s++ != '.')
			return DR_EINVAL;
		if (s[0] == '0' && s[1] >= '0' && s[1] <= '9')
			return DR_EINVAL; /* leading zero: octal in some parsers */
		while (*s >= '0' && *s <= '9' && digits < 4) {
			v = v * 10 + (unsigned)(*s++ - '0');
			digits++;
		}
		if (!digits || digits > 3 || v > 255)
			return DR_EINVAL;
		a = (a << 8) | v;
	}
	if (*s)
		return DR_EINVAL;
	*addr = a;
	return 0;
}

void dr_format_ipv4(uint32_t a, char *buf, size_t size)
{
	snprintf(buf, size, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255,
		 (a >> 8) & 255, a & 255);
}

uint32_t dr_prefix_mask(int prefix)
{
	if (prefix <= 0)
		return 0;
	if (prefix >= 32)
		return 0xffffffffu;
	return ~((1u << (32 - prefix)) - 1);
}

int dr_parse_cidr(const char *s, uint32_t *addr, int *prefix)
{
	char ip[16];
	const char *slash;
	size_t n;
	int p = 0, digits = 0;
	uint32_t a;

	if (!s || !(slash = strchr(s, '/')))
		return DR_EINVAL;
	n = (size_t)(slash - s);
	if (n == 0 || n >= sizeof(ip))
		return DR_EINVAL;
	memcpy(ip, s, n);
	ip[n] = '\0';
	if (dr_parse_ipv4(ip, &a))
		return DR_EINVAL;
	for (s = slash + 1; *s >= '0' && *s <= '9' && digits < 3; s++, digits++)
		p = p * 10 + (*s - '0');
	if (!digits || *s || p > 32 || (digits > 1 && slash[1] == '0'))
		return DR_EINVAL;
	if (a & ~dr_prefix_mask(p))
		return DR_EINVAL;
	*addr = a;
	*prefix = p;
	return 0;
}

size_t dr_edit_distance(const char *a, const char *b, size_t max)
{
	size_t la = strlen(a), lb = strlen(b), i, j;
	size_t row[65];

	if (lb > 64 || la > 64)
		return max + 1;
	if ((la > lb ? la - lb : lb - la) > max)
		return max + 1;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		size_t prev = row[0], best;

		row[0] = i;
		best = row[0];
		for (j = 1; j <= lb; j++) {
			size_t cur = row[j];
			size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
			size_t v = prev + cost;

			if (row[j] + 1 < v)
				v = row[j] + 1;
			if (row[j - 1] + 1 < v)
				v = row[j - 1] + 1;
			row[j] = v;
			prev = cur;
			if (v < best)
				best = v;
		}
		if (best > max)
			return max + 1;
	}
	return row[lb];
}
