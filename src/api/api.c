/* The AWS protocol front: routing, SigV4, JSON 1.1 dispatch, AWS error shapes, durable answers. */
#include "api/api.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/creds.h"
#include "api/sigv4.h"
#include "common/ids.h"
#include "common/jv.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "store/store.h"

#define API_MAX_SERVICES  16
#define JSON_CONTENT_TYPE "application/x-amz-json-1.1"

struct api_service {
	char *prefix;
	char *signing_name;
	const struct api_op *ops;
	size_t nops;
	json_t *index;	  /* op name -> position in ops */
	size_t *body_max; /* per op: its body bound, 0 for API_BODY_MAX */
	void *arg;
};

struct api {
	struct creds *creds;
	struct store *store;
	time_t (*now)(void);
	struct api_service services[API_MAX_SERVICES];
	size_t nservices;
	bool stopping;
};

/* A call in flight: what its handler sees, plus what the front needs to answer it. */
struct call_state {
	struct api_call call;	/* first, so that a struct api_call * is a struct call_state * */
	struct api_request req; /* only respond and ctx are used after the handler ran */
	char account[13];
	char region[64];
	char principal[64];
	char operation[64];
	char access_key[129];
	char host[256];
	char *body; /* the serialized answer, waiting for the store */
	size_t len;
};

static time_t wall_now(void)
{
	return time(NULL);
}

struct api *api_new(struct creds *creds, struct store *store, time_t (*now)(void))
{
	struct api *api = xcalloc(1, sizeof(*api));
	api->creds = creds;
	api->store = store;
	api->now = now ? now : wall_now;
	return api;
}

void api_free(struct api *api)
{
	if (!api)
		return;
	for (size_t i = 0; i < api->nservices; i++) {
		free(api->services[i].prefix);
		free(api->services[i].signing_name);
		json_decref(api->services[i].index);
		free(api->services[i].body_max);
	}
	free(api);
}

void api_set_stopping(struct api *api)
{
	api->stopping = true;
}

void api_add_service(struct api *api, const char *target_prefix, const char *signing_name,
		     const struct api_op *ops, size_t nops, void *arg)
{
	if (api->nservices == API_MAX_SERVICES) {
		log_error("api: too many services (raise API_MAX_SERVICES)");
		abort();
	}
	struct api_service *s = &api->services[api->nservices++];
	s->prefix = xstrdup(target_prefix);
	s->signing_name = xstrdup(signing_name);
	s->ops = ops;
	s->nops = nops;
	s->arg = arg;
	s->index = json_object();
	for (size_t i = 0; i < nops; i++)
		json_object_set_new(s->index, ops[i].name, json_integer((json_int_t)i));
	s->body_max = xcalloc(nops ? nops : 1, sizeof(*s->body_max));
}

