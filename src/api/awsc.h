/* A client for AWS JSON 1.1 APIs (gantry's own and any other): builds the request, signs it with
 * SigV4 and parses the answer, on the libuv loop through hcli. Used by the agent and by tools. */
#ifndef GANTRY_AWSC_H
#define GANTRY_AWSC_H

#include <jansson.h>

#include "common/err.h"
#include "common/hcli.h"

struct awsc;

struct awsc_result {
	unsigned status;	/* HTTP status; 0 when no answer arrived */
	json_t *out;		/* the answer on success (borrowed), else NULL */
	const char *error_type; /* the AWS __type on an error answer, else NULL */
	const char *message;	/* the error message (AWS's, or the transport's) when out is NULL */
};

/* Called once per call on the loop thread; the result is valid only during the call. */
typedef void (*awsc_done_fn)(void *arg, const struct awsc_result *r);

/* A client for endpoint (e.g. "http://127.0.0.1:7700") signing as access_key/secret in region.
 * http is borrowed and must outlive it. Returns NULL with *err when the endpoint is not an
 * http:// or https:// URL. */
struct awsc *awsc_new(struct hcli *http, const char *endpoint, const char *access_key, const char *secret,
		      const char *region, struct err **err);
void awsc_free(struct awsc *c);

/* Calls `target` (e.g. "AmazonEC2ContainerServiceV20141113.ListClusters") with body `in`
 * (borrowed), signed for `service` (e.g. "ecs"). timeout_ms bounds the whole call (0 = none).
 * Returns the request handle (for hcli_cancel) . */
struct hcli_req *awsc_call(struct awsc *c, const char *target, const char *service, json_t *in,
			   long timeout_ms, awsc_done_fn done, void *arg);

#endif
