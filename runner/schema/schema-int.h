/*
 * schema-int.h - helpers shared by the parts of the schema validator.
 * Not a public interface.
 */
#ifndef DR_SCHEMA_INT_H
#define DR_SCHEMA_INT_H

#include "core/strbuf.h"

/*
 * Translate an ECMA-262 pattern into a POSIX extended regular expression
 * with the same match/no-match answer. Returns 0, or DR_EINVAL with a
 * reason in *why for constructs POSIX cannot express (look-around,
 * back-references, negated classes inside brackets).
 */
int dr_schema_regex_translate(const char *src, dr_strbuf *out, const char **why);

/* Format checks: 1 when s is valid. */
int dr_schema_is_date_time(const char *s);
int dr_schema_is_email(const char *s);
int dr_schema_is_hostname(const char *s);
int dr_schema_is_uri(const char *s);

/*
 * Resolve reference ref against base (RFC 3986 section 5.2), appending the
 * result to out. base may be "" (no base: ref is returned normalised).
 */
void dr_schema_uri_resolve(const char *base, const char *ref, dr_strbuf *out);

/*
 * A matcher for simple patterns: single-character atoms (literals, ".",
 * classes, \d \w \s) with quantifiers and optional ^ and $ anchors.
 * dr_schema_sre_compile() returns NULL for anything else (malloc'd;
 * the caller frees). dr_schema_sre_match() returns 1 or 0, or -1 when the
 * subject is too long or not ASCII and regexec() must decide.
 */
struct dr_schema_sre;
struct dr_schema_sre *dr_schema_sre_compile(const char *src);
int dr_schema_sre_match(const struct dr_schema_sre *re, const char *s, size_t len);

#endif
