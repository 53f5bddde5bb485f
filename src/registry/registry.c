/* The registry's state: repositories and images per account and region, kept in memory as ECR
 * documents and in the store (kinds "ecr-repo", "ecr-image"), the blob store, and the registry
 * passwords that GetAuthorizationToken hands out. */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/creds.h"
#include "common/arn.h"
#include "common/clock.h"
#include "common/enc.h"
#include "common/ids.h"
#include "common/jv.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "registry/manifest.h"
#include "registry/ref.h"
#include "registry/reg-int.h"
#include "store/store.h"

#define KIND_REPO  "ecr-repo"
#define KIND_IMAGE "ecr-image"
#define KIND_KEY   "registry-key"

struct reg_scope *reg__scope(struct reg *reg, const char *account, const char *region)
{
	char *key = xasprintf("%s/%s", account, region);
	struct reg_scope *sc = hmap_get(reg->scopes, key);
	if (!sc) {
		sc = xcalloc(1, sizeof(*sc));
		sc->account = xstrdup(account);
		sc->region = xstrdup(region);
		sc->repos = hmap_new();
		hmap_put(reg->scopes, key, sc);
	}
	free(key);
	return sc;
}

struct reg_repo *reg__repo(struct reg *reg, const char *account, const char *region, const char *name)
{
	return hmap_get(reg__scope(reg, account, region)->repos, name);
}

char *reg__repo_arn(struct reg_scope *sc, const char *name)
{
	char *res = xasprintf("repository/%s", name);
	char *arn = arn_build("ecr", sc->region, sc->account, res);
	free(res);
	return arn;
}

static struct reg_repo *repo_alloc(struct reg_scope *sc, const char *name)
{
	struct reg_repo *r = xcalloc(1, sizeof(*r));
	r->sc = sc;
	r->name = xstrdup(name);
	r->tags = json_array();
	r->tagmap = json_object();
	r->blobs = json_object();
	r->linked = json_object();
	r->images = json_object();
	hmap_put(sc->repos, name, r);
	return r;
}

static void repo_free(struct reg_repo *r)
{
	if (!r)
		return;
	free(r->name);
	json_decref(r->doc);
	json_decref(r->tags);
	json_decref(r->tagmap);
	json_decref(r->blobs);
	json_decref(r->linked);
	json_decref(r->images);
	json_decref(r->policy);
	json_decref(r->lifecycle);
	json_decref(r->preview);
	free(r);
}

uint64_t reg__repo_save(struct reg *reg, struct reg_repo *r)
{
	json_t *rec = json_object();
	json_object_set(rec, "repository", r->doc);
	json_object_set(rec, "tags", r->tags);
	json_object_set(rec, "tagMap", r->tagmap);
	json_object_set(rec, "blobs", r->blobs);
	if (r->policy)
		json_object_set(rec, "policy", r->policy);
	if (r->lifecycle)
		json_object_set(rec, "lifecycle", r->lifecycle);
	char *text = jv_dump(rec);
	char *key = xasprintf("%s/%s/%s", r->sc->account, r->sc->region, r->name);
	uint64_t seq = store_put(reg->store, KIND_REPO, key, text, strlen(text));
	free(key);
	free(text);
	json_decref(rec);
	return seq;
}

uint64_t reg__image_save(struct reg *reg, struct reg_repo *r, const char *digest, json_t *rec)
{
	char *key = xasprintf("%s/%s/%s@%s", r->sc->account, r->sc->region, r->name, digest);
	uint64_t seq;
	if (rec) {
		char *text = jv_dump(rec);
		seq = store_put(reg->store, KIND_IMAGE, key, text, strlen(text));
		free(text);
	} else {
		seq = store_del(reg->store, KIND_IMAGE, key);
	}
	free(key);
	return seq;
}

struct reg_repo *reg__repo_create(struct reg *reg, struct reg_scope *sc, const char *name, json_t *doc,
				  json_t *tags)
{
	struct reg_repo *r = repo_alloc(sc, name);
	r->doc = json_incref(doc);
	if (tags) {
		json_decref(r->tags);
		r->tags = json_incref(tags);
	}
	reg__repo_save(reg, r);
	return r;
}

