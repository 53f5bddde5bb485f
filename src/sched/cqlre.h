/* The regular expressions of the cluster query language's =~ and !~ operators: a small engine of
 * its own, so that no pattern a user sends can take more than linear time or bounded memory.
 *
 * ECS documents these patterns as Java regular expressions used with String.matches: the whole
 * value must match. The engine compiles a pattern into a program of at most CQL_REGEX_SIZE_MAX
 * instructions (counted repetitions are copied out) and runs it as a Thompson NFA simulation, one
 * pass over the value that advances every live thread at once: time O(value length x program size),
 * whatever the pattern. (glibc's regcomp, used before, recursed once per chained epsilon transition
 * and could overflow the stack or take seconds on patterns of a few dozen bytes.)
 *
 * Syntax (Java's, minus what needs backtracking):
 * - literals, `.` (any character but \n \r U+0085 U+2028 U+2029), `^` and `$` (start and end of the
 *   value), groups `( )` and `(?: )`, alternation `|`;
 * - quantifiers `*` `+` `?` `{n}` `{n,}` `{n,m}` (n, m <= CQLRE_COUNT_MAX), optionally lazy (`*?` etc.: the
 *   whole value matches either way, so laziness changes nothing); a `{` not followed by a digit is
 *   literal;
 * - escapes: \d \D \w \W \s \S, \t \n \r \f \a \e, \xhh, \uhhhh, and a backslash before any
 *   character that is not a letter or digit;
 * - bracket expressions: `[abc]`, `[^a-z]`, escapes and \d-style classes inside, POSIX classes
 *   `[[:alpha:]]` (ASCII); `]` right after `[` or `[^` is literal, as is `-` first or last, and a
 *   `[` that does not open a POSIX class (Java's nested classes and && intersections are not
 *   supported).
 * Refused with a reason: back-references (\1 ...), possessive and stacked quantifiers (`a*+`,
 * `a**`, `a{2}{3}`), lookaround and inline flags (`(?=`, `(?i)`), other letter escapes (\b, \p{..},
 * \Q ...), collating elements ([.x.], [=x=]), parentheses nested deeper than CQL_DEPTH_MAX, and
 * programs larger than CQL_REGEX_SIZE_MAX instructions.
 *
 * Patterns and values are UTF-8; a character is a code point (a byte that is not valid UTF-8
 * stands for itself). */
#ifndef GANTRY_CQLRE_H
#define GANTRY_CQLRE_H

#include <stdbool.h>

#include "sched/cql.h"

#define CQLRE_COUNT_MAX CQL_REGEX_SIZE_MAX /* the largest n or m of {n,m} */

struct cqlre;

/* Compiles pat (NUL-terminated). Returns a new program, freed with cqlre_free, or NULL with *why
 * set to a static message saying what is wrong ("unmatched '('"). */
struct cqlre *cqlre_compile(const char *pat, const char **why);

/* Whether the whole of s (NUL-terminated) matches. Thread-safe: re is not modified. */
bool cqlre_match(const struct cqlre *re, const char *s);

/* Frees a program; accepts NULL. */
void cqlre_free(struct cqlre *re);

#endif
