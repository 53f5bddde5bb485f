/* Regular expressions that no pattern can make slow: the =~ / !~ operators of the cluster query
 * language and the %regex% terms of CloudWatch Logs filter patterns.
 *
 * A pattern compiles into a program of at most RX_SIZE_MAX instructions (counted repetitions are
 * copied out) that runs as a Thompson NFA simulation, one pass over the text advancing every live
 * thread at once: time O(text length x program size) and memory O(program size), whatever the
 * pattern. (glibc's regcomp, used before, recursed once per chained epsilon transition and could
 * overflow the stack or take seconds on patterns of a few dozen bytes.)
 *
 * Syntax (Java's, as ECS documents for the query language, minus what needs backtracking):
 * - literals, `.` (any character but \n \r U+0085 U+2028 U+2029), `^` (start of the text) and `$`
 *   (its end, or before a line terminator that ends it, as Java), groups `( )` and `(?: )`,
 *   alternation `|`;
 * - quantifiers `*` `+` `?` `{n}` `{n,}` `{n,m}` (n, m <= RX_COUNT_MAX), optionally lazy (`*?` etc.:
 *   whether the text matches does not depend on laziness); a `{` not followed by a digit is
 *   literal;
 * - escapes: \d \D \w \W \s \S, \t \n \r \f \a \e, \xhh, \uhhhh, and a backslash before any
 *   character that is not a letter or digit;
 * - bracket expressions: `[abc]`, `[^a-z]`, escapes and \d-style classes inside, POSIX classes
 *   `[[:alpha:]]` (ASCII); `]` right after `[` or `[^` is literal, as is `-` first or last.
 * Refused with a reason: back-references (\1 ...), possessive and stacked quantifiers (`a*+`,
 * `a**`, `a{2}{3}`), lookaround and inline flags (`(?=`, `(?i)`), other letter escapes (\b, \p{..},
 * \Q ...), collating elements ([.x.], [=x=]), Java's nested classes and && intersections inside
 * brackets (`[a[b]]`, `[a-z&&[^e]]`), parentheses nested deeper than RX_DEPTH_MAX, and
 * programs larger than RX_SIZE_MAX instructions.
 *
 * Patterns and texts are UTF-8; a character is a code point (a byte that is not valid UTF-8
 * stands for itself). */
#ifndef GANTRY_RX_H
#define GANTRY_RX_H

#include <stdbool.h>
#include <stddef.h>

#define RX_SIZE_MAX  4096	 /* instructions a pattern may compile to */
#define RX_DEPTH_MAX 32		 /* nested parentheses */
#define RX_COUNT_MAX RX_SIZE_MAX /* the largest n or m of {n,m} */

struct rx;

/* Compiles pat (NUL-terminated). Returns a new program, freed with rx_free, or NULL with *why
 * set to a static message saying what is wrong ("a '(' is not closed"). */
struct rx *rx_compile(const char *pat, const char **why);

/* Whether the whole of s (NUL-terminated) matches, as Java's String.matches. Thread-safe: re is
 * not modified. */
bool rx_match(const struct rx *re, const char *s);

/* Whether some part of text[0..n) matches (^ and $ still mean its start and end). text need not
 * be NUL-terminated and may hold NUL bytes. Thread-safe. */
bool rx_search(const struct rx *re, const char *text, size_t n);

/* The number of instructions of re's program: matching costs up to this much per character. */
size_t rx_size(const struct rx *re);

/* Frees a program; accepts NULL. */
void rx_free(struct rx *re);

#endif
