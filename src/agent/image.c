/* The agent's image store: reference resolution, coalesced manifest / config / layer pulls over
 * regclient, layer unpacking and file writes on the thread pool, the on-disk index read back at
 * start, and the collection of images no task has used for a while. */
#include "agent/image.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/enc.h"
#include "common/fsx.h"
#include "common/hmap.h"
#include "common/ids.h"
#include "common/jv.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "registry/ref.h"
#include "registry/regclient.h"

#define ECR_TARGET   "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken"
#define CALL_TIMEOUT 30000  /* ms: GetAuthorizationToken */
#define TOKEN_TTL_S  3600.0 /* assumed when GetAuthorizationToken gives no expiresAt */
#define HEX_LEN	     64
#define DOCKER_HUB   "docker.io"
#define DOCKER_API   "https://registry-1.docker.io"

struct image_store;
struct ijob;

/* A layer: unpacked and in place (ready), or being pulled. Keyed by its blob's digest. */
struct layer {
	struct image_store *s;
	char *digest;
	char *dir; /* DIR/layers/sha256/<hex> */
	char *fs;  /* dir/fs: the tree */
	char diff_id[UNPACK_DIGEST_SIZE];
	bool ready;
	bool in_map;	 /* in s->layers (a failed or removed layer is not) */
	unsigned images; /* occurrences in stored images */
	unsigned pins;	 /* occurrences in image pulls in flight */
	unsigned busy;	 /* a download, an unpack or a wait for credentials in flight */
	/* while pulling */
	long long size;
	char *repo;
	struct conn *conn;
	struct ijob **waiters; /* image pulls to tell when it is done */
	size_t nwaiters;
	struct layer *qnext; /* waiting for a download slot (queued) */
	bool queued;
	struct err *err; /* why it failed */
};

/* A registry: its client and, for gantry's own, the ECR password's expiry. */
struct cwait {
	void (*fn)(void *arg, const struct err *e);
	void *arg;
	struct cwait *next;
};

struct conn {
	struct image_store *s;
	char *host, *base;
	bool own;
	struct regclient *c;
	double expires; /* the password's (loop seconds); 0: none yet */
	struct hcli_req *req;
	struct cwait *waiters;
};

/* A stored image. */
struct img {
	struct image pub;
	char *digest, *config_digest, *media_type;
	struct reg_config *cfg;
	struct layer **layers;
	const char **paths, **digests;
	size_t n;
	unsigned refs;
	double last_used; /* loop seconds */
};

/* The pull of one manifest (its config and layers), shared by every reference resolving to it. */
struct ijob {
	struct image_store *s;
	char *digest;
	char *manifest;
	size_t mlen;
	struct reg_manifest *m;
	struct conn *conn;
	char *repo;
	struct rjob *rjobs; /* the references waiting (linked by ij_next) */
	struct reg_config *cfg;
	char *config;
	size_t clen;
	struct layer **layers; /* one per manifest layer, pinned */
	size_t nlayers;
	size_t pending; /* distinct layers not ready yet */
};

/* The resolution of one reference, shared by every caller pulling it. */
struct rjob {
	struct image_store *s;
	char *key;  /* "host/repo:tag" or "host/repo@digest" */
	char *name; /* what messages call it: the reference as normalized */
	struct reg_image_ref ref;
	struct conn *conn;
	struct image_pull *waiters;
	uv_timer_t timer; /* retry back-off */
	unsigned attempts;
	bool index;	/* the manifest in flight is the platform's, picked from an index */
	char *platform; /* its digest */
	struct ijob *ij;
	struct rjob *ij_next;
};

struct image_pull {
	struct image_store *s;
	image_pull_fn done;
	void *arg;
	struct rjob *rj; /* waiting on it, or NULL when queued for delivery */
	struct img *img; /* queued: the result, a reference held */
	struct err *err; /* queued: the error */
	struct image_pull *prev, *next;
};

struct image_store {
	uv_loop_t *loop;
	struct hcli *http;
	struct image_store_opts o;
	char *server_scheme, *server_host;
	char **insecure;
	char *arch;
	char *dir, *blobs, *layers_dir, *images, *tmp, *trash, *refs_path;
	struct hmap *imgs;		  /* manifest digest -> struct img */
	struct hmap *refs;		  /* reference key -> manifest digest (owned strings) */
	struct hmap *lmap;		  /* layer digest -> struct layer */
	struct hmap *rjobs;		  /* reference key -> struct rjob */
	struct hmap *ijobs;		  /* manifest digest -> struct ijob */
	struct hmap *conns;		  /* registry host -> struct conn */
	struct image_pull *dhead, *dtail; /* deliveries */
	uv_timer_t deliver, gc;
	struct layer *qhead, *qtail; /* layers waiting for a download slot */
	unsigned downloading;
	unsigned works, handles;
	bool refs_writing, refs_dirty;
	bool removing, remove_again;
	bool closing;
	void (*closed)(void *arg);
	void *closed_arg;
	struct image_stats stats;
};

static void rjob_start(struct rjob *rj);
static void rjob_finish(struct rjob *rj, struct img *img, const struct err *e);
static void ijob_fail(struct ijob *ij, struct err *e);
static void ijob_layer_ready(struct ijob *ij);
static void layer_done(struct layer *l);
static void layer_download(struct layer *l);
static void store_maybe_gone(struct image_store *s);
static void trash_path(struct image_store *s, const char *path);

static double now_s(const struct image_store *s)
{
	return (double)uv_now(s->loop) / 1000.0;
}

static const char *hex_of(const char *digest)
{
	return digest + 7; /* checked "sha256:" digests only */
}

static bool is_hex64(const char *s)
{
	return strlen(s) == HEX_LEN && strspn(s, "0123456789abcdef") == HEX_LEN;
}

static bool is_sha256(const char *digest)
{
	return strncmp(digest, "sha256:", 7) == 0 && is_hex64(digest + 7);
}

static void sha256_hex(const void *p, size_t n, char out[HEX_LEN + 1])
{
	unsigned char h[32];
	unsigned hn = 0;
	EVP_Digest(p, n, h, &hn, EVP_sha256(), NULL);
	enc_hex(h, 32, out);
}

static struct err *err_copy(const struct err *e)
{
	struct err *c = NULL;
	err_set(&c, e->kind, "%s", e->msg);
	if (c)
		c->sys_errno = e->sys_errno;
	return c;
}

/* ---- files (called on the thread pool, and on the loop while opening) ---- */

static int read_file(const char *path, size_t max, char **out, size_t *len, struct err **err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct buf b = BUF_INIT;
	char chunk[65536];
	if (fd < 0)
		return err_sys(err, errno, "read %s", path);
	buf_init(&b, max);
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err_sys(err, errno, "read %s", path);
			goto fail;
		}
		if (n == 0)
			break;
		if (buf_add(&b, chunk, (size_t)n) < 0) {
			err_set(err, ERR_TOO_LARGE, "read %s: more than %zu bytes", path, max);
			goto fail;
		}
	}
	close(fd);
	*out = buf_detach(&b, len);
	return 0;
fail:
	close(fd);
	buf_release(&b);
	return -1;
}

static int fsync_dir(const char *dir, struct err **err)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return err_sys(err, errno, "open %s", dir);
	int rc = fsync(fd);
	int e = errno;
	close(fd);
	if (rc < 0)
		return err_sys(err, e, "fsync %s", dir);
	return 0;
}

/* Writes len bytes to path through a temporary file that is fsynced and renamed over it (the
 * caller fsyncs the directory once for several files). */
static int write_atomic(const char *path, const char *p, size_t len, struct err **err)
{
	return fsx_write_file(path, p, len, 0600, true, err);
}

static int mkdir_one(const char *path, mode_t mode, struct err **err)
{
	if (mkdir(path, mode) < 0 && errno != EEXIST)
		return err_sys(err, errno, "mkdir %s", path);
	return 0;
}

/* ---- thread-pool work ---- */

enum wkind { W_UNPACK, W_WRITE, W_REMOVE };

struct wfile {
	char *path, *bytes;
	size_t len;
};

struct work {
	uv_work_t w;
	struct image_store *s;
	enum wkind kind;
	/* W_UNPACK */
	struct layer *l; /* the loop's: not touched on the thread pool */
	char *digest, *blob, *tmpdir, *dir, *dirparent;
	struct unpack_limits lim;
	char diff_id[UNPACK_DIGEST_SIZE];
	/* W_WRITE */
	struct wfile files[3];
	size_t nfiles;
	void (*after)(struct work *wk);
	void *arg;
	/* W_REMOVE */
	char *trash;
	struct err *err;
};

