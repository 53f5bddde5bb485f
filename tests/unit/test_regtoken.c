/* Unit tests for the registry's signed credentials (registry/registry.c): registry passwords and
 * the download-URL credentials of GetDownloadUrlForLayer, which are valid for one repository and
 * blob until they expire, can be neither altered nor used as a password (nor the other way round),
 * and die with the access key that made them. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/creds.h"
#include "common/clock.h"
#include "registry/reg-int.h"

#define KEY_A  "GKIATESTACCOUNTAAAAA"
#define ACCT_A "111111111111"
#define SCOPE  "app/web@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static struct reg *reg_fixture(void)
{
	struct reg *reg = calloc(1, sizeof(*reg));
	reg->creds = creds_new();
	assert_int_equal(
		creds_add(reg->creds, KEY_A, "secretA/0123456789abcdefghijklmnopqrstuv", ACCT_A, NULL), 0);
	for (size_t i = 0; i < sizeof(reg->token_key); i++)
		reg->token_key[i] = (unsigned char)(i * 7 + 3);
	return reg;
}

static void reg_fixture_free(struct reg *reg)
{
	creds_free(reg->creds);
	free(reg);
}

static void test_url_token(void **state)
{
	(void)state;
	struct reg *reg = reg_fixture();
	const char *account = NULL;
	char region[32] = "";
	char *tok = reg__url_token_make(reg, KEY_A, "eu-west-1", clock_now() + 60, SCOPE);
	assert_int_equal(strncmp(tok, "gantryurl1.", 11), 0);
	assert_int_equal(reg__url_token_check(reg, tok, SCOPE, &account, region), 0);
	assert_string_equal(account, ACCT_A);
	assert_string_equal(region, "eu-west-1");
	/* another blob, another repository */
	assert_int_equal(reg__url_token_check(reg, tok, "app/web@sha256:00", &account, region), -1);
	assert_int_equal(
		reg__url_token_check(
			reg, tok,
			"app/other@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
			&account, region),
		-1);
	/* any byte changed */
	for (size_t i = 11; tok[i]; i++) {
		char saved = tok[i];
		tok[i] = saved == '0' ? '1' : '0';
		if (tok[i] != saved)
			assert_int_equal(reg__url_token_check(reg, tok, SCOPE, &account, region), -1);
		tok[i] = saved;
	}
	/* not a registry password */
	assert_int_equal(reg__token_check(reg, tok, &account, region), -1);
	char *as_pw = malloc(strlen(tok));
	snprintf(as_pw, strlen(tok), "gantry1.%s", tok + 11);
	assert_int_equal(reg__token_check(reg, as_pw, &account, region), -1);
	free(as_pw);
	free(tok);
	reg_fixture_free(reg);
}

static void test_url_token_expires(void **state)
{
	(void)state;
	struct reg *reg = reg_fixture();
	const char *account = NULL;
	char region[32];
	char *tok = reg__url_token_make(reg, KEY_A, "us-east-1", clock_now() - 1, SCOPE);
	assert_int_equal(reg__url_token_check(reg, tok, SCOPE, &account, region), -1);
	free(tok);
	/* made for a key that the server no longer knows */
	tok = reg__url_token_make(reg, "GKIAUNKNOWNKEYXXXXXX", "us-east-1", clock_now() + 60, SCOPE);
	assert_int_equal(reg__url_token_check(reg, tok, SCOPE, &account, region), -1);
	free(tok);
	reg_fixture_free(reg);
}

static void test_password_is_not_url_token(void **state)
{
	(void)state;
	struct reg *reg = reg_fixture();
	const char *account = NULL;
	char region[32];
	char *pw = reg__token_make(reg, KEY_A, "us-east-1", clock_now() + 60);
	assert_int_equal(reg__token_check(reg, pw, &account, region), 0);
	assert_string_equal(account, ACCT_A);
	assert_int_equal(reg__url_token_check(reg, pw, SCOPE, &account, region), -1);
	char *as_url = malloc(strlen(pw) + 8);
	snprintf(as_url, strlen(pw) + 8, "gantryurl1.%s", pw + 8);
	assert_int_equal(reg__url_token_check(reg, as_url, SCOPE, &account, region), -1);
	free(as_url);
	free(pw);
	reg_fixture_free(reg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_url_token),
		cmocka_unit_test(test_url_token_expires),
		cmocka_unit_test(test_password_is_not_url_token),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
