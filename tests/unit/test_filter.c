/* Unit tests for CloudWatch Logs filter patterns (logs/filter.h): the examples of the CloudWatch
 * Logs user guide ("Filter pattern syntax") for terms, ?-terms, -terms, quoted phrases and JSON
 * selectors, and the patterns that are refused. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "logs/filter.h"

static bool m(const char *pattern, const char *msg)
{
	struct err *e = NULL;
	struct filter *f = filter_parse(pattern, &e);
	if (!f) {
		fail_msg("pattern '%s' refused: %s", pattern, e->msg);
		err_free(e);
		return false;
	}
	bool r = filter_match(f, msg, strlen(msg));
	filter_free(f);
	return r;
}

static void refused_with(const char *pattern, const char *needle)
{
	struct err *e = NULL;
	struct filter *f = filter_parse(pattern, &e);
	if (f)
		fail_msg("pattern '%s' was accepted", pattern);
	assert_non_null(e);
	assert_int_equal(e->kind, ERR_INVALID_PARAM);
	if (!strstr(e->msg, needle))
		fail_msg("pattern '%s': message \"%s\" lacks \"%s\"", pattern, e->msg, needle);
	err_free(e);
}

static void refused(const char *pattern)
{
	refused_with(pattern, "");
}

static void test_empty(void **state)
{
	(void)state;
	assert_true(m("", "anything"));
	assert_true(m("   ", "anything"));
}

static void test_terms(void **state)
{
	(void)state;
	assert_true(m("ERROR", "[ERROR] disk full"));
	assert_false(m("ERROR", "[error] disk full")); /* case-sensitive */
	assert_true(m("ERROR disk", "[ERROR] disk full"));
	assert_false(m("ERROR memory", "[ERROR] disk full"));
	assert_true(m("\"disk full\"", "[ERROR] disk full"));
	assert_false(m("\"full disk\"", "[ERROR] disk full"));
	assert_true(m("?ERROR ?WARN", "WARN low memory"));
	assert_true(m("?ERROR ?WARN", "ERROR x"));
	assert_false(m("?ERROR ?WARN", "INFO fine"));
	assert_true(m("ERROR -Exiting", "ERROR disk"));
	assert_false(m("ERROR -Exiting", "ERROR Exiting now"));
	assert_true(m("-DEBUG", "INFO x"));
	assert_false(m("-DEBUG", "DEBUG x"));
	assert_true(m("\"a \\\"quoted\\\" word\"", "say a \"quoted\" word"));
}

static void test_json(void **state)
{
	(void)state;
	const char *msg = "{\"level\":\"error\",\"latency\":150,\"user\":{\"id\":7,\"name\":\"ann\"},"
			  "\"tags\":[\"a\",\"b\"],\"ok\":false,\"nothing\":null}";
	assert_true(m("{ $.level = \"error\" }", msg));
	assert_true(m("{$.level=error}", msg));
	assert_false(m("{ $.level = \"Error\" }", msg));
	assert_true(m("{ $.level != \"info\" }", msg));
	assert_true(m("{ $.level = \"err*\" }", msg));
	assert_true(m("{ $.level = \"*r*o*\" }", msg));
	assert_false(m("{ $.level = \"warn*\" }", msg));
	assert_true(m("{ $.latency > 100 }", msg));
	assert_false(m("{ $.latency < 100 }", msg));
	assert_true(m("{ $.latency >= 150 && $.latency <= 150 }", msg));
	assert_true(m("{ $.latency = 150 }", msg));
	assert_true(m("{ $.latency != 151 }", msg));
	assert_true(m("{ $.user.id = 7 }", msg));
	assert_true(m("{ $.user.name = \"ann\" }", msg));
	assert_true(m("{ $.tags[1] = \"b\" }", msg));
	assert_true(m("{ $.level = \"info\" || $.latency > 100 }", msg));
	assert_false(m("{ $.level = \"info\" && $.latency > 100 }", msg));
	assert_true(m("{ ($.level = \"info\" || $.level = \"error\") && $.user.id = 7 }", msg));
	assert_true(m("{ $.ok IS FALSE }", msg));
	assert_true(m("{ $.nothing IS NULL }", msg));
	assert_true(m("{ $.missing NOT EXISTS }", msg));
	assert_false(m("{ $.level NOT EXISTS }", msg));
	assert_false(m("{ $.missing = \"x\" }", msg));
	assert_false(m("{ $.level = \"error\" }", "level=error, not JSON"));
	assert_false(m("{ $.level = \"error\" }", "[1,2]"));
}