const char *api_error_type(enum err_kind kind, unsigned *status)
{
	static const struct {
		const char *type;
		unsigned status;
	} map[ERR_KIND_COUNT] = {
		[ERR_INTERNAL] = {"ServerException", 500},
		[ERR_SYS] = {"ServerException", 500},
		[ERR_INVALID_PARAM] = {"InvalidParameterException", 400},
		[ERR_CLIENT] = {"ClientException", 400},
		[ERR_SERIALIZATION] = {"SerializationException", 400},
		[ERR_UNKNOWN_OP] = {"UnknownOperationException", 400},
		[ERR_MISSING_AUTH] = {"MissingAuthenticationTokenException", 403},
		[ERR_UNKNOWN_KEY] = {"UnrecognizedClientException", 403},
		[ERR_BAD_SIGNATURE] = {"InvalidSignatureException", 403},
		[ERR_TOO_LARGE] = {"RequestEntityTooLargeException", 413},
		[ERR_NOT_FOUND] = {"ResourceNotFoundException", 400},
		[ERR_CLUSTER_NOT_FOUND] = {"ClusterNotFoundException", 400},
		[ERR_CLUSTER_HAS_INSTANCES] = {"ClusterContainsContainerInstancesException", 400},
		[ERR_CLUSTER_HAS_SERVICES] = {"ClusterContainsServicesException", 400},
		[ERR_CLUSTER_HAS_TASKS] = {"ClusterContainsTasksException", 400},
		[ERR_LIMIT_EXCEEDED] = {"LimitExceededException", 400},
		[ERR_ACCESS_DENIED] = {"AccessDeniedException", 400},
		[ERR_UNAVAILABLE] = {"ServiceUnavailableException", 503},
		[ERR_TARGET_NOT_FOUND] = {"TargetNotFoundException", 400},
		[ERR_ATTRIBUTE_LIMIT] = {"AttributeLimitExceededException", 400},
		[ERR_UNSUPPORTED] = {"UnsupportedFeatureException", 400},
		[ERR_REPO_NOT_FOUND] = {"RepositoryNotFoundException", 400},
		[ERR_REPO_EXISTS] = {"RepositoryAlreadyExistsException", 400},
		[ERR_REPO_NOT_EMPTY] = {"RepositoryNotEmptyException", 400},
		[ERR_IMAGE_NOT_FOUND] = {"ImageNotFoundException", 400},
		[ERR_TAG_EXISTS] = {"ImageTagAlreadyExistsException", 400},
		[ERR_LAYERS_NOT_FOUND] = {"LayersNotFoundException", 400},
		[ERR_IMAGE_EXISTS] = {"ImageAlreadyExistsException", 400},
		[ERR_LIFECYCLE_NOT_FOUND] = {"LifecyclePolicyNotFoundException", 400},
		[ERR_PREVIEW_NOT_FOUND] = {"LifecyclePolicyPreviewNotFoundException", 400},
		[ERR_REPO_POLICY_NOT_FOUND] = {"RepositoryPolicyNotFoundException", 400},
		[ERR_UPLOAD_NOT_FOUND] = {"UploadNotFoundException", 400},
		[ERR_INVALID_LAYER_PART] = {"InvalidLayerPartException", 400},
		[ERR_INVALID_LAYER] = {"InvalidLayerException", 400},
		[ERR_LAYER_EXISTS] = {"LayerAlreadyExistsException", 400},
		[ERR_EMPTY_UPLOAD] = {"EmptyUploadException", 400},
		[ERR_LAYER_INACCESSIBLE] = {"LayerInaccessibleException", 400},
		[ERR_RESOURCE_EXISTS] = {"ResourceAlreadyExistsException", 400},
	};
	if ((unsigned)kind >= ERR_KIND_COUNT || !map[kind].type)
		kind = ERR_INTERNAL;
	*status = map[kind].status;
	return map[kind].type;
}

/* A successful answer waiting for the store to make the call's writes durable. */
static void answer_durable(void *arg)
{
	struct call_state *cs = arg;
	cs->req.respond(cs->req.ctx, 200, JSON_CONTENT_TYPE, cs->call.request_id, NULL, cs->body, cs->len);
	free(cs);
}

/* Answers with an AWS JSON error body built from e, and frees e. */
static void send_error(const struct api_request *req, const char *request_id, const char *operation,
		       struct err *e)
{
	unsigned status;
	const char *type = api_error_type(e->kind, &status);
	if (status >= 500)
		log_error("%s: %s", operation ? operation : "request", e->msg);
	else
		log_debug("%s: %s: %s", operation ? operation : "request", type, e->msg);
	json_t *j = json_pack("{s:s, s:o}", "__type", type, "message", jv_str_lossy(e->msg));
	json_t *fields = e->fields ? json_loads(e->fields, 0, NULL) : NULL;
	if (json_is_object(fields))
		json_object_update_missing(j, fields);
	json_decref(fields);
	char *body = jv_dump(j);
	json_decref(j);
	err_free(e);
	req->respond(req->ctx, status, JSON_CONTENT_TYPE, request_id, type, body, strlen(body));
}

static int verify(struct api *api, const struct api_request *req, struct sigv4_identity *id, struct err **err)
{
	/* hsrv_header and sigv4_header have the same shape; copy rather than cast to keep the
	 * modules independent. */
	size_t nh = req->nheaders;
	struct sigv4_header *sh = xcalloc(nh ? nh : 1, sizeof(*sh));
	for (size_t i = 0; i < nh; i++) {
		sh[i].name = req->headers[i].name;
		sh[i].value = req->headers[i].value;
	}
	struct sigv4_request sr = {
		.method = req->method,
		.path = req->path,
		.query = req->query,
		.headers = sh,
		.nheaders = nh,
		.body = req->body,
		.body_len = req->body_len,
	};
	int rc = sigv4_verify(&sr, api->now(), api->creds, id, err);
	free(sh);
	return rc;
}

