/* Unit tests for the registry client (registry/regclient.h) and hcli's full requests against a real
 * in-process server (hsrv + api + the registry + store on one loop): the Bearer token flow with
 * the ECR password, blob pushes streamed from files (and skipped when present), manifest put and
 * get by tag and digest, blob pulls (to a file or memory, bounded by size, verified by digest,
 * through redirects with the Authorization kept for the registry and dropped for another host),
 * the error kinds of refusals, cancellation, and challenge parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>

#include "api/awsc.h"
#include "common/enc.h"
#include "common/hcli.h"
#include "common/jv.h"
#include "harness.h"
#include "registry/imgbuild.h"
#include "registry/manifest.h"
#include "registry/regclient.h"
#include "registry/registry.h"

struct world {
	uv_loop_t loop;
	struct harness h; /* creds, store, api (store in loop mode here) */
	struct reg *reg;
	struct hsrv *srv;
	struct hsrv *cdn; /* another host blob GETs may be sent to */
	struct hcli *http;
	struct awsc *aws;
	char url[64];
	char *password;		    /* the ECR registry password of account A */
	struct imgbuild_image *img; /* a small image built under h.dir/img */
	int answers;
	/* the last answer */
	enum err_kind kind; /* ERR_KIND_COUNT for success */
	char msg[1024];
	bool existed;
	char digest[80];
	char media_type[128];
	char *body;
	size_t body_len;
	/* blob GETs on the registry answer with a redirect: REDIR_* */
	int redirect;
	int redirects_served;
	int cdn_hits;
	bool cdn_saw_auth;
};

enum { REDIR_NONE, REDIR_SAME, REDIR_CDN, REDIR_LOOP };

static void on_aws(void *arg, const struct awsc_result *r)
{
	struct world *w = arg;
	w->answers++;
	free(w->body);
	w->body = r->out ? jv_dump(r->out) : NULL;
	snprintf(w->msg, sizeof(w->msg), "%s", r->error_type ? r->error_type : "");
}

static void on_reg(void *arg, const struct regclient_result *r)
{
	struct world *w = arg;
	w->answers++;
	w->kind = r->err ? r->err->kind : ERR_KIND_COUNT;
	snprintf(w->msg, sizeof(w->msg), "%s", r->err ? r->err->msg : "");
	w->existed = r->existed;
	snprintf(w->digest, sizeof(w->digest), "%s", r->digest ? r->digest : "");
	snprintf(w->media_type, sizeof(w->media_type), "%s", r->media_type ? r->media_type : "");
	free(w->body);
	w->body = r->body ? xstrndup(r->body, r->len) : NULL;
	w->body_len = r->body ? r->len : 0;
}

static void on_auth(void *arg, const char *authorization, const struct err *err)
{
	struct world *w = arg;
	w->answers++;
	snprintf(w->msg, sizeof(w->msg), "%s", authorization ? authorization : err ? err->msg : "");
}

static void wait_for(struct world *w, int n)
{
	while (w->answers < n)
		uv_run(&w->loop, UV_RUN_ONCE);
}

static void aws_call(struct world *w, const char *op, const char *body)
{
	json_t *in = json_loads(body, 0, NULL);
	char *target = xasprintf("AmazonEC2ContainerRegistry_V20150921.%s", op);
	int n = w->answers;
	awsc_call(w->aws, target, "ecr", in, 5000, on_aws, w);
	json_decref(in);
	free(target);
	wait_for(w, n + 1);
}

/* In front of the registry: blob GETs redirect as w->redirect says (a same-origin target carries
 * ?r=1 and reaches the registry, which wants the Authorization). */
