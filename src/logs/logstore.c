/* The log event store: append-only segment files per stream, a sparse in-memory index rebuilt at
 * open, group-committed fdatasyncs on the thread pool, retention by whole-segment deletion. */
#include "logs/logstore.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "common/enc.h"
#include "common/hmap.h"
#include "common/log.h"
#include "common/xalloc.h"

/* A block of the sparse index is closed at LOGSTORE_BLOCK_EVENTS events or this many bytes, so a
 * reader never loads more than this plus one record to find an event. */
#define BLOCK_BYTES (64u * 1024)
/* The read size when scanning segments at open. */
#define SCAN_CHUNK (4u * 1024 * 1024)
#define TRASH	   ".trash"
#define NAME_FILE  "name"

struct blk {
	uint64_t off;
	uint64_t seq;
	uint32_t n;
	int64_t min_ts, max_ts;
};

struct seg {
	uint64_t id; /* sequence number of its first event */
	int fd;
	uint64_t size;
	uint64_t nevents;
	int64_t min_ts, max_ts, first_ingest, last_ingest;
	struct blk *blks;
	size_t nblks, cap;
};

struct logstore_stream {
	struct logstore *ls;
	char *gkey, *name, *key;
	char *gdir, *dir;
	struct seg *segs;
	size_t nsegs, cap;
	uint64_t next_seq;    /* the number the next appended event gets */
	uint64_t visible_seq; /* events below it are durable, and only those are read */
	bool has_dirs;	      /* its directories exist on disk */
	bool dirty;	      /* written since the last sync job was formed */
	bool dead;	      /* dropped; freed when the last reference goes */
	int refs;	      /* the map's reference, plus one per sync job / dirty list entry */
};

struct waiter {
	uint64_t gen;
	void (*cb)(void *arg);
	void *arg;
};

struct sync_job {
	uv_work_t work;
	struct logstore *ls;
	int *fds;
	size_t nfds;
	char **dirs;
	size_t ndirs;
	struct logstore_stream **sts;
	uint64_t *seqs;
	size_t nsts;
	uint64_t gen;
	int failed_errno;
};

struct logstore {
	uv_loop_t *loop;
	uv_idle_t idle;
	char *root;
	struct hmap *streams; /* "gkey\nname" -> stream */
	uint64_t seg_bytes;
	int64_t seg_age_ms;
	/* what the next sync job makes durable */
	int *fds;
	size_t nfds, fds_cap;
	char **dirs;
	size_t ndirs, dirs_cap;
	struct logstore_stream **dirty;
	size_t ndirty, dirty_cap;
	uint64_t gen, durable_gen; /* a generation counts appends (and other changes to sync) */
	struct waiter *waiters;
	size_t nwaiters, waiters_cap;
	struct sync_job *inflight;
	uint64_t trash_n;
};

static void sha_hex(const char *s, char out[65])
{
	unsigned char md[32];
	unsigned int n = 0;
	EVP_Digest(s, strlen(s), md, &n, EVP_sha256(), NULL);
	enc_hex(md, 32, out);
}

static void push_fd(struct logstore *ls, int fd)
{
	if (fd < 0)
		return;
	if (ls->nfds == ls->fds_cap) {
		ls->fds_cap = ls->fds_cap ? 2 * ls->fds_cap : 16;
		ls->fds = xrealloc(ls->fds, ls->fds_cap * sizeof(*ls->fds));
	}
	ls->fds[ls->nfds++] = fd;
}

static void push_dir(struct logstore *ls, const char *dir)
{
	for (size_t i = 0; i < ls->ndirs; i++)
		if (strcmp(ls->dirs[i], dir) == 0)
			return;
	if (ls->ndirs == ls->dirs_cap) {
		ls->dirs_cap = ls->dirs_cap ? 2 * ls->dirs_cap : 16;
		ls->dirs = xrealloc(ls->dirs, ls->dirs_cap * sizeof(*ls->dirs));
	}
	ls->dirs[ls->ndirs++] = xstrdup(dir);
}

static void seg_release(struct seg *g)
{
	if (g->fd >= 0)
		close(g->fd);
	g->fd = -1;
	free(g->blks);
	g->blks = NULL;
}

static void stream_unref(struct logstore_stream *st)
{
	if (--st->refs > 0)
		return;
	for (size_t i = 0; i < st->nsegs; i++)
		seg_release(&st->segs[i]);
	free(st->segs);
	free(st->gkey);
	free(st->name);
	free(st->key);
	free(st->gdir);
	free(st->dir);
	free(st);
}

