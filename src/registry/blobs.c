/* The registry's blob store: content-addressed files, upload sessions hashed as the bytes arrive,
 * commits that make a blob visible only once verified and durable. */
#include "registry/blobs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/enc.h"
#include "common/hmap.h"
#include "common/ids.h"
#include "common/log.h"
#include "common/xalloc.h"

struct blobs {
	uv_loop_t *loop;
	char *dir;
	char *uploads;		 /* dir/uploads */
	struct hmap *open;	 /* id -> struct blobs_upload */
	struct hmap *committing; /* digest -> (uintptr_t) commits of it in flight */
};

struct blobs_upload {
	struct blobs *b;
	char id[37];
	char *owner;
	char *path;
	int fd;
	long long size;
	EVP_MD_CTX *md;
	double touched;
	void *writer;
};

/* A commit on the thread pool. */
struct commit {
	uv_work_t work;
	struct blobs *b;
	char *tmp;   /* the session's file */
	char *final; /* where the blob goes */
	char *final_dir;
	char digest[72];
	int fd;
	int sys_errno;
	const char *what;
	blobs_done_fn done;
	void *arg;
};

static int mkdir_p(const char *path, struct err **err)
{
	char *p = xstrdup(path);
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0700) != 0 && errno != EEXIST) {
			err_sys(err, errno, "create %s", p);
			free(p);
			return -1;
		}
		*s = '/';
	}
	int rc = 0;
	if (mkdir(p, 0700) != 0 && errno != EEXIST)
		rc = err_sys(err, errno, "create %s", p);
	free(p);
	return rc;
}

/* "sha256:<64 hex>" -> dir/sha256/<2>/<64>, or NULL for anything else. */
static char *blob_path(const struct blobs *b, const char *digest, char **parent)
{
	if (strncmp(digest, "sha256:", 7) != 0 || strlen(digest) != 7 + 64)
		return NULL;
	for (const char *h = digest + 7; *h; h++)
		if (!((*h >= '0' && *h <= '9') || (*h >= 'a' && *h <= 'f')))
			return NULL;
	if (parent)
		*parent = xasprintf("%s/sha256/%.2s", b->dir, digest + 7);
	return xasprintf("%s/sha256/%.2s/%s", b->dir, digest + 7, digest + 7);
}

static void fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

struct blobs *blobs_open(uv_loop_t *loop, const char *dir, struct err **err)
{
	struct blobs *b = xcalloc(1, sizeof(*b));
	b->loop = loop;
	b->dir = xstrdup(dir);
	b->uploads = xasprintf("%s/uploads", dir);
	b->open = hmap_new();
	b->committing = hmap_new();
	char *sha = xasprintf("%s/sha256", dir);
	int rc = mkdir_p(sha, err);
	free(sha);
	if (rc < 0 || mkdir_p(b->uploads, err) < 0) {
		blobs_close(b);
		return NULL;
	}
	/* Sessions of a previous process cannot be resumed (their hash state was in its memory):
	 * remove them, so a server killed mid-upload restarts clean. */
	DIR *d = opendir(b->uploads);
	if (d) {
		struct dirent *e;
		while ((e = readdir(d))) {
			if (e->d_name[0] == '.')
				continue;
			char *p = xasprintf("%s/%s", b->uploads, e->d_name);
			if (unlink(p) != 0)
				log_warn("registry: cannot remove the leftover upload %s: %s", p,
					 strerror(errno));
			free(p);
		}
		closedir(d);
	}
	return b;
}

static void upload_free(struct blobs_upload *u)
{
	if (!u)
		return;
	if (u->fd >= 0)
		close(u->fd);
	EVP_MD_CTX_free(u->md);
	free(u->owner);
	free(u->path);
	free(u);
}

void blobs_close(struct blobs *b)
{
	if (!b)
		return;
	const char *k;
	void *v;
	for (size_t it = 0; hmap_next(b->open, &it, &k, &v);) {
		struct blobs_upload *u = v;
		unlink(u->path);
		upload_free(u);
	}
	hmap_free(b->open);
	hmap_free(b->committing);
	free(b->uploads);
	free(b->dir);
	free(b);
}

long long blobs_size(struct blobs *b, const char *digest)
{
	char *p = blob_path(b, digest, NULL);
	struct stat st;
	long long n = p && stat(p, &st) == 0 && S_ISREG(st.st_mode) ? (long long)st.st_size : -1;
	free(p);
	return n;
}

int blobs_open_read(struct blobs *b, const char *digest, long long *size)
{
	char *p = blob_path(b, digest, NULL);
	int fd = p ? open(p, O_RDONLY | O_CLOEXEC) : -1;
	free(p);
	struct stat st;
	if (fd >= 0 && (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))) {
		close(fd);
		fd = -1;
	}
	if (fd >= 0)
		*size = (long long)st.st_size;
	return fd;
}

static void digest_of(EVP_MD_CTX *md, char out[72])
{
	unsigned char h[32];
	unsigned hn = 0;
	EVP_DigestFinal_ex(md, h, &hn);
	memcpy(out, "sha256:", 7);
	enc_hex(h, 32, out + 7);
	out[71] = '\0';
}