static bool front(void *arg, struct hreq *req)
{
	struct world *w = arg;
	const char *path = hreq_path(req);
	const char *slash = strrchr(path, '/');
	if (w->redirect != REDIR_NONE && strcmp(hreq_method(req), "GET") == 0 &&
	    strstr(path, "/blobs/sha256:") && strcmp(hreq_query(req), "r=1") != 0) {
		char *loc = NULL;
		w->redirects_served++;
		if (w->redirect == REDIR_SAME)
			loc = xasprintf("%s?r=1", path); /* an absolute path: the same host */
		else if (w->redirect == REDIR_CDN)
			loc = xasprintf("http://127.0.0.1:%d/cdn%s", hsrv_port(w->cdn), slash);
		else
			loc = xasprintf("%s?r=0", path);
		hreq_add_header(req, "Location", loc);
		free(loc);
		hreq_respond(req, 307, NULL, NULL, 0);
		return true;
	}
	return reg_http(w->reg, req);
}

/* The other host: serves the layer and config files imgbuild wrote, and notes what it was sent. */
static void cdn_handle(void *arg, struct hreq *req)
{
	struct world *w = arg;
	const char *digest = strrchr(hreq_path(req), '/') + 1;
	const struct imgbuild_blob *b =
		strcmp(digest, w->img->layer.digest) == 0 ? &w->img->layer : &w->img->config;
	w->cdn_hits++;
	w->cdn_saw_auth = hreq_header(req, "Authorization") != NULL;
	int fd = open(b->path, O_RDONLY | O_CLOEXEC);
	hreq_respond_fd(req, 200, "application/octet-stream", fd, 0, (unsigned long long)b->size);
}

