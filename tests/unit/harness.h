/* A harness that drives the whole API request path in-process (SigV4, dispatch, the ECS
 * operations, the store) without sockets, for unit tests and fuzz targets. Header-only so that
 * each test binary stays one file. */
#ifndef GANTRY_TEST_HARNESS_H
#define GANTRY_TEST_HARNESS_H

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api.h"
#include "api/creds.h"
#include "api/sigv4.h"
#include "common/hsrv.h"
#include "common/xalloc.h"
#include "ecs/ecs.h"
#include "store/store.h"

#define H_NOW	   1700000000 /* 2023-11-14T22:13:20Z */
#define H_AMZ_DATE "20231114T221320Z"
#define H_KEY_A	   "GKIATESTACCOUNTAAAAA"
#define H_SECRET_A "secretA/0123456789abcdefghijklmnopqrstuv"
#define H_ACCT_A   "111111111111"
#define H_KEY_B	   "GKIATESTACCOUNTBBBBB"
#define H_SECRET_B "secretB/0123456789abcdefghijklmnopqrstuv"
#define H_ACCT_B   "222222222222"

struct harness {
	char dir[64];
	struct creds *creds;
	struct store *store;
	struct ecs *ecs;
	struct api *api;
	/* the last answer */
	unsigned status;
	char *body;
	char error_type[128];
	int answers;
};

static inline time_t harness__now(void)
{
	return H_NOW;
}

static inline void harness__respond(void *ctx, unsigned status, const char *content_type,
				    const char *request_id, const char *error_type, char *body, size_t len)
{
	struct harness *h = ctx;
	(void)content_type;
	(void)request_id;
	(void)len;
	h->status = status;
	free(h->body);
	h->body = body;
	snprintf(h->error_type, sizeof(h->error_type), "%s", error_type ? error_type : "");
	h->answers++;
}

/* Opens a fresh state directory (or reopens h->dir when it is already set). Returns 0 / -1. */
static inline int harness_open(struct harness *h)
{
	struct err *e = NULL;
	if (!h->dir[0]) {
		snprintf(h->dir, sizeof(h->dir), "/tmp/gantry-harness.XXXXXX");
		if (!mkdtemp(h->dir))
			return -1;
	}
	h->creds = creds_new();
	creds_add(h->creds, H_KEY_A, H_SECRET_A, H_ACCT_A, NULL);
	creds_add(h->creds, H_KEY_B, H_SECRET_B, H_ACCT_B, NULL);
	h->store = store_open(NULL, h->dir, &e);
	if (!h->store) {
		fprintf(stderr, "harness: %s\n", e->msg);
		err_free(e);
		return -1;
	}
	h->ecs = ecs_new(h->store);
	if (ecs_load(h->ecs, &e) < 0) {
		fprintf(stderr, "harness: %s\n", e->msg);
		err_free(e);
		return -1;
	}
	h->api = api_new(h->creds, h->store, harness__now);
	ecs_add_to_api(h->ecs, h->api);
	return 0;
}

/* Closes everything but keeps the state directory (for reopen tests). */
static inline void harness_close(struct harness *h)
{
	api_free(h->api);
	ecs_free(h->ecs);
	store_close(h->store);
	creds_free(h->creds);
	free(h->body);
	h->api = NULL;
	h->ecs = NULL;
	h->store = NULL;
	h->creds = NULL;
	h->body = NULL;
}

/* Closes and removes the state directory. */
static inline void harness_free(struct harness *h)
{
	harness_close(h);
	if (h->dir[0]) {
		char *p = xasprintf("%s/state.db", h->dir);
		unlink(p);
		free(p);
		p = xasprintf("%s/state.db-wal", h->dir);
		unlink(p);
		free(p);
		p = xasprintf("%s/state.db-shm", h->dir);
		unlink(p);
		free(p);
		rmdir(h->dir);
		h->dir[0] = '\0';
	}
}

/* Sends a request with the given headers (name, value pairs; NULL-terminated) and body, and
 * flushes the store so that the answer arrives. Returns the HTTP status. */
static inline unsigned harness_raw(struct harness *h, const char *const *hdrs, const char *body, size_t len)
{
	size_t n = 0;
	while (hdrs[2 * n])
		n++;
	struct hsrv_header *hh = xcalloc(n + 1, sizeof(*hh));
	for (size_t i = 0; i < n; i++) {
		hh[i].name = hdrs[2 * i];
		hh[i].value = hdrs[2 * i + 1];
	}
	struct api_request r = {
		.method = "POST",
		.path = "/",
		.query = "",
		.headers = hh,
		.nheaders = n,
		.body = body,
		.body_len = len,
		.respond = harness__respond,
		.ctx = h,
	};
	int before = h->answers;
	h->status = 0;
	api_serve(h->api, &r);
	store_flush(h->store, NULL);
	free(hh);
	if (h->answers != before + 1)
		h->status = 0; /* no answer, or more than one: both are bugs the caller's asserts catch */
	return h->status;
}

/* Signs and sends "<prefix>.<op>" with body as the given identity. Returns the HTTP status. */
static inline unsigned harness_call_as(struct harness *h, const char *key, const char *secret,
				       const char *target, const char *body)
{
	const char *hdrs[] = {
		"Host",	      "gantry.test", "Content-Type", "application/x-amz-json-1.1",
		"X-Amz-Date", H_AMZ_DATE,    "X-Amz-Target", target,
		NULL,	      NULL,	     NULL,
	};
	struct sigv4_header sh[4];
	for (int i = 0; i < 4; i++) {
		sh[i].name = hdrs[2 * i];
		sh[i].value = hdrs[2 * i + 1];
	}
	struct sigv4_request sr = {"POST", "/", "", sh, 4, body, strlen(body)};
	char *auth = sigv4_authorization(&sr, key, secret, H_AMZ_DATE, "us-east-1", "ecs",
					 "content-type;host;x-amz-date;x-amz-target", NULL);
	hdrs[8] = "Authorization";
	hdrs[9] = auth;
	unsigned st = harness_raw(h, hdrs, body, strlen(body));
	free(auth);
	return st;
}

/* An ECS call as account A. */
static inline unsigned harness_ecs(struct harness *h, const char *op, const char *body)
{
	char target[128];
	snprintf(target, sizeof(target), "AmazonEC2ContainerServiceV20141113.%s", op);
	return harness_call_as(h, H_KEY_A, H_SECRET_A, target, body);
}

/* An agent-protocol call as account A. */
static inline unsigned harness_agent(struct harness *h, const char *op, const char *body)
{
	char target[128];
	snprintf(target, sizeof(target), "GantryAgent_20261122.%s", op);
	return harness_call_as(h, H_KEY_A, H_SECRET_A, target, body);
}

/* The last answer's body parsed (new reference), or NULL. */
static inline json_t *harness_json(struct harness *h)
{
	return h->body ? json_loads(h->body, 0, NULL) : NULL;
}

#endif
