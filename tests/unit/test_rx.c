/* Unit tests for the =~ regular expressions (common/rx.h): a table of patterns and values
 * (whole-value matching, UTF-8, classes, escapes, anchors, counted and empty repetitions), the
 * refusals, and a differential check against glibc's POSIX matcher on random small patterns of
 * the syntax both share. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <regex.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/rx.h"

static bool matches(const char *pat, const char *s)
{
	const char *why = NULL;
	struct rx *re = rx_compile(pat, &why);
	if (!re)
		fail_msg("\"%s\" refused: %s", pat, why);
	bool m = rx_match(re, s);
	rx_free(re);
	return m;
}

static void yes(const char *pat, const char *s)
{
	if (!matches(pat, s))
		fail_msg("\"%s\" does not match \"%s\"", pat, s);
}

static void no(const char *pat, const char *s)
{
	if (matches(pat, s))
		fail_msg("\"%s\" matches \"%s\"", pat, s);
}

static bool found(const char *pat, const char *text)
{
	const char *why = NULL;
	struct rx *re = rx_compile(pat, &why);
	if (!re)
		fail_msg("\"%s\" refused: %s", pat, why);
	bool m = rx_search(re, text, strlen(text));
	rx_free(re);
	return m;
}

static void refused(const char *pat, const char *needle)
{
	const char *why = NULL;
	struct rx *re = rx_compile(pat, &why);
	if (re) {
		rx_free(re);
		fail_msg("\"%s\" compiled; expected a refusal with \"%s\"", pat, needle);
	}
	if (!why || !strstr(why, needle))
		fail_msg("\"%s\": reason \"%s\" lacks \"%s\"", pat, why ? why : "(none)", needle);
}

static void test_whole_value(void **state)
{
	(void)state;
	yes("", "");
	no("", "a");
	yes("abc", "abc");
	no("abc", "abcd");
	no("abc", "xabc");
	yes("a|b|", "");
	yes("a|b|", "b");
	no("a|b", "ab");
	yes("(a|ab)(c|bcd)", "abcd");
	yes("^abc$", "abc");
	no("a^b", "ab");
	yes("a*^b", "b"); /* ^ holds only where nothing was read yet */
	yes("a$|b", "a");
	no("a$", "a\n"); /* $ holds before the \n, but the whole text must be matched */
	yes("a$\\n", "a\n");
	no("a$b", "ab");
}

static void test_search(void **state)
{
	(void)state;
	assert_true(found("", ""));
	assert_true(found("", "abc"));
	assert_true(found("AUTHORIZED", "[ERROR 401] UNAUTHORIZED REQUEST"));
	assert_true(found("^\\[ERROR", "[ERROR 401] UNAUTHORIZED REQUEST"));
	assert_false(found("^ERROR", "[ERROR 401]"));
	assert_true(found("REQUEST$", "[ERROR 401] UNAUTHORIZED REQUEST"));
	assert_false(found("ERROR$", "[ERROR 401]"));
	assert_true(found("\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}", "from 10.0.12.7:443"));
	assert_false(found("\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}", "from 10.0.12:443"));
	assert_true(found("[Ee]rror|[Ff]ail", "it failed"));
	assert_false(found("[Ee]rror|[Ff]ail", "all good"));
	assert_true(found("a+b", "xxaaab"));
	assert_true(found("colou?r", "the colour"));
	/* $ also holds before a line terminator that ends the text, as in Java */
	assert_true(found("a$", "a\n"));
	assert_true(found("a$", "a\r\n"));
	assert_true(found("a$", "a\xc2\x85"));
	assert_false(found("a$", "a\n\n"));
	assert_false(found("a$", "ab"));
	/* a text may hold NUL bytes and ends at its length */
	const char *why = NULL;
	struct rx *re = rx_compile("b.d$", &why);
	assert_non_null(re);
	assert_true(rx_search(re, "ab\0d", 4));
	assert_false(rx_search(re, "ab\0dx", 4 + 1));
	assert_false(rx_search(re, "ab\0d", 3));
	rx_free(re);
}

