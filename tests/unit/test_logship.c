/* logship: k8s-file log lines parsed as conmon writes them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "agent/logship.h"

static void check(const char *line, long long want_ms, bool want_partial, const char *want_msg)
{
	long long ms;
	bool partial, err_stream;
	const char *m;
	size_t n;
	assert_int_equal(logship_parse_line(line, strlen(line), &ms, &err_stream, &partial, &m, &n), 0);
	assert_int_equal(ms, want_ms);
	assert_int_equal(partial, want_partial);
	assert_int_equal(err_stream, strstr(line, " stderr ") != NULL);
	assert_int_equal(n, strlen(want_msg));
	assert_memory_equal(m, want_msg, n);
}

static void test_lines(void **state)
{
	(void)state;
	/* 2024-05-01T12:00:00Z is 1714564800 */
	check("2024-05-01T12:00:00.123456789+00:00 stdout F hello world", 1714564800123LL, false,
	      "hello world");
	check("2024-05-01T12:00:00.5Z stderr P part", 1714564800500LL, true, "part");
	check("2024-05-01T14:00:00.000000001+02:00 stdout F x", 1714564800000LL, false, "x");
	check("2024-05-01T11:30:00-00:30 stdout F ", 1714564800000LL, false, "");
	check("2024-05-01T12:00:00Z stdout F  two spaces", 1714564800000LL, false, " two spaces");
}

static void test_bad_lines(void **state)
{
	(void)state;
	const char *bad[] = {"",
			     "hello",
			     "2024-05-01 12:00:00 stdout F x",
			     "2024-13-01T12:00:00Z stdout F x",
			     "2024-05-01T12:00:00Z stdout",
			     "2024-05-01T12:00:00Z stdout X x",
			     "2024-05-01T12:00:00+0000 stdout F x"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		long long ms;
		bool partial, err_stream;
		const char *m;
		size_t n;
		assert_int_equal(
			logship_parse_line(bad[i], strlen(bad[i]), &ms, &err_stream, &partial, &m, &n), -1);
	}
}

static void test_sizes(void **state)
{
	(void)state;
	assert_int_equal(logship_parse_size("1048576"), 1048576);
	assert_int_equal(logship_parse_size("4m"), 4 << 20);
	assert_int_equal(logship_parse_size("512k"), 512 << 10);
	assert_int_equal(logship_parse_size("1g"), 1LL << 30);
	assert_int_equal(logship_parse_size("2MB"), 2 << 20);
	assert_int_equal(logship_parse_size("x"), -1);
	assert_int_equal(logship_parse_size("4q"), -1);
	assert_int_equal(logship_parse_size("-1"), -1);
	assert_int_equal(logship_parse_size(NULL), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lines),
		cmocka_unit_test(test_bad_lines),
		cmocka_unit_test(test_sizes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