static void work_unpack(struct work *wk)
{
	char *fs = xasprintf("%s/fs", wk->tmpdir);
	char *meta = xasprintf("%s/layer.json", wk->tmpdir);
	char *text = NULL;
	struct err *e = NULL;
	int fd = -1;
	if (mkdir(wk->tmpdir, 0700) < 0) {
		err_sys(&e, errno, "mkdir %s", wk->tmpdir);
		goto out;
	}
	if (mkdir(fs, 0755) < 0) {
		err_sys(&e, errno, "mkdir %s", fs);
		goto out;
	}
	if (unpack_layer(wk->blob, fs, &wk->lim, wk->diff_id, &e) < 0)
		goto out;
	json_t *j = json_pack("{s:s,s:s}", "digest", wk->digest, "diffId", wk->diff_id);
	text = jv_dump(j);
	json_decref(j);
	if (write_atomic(meta, text, strlen(text), &e) < 0)
		goto out;
	/* The tree's files were written without fsync, one by one: one syncfs makes the whole tree
	 * durable before the rename publishes it. */
	fd = open(fs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || syncfs(fd) < 0) {
		err_sys(&e, errno, "sync %s", fs);
		goto out;
	}
	if (rename(wk->tmpdir, wk->dir) < 0) {
		err_sys(&e, errno, "rename %s to %s", wk->tmpdir, wk->dir);
		goto out;
	}
	fsync_dir(wk->dirparent, &e);
out:
	if (fd >= 0)
		close(fd);
	if (e) {
		struct err *e2 = NULL;
		if (unpack_remove_tree(wk->tmpdir, &e2) < 0)
			log_warn("image store: %s", e2->msg);
		err_free(e2);
	}
	unlink(wk->blob);
	wk->err = e;
	free(text);
	free(meta);
	free(fs);
}

static void work_write(struct work *wk)
{
	for (size_t i = 0; i < wk->nfiles && !wk->err; i++)
		write_atomic(wk->files[i].path, wk->files[i].bytes, wk->files[i].len, &wk->err);
	for (size_t i = 0; i < wk->nfiles && !wk->err; i++) {
		char *d = xstrdup(wk->files[i].path);
		char *slash = strrchr(d, '/');
		if (slash)
			*slash = '\0';
		fsync_dir(d, &wk->err);
		free(d);
	}
}

static void work_remove(struct work *wk)
{
	DIR *d = opendir(wk->trash);
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		char *p = xasprintf("%s/%s", wk->trash, de->d_name);
		struct err *e = NULL;
		if (unpack_remove_tree(p, &e) < 0 && !wk->err)
			wk->err = e;
		else
			err_free(e);
		free(p);
	}
	closedir(d);
}

static void on_work(uv_work_t *w)
{
	struct work *wk = w->data;
	switch (wk->kind) {
	case W_UNPACK: work_unpack(wk); break;
	case W_WRITE: work_write(wk); break;
	case W_REMOVE: work_remove(wk); break;
	}
}

static void work_free(struct work *wk)
{
	free(wk->digest);
	free(wk->blob);
	free(wk->tmpdir);
	free(wk->dir);
	free(wk->dirparent);
	for (size_t i = 0; i < wk->nfiles; i++) {
		free(wk->files[i].path);
		free(wk->files[i].bytes);
	}
	free(wk->trash);
	err_free(wk->err);
	free(wk);
}

static void on_unpacked(struct work *wk);
static void on_removed(struct work *wk);

static void on_work_done(uv_work_t *w, int status)
{
	struct work *wk = w->data;
	struct image_store *s = wk->s;
	if (status == UV_ECANCELED && !wk->err)
		err_set(&wk->err, ERR_UNAVAILABLE, "cancelled");
	switch (wk->kind) {
	case W_UNPACK: on_unpacked(wk); break;
	case W_WRITE: wk->after(wk); break;
	case W_REMOVE: on_removed(wk); break;
	}
	work_free(wk);
	s->works--;
	store_maybe_gone(s);
}

static struct work *work_new(struct image_store *s, enum wkind kind)
{
	struct work *wk = xcalloc(1, sizeof(*wk));
	wk->s = s;
	wk->kind = kind;
	wk->w.data = wk;
	return wk;
}

static void work_queue(struct work *wk)
{
	wk->s->works++;
	uv_queue_work(wk->s->loop, &wk->w, on_work, on_work_done);
}

/* ---- removal: renamed into DIR/trash at once, deleted on the thread pool ---- */

static void remove_start(struct image_store *s)
{
	if (s->removing) {
		s->remove_again = true;
		return;
	}
	s->removing = true;
	s->remove_again = false;
	struct work *wk = work_new(s, W_REMOVE);
	wk->trash = xstrdup(s->trash);
	work_queue(wk);
}

static void on_removed(struct work *wk)
{
	struct image_store *s = wk->s;
	if (wk->err)
		log_warn("image store: removing unused files: %s", wk->err->msg);
	s->removing = false;
	if (s->remove_again && !s->closing)
		remove_start(s);
}

static void trash_path(struct image_store *s, const char *path)
{
	char id[33];
	ids_hex32(id);
	char *to = xasprintf("%s/%s", s->trash, id);
	if (rename(path, to) < 0 && errno != ENOENT)
		log_warn("image store: cannot move %s out of the way: %s", path, strerror(errno));
	free(to);
	remove_start(s);
}

/* ---- refs.json ---- */

static void refs_save(struct image_store *s);

static void on_refs_written(struct work *wk)
{
	struct image_store *s = wk->s;
	s->refs_writing = false;
	if (wk->err)
		log_warn("image store: %s", wk->err->msg);
	if (s->refs_dirty && !s->closing)
		refs_save(s);
}

/* Writes refs.json; one write at a time, the last state written last. */
static void refs_save(struct image_store *s)
{
	if (s->refs_writing) {
		s->refs_dirty = true;
		return;
	}
	s->refs_dirty = false;
	s->refs_writing = true;
	json_t *j = json_object();
	const char *k;
	void *v;
	for (size_t it = 0; hmap_next(s->refs, &it, &k, &v);)
		json_object_set_new(j, k, json_string(v));
	struct work *wk = work_new(s, W_WRITE);
	wk->files[0].path = xstrdup(s->refs_path);
	wk->files[0].bytes = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
	wk->files[0].len = strlen(wk->files[0].bytes);
	wk->nfiles = 1;
	wk->after = on_refs_written;
	json_decref(j);
	work_queue(wk);
}

static void refs_set(struct image_store *s, const char *key, const char *digest)
{
	char *old = hmap_get(s->refs, key);
	if (old && strcmp(old, digest) == 0)
		return;
	free(hmap_put(s->refs, key, xstrdup(digest)));
	refs_save(s);
}

/* ---- images ---- */

static void img_free(struct img *im)
{
	if (!im)
		return;
	free(im->digest);
	free(im->config_digest);
	free(im->media_type);
	reg_config_free(im->cfg);
	free(im->layers);
	free(im->paths);
	free(im->digests);
	free(im);
}

/* A stored image over layers (each ready; their images counts are raised). cfg is taken. */
static struct img *img_new(struct image_store *s, const char *digest, const char *media_type,
			   const char *config_digest, struct reg_config *cfg, struct layer **layers, size_t n)
{
	struct img *im = xcalloc(1, sizeof(*im));
	im->digest = xstrdup(digest);
	im->media_type = xstrdup(media_type);
	im->config_digest = xstrdup(config_digest);
	im->cfg = cfg;
	im->n = n;
	im->layers = xcalloc(n ? n : 1, sizeof(*im->layers));
	im->paths = xcalloc(n ? n : 1, sizeof(*im->paths));
	im->digests = xcalloc(n ? n : 1, sizeof(*im->digests));
	for (size_t i = 0; i < n; i++) {
		im->layers[i] = layers[i];
		im->paths[i] = layers[i]->fs;
		im->digests[i] = layers[i]->digest;
		layers[i]->images++;
	}
	im->pub.digest = im->digest;
	im->pub.config_digest = im->config_digest;
	im->pub.config = im->cfg;
	im->pub.layers = im->paths;
	im->pub.layer_digests = im->digests;
	im->pub.nlayers = n;
	im->last_used = now_s(s);
	hmap_put(s->imgs, digest, im);
	return im;
}

static void layer_free(struct layer *l)
{
	free(l->digest);
	free(l->dir);
	free(l->fs);
	free(l->repo);
	free(l->waiters);
	err_free(l->err);
	free(l);
}

/* Drops a layer nothing holds any more: a ready one leaves the store (its tree is removed). */
static void layer_maybe_drop(struct layer *l)
{
	struct image_store *s = l->s;
	if (l->pins > 0 || l->images > 0 || l->busy > 0)
		return;
	if (l->queued) {
		/* Never started, and no pull wants it any more. */
		struct layer **pp = &s->qhead;
		while (*pp != l)
			pp = &(*pp)->qnext;
		*pp = l->qnext;
		if (s->qtail == l) {
			s->qtail = s->qhead;
			while (s->qtail && s->qtail->qnext)
				s->qtail = s->qtail->qnext;
		}
		l->queued = false;
		hmap_del(s->lmap, l->digest);
		l->in_map = false;
	}
	if (l->in_map) {
		if (!l->ready)
			return; /* still pulling: decided when it ends */
		hmap_del(s->lmap, l->digest);
		l->in_map = false;
		if (!s->closing) {
			trash_path(s, l->dir);
			s->stats.removed_layers++;
		}
	}
	layer_free(l);
}