static int setup(void **state)
{
	struct world *w = xcalloc(1, sizeof(*w));
	struct err *e = NULL;
	assert_int_equal(uv_loop_init(&w->loop), 0);
	snprintf(w->h.dir, sizeof(w->h.dir), "/tmp/gantry-regclient.XXXXXX");
	assert_non_null(mkdtemp(w->h.dir));
	w->h.creds = creds_new();
	creds_add(w->h.creds, H_KEY_A, H_SECRET_A, H_ACCT_A, NULL);
	w->h.store = store_open(&w->loop, w->h.dir, &e);
	assert_non_null(w->h.store);
	w->reg = reg_new(&w->loop, w->h.store, w->h.creds, w->h.dir, &e);
	assert_non_null(w->reg);
	w->h.api = api_new(w->h.creds, w->h.store, NULL);
	reg_add_to_api(w->reg, w->h.api);
	struct sockaddr_storage addr;
	assert_int_equal(hsrv_parse_addr("127.0.0.1:0", &addr, &e), 0);
	w->srv = hsrv_start(&w->loop, &addr, API_BODY_MAX, api_handle, w->h.api, &e);
	assert_non_null(w->srv);
	hsrv_set_stream_handler(w->srv, front, w);
	w->cdn = hsrv_start(&w->loop, &addr, 1024, cdn_handle, w, &e);
	assert_non_null(w->cdn);
	snprintf(w->url, sizeof(w->url), "http://127.0.0.1:%d", hsrv_port(w->srv));
	w->http = hcli_new(&w->loop);
	w->aws = awsc_new(w->http, w->url, H_KEY_A, H_SECRET_A, "us-east-1", &e);
	assert_non_null(w->aws);
	aws_call(w, "CreateRepository", "{\"repositoryName\": \"app\"}");
	assert_non_null(w->body);
	aws_call(w, "GetAuthorizationToken", "{}");
	json_t *j = json_loads(w->body, 0, NULL);
	const char *tok = json_string_value(json_object_get(
		json_array_get(json_object_get(j, "authorizationData"), 0), "authorizationToken"));
	size_t n;
	char *raw = enc_b64_decode(tok, strlen(tok), &n);
	assert_true(strncmp(raw, "AWS:", 4) == 0);
	w->password = xstrdup(raw + 4);
	free(raw);
	json_decref(j);
	/* A small image to push. */
	char *root = xasprintf("%s/root", w->h.dir), *file = xasprintf("%s/root/hello", w->h.dir);
	char *out = xasprintf("%s/img", w->h.dir);
	assert_int_equal(mkdir(root, 0755), 0);
	FILE *f = fopen(file, "w");
	fputs("hello\n", f);
	fclose(f);
	struct imgbuild_opts o = {.source = root};
	w->img = imgbuild_build(&o, out, &e);
	assert_non_null(w->img);
	free(root);
	free(file);
	free(out);
	*state = w;
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int teardown(void **state)
{
	struct world *w = *state;
	awsc_free(w->aws);
	hcli_free(w->http);
	reg_set_stopping(w->reg);
	hsrv_stop(w->srv);
	hsrv_stop(w->cdn);
	store_flush(w->h.store, NULL);
	store_close(w->h.store);
	uv_run(&w->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&w->loop), 0);
	api_free(w->h.api);
	reg_free(w->reg);
	creds_free(w->h.creds);
	nftw(w->h.dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	imgbuild_image_free(w->img);
	free(w->password);
	free(w->body);
	free(w);
	return 0;
}

static void expect_ok(struct world *w)
{
	if (w->kind != ERR_KIND_COUNT) {
		print_error("unexpected error %s: %s\n", err_kind_name(w->kind), w->msg);
		fail();
	}
}

static void expect_kind(struct world *w, enum err_kind kind, const char *want)
{
	if (w->kind != kind || !strstr(w->msg, want)) {
		print_error("got %s \"%s\", want %s containing \"%s\"\n",
			    w->kind == ERR_KIND_COUNT ? "success" : err_kind_name(w->kind), w->msg,
			    err_kind_name(kind), want);
		fail();
	}
}

static void push_blob(struct world *w, struct regclient *c, const char *repo, const struct imgbuild_blob *b)
{
	struct err *e = NULL;
	int n = w->answers;
	assert_int_equal(regclient_blob_push(c, repo, b->digest, b->path, on_reg, w, &e), 0);
	wait_for(w, n + 1);
}

static void test_push_and_pull(void **state)
{
	struct world *w = *state;
	struct err *e = NULL;
	struct regclient *c = regclient_new(w->http, w->url, "AWS", w->password, &e);
	assert_non_null(c);
	push_blob(w, c, "app", &w->img->layer);
	expect_ok(w);
	assert_false(w->existed);
	push_blob(w, c, "app", &w->img->layer); /* HEAD finds it: nothing is sent */
	expect_ok(w);
	assert_true(w->existed);
	push_blob(w, c, "app", &w->img->config);
	expect_ok(w);
	int n = w->answers;
	assert_int_equal(regclient_manifest_put(c, "app", "v1", REG_MT_OCI_MANIFEST, w->img->manifest_json,
						strlen(w->img->manifest_json), on_reg, w, &e),
			 0);
	wait_for(w, n + 1);
	expect_ok(w);
	assert_string_equal(w->digest, w->img->manifest.digest);
	/* Pulled back by tag and by digest: the same bytes, type and digest. */
	const char *refs[] = {"v1", w->img->manifest.digest};
	for (int i = 0; i < 2; i++) {
		n = w->answers;
		assert_int_equal(regclient_manifest_get(c, "app", refs[i], on_reg, w, &e), 0);
		wait_for(w, n + 1);
		expect_ok(w);
		assert_string_equal(w->body, w->img->manifest_json);
		assert_string_equal(w->media_type, REG_MT_OCI_MANIFEST);
		assert_string_equal(w->digest, w->img->manifest.digest);
	}
	/* The token is cached per scope: regclient_auth answers at once for "app", and goes to the
	 * token endpoint for another scope. */
	n = w->answers;
	regclient_auth(c, "repository:app:pull,push", false, on_auth, w);
	assert_int_equal(w->answers, n + 1);
	assert_true(strncmp(w->msg, "Bearer gantry1.", 15) == 0);
	regclient_auth(c, "repository:other:pull", false, on_auth, w);
	wait_for(w, n + 2);
	assert_true(strncmp(w->msg, "Bearer gantry1.", 15) == 0);
	regclient_free(c);
	/* The ECR API sees the image. */
	aws_call(w, "DescribeImages", "{\"repositoryName\": \"app\"}");
	assert_non_null(strstr(w->body, w->img->manifest.digest));
}

static void test_refusals(void **state)
{
	struct world *w = *state;
	struct err *e = NULL;
	struct regclient *c = regclient_new(w->http, w->url, "AWS", w->password, &e);
	/* A repository that does not exist: HEAD says 404, the upload NAME_UNKNOWN. */
	push_blob(w, c, "nope", &w->img->layer);
	expect_kind(w, ERR_REPO_NOT_FOUND, "NAME_UNKNOWN");
	/* A manifest whose blobs are not there. */
	int n = w->answers;
	regclient_manifest_put(c, "app", "v1", REG_MT_OCI_MANIFEST, w->img->manifest_json,
			       strlen(w->img->manifest_json), on_reg, w, &e);
	wait_for(w, n + 1);
	expect_kind(w, ERR_LAYERS_NOT_FOUND, "MANIFEST_BLOB_UNKNOWN");
	n = w->answers;
	regclient_manifest_get(c, "app", "nosuchtag", on_reg, w, &e);
	wait_for(w, n + 1);
	expect_kind(w, ERR_IMAGE_NOT_FOUND, "MANIFEST_UNKNOWN");
	/* Bad names are refused before any request; the callback is not called. */
	assert_int_equal(
		regclient_blob_push(c, "Bad_Name", w->img->layer.digest, w->img->layer.path, on_reg, w, &e),
		-1);
	err_free(e);
	e = NULL;
	assert_int_equal(regclient_blob_push(c, "app", "sha256:abc", w->img->layer.path, on_reg, w, &e), -1);
	err_free(e);
	e = NULL;
	assert_int_equal(regclient_blob_push(c, "app", w->img->layer.digest, "/nonexistent", on_reg, w, &e),
			 -1);
	assert_int_equal(e->kind, ERR_SYS);
	err_free(e);
	e = NULL;
	/* Freeing the client cancels what runs: the callback says so. */
	n = w->answers;
	assert_int_equal(
		regclient_blob_push(c, "app", w->img->layer.digest, w->img->layer.path, on_reg, w, &e), 0);
	regclient_free(c);
	assert_int_equal(w->answers, n + 1);
	expect_kind(w, ERR_UNAVAILABLE, "cancelled");
	/* A wrong password: the token endpoint refuses it. */
	c = regclient_new(w->http, w->url, "AWS", "gantry1.forged.password", &e);
	push_blob(w, c, "app", &w->img->layer);
	expect_kind(w, ERR_ACCESS_DENIED, "401");
	regclient_free(c);
	/* No credentials at all. */
	c = regclient_new(w->http, w->url, NULL, NULL, &e);
	push_blob(w, c, "app", &w->img->layer);
	expect_kind(w, ERR_ACCESS_DENIED, "401");
	regclient_free(c);
	/* Nobody listening. */
	c = regclient_new(w->http, "http://127.0.0.1:1/", "AWS", w->password, &e);
	push_blob(w, c, "app", &w->img->layer);
	expect_kind(w, ERR_UNAVAILABLE, "127.0.0.1:1");
	regclient_free(c);
	const char *bad[] = {"ftp://x", "http://", "http://a/b", "127.0.0.1:7700"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		assert_null(regclient_new(w->http, bad[i], NULL, NULL, &e));
		assert_int_equal(e->kind, ERR_INVALID_PARAM);
		err_free(e);
		e = NULL;
	}
}

static void get_blob(struct world *w, struct regclient *c, const char *digest, long long size,
		     const char *dest)
{
	struct err *e = NULL;
	int n = w->answers;
	assert_int_equal(regclient_blob_get(c, "app", digest, size, dest, on_reg, w, &e), 0);
	wait_for(w, n + 1);
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	struct buf b = BUF_INIT;
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_add(&b, chunk, n);
	fclose(f);
	return buf_detach(&b, len);
}

static void expect_same_file(const char *a, const char *b)
{
	size_t na, nb;
	char *pa = slurp(a, &na), *pb = slurp(b, &nb);
	assert_int_equal(na, nb);
	assert_memory_equal(pa, pb, na);
	free(pa);
	free(pb);
}

/* The entries of dir. */
static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	assert_non_null(d);
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d)))
		n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
	closedir(d);
	return n;
}

