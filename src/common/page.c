/* Pagination tokens. */
#include "common/page.h"

#include <stdlib.h>
#include <string.h>

#include "common/enc.h"
#include "common/jv.h"
#include "common/xalloc.h"

/* Tokens carry a marker so that a token from another API or a typo is refused, not misread. */
#define PAGE_MARK "gantry1:"

int page_max_results(json_t *in, long long def, long long max, long long *out, struct err **err)
{
	bool present;
	long long v = def;
	if (jv_int(in, "maxResults", false, &v, &present, err) < 0)
		return -1;
	if (present && (v < 1 || v > max))
		return err_set(err, ERR_INVALID_PARAM, "maxResults must be between 1 and %lld", max);
	*out = v;
	return 0;
}

int page_after(json_t *in, char **after, struct err **err)
{
	const char *tok;
	*after = NULL;
	if (jv_str(in, "nextToken", false, &tok, err) < 0)
		return -1;
	if (!tok || !*tok)
		return 0;
	size_t n;
	char *raw = enc_b64_decode(tok, strlen(tok), &n);
	if (!raw || n < strlen(PAGE_MARK) || memcmp(raw, PAGE_MARK, strlen(PAGE_MARK)) != 0 ||
	    memchr(raw, '\0', n)) {
		free(raw);
		return err_set(err, ERR_INVALID_PARAM, "Invalid nextToken");
	}
	*after = xstrdup(raw + strlen(PAGE_MARK));
	free(raw);
	return 0;
}

char *page_token(const char *last)
{
	char *raw = xasprintf(PAGE_MARK "%s", last);
	char *tok = enc_b64(raw, strlen(raw));
	free(raw);
	return tok;
}

void page_set_token(json_t *out, const char *last)
{
	char *tok = page_token(last);
	json_object_set_new(out, "nextToken", json_string(tok));
	free(tok);
}
