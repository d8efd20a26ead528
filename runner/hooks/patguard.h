/*
 * patguard.h - refuse Lua patterns that would backtrack for too long.
 *
 * Lua's matcher (lstrlib.c) runs in C, where neither the instruction count
 * hook nor the clock can stop it, and patterns like ".-.-b" backtrack in
 * O(n^3) on a subject without a "b": 20 KB of "a" keeps the runner busy for
 * minutes. Before string.find/match/gmatch/gsub run, the sandbox bounds the
 * number of matcher steps from the pattern and the subject and refuses the
 * call when the bound is too high.
 *
 * The bound: (n + 1) start positions (1 if the pattern is anchored with ^),
 * times, for each item quantified with *, + or -, one more than the longest
 * run of subject characters that item matches, times 2 for each ?, times
 * (n + 1) for each %b. It is an upper bound of the states the matcher can
 * visit; patterns with few or selective quantifiers stay far below it.
 */
#ifndef DR_HOOKS_PATGUARD_H
#define DR_HOOKS_PATGUARD_H

#include <stddef.h>

/* Refuse calls whose bound is above this many matcher steps (well under a
 * second of C time). */
#define DR_PATTERN_MAX_STEPS 2e8

/* The bound for pattern p on subject s. Malformed patterns give 0: the
 * matcher itself reports them. anchorable: ^ anchors (find, match, gsub). */
double dr_pattern_cost(const char *s, size_t ls, const char *p, size_t lp,
		       int anchorable);

#endif