static void test_blob_get(void **state)
{
	struct world *w = *state;
	struct err *e = NULL;
	struct imgbuild_blob *layer = &w->img->layer, *config = &w->img->config;
	struct regclient *c = regclient_new(w->http, w->url, "AWS", w->password, &e);
	push_blob(w, c, "app", layer);
	push_blob(w, c, "app", config);
	char *dir = xasprintf("%s/dl", w->h.dir), *dest = xasprintf("%s/dl/layer", w->h.dir);
	assert_int_equal(mkdir(dir, 0700), 0);
	/* To a file, and into memory. */
	get_blob(w, c, layer->digest, layer->size, dest);
	expect_ok(w);
	expect_same_file(dest, layer->path);
	assert_int_equal(count_entries(dir), 1);
	assert_int_equal(unlink(dest), 0);
	get_blob(w, c, config->digest, config->size, NULL);
	expect_ok(w);
	assert_int_equal(w->body_len, strlen(w->img->config_json));
	assert_string_equal(w->body, w->img->config_json);
	/* A descriptor that says fewer bytes than the registry sends stops the transfer; one that
	 * says more fails at the end. Neither leaves a file. */
	get_blob(w, c, layer->digest, layer->size - 1, dest);
	expect_kind(w, ERR_INVALID_PARAM, "more than the");
	get_blob(w, c, layer->digest, layer->size + 1, dest);
	expect_kind(w, ERR_INVALID_PARAM, "descriptor says");
	get_blob(w, c, config->digest, config->size - 1, NULL);
	expect_kind(w, ERR_INVALID_PARAM, "more than the");
	/* A blob the repository does not have. */
	get_blob(w, c, "sha256:0000000000000000000000000000000000000000000000000000000000000000", 10, dest);
	expect_kind(w, ERR_LAYERS_NOT_FOUND, "BLOB_UNKNOWN");
	assert_int_equal(count_entries(dir), 0);
	/* Bytes changed on the registry's disk (same size) are refused. */
	char *stored =
		xasprintf("%s/registry/sha256/%.2s/%s", w->h.dir, layer->digest + 7, layer->digest + 7);
	size_t len;
	char *bytes = slurp(stored, &len);
	bytes[len / 2] ^= 0x55;
	FILE *f = fopen(stored, "wb");
	assert_int_equal(fwrite(bytes, 1, len, f), len);
	fclose(f);
	get_blob(w, c, layer->digest, layer->size, dest);
	expect_kind(w, ERR_INVALID_PARAM, "the bytes received hash to sha256:");
	assert_int_equal(count_entries(dir), 0);
	/* Refused before any request. */
	assert_int_equal(regclient_blob_get(c, "app", layer->digest, -1, dest, on_reg, w, &e), -1);
	err_free(e);
	e = NULL;
	assert_int_equal(regclient_blob_get(c, "app", layer->digest, 1, "/nonexistent/dir/x", on_reg, w, &e),
			 -1);
	assert_int_equal(e->kind, ERR_SYS);
	err_free(e);
	e = NULL;
	/* Cancelled by regclient_free: no file stays. */
	int n = w->answers;
	assert_int_equal(regclient_blob_get(c, "app", config->digest, config->size, dest, on_reg, w, &e), 0);
	regclient_free(c);
	assert_int_equal(w->answers, n + 1);
	expect_kind(w, ERR_UNAVAILABLE, "cancelled");
	assert_int_equal(count_entries(dir), 0);
	free(bytes);
	free(stored);
	free(dir);
	free(dest);
}