static const struct api_service *find_service(const struct api *api, const char *target, const char **opname)
{
	const char *dot = strrchr(target, '.');
	if (!dot)
		return NULL;
	size_t plen = (size_t)(dot - target);
	for (size_t i = 0; i < api->nservices; i++) {
		const struct api_service *s = &api->services[i];
		if (strlen(s->prefix) == plen && memcmp(s->prefix, target, plen) == 0) {
			*opname = dot + 1;
			return s;
		}
	}
	return NULL;
}

/* The position of target's operation in its service's ops, or -1 when no service has it. */
static long find_op(const struct api *api, const char *target, const struct api_service **svc)
{
	const char *opname = NULL;
	*svc = target ? find_service(api, target, &opname) : NULL;
	json_t *idx = *svc ? json_object_get((*svc)->index, opname) : NULL;
	return idx ? (long)json_integer_value(idx) : -1;
}

void api_set_body_max(struct api *api, const char *target, size_t max)
{
	const struct api_service *svc;
	long i = find_op(api, target, &svc);
	if (i < 0) {
		log_error("api: cannot bound the body of %s: no such operation", target);
		abort();
	}
	svc->body_max[i] = max;
}

size_t api_body_max(const struct api *api, const char *target)
{
	const struct api_service *svc;
	long i = find_op(api, target, &svc);
	return i >= 0 && svc->body_max[i] ? svc->body_max[i] : API_BODY_MAX;
}

static const char *header(const struct api_request *req, const char *name)
{
	for (size_t i = 0; i < req->nheaders; i++)
		if (strcasecmp(req->headers[i].name, name) == 0)
			return req->headers[i].value;
	return NULL;
}

/* Sends the answer for a call whose handler is done, and frees the call state. */
void api_call_answer_text(struct api_call *call, char *text, size_t len)
{
	struct call_state *cs = (struct call_state *)call;
	free(cs->body);
	cs->body = text;
	cs->len = len;
}

static void finish(struct call_state *cs, json_t *out, struct err *e)
{
	if (!out && cs->body && !e) {
		/* The handler gave its answer as text (api_call_answer_text). */
		store_when_durable(cs->call.api->store, store_last_seq(cs->call.api->store), answer_durable,
				   cs);
		return;
	}
	if (!out) {
		free(cs->body);
		if (!e)
			err_set(&e, ERR_INTERNAL, "%s returned no answer", cs->call.operation);
		send_error(&cs->req, cs->call.request_id, cs->call.operation, e);
		free(cs);
		return;
	}
	err_free(e);
	free(cs->body);
	cs->body = jv_dump(out);
	cs->len = strlen(cs->body);
	json_decref(out);
	/* Answer only when every write queued so far is on disk: this call's own writes, and any
	 * earlier write whose effects this call may have read. */
	store_when_durable(cs->call.api->store, store_last_seq(cs->call.api->store), answer_durable, cs);
}

void api_call_finish(struct api_call *call, json_t *out, struct err *err)
{
	finish((struct call_state *)call, out, err);
}

