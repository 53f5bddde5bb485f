/* OCI distribution client: every operation is a small state machine over hcli requests (probe and
 * token steps first when the scope has no cached Authorization), retried once from the start after
 * a 401 with fresh credentials. Blob pulls stream into a file (or memory) through hcli's sink,
 * hashing as the bytes arrive. */
#include "registry/regclient.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/enc.h"
#include "common/hmap.h"
#include "common/xalloc.h"
#include "registry/manifest.h"
#include "registry/ref.h"
#include "registry/reg-int.h"

#define ACCEPT_MANIFESTS \
	REG_MT_OCI_MANIFEST ", " REG_MT_OCI_INDEX ", " REG_MT_DOCKER_MANIFEST ", " REG_MT_DOCKER_LIST

enum scheme { SCHEME_UNKNOWN, SCHEME_NONE, SCHEME_BASIC, SCHEME_BEARER };
enum kind { K_AUTH, K_BLOB, K_MPUT, K_MGET, K_BGET };
enum step { S_PROBE, S_TOKEN, S_HEAD, S_POST, S_PUT, S_MPUT, S_MGET, S_BGET };

struct regclient {
	struct hcli *http;
	char *base;  /* "http://HOST:PORT" */
	char *basic; /* "Basic <base64 user:password>", or NULL without credentials */
	enum scheme scheme;
	char *realm, *service; /* the Bearer challenge's */
	struct hmap *tokens;   /* scope -> "Bearer <token>" (owned) */
	struct rop *ops;       /* the operations running; each has a request in flight */
	bool closing;
};

/* One operation. */
struct rop {
	struct regclient *c;
	enum kind kind;
	enum step step;
	char *scope;
	bool retried; /* refused once with 401 already */
	char *authz;  /* the Authorization value, or NULL */
	char *repo, *ref, *digest, *path, *media_type;
	char *body; /* manifest put */
	size_t len;
	char *url; /* the request in flight */
	const char *method;
	struct hcli_req *req;
	/* blob get */
	long long size, got; /* what the descriptor says; what arrived so far */
	char *dest, *tmp;    /* the file to fill (NULL: memory) and its temporary name */
	int fd;		     /* tmp, open for writing, or -1 */
	struct buf mem;	     /* the bytes, without dest */
	EVP_MD_CTX *md;
	struct err *sink_err; /* why the sink stopped the transfer */
	unsigned redirects;
	bool drop_auth; /* the request in flight goes to another host than the registry */
	regclient_done_fn done;
	regclient_auth_fn auth_done;
	void *arg;
	struct rop *next, *prev;
};

static void auth_begin(struct rop *op, bool refresh);

/* ---- operations ---- */

static struct rop *op_new(struct regclient *c, enum kind kind, const char *repo, const char *scope)
{
	struct rop *op = xcalloc(1, sizeof(*op));
	op->c = c;
	op->kind = kind;
	op->fd = -1;
	op->mem = (struct buf)BUF_INIT;
	op->repo = xstrdup(repo);
	op->scope = repo ? xasprintf("repository:%s:%s", repo, kind == K_MGET ? "pull" : "pull,push")
			 : xstrdup(scope);
	op->next = c->ops;
	if (c->ops)
		c->ops->prev = op;
	c->ops = op;
	return op;
}

static void op_free(struct rop *op)
{
	free(op->scope);
	free(op->authz);
	free(op->repo);
	free(op->ref);
	free(op->digest);
	free(op->path);
	free(op->media_type);
	free(op->body);
	free(op->url);
	if (op->fd >= 0)
		close(op->fd);
	if (op->tmp)
		unlink(op->tmp);
	free(op->tmp);
	free(op->dest);
	buf_release(&op->mem);
	EVP_MD_CTX_free(op->md);
	err_free(op->sink_err);
	free(op);
}