static void img_remove(struct image_store *s, struct img *im)
{
	hmap_del(s->imgs, im->digest);
	/* References that named it. */
	const char *k;
	void *v;
	bool changed = false;
	for (size_t it = 0; hmap_next(s->refs, &it, &k, &v);) {
		if (strcmp(v, im->digest) == 0) {
			free(hmap_del(s->refs, k));
			changed = true;
			it = 0; /* the map changed under the iteration */
		}
	}
	if (changed)
		refs_save(s);
	char *rec = xasprintf("%s/%s.json", s->images, hex_of(im->digest));
	char *mb = xasprintf("%s/%s", s->blobs, hex_of(im->digest));
	unlink(rec);
	unlink(mb);
	bool shared = false;
	for (size_t it = 0; hmap_next(s->imgs, &it, &k, &v);)
		shared = shared || strcmp(((struct img *)v)->config_digest, im->config_digest) == 0;
	if (!shared) {
		char *cb = xasprintf("%s/%s", s->blobs, hex_of(im->config_digest));
		unlink(cb);
		free(cb);
	}
	free(rec);
	free(mb);
	for (size_t i = 0; i < im->n; i++) {
		im->layers[i]->images--;
		layer_maybe_drop(im->layers[i]);
	}
	s->stats.removed_images++;
	img_free(im);
}

/* ---- deliveries ---- */

static void on_deliver(uv_timer_t *t)
{
	struct image_store *s = t->data;
	struct image_pull *p;
	while ((p = s->dhead)) {
		s->dhead = p->next;
		if (s->dhead)
			s->dhead->prev = NULL;
		else
			s->dtail = NULL;
		p->done(p->arg, p->img ? &p->img->pub : NULL, p->err);
		err_free(p->err);
		free(p);
	}
}

/* Queues p's callback with img (a reference is taken for the caller) or e. */
static void deliver(struct image_pull *p, struct img *img, const struct err *e)
{
	struct image_store *s = p->s;
	p->rj = NULL;
	p->img = img;
	if (img)
		img->refs++;
	else
		p->err = err_copy(e);
	p->next = NULL;
	p->prev = s->dtail;
	if (s->dtail)
		s->dtail->next = p;
	else
		s->dhead = p;
	s->dtail = p;
	uv_timer_start(&s->deliver, on_deliver, 0, 0);
}

/* ---- registries ---- */

static bool insecure_host(struct image_store *s, const char *host)
{
	for (size_t i = 0; i < s->o.ninsecure; i++)
		if (strcmp(s->insecure[i], host) == 0)
			return true;
	size_t n = strcspn(host, ":");
	if (host[0] == '[')
		return strncmp(host, "[::1]", 5) == 0;
	return (n == 9 && strncmp(host, "localhost", 9) == 0) || strncmp(host, "127.", 4) == 0;
}

static struct conn *conn_get(struct image_store *s, const char *host)
{
	struct conn *c = hmap_get(s->conns, host);
	if (c)
		return c;
	c = xcalloc(1, sizeof(*c));
	c->s = s;
	c->host = xstrdup(host);
	c->own = s->server_host && strcmp(host, s->server_host) == 0;
	if (c->own)
		c->base = xasprintf("%s://%s", s->server_scheme, host);
	else if (strcmp(host, DOCKER_HUB) == 0)
		c->base = xstrdup(DOCKER_API);
	else
		c->base = xasprintf("%s://%s", insecure_host(s, host) ? "http" : "https", host);
	struct err *e = NULL;
	c->c = regclient_new(s->http, c->base, NULL, NULL, &e);
	if (!c->c) {
		/* The host passed reg_image_ref_parse: this cannot happen; a client that fails every
		 * request is not an option, so say it loudly. */
		log_error("image store: %s", e->msg);
		abort();
	}
	hmap_put(s->conns, host, c);
	return c;
}

static void conn_wake(struct conn *c, const struct err *e)
{
	struct cwait *w = c->waiters;
	c->waiters = NULL;
	while (w) {
		struct cwait *next = w->next;
		w->fn(w->arg, e);
		free(w);
		w = next;
	}
}

static void on_ecr_token(void *arg, const struct awsc_result *r)
{
	struct conn *c = arg;
	struct image_store *s = c->s;
	struct err *e = NULL;
	char *raw = NULL;
	size_t n = 0;
	c->req = NULL;
	json_t *ad = json_array_get(json_object_get(r->out, "authorizationData"), 0);
	const char *tok = json_string_value(json_object_get(ad, "authorizationToken"));
	raw = tok ? enc_b64_decode(tok, strlen(tok), &n) : NULL;
	char *colon = raw ? memchr(raw, ':', n) : NULL;
	if (!r->out) {
		err_set(&e, r->status == 0 || r->status >= 500 ? ERR_UNAVAILABLE : ERR_ACCESS_DENIED,
			"get a password for %s with GetAuthorizationToken at %s: %s%s%s", c->host,
			s->o.server, r->error_type ? r->error_type : "", r->error_type ? ": " : "",
			r->message ? r->message : "no answer");
	} else if (!colon) {
		err_set(&e, ERR_ACCESS_DENIED,
			"get a password for %s with GetAuthorizationToken at %s: the answer has no "
			"base64 USER:PASSWORD token",
			c->host, s->o.server);
	} else {
		*colon = '\0';
		regclient_set_credentials(c->c, raw, colon + 1);
		json_t *exp = json_object_get(ad, "expiresAt");
		double ttl = json_is_number(exp) ? json_number_value(exp) - (double)time(NULL) : TOKEN_TTL_S;
		c->expires = now_s(s) + (ttl > 0 ? ttl : 0);
	}
	free(raw);
	conn_wake(c, e);
	err_free(e);
}

/* Calls fn(arg, NULL) when c can be used (at once, unless gantry's registry needs a fresh
 * password), or fn(arg, e) when it cannot. */
static void conn_ready(struct conn *c, void (*fn)(void *arg, const struct err *e), void *arg)
{
	struct image_store *s = c->s;
	if (!c->own || !s->o.aws || c->expires - now_s(s) > IMAGE_TOKEN_MARGIN_S) {
		fn(arg, NULL);
		return;
	}
	struct cwait *w = xcalloc(1, sizeof(*w));
	w->fn = fn;
	w->arg = arg;
	w->next = c->waiters;
	c->waiters = w;
	if (c->req)
		return;
	s->stats.token_gets++;
	json_t *in = json_object();
	c->req = awsc_call(s->o.aws, ECR_TARGET, "ecr", in, CALL_TIMEOUT, on_ecr_token, c);
	json_decref(in);
}

/* A refusal of gantry's registry may mean the password went stale: get a new one next time. */
static void conn_refused(struct conn *c, const struct err *e)
{
	if (e && e->kind == ERR_ACCESS_DENIED && c->own)
		c->expires = 0;
}

static void conn_free(struct conn *c)
{
	free(c->host);
	free(c->base);
	free(c);
}

/* ---- layers ---- */

static void layer_fail(struct layer *l, struct err *e);

/* A download slot is free: the next layer waiting starts. */
static void slot_release(struct image_store *s)
{
	s->downloading--;
	struct layer *next = s->qhead;
	if (next && !s->closing) {
		s->qhead = next->qnext;
		if (!s->qhead)
			s->qtail = NULL;
		next->qnext = NULL;
		next->queued = false;
		layer_download(next);
	}
}

static void on_layer_blob(void *arg, const struct regclient_result *r)
{
	struct layer *l = arg;
	struct image_store *s = l->s;
	l->busy--;
	/* Failures first, then the slot: the pulls that fail with l may give up layers that wait
	 * for a slot, which then never start. */
	if (r->err) {
		struct err *e = NULL;
		conn_refused(l->conn, r->err);
		err_set(&e, r->err->kind, "failed to copy: layer %s: %s", l->digest, r->err->msg);
		layer_fail(l, e);
		slot_release(s);
		return;
	}
	if (s->closing) {
		struct err *e = NULL;
		err_set(&e, ERR_UNAVAILABLE, "cancelled");
		char *blob = xasprintf("%s/%s", s->blobs, hex_of(l->digest));
		unlink(blob);
		free(blob);
		layer_fail(l, e);
		slot_release(s);
		return;
	}
	slot_release(s);
	struct work *wk = work_new(s, W_UNPACK);
	char id[33];
	ids_hex32(id);
	wk->l = l;
	wk->digest = xstrdup(l->digest);
	wk->blob = xasprintf("%s/%s", s->blobs, hex_of(l->digest));
	wk->tmpdir = xasprintf("%s/%s-%s", s->tmp, hex_of(l->digest), id);
	wk->dir = xstrdup(l->dir);
	wk->dirparent = xasprintf("%s/sha256", s->layers_dir);
	wk->lim = s->o.limits;
	l->busy++;
	work_queue(wk);
}

static void on_layer_conn(void *arg, const struct err *e)
{
	struct layer *l = arg;
	struct image_store *s = l->s;
	struct err *e2 = NULL;
	l->busy--;
	if (e || s->closing) {
		err_set(&e2, e ? e->kind : ERR_UNAVAILABLE, "failed to copy: layer %s: %s", l->digest,
			e ? e->msg : "cancelled");
		layer_fail(l, e2);
		slot_release(s);
		return;
	}
	char *dest = xasprintf("%s/%s", s->blobs, hex_of(l->digest));
	s->stats.blob_gets++;
	l->busy++;
	if (regclient_blob_get(l->conn->c, l->repo, l->digest, l->size, dest, on_layer_blob, l, &e2) < 0) {
		l->busy--;
		err_prefix(&e2, "failed to copy: layer %s", l->digest);
		layer_fail(l, e2);
		slot_release(s);
	}
	free(dest);
}

