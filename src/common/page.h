/* Pagination as the AWS list APIs do it: maxResults bounds a page and an opaque nextToken says
 * where the next page starts. Tokens are base64 of the sort key of the last item returned, so a
 * token stays valid while items are added or removed. */
#ifndef GANTRY_PAGE_H
#define GANTRY_PAGE_H

#include <jansson.h>

#include "common/err.h"

/* Reads maxResults from request `in`: default `def` when absent, InvalidParameterException naming
 * it when outside 1..max. */
int page_max_results(json_t *in, long long def, long long max, long long *out, struct err **err);
/* Reads nextToken from `in`: *after is a new string (the last key of the previous page), or NULL
 * when there is no token. A token that is not ours fails with InvalidParameterException. */
int page_after(json_t *in, char **after, struct err **err);
/* Returns a new nextToken string for a page that ended at key `last`. */
char *page_token(const char *last);
/* Sets out["nextToken"] to the token for a page that ended at key `last`. */
void page_set_token(json_t *out, const char *last);

#endif
