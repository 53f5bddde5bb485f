/* Unit tests for the credential store (creds.h): adding and finding keys, the credentials file's
 * syntax with the line number of each kind of bad line, and creds_create_file's new key. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/creds.h"
#include "common/err.h"
#include "common/xalloc.h"

#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"

/* ---- fixture: a temporary directory per test ---- */

struct fixture {
	char *dir;
	char *path; /* dir/credentials, not created */
};

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	const char *base = getenv("TMPDIR");
	f->dir = xasprintf("%s/gantry-creds-XXXXXX", base && *base ? base : "/tmp");
	if (!mkdtemp(f->dir)) {
		fprintf(stderr, "mkdtemp %s: %s\n", f->dir, strerror(errno));
		free(f->dir);
		free(f);
		return -1;
	}
	f->path = xasprintf("%s/credentials", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	unlink(f->path);
	rmdir(f->dir);
	free(f->path);
	free(f->dir);
	free(f);
	return 0;
}

static void write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
}

/* ---- the store ---- */

static void test_add_find(void **state)
{
	(void)state;
	struct creds *c = creds_new();
	struct err *err = NULL;
	assert_int_equal(creds_count(c), 0);
	assert_null(creds_find(c, "AKIDEXAMPLE"));
	assert_int_equal(creds_add(c, "AKIDEXAMPLE", SECRET, "123456789012", &err), 0);
	assert_int_equal(creds_add(c, "GKIA0123456789ABCDEF", "s", "000000000001", &err), 0);
	assert_null(err);
	assert_int_equal(creds_count(c), 2);

	const struct cred *cr = creds_find(c, "AKIDEXAMPLE");
	assert_non_null(cr);
	assert_string_equal(cr->access_key, "AKIDEXAMPLE");
	assert_string_equal(cr->secret, SECRET);
	assert_string_equal(cr->account, "123456789012");
	assert_string_equal(creds_find(c, "GKIA0123456789ABCDEF")->account, "000000000001");
	/* Keys are case-sensitive and matched whole. */
	assert_null(creds_find(c, "akidexample"));
	assert_null(creds_find(c, "AKIDEXAMPL"));
	assert_null(creds_find(c, "AKIDEXAMPLEX"));
	assert_null(creds_find(c, ""));
	assert_null(creds_find(c, NULL));
	assert_null(creds_find(NULL, "AKIDEXAMPLE"));

	/* A key that is already there is refused and the first one kept. */
	assert_int_equal(creds_add(c, "AKIDEXAMPLE", "other", "999999999999", &err), -1);
	assert_int_equal(err->kind, ERR_INVALID_PARAM);
	assert_non_null(strstr(err->msg, "appears twice"));
	err_free(err);
	assert_string_equal(creds_find(c, "AKIDEXAMPLE")->secret, SECRET);
	assert_int_equal(creds_count(c), 2);
	creds_free(c);
	creds_free(NULL);
}

static void test_add_refuses(void **state)
{
	(void)state;
	static const struct {
		const char *key, *secret, *account, *want;
	} bad[] = {
		{"", SECRET, "123456789012", "access key id"},
		{"AK/ID", SECRET, "123456789012", "access key id"},
		{"AK ID", SECRET, "123456789012", "access key id"},
		{"AKID", "", "123456789012", "secret"},
		{"AKID", "with space", "123456789012", "secret"},
		{"AKID", "tab\there", "123456789012", "secret"},
		{"AKID", SECRET, "12345678901", "12 digits"},
		{"AKID", SECRET, "1234567890123", "12 digits"},
		{"AKID", SECRET, "12345678901a", "12 digits"},
		{"AKID", SECRET, "", "12 digits"},
	};
	struct creds *c = creds_new();
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct err *err = NULL;
		assert_int_equal(creds_add(c, bad[i].key, bad[i].secret, bad[i].account, &err), -1);
		assert_int_equal(err->kind, ERR_INVALID_PARAM);
		if (!strstr(err->msg, bad[i].want))
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err->msg, bad[i].want);
		/* The message never carries the secret. */
		if (bad[i].secret[0])
			assert_null(strstr(err->msg, bad[i].secret));
		err_free(err);
	}
	char longkey[CREDS_KEY_MAX + 2];
	memset(longkey, 'K', sizeof(longkey) - 1);
	longkey[sizeof(longkey) - 1] = '\0';
	struct err *err = NULL;
	assert_int_equal(creds_add(c, longkey, SECRET, "123456789012", &err), -1);
	err_free(err);
	err = NULL;
	longkey[CREDS_KEY_MAX] = '\0';
	assert_int_equal(creds_add(c, longkey, SECRET, "123456789012", &err), 0);
	assert_int_equal(creds_count(c), 1);
	creds_free(c);
}

