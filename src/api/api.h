/* The AWS protocol front: one HTTP handler for every AWS API gantry serves. It verifies SigV4 on
 * every request, dispatches JSON 1.1 calls by X-Amz-Target through a table that each service adds
 * to (ECS now; ECR, Logs, ... later), serializes results and errors in AWS's shapes, and answers
 * only once everything the call wrote is durable in the store. */
#ifndef GANTRY_API_H
#define GANTRY_API_H

#include <jansson.h>
#include <stdbool.h>
#include <time.h>

#include "common/err.h"
#include "common/hsrv.h"

/* The largest JSON request body accepted, unless the operation's own bound is set with
 * api_set_body_max(); larger ones are refused with 413 unread. */
#define API_BODY_MAX (1024u * 1024u)

struct api;
struct creds;
struct store;

/* One call of one operation, as its handler sees it. Owned by the front; valid until the call is
 * answered. */
struct api_call {
	struct api *api;
	const char *account;	/* the caller's account, from the access key */
	const char *region;	/* from the credential scope */
	const char *principal;	/* the caller's IAM principal ARN */
	const char *access_key; /* the key the call was signed with */
	const char *host;	/* the request's Host header ("" when none): where clients reach us */
	const char *operation;
	char request_id[37];
	void *service_arg; /* the arg given to api_add_service */
};

/* Returned by an operation handler that answers later (a long-poll): it keeps the call and
 * finishes it with api_call_finish() exactly once. */
#define API_LATER 1

/* An operation handler. `in` is the request object (borrowed; only valid during this call). On
 * success it returns 0 and sets *out to a new reference (the response object); on failure it
 * returns -1 and fills *err; or it returns API_LATER. Any state it changed must have been queued to
 * the store before it answers. */
typedef int (*api_op_fn)(struct api_call *call, json_t *in, json_t **out, struct err **err);

/* Gives the answer of a successful call as ready-made JSON text (an object), for handlers that have
 * serialized the document already (e.g. to store it): the handler then returns 0 with *out NULL.
 * Takes ownership of text (heap). */
void api_call_answer_text(struct api_call *call, char *text, size_t len);

/* Answers a call whose handler returned API_LATER: with out (a reference the function takes) on
 * success, or with err (taken) when out is NULL. The answer, like every answer, waits until the
 * store has made durable everything queued so far. The call must not be used afterwards. */
void api_call_finish(struct api_call *call, json_t *out, struct err *err);

struct api_op {
	const char *name; /* e.g. "CreateCluster" */
	api_op_fn fn;
};

/* Creates the front. creds and store are borrowed and must outlive it. `now` (may be NULL) is
 * the clock SigV4's skew check uses; tests pass a fixed one. */
struct api *api_new(struct creds *creds, struct store *store, time_t (*now)(void));
void api_free(struct api *api);

/* Adds a JSON 1.1 service: calls whose X-Amz-Target is "<target_prefix>.<op>" and whose SigV4 scope
 * names signing_name are dispatched to ops[] (borrowed; must outlive the front). */
void api_add_service(struct api *api, const char *target_prefix, const char *signing_name,
		     const struct api_op *ops, size_t nops, void *arg);

/* Lets the calls of one operation carry bodies of up to max bytes instead of API_BODY_MAX (an
 * operation whose legal requests are larger: PutLogEvents). target is the full X-Amz-Target
 * ("Logs_20140328.PutLogEvents") of an operation of a service already added. */
void api_set_body_max(struct api *api, const char *target, size_t max);

/* The body bound of a request whose X-Amz-Target is target (NULL when it has none): what
 * api_set_body_max() set for that operation, else API_BODY_MAX. */
size_t api_body_max(const struct api *api, const char *target);

/* A request as the front sees it, independent of the HTTP server (so that the fuzz target and
 * unit tests can drive the whole request path without sockets). Strings are borrowed until
 * respond() is called. */
struct api_request {
	const char *method;
	const char *path;  /* raw, still percent-encoded */
	const char *query; /* raw, "" when none */
	const struct hsrv_header *headers;
	size_t nheaders;
	const char *body;
	size_t body_len;
	bool too_large; /* the body exceeded its bound (api_body_max) and was not read */
	/* Called exactly once with the answer, possibly after api_serve returned (when the answer
	 * waits for the store). Takes ownership of body. error_type is NULL on success. */
	void (*respond)(void *ctx, unsigned status, const char *content_type, const char *request_id,
			const char *error_type, char *body, size_t len);
	void *ctx;
};

/* From now on every request is answered at once with ServiceUnavailableException (503), so that
 * no new answer starts waiting for the store while the server shuts down. */
void api_set_stopping(struct api *api);

/* Serves one request. */
void api_serve(struct api *api, const struct api_request *req);

/* The hsrv handler: adapts an HTTP request to api_serve. Pass api as its arg. */
void api_handle(void *api, struct hreq *req);

/* The hsrv body-limit function (hsrv_set_body_limit): api_body_max() of the request's
 * X-Amz-Target. Pass api as its arg. */
size_t api_body_limit(void *api, struct hreq *req);

/* The AWS error type name (__type) and HTTP status for an error kind. */
const char *api_error_type(enum err_kind kind, unsigned *status);

#endif