static void test_blob_redirects(void **state)
{
	struct world *w = *state;
	struct err *e = NULL;
	struct imgbuild_blob *layer = &w->img->layer, *config = &w->img->config;
	struct regclient *c = regclient_new(w->http, w->url, "AWS", w->password, &e);
	push_blob(w, c, "app", layer);
	push_blob(w, c, "app", config);
	char *dest = xasprintf("%s/layer", w->h.dir);
	/* To the registry itself (a relative Location): the Authorization goes along (without it the
	 * registry would refuse the redirected GET). */
	w->redirect = REDIR_SAME;
	get_blob(w, c, layer->digest, layer->size, dest);
	expect_ok(w);
	expect_same_file(dest, layer->path);
	assert_int_equal(w->redirects_served, 1);
	/* To another host: it gets no Authorization. */
	w->redirect = REDIR_CDN;
	get_blob(w, c, config->digest, config->size, NULL);
	expect_ok(w);
	assert_string_equal(w->body, w->img->config_json);
	assert_int_equal(w->cdn_hits, 1);
	assert_false(w->cdn_saw_auth);
	assert_int_equal(unlink(dest), 0);
	get_blob(w, c, layer->digest, layer->size, dest);
	expect_ok(w);
	expect_same_file(dest, layer->path);
	assert_int_equal(w->cdn_hits, 2);
	assert_false(w->cdn_saw_auth);
	/* A loop ends after REGCLIENT_REDIRECTS_MAX. */
	w->redirect = REDIR_LOOP;
	int before = w->redirects_served;
	get_blob(w, c, config->digest, config->size, NULL);
	expect_kind(w, ERR_CLIENT, "redirects");
	assert_int_equal(w->redirects_served - before, REGCLIENT_REDIRECTS_MAX + 1);
	regclient_free(c);
	free(dest);
}