/* Starts l's download now (a slot is taken). */
static void layer_download(struct layer *l)
{
	l->s->downloading++;
	l->busy++;
	conn_ready(l->conn, on_layer_conn, l);
}

static void on_unpacked(struct work *wk)
{
	struct layer *l = wk->l;
	struct image_store *s = wk->s;
	l->busy--;
	if (wk->err || s->closing) {
		/* When closing, a tree renamed into place has no image: removed at the next start. */
		struct err *e = NULL;
		err_set(&e, wk->err ? wk->err->kind : ERR_UNAVAILABLE, "failed to extract layer %s: %s",
			l->digest, wk->err ? wk->err->msg : "cancelled");
		layer_fail(l, e);
		return;
	}
	s->stats.unpacked++;
	snprintf(l->diff_id, sizeof(l->diff_id), "%s", wk->diff_id);
	l->ready = true;
	layer_done(l);
}

/* Tells the image pulls waiting on l that it is ready or failed, then drops it if nothing holds it. */
static void layer_done(struct layer *l)
{
	struct ijob **w = l->waiters;
	size_t n = l->nwaiters;
	l->waiters = NULL;
	l->nwaiters = 0;
	l->pins++; /* held while the waiters run: one of them failing may unpin the rest */
	for (size_t i = 0; i < n; i++) {
		if (l->err) {
			struct err *e = err_copy(l->err);
			ijob_fail(w[i], e);
		} else {
			ijob_layer_ready(w[i]);
		}
	}
	free(w);
	l->pins--;
	layer_maybe_drop(l);
}

static void layer_fail(struct layer *l, struct err *e)
{
	struct image_store *s = l->s;
	if (l->in_map) {
		hmap_del(s->lmap, l->digest);
		l->in_map = false;
	}
	err_free(l->err);
	l->err = e;
	layer_done(l);
}

/* The layer for descriptor d, pinned for ij: ready, or being pulled (ij is told when it is done). */
static struct layer *layer_get(struct image_store *s, struct ijob *ij, const struct reg_descriptor *d)
{
	struct layer *l = hmap_get(s->lmap, d->digest);
	if (!l) {
		l = xcalloc(1, sizeof(*l));
		l->s = s;
		l->digest = xstrdup(d->digest);
		l->dir = xasprintf("%s/sha256/%s", s->layers_dir, hex_of(d->digest));
		l->fs = xasprintf("%s/fs", l->dir);
		l->size = d->size;
		l->repo = xstrdup(ij->repo);
		l->conn = ij->conn;
		l->in_map = true;
		hmap_put(s->lmap, l->digest, l);
		if (s->downloading < s->o.downloads) {
			l->pins++; /* layer_download may fail at once */
			layer_download(l);
			l->pins--;
		} else {
			if (s->qtail)
				s->qtail->qnext = l;
			else
				s->qhead = l;
			s->qtail = l;
			l->queued = true;
		}
	}
	return l;
}

/* ---- image pulls ---- */

static void ijob_free(struct ijob *ij)
{
	free(ij->digest);
	free(ij->manifest);
	reg_manifest_free(ij->m);
	free(ij->repo);
	reg_config_free(ij->cfg);
	free(ij->config);
	free(ij->layers);
	free(ij);
}

/* Unpins ij's layers and leaves their waiting lists. */
static void ijob_release_layers(struct ijob *ij)
{
	for (size_t i = 0; i < ij->nlayers; i++) {
		struct layer *l = ij->layers[i];
		if (!l)
			continue;
		for (size_t j = 0; j < l->nwaiters; j++) {
			if (l->waiters[j] == ij) {
				l->waiters[j] = l->waiters[--l->nwaiters];
				break;
			}
		}
	}
	for (size_t i = 0; i < ij->nlayers; i++) {
		struct layer *l = ij->layers[i];
		ij->layers[i] = NULL;
		if (l) {
			l->pins--;
			layer_maybe_drop(l);
		}
	}
}

/* Ends ij with img or e (taken): every reference waiting on it finishes. */
static void ijob_end(struct ijob *ij, struct img *img, struct err *e)
{
	struct image_store *s = ij->s;
	hmap_del(s->ijobs, ij->digest);
	struct rjob *rj = ij->rjobs;
	ij->rjobs = NULL;
	while (rj) {
		struct rjob *next = rj->ij_next;
		struct err *e2 = NULL;
		rj->ij = NULL;
		if (e)
			err_set(&e2, e->kind, "failed to pull and unpack image %s: %s", rj->name, e->msg);
		rjob_finish(rj, img, e2);
		err_free(e2);
		rj = next;
	}
	ijob_release_layers(ij);
	err_free(e);
	ijob_free(ij);
}

static void ijob_fail(struct ijob *ij, struct err *e)
{
	ijob_end(ij, NULL, e);
}

static void on_record_written(struct work *wk)
{
	struct ijob *ij = wk->arg;
	struct image_store *s = wk->s;
	if (wk->err || s->closing) {
		struct err *e = NULL;
		err_set(&e, wk->err ? wk->err->kind : ERR_UNAVAILABLE, "store the image: %s",
			wk->err ? wk->err->msg : "cancelled");
		if (wk->err) {
			/* Nothing half written stays (a config another image has is kept). */
			bool shared = false;
			const char *k;
			void *v;
			for (size_t it = 0; hmap_next(s->imgs, &it, &k, &v);)
				shared = shared ||
					 strcmp(((struct img *)v)->config_digest, ij->m->config.digest) == 0;
			unlink(wk->files[2].path);
			unlink(wk->files[0].path);
			if (!shared)
				unlink(wk->files[1].path);
		}
		ijob_fail(ij, e);
		return;
	}
	struct img *im = img_new(s, ij->digest, ij->m->media_type, ij->m->config.digest, ij->cfg, ij->layers,
				 ij->nlayers);
	ij->cfg = NULL;
	ijob_end(ij, im, NULL);
}

/* Every layer is ready: checks the diff_ids and writes the image's files. */
static void ijob_commit(struct ijob *ij)
{
	struct image_store *s = ij->s;
	struct err *e = NULL;
	for (size_t i = 0; i < ij->nlayers; i++) {
		if (strcmp(ij->layers[i]->diff_id, ij->cfg->diff_ids[i]) != 0) {
			err_set(&e, ERR_INVALID_PARAM,
				"layer %s: its diff_id is %s, the image config says rootfs.diff_ids[%zu] is "
				"%s",
				ij->layers[i]->digest, ij->layers[i]->diff_id, i, ij->cfg->diff_ids[i]);
			ijob_fail(ij, e);
			return;
		}
	}
	json_t *layers = json_array();
	for (size_t i = 0; i < ij->nlayers; i++)
		json_array_append_new(layers, json_string(ij->layers[i]->digest));
	json_t *rec = json_pack("{s:s,s:s,s:s,s:o}", "digest", ij->digest, "mediaType", ij->m->media_type,
				"config", ij->m->config.digest, "layers", layers);
	struct work *wk = work_new(s, W_WRITE);
	wk->files[0].path = xasprintf("%s/%s", s->blobs, hex_of(ij->digest));
	wk->files[0].bytes = xmalloc(ij->mlen ? ij->mlen : 1);
	memcpy(wk->files[0].bytes, ij->manifest, ij->mlen);
	wk->files[0].len = ij->mlen;
	wk->files[1].path = xasprintf("%s/%s", s->blobs, hex_of(ij->m->config.digest));
	wk->files[1].bytes = xmalloc(ij->clen ? ij->clen : 1);
	memcpy(wk->files[1].bytes, ij->config, ij->clen);
	wk->files[1].len = ij->clen;
	/* The record last: it is what makes the others count at the next start. */
	wk->files[2].path = xasprintf("%s/%s.json", s->images, hex_of(ij->digest));
	wk->files[2].bytes = jv_dump(rec);
	wk->files[2].len = strlen(wk->files[2].bytes);
	wk->nfiles = 3;
	wk->after = on_record_written;
	wk->arg = ij;
	json_decref(rec);
	work_queue(wk);
}

static void ijob_layer_ready(struct ijob *ij)
{
	if (--ij->pending == 0)
		ijob_commit(ij);
}

static bool layer_type_ok(const char *mt)
{
	return strcmp(mt, REG_MT_OCI_LAYER_GZIP) == 0 || strcmp(mt, REG_MT_OCI_LAYER) == 0 ||
	       strcmp(mt, REG_MT_OCI_LAYER_ZSTD) == 0 || strcmp(mt, REG_MT_DOCKER_LAYER) == 0;
}

