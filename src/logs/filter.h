/* CloudWatch Logs filter patterns (FilterLogEvents' filterPattern): parsing and matching.
 *
 * Supported syntax, as the CloudWatch Logs user guide describes it:
 *   - empty (or only blanks): every event matches;
 *   - terms: `ERROR Exception` (all must occur, case-sensitive), `"quoted phrase"`,
 *     `?ERROR ?WARN` (at least one of the ?-terms must occur), `-Exiting` (must not occur);
 *   - JSON: `{ $.level = "error" }`, `{ $.latency > 100 && $.code != 200 }`, `||`, parentheses,
 *     `=` `!=` `<` `>` `<=` `>=` on numbers, `=` `!=` on strings (with `*` wildcards), selectors
 *     `$.a.b[0].c`, and `IS NULL`, `IS TRUE`, `IS FALSE`, `NOT EXISTS`;
 *   - regular expressions between percent signs: standalone, `%[Ee]rror|[Ff]ail%` (an event
 *     matches when some part of its message does), and as the value of a JSON comparison,
 *     `{ $.level = %^err|^warn% }` (on a string member). As CloudWatch: letters, digits, the
 *     symbols : _ # = @ / ; , - and the operators ^ $ ? [ ] { } | \ * + . only (no parentheses,
 *     blanks or multibyte characters; any printable character after a backslash), at most
 *     FILTER_REGEX_MAX in a pattern. They run on common/rx.h (linear time).
 *   - space-delimited: `[ip, user, username, timestamp, request, status_code=4*, bytes]` splits
 *     the message at blanks (what is between "..." or [...] is one field, without them) and
 *     matches when there are as many fields as named; one `...` stands for any number of fields
 *     (those after it count from the end). A field may carry a condition: `=` `!=` with a value
 *     (`*` wildcards), a "quoted value" or a %regex%, `<` `>` `<=` `>=` with a number (a field that
 *     is not a number fails them), joined with && and || (&& binds tighter), each comparison
 *     naming a field of the pattern: `status>=400&&status<=499`. */
#ifndef GANTRY_LOGS_FILTER_H
#define GANTRY_LOGS_FILTER_H

#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"

/* CloudWatch: a filterPattern is at most 1024 characters. */
#define FILTER_PATTERN_MAX 1024
/* Parenthesis nesting accepted in a JSON pattern (bounds the parser's recursion). */
#define FILTER_DEPTH_MAX 32
/* CloudWatch: at most 2 regular expressions in one filter pattern. */
#define FILTER_REGEX_MAX 2
/* Instructions a regular expression may compile to (common/rx.h): matching costs up to this much
 * per byte of every message scanned. */
#define FILTER_REGEX_SIZE_MAX 256

struct filter;

/* Parses pattern (NUL-terminated). Returns a new filter (free with filter_free), or NULL with
 * *err (InvalidParameterException naming what is wrong) when it is not a pattern we accept. */
struct filter *filter_parse(const char *pattern, struct err **err);

/* Whether the message msg[0..len) matches f. msg need not be NUL-terminated. */
bool filter_match(const struct filter *f, const char *msg, size_t len);

/* What matching costs per byte of message, relatively (1 for terms and JSON, more with regular
 * expressions): for callers that bound their work by time. */
size_t filter_cost(const struct filter *f);

/* Frees f; accepts NULL. */
void filter_free(struct filter *f);

#endif