static void test_repetitions(void **state)
{
	(void)state;
	yes("a*", "");
	yes("a*", "aaaa");
	no("a+", "");
	yes("a+b?", "aab");
	yes("a{3}", "aaa");
	no("a{3}", "aa");
	no("a{3}", "aaaa");
	yes("a{2,}", "aaaaaaa");
	no("a{2,}", "a");
	yes("a{0,2}b", "b");
	yes("a{0,2}b", "aab");
	no("a{0,2}b", "aaab");
	yes("(ab){2,3}", "ababab");
	no("(ab){2,3}", "abababab");
	yes("a{0}", "");
	yes("a{1,1}?b", "ab"); /* lazy */
	yes("(a*)*", "aaa");
	yes("(a*)+b", "b");
	yes("(|a)+", "aaa");
	yes("(){4096}x", "x");
	yes("((()*)*)*", "");
	yes("(a?){100}a{100}", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
			       "aaaaaaaaaaaaaaaaaaaaaaaa");
	yes("x{", "x{"); /* a brace that does not start a count is literal */
	yes("x{a}", "x{a}");
	yes("a{,2}", "a{,2}");
}

static void test_classes_and_escapes(void **state)
{
	(void)state;
	yes("[abc]+", "cab");
	no("[abc]", "d");
	yes("[^abc]", "d");
	no("[^abc]", "a");
	yes("[]a]+", "]a]");
	yes("[^]a]", "b");
	yes("[a-]+", "a-");
	yes("[-a]+", "-a");
	yes("[a\\-z]+", "-az");
	no("[a\\-z]", "b");
	yes("[\\d.]+", "1.5");
	yes("[\\D]", "x");
	no("[\\D]", "5");
	yes("[[:alpha:]_][[:alnum:]]*", "_x9");
	yes("[[:upper:][:digit:]]+", "A1B2");
	yes("[\\[]", "[");
	yes("\\d\\w\\s", "1_ ");
	no("\\d", "a");
	yes("\\D\\W\\S", "a-b");
	yes("\\.\\*\\(\\)\\[\\]\\{\\}\\|\\?\\+\\\\\\^\\$", ".*()[]{}|?+\\^$");
	yes("\\t\\n", "\t\n");
	yes("\\x41\\u00e9", "A\xc3\xa9");
	yes("]}", "]}");
	/* characters are code points: . is one of them, classes hold them */
	yes(".", "\xc3\xa9");
	no("..", "\xc3\xa9");
	yes("[\xc3\xa0-\xc3\xbf]+", "\xc3\xa9\xc3\xa8");
	yes("\xe2\x82\xac\\d+", "\xe2\x82\xac"
				"12");
	no(".", "\n");
	no(".", "\r");
	yes("[^a]", "\n");
	/* a byte that is not UTF-8 stands for itself */
	yes(".", "\xff");
	yes("\xff", "\xff");
	no("\xff", "\xfe");
	yes("a.b", "a\xc3"
		   "b");
}

static void test_refusals(void **state)
{
	(void)state;
	refused("(", "a '(' is not closed");
	refused("a)", "a ')' has no '(' to close");
	refused("(a)\\1", "back-references are not supported");
	refused("a**", "a repetition operator cannot follow another");
	refused("a*+", "a repetition operator cannot follow another");
	refused("a??*", "a repetition operator cannot follow another");
	refused("a{2}{3}", "a repetition operator cannot follow another");
	refused("*a", "nothing to repeat");
	refused("a|+", "nothing to repeat");
	refused("({2})", "nothing to repeat");
	refused("a{2", "malformed");
	refused("a{2,3", "malformed");
	refused("a{3,2}", "n greater than m");
	refused("a{4097}", "larger than 4096");
	refused("a{99999999999999999999}", "larger than 4096");
	refused("(a{100}){100}", "repetitions multiply past 4096 instructions");
	refused("(?=a)", "lookaround");
	refused("(?<n>a)", "lookaround");
	refused("\\b", "only the escapes");
	refused("\\p{Alpha}", "only the escapes");
	refused("\\0", "only the escapes");
	refused("a\\", "ends with a backslash");
	refused("\\x4g", "\\x takes two hexadecimal digits");
	refused("\\u12", "\\u takes four hexadecimal digits");
	refused("[abc", "not closed");
	refused("[\\", "ends with a backslash");
	refused("[z-a]", "end comes before its start");
	refused("[a-\\w]", "a range cannot end in a class");
	refused("[a-[:alpha:]]", "a range cannot end in a class");
	refused("[[:nope:]]", "unknown POSIX class");
	refused("[[:alpha]", "unknown POSIX class");
	refused("[[.a.]]", "collating elements");
	refused("[[=a=]]", "collating elements");
	refused("[[]", "a nested class");
	refused("[a[b]]", "a nested class");
	refused("[a-z&&[^aeiou]]", "class intersections");
	refused("[a-z&&aeiou]", "class intersections");
	char deep[68];
	memset(deep, '(', 33);
	deep[33] = 'a';
	memset(deep + 34, ')', 33);
	deep[67] = '\0';
	refused(deep, "nest deeper than 32");
	deep[0] = 'x'; /* 32 levels are fine */
	deep[strlen(deep) - 1] = '\0';
	yes(deep, "xa");
}