/* Writes all of p to fd. */
static int write_all(int fd, const void *p, size_t n)
{
	const char *s = p;
	while (n) {
		ssize_t w = write(fd, s, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Drops sessions nobody touched for BLOBS_UPLOAD_IDLE_S. */
static void expire_idle(struct blobs *b)
{
	double now = clock_now();
	for (;;) {
		struct blobs_upload *old = NULL;
		const char *k;
		void *v;
		for (size_t it = 0; hmap_next(b->open, &it, &k, &v);) {
			struct blobs_upload *u = v;
			if (!u->writer && now - u->touched > BLOBS_UPLOAD_IDLE_S) {
				old = u;
				break;
			}
		}
		if (!old)
			return;
		log_info("registry: upload %s expired after %d s idle", old->id, BLOBS_UPLOAD_IDLE_S);
		blobs_upload_cancel(old);
	}
}

struct blobs_upload *blobs_upload_new(struct blobs *b, const char *owner, struct err **err)
{
	if (hmap_size(b->open) >= BLOBS_UPLOADS_MAX)
		expire_idle(b);
	if (hmap_size(b->open) >= BLOBS_UPLOADS_MAX) {
		err_set(err, ERR_LIMIT_EXCEEDED, "too many uploads in progress (%d); finish or cancel some",
			BLOBS_UPLOADS_MAX);
		return NULL;
	}
	struct blobs_upload *u = xcalloc(1, sizeof(*u));
	u->b = b;
	ids_uuid(u->id);
	u->owner = xstrdup(owner);
	u->path = xasprintf("%s/%s", b->uploads, u->id);
	u->fd = open(u->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (u->fd < 0) {
		err_sys(err, errno, "create %s", u->path);
		upload_free(u);
		return NULL;
	}
	u->md = EVP_MD_CTX_new();
	EVP_DigestInit_ex(u->md, EVP_sha256(), NULL);
	u->touched = clock_now();
	hmap_put(b->open, u->id, u);
	return u;
}

struct blobs_upload *blobs_upload_find(struct blobs *b, const char *owner, const char *id)
{
	struct blobs_upload *u = hmap_get(b->open, id);
	if (!u || strcmp(u->owner, owner) != 0)
		return NULL;
	return u;
}

const char *blobs_upload_id(const struct blobs_upload *u)
{
	return u->id;
}

long long blobs_upload_size(const struct blobs_upload *u)
{
	return u->size;
}

void *blobs_upload_writer(const struct blobs_upload *u)
{
	return u->writer;
}

void blobs_upload_set_writer(struct blobs_upload *u, void *writer)
{
	u->writer = writer;
	u->touched = clock_now();
}

int blobs_upload_write(struct blobs_upload *u, const void *p, size_t n, struct err **err)
{
	if (u->size + (long long)n > BLOBS_SIZE_MAX)
		return err_set(err, ERR_TOO_LARGE, "the blob exceeds %lld bytes", (long long)BLOBS_SIZE_MAX);
	if (write_all(u->fd, p, n) < 0) {
		int e = errno;
		/* The file may now hold part of these bytes: truncate back, so size and hash still
		 * describe exactly what the session has (the client resumes from the reported size). */
		if (ftruncate(u->fd, u->size) != 0 || lseek(u->fd, u->size, SEEK_SET) < 0)
			log_warn("registry: upload %s: cannot truncate after a failed write", u->id);
		return err_sys(err, e, "write upload %s", u->id);
	}
	EVP_DigestUpdate(u->md, p, n);
	u->size += (long long)n;
	u->touched = clock_now();
	return 0;
}

static void unregister(struct blobs_upload *u)
{
	hmap_del(u->b->open, u->id);
}

void blobs_upload_cancel(struct blobs_upload *u)
{
	if (!u)
		return;
	unregister(u);
	unlink(u->path);
	upload_free(u);
}

static void commit_work(uv_work_t *w)
{
	struct commit *c = w->data;
	if (fsync(c->fd) != 0) {
		c->sys_errno = errno;
		c->what = "fsync";
		return;
	}
	struct err *e = NULL;
	if (mkdir_p(c->final_dir, &e) < 0) {
		c->sys_errno = e->sys_errno ? e->sys_errno : EIO;
		c->what = "create the blob directory";
		err_free(e);
		return;
	}
	if (rename(c->tmp, c->final) != 0) {
		c->sys_errno = errno;
		c->what = "rename";
		return;
	}
	fsync_dir(c->final_dir);
}

/* Commits of a digest in flight: while there is one, its file may appear at any moment, so the
 * collector leaves it alone. */
static void committing_add(struct blobs *b, const char *digest, int delta)
{
	uintptr_t n = (uintptr_t)hmap_get(b->committing, digest) + (uintptr_t)(intptr_t)delta;
	if (n)
		hmap_put(b->committing, digest, (void *)n);
	else
		hmap_del(b->committing, digest);
}

static void commit_after(uv_work_t *w, int status)
{
	struct commit *c = w->data;
	struct err *e = NULL;
	committing_add(c->b, c->digest, -1);
	if (status != 0)
		err_set(&e, ERR_INTERNAL, "blob commit cancelled");
	else if (c->sys_errno)
		err_sys(&e, c->sys_errno, "store blob: %s", c->what);
	if (e)
		unlink(c->tmp);
	close(c->fd);
	c->done(c->arg, e);
	free(c->tmp);
	free(c->final);
	free(c->final_dir);
	free(c);
}

void blobs_upload_commit(struct blobs_upload *u, const char *digest, blobs_done_fn done, void *arg)
{
	struct blobs *b = u->b;
	struct err *e = NULL;
	unregister(u);
	if (strncmp(digest, "sha256:", 7) != 0) {
		err_set(&e, ERR_UNSUPPORTED, "digest %.80s: only sha256 digests are supported", digest);
		goto fail;
	}
	char have[72];
	digest_of(u->md, have);
	if (strcmp(have, digest) != 0) {
		err_set(&e, ERR_INVALID_PARAM, "the uploaded content's digest is %s, not %.80s", have,
			digest);
		goto fail;
	}
	if (blobs_size(b, digest) >= 0) { /* stored already: the copy is not needed */
		unlink(u->path);
		upload_free(u);
		done(arg, NULL);
		return;
	}
	struct commit *c = xcalloc(1, sizeof(*c));
	c->work.data = c;
	c->b = b;
	c->tmp = u->path;
	u->path = NULL;
	c->final = blob_path(b, digest, &c->final_dir);
	c->fd = u->fd;
	u->fd = -1;
	c->done = done;
	c->arg = arg;
	snprintf(c->digest, sizeof(c->digest), "%s", digest);
	committing_add(b, digest, 1);
	upload_free(u);
	uv_queue_work(b->loop, &c->work, commit_work, commit_after);
	return;
fail:
	unlink(u->path);
	upload_free(u);
	done(arg, e);
}

/* A scan on the thread pool. */
struct scan {
	uv_work_t work;
	char *dir;	   /* DIR/sha256 */
	struct hmap *keep; /* owned */
	double min_age_s, now;
	json_t *found; /* built on the pool, handed to done on the loop */
	blobs_scan_fn done;
	void *arg;
};

static bool is_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return s[n] == '\0';
}

static void scan_work(uv_work_t *w)
{
	struct scan *s = w->data;
	DIR *top = opendir(s->dir);
	if (!top)
		return;
	s->found = json_array();
	struct dirent *e;
	while ((e = readdir(top))) {
		if (!is_hex(e->d_name, 2))
			continue;
		char *sub = xasprintf("%s/%s", s->dir, e->d_name);
		DIR *d = opendir(sub);
		struct dirent *f;
		while (d && (f = readdir(d))) {
			if (!is_hex(f->d_name, 64) || strncmp(f->d_name, e->d_name, 2) != 0)
				continue;
			char digest[72] = "sha256:";
			memcpy(digest + 7, f->d_name, 65); /* 64 hex digits and the NUL */
			struct stat st;
			if (hmap_get(s->keep, digest) || fstatat(dirfd(d), f->d_name, &st, 0) != 0 ||
			    !S_ISREG(st.st_mode) || s->now - (double)st.st_mtime < s->min_age_s)
				continue;
			json_array_append_new(s->found, json_string(digest));
		}
		if (d)
			closedir(d);
		free(sub);
	}
	closedir(top);
}

static void scan_after(uv_work_t *w, int status)
{
	struct scan *s = w->data;
	if (status != 0) {
		json_decref(s->found);
		s->found = NULL;
	}
	s->done(s->arg, s->found);
	hmap_free(s->keep);
	free(s->dir);
	free(s);
}

void blobs_scan(struct blobs *b, struct hmap *keep, double min_age_s, blobs_scan_fn done, void *arg)
{
	struct scan *s = xcalloc(1, sizeof(*s));
	s->work.data = s;
	s->dir = xasprintf("%s/sha256", b->dir);
	s->keep = keep;
	s->min_age_s = min_age_s;
	s->now = clock_now();
	s->done = done;
	s->arg = arg;
	uv_queue_work(b->loop, &s->work, scan_work, scan_after);
}

long long blobs_remove(struct blobs *b, const char *digest, struct err **err)
{
	if (hmap_get(b->committing, digest)) {
		err_set(err, ERR_UNAVAILABLE, "blob %s is being stored", digest);
		return -1;
	}
	char *p = blob_path(b, digest, NULL);
	struct stat st;
	long long n = -1;
	if (!p)
		err_set(err, ERR_INVALID_PARAM, "not a blob digest: %.80s", digest);
	else if (lstat(p, &st) != 0 || unlink(p) != 0)
		err_sys(err, errno, "remove blob %s", digest);
	else
		n = (long long)st.st_size;
	free(p);
	return n;
}