static void on_config(void *arg, const struct regclient_result *r)
{
	struct ijob *ij = arg;
	struct image_store *s = ij->s;
	struct err *e = NULL;
	if (r->err || s->closing) {
		if (r->err)
			conn_refused(ij->conn, r->err);
		err_set(&e, r->err ? r->err->kind : ERR_UNAVAILABLE, "failed to copy: config %s: %s",
			ij->m->config.digest, r->err ? r->err->msg : "cancelled");
		ijob_fail(ij, e);
		return;
	}
	ij->cfg = reg_config_parse(r->body, r->len, &e);
	if (!ij->cfg) {
		err_prefix(&e, "config %s", ij->m->config.digest);
		ijob_fail(ij, e);
		return;
	}
	ij->config = xmalloc(r->len ? r->len : 1);
	memcpy(ij->config, r->body, r->len);
	ij->clen = r->len;
	if (strcmp(ij->cfg->os, "linux") != 0) {
		err_set(&e, ERR_UNSUPPORTED, "config %s: the image is for %s, not linux",
			ij->m->config.digest, ij->cfg->os);
		ijob_fail(ij, e);
		return;
	}
	if (strcmp(ij->cfg->architecture, s->arch) != 0)
		log_warn("image store: image %s is for %s/%s, this host is linux/%s", ij->digest, ij->cfg->os,
			 ij->cfg->architecture, s->arch);
	if (ij->cfg->ndiff_ids != ij->m->nitems) {
		err_set(&e, ERR_INVALID_PARAM, "config %s lists %zu diff_ids for the manifest's %zu layers",
			ij->m->config.digest, ij->cfg->ndiff_ids, ij->m->nitems);
		ijob_fail(ij, e);
		return;
	}
	ij->nlayers = ij->m->nitems;
	ij->layers = xcalloc(ij->nlayers ? ij->nlayers : 1, sizeof(*ij->layers));
	/* Pin every layer first, then count those to wait for: a layer that fails at once fails ij,
	 * which must find all of its pins in place. */
	for (size_t i = 0; i < ij->nlayers; i++) {
		struct layer *l = hmap_get(s->lmap, ij->m->items[i].digest);
		if (l) {
			l->pins++;
			ij->layers[i] = l;
		}
	}
	ij->pending = 1; /* held until every layer is asked for */
	for (size_t i = 0; i < ij->nlayers; i++) {
		struct layer *l = ij->layers[i];
		if (!l) {
			l = layer_get(s, ij, &ij->m->items[i]);
			l->pins++;
			ij->layers[i] = l;
		}
		if (l->err) { /* failed at once (no download could start) */
			ijob_fail(ij, err_copy(l->err));
			return;
		}
		bool listed = false;
		for (size_t j = 0; j < l->nwaiters; j++)
			listed = listed || l->waiters[j] == ij;
		if (!l->ready && !listed) {
			l->waiters = xrealloc(l->waiters, (l->nwaiters + 1) * sizeof(*l->waiters));
			l->waiters[l->nwaiters++] = ij;
			ij->pending++;
		}
	}
	if (--ij->pending == 0)
		ijob_commit(ij);
}

static void on_ijob_conn(void *arg, const struct err *e)
{
	struct ijob *ij = arg;
	struct image_store *s = ij->s;
	struct err *e2 = NULL;
	if (e || s->closing) {
		err_set(&e2, e ? e->kind : ERR_UNAVAILABLE, "failed to copy: config %s: %s",
			ij->m->config.digest, e ? e->msg : "cancelled");
		ijob_fail(ij, e2);
		return;
	}
	s->stats.blob_gets++;
	if (regclient_blob_get(ij->conn->c, ij->repo, ij->m->config.digest, ij->m->config.size, NULL,
			       on_config, ij, &e2) < 0) {
		err_prefix(&e2, "failed to copy: config %s", ij->m->config.digest);
		ijob_fail(ij, e2);
	}
}

/* Checks what the store can take from a manifest before pulling anything. */
static int manifest_check(const struct reg_manifest *m, struct err **err)
{
	if (!m->has_config)
		return err_set(err, ERR_UNSUPPORTED, "the manifest has no config");
	const char *ct = m->config.media_type;
	if (strcmp(ct, REG_MT_OCI_CONFIG) != 0 && strcmp(ct, REG_MT_DOCKER_CONFIG) != 0)
		return err_set(err, ERR_UNSUPPORTED,
			       "config media type %s is not an image config (an artifact?)", ct);
	if (!is_sha256(m->config.digest))
		return err_set(err, ERR_UNSUPPORTED, "config %s: only sha256 digests are supported",
			       m->config.digest);
	if (m->config.size > (long long)REG_CONFIG_MAX)
		return err_set(err, ERR_TOO_LARGE, "config %s is %lld bytes, more than %u", m->config.digest,
			       m->config.size, REG_CONFIG_MAX);
	for (size_t i = 0; i < m->nitems; i++) {
		const struct reg_descriptor *d = &m->items[i];
		if (!layer_type_ok(d->media_type))
			return err_set(err, ERR_UNSUPPORTED, "layers[%zu]: media type %s is not supported", i,
				       d->media_type);
		if (!is_sha256(d->digest))
			return err_set(err, ERR_UNSUPPORTED, "layers[%zu]: only sha256 digests are supported",
				       i);
		if (d->size > IMAGE_LAYER_MAX)
			return err_set(err, ERR_TOO_LARGE, "layers[%zu] is %lld bytes, more than %lld", i,
				       d->size, IMAGE_LAYER_MAX);
	}
	return 0;
}

/* Joins rj to the pull of manifest digest (bytes and parsed m taken), starting it if needed. */
static void ijob_join(struct rjob *rj, const char *digest, char *bytes, size_t len, struct reg_manifest *m)
{
	struct image_store *s = rj->s;
	struct ijob *ij = hmap_get(s->ijobs, digest);
	bool created = !ij;
	if (ij) {
		free(bytes);
		reg_manifest_free(m);
	} else {
		ij = xcalloc(1, sizeof(*ij));
		ij->s = s;
		ij->digest = xstrdup(digest);
		ij->manifest = bytes;
		ij->mlen = len;
		ij->m = m;
		ij->conn = rj->conn;
		ij->repo = xstrdup(rj->ref.repository);
		hmap_put(s->ijobs, digest, ij);
	}
	rj->ij = ij;
	rj->ij_next = ij->rjobs;
	ij->rjobs = rj;
	if (created)
		conn_ready(ij->conn, on_ijob_conn, ij);
}

/* ---- references ---- */

static void on_rjob_closed(uv_handle_t *h)
{
	struct rjob *rj = h->data;
	struct image_store *s = rj->s;
	reg_image_ref_release(&rj->ref);
	free(rj->key);
	free(rj->name);
	free(rj->platform);
	free(rj);
	s->handles--;
	store_maybe_gone(s);
}

/* Ends rj: binds its reference to img and delivers img (or e) to every caller waiting. */
static void rjob_finish(struct rjob *rj, struct img *img, const struct err *e)
{
	struct image_store *s = rj->s;
	hmap_del(s->rjobs, rj->key);
	if (img && !s->closing)
		refs_set(s, rj->key, img->digest);
	struct image_pull *p = rj->waiters;
	rj->waiters = NULL;
	while (p) {
		struct image_pull *next = p->next;
		deliver(p, img, e);
		p = next;
	}
	uv_timer_stop(&rj->timer);
	uv_close((uv_handle_t *)&rj->timer, on_rjob_closed);
}

/* The stored image a reference gives without asking a registry: a digest's always, a tag's when
 * tags is true. */
static struct img *cached(struct image_store *s, const char *key, const struct reg_image_ref *ref, bool tags)
{
	if (!ref->digest && !tags)
		return NULL;
	const char *d = hmap_get(s->refs, key);
	struct img *im = d ? hmap_get(s->imgs, d) : NULL;
	if (!im && ref->digest)
		im = hmap_get(s->imgs, ref->digest);
	return im;
}

/* A resolution failure, in the words ECS uses. */
static void rjob_resolve_fail(struct rjob *rj, const struct err *why)
{
	struct image_store *s = rj->s;
	struct err *e = NULL;
	struct img *fallback =
		s->o.policy == IMAGE_PULL_DEFAULT && !s->closing ? cached(s, rj->key, &rj->ref, true) : NULL;
	if (fallback) {
		log_warn("image store: %s: %s; using the image pulled before (%s)", rj->name, why->msg,
			 fallback->digest);
		rjob_finish(rj, fallback, NULL);
		return;
	}
	/* containerd's words, which ECS passes on; the registry's own message only where it helps. */
	if (why->kind == ERR_IMAGE_NOT_FOUND || why->kind == ERR_REPO_NOT_FOUND)
		err_set(&e, why->kind, "%s: not found", rj->name);
	else if (why->kind == ERR_ACCESS_DENIED)
		err_set(&e, why->kind,
			"pull access denied, repository does not exist or may require authorization: %s",
			why->msg);
	else
		err_set(&e, why->kind, "%s", why->msg);
	err_prefix(&e, "pull image manifest has been retried %u time(s): failed to resolve ref %s",
		   rj->attempts, rj->name);
	rjob_finish(rj, NULL, e);
	err_free(e);
}

static void on_manifest(void *arg, const struct regclient_result *r);