static void test_refused(void **state)
{
	(void)state;
	refused("{ $.level = }");
	refused("{ level = \"x\" }");
	refused("{ $.level = \"x\" ");
	refused("{ $.level > \"x\" }");
	refused("{ $.a = 1 } trailing");
	refused("\"unterminated");
	refused("{ $.a ~ 1 }");
	refused("{ $. = 1 }");
	char deep[200];
	memset(deep, '(', 100);
	deep[0] = '{';
	memcpy(deep + 100, "$.a = 1 }", sizeof("$.a = 1 }"));
	refused(deep);
	char *big = malloc(FILTER_PATTERN_MAX + 2);
	memset(big, 'a', FILTER_PATTERN_MAX + 1);
	big[FILTER_PATTERN_MAX + 1] = 0;
	refused(big);
	free(big);
}

/* CloudWatch's %regex% patterns: standalone (found anywhere in the message) and as a JSON value. */
static void test_regex(void **state)
{
	(void)state;
	/* the examples of CloudWatch's "Supported regular expressions syntax" */
	assert_true(m("%AUTHORIZED%", "[ERROR 401] UNAUTHORIZED REQUEST"));
	assert_true(m("%AUTHORIZED%", "[SUCCESS 200] AUTHORIZED REQUEST"));
	assert_true(m("%\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}%", "client 192.168.0.12 connected"));
	assert_false(m("%\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}%", "client 192.168.0 connected"));
	assert_true(m("%[Ee]rror|[Ff]ail%", "Fail: disk"));
	assert_true(m(" %[Ee]rror|[Ff]ail% ", "an error"));
	assert_false(m("%[Ee]rror|[Ff]ail%", "ERROR"));
	assert_true(m("%^[hc]at%", "cat on the mat"));
	assert_false(m("%^[hc]at%", "the cat"));
	assert_true(m("%[hc]at$%", "the hat"));
	assert_true(m("%colou?r%", "color"));
	assert_true(m("%a{3,5}%", "xaaax"));
	assert_false(m("%a{3,5}%", "xaax"));
	assert_true(m("%user=\\w+;id:#\\d+@/api,v-1%", "user=bob;id:#42@/api,v-1"));
	assert_true(m("%\\(x\\)%", "f(x)"));
	/* as the value of a JSON comparison */
	assert_true(m("{ $.level = %^err|^warn% }", "{\"level\": \"warning\"}"));
	assert_false(m("{ $.level = %^err|^warn% }", "{\"level\": \"info\"}"));
	assert_true(m("{ $.level != %^err% }", "{\"level\": \"info\"}"));
	assert_false(m("{ $.level = %1% }", "{\"level\": 1}")); /* strings only */
	assert_true(m("{ $.a = %x% && $.b = %^y$% }", "{\"a\": \"axb\", \"b\": \"y\"}"));
	refused_with("%(a)%", "found '('");
	refused_with("%a b%", "found ' '");
	refused_with("%caf\xc3\xa9%", "found '?'");
	refused_with("%abc", "no closing '%'");
	refused_with("%%", "empty");
	refused_with("%a% b", "unexpected text after");
	refused_with("%a**%", "a repetition operator cannot follow another");
	refused_with("%[a%", "a bracket expression is not closed");
	refused_with("{ $.a = %x% || $.b = %y% || $.c = %z% }", "at most 2 regular expressions");
	refused_with("{ $.a > %1% }", "= or != only");
	/* matching costs the program's size per byte scanned: large programs are refused */
	refused_with("%[^x]{4094}x%", "at most 256 instructions");
	assert_true(m("%[^x]{254}x%", "x"
				      "0123456789012345678901234567890123456789012345678901234567890123456789"
				      "0123456789012345678901234567890123456789012345678901234567890123456789"
				      "0123456789012345678901234567890123456789012345678901234567890123456789"
				      "0123456789012345678901234567890123456789012345x"));
}