static struct logstore_stream *stream_new(struct logstore *ls, const char *gkey, const char *name)
{
	struct logstore_stream *st = xcalloc(1, sizeof(*st));
	char gh[65], sh[65];
	sha_hex(gkey, gh);
	sha_hex(name, sh);
	st->ls = ls;
	st->gkey = xstrdup(gkey);
	st->name = xstrdup(name);
	st->key = xasprintf("%s\n%s", gkey, name);
	st->gdir = xasprintf("%s/%s", ls->root, gh);
	st->dir = xasprintf("%s/%s", st->gdir, sh);
	st->refs = 1;
	hmap_put(ls->streams, st->key, st);
	return st;
}

/* --- durability --- */

static void run_waiters(struct logstore *ls)
{
	size_t i = 0;
	while (i < ls->nwaiters && ls->waiters[i].gen <= ls->durable_gen)
		i++;
	if (i == 0)
		return;
	/* Callbacks may register new waiters: take the due ones out first. */
	struct waiter *due = xmalloc(i * sizeof(*due));
	memcpy(due, ls->waiters, i * sizeof(*due));
	memmove(ls->waiters, ls->waiters + i, (ls->nwaiters - i) * sizeof(*due));
	ls->nwaiters -= i;
	for (size_t k = 0; k < i; k++)
		due[k].cb(due[k].arg);
	free(due);
}

static struct sync_job *form_job(struct logstore *ls)
{
	struct sync_job *j = xcalloc(1, sizeof(*j));
	j->ls = ls;
	j->work.data = j;
	j->gen = ls->gen;
	j->sts = xmalloc((ls->ndirty ? ls->ndirty : 1) * sizeof(*j->sts));
	j->seqs = xmalloc((ls->ndirty ? ls->ndirty : 1) * sizeof(*j->seqs));
	for (size_t i = 0; i < ls->ndirty; i++) {
		struct logstore_stream *st = ls->dirty[i];
		st->dirty = false;
		if (!st->dead && st->nsegs > 0 && st->segs[st->nsegs - 1].fd >= 0)
			push_fd(ls, dup(st->segs[st->nsegs - 1].fd));
		j->sts[j->nsts] = st;
		j->seqs[j->nsts++] = st->next_seq;
	}
	ls->ndirty = 0;
	j->fds = ls->fds;
	j->nfds = ls->nfds;
	j->dirs = ls->dirs;
	j->ndirs = ls->ndirs;
	ls->fds = NULL;
	ls->nfds = ls->fds_cap = 0;
	ls->dirs = NULL;
	ls->ndirs = ls->dirs_cap = 0;
	return j;
}

