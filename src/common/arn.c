/* ARN building and parsing. */
#include "common/arn.h"

#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"

char *arn_build(const char *service, const char *region, const char *account, const char *resource)
{
	return xasprintf("arn:aws:%s:%s:%s:%s", service, region, account, resource);
}

bool arn_is(const char *s)
{
	return s && strncmp(s, "arn:", 4) == 0;
}

int arn_parse(const char *s, const char *member, struct arn *out, struct err **err)
{
	memset(out, 0, sizeof(*out));
	const char *f[6];
	size_t n[6];
	const char *p = s;
	for (int i = 0; i < 5; i++) {
		const char *c = strchr(p, ':');
		if (!c)
			return err_set(err, ERR_INVALID_PARAM, "Invalid %s: '%s' is not a valid ARN", member,
				       s);
		f[i] = p;
		n[i] = (size_t)(c - p);
		p = c + 1;
	}
	f[5] = p;
	n[5] = strlen(p);
	if (n[0] != 3 || memcmp(f[0], "arn", 3) != 0 || n[1] == 0 || n[2] == 0 || n[5] == 0)
		return err_set(err, ERR_INVALID_PARAM, "Invalid %s: '%s' is not a valid ARN", member, s);
	out->service = xstrndup(f[2], n[2]);
	out->region = xstrndup(f[3], n[3]);
	out->account = xstrndup(f[4], n[4]);
	out->resource = xstrndup(f[5], n[5]);
	return 0;
}

void arn_release(struct arn *a)
{
	if (!a)
		return;
	free(a->service);
	free(a->region);
	free(a->account);
	free(a->resource);
	memset(a, 0, sizeof(*a));
}