void reg__repo_delete(struct reg *reg, struct reg_repo *r)
{
	const char *d;
	json_t *v;
	json_object_foreach (r->images, d, v) {
		reg__image_save(reg, r, d, NULL);
	}
	char *key = xasprintf("%s/%s/%s", r->sc->account, r->sc->region, r->name);
	store_del(reg->store, KIND_REPO, key);
	free(key);
	hmap_del(r->sc->repos, r->name);
	repo_free(r);
}

json_t *reg__image_new(const char *digest, const char *manifest, size_t len, const char *media_type,
		       long long size, const char *artifact_type, const char *subject)
{
	json_t *rec = json_object();
	jv_set_str(rec, "imageDigest", digest);
	json_object_set_new(rec, "imageManifest", json_stringn(manifest, len));
	jv_set_str(rec, "imageManifestMediaType", media_type);
	json_object_set_new(rec, "imagePushedAt", jv_time(clock_now()));
	json_object_set_new(rec, "imageSizeInBytes", json_integer(size));
	if (artifact_type)
		jv_set_str(rec, "artifactMediaType", artifact_type);
	if (subject)
		jv_set_str(rec, "subject", subject);
	return rec;
}

static int cmp_json_str(const void *a, const void *b)
{
	return strcmp(json_string_value(*(json_t *const *)a), json_string_value(*(json_t *const *)b));
}

json_t *reg__image_tags(struct reg_repo *r, const char *digest)
{
	json_t *out = json_array();
	const char *t;
	json_t *v;
	json_object_foreach (r->tagmap, t, v) {
		if (strcmp(json_string_value(v), digest) == 0)
			json_array_append_new(out, json_string(t));
	}
	size_t n = json_array_size(out);
	if (n > 1) {
		json_t **items = xcalloc(n, sizeof(*items));
		for (size_t i = 0; i < n; i++)
			items[i] = json_incref(json_array_get(out, i));
		qsort(items, n, sizeof(*items), cmp_json_str);
		json_array_clear(out);
		for (size_t i = 0; i < n; i++)
			json_array_append_new(out, items[i]);
		free(items);
	}
	return out;
}

void reg__image_delete(struct reg *reg, struct reg_repo *r, const char *digest)
{
	json_t *tags = reg__image_tags(r, digest);
	size_t i;
	json_t *t;
	json_array_foreach (tags, i, t) {
		json_object_del(r->tagmap, json_string_value(t));
	}
	json_decref(tags);
	json_object_del(r->images, digest);
	reg__image_save(reg, r, digest, NULL);
	reg__repo_save(reg, r);
}

void reg__sha256_digest(const void *p, size_t n, char out[72])
{
	unsigned char h[32];
	unsigned hn = 0;
	EVP_Digest(p, n, h, &hn, EVP_sha256(), NULL);
	memcpy(out, "sha256:", 7);
	enc_hex(h, 32, out + 7);
	out[71] = '\0';
}

