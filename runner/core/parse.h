/*
 * parse.h - strict parsers for the small value formats plans use.
 *
 * Shared by the schema validator's custom formats and the plan model, so a
 * value the schema accepts is always one the model can use.
 */
#ifndef DR_PARSE_H
#define DR_PARSE_H

#include <stddef.h>
#include <stdint.h>

/*
 * Durations: one or more <digits><unit> with unit ms, s, m, h or d, largest
 * first and each unit at most once ("90s", "5m", "1h30m", "2d"). Returns 0
 * and the value in milliseconds, or DR_EINVAL (also on overflow).
 */
int dr_parse_duration(const char *s, uint64_t *ms);

/* Shortest canonical form of a duration: "1h30m", "45s", "0s". */
void dr_format_duration(uint64_t ms, char *buf, size_t size);

/* Dotted-quad IPv4 without leading zeros ("10.0.0.1"); host byte order. */
int dr_parse_ipv4(const char *s, uint32_t *addr);
void dr_format_ipv4(uint32_t addr, char *buf, size_t size);

/* IPv4 CIDR "10.20.0.0/16"; the host part must be zero. */
int dr_parse_cidr(const char *s, uint32_t *addr, int *prefix);
/* Netmask for a prefix length 0..32. */
uint32_t dr_prefix_mask(int prefix);

/* Levenshtein distance, capped at max+1 for speed ("did you mean"). */
size_t dr_edit_distance(const char *a, const char *b, size_t max);

#endif
