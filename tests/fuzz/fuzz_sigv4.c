/* libFuzzer target for SigV4 verification: arbitrary bytes become a request (Authorization header,
 * method, path, query, headers, body) that sigv4_verify checks against a fixed credential store.
 *
 * Input, split on '\n':
 *   line 1: the Authorization header value, or "SIGN <signed headers>" to have sigv4_authorization
 *           sign the request first (then verify must not call our own signature a mismatch)
 *   line 2: method; line 3: raw path; line 4: raw query
 *   then "Name:value" header lines up to an empty line; everything after it is the body. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/creds.h"
#include "api/sigv4.h"
#include "common/err.h"
#include "common/xalloc.h"

#define FUZZ_KEY    "AKIDEXAMPLE"
#define FUZZ_SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define FUZZ_DATE   "20150830T123600Z"
#define FUZZ_NOW    ((time_t)1440938160)
/* More than SIGV4_MAX_HEADERS, so that the bound is reached too. */
#define FUZZ_MAX_HEADERS (SIGV4_MAX_HEADERS + 8)

static struct creds *creds;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	struct err *err = NULL;
	creds = creds_new();
	if (creds_add(creds, FUZZ_KEY, FUZZ_SECRET, "123456789012", &err) < 0)
		abort();
	return 0;
}

/* Cuts the next '\n'-terminated line off *p (NUL-terminating it in place); NULL at the end. */
static char *next_line(char **p, char *end)
{
	if (*p >= end)
		return NULL;
	char *line = *p;
	char *nl = memchr(line, '\n', (size_t)(end - line));
	if (nl) {
		*nl = '\0';
		*p = nl + 1;
	} else {
		*p = end;
	}
	return line;
}

/* True when the request has exactly one X-Amz-Date, equal to the date we sign with: only then do
 * signer and verifier sign the same timestamp. */
static bool signs_our_date(const struct sigv4_request *r)
{
	size_t n = 0;
	bool same = false;
	for (size_t i = 0; i < r->nheaders; i++) {
		if (strcasecmp(r->headers[i].name, "x-amz-date") == 0) {
			n++;
			const char *v = r->headers[i].value;
			while (*v == ' ' || *v == '\t')
				v++;
			same = strncmp(v, FUZZ_DATE, 16) == 0 && strspn(v + 16, " \t") == strlen(v + 16);
		}
	}
	return n == 1 && same;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* One extra byte for a NUL, so that the last line is a C string too. */
	char *copy = xmalloc(size + 1);
	memcpy(copy, data, size);
	copy[size] = '\0';
	char *p = copy, *end = copy + size;
	struct sigv4_header *h = xcalloc(FUZZ_MAX_HEADERS + 1, sizeof(*h));
	char *auth = NULL;
	struct err *err = NULL;

	const char *auth_line = next_line(&p, end);
	const char *method = next_line(&p, end);
	const char *path = next_line(&p, end);
	const char *query = next_line(&p, end);
	if (!auth_line || !method || !path || !query)
		goto out;

	size_t n = 0;
	char *line;
	while (n < FUZZ_MAX_HEADERS && (line = next_line(&p, end)) && *line) {
		char *colon = strchr(line, ':');
		if (colon)
			*colon = '\0';
		h[n].name = line;
		h[n].value = colon ? colon + 1 : "";
		n++;
	}
	struct sigv4_request r = {
		.method = method,
		.path = path,
		.query = query,
		.headers = h,
		.nheaders = n,
		.body = p,
		.body_len = (size_t)(end - p),
	};

	bool signed_here = false;
	if (strncmp(auth_line, "SIGN ", 5) == 0) {
		auth = sigv4_authorization(&r, FUZZ_KEY, FUZZ_SECRET, FUZZ_DATE, "us-east-1", "ecs",
					   auth_line + 5, &err);
		if (!auth)
			goto out;
		signed_here = true;
		auth_line = auth;
	}
	h[r.nheaders++] = (struct sigv4_header){"Authorization", auth_line};

	struct sigv4_identity id;
	if (sigv4_verify(&r, FUZZ_NOW, creds, &id, &err) == 0) {
		/* Only our credential can verify, and only with a scope of the signed day. */
		if (strcmp(id.access_key, FUZZ_KEY) != 0 || strcmp(id.account, "123456789012") != 0)
			abort();
	} else {
		if (!err || !err->msg)
			abort();
		/* Our own signature over a request whose date we signed must never be a mismatch:
		 * that would mean signing and verifying canonicalize differently. */
		if (signed_here && signs_our_date(&r) && strstr(err->msg, "does not match the signature"))
			abort();
	}
out:
	err_free(err);
	free(auth);
	free(h);
	free(copy);
	return 0;
}
