/* The OCI distribution API (spec v1.1) under /v2/: auth with ECR registry passwords (Basic, or
 * Bearer through the token endpoint), blobs, uploads streamed into the blob store, manifests, tag
 * lists, the catalog and the referrers API, over the repositories of the caller's account. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/enc.h"
#include "common/jv.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "registry/manifest.h"
#include "registry/ref.h"
#include "registry/reg-int.h"
#include "store/store.h"

#define TAGS_PAGE_MAX 1000 /* n for tags/list and _catalog is capped at this */
#define MT_JSON	      "application/json"

enum route {
	R_BASE,	    /* /v2/ */
	R_TOKEN,    /* /v2/token */
	R_CATALOG,  /* /v2/_catalog */
	R_TAGS,	    /* <name>/tags/list */
	R_MANIFEST, /* <name>/manifests/<ref> */
	R_BLOB,	    /* <name>/blobs/<digest> */
	R_UPLOADS,  /* <name>/blobs/uploads/ */
	R_UPLOAD,   /* <name>/blobs/uploads/<id> */
	R_REFERRERS /* <name>/referrers/<digest> */
};

/* One request under /v2/. */
struct dreq {
	struct reg *reg;
	struct hreq *req;
	enum route route;
	const char *method;
	char *name; /* the repository */
	char *arg;  /* reference, digest or upload id (decoded) */
	const char *account;
	char region[32];
	char *owner; /* "account/region/name": the upload sessions' owner */
	struct reg_repo *repo;
	struct blobs_upload *up;
	char *digest; /* ?digest= of an upload's last request */
	struct buf body;
	unsigned durable_status; /* the answer once the store has the change */
	bool streaming;		 /* hreq_stream was called */
	bool gone, answered;
	int async; /* commits or durability waits in flight */
};

static void dreq_free(struct dreq *d)
{
	if (d->up && blobs_upload_writer(d->up) == d)
		blobs_upload_set_writer(d->up, NULL);
	free(d->name);
	free(d->arg);
	free(d->owner);
	free(d->digest);
	buf_release(&d->body);
	free(d);
}

/* Frees d once nothing refers to it any more. */
static void dreq_done(struct dreq *d)
{
	if (d->async == 0 && (d->answered || d->gone))
		dreq_free(d);
}

/* Callbacks that may answer (and so could free d through a nested durability callback) hold d
 * while they run. */
static void dreq_hold(struct dreq *d)
{
	d->async++;
}

static void dreq_release(struct dreq *d)
{
	d->async--;
	dreq_done(d);
}

/* The stream ops' gone callback, for every kind of request: the client went away unanswered. For
 * an upload, the bytes received so far stay in the session: the client asks where it stands (GET
 * on the upload URL) and goes on from there. */
static void dreq_gone(void *ctx)
{
	struct dreq *d = ctx;
	d->gone = true;
	dreq_done(d);
}

static void respond(struct dreq *d, unsigned status, const char *ctype, char *body, size_t len)
{
	if (d->gone || d->answered) {
		free(body);
		return;
	}
	d->answered = true;
	hreq_add_header(d->req, "Docker-Distribution-API-Version", "registry/2.0");
	hreq_respond(d->req, status, ctype, body, len);
}