static void rjob_get(struct rjob *rj, const char *ref)
{
	struct err *e = NULL;
	rj->attempts += rj->index ? 0 : 1;
	if (regclient_manifest_get(rj->conn->c, rj->ref.repository, ref, on_manifest, rj, &e) < 0) {
		rjob_resolve_fail(rj, e);
		err_free(e);
	}
}

static void on_rjob_conn(void *arg, const struct err *e)
{
	struct rjob *rj = arg;
	struct err *e2 = NULL;
	if (e || rj->s->closing) {
		if (!e)
			err_set(&e2, ERR_UNAVAILABLE, "cancelled");
		rj->attempts++;
		rjob_resolve_fail(rj, e ? e : e2);
		err_free(e2);
		return;
	}
	rjob_get(rj, rj->ref.digest ? rj->ref.digest : rj->ref.tag);
}

static void on_retry(uv_timer_t *t)
{
	rjob_start(t->data);
}

static void rjob_start(struct rjob *rj)
{
	rj->index = false;
	conn_ready(rj->conn, on_rjob_conn, rj);
}

/* The manifest for this host's platform in index m, or NULL with *err. */
static const struct reg_descriptor *pick(struct image_store *s, const struct reg_manifest *m,
					 const char *digest, struct err **err)
{
	for (size_t i = 0; i < m->nitems; i++) {
		const struct reg_descriptor *d = &m->items[i];
		if (d->os && strcmp(d->os, "linux") == 0 && d->architecture &&
		    strcmp(d->architecture, s->arch) == 0) {
			if (strcmp(d->media_type, REG_MT_OCI_MANIFEST) != 0 &&
			    strcmp(d->media_type, REG_MT_DOCKER_MANIFEST) != 0) {
				err_set(err, ERR_UNSUPPORTED,
					"index %s: the linux/%s entry is a %s, not a manifest", digest,
					s->arch, d->media_type);
				return NULL;
			}
			if (!is_sha256(d->digest)) {
				err_set(err, ERR_UNSUPPORTED, "index %s: only sha256 digests are supported",
					digest);
				return NULL;
			}
			return d;
		}
	}
	err_set(err, ERR_IMAGE_NOT_FOUND, "no match for platform linux/%s in index %s", s->arch, digest);
	return NULL;
}

static void on_manifest(void *arg, const struct regclient_result *r)
{
	struct rjob *rj = arg;
	struct image_store *s = rj->s;
	struct err *e = NULL;
	struct reg_manifest *m = NULL;
	if (!s->closing)
		s->stats.manifest_gets++;
	if (r->err) {
		conn_refused(rj->conn, r->err);
		if (r->err->kind == ERR_UNAVAILABLE && !s->closing && !rj->index &&
		    rj->attempts <= (unsigned)s->o.retries) {
			uint64_t delay = (uint64_t)s->o.retry_delay_ms
					 << (rj->attempts - 1 < 16 ? rj->attempts - 1 : 16);
			log_debug("image store: %s: %s; retrying in %llu ms", rj->name, r->err->msg,
				  (unsigned long long)delay);
			uv_timer_start(&rj->timer, on_retry, delay, 0);
			return;
		}
		rjob_resolve_fail(rj, r->err);
		return;
	}
	if (s->closing) {
		err_set(&e, ERR_UNAVAILABLE, "cancelled");
		goto fail;
	}
	/* By digest: the bytes must be those (regclient hashed them). */
	const char *want = rj->index ? rj->platform : rj->ref.digest;
	if (want && strcmp(want, r->digest) != 0) {
		err_set(&e, ERR_INVALID_PARAM, "the manifest's bytes hash to %s", r->digest);
		goto fail;
	}
	m = reg_manifest_parse(r->body, r->len, r->media_type, &e);
	if (!m) {
		err_prefix(&e, "manifest %s", r->digest);
		goto fail;
	}
	bool index = m->kind == REG_KIND_OCI_INDEX || m->kind == REG_KIND_DOCKER_LIST;
	if (index && rj->index) {
		err_set(&e, ERR_UNSUPPORTED, "index %s lists another index for linux/%s", r->digest, s->arch);
		goto fail;
	}
	if (index) {
		const struct reg_descriptor *d = pick(s, m, r->digest, &e);
		if (!d)
			goto fail;
		struct img *im = hmap_get(s->imgs, d->digest);
		if (im) {
			reg_manifest_free(m);
			rjob_finish(rj, im, NULL);
			return;
		}
		free(rj->platform);
		rj->platform = xstrdup(d->digest);
		reg_manifest_free(m);
		rj->index = true;
		rjob_get(rj, rj->platform);
		return;
	}
	struct img *im = hmap_get(s->imgs, r->digest);
	if (im) {
		reg_manifest_free(m);
		rjob_finish(rj, im, NULL);
		return;
	}
	if (manifest_check(m, &e) < 0) {
		err_prefix(&e, "manifest %s", r->digest);
		goto fail;
	}
	char *bytes = xmalloc(r->len ? r->len : 1);
	memcpy(bytes, r->body, r->len);
	ijob_join(rj, r->digest, bytes, r->len, m);
	return;
fail:
	reg_manifest_free(m);
	err_prefix(&e, "pull image manifest has been retried %u time(s): failed to resolve ref %s",
		   rj->attempts, rj->name);
	rjob_finish(rj, NULL, e);
	err_free(e);
}

/* The reference's key and display name: "host/repo:tag" or "host/repo@digest" (a digest wins). */
static char *ref_key(const struct reg_image_ref *r)
{
	if (r->digest)
		return xasprintf("%s/%s@%s", r->registry, r->repository, r->digest);
	return xasprintf("%s/%s:%s", r->registry, r->repository, r->tag);
}

static char *ref_name(const struct reg_image_ref *r)
{
	if (r->digest && r->tag)
		return xasprintf("%s/%s:%s@%s", r->registry, r->repository, r->tag, r->digest);
	return ref_key(r);
}

struct image_pull *image_pull(struct image_store *s, const char *ref, image_pull_fn done, void *arg,
			      struct err **err)
{
	struct reg_image_ref r = {0};
	struct err *e = NULL;
	if (s->closing) {
		err_set(err, ERR_UNAVAILABLE, "the image store is closing");
		return NULL;
	}
	if (reg_image_ref_parse(ref, &r, &e) < 0) {
		err_set(err, e->kind, "invalid reference format: %s", e->msg);
		err_free(e);
		return NULL;
	}
	if (r.digest && !is_sha256(r.digest)) {
		err_set(err, ERR_UNSUPPORTED,
			"invalid reference format: %s: only sha256 digests are supported", ref);
		reg_image_ref_release(&r);
		return NULL;
	}
	struct image_pull *p = xcalloc(1, sizeof(*p));
	p->s = s;
	p->done = done;
	p->arg = arg;
	char *key = ref_key(&r);
	struct img *im = cached(s, key, &r, s->o.policy == IMAGE_PULL_PREFER_CACHED);
	if (im) {
		deliver(p, im, NULL);
		free(key);
		reg_image_ref_release(&r);
		return p;
	}
	struct rjob *rj = hmap_get(s->rjobs, key);
	bool created = !rj;
	if (rj) {
		free(key);
		reg_image_ref_release(&r);
	} else {
		rj = xcalloc(1, sizeof(*rj));
		rj->s = s;
		rj->key = key;
		rj->ref = r;
		rj->name = ref_name(&r);
		rj->conn = conn_get(s, r.registry);
		uv_timer_init(s->loop, &rj->timer);
		rj->timer.data = rj;
		s->handles++;
		hmap_put(s->rjobs, key, rj);
	}
	p->rj = rj;
	p->next = rj->waiters;
	if (rj->waiters)
		rj->waiters->prev = p;
	rj->waiters = p;
	if (created)
		rjob_start(rj);
	return p;
}

void image_pull_cancel(struct image_pull *p)
{
	if (!p)
		return;
	struct image_store *s = p->s;
	if (p->rj) {
		if (p->prev)
			p->prev->next = p->next;
		else
			p->rj->waiters = p->next;
		if (p->next)
			p->next->prev = p->prev;
	} else {
		if (p->prev)
			p->prev->next = p->next;
		else
			s->dhead = p->next;
		if (p->next)
			p->next->prev = p->prev;
		else
			s->dtail = p->prev;
		if (p->img)
			image_unuse(s, &p->img->pub);
		err_free(p->err);
	}
	struct err *e = NULL;
	err_set(&e, ERR_UNAVAILABLE, "cancelled");
	p->done(p->arg, NULL, e);
	err_free(e);
	free(p);
}

const struct image *image_use(struct image_store *s, const struct image *img)
{
	(void)s;
	struct img *im = (struct img *)img;
	im->refs++;
	return img;
}

void image_unuse(struct image_store *s, const struct image *img)
{
	if (!img)
		return;
	struct img *im = (struct img *)img;
	if (im->refs > 0 && --im->refs == 0)
		im->last_used = now_s(s);
}

const struct image *image_find(struct image_store *s, const char *ref)
{
	struct reg_image_ref r = {0};
	struct err *e = NULL;
	if (reg_image_ref_parse(ref, &r, &e) < 0) {
		err_free(e);
		return NULL;
	}
	char *key = ref_key(&r);
	struct img *im = cached(s, key, &r, true);
	free(key);
	reg_image_ref_release(&r);
	return im ? &im->pub : NULL;
}

