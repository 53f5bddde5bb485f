/* CloudWatch Logs filter patterns (FilterLogEvents' filterPattern): parsing and matching.
 *
 * Supported syntax, as the CloudWatch Logs user guide describes it:
 *   - empty (or only blanks): every event matches;
 *   - terms: `ERROR Exception` (all must occur, case-sensitive), `"quoted phrase"`,
 *     `?ERROR ?WARN` (at least one of the ?-terms must occur), `-Exiting` (must not occur);
 *   - JSON: `{ $.level = "error" }`, `{ $.latency > 100 && $.code != 200 }`, `||`, parentheses,
 *     `=` `!=` `<` `>` `<=` `>=` on numbers, `=` `!=` on strings (with `*` wildcards), selectors
 *     `$.a.b[0].c`, and `IS NULL`, `IS TRUE`, `IS FALSE`, `NOT EXISTS`.
 * Space-delimited patterns (`[ip, user, ...]`) and regular expressions (`%...%`) are refused with
 * InvalidParameterException. */
#ifndef GANTRY_LOGS_FILTER_H
#define GANTRY_LOGS_FILTER_H

#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"

/* CloudWatch: a filterPattern is at most 1024 characters. */
#define FILTER_PATTERN_MAX 1024
/* Parenthesis nesting accepted in a JSON pattern (bounds the parser's recursion). */
#define FILTER_DEPTH_MAX 32

struct filter;

/* Parses pattern (NUL-terminated). Returns a new filter (free with filter_free), or NULL with
 * *err (InvalidParameterException naming what is wrong) when it is not a pattern we accept. */
struct filter *filter_parse(const char *pattern, struct err **err);

/* Whether the message msg[0..len) matches f. msg need not be NUL-terminated. */
bool filter_match(const struct filter *f, const char *msg, size_t len);

/* Frees f; accepts NULL. */
void filter_free(struct filter *f);

#endif
