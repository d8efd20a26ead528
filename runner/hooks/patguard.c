#include "hooks/patguard.h"

#include <ctype.h>

/* Character classes with Lua's letters: %a %c %d %g %l %p %s %u %w %x, an
 * upper-case letter for the complement, anything else is itself. */
static int class_match(unsigned char c, unsigned char cl)
{
	int r;

	switch (tolower(cl)) {
	case 'a': r = isalpha(c); break;
	case 'c': r = iscntrl(c); break;
	case 'd': r = isdigit(c); break;
	case 'g': r = isgraph(c); break;
	case 'l': r = islower(c); break;
	case 'p': r = ispunct(c); break;
	case 's': r = isspace(c); break;
	case 'u': r = isupper(c); break;
	case 'w': r = isalnum(c); break;
	case 'x': r = isxdigit(c); break;
	default: return cl == c;
	}
	r = r != 0;
	return isupper(cl) ? !r : r;
}

/* p at '[', end at the closing ']'. */
static int set_match(unsigned char c, const char *p, const char *end)
{
	int yes = 1;

	p++;
	if (*p == '^') {
		yes = 0;
		p++;
	}
	while (p < end) {
		if (*p == '%' && p + 1 < end) {
			if (class_match(c, (unsigned char)p[1]))
				return yes;
			p += 2;
		} else if (p + 2 < end && p[1] == '-') {
			if ((unsigned char)p[0] <= c && c <= (unsigned char)p[2])
				return yes;
			p += 3;
		} else {
			if ((unsigned char)*p == c)
				return yes;
			p++;
		}
	}
	return !yes;
}

/* One item p..end (end exclusive) against c. */
static int item_match(unsigned char c, const char *p, const char *end)
{
	switch (*p) {
	case '.': return 1;
	case '%': return class_match(c, (unsigned char)p[1]);
	case '[': return set_match(c, p, end - 1);
	default: return (unsigned char)*p == c;
	}
}

/* End (exclusive) of the set starting at p[i] == '[', or 0 if unclosed. */
static size_t set_end(const char *p, size_t lp, size_t i)
{
	i++;
	if (i < lp && p[i] == '^')
		i++;
	do {
		if (i >= lp)
			return 0;
		if (p[i++] == '%')
			i++;
	} while (i >= lp || p[i] != ']');
	return i + 1;
}

static double longest_run(const char *s, size_t ls, const char *p, const char *end)
{
	size_t i, run = 0, best = 0;

	for (i = 0; i < ls; i++) {
		if (item_match((unsigned char)s[i], p, end)) {
			if (++run > best)
				best = run;
		} else {
			run = 0;
		}
	}
	return (double)best;
}

double dr_pattern_cost(const char *s, size_t ls, const char *p, size_t lp,
		       int anchorable)
{
	double cost = 1, n1 = (double)ls + 1;
	size_t i = 0, end;

	if (anchorable && lp && p[0] == '^')
		i = 1;
	else
		cost = n1;
	while (i < lp) {
		switch (p[i]) {
		case '(':
		case ')':
			i++;
			continue;
		case '$':
			if (i + 1 == lp) {
				i++;
				continue;
			}
			end = i + 1;
			break;
		case '%':
			if (i + 1 >= lp)
				return 0;
			if (p[i + 1] == 'b') {
				if (i + 3 >= lp)
					return 0;
				cost *= n1;
				i += 4;
				continue;
			}
			if (p[i + 1] == 'f') {
				if (i + 2 >= lp || p[i + 2] != '[' || !(end = set_end(p, lp, i + 2)))
					return 0;
				i = end;
				continue;
			}
			if (p[i + 1] >= '0' && p[i + 1] <= '9') {
				i += 2;
				continue;
			}
			end = i + 2;
			break;
		case '[':
			if (!(end = set_end(p, lp, i)))
				return 0;
			break;
		default:
			end = i + 1;
			break;
		}
		if (end < lp && (p[end] == '*' || p[end] == '+' || p[end] == '-')) {
			cost *= longest_run(s, ls, p + i, p + end) + 1;
			end++;
		} else if (end < lp && p[end] == '?') {
			cost *= 2;
			end++;
		}
		i = end;
		if (cost > 1e300)
			cost = 1e300;
	}
	return cost;
}
