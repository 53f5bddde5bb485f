/* Unit tests for the agent's image store (agent/image.h) against a real in-process server (hsrv +
 * api + the registry + store on one loop), with images pushed by regclient: pulls by tag and by
 * digest with the ECR password got for gantry's registry, a layer two images share unpacked once,
 * concurrent pulls sharing one download per blob, a blob changed on the registry's disk and a
 * config that lies about diff_ids refused with nothing left behind, ECS-style messages for missing
 * tags and repositories, an index resolved to linux/amd64, a restarted store reusing what it
 * pulled without the network and cleaning what a crash left, the pull policies, and the
 * collection of unused images. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <ftw.h>
#include <openssl/evp.h>
#include <sys/stat.h>

#include "agent/image.h"
#include "api/awsc.h"
#include "common/enc.h"
#include "common/hcli.h"
#include "common/jv.h"
#include "harness.h"
#include "registry/imgbuild.h"
#include "registry/manifest.h"
#include "registry/regclient.h"
#include "registry/registry.h"

/* A blob the test made itself (the two-layer image's config, manifests, indexes). */
struct blob {
	char digest[72];
	long long size;
	char *path;
	char *text;
};

struct world {
	uv_loop_t loop;
	struct harness h;
	struct reg *reg;
	struct hsrv *srv;
	struct hcli *http;
	struct awsc *aws;
	struct regclient *push;
	char url[64];
	char host[64]; /* "127.0.0.1:PORT": the registry in references */
	char *password;
	struct imgbuild_image *one, *two, *three, *arm; /* "hello"; "world"; "tamper"; "world" for arm64 */
	struct blob two_config, two_manifest;		/* [one's layer, two's layer] */
	char *store_dir;
	struct image_store *store;
	struct image_store_opts opts;
	int answers;
	/* the last answer */
	char *aws_body;
	enum err_kind kind; /* ERR_KIND_COUNT for success */
	char msg[2048];
	const struct image *img;
	bool closed;
};

/* ---- the server and pushing ---- */

static void on_aws(void *arg, const struct awsc_result *r)
{
	struct world *w = arg;
	w->answers++;
	free(w->aws_body);
	w->aws_body = r->out ? jv_dump(r->out) : NULL;
}