/* ---- the differential check ---- */

static unsigned long rng_state = 12345;

static unsigned rnd(unsigned n)
{
	rng_state = rng_state * 6364136223846793005ul + 1442695040888963407ul;
	return (unsigned)(rng_state >> 33) % n;
}

static void gen(struct buf *b, int depth)
{
	int items = 1 + (int)rnd(3);
	for (int i = 0; i < items; i++) {
		switch (rnd(depth < 3 ? 6 : 4)) {
		case 0: buf_addc(b, 'a'); break;
		case 1: buf_addc(b, 'b'); break;
		case 2: buf_adds(b, rnd(2) ? "." : "[ab]"); break;
		case 3: buf_adds(b, rnd(2) ? "[^a]" : "a"); break;
		default:
			buf_addc(b, '(');
			gen(b, depth + 1);
			if (rnd(3) == 0) {
				buf_addc(b, '|');
				gen(b, depth + 1);
			}
			buf_addc(b, ')');
		}
		static const char *const q[] = {"", "", "*", "+", "?", "{2}", "{0,2}", "{1,}"};
		buf_adds(b, q[rnd(8)]);
	}
}

/* Random patterns over a, b, ., [ab], [^a], groups, | and quantifiers, where POSIX ERE and Java
 * agree, against every string over {a, b} up to length 6: glibc anchored with ^( )$ and
 * rx_match, glibc unanchored and rx_search must give the same answers. */
static void test_against_glibc(void **state)
{
	(void)state;
	for (int round = 0; round < 600; round++) {
		struct buf pat = BUF_INIT, anchored = BUF_INIT, grouped = BUF_INIT;
		gen(&pat, 0);
		buf_addf(&anchored, "^(%s)$", pat.p);
		buf_addf(&grouped, "(%s)", pat.p);
		regex_t g, gs;
		const char *why = NULL;
		if (regcomp(&g, anchored.p, REG_EXTENDED | REG_NOSUB) ||
		    regcomp(&gs, grouped.p, REG_EXTENDED | REG_NOSUB))
			fail_msg("glibc refuses %s", pat.p);
		struct rx *re = rx_compile(pat.p, &why);
		if (!re)
			fail_msg("\"%s\" refused: %s", pat.p, why);
		char s[8];
		for (int len = 0; len <= 6; len++)
			for (unsigned bits = 0; bits < 1u << len; bits++) {
				for (int k = 0; k < len; k++)
					s[k] = bits >> k & 1 ? 'b' : 'a';
				s[len] = '\0';
				bool want = regexec(&g, s, 0, NULL, 0) == 0;
				if (rx_match(re, s) != want)
					fail_msg("\"%s\" on \"%s\": glibc says %d", pat.p, s, want);
				want = regexec(&gs, s, 0, NULL, 0) == 0;
				if (rx_search(re, s, (size_t)len) != want)
					fail_msg("\"%s\" in \"%s\": glibc says %d", pat.p, s, want);
			}
		rx_free(re);
		regfree(&g);
		regfree(&gs);
		buf_release(&pat);
		buf_release(&anchored);
		buf_release(&grouped);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_whole_value), cmocka_unit_test(test_search),
		cmocka_unit_test(test_repetitions), cmocka_unit_test(test_classes_and_escapes),
		cmocka_unit_test(test_refusals),    cmocka_unit_test(test_against_glibc),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