/* On the thread pool: only the job's own copies are touched. */
static void job_work(uv_work_t *w)
{
	struct sync_job *j = w->data;
	for (size_t i = 0; i < j->nfds && !j->failed_errno; i++)
		if (fdatasync(j->fds[i]) != 0)
			j->failed_errno = errno;
	for (size_t i = 0; i < j->ndirs && !j->failed_errno; i++) {
		int fd = open(j->dirs[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		/* A directory dropped meanwhile needs no sync. */
		if (fd < 0) {
			if (errno != ENOENT)
				j->failed_errno = errno;
			continue;
		}
		if (fsync(fd) != 0)
			j->failed_errno = errno;
		close(fd);
	}
}

static void kick(struct logstore *ls);

static void job_done(struct sync_job *j)
{
	struct logstore *ls = j->ls;
	if (j->failed_errno) {
		/* Like the control-plane store: memory is ahead of disk for writes nobody has been told
		 * are durable; exiting lets a restart rebuild from what the disk holds. */
		log_error("logstore: fdatasync failed: %s; exiting", strerror(j->failed_errno));
		exit(EXIT_FAILURE);
	}
	for (size_t i = 0; i < j->nfds; i++)
		close(j->fds[i]);
	for (size_t i = 0; i < j->ndirs; i++)
		free(j->dirs[i]);
	for (size_t i = 0; i < j->nsts; i++) {
		if (j->seqs[i] > j->sts[i]->visible_seq)
			j->sts[i]->visible_seq = j->seqs[i];
		stream_unref(j->sts[i]);
	}
	ls->durable_gen = j->gen;
	free(j->fds);
	free(j->dirs);
	free(j->sts);
	free(j->seqs);
	free(j);
	ls->inflight = NULL;
	run_waiters(ls);
	if (ls->gen > ls->durable_gen)
		kick(ls);
}

static void job_after(uv_work_t *w, int status)
{
	(void)status;
	job_done(w->data);
}

static void on_idle(uv_idle_t *h)
{
	struct logstore *ls = h->data;
	uv_idle_stop(h);
	if (ls->inflight || ls->gen == ls->durable_gen)
		return;
	ls->inflight = form_job(ls);
	uv_queue_work(ls->loop, &ls->inflight->work, job_work, job_after);
}

static void kick(struct logstore *ls)
{
	if (ls->loop && !ls->inflight)
		uv_idle_start(&ls->idle, on_idle);
}

/* Records that something (an append, a new file or directory) must be synced. */
static void changed(struct logstore *ls)
{
	ls->gen++;
	kick(ls);
}

int logstore_flush(struct logstore *ls, struct err **err)
{
	(void)err;
	while (ls->inflight && ls->loop)
		uv_run(ls->loop, UV_RUN_ONCE);
	if (ls->gen > ls->durable_gen) {
		struct sync_job *j = form_job(ls);
		ls->inflight = j;
		job_work(&j->work);
		job_done(j);
	}
	return 0;
}

void logstore_when_durable(struct logstore *ls, void (*cb)(void *arg), void *arg)
{
	if (ls->gen == ls->durable_gen) {
		cb(arg);
		return;
	}
	if (ls->nwaiters == ls->waiters_cap) {
		ls->waiters_cap = ls->waiters_cap ? 2 * ls->waiters_cap : 16;
		ls->waiters = xrealloc(ls->waiters, ls->waiters_cap * sizeof(*ls->waiters));
	}
	ls->waiters[ls->nwaiters++] = (struct waiter){ls->gen, cb, arg};
}

/* --- records --- */

static uint32_t rec_crc(const unsigned char *hdr, const char *msg, size_t len)
{
	uLong c = crc32(0L, hdr + 8, 16);
	return (uint32_t)crc32(c, (const Bytef *)msg, (uInt)len);
}

static void rec_encode(unsigned char *out, int64_t ts, int64_t ingest, const char *msg, size_t len)
{
	uint32_t l = (uint32_t)len;
	memcpy(out, &l, 4);
	memcpy(out + 8, &ts, 8);
	memcpy(out + 16, &ingest, 8);
	memcpy(out + LOGSTORE_REC_HEADER, msg, len);
	uint32_t c = rec_crc(out, msg, len);
	memcpy(out + 4, &c, 4);
}

/* Decodes the record at p (avail bytes there). Returns its total size, 0 when it is incomplete
 * (more bytes needed: *need says how many in all), or -1 when it is corrupt. */
static long long rec_decode(const unsigned char *p, size_t avail, struct logstore_event *ev, size_t *need)
{
	if (avail < LOGSTORE_REC_HEADER) {
		*need = LOGSTORE_REC_HEADER;
		return 0;
	}
	uint32_t len, crc;
	memcpy(&len, p, 4);
	memcpy(&crc, p + 4, 4);
	if (len > LOGSTORE_MSG_MAX)
		return -1;
	if (avail < LOGSTORE_REC_HEADER + (size_t)len) {
		*need = LOGSTORE_REC_HEADER + (size_t)len;
		return 0;
	}
	const char *msg = (const char *)p + LOGSTORE_REC_HEADER;
	if (rec_crc(p, msg, len) != crc)
		return -1;
	memcpy(&ev->timestamp, p + 8, 8);
	memcpy(&ev->ingestion, p + 16, 8);
	ev->msg = msg;
	ev->len = len;
	return LOGSTORE_REC_HEADER + (long long)len;
}

static int pread_full(int fd, void *buf, size_t n, uint64_t off)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = pread(fd, (char *)buf + got, n - got, (off_t)(off + got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

/* Adds an event (at offset off, number seq) to segment g's index. */
static void index_event(struct seg *g, uint64_t off, uint64_t seq, int64_t ts, int64_t ingest)
{
	struct blk *b = g->nblks ? &g->blks[g->nblks - 1] : NULL;
	if (!b || b->n == LOGSTORE_BLOCK_EVENTS || off - b->off >= BLOCK_BYTES) {
		if (g->nblks == g->cap) {
			g->cap = g->cap ? 2 * g->cap : 16;
			g->blks = xrealloc(g->blks, g->cap * sizeof(*g->blks));
		}
		b = &g->blks[g->nblks++];
		*b = (struct blk){.off = off, .seq = seq, .min_ts = ts, .max_ts = ts};
	}
	b->n++;
	if (ts < b->min_ts)
		b->min_ts = ts;
	if (ts > b->max_ts)
		b->max_ts = ts;
	if (g->nevents == 0) {
		g->min_ts = g->max_ts = ts;
		g->first_ingest = ingest;
	}
	if (ts < g->min_ts)
		g->min_ts = ts;
	if (ts > g->max_ts)
		g->max_ts = ts;
	if (ingest > g->last_ingest)
		g->last_ingest = ingest;
	g->nevents++;
}

static struct seg *seg_push(struct logstore_stream *st, uint64_t id, int fd)
{
	if (st->nsegs == st->cap) {
		st->cap = st->cap ? 2 * st->cap : 4;
		st->segs = xrealloc(st->segs, st->cap * sizeof(*st->segs));
	}
	struct seg *g = &st->segs[st->nsegs++];
	memset(g, 0, sizeof(*g));
	g->id = id;
	g->fd = fd;
	return g;
}

/* Scans a segment at open, indexing its records; a torn or corrupt tail is cut off. */
static int scan_segment(struct logstore_stream *st, const char *path, uint64_t id, struct err **err)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return err_sys(err, errno, "open %s", path);
	struct stat sb;
	if (fstat(fd, &sb) != 0) {
		close(fd);
		return err_sys(err, errno, "stat %s", path);
	}
	uint64_t fsize = (uint64_t)sb.st_size;
	struct seg *g = seg_push(st, id, fd);
	size_t cap = SCAN_CHUNK;
	unsigned char *buf = xmalloc(cap);
	uint64_t off = 0, seq = id;
	bool torn = false;
	while (off < fsize) {
		size_t want = fsize - off < cap ? (size_t)(fsize - off) : cap;
		if (pread_full(fd, buf, want, off) < 0) {
			torn = true;
			break;
		}
		size_t pos = 0;
		for (;;) {
			struct logstore_event ev;
			size_t need = 0;
			long long r = rec_decode(buf + pos, want - pos, &ev, &need);
			if (r < 0) {
				torn = true;
				break;
			}
			if (r == 0) {
				if (off + pos + need > fsize) {
					torn = true; /* the file ends inside this record */
				} else if (need > cap) {
					cap = need;
					buf = xrealloc(buf, cap);
				}
				break;
			}
			index_event(g, off + pos, seq++, ev.timestamp, ev.ingestion);
			pos += (size_t)r;
		}
		off += pos;
		if (torn)
			break;
	}
	free(buf);
	if (off < fsize) {
		log_warn("logstore: %s: cutting a torn or corrupt tail at byte %" PRIu64 " of %" PRIu64, path,
			 off, fsize);
		if (ftruncate(fd, (off_t)off) != 0 || fdatasync(fd) != 0)
			return err_sys(err, errno, "truncate %s", path);
	}
	g->size = off;
	st->next_seq = seq;
	st->visible_seq = seq;
	return 0;
}

static char *read_name(const char *dir)
{
	char *path = xasprintf("%s/%s", dir, NAME_FILE);
	char *out = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	free(path);
	if (fd < 0)
		return NULL;
	char buf[2048];
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n > 0) {
		buf[n] = 0;
		out = xstrdup(buf);
	}
	return out;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int remove_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static int load_stream(struct logstore *ls, const char *gkey, const char *sdir, struct err **err)
{
	char *name = read_name(sdir);
	uint64_t *ids = NULL;
	size_t nids = 0, cap = 0;
	int rc = -1;
	DIR *d = NULL;
	if (!name) {
		/* Created but its name never became durable: nothing in it was acknowledged. */
		nftw(sdir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
		rc = 0;
		goto out;
	}
	d = opendir(sdir);
	if (!d) {
		err_sys(err, errno, "open %s", sdir);
		goto out;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);
		if (n != 20 || strcmp(de->d_name + 16, ".seg") != 0)
			continue;
		char *end;
		uint64_t id = strtoull(de->d_name, &end, 16);
		if (end != de->d_name + 16)
			continue;
		if (nids == cap) {
			cap = cap ? 2 * cap : 8;
			ids = xrealloc(ids, cap * sizeof(*ids));
		}
		ids[nids++] = id;
	}
	qsort(ids, nids, sizeof(*ids), cmp_u64);
	struct logstore_stream *st = stream_new(ls, gkey, name);
	st->has_dirs = true;
	for (size_t i = 0; i < nids; i++) {
		char *path = xasprintf("%s/%016" PRIx64 ".seg", sdir, ids[i]);
		int r = scan_segment(st, path, ids[i], err);
		free(path);
		if (r < 0)
			goto out;
	}
	rc = 0;
out:
	if (d)
		closedir(d);
	free(ids);
	free(name);
	return rc;
}

static int load_group(struct logstore *ls, const char *gdir, struct err **err)
{
	char *gkey = read_name(gdir);
	int rc = -1;
	DIR *d = NULL;
	if (!gkey) {
		nftw(gdir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
		return 0;
	}
	d = opendir(gdir);
	if (!d) {
		err_sys(err, errno, "open %s", gdir);
		goto out;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' || strcmp(de->d_name, NAME_FILE) == 0)
			continue;
		char *sdir = xasprintf("%s/%s", gdir, de->d_name);
		int r = load_stream(ls, gkey, sdir, err);
		free(sdir);
		if (r < 0)
			goto out;
	}
	rc = 0;
out:
	if (d)
		closedir(d);
	free(gkey);
	return rc;
}

struct logstore *logstore_open(uv_loop_t *loop, const char *dir, struct err **err)
{
	struct logstore *ls = xcalloc(1, sizeof(*ls));
	DIR *d = NULL;
	ls->loop = loop;
	ls->root = xstrdup(dir);
	ls->streams = hmap_new();
	ls->seg_bytes = LOGSTORE_SEG_BYTES;
	ls->seg_age_ms = LOGSTORE_SEG_AGE_MS;
	if (loop) {
		uv_idle_init(loop, &ls->idle);
		ls->idle.data = ls;
	}
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		err_sys(err, errno, "create %s", dir);
		goto fail;
	}
	/* Directories dropped before a crash: remove what is left of them. */
	char *trash = xasprintf("%s/%s", dir, TRASH);
	nftw(trash, remove_one, 16, FTW_DEPTH | FTW_PHYS);
	free(trash);
	d = opendir(dir);
	if (!d) {
		err_sys(err, errno, "open %s", dir);
		goto fail;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		char *gdir = xasprintf("%s/%s", dir, de->d_name);
		int r = load_group(ls, gdir, err);
		free(gdir);
		if (r < 0)
			goto fail;
	}
	closedir(d);
	return ls;
fail:
	if (d)
		closedir(d);
	logstore_close(ls);
	return NULL;
}

static void free_store(struct logstore *ls)
{
	size_t it = 0;
	const char *k;
	void *v;
	while (hmap_next(ls->streams, &it, &k, &v))
		stream_unref(v);
	hmap_free(ls->streams);
	for (size_t i = 0; i < ls->nfds; i++)
		close(ls->fds[i]);
	for (size_t i = 0; i < ls->ndirs; i++)
		free(ls->dirs[i]);
	for (size_t i = 0; i < ls->ndirty; i++)
		stream_unref(ls->dirty[i]);
	free(ls->fds);
	free(ls->dirs);
	free(ls->dirty);
	free(ls->waiters);
	free(ls->root);
	free(ls);
}

static void on_idle_closed(uv_handle_t *h)
{
	free_store(h->data);
}

void logstore_close(struct logstore *ls)
{
	if (!ls)
		return;
	logstore_flush(ls, NULL);
	if (ls->loop)
		uv_close((uv_handle_t *)&ls->idle, on_idle_closed);
	else
		free_store(ls);
}

void logstore_set_rotation(struct logstore *ls, uint64_t seg_bytes, int64_t seg_age_ms)
{
	ls->seg_bytes = seg_bytes;
	ls->seg_age_ms = seg_age_ms;
}

struct logstore_stream *logstore_stream(struct logstore *ls, const char *group_key, const char *name,
					bool create)
{
	char *key = xasprintf("%s\n%s", group_key, name);
	struct logstore_stream *st = hmap_get(ls->streams, key);
	free(key);
	if (!st && create)
		st = stream_new(ls, group_key, name);
	return st;
}

void logstore_foreach(struct logstore *ls,
		      void (*cb)(void *arg, const char *group_key, const char *name,
				 struct logstore_stream *st),
		      void *arg)
{
	/* Collect first: cb may drop (and so unmap) the stream it is given. */
	size_t n = hmap_size(ls->streams), i = 0, it = 0;
	struct logstore_stream **all = xmalloc((n ? n : 1) * sizeof(*all));
	const char *k;
	void *v;
	while (hmap_next(ls->streams, &it, &k, &v) && i < n)
		all[i++] = v;
	for (size_t j = 0; j < i; j++)
		cb(arg, all[j]->gkey, all[j]->name, all[j]);
	free(all);
}

/* Creates a file holding `name` in dir, to be synced with the next job. */
static int write_name(struct logstore *ls, const char *dir, const char *name, struct err **err)
{
	char *path = xasprintf("%s/%s", dir, NAME_FILE);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int rc = -1;
	if (fd < 0) {
		err_sys(err, errno, "create %s", path);
		goto out;
	}
	size_t n = strlen(name);
	if (write(fd, name, n) != (ssize_t)n) {
		err_sys(err, errno, "write %s", path);
		close(fd);
		goto out;
	}
	push_fd(ls, fd);
	rc = 0;
out:
	free(path);
	return rc;
}

static int make_dirs(struct logstore *ls, struct logstore_stream *st, struct err **err)
{
	if (st->has_dirs)
		return 0;
	if (mkdir(st->gdir, 0700) == 0) {
		if (write_name(ls, st->gdir, st->gkey, err) < 0)
			return -1;
		push_dir(ls, ls->root);
	} else if (errno != EEXIST) {
		return err_sys(err, errno, "create %s", st->gdir);
	}
	if (mkdir(st->dir, 0700) != 0 && errno != EEXIST)
		return err_sys(err, errno, "create %s", st->dir);
	if (write_name(ls, st->dir, st->name, err) < 0)
		return -1;
	push_dir(ls, st->gdir);
	push_dir(ls, st->dir);
	st->has_dirs = true;
	return 0;
}

static int new_segment(struct logstore *ls, struct logstore_stream *st, struct err **err)
{
	if (make_dirs(ls, st, err) < 0)
		return -1;
	char *path = xasprintf("%s/%016" PRIx64 ".seg", st->dir, st->next_seq);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		err_sys(err, errno, "create %s", path);
		free(path);
		return -1;
	}
	free(path);
	if (st->nsegs > 0 && st->segs[st->nsegs - 1].fd >= 0 && st->dirty)
		/* The old segment's last writes still need their fdatasync. */
		push_fd(ls, dup(st->segs[st->nsegs - 1].fd));
	seg_push(st, st->next_seq, fd);
	push_dir(ls, st->dir);
	return 0;
}

int logstore_append(struct logstore *ls, struct logstore_stream *st, const struct logstore_in *ev, size_t n,
		    int64_t ingest, struct err **err)
{
	size_t total = 0;
	for (size_t i = 0; i < n; i++) {
		if (ev[i].len > LOGSTORE_MSG_MAX)
			return err_set(err, ERR_INVALID_PARAM, "a log event is larger than %u bytes",
				       LOGSTORE_MSG_MAX);
		total += LOGSTORE_REC_HEADER + ev[i].len;
	}
	struct seg *g = st->nsegs ? &st->segs[st->nsegs - 1] : NULL;
	bool rotate = !g || g->fd < 0 || (g->size > 0 && g->size + total > ls->seg_bytes) ||
		      (g->nevents > 0 && ingest - g->first_ingest >= ls->seg_age_ms);
	if (rotate) {
		if (new_segment(ls, st, err) < 0)
			return -1;
		g = &st->segs[st->nsegs - 1];
	}
	unsigned char *buf = xmalloc(total ? total : 1);
	size_t pos = 0;
	for (size_t i = 0; i < n; i++) {
		rec_encode(buf + pos, ev[i].timestamp, ingest, ev[i].msg, ev[i].len);
		pos += LOGSTORE_REC_HEADER + ev[i].len;
	}
	size_t done = 0;
	while (done < total) {
		ssize_t w = pwrite(g->fd, buf + done, total - done, (off_t)(g->size + done));
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			err_sys(err, w < 0 ? errno : ENOSPC, "write to log stream %s", st->name);
			/* Take back the part that was written, so the segment stays a list of whole
			 * records. */
			if (ftruncate(g->fd, (off_t)g->size) != 0)
				log_warn("logstore: cannot truncate a failed write: %s", strerror(errno));
			free(buf);
			changed(ls);
			return -1;
		}
		done += (size_t)w;
	}
	free(buf);
	uint64_t off = g->size;
	for (size_t i = 0; i < n; i++) {
		index_event(g, off, st->next_seq++, ev[i].timestamp, ingest);
		off += LOGSTORE_REC_HEADER + ev[i].len;
	}
	g->size = off;
	if (!st->dirty) {
		st->dirty = true;
		st->refs++;
		if (ls->ndirty == ls->dirty_cap) {
			ls->dirty_cap = ls->dirty_cap ? 2 * ls->dirty_cap : 16;
			ls->dirty = xrealloc(ls->dirty, ls->dirty_cap * sizeof(*ls->dirty));
		}
		ls->dirty[ls->ndirty++] = st;
	}
	changed(ls);
	return 0;
}

static void remove_work(uv_work_t *w)
{
	nftw(w->data, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void remove_after(uv_work_t *w, int status)
{
	(void)status;
	free(w->data);
	free(w);
}

/* Moves path out of the way (atomically) and removes it in the background. */
static void trash(struct logstore *ls, const char *path)
{
	char *tdir = xasprintf("%s/%s", ls->root, TRASH);
	char *dst = xasprintf("%s/%" PRIu64 "-%d", tdir, ++ls->trash_n, (int)getpid());
	if (mkdir(tdir, 0700) != 0 && errno != EEXIST)
		log_warn("logstore: create %s: %s", tdir, strerror(errno));
	if (rename(path, dst) != 0) {
		if (errno != ENOENT)
			log_warn("logstore: cannot move %s away: %s", path, strerror(errno));
		free(dst);
		free(tdir);
		return;
	}
	/* The rename must reach the disk, or the data could come back after a crash. */
	char *parent = xstrndup(path, (size_t)(strrchr(path, '/') - path));
	push_dir(ls, parent);
	free(parent);
	changed(ls);
	free(tdir);
	if (ls->loop) {
		uv_work_t *w = xcalloc(1, sizeof(*w));
		w->data = dst;
		uv_queue_work(ls->loop, w, remove_work, remove_after);
	} else {
		nftw(dst, remove_one, 16, FTW_DEPTH | FTW_PHYS);
		free(dst);
	}
}

void logstore_drop_stream(struct logstore *ls, struct logstore_stream *st)
{
	if (st->has_dirs)
		trash(ls, st->dir);
	for (size_t i = 0; i < st->nsegs; i++)
		seg_release(&st->segs[i]);
	st->nsegs = 0;
	st->dead = true;
	hmap_del(ls->streams, st->key);
	stream_unref(st);
}

size_t logstore_expire(struct logstore *ls, struct logstore_stream *st, int64_t cutoff_ms)
{
	size_t kept = 0, dropped = 0;
	for (size_t i = 0; i < st->nsegs; i++) {
		struct seg *g = &st->segs[i];
		bool old = g->nevents > 0 && g->max_ts < cutoff_ms && g->id + g->nevents <= st->visible_seq &&
			   !(st->dirty && i == st->nsegs - 1);
		if (!old) {
			st->segs[kept++] = *g;
			continue;
		}
		char *path = xasprintf("%s/%016" PRIx64 ".seg", st->dir, g->id);
		if (unlink(path) != 0)
			log_warn("logstore: remove %s: %s", path, strerror(errno));
		free(path);
		seg_release(g);
		dropped++;
	}
	st->nsegs = kept;
	if (dropped) {
		push_dir(ls, st->dir);
		changed(ls);
	}
	return dropped;
}

void logstore_info(const struct logstore_stream *st, struct logstore_info *info)
{
	memset(info, 0, sizeof(*info));
	info->next_seq = st->visible_seq;
	bool any = false;
	for (size_t i = 0; i < st->nsegs; i++) {
		const struct seg *g = &st->segs[i];
		info->bytes += g->size;
		if (g->nevents == 0)
			continue;
		info->events += g->nevents;
		if (!any || g->min_ts < info->first_ts)
			info->first_ts = g->min_ts;
		if (!any || g->max_ts > info->last_ts)
			info->last_ts = g->max_ts;
		if (g->last_ingest > info->last_ingest)
			info->last_ingest = g->last_ingest;
		any = true;
	}
}

/* --- reading --- */

struct logstore_iter {
	struct logstore_stream *st;
	uint64_t from, limit;
	int64_t start, end;
	size_t si, bi;
	unsigned char *buf;
	size_t cap, len, pos;
	uint64_t seq;
	bool loaded;
};

struct logstore_iter *logstore_iter_new(struct logstore_stream *st, uint64_t from_seq, int64_t start_ms,
					int64_t end_ms)
{
	struct logstore_iter *it = xcalloc(1, sizeof(*it));
	it->st = st;
	it->from = from_seq;
	it->limit = st->visible_seq;
	it->start = start_ms;
	it->end = end_ms;
	return it;
}

void logstore_iter_free(struct logstore_iter *it)
{
	if (!it)
		return;
	free(it->buf);
	free(it);
}

static bool blk_skip(const struct blk *b, uint64_t from, uint64_t limit, int64_t start, int64_t end)
{
	return b->seq + b->n <= from || b->seq >= limit || b->max_ts < start || b->min_ts >= end;
}

/* Reads block bi of segment g into *buf (grown as needed). */
static int load_block(const struct logstore_stream *st, const struct seg *g, size_t bi, unsigned char **buf,
		      size_t *cap, size_t *len, struct err **err)
{
	const struct blk *b = &g->blks[bi];
	uint64_t end = bi + 1 < g->nblks ? g->blks[bi + 1].off : g->size;
	size_t n = (size_t)(end - b->off);
	if (n > *cap) {
		*cap = n;
		*buf = xrealloc(*buf, n);
	}
	if (pread_full(g->fd, *buf, n, b->off) < 0)
		return err_sys(err, errno ? errno : EIO, "read log stream %s", st->name);
	*len = n;
	return 0;
}

int logstore_iter_next(struct logstore_iter *it, struct logstore_event *ev, uint64_t *examined,
		       struct err **err)
{
	struct logstore_stream *st = it->st;
	for (;;) {
		if (!it->loaded) {
			for (; it->si < st->nsegs; it->si++, it->bi = 0) {
				const struct seg *g = &st->segs[it->si];
				while (it->bi < g->nblks &&
				       blk_skip(&g->blks[it->bi], it->from, it->limit, it->start, it->end))
					it->bi++;
				if (it->bi < g->nblks)
					break;
			}
			if (it->si >= st->nsegs)
				return 0;
			const struct seg *g = &st->segs[it->si];
			if (g->blks[it->bi].seq >= it->limit)
				return 0;
			if (load_block(st, g, it->bi, &it->buf, &it->cap, &it->len, err) < 0)
				return -1;
			it->seq = g->blks[it->bi].seq;
			it->pos = 0;
			it->bi++;
			it->loaded = true;
		}
		size_t need;
		long long r = rec_decode(it->buf + it->pos, it->len - it->pos, ev, &need);
		if (r <= 0)
			return err_set(err, ERR_INTERNAL, "log stream %s: corrupt record at event %" PRIu64,
				       st->name, it->seq);
		it->pos += (size_t)r;
		ev->seq = it->seq++;
		if (it->pos >= it->len)
			it->loaded = false;
		if (examined)
			(*examined)++;
		if (ev->seq >= it->limit)
			return 0;
		if (ev->seq < it->from || ev->timestamp < it->start || ev->timestamp >= it->end)
			continue;
		return 1;
	}
}

int logstore_scan_back(struct logstore_stream *st, uint64_t before_seq, int64_t start_ms, int64_t end_ms,
		       int (*cb)(void *arg, const struct logstore_event *ev), void *arg, struct err **err)
{
	uint64_t limit = before_seq < st->visible_seq ? before_seq : st->visible_seq;
	unsigned char *buf = NULL;
	size_t cap = 0, len = 0;
	int rc = 0;
	size_t offs[LOGSTORE_BLOCK_EVENTS];
	for (size_t si = st->nsegs; si-- > 0 && rc == 0;) {
		const struct seg *g = &st->segs[si];
		for (size_t bi = g->nblks; bi-- > 0 && rc == 0;) {
			const struct blk *b = &g->blks[bi];
			if (blk_skip(b, 0, limit, start_ms, end_ms))
				continue;
			if (load_block(st, g, bi, &buf, &cap, &len, err) < 0) {
				rc = -1;
				break;
			}
			size_t n = 0, pos = 0;
			while (pos < len && n < LOGSTORE_BLOCK_EVENTS) {
				struct logstore_event ev;
				size_t need;
				long long r = rec_decode(buf + pos, len - pos, &ev, &need);
				if (r <= 0) {
					rc = err_set(err, ERR_INTERNAL, "log stream %s: corrupt record",
						     st->name);
					break;
				}
				offs[n++] = pos;
				pos += (size_t)r;
			}
			while (rc == 0 && n-- > 0) {
				struct logstore_event ev;
				size_t need;
				rec_decode(buf + offs[n], len - offs[n], &ev, &need);
				ev.seq = b->seq + n;
				if (ev.seq >= limit || ev.timestamp < start_ms || ev.timestamp >= end_ms)
					continue;
				rc = cb(arg, &ev);
			}
		}
	}
	free(buf);
	return rc;
}