static void on_reg(void *arg, const struct regclient_result *r)
{
	struct world *w = arg;
	w->answers++;
	w->kind = r->err ? r->err->kind : ERR_KIND_COUNT;
	snprintf(w->msg, sizeof(w->msg), "%s", r->err ? r->err->msg : "");
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

static void expect_ok(struct world *w)
{
	if (w->kind != ERR_KIND_COUNT) {
		print_error("unexpected error %s: %s\n", err_kind_name(w->kind), w->msg);
		fail();
	}
}

static void push_blob(struct world *w, const char *digest, const char *path)
{
	struct err *e = NULL;
	int n = w->answers;
	assert_int_equal(regclient_blob_push(w->push, "app", digest, path, on_reg, w, &e), 0);
	wait_for(w, n + 1);
	expect_ok(w);
}

static void push_manifest(struct world *w, const char *ref, const char *media_type, const char *text)
{
	struct err *e = NULL;
	int n = w->answers;
	assert_int_equal(
		regclient_manifest_put(w->push, "app", ref, media_type, text, strlen(text), on_reg, w, &e),
		0);
	wait_for(w, n + 1);
	expect_ok(w);
}

static void push_image(struct world *w, const struct imgbuild_image *img, const char *tag)
{
	push_blob(w, img->layer.digest, img->layer.path);
	push_blob(w, img->config.digest, img->config.path);
	push_manifest(w, tag ? tag : img->manifest.digest, REG_MT_OCI_MANIFEST, img->manifest_json);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* Makes a blob of text under the test's directory. */
static void make_blob(struct world *w, struct blob *b, char *text)
{
	unsigned char h[32];
	unsigned hn = 0;
	EVP_Digest(text, strlen(text), h, &hn, EVP_sha256(), NULL);
	memcpy(b->digest, "sha256:", 7);
	enc_hex(h, 32, b->digest + 7);
	b->size = (long long)strlen(text);
	b->text = text;
	b->path = xasprintf("%s/%s", w->h.dir, b->digest + 7);
	write_file(b->path, text);
}

static void blob_release(struct blob *b)
{
	free(b->path);
	free(b->text);
}

static struct imgbuild_image *build(struct world *w, const char *name, const char *file, const char *arch)
{
	struct err *e = NULL;
	char *root = xasprintf("%s/root-%s", w->h.dir, name);
	char *path = xasprintf("%s/%s", root, file);
	char *out = xasprintf("%s/img-%s", w->h.dir, name);
	const char *env[] = {"PATH=/bin", "NAME=value"};
	mkdir(root, 0755);
	write_file(path, file);
	struct imgbuild_opts o = {.source = root, .env = env, .nenv = 2, .arch = arch};
	struct imgbuild_image *img = imgbuild_build(&o, out, &e);
	if (!img)
		print_error("%s\n", e->msg);
	assert_non_null(img);
	free(root);
	free(path);
	free(out);
	return img;
}

/* An image of the given layers (lowest first) with a config of its own that lists diffs. */
static void make_image(struct world *w, const struct imgbuild_blob *const *layers, const char *const *diffs,
		       size_t n, struct blob *config, struct blob *manifest)
{
	json_t *d = json_array(), *ls = json_array();
	for (size_t i = 0; i < n; i++) {
		json_array_append_new(d, json_string(diffs[i]));
		json_array_append_new(ls,
				      json_pack("{s:s,s:s,s:I}", "mediaType", REG_MT_OCI_LAYER_GZIP, "digest",
						layers[i]->digest, "size", (json_int_t)layers[i]->size));
	}
	json_t *c = json_pack("{s:s,s:s,s:{s:[s],s:[s],s:s},s:{s:s,s:o}}", "architecture", "amd64", "os",
			      "linux", "config", "Env", "PATH=/bin", "Cmd", "/bin/sh", "WorkingDir", "/srv",
			      "rootfs", "type", "layers", "diff_ids", d);
	make_blob(w, config, jv_dump(c));
	json_decref(c);
	json_t *m = json_pack("{s:i,s:s,s:{s:s,s:s,s:I},s:o}", "schemaVersion", 2, "mediaType",
			      REG_MT_OCI_MANIFEST, "config", "mediaType", REG_MT_OCI_CONFIG, "digest",
			      config->digest, "size", (json_int_t)config->size, "layers", ls);
	make_blob(w, manifest, jv_dump(m));
	json_decref(m);
}

/* The two-layer image: one's layer under two's, with diff_ids diff0 and diff1. */
static void make_two_layers(struct world *w, const char *diff0, const char *diff1, struct blob *config,
			    struct blob *manifest)
{
	const struct imgbuild_blob *layers[] = {&w->one->layer, &w->two->layer};
	const char *diffs[] = {diff0, diff1};
	make_image(w, layers, diffs, 2, config, manifest);
}

static int setup(void **state)
{
	struct world *w = xcalloc(1, sizeof(*w));
	struct err *e = NULL;
	assert_int_equal(uv_loop_init(&w->loop), 0);
	snprintf(w->h.dir, sizeof(w->h.dir), "/tmp/gantry-image.XXXXXX");
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
	hsrv_set_stream_handler(w->srv, reg_http, w->reg);
	snprintf(w->url, sizeof(w->url), "http://127.0.0.1:%d", hsrv_port(w->srv));
	snprintf(w->host, sizeof(w->host), "127.0.0.1:%d", hsrv_port(w->srv));
	w->http = hcli_new(&w->loop);
	w->aws = awsc_new(w->http, w->url, H_KEY_A, H_SECRET_A, "us-east-1", &e);
	assert_non_null(w->aws);
	aws_call(w, "CreateRepository", "{\"repositoryName\": \"app\"}");
	assert_non_null(w->aws_body);
	aws_call(w, "GetAuthorizationToken", "{}");
	json_t *j = json_loads(w->aws_body, 0, NULL);
	const char *tok = json_string_value(json_object_get(
		json_array_get(json_object_get(j, "authorizationData"), 0), "authorizationToken"));
	size_t n;
	char *raw = enc_b64_decode(tok, strlen(tok), &n);
	w->password = xstrdup(raw + 4);
	free(raw);
	json_decref(j);
	w->push = regclient_new(w->http, w->url, "AWS", w->password, &e);
	w->one = build(w, "one", "hello", NULL);
	w->two = build(w, "two", "world", NULL);
	w->arm = build(w, "arm", "world", "arm64");
	w->three = build(w, "three", "tamper", NULL);
	make_two_layers(w, w->one->diff_id, w->two->diff_id, &w->two_config, &w->two_manifest);
	push_image(w, w->one, "one");
	push_blob(w, w->two->layer.digest, w->two->layer.path);
	push_blob(w, w->two_config.digest, w->two_config.path);
	push_manifest(w, "two", REG_MT_OCI_MANIFEST, w->two_manifest.text);
	w->store_dir = xasprintf("%s/agent-images", w->h.dir);
	w->opts = (struct image_store_opts){
		.server = w->url,
		.aws = w->aws,
		.arch = "amd64",
		.retries = -1,
		.gc_interval_s = -1,
	};
	w->store = image_store_new(&w->loop, w->http, w->store_dir, &w->opts, &e);
	assert_non_null(w->store);
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

static void on_closed(void *arg)
{
	struct world *w = arg;
	w->closed = true;
}

/* Closes the store and waits until it is gone. */
static void close_store(struct world *w)
{
	w->closed = false;
	image_store_close(w->store, on_closed, w);
	w->store = NULL;
	while (!w->closed)
		uv_run(&w->loop, UV_RUN_ONCE);
}

static void open_store(struct world *w)
{
	struct err *e = NULL;
	w->store = image_store_new(&w->loop, w->http, w->store_dir, &w->opts, &e);
	if (!w->store)
		print_error("%s\n", e->msg);
	assert_non_null(w->store);
}

static int teardown(void **state)
{
	struct world *w = *state;
	if (w->store)
		close_store(w);
	regclient_free(w->push);
	awsc_free(w->aws);
	hcli_free(w->http);
	reg_set_stopping(w->reg);
	hsrv_stop(w->srv);
	store_flush(w->h.store, NULL);
	store_close(w->h.store);
	uv_run(&w->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&w->loop), 0);
	api_free(w->h.api);
	reg_free(w->reg);
	creds_free(w->h.creds);
	nftw(w->h.dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	imgbuild_image_free(w->one);
	imgbuild_image_free(w->two);
	imgbuild_image_free(w->three);
	imgbuild_image_free(w->arm);
	blob_release(&w->two_config);
	blob_release(&w->two_manifest);
	free(w->store_dir);
	free(w->password);
	free(w->aws_body);
	free(w);
	return 0;
}

/* ---- pulling ---- */

static void on_pull(void *arg, const struct image *img, const struct err *e)
{
	struct world *w = arg;
	w->answers++;
	w->img = img;
	w->kind = e ? e->kind : ERR_KIND_COUNT;
	snprintf(w->msg, sizeof(w->msg), "%s", e ? e->msg : "");
}

/* Pulls REGISTRY/app:<tag> (or @<digest> when tag starts with "sha256:"), waits for the answer. */
static const struct image *pull(struct world *w, const char *tag)
{
	struct err *e = NULL;
	char *ref = xasprintf("%s/app%s%s", w->host, strncmp(tag, "sha256:", 7) == 0 ? "@" : ":", tag);
	int n = w->answers;
	struct image_pull *p = image_pull(w->store, ref, on_pull, w, &e);
	if (!p)
		print_error("%s\n", e->msg);
	assert_non_null(p);
	/* Never answered from inside image_pull. */
	assert_int_equal(w->answers, n);
	wait_for(w, n + 1);
	free(ref);
	return w->img;
}

static void expect_error(struct world *w, enum err_kind kind, const char *want)
{
	if (w->kind != kind || !strstr(w->msg, want)) {
		print_error("got %s \"%s\", want %s containing \"%s\"\n",
			    w->kind == ERR_KIND_COUNT ? "success" : err_kind_name(w->kind), w->msg,
			    err_kind_name(kind), want);
		fail();
	}
}

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	char buf[4096];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return xstrdup(buf);
}

static void expect_file(const char *dir, const char *name, const char *text)
{
	char *p = xasprintf("%s/%s", dir, name);
	char *got = read_text(p);
	if (!got || strcmp(got, text) != 0) {
		print_error("%s: got \"%s\", want \"%s\"\n", p, got ? got : "(missing)", text);
		fail();
	}
	free(got);
	free(p);
}

static bool exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

/* The entries of the store's subdirectory sub. */
static int entries(struct world *w, const char *sub)
{
	char *p = xasprintf("%s/%s", w->store_dir, sub);
	DIR *d = opendir(p);
	assert_non_null(d);
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d)))
		n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
	closedir(d);
	free(p);
	return n;
}