/* Enough keys to make the table grow several times; every one stays findable. */
static void test_many(void **state)
{
	(void)state;
	struct creds *c = creds_new();
	struct err *err = NULL;
	char key[32], account[16];
	for (int i = 0; i < 5000; i++) {
		snprintf(key, sizeof(key), "GKIA%016d", i);
		snprintf(account, sizeof(account), "%012d", i);
		assert_int_equal(creds_add(c, key, SECRET, account, &err), 0);
	}
	assert_int_equal(creds_count(c), 5000);
	for (int i = 0; i < 5000; i++) {
		snprintf(key, sizeof(key), "GKIA%016d", i);
		snprintf(account, sizeof(account), "%012d", i);
		const struct cred *cr = creds_find(c, key);
		assert_non_null(cr);
		assert_string_equal(cr->account, account);
	}
	assert_null(creds_find(c, "GKIA0000000000005000"));
	creds_free(c);
}

/* ---- the file ---- */

static void test_load_good(void **state)
{
	struct fixture *f = *state;
	write_file(f->path, "# gantry credentials\n"
			    "\n"
			    "AKIDEXAMPLE " SECRET " 123456789012\n"
			    "   # an indented comment\n"
			    "\tGKIA0000000000000001\tsecret-two\t000000000002   \r\n"
			    "   \t  \n"
			    "GKIA0000000000000003   s3+/x   000000000003"); /* no final newline */
	struct err *err = NULL;
	struct creds *c = creds_load(f->path, &err);
	if (!c)
		fail_msg("%s", err->msg);
	assert_int_equal(creds_count(c), 3);
	assert_string_equal(creds_find(c, "AKIDEXAMPLE")->secret, SECRET);
	assert_string_equal(creds_find(c, "GKIA0000000000000001")->secret, "secret-two");
	assert_string_equal(creds_find(c, "GKIA0000000000000001")->account, "000000000002");
	assert_string_equal(creds_find(c, "GKIA0000000000000003")->secret, "s3+/x");
	creds_free(c);

	/* An empty file is an empty store. */
	write_file(f->path, "");
	c = creds_load(f->path, &err);
	assert_non_null(c);
	assert_int_equal(creds_count(c), 0);
	creds_free(c);
}

static void test_load_bad(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const char *text, *want;
	} bad[] = {
		{"# ok\nAKID1 s 123456789012\nAKID2 only-two\n",
		 "line 3: expected ACCESS_KEY_ID SECRET ACCOUNT_ID, "
		 "found 2 fields"},
		{"AKID1\n", "line 1: expected ACCESS_KEY_ID SECRET ACCOUNT_ID, found 1 field"},
		{"AKID1 s 123456789012 extra\n",
		 "line 1: expected ACCESS_KEY_ID SECRET ACCOUNT_ID, found more than 3"},
		{"\n\nAKID1 hidden-secret 12345\n",
		 "line 3: account id of access key `AKID1` must be exactly 12 digits"},
		{"AKID1 s 123456789012\nAKID1 t 123456789013\n", "line 2: access key `AKID1` appears twice"},
		{"AK-ID s 123456789012\n", "line 1: access key id may only contain"},
		{"AKID1 s 123456789012\r\nAKID2 s\x01x 123456789012\r\n",
		 "line 2: secret of access key `AKID2`"},
		{"AKID1 s 123456789012\nAKID2 s\0 123456789012\n", "line 2: contains a NUL byte"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		/* write_file stops at a NUL, so write the NUL case by length. */
		size_t len = strlen(bad[i].text);
		if (strstr(bad[i].want, "NUL"))
			len = strlen(bad[i].text) + 1 + strlen(bad[i].text + strlen(bad[i].text) + 1);
		FILE *fp = fopen(f->path, "w");
		assert_non_null(fp);
		assert_int_equal(fwrite(bad[i].text, 1, len, fp), len);
		assert_int_equal(fclose(fp), 0);

		struct err *err = NULL;
		assert_null(creds_load(f->path, &err));
		assert_non_null(err);
		assert_int_equal(err->kind, ERR_INVALID_PARAM);
		if (!strstr(err->msg, bad[i].want) || strncmp(err->msg, f->path, strlen(f->path)) != 0)
			fail_msg("case %zu: \"%s\" lacks \"%s\" or the path", i, err->msg, bad[i].want);
		assert_null(strstr(err->msg, "hidden-secret"));
		err_free(err);
	}

	/* An over-long line. */
	char *line = xmalloc(CREDS_LINE_MAX + 3);
	memset(line, 'a', CREDS_LINE_MAX + 1);
	line[CREDS_LINE_MAX + 1] = '\n';
	line[CREDS_LINE_MAX + 2] = '\0';
	write_file(f->path, line);
	free(line);
	struct err *err = NULL;
	assert_null(creds_load(f->path, &err));
	assert_non_null(strstr(err->msg, "line 1: longer than"));
	err_free(err);

	/* A missing file. */
	unlink(f->path);
	err = NULL;
	assert_null(creds_load(f->path, &err));
	assert_int_equal(err->kind, ERR_SYS);
	assert_int_equal(err->sys_errno, ENOENT);
	err_free(err);

	/* A directory. */
	err = NULL;
	assert_null(creds_load(f->dir, &err));
	assert_non_null(strstr(err->msg, "not a regular file"));
	err_free(err);
}