struct image_stats image_store_stats(const struct image_store *s)
{
	return s->stats;
}

unsigned image_gc(struct image_store *s, double unused_for_s)
{
	unsigned n = 0;
	double now = now_s(s);
	if (s->closing)
		return 0;
	for (;;) {
		struct img *victim = NULL;
		const char *k;
		void *v;
		for (size_t it = 0; hmap_next(s->imgs, &it, &k, &v) && !victim;) {
			struct img *im = v;
			if (im->refs == 0 && now - im->last_used >= unused_for_s)
				victim = im;
		}
		if (!victim)
			break;
		log_info("image store: removing image %s (unused for %.0f s)", victim->digest,
			 now - victim->last_used);
		img_remove(s, victim);
		n++;
	}
	return n;
}

static void on_gc_timer(uv_timer_t *t)
{
	struct image_store *s = t->data;
	image_gc(s, s->o.unused_for_s);
}

/* ---- opening ---- */

/* Reads DIR/layers/sha256/<hex>; a layer that is not whole goes to the trash. */
static void load_layer(struct image_store *s, const char *hex)
{
	char *dir = xasprintf("%s/sha256/%s", s->layers_dir, hex);
	char *meta = xasprintf("%s/layer.json", dir);
	char *fs = xasprintf("%s/fs", dir);
	char *text = NULL;
	size_t len = 0;
	json_t *j = NULL;
	struct err *e = NULL;
	struct stat st;
	const char *digest = NULL, *diff = NULL;
	bool ok = is_hex64(hex) && read_file(meta, IMAGE_RECORD_MAX, &text, &len, &e) == 0 &&
		  (j = jv_parse(text, len, &e)) && jv_str(j, "digest", true, &digest, &e) == 0 &&
		  jv_str(j, "diffId", true, &diff, &e) == 0;
	ok = ok && is_sha256(digest) && strcmp(hex_of(digest), hex) == 0 && is_sha256(diff);
	ok = ok && lstat(fs, &st) == 0 && S_ISDIR(st.st_mode);
	if (!ok) {
		log_warn("image store: removing %s: not a whole layer%s%s", dir, e ? ": " : "",
			 e ? e->msg : "");
		trash_path(s, dir);
	} else {
		struct layer *l = xcalloc(1, sizeof(*l));
		l->s = s;
		l->digest = xstrdup(digest);
		l->dir = dir;
		l->fs = fs;
		dir = fs = NULL;
		snprintf(l->diff_id, sizeof(l->diff_id), "%s", diff);
		l->ready = true;
		l->in_map = true;
		hmap_put(s->lmap, l->digest, l);
	}
	err_free(e);
	json_decref(j);
	free(text);
	free(meta);
	free(fs);
	free(dir);
}

/* Reads DIR/images/<name>; a record whose config or layers are missing is removed. */
static void load_image(struct image_store *s, const char *name)
{
	char *path = xasprintf("%s/%s", s->images, name);
	char *text = NULL, *cfg_text = NULL, *cfg_path = NULL;
	size_t len = 0, clen = 0;
	json_t *j = NULL, *layers = NULL;
	struct err *e = NULL;
	struct reg_config *cfg = NULL;
	struct layer **ls = NULL;
	const char *digest = NULL, *mt = NULL, *config = NULL;
	char hex[HEX_LEN + 1];
	size_t n = strlen(name);
	if (n != HEX_LEN + 5 || strcmp(name + HEX_LEN, ".json") != 0) {
		err_set(&e, ERR_INVALID_PARAM, "not an image record");
		goto bad;
	}
	if (read_file(path, IMAGE_RECORD_MAX, &text, &len, &e) < 0 || !(j = jv_parse(text, len, &e)) ||
	    jv_str(j, "digest", true, &digest, &e) < 0 || jv_str(j, "mediaType", true, &mt, &e) < 0 ||
	    jv_str(j, "config", true, &config, &e) < 0 || jv_str_array(j, "layers", true, &layers, &e) < 0)
		goto bad;
	if (!is_sha256(digest) || strncmp(digest + 7, name, HEX_LEN) != 0 || !is_sha256(config)) {
		err_set(&e, ERR_INVALID_PARAM,
			"digest or config is not a sha256 digest of the record's name");
		goto bad;
	}
	cfg_path = xasprintf("%s/%s", s->blobs, hex_of(config));
	if (read_file(cfg_path, REG_CONFIG_MAX, &cfg_text, &clen, &e) < 0)
		goto bad;
	sha256_hex(cfg_text, clen, hex);
	if (strcmp(hex, hex_of(config)) != 0) {
		err_set(&e, ERR_INVALID_PARAM, "config %s: the file's bytes hash to sha256:%s", config, hex);
		goto bad;
	}
	if (!(cfg = reg_config_parse(cfg_text, clen, &e)))
		goto bad;
	size_t nl = json_array_size(layers);
	if (nl != cfg->ndiff_ids) {
		err_set(&e, ERR_INVALID_PARAM, "%zu layers for %zu diff_ids", nl, cfg->ndiff_ids);
		goto bad;
	}
	ls = xcalloc(nl ? nl : 1, sizeof(*ls));
	for (size_t i = 0; i < nl; i++) {
		const char *ld = json_string_value(json_array_get(layers, i));
		ls[i] = hmap_get(s->lmap, ld);
		if (!ls[i] || strcmp(ls[i]->diff_id, cfg->diff_ids[i]) != 0) {
			err_set(&e, ERR_INVALID_PARAM, "layer %s is missing or not the config's", ld);
			goto bad;
		}
	}
	img_new(s, digest, mt, config, cfg, ls, nl);
	cfg = NULL;
	goto out;
bad:
	log_warn("image store: removing %s: %s", path, e ? e->msg : "unreadable");
	unlink(path);
out:
	err_free(e);
	reg_config_free(cfg);
	free(ls);
	json_decref(j);
	free(text);
	free(cfg_text);
	free(cfg_path);
	free(path);
}

static void load_refs(struct image_store *s)
{
	char *text = NULL;
	size_t len = 0;
	struct err *e = NULL;
	if (read_file(s->refs_path, IMAGE_REFS_MAX, &text, &len, &e) < 0) {
		int missing = e->kind == ERR_SYS && e->sys_errno == ENOENT;
		if (!missing)
			log_warn("image store: forgetting the references pulled before: %s", e->msg);
		err_free(e);
		return;
	}
	json_t *j = jv_parse(text, len, &e);
	const char *k;
	json_t *v;
	bool dropped = false;
	json_object_foreach (j, k, v) {
		const char *d = json_string_value(v);
		if (d && hmap_get(s->imgs, d))
			free(hmap_put(s->refs, k, xstrdup(d)));
		else
			dropped = true;
	}
	if (!j) {
		log_warn("image store: forgetting the references pulled before: %s", e->msg);
		dropped = true;
	}
	if (dropped)
		refs_save(s);
	err_free(e);
	json_decref(j);
	free(text);
}

/* Lists the names in dir (without . and ..). Returns a NULL-terminated array, or NULL with *err. */
static char **list_dir(const char *dir, struct err **err)
{
	DIR *d = opendir(dir);
	if (!d) {
		err_sys(err, errno, "read %s", dir);
		return NULL;
	}
	size_t n = 0, cap = 16;
	char **names = xcalloc(cap, sizeof(*names));
	struct dirent *de;
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (n + 1 >= cap) {
			cap *= 2;
			names = xrealloc(names, cap * sizeof(*names));
		}
		names[n++] = xstrdup(de->d_name);
	}
	names[n] = NULL;
	closedir(d);
	return names;
}

static void names_free(char **names)
{
	for (size_t i = 0; names && names[i]; i++)
		free(names[i]);
	free(names);
}

static int store_load(struct image_store *s, struct err **err)
{
	char *sha = xasprintf("%s/sha256", s->layers_dir);
	char **names = NULL;
	int rc = -1;
	/* Unpacks a crash interrupted. */
	char **tmps = list_dir(s->tmp, err);
	if (!tmps)
		goto out;
	for (size_t i = 0; tmps[i]; i++) {
		char *p = xasprintf("%s/%s", s->tmp, tmps[i]);
		trash_path(s, p);
		free(p);
	}
	names_free(tmps);
	if (!(names = list_dir(sha, err)))
		goto out;
	for (size_t i = 0; names[i]; i++)
		load_layer(s, names[i]);
	names_free(names);
	if (!(names = list_dir(s->images, err)))
		goto out;
	for (size_t i = 0; names[i]; i++)
		load_image(s, names[i]);
	names_free(names);
	/* Layers no image has: a pull that did not finish. */
	for (bool again = true; again;) {
		again = false;
		const char *k;
		void *v;
		for (size_t it = 0; hmap_next(s->lmap, &it, &k, &v);) {
			struct layer *l = v;
			if (l->images == 0) {
				layer_maybe_drop(l);
				again = true;
				break;
			}
		}
	}
	/* Blobs no image has: downloads a crash interrupted, configs and manifests of removed images. */
	names = list_dir(s->blobs, err);
	if (!names)
		goto out;
	for (size_t i = 0; names[i]; i++) {
		char *digest = xasprintf("sha256:%s", names[i]);
		bool keep = hmap_get(s->imgs, digest) != NULL;
		const char *k;
		void *v;
		for (size_t it = 0; !keep && hmap_next(s->imgs, &it, &k, &v);)
			keep = strcmp(((struct img *)v)->config_digest, digest) == 0;
		if (!keep) {
			char *p = xasprintf("%s/%s", s->blobs, names[i]);
			unlink(p);
			free(p);
		}
		free(digest);
	}
	load_refs(s);
	memset(&s->stats, 0, sizeof(s->stats)); /* what opening removed is not the store's doing */
	rc = 0;
out:
	names_free(names);
	free(sha);
	return rc;
}