uint64_t reg__manifest_put(struct reg *reg, struct reg_repo *r, const char *tag, const char *bytes,
			   size_t len, const char *content_type, char digest_out[72], struct err **err)
{
	uint64_t seq = 0;
	struct reg_manifest *m = reg_manifest_parse(bytes, len, content_type, err);
	if (!m)
		return 0;
	if (tag && reg_tag_check(tag, err) < 0)
		goto out;
	reg__sha256_digest(bytes, len, digest_out);
	/* OCI distribution spec: a manifest is refused while the blobs (or, for an index, the
	 * manifests) it names are unknown to the repository; a subject may be missing. */
	bool index = m->kind == REG_KIND_OCI_INDEX || m->kind == REG_KIND_DOCKER_LIST;
	long long size = 0;
	if (m->has_config && !json_object_get(r->blobs, m->config.digest)) {
		err_set(err, ERR_LAYERS_NOT_FOUND, "the config blob %s is not in repository %s",
			m->config.digest, r->name);
		goto out;
	}
	for (size_t i = 0; i < m->nitems; i++) {
		const char *d = m->items[i].digest;
		if (index ? !json_object_get(r->images, d) : !json_object_get(r->blobs, d)) {
			err_set(err, ERR_LAYERS_NOT_FOUND, "%s %s is not in repository %s",
				index ? "the manifest" : "the layer", d, r->name);
			goto out;
		}
		if (index) {
			json_t *child = json_object_get(r->images, d);
			size += json_integer_value(json_object_get(child, "imageSizeInBytes"));
		} else {
			size += m->items[i].size;
		}
	}
	if (tag) {
		const char *mut = json_string_value(json_object_get(r->doc, "imageTagMutability"));
		const char *have = json_string_value(json_object_get(r->tagmap, tag));
		if (have && strcmp(have, digest_out) != 0 && mut && strcmp(mut, "IMMUTABLE") == 0) {
			err_set(err, ERR_TAG_EXISTS,
				"The image tag '%s' already exists in the '%s' repository and cannot be "
				"overwritten "
				"because the repository is immutable.",
				tag, r->name);
			goto out;
		}
	}
	if (!json_object_get(r->images, digest_out)) {
		json_t *rec = reg__image_new(digest_out, bytes, len, m->media_type, size, m->artifact_type,
					     m->has_subject ? m->subject.digest : NULL);
		json_object_set_new(r->images, digest_out, rec);
		seq = reg__image_save(reg, r, digest_out, rec);
	}
	if (tag) {
		const char *have = json_string_value(json_object_get(r->tagmap, tag));
		if (!have || strcmp(have, digest_out) != 0) {
			json_object_set_new(r->tagmap, tag, json_string(digest_out));
			seq = reg__repo_save(reg, r);
		}
	}
	if (!seq)
		seq = store_last_seq(reg->store);
out:
	reg_manifest_free(m);
	return seq;
}

/* Registry passwords: "gantry1.<hex payload>.<hex HMAC-SHA256>" where the payload is
 * "<access key>|<expiry, epoch seconds>|<region>". The key must still be known when the password
 * is used, so removing a key revokes its passwords. Download-URL credentials are
 * "gantryurl1.<hex payload>.<mac>" with the payload "blob|<access key>|<expiry>|<region>|<scope>":
 * the leading "blob|" keeps either kind from passing for the other. */
static void token_mac(struct reg *reg, const char *payload, char out[65])
{
	unsigned char mac[32];
	unsigned n = 0;
	HMAC(EVP_sha256(), reg->token_key, sizeof(reg->token_key), (const unsigned char *)payload,
	     strlen(payload), mac, &n);
	enc_hex(mac, 32, out);
	out[64] = '\0';
}

static char *token_seal(struct reg *reg, const char *prefix, const char *payload)
{
	size_t pn = strlen(payload);
	char *hex = xmalloc(pn * 2 + 1);
	enc_hex(payload, pn, hex);
	hex[pn * 2] = '\0';
	char mac[65];
	token_mac(reg, payload, mac);
	char *tok = xasprintf("%s%s.%s", prefix, hex, mac);
	free(hex);
	return tok;
}

char *reg__token_make(struct reg *reg, const char *access_key, const char *region, double expires)
{
	char *payload = xasprintf("%s|%.0f|%s", access_key, expires, region);
	char *tok = token_seal(reg, "gantry1.", payload);
	free(payload);
	return tok;
}

char *reg__url_token_make(struct reg *reg, const char *access_key, const char *region, double expires,
			  const char *scope)
{
	char *payload = xasprintf("blob|%s|%.0f|%s|%s", access_key, expires, region, scope);
	char *tok = token_seal(reg, "gantryurl1.", payload);
	free(payload);
	return tok;
}

static int unhex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

#define TOKEN_PAYLOAD_MAX 1024