static bool all_in(const char *s, const char *set)
{
	return strspn(s, set) == strlen(s);
}

/* Copies the access key of the first non-comment line of path into key. */
static void read_key(const char *path, char key[64])
{
	FILE *fp = fopen(path, "r");
	assert_non_null(fp);
	char line[256];
	key[0] = '\0';
	while (fgets(line, sizeof(line), fp)) {
		if (line[0] != '#') {
			size_t n = strcspn(line, " ");
			assert_true(n < 64);
			memcpy(key, line, n);
			key[n] = '\0';
			break;
		}
	}
	fclose(fp);
	assert_true(key[0] != '\0');
}

static void test_create_file(void **state)
{
	struct fixture *f = *state;
	struct err *err = NULL;
	if (creds_create_file(f->path, "123456789012", &err) < 0)
		fail_msg("%s", err->msg);
	struct stat st;
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);

	struct creds *c = creds_load(f->path, &err);
	if (!c)
		fail_msg("%s", err->msg);
	assert_int_equal(creds_count(c), 1);
	char key[64];
	read_key(f->path, key);
	const struct cred *cr = creds_find(c, key);
	assert_non_null(cr);
	assert_int_equal(strlen(cr->access_key), 20);
	assert_int_equal(strncmp(cr->access_key, "GKIA", 4), 0);
	assert_true(all_in(cr->access_key + 4, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"));
	assert_int_equal(strlen(cr->secret), 40);
	assert_true(all_in(cr->secret, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"));
	assert_string_equal(cr->account, "123456789012");
	char *first = xstrdup(cr->secret);
	creds_free(c);

	/* An existing file is never overwritten. */
	assert_int_equal(creds_create_file(f->path, "210987654321", &err), -1);
	assert_int_equal(err->kind, ERR_SYS);
	assert_int_equal(err->sys_errno, EEXIST);
	err_free(err);
	err = NULL;
	c = creds_load(f->path, &err);
	assert_non_null(c);
	assert_string_equal(creds_find(c, key)->secret, first);
	creds_free(c);
	free(first);

	/* A bad account creates nothing. */
	unlink(f->path);
	assert_int_equal(creds_create_file(f->path, "12345", &err), -1);
	assert_int_equal(err->kind, ERR_INVALID_PARAM);
	err_free(err);
	assert_int_equal(access(f->path, F_OK), -1);

	/* Two files get different keys and secrets. */
	err = NULL;
	char *other = xasprintf("%s/other", f->dir);
	char k1[64], k2[64];
	assert_int_equal(creds_create_file(f->path, "123456789012", &err), 0);
	assert_int_equal(creds_create_file(other, "123456789012", &err), 0);
	read_key(f->path, k1);
	read_key(other, k2);
	assert_string_not_equal(k1, k2);
	struct creds *a = creds_load(f->path, &err), *b = creds_load(other, &err);
	assert_non_null(a);
	assert_non_null(b);
	assert_string_not_equal(creds_find(a, k1)->secret, creds_find(b, k2)->secret);
	creds_free(a);
	creds_free(b);
	unlink(other);
	free(other);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_find),
		cmocka_unit_test(test_add_refuses),
		cmocka_unit_test(test_many),
		cmocka_unit_test_setup_teardown(test_load_good, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_bad, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_file, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