static void test_set_credentials(void **state)
{
	struct world *w = *state;
	struct err *e = NULL;
	struct regclient *c = regclient_new(w->http, w->url, NULL, NULL, &e);
	push_blob(w, c, "app", &w->img->layer);
	expect_kind(w, ERR_ACCESS_DENIED, "401");
	regclient_set_credentials(c, "AWS", w->password);
	push_blob(w, c, "app", &w->img->layer);
	expect_ok(w);
	get_blob(w, c, w->img->layer.digest, w->img->layer.size, NULL);
	expect_ok(w);
	/* Back to anonymous: the cached token is gone with the old credentials. */
	regclient_set_credentials(c, NULL, NULL);
	get_blob(w, c, w->img->layer.digest, w->img->layer.size, NULL);
	expect_kind(w, ERR_ACCESS_DENIED, "401");
	regclient_free(c);
}

static void challenge_ok(const char *h, const char *scheme, const char *realm, const char *service)
{
	char *s, *r, *v;
	assert_int_equal(regclient_parse_challenge(h, &s, &r, &v), 0);
	assert_string_equal(s, scheme);
	if (realm)
		assert_string_equal(r, realm);
	else
		assert_null(r);
	if (service)
		assert_string_equal(v, service);
	else
		assert_null(v);
	free(s);
	free(r);
	free(v);
}

static void challenge_bad(const char *h)
{
	char *s, *r, *v;
	assert_int_equal(regclient_parse_challenge(h, &s, &r, &v), -1);
	assert_null(s);
	assert_null(r);
	assert_null(v);
}

static void test_challenges(void **state)
{
	(void)state;
	challenge_ok("Bearer realm=\"http://h:1/v2/token\",service=\"gantry\"", "Bearer",
		     "http://h:1/v2/token", "gantry");
	challenge_ok(
		"Bearer "
		"realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\",scope=\"repository:"
		"library/busybox:pull\"",
		"Bearer", "https://auth.docker.io/token", "registry.docker.io");
	challenge_ok("Basic realm=\"gantry\"", "Basic", "gantry", NULL);
	challenge_ok("Basic", "Basic", NULL, NULL);
	challenge_ok("  Bearer  Realm=x , SERVICE=\"a\\\"b\" ", "Bearer", "x", "a\"b");
	challenge_bad("");
	challenge_bad("Bearer realm");
	challenge_bad("Bearer realm=\"unterminated");
	challenge_bad("Bearer =x");
	char *long_one = xmalloc(REGCLIENT_CHALLENGE_MAX + 16);
	memset(long_one, 'a', REGCLIENT_CHALLENGE_MAX + 15);
	long_one[REGCLIENT_CHALLENGE_MAX + 15] = '\0';
	challenge_bad(long_one);
	free(long_one);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_push_and_pull, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_blob_get, setup, teardown),
		cmocka_unit_test_setup_teardown(test_blob_redirects, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_credentials, setup, teardown),
		cmocka_unit_test(test_challenges),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