/* Space-delimited patterns over an access log: fields by position, "..." and [...] as one field,
 * an ellipsis, conditions with numbers, wildcards, regular expressions, && and ||. */
static void test_delimited(void **state)
{
	(void)state;
	const char *l404 =
		"127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] \"GET /apache_pb.gif HTTP/1.0\" 404 1534";
	const char *l200 = "10.1.2.3 - - [10/Oct/2000:13:25:16 -0700] \"POST /api/items HTTP/1.1\" 200 77";
	const char *all = "[ip, user, username, timestamp, request, status_code, bytes]";
	assert_true(m(all, l404));
	assert_true(m(all, l200));
	assert_false(m(all, "only three fields"));
	assert_false(m("[a, b]", l404)); /* the number of fields must agree without an ellipsis */
	assert_true(m("[ip, user, username, timestamp, request, status_code=404, bytes]", l404));
	assert_false(m("[ip, user, username, timestamp, request, status_code=404, bytes]", l200));
	assert_true(m("[ip, user, username, timestamp, request, status_code = 4*, bytes]", l404));
	assert_true(m("[ip, user, username, timestamp, request=*POST*, status_code, bytes]", l200));
	assert_true(m("[ip, user, username=frank, timestamp=*13:25:15*, ...]", l404));
	assert_true(m("[ip=127.0.0.1, ...]", l404));
	assert_true(m("[..., status_code>=400&&status_code<=499, bytes]", l404));
	assert_false(m("[..., status_code>=400&&status_code<=499, bytes]", l200));
	assert_true(m("[..., status_code=200||bytes>1000, bytes]", l404));
	assert_true(m("[..., status_code=200||bytes>1000, bytes]", l200));
	assert_true(m("[ip, ..., bytes<100]", l200));
	assert_false(m("[ip, ..., bytes<100]", l404));
	assert_true(m("[ip, user, username!=frank, ...]", l200));
	assert_true(m("[ip=%^10\\.%, ...]", l200));
	assert_false(m("[ip=%^10\\.%, ...]", l404));
	assert_true(m("[ip, user, username, timestamp, request=\"POST /api/items HTTP/1.1\", ...]", l200));
	assert_true(m("[...]", ""));
	assert_true(m("[..., ip, user, username, timestamp, request, status_code, bytes]", l404));
	assert_false(m("[..., x, ip, user, username, timestamp, request, status_code, bytes]", l404));
	assert_false(m("[ip, ..., bytes>5]", "a b c word")); /* ordering needs a number */
	/* a condition may name another field of the pattern */
	assert_true(m("[ip, user, username, timestamp, request, status_code=404&&bytes>1000, bytes]", l404));
	refused_with("[ip, ..., ...]", "one ... only");
	refused_with("[ip, ip]", "appears twice");
	refused_with("[ip, status=404&&nope=1]", "`nope`, which is not a field");
	refused_with("[ip status]", "expected ',' or ']'");
	refused_with("[ip,]", "expected a field name");
	refused_with("[ip] x", "unexpected text after ']'");
	refused_with("[ip>abc]", "compare numbers only");
	refused_with("[ip=]", "needs a value");
	refused_with("[ip", "expected ',' or ']'");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty), cmocka_unit_test(test_terms),
		cmocka_unit_test(test_json),  cmocka_unit_test(test_refused),
		cmocka_unit_test(test_regex), cmocka_unit_test(test_delimited),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
