/* Unit tests for src/common: buf, enc, jv, page, arn, clock, err. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/arn.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/enc.h"
#include "common/hmap.h"
#include "common/err.h"
#include "common/fsx.h"
#include "common/ids.h"
#include "common/jv.h"
#include "common/page.h"
#include "common/xalloc.h"

static void test_buf_cap_and_never_null(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 8);
	assert_non_null(b.p);
	assert_string_equal(b.p, "");
	assert_int_equal(buf_adds(&b, "abcd"), 0);
	assert_int_equal(buf_addf(&b, "%d", 123), 0);
	assert_string_equal(b.p, "abcd123");
	assert_int_equal(buf_adds(&b, "xy"), -1); /* 9 > 8: refused, unchanged */
	assert_string_equal(b.p, "abcd123");
	assert_int_equal(buf_addc(&b, 'z'), 0);
	assert_int_equal(b.len, 8);
	size_t n;
	char *s = buf_detach(&b, &n);
	assert_int_equal(n, 8);
	assert_string_equal(s, "abcd123z");
	free(s);
	assert_string_equal(b.p, "");
	buf_release(&b);
}

static void test_enc(void **state)
{
	(void)state;
	char *b = enc_b64("hello!?", 7);
	assert_string_equal(b, "aGVsbG8hPw==");
	size_t n;
	char *d = enc_b64_decode(b, strlen(b), &n);
	assert_int_equal(n, 7);
	assert_memory_equal(d, "hello!?", 7);
	free(d);
	free(b);
	assert_null(enc_b64_decode("abc", 3, &n));
	assert_null(enc_b64_decode("ab$=", 4, &n));
	struct buf u = BUF_INIT;
	enc_uri(&u, "a b/c~d", 7, false);
	assert_string_equal(u.p, "a%20b%2Fc~d");
	buf_reset(&u);
	enc_uri(&u, "a b/c", 5, true);
	assert_string_equal(u.p, "a%20b/c");
	buf_release(&u);
	char *p = enc_pct_decode("a%20b+c", 7, true);
	assert_string_equal(p, "a b c");
	free(p);
	assert_null(enc_pct_decode("a%2", 3, false));
	assert_null(enc_pct_decode("a%zz", 4, false));
	assert_null(enc_pct_decode("a%00", 4, false));
	char hex[9];
	enc_hex("\x01\xab\xff\x10", 4, hex);
	assert_string_equal(hex, "01abff10");
}

static void test_jv_getters_name_the_member(void **state)
{
	(void)state;
	json_t *o = json_loads(
		"{\"s\":\"x\",\"i\":5,\"f\":2.0,\"h\":2.5,\"b\":true,\"a\":[\"p\",1],\"n\":null}", 0, NULL);
	struct err *e = NULL;
	const char *s;
	long long i = 0;
	bool b = false, present = true;
	json_t *a;
	assert_int_equal(jv_str(o, "s", true, &s, &e), 0);
	assert_string_equal(s, "x");
	assert_int_equal(jv_int(o, "i", true, &i, NULL, &e), 0);
	assert_int_equal(i, 5);
	assert_int_equal(jv_int(o, "f", true, &i, NULL, &e), 0);
	assert_int_equal(i, 2);
	assert_int_equal(jv_bool(o, "b", true, &b, NULL, &e), 0);
	assert_true(b);
	assert_int_equal(jv_int(o, "n", false, &i, &present, &e), 0);
	assert_false(present);
	assert_null(e);
	assert_int_equal(jv_int(o, "h", true, &i, NULL, &e), -1);
	assert_int_equal(e->kind, ERR_INVALID_PARAM);
	assert_non_null(strstr(e->msg, "'h'"));
	err_free(e);
	e = NULL;
	assert_int_equal(jv_str(o, "missing", true, &s, &e), -1);
	assert_non_null(strstr(e->msg, "missing"));
	err_free(e);
	e = NULL;
	assert_int_equal(jv_str_array(o, "a", true, &a, &e), -1);
	assert_non_null(strstr(e->msg, "a[1]"));
	err_free(e);
	e = NULL;
	assert_int_equal(jv_object(o, "s", true, &a, &e), -1);
	err_free(e);
	json_decref(o);
	json_t *t = jv_time(1700000000.1234);
	char *txt = jv_dump(t);
	assert_string_equal(txt, "1700000000.123");
	free(txt);
	json_decref(t);
	e = NULL;
	assert_null(jv_parse("{", 1, &e));
	assert_int_equal(e->kind, ERR_SERIALIZATION);
	err_free(e);
}