static ino_t inode_of(const char *path)
{
	struct stat st;
	assert_int_equal(lstat(path, &st), 0);
	return st.st_ino;
}

static bool has_env(const struct image *img, const char *kv)
{
	for (size_t i = 0; i < img->config->nenv; i++)
		if (strcmp(img->config->env[i], kv) == 0)
			return true;
	return false;
}

/* ---- tests ---- */

static void test_pull_and_share(void **state)
{
	struct world *w = *state;
	const struct image *one = pull(w, "one");
	expect_ok(w);
	assert_string_equal(one->digest, w->one->manifest.digest);
	assert_string_equal(one->config_digest, w->one->config.digest);
	assert_int_equal(one->nlayers, 1);
	assert_string_equal(one->layer_digests[0], w->one->layer.digest);
	expect_file(one->layers[0], "hello", "hello");
	assert_true(has_env(one, "NAME=value"));
	assert_string_equal(one->config->architecture, "amd64");
	assert_non_null(json_object_get(json_object_get(one->config->doc, "config"), "Env"));
	struct image_stats st = image_store_stats(w->store);
	assert_int_equal(st.token_gets, 1); /* the ECR password, with the agent's credentials */
	assert_int_equal(st.manifest_gets, 1);
	assert_int_equal(st.blob_gets, 2);
	assert_int_equal(st.unpacked, 1);
	ino_t shared = inode_of(one->layers[0]);
	char *shared_path = xstrdup(one->layers[0]);
	/* The two-layer image: one's layer is there already, only two's is pulled. */
	const struct image *two = pull(w, "two");
	expect_ok(w);
	assert_string_equal(two->digest, w->two_manifest.digest);
	assert_int_equal(two->nlayers, 2);
	assert_string_equal(two->layers[0], shared_path);
	assert_int_equal(inode_of(two->layers[0]), shared);
	expect_file(two->layers[0], "hello", "hello");
	expect_file(two->layers[1], "world", "world");
	char *not_there = xasprintf("%s/hello", two->layers[1]);
	assert_false(exists(not_there)); /* each layer holds its own files only */
	free(not_there);
	assert_string_equal(two->config->working_dir, "/srv");
	st = image_store_stats(w->store);
	assert_int_equal(st.manifest_gets, 2);
	assert_int_equal(st.blob_gets, 4); /* two's config and layer */
	assert_int_equal(st.unpacked, 2);
	assert_int_equal(st.token_gets, 1); /* the password is kept */
	/* By digest: the stored image, without asking. */
	const struct image *again = pull(w, w->two_manifest.digest);
	expect_ok(w);
	assert_ptr_equal(again, two);
	assert_int_equal(image_store_stats(w->store).manifest_gets, 2);
	/* By tag again: the registry is asked (the tag may have moved), nothing is downloaded. */
	const struct image *one_again = pull(w, "one");
	expect_ok(w);
	assert_ptr_equal(one_again, one);
	st = image_store_stats(w->store);
	assert_int_equal(st.manifest_gets, 3);
	assert_int_equal(st.blob_gets, 4);
	assert_ptr_equal(image_find(w->store, "127.0.0.1:1/nope"), NULL);
	char *ref = xasprintf("%s/app:two", w->host);
	assert_ptr_equal(image_find(w->store, ref), two);
	free(ref);
	/* On disk: two records, their configs and manifests, two layers, nothing half done. */
	assert_int_equal(entries(w, "images"), 2);
	assert_int_equal(entries(w, "blobs/sha256"), 4);
	assert_int_equal(entries(w, "layers/sha256"), 2);
	assert_int_equal(entries(w, "tmp"), 0);
	char *meta = xasprintf("%s/layer.json", two->layers[1]);
	meta[strlen(meta) - strlen("/fs/layer.json")] = '\0';
	char *json = xasprintf("%s/layer.json", meta);
	char *text = read_text(json);
	assert_non_null(strstr(text, w->two->diff_id));
	free(text);
	free(json);
	free(meta);
	image_unuse(w->store, one);
	image_unuse(w->store, one_again);
	image_unuse(w->store, two);
	image_unuse(w->store, again);
	free(shared_path);
}