/* Answers with the spec's error body {"errors":[{"code","message"}]}. */
static void fail(struct dreq *d, unsigned status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void fail(struct dreq *d, unsigned status, const char *code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_t *e = json_pack("{s:[{s:s,s:s}]}", "errors", "code", code, "message", msg);
	char *text = jv_dump(e);
	json_decref(e);
	respond(d, status, MT_JSON, text, strlen(text));
}

static void fail_err(struct dreq *d, unsigned status, const char *code, struct err *e)
{
	fail(d, status, code, "%s", e ? e->msg : "error");
	err_free(e);
}

/* The value of query parameter key (decoded, new), or NULL. */
static char *query_get(struct hreq *req, const char *key)
{
	const char *q = hreq_query(req);
	size_t kn = strlen(key);
	while (*q) {
		const char *amp = strchr(q, '&');
		size_t n = amp ? (size_t)(amp - q) : strlen(q);
		if (n > kn && q[kn] == '=' && strncmp(q, key, kn) == 0)
			return enc_pct_decode(q + kn + 1, n - kn - 1, true);
		if (n == kn && strncmp(q, key, kn) == 0)
			return xstrdup("");
		q += n;
		if (*q == '&')
			q++;
	}
	return NULL;
}

/* Routing: names may contain '/', references and digests may not, so the route is read from the
 * path's last components. Returns 0, or -1 for a path the API does not have. */
static int route(struct dreq *d, const char *path)
{
	if (strcmp(path, "/v2") == 0 || strcmp(path, "/v2/") == 0) {
		d->route = R_BASE;
		return 0;
	}
	const char *p = path + 4; /* after "/v2/" */
	if (strcmp(p, "token") == 0) {
		d->route = R_TOKEN;
		return 0;
	}
	if (strcmp(p, "_catalog") == 0) {
		d->route = R_CATALOG;
		return 0;
	}
	char *dec = enc_pct_decode(p, strlen(p), false);
	int rc = -1;
	char *last = strrchr(dec, '/');
	if (!last)
		goto out;
	*last = '\0';
	const char *tail = last + 1;
	char *prev = strrchr(dec, '/');
	if (!prev)
		goto out;
	*prev = '\0';
	const char *mid = prev + 1;
	if (strcmp(mid, "tags") == 0 && strcmp(tail, "list") == 0) {
		d->route = R_TAGS;
	} else if (strcmp(mid, "manifests") == 0 && *tail) {
		d->route = R_MANIFEST;
		d->arg = xstrdup(tail);
	} else if (strcmp(mid, "referrers") == 0 && *tail) {
		d->route = R_REFERRERS;
		d->arg = xstrdup(tail);
	} else if (strcmp(mid, "blobs") == 0 && strcmp(tail, "uploads") != 0 && *tail) {
		d->route = R_BLOB;
		d->arg = xstrdup(tail);
	} else if (strcmp(mid, "uploads") == 0) {
		/* <name>/blobs/uploads/<id or nothing> */
		char *b = strrchr(dec, '/');
		if (!b || strcmp(b + 1, "blobs") != 0)
			goto out;
		*b = '\0';
		d->route = *tail ? R_UPLOAD : R_UPLOADS;
		if (*tail)
			d->arg = xstrdup(tail);
	} else if (strcmp(mid, "blobs") == 0 && strcmp(tail, "uploads") == 0) {
		d->route = R_UPLOADS; /* "<name>/blobs/uploads" without the trailing slash */
	} else {
		goto out;
	}
	d->name = xstrdup(dec);
	rc = 0;
out:
	free(dec);
	return rc;
}

/* Auth */

static void challenge(struct dreq *d, const char *why)
{
	const char *host = hreq_header(d->req, "Host");
	char *realm = xasprintf("Bearer realm=\"http://%s/v2/token\",service=\"gantry\"",
				host ? host : "127.0.0.1");
	hreq_add_header(d->req, "WWW-Authenticate", realm);
	free(realm);
	fail(d, 401, "UNAUTHORIZED", "%s", why);
}

/* The password in an Authorization header (Basic AWS:<password> or Bearer <password>), new. */
static char *auth_password(struct hreq *req)
{
	const char *h = hreq_header(req, "Authorization");
	if (!h)
		return NULL;
	if (strncasecmp(h, "Bearer ", 7) == 0)
		return xstrdup(h + 7);
	if (strncasecmp(h, "Basic ", 6) != 0 || strlen(h) > 8192)
		return NULL;
	size_t n = 0;
	char *raw = enc_b64_decode(h + 6, strlen(h + 6), &n);
	if (!raw)
		return NULL;
	char *colon = memchr(raw, ':', n);
	char *pw = colon ? xstrndup(colon + 1, n - (size_t)(colon + 1 - raw)) : NULL;
	free(raw);
	return pw;
}

/* A GetDownloadUrlForLayer URL: ?X-Gantry-Credential=<credential for this repository and blob>
 * stands for the Authorization header, for GET and HEAD of that one blob only. Returns 1 when the
 * request carries none (authenticate as usual), 0 when it is good, -1 when refused (answered). */
static int authenticate_url(struct dreq *d)
{
	bool get = strcmp(d->method, "GET") == 0 || strcmp(d->method, "HEAD") == 0;
	if (d->route != R_BLOB || !get || hreq_header(d->req, "Authorization"))
		return 1;
	char *cred = query_get(d->req, "X-Gantry-Credential");
	if (!cred)
		return 1;
	char *scope = xasprintf("%s@%s", d->name, d->arg);
	int rc = reg__url_token_check(d->reg, cred, scope, &d->account, d->region);
	free(scope);
	free(cred);
	if (rc < 0)
		fail(d, 403, "DENIED", "%s",
		     "the download URL is not valid (expired, altered, or for another blob): get a new one "
		     "from GetDownloadUrlForLayer");
	return rc;
}

static int authenticate(struct dreq *d)
{
	int url = authenticate_url(d);
	if (url <= 0)
		return url;
	char *pw = auth_password(d->req);
	if (!pw) {
		challenge(d, "authentication required: use the password from `aws ecr get-login-password`");
		return -1;
	}
	int rc = reg__token_check(d->reg, pw, &d->account, d->region);
	if (rc < 0)
		challenge(d,
			  "the registry password is not valid (expired, or not from GetAuthorizationToken)");
	free(pw);
	return rc;
}

static void serve_token(struct dreq *d)
{
	char *pw = auth_password(d->req);
	if (!pw || reg__token_check(d->reg, pw, &d->account, d->region) < 0) {
		free(pw);
		hreq_add_header(d->req, "WWW-Authenticate", "Basic realm=\"gantry\"");
		fail(d, 401, "UNAUTHORIZED",
		     "log in with user AWS and the password from `aws ecr get-login-password`");
		return;
	}
	/* The password is the token: it carries its own expiry and signature. */
	json_t *o = json_pack("{s:s,s:s,s:i}", "token", pw, "access_token", pw, "expires_in", 3600);
	free(pw);
	char *text = jv_dump(o);
	json_decref(o);
	respond(d, 200, MT_JSON, text, strlen(text));
}

/* Repository lookup with the spec's errors. */
static struct reg_repo *need_repo(struct dreq *d)
{
	struct err *e = NULL;
	if (reg_name_check(d->name, &e) < 0) {
		fail_err(d, 400, "NAME_INVALID", e);
		return NULL;
	}
	d->repo = reg__repo(d->reg, d->account, d->region, d->name);
	if (!d->repo)
		fail(d, 404, "NAME_UNKNOWN",
		     "The repository with name '%s' does not exist in the registry with id '%s'; create it "
		     "first (aws ecr create-repository)",
		     d->name, d->account);
	else
		d->owner = xasprintf("%s/%s/%s", d->account, d->region, d->name);
	return d->repo;
}

/* Answers once everything written so far is durable. */
static void on_durable(void *arg)
{
	struct dreq *d = arg;
	d->async--;
	if (!d->gone)
		respond(d, d->durable_status, NULL, NULL, 0);
	dreq_done(d);
}

static void respond_when_durable(struct dreq *d, unsigned status, uint64_t seq)
{
	d->durable_status = status;
	d->async++;
	store_when_durable(d->reg->store, seq, on_durable, d);
}

/* Blobs */

static int parse_range(const char *h, long long size, long long *from, long long *to)
{
	if (strncmp(h, "bytes=", 6) != 0)
		return -1;
	char *end;
	errno = 0;
	if (h[6] == '-') { /* the last N bytes */
		long long n = strtoll(h + 7, &end, 10);
		if (errno || *end || n <= 0)
			return -1;
		*from = n >= size ? 0 : size - n;
		*to = size - 1;
		return size > 0 ? 0 : -1;
	}
	*from = strtoll(h + 6, &end, 10);
	if (errno || *end != '-' || *from < 0)
		return -1;
	if (end[1] == '\0')
		*to = size - 1;
	else {
		char *e2;
		*to = strtoll(end + 1, &e2, 10);
		if (errno || *e2 || *to < *from)
			return -1;
		if (*to >= size)
			*to = size - 1;
	}
	return *from < size ? 0 : -1;
}

static void serve_blob(struct dreq *d)
{
	struct err *e = NULL;
	if (reg_digest_check(d->arg, &e) < 0) {
		fail_err(d, 400, "DIGEST_INVALID", e);
		return;
	}
	if (!need_repo(d))
		return;
	if (strcmp(d->method, "DELETE") == 0) {
		if (!json_object_get(d->repo->blobs, d->arg)) {
			fail(d, 404, "BLOB_UNKNOWN", "blob %s is not in repository %s", d->arg, d->name);
			return;
		}
		json_object_del(d->repo->blobs, d->arg);
		respond_when_durable(d, 202, reg__repo_save(d->reg, d->repo));
		return;
	}
	long long size = -1;
	int fd = json_object_get(d->repo->blobs, d->arg) ? blobs_open_read(d->reg->blobs, d->arg, &size) : -1;
	if (fd < 0) {
		fail(d, 404, "BLOB_UNKNOWN", "blob %s is not in repository %s", d->arg, d->name);
		return;
	}
	hreq_add_header(d->req, "Docker-Content-Digest", d->arg);
	hreq_add_header(d->req, "Accept-Ranges", "bytes");
	hreq_add_header(d->req, "Docker-Distribution-API-Version", "registry/2.0");
	const char *range = hreq_header(d->req, "Range");
	long long from = 0, to = size - 1;
	unsigned status = 200;
	if (range && strcmp(d->method, "GET") == 0) {
		if (parse_range(range, size, &from, &to) < 0) {
			char cr[64];
			snprintf(cr, sizeof(cr), "bytes */%lld", size);
			hreq_add_header(d->req, "Content-Range", cr);
			close(fd);
			d->answered = true;
			hreq_respond(d->req, 416, NULL, NULL, 0);
			return;
		}
		char cr[96];
		snprintf(cr, sizeof(cr), "bytes %lld-%lld/%lld", from, to, size);
		hreq_add_header(d->req, "Content-Range", cr);
		status = 206;
	}
	d->answered = true;
	hreq_respond_fd(d->req, status, "application/octet-stream", fd, (unsigned long long)from,
			(unsigned long long)(size ? to - from + 1 : 0));
}

/* Uploads */

static void upload_location(struct dreq *d)
{
	char *loc = xasprintf("/v2/%s/blobs/uploads/%s", d->name, blobs_upload_id(d->up));
	hreq_add_header(d->req, "Location", loc);
	hreq_add_header(d->req, "Docker-Upload-UUID", blobs_upload_id(d->up));
	long long n = blobs_upload_size(d->up);
	char range[64];
	snprintf(range, sizeof(range), "0-%lld", n > 0 ? n - 1 : 0);
	hreq_add_header(d->req, "Range", range);
	free(loc);
}

static void blob_location(struct dreq *d, const char *digest)
{
	char *loc = xasprintf("/v2/%s/blobs/%s", d->name, digest);
	hreq_add_header(d->req, "Location", loc);
	hreq_add_header(d->req, "Docker-Content-Digest", digest);
	free(loc);
}

static void on_committed_inner(void *arg, struct err *e)
{
	struct dreq *d = arg;
	d->async--;
	d->up = NULL; /* consumed */
	if (e) {
		if (e->kind == ERR_INVALID_PARAM || e->kind == ERR_UNSUPPORTED)
			fail_err(d, 400, "DIGEST_INVALID", e);
		else {
			log_error("registry: %s", e->msg);
			fail_err(d, 500, "UNKNOWN", e);
		}
		return;
	}
	long long size = blobs_size(d->reg->blobs, d->digest);
	struct reg_repo *r = reg__repo(d->reg, d->account, d->region, d->name);
	if (!r) { /* deleted meanwhile */
		fail(d, 404, "NAME_UNKNOWN", "repository %s was deleted during the upload", d->name);
		return;
	}
	reg__blob_link(r, d->digest, size);
	uint64_t seq = reg__repo_save(d->reg, r);
	blob_location(d, d->digest);
	respond_when_durable(d, 201, seq);
}

static void on_committed(void *arg, struct err *e)
{
	struct dreq *d = arg;
	dreq_hold(d);
	on_committed_inner(arg, e);
	dreq_release(d);
}

static void finish_upload(struct dreq *d)
{
	struct blobs_upload *u = d->up;
	d->up = NULL; /* the commit consumes it */
	blobs_upload_set_writer(u, NULL);
	d->async++;
	blobs_upload_commit(u, d->digest, on_committed, d);
}

static int upload_data(void *ctx, const char *p, size_t n)
{
	struct dreq *d = ctx;
	struct err *e = NULL;
	if (!d->up) { /* a later request took the session over */
		fail(d, 409, "BLOB_UPLOAD_INVALID", "the upload was resumed by another request");
		dreq_done(d);
		return -1;
	}
	if (blobs_upload_write(d->up, p, n, &e) < 0) {
		fail_err(d, e->kind == ERR_TOO_LARGE ? 413 : 500,
			 e->kind == ERR_TOO_LARGE ? "SIZE_INVALID" : "UNKNOWN", e);
		dreq_done(d); /* answered: no more stream callbacks */
		return -1;
	}
	return 0;
}

static void upload_end_inner(void *ctx)
{
	struct dreq *d = ctx;
	if (!d->up) {
		fail(d, 409, "BLOB_UPLOAD_INVALID", "the upload was resumed by another request");
		return;
	}
	if (d->digest) {
		finish_upload(d);
		return;
	}
	blobs_upload_set_writer(d->up, NULL);
	upload_location(d);
	d->up = NULL;
	respond(d, 202, NULL, NULL, 0);
}

static void upload_end(void *ctx)
{
	struct dreq *d = ctx;
	dreq_hold(d);
	upload_end_inner(ctx);
	dreq_release(d);
}

static const struct hreq_stream_ops upload_ops = {upload_data, upload_end, dreq_gone};

/* Content-Range of a PATCH: "<from>-<to>" must start where the session stands. */
static int check_content_range(struct dreq *d)
{
	const char *cr = hreq_header(d->req, "Content-Range");
	if (!cr)
		return 0;
	if (strncmp(cr, "bytes ", 6) == 0)
		cr += 6;
	char *end;
	errno = 0;
	long long from = strtoll(cr, &end, 10);
	if (errno || *end != '-' || from != blobs_upload_size(d->up)) {
		upload_location(d);
		fail(d, 416, "BLOB_UPLOAD_INVALID", "Content-Range %s does not continue the upload at %lld",
		     cr, blobs_upload_size(d->up));
		return -1;
	}
	return 0;
}

static void serve_uploads(struct dreq *d)
{
	if (!need_repo(d))
		return;
	struct err *e = NULL;
	char *mount = query_get(d->req, "mount");
	char *from = query_get(d->req, "from");
	if (mount && reg_digest_check(mount, NULL) == 0) {
		/* Cross-repository mount: the blob must be readable to the caller in `from`. */
		struct reg_repo *src = from ? reg__repo(d->reg, d->account, d->region, from) : NULL;
		if (!src) {
			/* no source named: any repository of the account holding it */
			const char *k;
			void *v;
			struct reg_scope *sc = reg__scope(d->reg, d->account, d->region);
			for (size_t it = 0; !src && hmap_next(sc->repos, &it, &k, &v);)
				if (json_object_get(((struct reg_repo *)v)->blobs, mount))
					src = v;
		}
		long long size =
			src && json_object_get(src->blobs, mount) ? blobs_size(d->reg->blobs, mount) : -1;
		if (size >= 0) {
			reg__blob_link(d->repo, mount, size);
			uint64_t seq = reg__repo_save(d->reg, d->repo);
			blob_location(d, mount);
			free(mount);
			free(from);
			respond_when_durable(d, 201, seq);
			return;
		}
	}
	free(mount);
	free(from);
	d->up = blobs_upload_new(d->reg->blobs, d->owner, &e);
	if (!d->up) {
		fail_err(d, e->kind == ERR_LIMIT_EXCEEDED ? 429 : 500,
			 e->kind == ERR_LIMIT_EXCEEDED ? "TOOMANYREQUESTS" : "UNKNOWN", e);
		return;
	}
	d->digest = query_get(d->req, "digest");
	if (d->digest && reg_digest_check(d->digest, &e) < 0) {
		blobs_upload_cancel(d->up);
		d->up = NULL;
		fail_err(d, 400, "DIGEST_INVALID", e);
		return;
	}
	/* A POST with ?digest= is a monolithic upload: the body is the blob. */
	blobs_upload_set_writer(d->up, d);
	d->streaming = true;
	hreq_stream(d->req, &upload_ops, d);
}

static void serve_upload(struct dreq *d)
{
	if (!need_repo(d))
		return;
	d->up = blobs_upload_find(d->reg->blobs, d->owner, d->arg);
	if (!d->up) {
		fail(d, 404, "BLOB_UPLOAD_UNKNOWN", "upload %s is not known (finished, cancelled or expired)",
		     d->arg);
		return;
	}
	if (strcmp(d->method, "GET") == 0) {
		upload_location(d);
		d->up = NULL;
		respond(d, 204, NULL, NULL, 0);
		return;
	}
	if (strcmp(d->method, "DELETE") == 0) {
		if (blobs_upload_writer(d->up)) {
			d->up = NULL;
			fail(d, 409, "BLOB_UPLOAD_INVALID",
			     "upload %s is being written; cancel it after that", d->arg);
			return;
		}
		blobs_upload_cancel(d->up);
		d->up = NULL;
		respond(d, 204, NULL, NULL, 0);
		return;
	}
	if (strcmp(d->method, "PATCH") == 0 || strcmp(d->method, "PUT") == 0) {
		if (check_content_range(d) < 0) {
			d->up = NULL;
			return;
		}
		struct err *e = NULL;
		if (strcmp(d->method, "PUT") == 0) {
			d->digest = query_get(d->req, "digest");
			if (!d->digest || reg_digest_check(d->digest, &e) < 0) {
				d->up = NULL;
				if (!e)
					err_set(&e, ERR_INVALID_PARAM,
						"the final PUT of an upload needs ?digest=");
				fail_err(d, 400, "DIGEST_INVALID", e);
				return;
			}
		}
		/* A writer still holding the session is a connection that broke without the server noticing
		 * yet: the client resumes (the Content-Range check above keeps the bytes in order), so the
		 * new request takes the session over and the old one is refused if it ever sends more. */
		struct dreq *old = blobs_upload_writer(d->up);
		if (old)
			old->up = NULL;
		blobs_upload_set_writer(d->up, d);
		d->streaming = true;
		hreq_stream(d->req, &upload_ops, d);
		return;
	}
	d->up = NULL;
	fail(d, 405, "UNSUPPORTED", "%s is not supported on an upload", d->method);
}

/* Manifests */

static const char *manifest_digest(struct dreq *d)
{
	if (reg_ref_is_digest(d->arg))
		return json_object_get(d->repo->images, d->arg) ? d->arg : NULL;
	return json_string_value(json_object_get(d->repo->tagmap, d->arg));
}

static void manifest_get(struct dreq *d)
{
	const char *digest = manifest_digest(d);
	json_t *rec = digest ? json_object_get(d->repo->images, digest) : NULL;
	if (!rec) {
		fail(d, 404, "MANIFEST_UNKNOWN", "manifest %s is not in repository %s", d->arg, d->name);
		return;
	}
	const char *text = json_string_value(json_object_get(rec, "imageManifest"));
	size_t len = json_string_length(json_object_get(rec, "imageManifest"));
	hreq_add_header(d->req, "Docker-Content-Digest", digest);
	char *body = xmalloc(len ? len : 1);
	memcpy(body, text, len);
	respond(d, 200, json_string_value(json_object_get(rec, "imageManifestMediaType")), body, len);
}

static void manifest_delete(struct dreq *d)
{
	uint64_t seq;
	if (reg_ref_is_digest(d->arg)) {
		if (!json_object_get(d->repo->images, d->arg)) {
			fail(d, 404, "MANIFEST_UNKNOWN", "manifest %s is not in repository %s", d->arg,
			     d->name);
			return;
		}
		reg__image_delete(d->reg, d->repo, d->arg);
	} else {
		if (!json_object_get(d->repo->tagmap, d->arg)) {
			fail(d, 404, "MANIFEST_UNKNOWN", "tag %s is not in repository %s", d->arg, d->name);
			return;
		}
		json_object_del(d->repo->tagmap, d->arg);
		reg__repo_save(d->reg, d->repo);
	}
	seq = store_last_seq(d->reg->store);
	respond_when_durable(d, 202, seq);
}

static int manifest_data(void *ctx, const char *p, size_t n)
{
	struct dreq *d = ctx;
	if (buf_add(&d->body, p, n) < 0) {
		fail(d, 413, "MANIFEST_INVALID", "the manifest exceeds %u bytes", REG_MANIFEST_MAX);
		dreq_done(d); /* answered: no more stream callbacks */
		return -1;
	}
	return 0;
}

static void manifest_end_inner(void *ctx)
{
	struct dreq *d = ctx;
	struct err *e = NULL;
	bool by_digest = reg_ref_is_digest(d->arg);
	if (by_digest && reg_digest_check(d->arg, &e) < 0) {
		fail_err(d, 400, "DIGEST_INVALID", e);
		return;
	}
	char digest[72];
	if (by_digest) {
		/* Checked before anything is stored: a refused push must not touch the image that may
		 * already be there under its real digest. */
		reg__sha256_digest(d->body.p ? d->body.p : "", d->body.len, digest);
		if (strcmp(digest, d->arg) != 0) {
			fail(d, 400, "DIGEST_INVALID", "the manifest's digest is %s, not %s", digest, d->arg);
			return;
		}
	}
	const char *ctype = hreq_header(d->req, "Content-Type");
	uint64_t seq = reg__manifest_put(d->reg, d->repo, by_digest ? NULL : d->arg,
					 d->body.p ? d->body.p : "", d->body.len, ctype, digest, &e);
	if (!seq) {
		if (e->kind == ERR_LAYERS_NOT_FOUND)
			fail_err(d, 400, "MANIFEST_BLOB_UNKNOWN", e);
		else if (e->kind == ERR_TAG_EXISTS)
			fail_err(d, 400, "TAG_INVALID", e);
		else
			fail_err(d, 400, "MANIFEST_INVALID", e);
		return;
	}
	char *loc = xasprintf("/v2/%s/manifests/%s", d->name, digest);
	hreq_add_header(d->req, "Location", loc);
	hreq_add_header(d->req, "Docker-Content-Digest", digest);
	free(loc);
	json_t *rec = json_object_get(d->repo->images, digest);
	const char *subject = json_string_value(json_object_get(rec, "subject"));
	if (subject)
		hreq_add_header(d->req, "OCI-Subject", subject);
	reg__lifecycle_apply(d->reg, d->repo, clock_now());
	respond_when_durable(d, 201, seq);
}

static void manifest_end(void *ctx)
{
	struct dreq *d = ctx;
	dreq_hold(d);
	manifest_end_inner(ctx);
	dreq_release(d);
}

static const struct hreq_stream_ops manifest_ops = {manifest_data, manifest_end, dreq_gone};

static void serve_manifest(struct dreq *d)
{
	if (!need_repo(d))
		return;
	struct err *e = NULL;
	if (reg_ref_is_digest(d->arg) && reg_digest_check(d->arg, &e) < 0) {
		fail_err(d, 400, "DIGEST_INVALID", e);
		return;
	}
	if (!reg_ref_is_digest(d->arg) && reg_tag_check(d->arg, &e) < 0) {
		/* Not a tag: no manifest can be stored under it, and none is there to read. (Docker's
		 * TAG_INVALID is not among the spec's codes.) */
		if (strcmp(d->method, "PUT") == 0)
			fail_err(d, 400, "MANIFEST_INVALID", e);
		else
			fail_err(d, 404, "MANIFEST_UNKNOWN", e);
		return;
	}
	if (strcmp(d->method, "GET") == 0 || strcmp(d->method, "HEAD") == 0)
		manifest_get(d);
	else if (strcmp(d->method, "DELETE") == 0)
		manifest_delete(d);
	else if (strcmp(d->method, "PUT") == 0) {
		buf_release(&d->body);
		buf_init(&d->body, REG_MANIFEST_MAX);
		d->streaming = true;
		hreq_stream(d->req, &manifest_ops, d);
	} else
		fail(d, 405, "UNSUPPORTED", "%s is not supported on a manifest", d->method);
}

/* Listings */

/* Sorted names from an array of strings (json), after `last`, at most n; sets *more. */
static json_t *page_of(json_t *all, const char *last, long long n, bool *more)
{
	size_t cnt = json_array_size(all);
	const char **v = xcalloc(cnt ? cnt : 1, sizeof(*v));
	for (size_t i = 0; i < cnt; i++)
		v[i] = json_string_value(json_array_get(all, i));
	qsort(v, cnt, sizeof(*v), str_cmp_ptr);
	json_t *out = json_array();
	*more = false;
	for (size_t i = 0; i < cnt; i++) {
		if (last && strcmp(v[i], last) <= 0)
			continue;
		if ((long long)json_array_size(out) >= n) {
			*more = true;
			break;
		}
		json_array_append_new(out, json_string(v[i]));
	}
	free(v);
	return out;
}

/* n and last from the query; -1 when n is bad (answered). */
static int page_params(struct dreq *d, long long *n, char **last)
{
	char *ns = query_get(d->req, "n");
	*n = TAGS_PAGE_MAX;
	if (ns) {
		char *end;
		errno = 0;
		long long v = strtoll(ns, &end, 10);
		if (errno || *end || v < 0 || !*ns) {
			/* Distribution says PAGINATION_NUMBER_INVALID, which the spec's table of codes
			 * (that a registry MUST keep to) does not have. */
			fail(d, 400, "UNSUPPORTED", "n=%s is not a count", ns);
			free(ns);
			return -1;
		}
		*n = v < TAGS_PAGE_MAX ? v : TAGS_PAGE_MAX;
		free(ns);
	}
	*last = query_get(d->req, "last");
	return 0;
}

static void link_next(struct dreq *d, const char *path, long long n, json_t *page)
{
	const char *lastv = json_string_value(json_array_get(page, json_array_size(page) - 1));
	struct buf b;
	buf_init(&b, 4096);
	enc_uri(&b, lastv ? lastv : "", strlen(lastv ? lastv : ""), false);
	char *link = xasprintf("<%s?n=%lld&last=%s>; rel=\"next\"", path, n, b.p ? b.p : "");
	hreq_add_header(d->req, "Link", link);
	free(link);
	buf_release(&b);
}

static void serve_tags(struct dreq *d)
{
	if (!need_repo(d))
		return;
	long long n;
	char *last;
	if (page_params(d, &n, &last) < 0)
		return;
	json_t *all = json_array();
	const char *t;
	json_t *v;
	json_object_foreach (d->repo->tagmap, t, v) {
		json_array_append_new(all, json_string(t));
	}
	bool more;
	json_t *page = page_of(all, last, n, &more);
	/* OCI distribution spec: with n=0 the list is empty and there is no Link header. */
	if (more && n > 0) {
		char *path = xasprintf("/v2/%s/tags/list", d->name);
		link_next(d, path, n, page);
		free(path);
	}
	json_t *o = json_pack("{s:s,s:o}", "name", d->name, "tags", page);
	char *text = jv_dump(o);
	json_decref(o);
	json_decref(all);
	free(last);
	respond(d, 200, MT_JSON, text, strlen(text));
}

static void serve_catalog(struct dreq *d)
{
	long long n;
	char *last;
	if (page_params(d, &n, &last) < 0)
		return;
	json_t *all = json_array();
	struct reg_scope *sc = reg__scope(d->reg, d->account, d->region);
	const char *k;
	void *v;
	for (size_t it = 0; hmap_next(sc->repos, &it, &k, &v);)
		json_array_append_new(all, json_string(k));
	bool more;
	json_t *page = page_of(all, last, n, &more);
	if (more && n > 0)
		link_next(d, "/v2/_catalog", n, page);
	json_t *o = json_pack("{s:o}", "repositories", page);
	char *text = jv_dump(o);
	json_decref(o);
	json_decref(all);
	free(last);
	respond(d, 200, MT_JSON, text, strlen(text));
}

static void serve_referrers(struct dreq *d)
{
	struct err *e = NULL;
	if (reg_digest_check(d->arg, &e) < 0) {
		fail_err(d, 400, "DIGEST_INVALID", e);
		return;
	}
	if (!need_repo(d))
		return;
	char *filter = query_get(d->req, "artifactType");
	json_t *list = json_array();
	const char *digest;
	json_t *rec;
	json_object_foreach (d->repo->images, digest, rec) {
		const char *subj = json_string_value(json_object_get(rec, "subject"));
		if (!subj || strcmp(subj, d->arg) != 0)
			continue;
		const char *at = json_string_value(json_object_get(rec, "artifactMediaType"));
		if (filter && (!at || strcmp(at, filter) != 0))
			continue;
		json_t *m = json_object_get(rec, "imageManifest");
		json_t *desc = json_object();
		jv_set_str(desc, "mediaType",
			   json_string_value(json_object_get(rec, "imageManifestMediaType")));
		jv_set_str(desc, "digest", digest);
		json_object_set_new(desc, "size", json_integer((json_int_t)json_string_length(m)));
		if (at)
			jv_set_str(desc, "artifactType", at);
		json_t *doc = json_loadb(json_string_value(m), json_string_length(m), 0, NULL);
		json_t *ann = doc ? json_object_get(doc, "annotations") : NULL;
		if (json_is_object(ann))
			json_object_set(desc, "annotations", ann);
		json_decref(doc);
		json_array_append_new(list, desc);
	}
	if (filter)
		hreq_add_header(d->req, "OCI-Filters-Applied", "artifactType");
	free(filter);
	json_t *o = json_pack("{s:i,s:s,s:o}", "schemaVersion", 2, "mediaType", REG_MT_OCI_INDEX, "manifests",
			      list);
	char *text = jv_dump(o);
	json_decref(o);
	respond(d, 200, REG_MT_OCI_INDEX, text, strlen(text));
}

/* A request answered later without a body to read (it waits for the store): the stream ops only
 * learn whether the client goes away meanwhile. */
static int wait_data(void *ctx, const char *p, size_t n)
{
	(void)ctx;
	(void)p;
	(void)n;
	return 0;
}

static void wait_end(void *ctx)
{
	(void)ctx;
}

static const struct hreq_stream_ops wait_ops = {wait_data, wait_end, dreq_gone};

bool reg_http(void *arg, struct hreq *req)
{
	struct reg *reg = arg;
	const char *path = hreq_path(req);
	if (strncmp(path, "/v2", 3) != 0 || (path[3] != '\0' && path[3] != '/'))
		return false;
	struct dreq *d = xcalloc(1, sizeof(*d));
	d->reg = reg;
	d->req = req;
	d->method = hreq_method(req);
	buf_init(&d->body, 0);
	dreq_hold(d); /* while the handler runs */
	if (reg->stopping) {
		fail(d, 503, "UNAVAILABLE", "the server is shutting down");
	} else if (route(d, path) < 0) {
		fail(d, 404, "NAME_UNKNOWN", "no such registry endpoint: %s", path);
	} else if (d->route == R_TOKEN) {
		serve_token(d);
	} else if (authenticate(d) == 0) {
		bool get = strcmp(d->method, "GET") == 0 || strcmp(d->method, "HEAD") == 0;
		switch (d->route) {
		case R_BASE: respond(d, 200, MT_JSON, xstrdup("{}"), 2); break;
		case R_CATALOG:
		case R_TAGS:
		case R_REFERRERS:
			if (!get)
				fail(d, 405, "UNSUPPORTED", "%s is not supported here", d->method);
			else if (d->route == R_CATALOG)
				serve_catalog(d);
			else if (d->route == R_TAGS)
				serve_tags(d);
			else
				serve_referrers(d);
			break;
		case R_BLOB:
			if (!get && strcmp(d->method, "DELETE") != 0)
				fail(d, 405, "UNSUPPORTED", "%s is not supported on a blob", d->method);
			else
				serve_blob(d);
			break;
		case R_UPLOADS:
			if (strcmp(d->method, "POST") != 0)
				fail(d, 405, "UNSUPPORTED", "%s is not supported on uploads", d->method);
			else
				serve_uploads(d);
			break;
		case R_UPLOAD: serve_upload(d); break;
		case R_MANIFEST: serve_manifest(d); break;
		case R_TOKEN: break;
		}
	}
	d->async--;
	if (d->streaming)
		return true; /* the stream callbacks go on */
	if (d->async) {
		d->streaming = true;
		hreq_stream(req, &wait_ops, d);
		return true;
	}
	if (!d->answered) /* a bug: never leave a request hanging */
		fail(d, 500, "UNKNOWN", "the request was not answered");
	dreq_free(d);
	return true;
}