static void test_page_tokens(void **state)
{
	(void)state;
	char *tok = page_token("web");
	json_t *in = json_pack("{s:s, s:i}", "nextToken", tok, "maxResults", 5);
	char *after = NULL;
	long long max = 0;
	struct err *e = NULL;
	assert_int_equal(page_after(in, &after, &e), 0);
	assert_string_equal(after, "web");
	assert_int_equal(page_max_results(in, 100, 100, &max, &e), 0);
	assert_int_equal(max, 5);
	free(after);
	free(tok);
	json_decref(in);
	in = json_pack("{s:s, s:i}", "nextToken", "d2Vi", "maxResults", 101);
	assert_int_equal(page_after(in, &after, &e), -1);
	assert_int_equal(e->kind, ERR_INVALID_PARAM);
	err_free(e);
	e = NULL;
	assert_int_equal(page_max_results(in, 100, 100, &max, &e), -1);
	err_free(e);
	json_decref(in);
}

static void test_arn(void **state)
{
	(void)state;
	struct arn a;
	struct err *e = NULL;
	assert_int_equal(arn_parse("arn:aws:ecs:us-east-1:111111111111:task-definition/web:3", "x", &a, &e),
			 0);
	assert_string_equal(a.service, "ecs");
	assert_string_equal(a.region, "us-east-1");
	assert_string_equal(a.account, "111111111111");
	assert_string_equal(a.resource, "task-definition/web:3");
	arn_release(&a);
	assert_int_equal(arn_parse("arn:aws:ecs:us-east-1", "resourceArn", &a, &e), -1);
	assert_non_null(strstr(e->msg, "resourceArn"));
	err_free(e);
	char *s = arn_build("ecs", "eu-west-1", "1", "cluster/x");
	assert_string_equal(s, "arn:aws:ecs:eu-west-1:1:cluster/x");
	free(s);
}

static void test_clock_and_ids(void **state)
{
	(void)state;
	time_t t;
	assert_int_equal(clock_parse_amz("20150830T123600Z", &t), 0);
	assert_int_equal((long long)t, 1440938160LL);
	assert_int_equal(clock_parse_amz("20150830T123600", &t), -1);
	assert_int_equal(clock_parse_amz("2015083xT123600Z", &t), -1);
	assert_int_equal(clock_parse_amz("20151330T123600Z", &t), -1);
	char id1[33], id2[33], u[37], tok[41];
	ids_hex32(id1);
	ids_hex32(id2);
	assert_int_equal(strlen(id1), 32);
	assert_string_not_equal(id1, id2);
	ids_uuid(u);
	assert_int_equal(strlen(u), 36);
	assert_int_equal(u[14], '4');
	ids_token(tok, 40, 1);
	assert_int_equal(strlen(tok), 40);
}

static void test_err_context(void **state)
{
	(void)state;
	struct err *e = NULL;
	assert_int_equal(err_set(&e, ERR_CLIENT, "memory must be > %d", 0), -1);
	err_set(&e, ERR_INTERNAL, "second error is ignored");
	err_prefix(&e, "container `%s`", "app");
	err_prefix(&e, "register task definition `%s`", "web");
	assert_int_equal(e->kind, ERR_CLIENT);
	assert_string_equal(e->msg, "register task definition `web`: container `app`: memory must be > 0");
	err_free(e);
	e = NULL;
	err_sys(&e, 2, "open %s", "/x");
	assert_int_equal(e->sys_errno, 2);
	assert_non_null(strstr(e->msg, "open /x: "));
	err_free(e);
}

/* The map against a brute-force model under many inserts and deletes (deletion must keep every
 * other key findable). */