/* Ends op: unlinked before the callback runs, so that the callback may start others. */
static void op_finish(struct rop *op, const struct regclient_result *r)
{
	struct regclient *c = op->c;
	if (op->prev)
		op->prev->next = op->next;
	else
		c->ops = op->next;
	if (op->next)
		op->next->prev = op->prev;
	if (op->kind == K_AUTH)
		op->auth_done(op->arg, r->err ? NULL : op->authz, r->err);
	else
		op->done(op->arg, r);
	op_free(op);
}

/* Ends op with e (taken). */
static void op_fail(struct rop *op, struct err *e)
{
	struct regclient_result r = {.err = e};
	op_finish(op, &r);
	err_free(e);
}

static void on_resp(void *arg, const struct hcli_resp *resp);
static void op_send(struct rop *op, enum step step, const char *method, char *url, const char *ctype,
		    const char *accept, int fd, long long size);

/* hcli's sink for a blob get: bounds, hashes and keeps the bytes of the 2xx answer. */
static int bget_sink(void *arg, const void *p, size_t n)
{
	struct rop *op = arg;
	if ((long long)n > op->size - op->got) {
		err_set(&op->sink_err, ERR_INVALID_PARAM,
			"blob %s: the registry sends more than the %lld bytes its descriptor says",
			op->digest, op->size);
		return -1;
	}
	EVP_DigestUpdate(op->md, p, n);
	op->got += (long long)n;
	if (op->fd < 0) {
		buf_add(&op->mem, p, n); /* capped at size, which the check above keeps to */
		return 0;
	}
	const char *q = p;
	while (n > 0) {
		ssize_t w = write(op->fd, q, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			err_sys(&op->sink_err, errno, "blob %s: write %s", op->digest, op->tmp);
			return -1;
		}
		q += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Starts op->kind == K_BGET's request to url (taken), from an empty file and a fresh hash: a
 * redirect or a retry after a 401 starts over. */
static void bget_send(struct rop *op, char *url)
{
	struct err *e = NULL;
	op->got = 0;
	buf_reset(&op->mem);
	EVP_DigestInit_ex(op->md, strncmp(op->digest, "sha512:", 7) == 0 ? EVP_sha512() : EVP_sha256(), NULL);
	if (op->fd >= 0 && (ftruncate(op->fd, 0) < 0 || lseek(op->fd, 0, SEEK_SET) < 0)) {
		err_sys(&e, errno, "blob %s: truncate %s", op->digest, op->tmp);
		free(url);
		op_fail(op, e);
		return;
	}
	op_send(op, S_BGET, "GET", url, NULL, NULL, -1, 0);
}

/* Starts the next request of op. url is taken. fd >= 0 sends size bytes from it (taken). */
static void op_send(struct rop *op, enum step step, const char *method, char *url, const char *ctype,
		    const char *accept, int fd, long long size)
{
	struct hsrv_header h[3];
	size_t n = 0;
	if (op->authz && step != S_PROBE && step != S_TOKEN && !(step == S_BGET && op->drop_auth))
		h[n++] = (struct hsrv_header){"Authorization", op->authz};
	if (step == S_TOKEN && op->c->basic)
		h[n++] = (struct hsrv_header){"Authorization", op->c->basic};
	if (ctype)
		h[n++] = (struct hsrv_header){"Content-Type", ctype};
	if (accept)
		h[n++] = (struct hsrv_header){"Accept", accept};
	free(op->url);
	op->url = url;
	op->method = method;
	op->step = step;
	struct hcli_opts o = {
		.method = method,
		.url = url,
		.hdrs = h,
		.nhdrs = n,
		.timeout_ms = REGCLIENT_TIMEOUT_MS,
	};
	if (fd >= 0) {
		o.body_from_fd = true;
		o.body_fd = fd;
		o.body_size = size;
		o.timeout_ms = REGCLIENT_BLOB_TIMEOUT_MS;
	} else if (step == S_MPUT) {
		o.body = op->body;
		o.len = op->len;
	} else if (step == S_POST) {
		o.body = "";
	} else if (step == S_BGET) {
		o.sink = bget_sink;
		o.sink_arg = op;
		o.timeout_ms = REGCLIENT_BLOB_TIMEOUT_MS;
	}
	op->req = hcli_request_full(op->c->http, &o, on_resp, op);
}

/* An error for an answer the operation did not expect, with the registry's own error code and
 * message when the body has them (OCI distribution spec: {"errors": [{"code", "message"}]}). */
static struct err *answer_err(struct rop *op, unsigned status, const char *body, size_t len)
{
	json_t *j = len ? json_loadb(body, len, 0, NULL) : NULL;
	json_t *e0 = json_array_get(json_object_get(j, "errors"), 0);
	const char *code = json_string_value(json_object_get(e0, "code"));
	const char *msg = json_string_value(json_object_get(e0, "message"));
	enum err_kind kind = ERR_CLIENT;
	if (status == 401 || status == 403)
		kind = ERR_ACCESS_DENIED;
	else if (status >= 500)
		kind = ERR_UNAVAILABLE;
	if (code && strcmp(code, "NAME_UNKNOWN") == 0)
		kind = ERR_REPO_NOT_FOUND;
	else if (code && strcmp(code, "MANIFEST_UNKNOWN") == 0)
		kind = ERR_IMAGE_NOT_FOUND;
	else if (code && (strcmp(code, "BLOB_UNKNOWN") == 0 || strcmp(code, "MANIFEST_BLOB_UNKNOWN") == 0))
		kind = ERR_LAYERS_NOT_FOUND;
	const char *path = op->url;
	if (strncmp(path, op->c->base, strlen(op->c->base)) == 0)
		path += strlen(op->c->base);
	struct err *e = NULL;
	err_set(&e, kind, "%s %s: %u%s%s%s%s", op->method, path, status, code ? " " : "", code ? code : "",
		msg ? ": " : "", msg ? msg : "");
	json_decref(j);
	return e;
}

/* ---- auth ---- */

int regclient_parse_challenge(const char *h, char **scheme, char **realm, char **service)
{
	*scheme = *realm = *service = NULL;
	if (strlen(h) > REGCLIENT_CHALLENGE_MAX)
		return -1;
	const char *s = h + strspn(h, " ");
	size_t n = strcspn(s, " ");
	if (!n)
		return -1;
	*scheme = xstrndup(s, n);
	s += n;
	struct buf v = BUF_INIT;
	while (*s) {
		s += strspn(s, " ,");
		if (!*s)
			break;
		size_t kn = strcspn(s, "= ,");
		if (!kn || s[kn] != '=')
			goto bad;
		const char *k = s;
		s += kn + 1;
		buf_reset(&v);
		if (*s == '"') {
			for (s++; *s && *s != '"'; s++) {
				if (*s == '\\' && s[1])
					s++;
				buf_addc(&v, *s);
			}
			if (*s != '"')
				goto bad;
			s++;
		} else {
			size_t vn = strcspn(s, " ,");
			buf_add(&v, s, vn);
			s += vn;
		}
		if (kn == 5 && strncasecmp(k, "realm", 5) == 0) {
			free(*realm);
			*realm = xstrdup(v.p);
		} else if (kn == 7 && strncasecmp(k, "service", 7) == 0) {
			free(*service);
			*service = xstrdup(v.p);
		}
	}
	buf_release(&v);
	return 0;
bad:
	buf_release(&v);
	free(*scheme);
	free(*realm);
	free(*service);
	*scheme = *realm = *service = NULL;
	return -1;
}

/* Auth is settled for op: on to its own requests. */
static void op_main(struct rop *op)
{
	struct regclient *c = op->c;
	struct err *e = NULL;
	switch (op->kind) {
	case K_AUTH: {
		struct regclient_result r = {0};
		op_finish(op, &r);
		return;
	}
	case K_BLOB:
		op_send(op, S_HEAD, "HEAD", xasprintf("%s/v2/%s/blobs/%s", c->base, op->repo, op->digest),
			NULL, NULL, -1, 0);
		return;
	case K_MPUT:
		op_send(op, S_MPUT, "PUT", xasprintf("%s/v2/%s/manifests/%s", c->base, op->repo, op->ref),
			op->media_type, NULL, -1, 0);
		return;
	case K_MGET:
		op_send(op, S_MGET, "GET", xasprintf("%s/v2/%s/manifests/%s", c->base, op->repo, op->ref),
			NULL, ACCEPT_MANIFESTS, -1, 0);
		return;
	case K_BGET:
		op->redirects = 0;
		op->drop_auth = false;
		bget_send(op, xasprintf("%s/v2/%s/blobs/%s", c->base, op->repo, op->digest));
		return;
	}
	err_set(&e, ERR_INTERNAL, "unknown operation");
	op_fail(op, e);
}

static void token_fetch(struct rop *op)
{
	struct regclient *c = op->c;
	struct buf u = BUF_INIT;
	buf_adds(&u, c->realm);
	buf_addc(&u, strchr(c->realm, '?') ? '&' : '?');
	if (c->service) {
		buf_adds(&u, "service=");
		enc_uri(&u, c->service, strlen(c->service), false);
		buf_addc(&u, '&');
	}
	buf_adds(&u, "scope=");
	enc_uri(&u, op->scope, strlen(op->scope), false);
	op_send(op, S_TOKEN, "GET", buf_detach(&u, NULL), NULL, NULL, -1, 0);
}

/* Sets op->authz from what the client knows, or starts finding out. */
static void auth_begin(struct rop *op, bool refresh)
{
	struct regclient *c = op->c;
	struct err *e = NULL;
	free(op->authz);
	op->authz = NULL;
	if (refresh) {
		free(hmap_del(c->tokens, op->scope));
		c->scheme = SCHEME_UNKNOWN;
	}
	switch (c->scheme) {
	case SCHEME_UNKNOWN:
		op_send(op, S_PROBE, "GET", xasprintf("%s/v2/", c->base), NULL, NULL, -1, 0);
		return;
	case SCHEME_NONE: break;
	case SCHEME_BASIC:
		if (!c->basic) {
			err_set(&e, ERR_ACCESS_DENIED, "%s asks for credentials (Basic) and none were given",
				c->base);
			op_fail(op, e);
			return;
		}
		op->authz = xstrdup(c->basic);
		break;
	case SCHEME_BEARER: {
		const char *t = hmap_get(c->tokens, op->scope);
		if (!t) {
			token_fetch(op);
			return;
		}
		op->authz = xstrdup(t);
		break;
	}
	}
	op_main(op);
}

static void on_probe(struct rop *op, const struct hcli_resp *r)
{
	struct regclient *c = op->c;
	char *scheme = NULL, *realm = NULL, *service = NULL;
	struct err *e = NULL;
	if (r->status == 200) {
		c->scheme = SCHEME_NONE;
		auth_begin(op, false);
		return;
	}
	const char *h = hcli_resp_header(r, "WWW-Authenticate");
	if (r->status != 401 || !h) {
		op_fail(op, answer_err(op, r->status, r->body, r->len));
		return;
	}
	if (regclient_parse_challenge(h, &scheme, &realm, &service) < 0) {
		err_set(&e, ERR_CLIENT, "%s: cannot read the challenge 'WWW-Authenticate: %.200s'", c->base,
			h);
	} else if (strcasecmp(scheme, "Basic") == 0) {
		c->scheme = SCHEME_BASIC;
	} else if (strcasecmp(scheme, "Bearer") == 0 && realm &&
		   (strncmp(realm, "http://", 7) == 0 || strncmp(realm, "https://", 8) == 0)) {
		c->scheme = SCHEME_BEARER;
		free(c->realm);
		free(c->service);
		c->realm = realm;
		c->service = service;
		realm = service = NULL;
	} else {
		err_set(&e, ERR_CLIENT, "%s: unsupported challenge 'WWW-Authenticate: %.200s'", c->base, h);
	}
	free(scheme);
	free(realm);
	free(service);
	if (e)
		op_fail(op, e);
	else
		auth_begin(op, false);
}

static void on_token(struct rop *op, const struct hcli_resp *r)
{
	struct err *e = NULL;
	if (r->status != 200) {
		e = answer_err(op, r->status, r->body, r->len);
		err_prefix(&e, "get a token for %s", op->scope);
		if (r->status == 401 || r->status == 403)
			e->kind = ERR_ACCESS_DENIED;
		op_fail(op, e);
		return;
	}
	json_t *j = json_loadb(r->body, r->len, 0, NULL);
	const char *t = json_string_value(json_object_get(j, "token"));
	if (!t || !*t)
		t = json_string_value(json_object_get(j, "access_token"));
	if (!t || !*t) {
		json_decref(j);
		err_set(&e, ERR_CLIENT, "%s: the token answer carries no token", op->url);
		op_fail(op, e);
		return;
	}
	char *v = xasprintf("Bearer %s", t);
	free(hmap_put(op->c->tokens, op->scope, v));
	json_decref(j);
	op->authz = xstrdup(v);
	op_main(op);
}

/* ---- blobs and manifests ---- */

/* The upload URL from a Location header: absolute, or relative to the request's URL (RFC 3986). */
static char *resolve(struct regclient *c, const char *req_url, const char *loc)
{
	if (strncmp(loc, "http://", 7) == 0 || strncmp(loc, "https://", 8) == 0)
		return xstrdup(loc);
	if (loc[0] == '/' && loc[1] == '/')
		return xasprintf("%.*s%s", (int)(strchr(c->base, ':') - c->base + 1), c->base, loc);
	if (loc[0] == '/')
		return xasprintf("%s%s", c->base, loc);
	const char *q = strchr(req_url, '?');
	size_t n = q ? (size_t)(q - req_url) : strlen(req_url);
	while (n > 0 && req_url[n - 1] != '/')
		n--;
	return xasprintf("%.*s%s", (int)n, req_url, loc);
}

static void blob_put(struct rop *op, const struct hcli_resp *r)
{
	struct err *e = NULL;
	const char *loc = hcli_resp_header(r, "Location");
	if (!loc || !*loc) {
		err_set(&e, ERR_CLIENT, "POST %s: the answer has no Location", op->url);
		op_fail(op, e);
		return;
	}
	int fd = open(op->path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		err_sys(&e, errno, "open '%s'", op->path);
		if (fd >= 0)
			close(fd);
		op_fail(op, e);
		return;
	}
	char *url = resolve(op->c, op->url, loc);
	struct buf u = BUF_INIT;
	buf_adds(&u, url);
	buf_adds(&u, strchr(url, '?') ? "&digest=" : "?digest=");
	enc_uri(&u, op->digest, strlen(op->digest), false);
	free(url);
	op_send(op, S_PUT, "PUT", buf_detach(&u, NULL), "application/octet-stream", NULL, fd, st.st_size);
}

/* A manifest answer's digest: the registry's Docker-Content-Digest, which must match the bytes. */
static int manifest_digest(struct rop *op, const struct hcli_resp *r, const char *bytes, size_t len,
			   char out[72], struct err **err)
{
	reg__sha256_digest(bytes, len, out);
	const char *said = hcli_resp_header(r, "Docker-Content-Digest");
	if (said && strcmp(said, out) != 0 && strncmp(said, "sha256:", 7) == 0)
		return err_set(err, ERR_CLIENT, "%s %s: the registry says the digest is %s, the bytes' is %s",
			       op->method, op->url, said, out);
	return 0;
}

/* Whether url is on the registry itself: same scheme, host and port as the base URL. */
static bool same_origin(const struct regclient *c, const char *url)
{
	size_t n = strlen(c->base);
	return strncasecmp(url, c->base, n) == 0 && (url[n] == '/' || url[n] == '?' || url[n] == '\0');
}

static void on_bget(struct rop *op, const struct hcli_resp *r)
{
	struct err *e = NULL;
	const char *loc = hcli_resp_header(r, "Location");
	if ((r->status == 301 || r->status == 302 || r->status == 303 || r->status == 307 ||
	     r->status == 308) &&
	    loc && *loc) {
		if (++op->redirects > REGCLIENT_REDIRECTS_MAX) {
			err_set(&e, ERR_CLIENT, "blob %s: more than %d redirects", op->digest,
				REGCLIENT_REDIRECTS_MAX);
			op_fail(op, e);
			return;
		}
		char *url = resolve(op->c, op->url, loc);
		/* docker (Go's HTTP client) sends the Authorization along to the registry only: a
		 * storage service's pre-signed URL must not see the registry's token. */
		op->drop_auth = !same_origin(op->c, url);
		bget_send(op, url);
		return;
	}
	if (r->status < 200 || r->status >= 300) {
		op_fail(op, answer_err(op, r->status, r->body, r->len));
		return;
	}
	unsigned char h[EVP_MAX_MD_SIZE];
	unsigned hn = 0;
	char hex[2 * EVP_MAX_MD_SIZE + 1];
	EVP_DigestFinal_ex(op->md, h, &hn);
	enc_hex(h, hn, hex);
	const char *want = strchr(op->digest, ':') + 1;
	if (op->got != op->size) {
		err_set(&e, ERR_INVALID_PARAM,
			"blob %s: the registry sent %lld bytes, its descriptor says %lld", op->digest,
			op->got, op->size);
	} else if (strcmp(hex, want) != 0) {
		err_set(&e, ERR_INVALID_PARAM, "blob %s: the bytes received hash to %.*s:%s", op->digest,
			(int)(want - 1 - op->digest), op->digest, hex);
	} else if (op->dest) {
		int fd = op->fd;
		op->fd = -1;
		if (close(fd) < 0)
			err_sys(&e, errno, "blob %s: write %s", op->digest, op->tmp);
		else if (rename(op->tmp, op->dest) < 0)
			err_sys(&e, errno, "blob %s: rename %s to %s", op->digest, op->tmp, op->dest);
		else {
			free(op->tmp);
			op->tmp = NULL;
		}
	}
	if (e) {
		op_fail(op, e);
		return;
	}
	struct regclient_result res = {.digest = op->digest};
	if (!op->dest) {
		res.body = op->mem.p;
		res.len = op->mem.len;
	}
	op_finish(op, &res);
}

static void on_resp(void *arg, const struct hcli_resp *r)
{
	struct rop *op = arg;
	struct err *e = NULL;
	char digest[72];
	op->req = NULL;
	if (op->sink_err) {
		e = op->sink_err;
		op->sink_err = NULL;
		op_fail(op, e);
		return;
	}
	if (r->err || op->c->closing) {
		err_set(&e, ERR_UNAVAILABLE, "%s %s: %s", op->method, op->url,
			r->err ? r->err->msg : "cancelled");
		op_fail(op, e);
		return;
	}
	if (op->step == S_PROBE) {
		on_probe(op, r);
		return;
	}
	if (op->step == S_TOKEN) {
		on_token(op, r);
		return;
	}
	if (r->status == 401 && !op->retried) {
		/* Expired, or a token for too narrow a scope: once more, from the start. */
		op->retried = true;
		auth_begin(op, true);
		return;
	}
	switch (op->step) {
	case S_HEAD:
		if (r->status == 200) {
			struct regclient_result res = {.existed = true};
			op_finish(op, &res);
		} else if (r->status == 404) {
			op_send(op, S_POST, "POST",
				xasprintf("%s/v2/%s/blobs/uploads/", op->c->base, op->repo), NULL, NULL, -1,
				0);
		} else {
			op_fail(op, answer_err(op, r->status, r->body, r->len));
		}
		return;
	case S_POST:
		if (r->status == 202)
			blob_put(op, r);
		else
			op_fail(op, answer_err(op, r->status, r->body, r->len));
		return;
	case S_PUT: {
		const char *said = hcli_resp_header(r, "Docker-Content-Digest");
		if (r->status != 201) {
			op_fail(op, answer_err(op, r->status, r->body, r->len));
		} else if (said && strcmp(said, op->digest) != 0) {
			err_set(&e, ERR_CLIENT, "PUT %s: the registry stored %s", op->url, said);
			op_fail(op, e);
		} else {
			struct regclient_result res = {0};
			op_finish(op, &res);
		}
		return;
	}
	case S_MPUT:
		if (r->status != 201) {
			op_fail(op, answer_err(op, r->status, r->body, r->len));
		} else if (manifest_digest(op, r, op->body, op->len, digest, &e) < 0) {
			op_fail(op, e);
		} else {
			struct regclient_result res = {.digest = digest};
			op_finish(op, &res);
		}
		return;
	case S_MGET:
		if (r->status != 200) {
			op_fail(op, answer_err(op, r->status, r->body, r->len));
		} else if (manifest_digest(op, r, r->body, r->len, digest, &e) < 0) {
			op_fail(op, e);
		} else {
			struct regclient_result res = {
				.digest = digest,
				.media_type = hcli_resp_header(r, "Content-Type"),
				.body = r->body,
				.len = r->len,
			};
			op_finish(op, &res);
		}
		return;
	case S_BGET: on_bget(op, r); return;
	case S_PROBE:
	case S_TOKEN: break;
	}
	err_set(&e, ERR_INTERNAL, "unexpected step");
	op_fail(op, e);
}

/* ---- the interface ---- */

static void forget_tokens(struct regclient *c)
{
	if (!c->tokens)
		return;
	const char *k;
	void *v;
	for (size_t it = 0; hmap_next(c->tokens, &it, &k, &v);)
		free(v);
	hmap_free(c->tokens);
	c->tokens = NULL;
}

struct regclient *regclient_new(struct hcli *http, const char *base, const char *user, const char *password,
				struct err **err)
{
	const char *host = NULL;
	if (strncmp(base, "http://", 7) == 0)
		host = base + 7;
	else if (strncmp(base, "https://", 8) == 0)
		host = base + 8;
	size_t n = strlen(base);
	while (n > 0 && base[n - 1] == '/')
		n--;
	bool ok = host && host < base + n;
	for (const char *p = host; ok && p < base + n; p++)
		ok = *p != '/' && *p != '?' && *p != '#' && *p != ' ';
	if (!ok) {
		err_set(err, ERR_INVALID_PARAM, "registry URL '%s' is not http(s)://HOST[:PORT]", base);
		return NULL;
	}
	struct regclient *c = xcalloc(1, sizeof(*c));
	c->http = http;
	c->base = xstrndup(base, n);
	regclient_set_credentials(c, user, password);
	return c;
}

void regclient_free(struct regclient *c)
{
	if (!c)
		return;
	c->closing = true;
	while (c->ops)
		hcli_cancel(c->ops->req);
	forget_tokens(c);
	free(c->base);
	free(c->basic);
	free(c->realm);
	free(c->service);
	free(c);
}

void regclient_set_credentials(struct regclient *c, const char *user, const char *password)
{
	free(c->basic);
	c->basic = NULL;
	if (user && password) {
		char *up = xasprintf("%s:%s", user, password);
		char *b64 = enc_b64(up, strlen(up));
		c->basic = xasprintf("Basic %s", b64);
		free(b64);
		free(up);
	}
	forget_tokens(c);
	c->tokens = hmap_new();
}

void regclient_auth(struct regclient *c, const char *scope, bool refresh, regclient_auth_fn done, void *arg)
{
	struct rop *op = op_new(c, K_AUTH, NULL, scope);
	op->auth_done = done;
	op->arg = arg;
	auth_begin(op, refresh);
}

static int check_start(struct regclient *c, const char *repo, const char *ref, struct err **err)
{
	if (c->closing)
		return err_set(err, ERR_UNAVAILABLE, "the registry client is closing");
	if (c->scheme == SCHEME_BASIC && !c->basic)
		return err_set(err, ERR_ACCESS_DENIED, "%s asks for credentials (Basic) and none were given",
			       c->base);
	if (reg_name_check(repo, err) < 0)
		return -1;
	if (ref && (reg_ref_is_digest(ref) ? reg_digest_check(ref, err) : reg_tag_check(ref, err)) < 0)
		return -1;
	return 0;
}

int regclient_blob_push(struct regclient *c, const char *repo, const char *digest, const char *path,
			regclient_done_fn done, void *arg, struct err **err)
{
	if (check_start(c, repo, NULL, err) < 0 || reg_digest_check(digest, err) < 0)
		return -1;
	if (access(path, R_OK) < 0)
		return err_sys(err, errno, "'%s'", path);
	struct rop *op = op_new(c, K_BLOB, repo, NULL);
	op->digest = xstrdup(digest);
	op->path = xstrdup(path);
	op->done = done;
	op->arg = arg;
	auth_begin(op, false);
	return 0;
}

int regclient_manifest_put(struct regclient *c, const char *repo, const char *ref, const char *media_type,
			   const char *bytes, size_t len, regclient_done_fn done, void *arg, struct err **err)
{
	if (check_start(c, repo, ref, err) < 0)
		return -1;
	if (len > REG_MANIFEST_MAX)
		return err_set(err, ERR_INVALID_PARAM, "the manifest is %zu bytes, more than %u", len,
			       REG_MANIFEST_MAX);
	struct rop *op = op_new(c, K_MPUT, repo, NULL);
	op->ref = xstrdup(ref);
	op->media_type = xstrdup(media_type);
	op->body = xmalloc(len ? len : 1);
	memcpy(op->body, bytes, len);
	op->len = len;
	op->done = done;
	op->arg = arg;
	auth_begin(op, false);
	return 0;
}

int regclient_manifest_get(struct regclient *c, const char *repo, const char *ref, regclient_done_fn done,
			   void *arg, struct err **err)
{
	if (check_start(c, repo, ref, err) < 0)
		return -1;
	struct rop *op = op_new(c, K_MGET, repo, NULL);
	op->ref = xstrdup(ref);
	op->done = done;
	op->arg = arg;
	auth_begin(op, false);
	return 0;
}

int regclient_blob_get(struct regclient *c, const char *repo, const char *digest, long long size,
		       const char *dest, regclient_done_fn done, void *arg, struct err **err)
{
	if (check_start(c, repo, NULL, err) < 0 || reg_digest_check(digest, err) < 0)
		return -1;
	if (size < 0)
		return err_set(err, ERR_INVALID_PARAM, "blob %s: size %lld is negative", digest, size);
	char *tmp = NULL;
	int fd = -1;
	if (dest) {
		tmp = xasprintf("%s.XXXXXX", dest);
		fd = mkostemp(tmp, O_CLOEXEC);
		if (fd < 0) {
			err_sys(err, errno, "blob %s: create %s", digest, tmp);
			free(tmp);
			return -1;
		}
	}
	struct rop *op = op_new(c, K_BGET, repo, NULL);
	op->digest = xstrdup(digest);
	op->size = size;
	op->dest = xstrdup(dest);
	op->tmp = tmp;
	op->fd = fd;
	if (!dest)
		buf_init(&op->mem, size > 0 ? (size_t)size : 1);
	op->md = EVP_MD_CTX_new();
	if (!op->md)
		abort();
	op->done = done;
	op->arg = arg;
	auth_begin(op, false);
	return 0;
}