static void serve_json(struct api *api, const struct api_request *req, const char *target,
		       const char *request_id)
{
	struct err *e = NULL;
	json_t *in = NULL, *out = NULL;
	const char *opname = NULL;
	struct sigv4_identity id;

	if (verify(api, req, &id, &e) < 0)
		goto fail;
	const struct api_service *svc = find_service(api, target, &opname);
	json_t *idx = svc ? json_object_get(svc->index, opname) : NULL;
	if (!idx) {
		err_set(&e, ERR_UNKNOWN_OP, "Operation %s is not supported by this server", target);
		goto fail;
	}
	if (strcmp(id.service, svc->signing_name) != 0) {
		err_set(&e, ERR_BAD_SIGNATURE, "Credential should be scoped to correct service: '%s'.",
			svc->signing_name);
		goto fail;
	}
	if (req->body_len == 0)
		in = json_object();
	else if (!(in = jv_parse(req->body, req->body_len, &e)))
		goto fail;
	if (!json_is_object(in)) {
		err_set(&e, ERR_SERIALIZATION, "the request body must be a JSON object");
		goto fail;
	}
	struct call_state *cs = xcalloc(1, sizeof(*cs));
	cs->req = *req;
	snprintf(cs->account, sizeof(cs->account), "%s", id.account);
	snprintf(cs->region, sizeof(cs->region), "%s", id.region);
	snprintf(cs->principal, sizeof(cs->principal), "arn:aws:iam::%s:root", id.account);
	snprintf(cs->operation, sizeof(cs->operation), "%s", opname);
	snprintf(cs->access_key, sizeof(cs->access_key), "%s", id.access_key);
	cs->call.access_key = cs->access_key;
	for (size_t i = 0; i < req->nheaders; i++)
		if (strcasecmp(req->headers[i].name, "Host") == 0)
			snprintf(cs->host, sizeof(cs->host), "%s", req->headers[i].value);
	cs->call.host = cs->host;
	cs->call.api = api;
	cs->call.account = cs->account;
	cs->call.region = cs->region;
	cs->call.principal = cs->principal;
	cs->call.operation = cs->operation;
	cs->call.service_arg = svc->arg;
	memcpy(cs->call.request_id, request_id, sizeof(cs->call.request_id));
	const struct api_op *op = &svc->ops[json_integer_value(idx)];
	int rc = op->fn(&cs->call, in, &out, &e);
	json_decref(in);
	if (rc == API_LATER)
		return;
	finish(cs, rc == 0 ? out : NULL, rc == 0 ? NULL : e);
	return;
fail:
	json_decref(in);
	json_decref(out);
	send_error(req, request_id, opname, e);
}

void api_serve(struct api *api, const struct api_request *req)
{
	char request_id[37];
	ids_uuid(request_id);
	struct err *e = NULL;

	if (req->too_large) {
		err_set(&e, ERR_TOO_LARGE, "Request body exceeds the limit of %zu bytes",
			api_body_max(api, header(req, "X-Amz-Target")));
		send_error(req, request_id, NULL, e);
		return;
	}
	if (api->stopping) {
		err_set(&e, ERR_UNAVAILABLE, "The server is shutting down; retry against a running server");
		send_error(req, request_id, NULL, e);
		return;
	}
	const char *target = header(req, "X-Amz-Target");
	bool post_root = strcmp(req->method, "POST") == 0 && strcmp(req->path, "/") == 0;
	if (post_root && target) {
		serve_json(api, req, target, request_id);
		return;
	}
	if (post_root)
		err_set(&e, ERR_UNKNOWN_OP,
			"Missing X-Amz-Target header: cannot tell which operation to run");
	else
		err_set(&e, ERR_UNKNOWN_OP, "No operation at %s %s", req->method, req->path);
	send_error(req, request_id, NULL, e);
}

static void respond_http(void *ctx, unsigned status, const char *content_type, const char *request_id,
			 const char *error_type, char *body, size_t len)
{
	struct hreq *req = ctx;
	hreq_add_header(req, "x-amzn-RequestId", request_id);
	if (error_type)
		hreq_add_header(req, "x-amzn-ErrorType", error_type);
	hreq_respond(req, status, content_type, body, len);
}

void api_handle(void *arg, struct hreq *req)
{
	if (strcmp(hreq_path(req), "/healthz") == 0 && strcmp(hreq_method(req), "GET") == 0) {
		hreq_respond(req, 200, "text/plain", xstrdup("ok\n"), 3);
		return;
	}
	size_t nh;
	const struct hsrv_header *hh = hreq_headers(req, &nh);
	const struct buf *body = hreq_body(req);
	struct api_request ar = {
		.method = hreq_method(req),
		.path = hreq_path(req),
		.query = hreq_query(req),
		.headers = hh,
		.nheaders = nh,
		.body = body->p,
		.body_len = body->len,
		.too_large = hreq_too_large(req),
		.respond = respond_http,
		.ctx = req,
	};
	api_serve(arg, &ar);
}

size_t api_body_limit(void *api, struct hreq *req)
{
	/* The target is not authenticated yet (the signature can only be checked once the body is
	 * in): anyone may name PutLogEvents to send a larger body, but none larger than that
	 * operation's bound, and an unsigned or mis-signed call is then refused as usual. */
	return api_body_max(api, hreq_header(req, "X-Amz-Target"));
}