static void test_hmap_against_model(void **state)
{
	(void)state;
	struct hmap *m = hmap_new();
	enum { N = 3000 };
	static int present[N];
	memset(present, 0, sizeof(present));
	unsigned seed = 12345;
	char key[32];
	for (int step = 0; step < 60000; step++) {
		seed = seed * 1103515245u + 12345u;
		int k = (int)((seed >> 8) % N);
		snprintf(key, sizeof(key), "key-%d", k);
		if ((seed >> 4) & 1) {
			hmap_put(m, key, &present[k]);
			present[k] = 1;
		} else {
			void *v = hmap_del(m, key);
			assert_true((v != NULL) == (present[k] == 1));
			present[k] = 0;
		}
	}
	size_t count = 0;
	for (int k = 0; k < N; k++) {
		snprintf(key, sizeof(key), "key-%d", k);
		assert_true((hmap_get(m, key) != NULL) == (present[k] == 1));
		count += (size_t)present[k];
	}
	assert_int_equal(hmap_size(m), count);
	size_t it = 0, seen = 0;
	const char *k;
	void *v;
	while (hmap_next(m, &it, &k, &v))
		seen++;
	assert_int_equal(seen, count);
	hmap_free(m);
}

/* The file's content (at most size - 1 bytes, NUL-terminated in buf); fails the test when it cannot
 * be read or holds more than expect_len bytes. */
static void read_back(const char *path, char *buf, size_t size, size_t expect_len)
{
	memset(buf, 0, size);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	assert_int_equal(fread(buf, 1, size - 1, f), expect_len);
	fclose(f);
}

/* fsx_write_file replaces a file whole, with the mode asked, and leaves nothing behind when it
 * cannot. */
static void test_fsx_write_file(void **state)
{
	(void)state;
	char dir[] = "/tmp/gantry-fsx.XXXXXX";
	assert_non_null(mkdtemp(dir));
	char *path = xasprintf("%s/f", dir);
	struct err *e = NULL;
	assert_int_equal(fsx_write_file(path, "one\n", 4, 0600, true, &e), 0);
	assert_int_equal(fsx_write_file(path, "second\n", 7, 0640, false, &e), 0);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	assert_int_equal(st.st_size, 7);
	char got[16];
	read_back(path, got, sizeof(got), 7);
	assert_string_equal(got, "second\n");
	char *missing = xasprintf("%s/no/such/dir/f", dir);
	assert_int_equal(fsx_write_file(missing, "x", 1, 0600, true, &e), -1);
	assert_non_null(e);
	assert_int_equal(e->kind, ERR_SYS);
	err_free(e);
	free(missing);
	/* Only the file itself is in the directory: no temporary file was left. */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
	free(path);
}

/* fsx_rewrite_file keeps the inode (what a bind mount sees) and creates a missing file. */
static void test_fsx_rewrite_file(void **state)
{
	(void)state;
	char dir[] = "/tmp/gantry-fsx.XXXXXX";
	assert_non_null(mkdtemp(dir));
	char *path = xasprintf("%s/hosts", dir);
	struct err *e = NULL;
	assert_int_equal(fsx_rewrite_file(path, "a longer first text\n", 20, 0644, &e), 0);
	struct stat before, after;
	assert_int_equal(stat(path, &before), 0);
	assert_int_equal(before.st_mode & 0777, 0644);
	assert_int_equal(fsx_rewrite_file(path, "short\n", 6, 0600, &e), 0);
	assert_int_equal(stat(path, &after), 0);
	assert_int_equal(after.st_ino, before.st_ino);
	assert_int_equal(after.st_size, 6);
	char got[32];
	read_back(path, got, sizeof(got), 6);
	assert_string_equal(got, "short\n");
	char *missing = xasprintf("%s/no/such/f", dir);
	assert_int_equal(fsx_rewrite_file(missing, "x", 1, 0600, &e), -1);
	assert_int_equal(e->kind, ERR_SYS);
	err_free(e);
	free(missing);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf_cap_and_never_null),
		cmocka_unit_test(test_enc),
		cmocka_unit_test(test_jv_getters_name_the_member),
		cmocka_unit_test(test_page_tokens),
		cmocka_unit_test(test_arn),
		cmocka_unit_test(test_clock_and_ids),
		cmocka_unit_test(test_err_context),
		cmocka_unit_test(test_hmap_against_model),
		cmocka_unit_test(test_fsx_write_file),
		cmocka_unit_test(test_fsx_rewrite_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