static const char *host_arch(char *buf, size_t n)
{
	struct utsname u;
	if (uname(&u) != 0)
		return "amd64";
	if (strcmp(u.machine, "x86_64") == 0)
		return "amd64";
	if (strcmp(u.machine, "aarch64") == 0 || strcmp(u.machine, "arm64") == 0)
		return "arm64";
	snprintf(buf, n, "%s", u.machine);
	return buf;
}

struct image_store *image_store_new(uv_loop_t *loop, struct hcli *http, const char *dir,
				    const struct image_store_opts *o, struct err **err)
{
	struct image_store_opts dflt = {0};
	char arch[80];
	struct image_store *s = xcalloc(1, sizeof(*s));
	s->loop = loop;
	s->http = http;
	s->o = o ? *o : dflt;
	if (s->o.unused_for_s <= 0)
		s->o.unused_for_s = IMAGE_UNUSED_FOR_S_DEFAULT;
	if (s->o.gc_interval_s == 0)
		s->o.gc_interval_s = IMAGE_GC_INTERVAL_S_DEFAULT;
	if (s->o.downloads == 0)
		s->o.downloads = IMAGE_DOWNLOADS_DEFAULT;
	if (s->o.retries == 0)
		s->o.retries = IMAGE_RETRIES_DEFAULT;
	else if (s->o.retries < 0)
		s->o.retries = 0;
	if (s->o.retry_delay_ms == 0)
		s->o.retry_delay_ms = IMAGE_RETRY_DELAY_MS;
	s->arch = xstrdup(s->o.arch ? s->o.arch : host_arch(arch, sizeof(arch)));
	s->o.arch = s->arch;
	s->insecure = xcalloc(s->o.ninsecure + 1, sizeof(*s->insecure));
	for (size_t i = 0; i < s->o.ninsecure; i++)
		s->insecure[i] = xstrdup(s->o.insecure[i]);
	s->o.insecure = (const char *const *)s->insecure;
	if (s->o.server) {
		const char *sep = strstr(s->o.server, "://");
		if (sep) {
			s->server_scheme = xstrndup(s->o.server, (size_t)(sep - s->o.server));
			s->server_host = xstrndup(sep + 3, strcspn(sep + 3, "/?#"));
		}
		s->o.server = xstrdup(s->o.server);
	}
	s->dir = xstrdup(dir);
	s->blobs = xasprintf("%s/blobs/sha256", dir);
	s->layers_dir = xasprintf("%s/layers", dir);
	s->images = xasprintf("%s/images", dir);
	s->tmp = xasprintf("%s/tmp", dir);
	s->trash = xasprintf("%s/trash", dir);
	s->refs_path = xasprintf("%s/refs.json", dir);
	s->imgs = hmap_new();
	s->refs = hmap_new();
	s->lmap = hmap_new();
	s->rjobs = hmap_new();
	s->ijobs = hmap_new();
	s->conns = hmap_new();
	uv_timer_init(loop, &s->deliver);
	uv_timer_init(loop, &s->gc);
	s->deliver.data = s->gc.data = s;
	s->handles = 2;
	char *blobs_parent = xasprintf("%s/blobs", dir);
	char *layers_sha = xasprintf("%s/sha256", s->layers_dir);
	int rc = -1;
	if (mkdir_one(dir, 0700, err) < 0 || mkdir_one(blobs_parent, 0700, err) < 0 ||
	    mkdir_one(s->blobs, 0700, err) < 0 || mkdir_one(s->layers_dir, 0700, err) < 0 ||
	    mkdir_one(layers_sha, 0700, err) < 0 || mkdir_one(s->images, 0700, err) < 0 ||
	    mkdir_one(s->tmp, 0700, err) < 0 || mkdir_one(s->trash, 0700, err) < 0)
		goto out;
	if (store_load(s, err) < 0)
		goto out;
	/* Whatever an earlier life left in the trash. */
	remove_start(s);
	if (s->o.gc_interval_s > 0) {
		uint64_t ms = (uint64_t)(s->o.gc_interval_s * 1000);
		uv_timer_start(&s->gc, on_gc_timer, ms, ms);
		uv_unref((uv_handle_t *)&s->gc);
	}
	rc = 0;
out:
	free(blobs_parent);
	free(layers_sha);
	if (rc < 0) {
		err_prefix(err, "image store %s", dir);
		image_store_free(s);
		return NULL;
	}
	return s;
}

/* ---- closing ---- */

static void store_release(struct image_store *s)
{
	const char *k;
	void *v;
	for (size_t it = 0; hmap_next(s->imgs, &it, &k, &v);)
		img_free(v);
	for (size_t it = 0; hmap_next(s->lmap, &it, &k, &v);)
		layer_free(v);
	for (size_t it = 0; hmap_next(s->refs, &it, &k, &v);)
		free(v);
	for (size_t it = 0; hmap_next(s->conns, &it, &k, &v);)
		conn_free(v);
	hmap_free(s->imgs);
	hmap_free(s->refs);
	hmap_free(s->lmap);
	hmap_free(s->rjobs);
	hmap_free(s->ijobs);
	hmap_free(s->conns);
	for (size_t i = 0; i < s->o.ninsecure; i++)
		free(s->insecure[i]);
	free(s->insecure);
	free(s->arch);
	free((char *)s->o.server);
	free(s->server_scheme);
	free(s->server_host);
	free(s->dir);
	free(s->blobs);
	free(s->layers_dir);
	free(s->images);
	free(s->tmp);
	free(s->trash);
	free(s->refs_path);
	void (*done)(void *) = s->closed;
	void *arg = s->closed_arg;
	free(s);
	if (done)
		done(arg);
}

static void store_maybe_gone(struct image_store *s)
{
	if (s->closing && s->works == 0 && s->handles == 0)
		store_release(s);
}

static void on_store_timer_closed(uv_handle_t *h)
{
	struct image_store *s = h->data;
	s->handles--;
	store_maybe_gone(s);
}

void image_store_close(struct image_store *s, void (*done)(void *arg), void *arg)
{
	if (!s || s->closing)
		return;
	s->closing = true;
	s->closed = done;
	s->closed_arg = arg;
	struct err *e = NULL;
	err_set(&e, ERR_UNAVAILABLE, "cancelled");
	/* Callers first: nothing reaches them after this. */
	const char *k;
	void *v;
	for (size_t it = 0; hmap_next(s->rjobs, &it, &k, &v);) {
		struct rjob *rj = v;
		while (rj->waiters)
			image_pull_cancel(rj->waiters);
	}
	while (s->dhead)
		image_pull_cancel(s->dhead);
	/* Then the work in flight: every request ends now (its job fails and goes), the unpacks and
	 * writes on the thread pool end on their own. */
	for (size_t it = 0; hmap_next(s->conns, &it, &k, &v);) {
		struct conn *c = v;
		hcli_cancel(c->req);
		regclient_free(c->c);
		c->c = NULL;
	}
	while (s->qhead) {
		struct layer *l = s->qhead;
		s->qhead = l->qnext;
		l->qnext = NULL;
		l->queued = false;
		layer_fail(l, err_copy(e));
	}
	s->qtail = NULL;
	for (bool again = true; again;) {
		again = false;
		for (size_t it = 0; hmap_next(s->rjobs, &it, &k, &v);) {
			struct rjob *rj = v;
			if (uv_is_active((uv_handle_t *)&rj->timer)) {
				rjob_finish(rj, NULL, e);
				again = true;
				break;
			}
		}
	}
	err_free(e);
	uv_close((uv_handle_t *)&s->deliver, on_store_timer_closed);
	uv_close((uv_handle_t *)&s->gc, on_store_timer_closed);
}

void image_store_free(struct image_store *s)
{
	image_store_close(s, NULL, NULL);
}

int image_pull_policy_parse(const char *s, enum image_pull_policy *out, struct err **err)
{
	if (s && strcmp(s, "default") == 0)
		*out = IMAGE_PULL_DEFAULT;
	else if (s && strcmp(s, "always") == 0)
		*out = IMAGE_PULL_ALWAYS;
	else if (s && (strcmp(s, "once") == 0 || strcmp(s, "prefer-cached") == 0))
		*out = IMAGE_PULL_PREFER_CACHED;
	else
		return err_set(err, ERR_INVALID_PARAM,
			       "image pull behavior '%s' is not one of default, always, once, prefer-cached",
			       s ? s : "");
	return 0;
}