struct counter {
	struct world *w;
	const struct image *img;
	int ok, failed, cancelled;
};

static void on_count(void *arg, const struct image *img, const struct err *e)
{
	struct counter *c = arg;
	c->w->answers++;
	if (img) {
		assert_true(c->img == NULL || c->img == img);
		c->img = img;
		c->ok++;
	} else if (strcmp(e->msg, "cancelled") == 0) {
		c->cancelled++;
	} else {
		print_error("%s\n", e->msg);
		c->failed++;
	}
}

static void test_concurrent(void **state)
{
	struct world *w = *state;
	struct err *e = NULL;
	struct counter c = {.w = w};
	char *tag = xasprintf("%s/app:two", w->host);
	char *digest = xasprintf("%s/app@%s", w->host, w->two_manifest.digest);
	const char *refs[] = {tag, tag, digest, tag, digest};
	struct image_pull *p[5];
	int n = w->answers;
	for (int i = 0; i < 5; i++) {
		p[i] = image_pull(w->store, refs[i], on_count, &c, &e);
		assert_non_null(p[i]);
	}
	/* Giving up on one answers it at once; the others go on. */
	image_pull_cancel(p[3]);
	assert_int_equal(c.cancelled, 1);
	wait_for(w, n + 5);
	assert_int_equal(c.ok, 4);
	assert_int_equal(c.failed, 0);
	struct image_stats st = image_store_stats(w->store);
	assert_int_equal(st.manifest_gets, 2); /* one per reference */
	assert_int_equal(st.blob_gets, 3);     /* the config and two layers, once each */
	assert_int_equal(st.unpacked, 2);
	assert_int_equal(st.token_gets, 1);
	for (int i = 0; i < 4; i++)
		image_unuse(w->store, c.img);
	/* Two images sharing a layer pulled at once: it is downloaded and unpacked once. */
	close_store(w);
	nftw(w->store_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	open_store(w);
	struct counter c2 = {.w = w}, c3 = {.w = w};
	char *one = xasprintf("%s/app:one", w->host);
	n = w->answers;
	assert_non_null(image_pull(w->store, tag, on_count, &c2, &e));
	assert_non_null(image_pull(w->store, one, on_count, &c3, &e));
	wait_for(w, n + 2);
	assert_int_equal(c2.ok + c3.ok, 2);
	st = image_store_stats(w->store);
	assert_int_equal(st.blob_gets, 4); /* two configs, two layers */
	assert_int_equal(st.unpacked, 2);
	assert_string_equal(c2.img->layers[0], c3.img->layers[0]);
	image_unuse(w->store, c2.img);
	image_unuse(w->store, c3.img);
	/* One download at a time: the layers queue, and all of them arrive. */
	close_store(w);
	nftw(w->store_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	w->opts.downloads = 1;
	open_store(w);
	push_image(w, w->three, "three");
	char *three = xasprintf("%s/app:three", w->host);
	struct counter c4 = {.w = w}, c5 = {.w = w}, c6 = {.w = w};
	n = w->answers;
	assert_non_null(image_pull(w->store, tag, on_count, &c4, &e));
	assert_non_null(image_pull(w->store, one, on_count, &c5, &e));
	assert_non_null(image_pull(w->store, three, on_count, &c6, &e));
	wait_for(w, n + 3);
	assert_int_equal(c4.ok + c5.ok + c6.ok, 3);
	st = image_store_stats(w->store);
	assert_int_equal(st.unpacked, 3);
	assert_int_equal(st.blob_gets, 6);
	expect_file(c6.img->layers[0], "tamper", "tamper");
	image_unuse(w->store, c4.img);
	image_unuse(w->store, c5.img);
	image_unuse(w->store, c6.img);
	free(three);
	free(one);
	free(tag);
	free(digest);
}

static void test_missing(void **state)
{
	struct world *w = *state;
	struct err *e = NULL;
	pull(w, "nope");
	char *want = xasprintf("pull image manifest has been retried 1 time(s): failed to resolve ref "
			       "%s/app:nope: %s/app:nope: not found",
			       w->host, w->host);
	expect_error(w, ERR_IMAGE_NOT_FOUND, want);
	assert_string_equal(w->msg, want);
	free(want);
	/* A repository that does not exist. */
	char *ref = xasprintf("%s/nope", w->host);
	int n = w->answers;
	assert_non_null(image_pull(w->store, ref, on_pull, w, &e));
	wait_for(w, n + 1);
	want = xasprintf("pull image manifest has been retried 1 time(s): failed to resolve ref "
			 "%s/nope:latest: %s/nope:latest: not found",
			 w->host, w->host);
	expect_error(w, ERR_REPO_NOT_FOUND, want);
	free(want);
	free(ref);
	/* A digest the repository does not have. */
	pull(w, "sha256:1111111111111111111111111111111111111111111111111111111111111111");
	expect_error(w, ERR_IMAGE_NOT_FOUND, "not found");
	/* A registry nobody listens on: the transport's error, after the retries asked for. */
	n = w->answers;
	assert_non_null(image_pull(w->store, "127.0.0.1:1/app:v1", on_pull, w, &e));
	wait_for(w, n + 1);
	expect_error(w, ERR_UNAVAILABLE,
		     "pull image manifest has been retried 1 time(s): failed to resolve ref "
		     "127.0.0.1:1/app:v1: GET");
	/* References that cannot be read are refused at once. */
	assert_null(image_pull(w->store, "Bad Ref!", on_pull, w, &e));
	assert_int_equal(e->kind, ERR_INVALID_PARAM);
	assert_non_null(strstr(e->msg, "invalid reference format"));
	err_free(e);
	e = NULL;
	assert_int_equal(entries(w, "images"), 0);
	assert_int_equal(entries(w, "layers/sha256"), 0);
	/* Without the agent's credentials gantry's registry is tried anonymously, and refuses. */
	close_store(w);
	w->opts.aws = NULL;
	open_store(w);
	pull(w, "one");
	want = xasprintf(
		"pull image manifest has been retried 1 time(s): failed to resolve ref %s/app:one: pull "
		"access denied, repository does not exist or may require authorization: ",
		w->host);
	expect_error(w, ERR_ACCESS_DENIED, want);
	free(want);
	assert_int_equal(image_store_stats(w->store).token_gets, 0);
}

static void test_retries(void **state)
{
	struct world *w = *state;
	struct err *e = NULL;
	close_store(w);
	w->opts.retries = 2;
	w->opts.retry_delay_ms = 1;
	open_store(w);
	int n = w->answers;
	assert_non_null(image_pull(w->store, "127.0.0.1:1/app:v1", on_pull, w, &e));
	wait_for(w, n + 1);
	expect_error(
		w, ERR_UNAVAILABLE,
		"pull image manifest has been retried 3 time(s): failed to resolve ref 127.0.0.1:1/app:v1");
	/* A missing tag is not worth asking again. */
	pull(w, "nope");
	expect_error(w, ERR_IMAGE_NOT_FOUND, "retried 1 time(s)");
}

static void test_tampered(void **state)
{
	struct world *w = *state;
	push_image(w, w->three, "three");
	/* The layer's bytes change on the registry's disk (same size). */
	const char *hex = w->three->layer.digest + 7;
	char *stored = xasprintf("%s/registry/sha256/%.2s/%s", w->h.dir, hex, hex);
	FILE *f = fopen(stored, "r+b");
	assert_non_null(f);
	fseek(f, w->three->layer.size / 2, SEEK_SET);
	int ch = fgetc(f);
	fseek(f, w->three->layer.size / 2, SEEK_SET);
	fputc(ch ^ 0x55, f);
	fclose(f);
	free(stored);
	pull(w, "three");
	char *want = xasprintf(
		"failed to pull and unpack image %s/app:three: failed to copy: layer %s: blob %s: the "
		"bytes received hash to sha256:",
		w->host, w->three->layer.digest, w->three->layer.digest);
	expect_error(w, ERR_INVALID_PARAM, want);
	free(want);
	assert_int_equal(entries(w, "images"), 0);
	assert_int_equal(entries(w, "blobs/sha256"), 0);
	assert_int_equal(entries(w, "layers/sha256"), 0);
	assert_int_equal(entries(w, "tmp"), 0);
	/* A config whose diff_ids are not the layers': the layers are unpacked, found wrong, and go. */
	struct blob config = {0}, manifest = {0};
	make_two_layers(w, w->two->diff_id, w->one->diff_id, &config, &manifest);
	push_blob(w, config.digest, config.path);
	push_manifest(w, "liar", REG_MT_OCI_MANIFEST, manifest.text);
	pull(w, "liar");
	want = xasprintf(
		"failed to pull and unpack image %s/app:liar: layer %s: its diff_id is %s, the image "
		"config says rootfs.diff_ids[0] is %s",
		w->host, w->one->layer.digest, w->one->diff_id, w->two->diff_id);
	expect_error(w, ERR_INVALID_PARAM, want);
	free(want);
	assert_int_equal(entries(w, "images"), 0);
	assert_int_equal(entries(w, "blobs/sha256"), 0);
	assert_int_equal(entries(w, "layers/sha256"), 0);
	/* One download at a time: the bad layer first, a good one queued behind it. The queued one
	 * is given up when the pull fails. */
	close_store(w);
	w->opts.downloads = 1;
	open_store(w);
	struct blob config2 = {0}, manifest2 = {0};
	const struct imgbuild_blob *layers[] = {&w->three->layer, &w->two->layer};
	const char *diffs[] = {w->three->diff_id, w->two->diff_id};
	make_image(w, layers, diffs, 2, &config2, &manifest2);
	push_blob(w, config2.digest, config2.path);
	push_manifest(w, "bad-first", REG_MT_OCI_MANIFEST, manifest2.text);
	pull(w, "bad-first");
	expect_error(w, ERR_INVALID_PARAM, "the bytes received hash to");
	assert_int_equal(image_store_stats(w->store).blob_gets, 2); /* the config, the bad layer */
	assert_int_equal(entries(w, "layers/sha256"), 0);
	assert_int_equal(entries(w, "blobs/sha256"), 0);
	/* The honest image still pulls. */
	const struct image *two = pull(w, "two");
	expect_ok(w);
	assert_int_equal(entries(w, "layers/sha256"), 2);
	image_unuse(w->store, two);
	blob_release(&config);
	blob_release(&manifest);
	blob_release(&config2);
	blob_release(&manifest2);
}

static void test_index(void **state)
{
	struct world *w = *state;
	/* An index listing arm64 first, then amd64 (one's manifest). */
	push_image(w, w->arm, NULL);
	json_t *ix = json_pack("{s:i,s:s,s:[{s:s,s:s,s:I,s:{s:s,s:s,s:s}},{s:s,s:s,s:I,s:{s:s,s:s}}]}",
			       "schemaVersion", 2, "mediaType", REG_MT_OCI_INDEX, "manifests", "mediaType",
			       REG_MT_OCI_MANIFEST, "digest", w->arm->manifest.digest, "size",
			       (json_int_t)w->arm->manifest.size, "platform", "architecture", "arm64", "os",
			       "linux", "variant", "v8", "mediaType", REG_MT_OCI_MANIFEST, "digest",
			       w->one->manifest.digest, "size", (json_int_t)w->one->manifest.size, "platform",
			       "architecture", "amd64", "os", "linux");
	char *text = jv_dump(ix);
	json_decref(ix);
	push_manifest(w, "multi", REG_MT_OCI_INDEX, text);
	free(text);
	const struct image *img = pull(w, "multi");
	expect_ok(w);
	assert_string_equal(img->digest, w->one->manifest.digest);
	assert_string_equal(img->config->architecture, "amd64");
	expect_file(img->layers[0], "hello", "hello");
	assert_int_equal(image_store_stats(w->store).manifest_gets, 2); /* the index, then amd64's */
	image_unuse(w->store, img);
	/* An index without linux/amd64. */
	ix = json_pack("{s:i,s:s,s:[{s:s,s:s,s:I,s:{s:s,s:s}}]}", "schemaVersion", 2, "mediaType",
		       REG_MT_DOCKER_LIST, "manifests", "mediaType", REG_MT_OCI_MANIFEST, "digest",
		       w->arm->manifest.digest, "size", (json_int_t)w->arm->manifest.size, "platform",
		       "architecture", "arm64", "os", "linux");
	text = jv_dump(ix);
	json_decref(ix);
	push_manifest(w, "armonly", REG_MT_DOCKER_LIST, text);
	free(text);
	pull(w, "armonly");
	char *want = xasprintf(
		"failed to resolve ref %s/app:armonly: no match for platform linux/amd64 in index", w->host);
	expect_error(w, ERR_IMAGE_NOT_FOUND, want);
	free(want);
	/* A store for arm64 picks the other manifest from the same index. */
	close_store(w);
	w->opts.arch = "arm64";
	open_store(w);
	img = pull(w, "multi");
	expect_ok(w);
	assert_string_equal(img->digest, w->arm->manifest.digest);
	assert_string_equal(img->config->architecture, "arm64");
	image_unuse(w->store, img);
}

static void test_restart(void **state)
{
	struct world *w = *state;
	const struct image *one = pull(w, "one");
	expect_ok(w);
	char *one_layer = xstrdup(one->layers[0]);
	image_unuse(w->store, one);
	const struct image *two = pull(w, "two");
	expect_ok(w);
	char *two_layer = xstrdup(two->layers[1]);
	image_unuse(w->store, two);
	close_store(w);
	/* What a crash leaves: an unpack under tmp, a layer no image has, a half-downloaded blob, a
	 * record whose layer is gone. */
	char *junk_tmp = xasprintf("%s/tmp/abc-123", w->store_dir);
	char *junk_layer = xasprintf("%s/layers/sha256/%064d", w->store_dir, 7);
	char *junk_fs = xasprintf("%s/fs", junk_layer);
	char *junk_blob = xasprintf("%s/blobs/sha256/%064d.Xy12Ab", w->store_dir, 9);
	char *junk_rec = xasprintf("%s/images/%064d.json", w->store_dir, 5);
	assert_int_equal(mkdir(junk_tmp, 0700), 0);
	assert_int_equal(mkdir(junk_layer, 0700), 0);
	assert_int_equal(mkdir(junk_fs, 0700), 0);
	write_file(junk_blob, "partial");
	char *rec = xasprintf("{\"digest\":\"sha256:%064d\",\"mediaType\":\"x\",\"config\":\"%s\",\"layers\":"
			      "[\"sha256:%064d\"]}",
			      5, w->one->config.digest, 3);
	write_file(junk_rec, rec);
	free(rec);
	/* Reopened with the registry unused: prefer-cached takes what is stored. */
	w->opts.policy = IMAGE_PULL_PREFER_CACHED;
	open_store(w);
	assert_false(exists(junk_tmp));
	assert_false(exists(junk_layer));
	assert_false(exists(junk_blob));
	assert_false(exists(junk_rec));
	one = pull(w, "one");
	expect_ok(w);
	assert_string_equal(one->layers[0], one_layer);
	two = pull(w, "two");
	expect_ok(w);
	assert_string_equal(two->layers[1], two_layer);
	expect_file(two->layers[1], "world", "world");
	assert_string_equal(two->config->working_dir, "/srv");
	struct image_stats st = image_store_stats(w->store);
	assert_int_equal(st.manifest_gets, 0);
	assert_int_equal(st.blob_gets, 0);
	assert_int_equal(st.token_gets, 0);
	image_unuse(w->store, one);
	image_unuse(w->store, two);
	/* The default policy asks, and uses what it has when the registry no longer has the tag. */
	close_store(w);
	w->opts.policy = IMAGE_PULL_DEFAULT;
	open_store(w);
	aws_call(w, "BatchDeleteImage",
		 "{\"repositoryName\": \"app\", \"imageIds\": [{\"imageTag\": \"one\"}]}");
	one = pull(w, "one");
	expect_ok(w);
	assert_string_equal(one->layers[0], one_layer);
	assert_int_equal(image_store_stats(w->store).manifest_gets, 1);
	image_unuse(w->store, one);
	/* ... which always does not. */
	close_store(w);
	w->opts.policy = IMAGE_PULL_ALWAYS;
	open_store(w);
	pull(w, "one");
	expect_error(w, ERR_IMAGE_NOT_FOUND, "not found");
	free(junk_tmp);
	free(junk_layer);
	free(junk_fs);
	free(junk_blob);
	free(junk_rec);
	free(one_layer);
	free(two_layer);
}

static void test_gc(void **state)
{
	struct world *w = *state;
	const struct image *one = pull(w, "one"); /* held: a task runs it */
	expect_ok(w);
	const struct image *two = pull(w, "two");
	expect_ok(w);
	char *shared = xstrdup(two->layers[0]);
	char *own = xstrdup(two->layers[1]);
	image_unuse(w->store, two);
	/* Not unused for long enough yet. */
	assert_int_equal(image_gc(w->store, 3600), 0);
	assert_true(exists(own));
	/* two goes with its own layer; one's layer, which two shared, stays. */
	assert_int_equal(image_gc(w->store, 0), 1);
	assert_false(exists(own));
	assert_true(exists(shared));
	expect_file(shared, "hello", "hello");
	char *ref = xasprintf("%s/app:two", w->host);
	assert_null(image_find(w->store, ref));
	free(ref);
	assert_int_equal(entries(w, "images"), 1);
	assert_int_equal(entries(w, "blobs/sha256"), 2);
	assert_int_equal(entries(w, "layers/sha256"), 1);
	struct image_stats st = image_store_stats(w->store);
	assert_int_equal(st.removed_images, 1);
	assert_int_equal(st.removed_layers, 1);
	/* Pulled again, it comes back (only its own layer is downloaded). */
	two = pull(w, "two");
	expect_ok(w);
	assert_true(exists(own));
	assert_int_equal(image_store_stats(w->store).unpacked, 3);
	image_unuse(w->store, two);
	/* Once nothing uses either, both go, and every layer. */
	image_unuse(w->store, one);
	assert_int_equal(image_gc(w->store, 0), 2);
	assert_false(exists(shared));
	assert_int_equal(entries(w, "images"), 0);
	assert_int_equal(entries(w, "blobs/sha256"), 0);
	assert_int_equal(entries(w, "layers/sha256"), 0);
	/* The trash empties on the thread pool. */
	for (int i = 0; i < 1000 && entries(w, "trash") > 0; i++)
		uv_run(&w->loop, UV_RUN_NOWAIT), usleep(1000);
	assert_int_equal(entries(w, "trash"), 0);
	/* A closed store cancels what waits. */
	struct err *e = NULL;
	ref = xasprintf("%s/app:one", w->host);
	int n = w->answers;
	assert_non_null(image_pull(w->store, ref, on_pull, w, &e));
	close_store(w);
	assert_int_equal(w->answers, n + 1);
	expect_error(w, ERR_UNAVAILABLE, "cancelled");
	free(ref);
	free(shared);
	free(own);
}

/* Closing the store at every step of a pull: the caller hears "cancelled" (or got the image before),
 * nothing leaks, and a store opened on the same directory afterwards finds it consistent. */
static void test_close_midway(void **state)
{
	struct world *w = *state;
	struct err *e = NULL;
	char *ref = xasprintf("%s/app:two", w->host);
	bool finished = false;
	int steps_done = 0;
	for (int steps = 0; !finished && steps < 200; steps++) {
		steps_done = steps;
		close_store(w);
		nftw(w->store_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
		open_store(w);
		struct counter c = {.w = w};
		int n = w->answers;
		assert_non_null(image_pull(w->store, ref, on_count, &c, &e));
		for (int i = 0; i < steps && w->answers == n; i++)
			uv_run(&w->loop, UV_RUN_ONCE);
		if (c.ok) {
			image_unuse(w->store, c.img);
			finished = true;
		}
		close_store(w);
		assert_int_equal(w->answers, n + 1);
		assert_int_equal(c.ok + c.cancelled, 1);
		/* Whatever the interrupted pull left is either a whole image or gone. */
		open_store(w);
		assert_int_equal(entries(w, "tmp"), 0);
		assert_true(entries(w, "images") <= 1);
		assert_int_equal(entries(w, "layers/sha256"), entries(w, "images") * 2);
		const struct image *img = pull(w, "two");
		expect_ok(w);
		expect_file(img->layers[1], "world", "world");
		image_unuse(w->store, img);
	}
	assert_true(finished);
	assert_true(steps_done > 5); /* it was closed in the middle several times */
	free(ref);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_pull_and_share, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tampered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_index, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gc, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_midway, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