/* Opens "<prefix><hex payload>.<mac>": the payload into out when the MAC is ours. */
static int token_open(struct reg *reg, const char *prefix, const char *tok, char out[TOKEN_PAYLOAD_MAX + 1])
{
	size_t pn = strlen(prefix);
	if (strncmp(tok, prefix, pn) != 0)
		return -1;
	const char *hex = tok + pn;
	const char *dot = strchr(hex, '.');
	size_t hn = dot ? (size_t)(dot - hex) : 0;
	if (!dot || hn == 0 || hn % 2 || hn > 2 * TOKEN_PAYLOAD_MAX || strlen(dot + 1) != 64)
		return -1;
	for (size_t i = 0; i < hn / 2; i++) {
		int hi = unhex(hex[2 * i]), lo = unhex(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (char)(hi * 16 + lo);
		if (!out[i])
			return -1;
	}
	out[hn / 2] = '\0';
	char mac[65];
	token_mac(reg, out, mac);
	return CRYPTO_memcmp(mac, dot + 1, 64) == 0 ? 0 : -1;
}

/* The rest of a payload after "<access key>|<expiry>|<region>": checks the expiry and the key and
 * fills account and region. Returns 0 or -1. */
static int token_claims(struct reg *reg, char *payload, const char **account, char region[32], char **rest)
{
	char *p1 = strchr(payload, '|');
	char *p2 = p1 ? strchr(p1 + 1, '|') : NULL;
	if (!p2)
		return -1;
	*p1 = '\0';
	*p2 = '\0';
	char *p3 = strchr(p2 + 1, '|');
	if (p3)
		*p3 = '\0';
	if ((p3 != NULL) != (rest != NULL) || strlen(p2 + 1) >= 32)
		return -1;
	double expires = strtod(p1 + 1, NULL);
	if (expires < clock_now())
		return -1;
	const struct cred *c = creds_find(reg->creds, payload);
	if (!c)
		return -1;
	*account = c->account;
	snprintf(region, 32, "%s", p2 + 1);
	if (rest)
		*rest = p3 + 1;
	return 0;
}

int reg__token_check(struct reg *reg, const char *password, const char **account, char region[32])
{
	char payload[TOKEN_PAYLOAD_MAX + 1];
	if (token_open(reg, "gantry1.", password, payload) < 0)
		return -1;
	return token_claims(reg, payload, account, region, NULL);
}

int reg__url_token_check(struct reg *reg, const char *token, const char *scope, const char **account,
			 char region[32])
{
	char payload[TOKEN_PAYLOAD_MAX + 1];
	char *rest = NULL;
	if (token_open(reg, "gantryurl1.", token, payload) < 0 || strncmp(payload, "blob|", 5) != 0 ||
	    token_claims(reg, payload + 5, account, region, &rest) < 0)
		return -1;
	return strcmp(rest, scope) == 0 ? 0 : -1;
}

/* Loading */

/* Splits "account/region/rest". */
static int split_key(const char *key, char **account, char **region, const char **rest)
{
	const char *s1 = strchr(key, '/');
	const char *s2 = s1 ? strchr(s1 + 1, '/') : NULL;
	if (!s2)
		return -1;
	*account = xstrndup(key, (size_t)(s1 - key));
	*region = xstrndup(s1 + 1, (size_t)(s2 - s1 - 1));
	*rest = s2 + 1;
	return 0;
}

static int load_repo(void *arg, const char *key, const char *text, size_t len)
{
	struct reg *reg = arg;
	char *account = NULL, *region = NULL;
	const char *name;
	json_t *rec = jv_parse(text, len, NULL);
	if (!rec || split_key(key, &account, &region, &name) < 0) {
		log_warn("registry: skipping the unreadable repository record %s", key);
		goto out;
	}
	struct reg_repo *r = repo_alloc(reg__scope(reg, account, region), name);
	r->doc = json_incref(json_object_get(rec, "repository"));
	json_t *v;
	if (json_is_array(v = json_object_get(rec, "tags"))) {
		json_decref(r->tags);
		r->tags = json_incref(v);
	}
	if (json_is_object(v = json_object_get(rec, "tagMap"))) {
		json_decref(r->tagmap);
		r->tagmap = json_incref(v);
	}
	if (json_is_object(v = json_object_get(rec, "blobs"))) {
		json_decref(r->blobs);
		r->blobs = json_incref(v);
	}
	r->policy = json_incref(json_object_get(rec, "policy"));
	r->lifecycle = json_incref(json_object_get(rec, "lifecycle"));
out:
	json_decref(rec);
	free(account);
	free(region);
	return 0;
}

static int load_image(void *arg, const char *key, const char *text, size_t len)
{
	struct reg *reg = arg;
	char *account = NULL, *region = NULL, *name = NULL;
	const char *rest;
	json_t *rec = jv_parse(text, len, NULL);
	const char *at = NULL;
	if (rec && split_key(key, &account, &region, &rest) == 0)
		at = strrchr(rest, '@');
	struct reg_repo *r = NULL;
	if (at) {
		name = xstrndup(rest, (size_t)(at - rest));
		r = reg__repo(reg, account, region, name);
	}
	if (!r) {
		log_warn("registry: skipping the image record %s (no such repository)", key);
		goto out;
	}
	json_object_set(r->images, at + 1, rec);
out:
	json_decref(rec);
	free(account);
	free(region);
	free(name);
	return 0;
}

static int load_key(void *arg, const char *key, const char *text, size_t len)
{
	struct reg *reg = arg;
	(void)key;
	if (len != 64)
		return 0;
	for (size_t i = 0; i < 32; i++) {
		int hi = unhex(text[2 * i]), lo = unhex(text[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return 0;
		reg->token_key[i] = (unsigned char)(hi * 16 + lo);
	}
	return 1;
}

struct reg *reg_new(uv_loop_t *loop, struct store *store, struct creds *creds, const char *data_dir,
		    struct err **err)
{
	struct reg *reg = xcalloc(1, sizeof(*reg));
	reg->loop = loop;
	reg->store = store;
	reg->creds = creds;
	reg->scopes = hmap_new();
	reg->started = clock_now();
	char *dir = xasprintf("%s/registry", data_dir);
	reg->blobs = blobs_open(loop, dir, err);
	free(dir);
	if (!reg->blobs)
		goto fail;
	int have_key = store_load(store, KIND_KEY, load_key, reg, err);
	if (have_key < 0 || store_load(store, KIND_REPO, load_repo, reg, err) != 0 ||
	    store_load(store, KIND_IMAGE, load_image, reg, err) != 0)
		goto fail;
	if (have_key != 1) {
		/* The key that signs registry passwords, kept so that passwords outlive a restart. It is
		 * written by reg_add_to_api: other components still have to load before any write. */
		ids_random(reg->token_key, sizeof(reg->token_key));
		reg->key_unsaved = true;
	}
	return reg;
fail:
	reg_free(reg);
	return NULL;
}

void reg__save_key(struct reg *reg)
{
	if (!reg->key_unsaved)
		return;
	char hex[65];
	enc_hex(reg->token_key, 32, hex);
	hex[64] = '\0';
	store_put(reg->store, KIND_KEY, "token", hex, 64);
	reg->key_unsaved = false;
}

void reg_set_stopping(struct reg *reg)
{
	if (!reg)
		return;
	reg->stopping = true;
	reg__gc_stop(reg);
	reg__ecr_stop(reg);
	reg__lifecycle_stop(reg);
}

void reg__each_repo(struct reg *reg, void (*fn)(void *arg, struct reg_repo *r), void *arg)
{
	const char *k;
	void *v;
	for (size_t it = 0; hmap_next(reg->scopes, &it, &k, &v);) {
		struct reg_scope *sc = v;
		const char *k2;
		void *v2;
		for (size_t it2 = 0; hmap_next(sc->repos, &it2, &k2, &v2);)
			fn(arg, v2);
	}
}

void reg_free(struct reg *reg)
{
	if (!reg)
		return;
	const char *k;
	void *v;
	for (size_t it = 0; hmap_next(reg->scopes, &it, &k, &v);) {
		struct reg_scope *sc = v;
		const char *k2;
		void *v2;
		for (size_t it2 = 0; hmap_next(sc->repos, &it2, &k2, &v2);)
			repo_free(v2);
		hmap_free(sc->repos);
		free(sc->account);
		free(sc->region);
		free(sc);
	}
	hmap_free(reg->scopes);
	blobs_close(reg->blobs);
	OPENSSL_cleanse(reg->token_key, sizeof(reg->token_key));
	free(reg);
}
