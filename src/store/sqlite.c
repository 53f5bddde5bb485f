/* The SQLite backend of the store (store.h): one WAL-mode database, <dir>/state.db, whose queued
 * writes are group-committed on the libuv thread pool, one transaction and one fsync per batch. */
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "common/log.h"
#include "common/xalloc.h"

#define STORE_DB_NAME "state.db"
/* Bumped when the tables change; a newer file is refused rather than misread. */
/* 2: objects is a rowid table. Version 1 kept it WITHOUT ROWID, where documents of a kilobyte or
 * more (task definitions) spill into overflow pages and the file grew ~4.6 KB per revision. */
#define STORE_SCHEMA_VERSION 2
/* Only another process (a tool reading the file) can hold a lock we wait for. */
#define STORE_BUSY_TIMEOUT_MS 5000

/* One queued write. kind, key and doc point into one allocation that starts at kind. */
struct store_write {
	char *kind;
	char *key;
	char *doc; /* NULL for a deletion; else doc[len] == 0 */
	size_t len;
};

/* Writes committed together, in seq order; last_seq is the seq of the last one. */
struct store_batch {
	struct store_write *w;
	size_t n, cap;
	uint64_t last_seq;
};

struct store_waiter {
	uint64_t seq;
	void (*cb)(void *arg);
	void *arg;
};

struct store {
	uv_loop_t *loop; /* NULL: synchronous use, batches are committed by store_flush() */
	/* The connection and its statements belong to the worker while busy, else to the loop thread. */
	sqlite3 *db;
	sqlite3_stmt *begin, *commit, *rollback, *upsert, *del, *load;
	bool loading; /* inside store_load(): the load statement is stepping */

	uint64_t last_seq;	     /* seq of the latest queued write */
	uint64_t durable_seq;	     /* every write up to this one is committed */
	struct store_batch pending;  /* queued, not yet handed to a worker (loop thread only) */
	struct store_batch inflight; /* the batch being committed (the worker's while busy) */
	bool busy;		     /* inflight is on the thread pool */
	char *commit_errmsg;	     /* set by the worker when the commit failed */
	uv_work_t work;
	/* Started when writes are queued and nothing is in flight. An active idle handle makes the
	 * loop poll without blocking, so the batch starts in the same or the next loop iteration,
	 * after every write that callbacks of the current phase make: they share the batch. */
	uv_idle_t idle;
	bool closing;	  /* store_close() has closed idle: schedule nothing more */
	bool idle_closed; /* idle's close callback ran: *st may be freed */

	/* store_when_durable() callbacks, ordered by seq (ties in registration order), live ones in
	 * waiters[wait_head .. wait_n). */
	struct store_waiter *waiters;
	size_t wait_head, wait_n, wait_cap;
};

/* ---- batches ---- */

static void batch_clear(struct store_batch *b)
{
	for (size_t i = 0; i < b->n; i++)
		free(b->w[i].kind);
	b->n = 0;
	b->last_seq = 0;
}

static void batch_release(struct store_batch *b)
{
	batch_clear(b);
	free(b->w);
	b->w = NULL;
	b->cap = 0;
}

static struct store_write *batch_push(struct store_batch *b)
{
	if (b->n == b->cap) {
		b->cap = b->cap ? 2 * b->cap : 64;
		b->w = xrealloc(b->w, b->cap * sizeof(*b->w));
	}
	return &b->w[b->n++];
}

/* ---- SQLite helpers ---- */

/* Steps a statement that returns no rows, then resets it and clears its bindings. Returns 0, or -1
 * with *errmsg (a new string, when errmsg is non-NULL and *errmsg is NULL). */
static int step_done(sqlite3 *db, sqlite3_stmt *s, char **errmsg)
{
	int rc = sqlite3_step(s);
	if (rc != SQLITE_DONE && errmsg && !*errmsg)
		*errmsg = xasprintf("%s (%d)", sqlite3_errmsg(db), rc);
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int bind_error(sqlite3 *db, int rc, char **errmsg)
{
	if (!*errmsg)
		*errmsg = xasprintf("bind: %s (%d)", sqlite3_errmsg(db), rc);
	return -1;
}

/* Applies batch b in one transaction: BEGIN, each write in order (so a later write to the same
 * (kind, key) supersedes an earlier one), COMMIT, which fsyncs the WAL (synchronous=FULL).
 * Runs on whichever thread owns the connection. Returns 0, or -1 with *errmsg (a new string);
 * then nothing of the batch is applied. */
static int commit_batch(struct store *st, const struct store_batch *b, char **errmsg)
{
	sqlite3 *db = st->db;
	int rc;
	if (step_done(db, st->begin, errmsg) < 0)
		return -1;
	for (size_t i = 0; i < b->n; i++) {
		const struct store_write *w = &b->w[i];
		sqlite3_stmt *s = w->doc ? st->upsert : st->del;
		/* SQLITE_STATIC: the batch outlives the step; step_done clears the bindings. */
		rc = sqlite3_bind_text(s, 1, w->kind, -1, SQLITE_STATIC);
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_text(s, 2, w->key, -1, SQLITE_STATIC);
		if (rc == SQLITE_OK && w->doc)
			rc = sqlite3_bind_blob64(s, 3, w->doc, w->len, SQLITE_STATIC);
		if (rc != SQLITE_OK) {
			bind_error(db, rc, errmsg);
			sqlite3_clear_bindings(s);
			goto fail;
		}
		if (step_done(db, s, errmsg) < 0)
			goto fail;
	}
	if (step_done(db, st->commit, errmsg) < 0)
		goto fail;
	return 0;
fail:
	/* A failed COMMIT (or statement) can leave the transaction open; end it so that a retry
	 * starts clean. */
	if (!sqlite3_get_autocommit(db))
		step_done(db, st->rollback, NULL);
	return -1;
}

/* ---- durability callbacks ---- */

/* Runs, in seq order, every waiter whose seq is durable. A callback may queue writes and register
 * waiters; each entry is copied out before its callback runs, so the array may move under it. */
static void run_due(struct store *st)
{
	while (st->wait_head < st->wait_n && st->waiters[st->wait_head].seq <= st->durable_seq) {
		struct store_waiter w = st->waiters[st->wait_head++];
		if (st->wait_head == st->wait_n)
			st->wait_head = st->wait_n = 0;
		w.cb(w.arg);
	}
}

/* ---- group commit on the loop ---- */

static void work_cb(uv_work_t *req);
static void after_work_cb(uv_work_t *req, int status);

/* Hands the pending batch to the thread pool. Loop thread, nothing in flight. */
static void start_batch(struct store *st)
{
	struct store_batch empty = st->inflight;
	st->inflight = st->pending;
	st->pending = empty;
	st->busy = true;
	st->commit_errmsg = NULL;
	/* Fails only for a NULL work_cb. */
	uv_queue_work(st->loop, &st->work, work_cb, after_work_cb);
}

static void idle_cb(uv_idle_t *h)
{
	struct store *st = h->data;
	uv_idle_stop(h);
	if (!st->busy && st->pending.n > 0)
		start_batch(st);
}

/* Arranges for pending writes to be committed soon. While a batch is in flight, writes wait: its
 * completion schedules the next batch. */
static void schedule(struct store *st)
{
	if (st->loop && !st->busy && st->pending.n > 0 && !st->closing)
		uv_idle_start(&st->idle, idle_cb);
}

/* Thread pool: the only code that uses the connection while st->busy. */
static void work_cb(uv_work_t *req)
{
	struct store *st = req->data;
	commit_batch(st, &st->inflight, &st->commit_errmsg);
}

/* Loop thread, after work_cb. */
static void after_work_cb(uv_work_t *req, int status)
{
	struct store *st = req->data;
	st->busy = false;
	if (status != 0 && !st->commit_errmsg)
		st->commit_errmsg = xasprintf("thread pool: %s", uv_strerror(status));
	if (st->commit_errmsg) {
		/* store.h: memory is now ahead of disk for writes nobody has been told are durable.
		 * Exiting (instead of retrying forever or dropping them) lets a restart rebuild memory
		 * from the disk, which holds every acknowledged write. */
		log_error("store: commit of writes %" PRIu64 "..%" PRIu64 " failed: %s; exiting",
			  st->durable_seq + 1, st->inflight.last_seq, st->commit_errmsg);
		exit(EXIT_FAILURE);
	}
	st->durable_seq = st->inflight.last_seq;
	batch_clear(&st->inflight);
	run_due(st);
	schedule(st);
}

/* ---- the interface ---- */

/* Creates dir (mode 0700) when missing and makes its entry durable in the parent directory. */
static int make_dir(const char *dir, struct err **err)
{
	struct stat sb;
	char *parent = NULL;
	int fd = -1, ret = -1;
	if (mkdir(dir, 0700) < 0) {
		if (errno != EEXIST) {
			err_sys(err, errno, "create directory %s", dir);
			goto out;
		}
		if (stat(dir, &sb) < 0) {
			err_sys(err, errno, "stat %s", dir);
			goto out;
		}
		if (!S_ISDIR(sb.st_mode)) {
			err_set(err, ERR_INVALID_PARAM, "%s is not a directory", dir);
			goto out;
		}
		ret = 0;
		goto out;
	}
	parent = xstrdup(dir);
	size_t n = strlen(parent);
	while (n > 1 && parent[n - 1] == '/')
		parent[--n] = '\0';
	char *slash = strrchr(parent, '/');
	if (!slash) {
		free(parent);
		parent = xstrdup(".");
	} else if (slash == parent) {
		parent[1] = '\0';
	} else {
		*slash = '\0';
	}
	fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		err_sys(err, errno, "open %s", parent);
		goto out;
	}
	/* Some file systems cannot fsync a directory (EINVAL); there is nothing better to do there. */
	if (fsync(fd) < 0 && errno != EINVAL) {
		err_sys(err, errno, "fsync %s", parent);
		goto out;
	}
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	free(parent);
	return ret;
}

static int db_error(struct store *st, int rc, const char *what, struct err **err)
{
	return err_set(err, ERR_INTERNAL, "%s: %s (%d)", what,
		       st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc), rc);
}

static int exec_sql(struct store *st, const char *sql, struct err **err)
{
	char *msg = NULL;
	int rc = sqlite3_exec(st->db, sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK) {
		err_set(err, ERR_INTERNAL, "%s: %s (%d)", sql, msg ? msg : sqlite3_errstr(rc), rc);
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

static int prepare(struct store *st, const char *sql, sqlite3_stmt **out, struct err **err)
{
	int rc = sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, out, NULL);
	if (rc != SQLITE_OK)
		return db_error(st, rc, sql, err);
	return 0;
}

/* WAL keeps readers (tools) off the writer's back and makes a commit one append and one fsync;
 * synchronous=FULL makes that fsync happen on every commit, so a committed batch survives power
 * loss, not just a crash of the process. */
static int setup_db(struct store *st, struct err **err)
{
	sqlite3_stmt *s = NULL;
	int rc, ret = -1;
	if (prepare(st, "PRAGMA journal_mode=WAL", &s, err) < 0)
		goto out;
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		db_error(st, rc, "PRAGMA journal_mode=WAL", err);
		goto out;
	}
	const char *mode = (const char *)sqlite3_column_text(s, 0);
	if (!mode || strcmp(mode, "wal") != 0) {
		err_set(err, ERR_INTERNAL, "cannot use WAL mode (journal mode is %s)", mode ? mode : "?");
		goto out;
	}
	sqlite3_finalize(s);
	s = NULL;
	if (exec_sql(st, "PRAGMA synchronous=FULL", err) < 0)
		goto out;
	if (exec_sql(st,
		     "BEGIN IMMEDIATE;"
		     "CREATE TABLE IF NOT EXISTS meta(name TEXT PRIMARY KEY, value) WITHOUT ROWID;"
		     "CREATE TABLE IF NOT EXISTS objects(kind TEXT NOT NULL, key TEXT NOT NULL, doc BLOB NOT "
		     "NULL,"
		     " PRIMARY KEY(kind, key));"
		     "INSERT OR IGNORE INTO meta(name, value) VALUES('schema_version', 2);",
		     err) < 0)
		goto out;
	if (prepare(st, "SELECT value FROM meta WHERE name = 'schema_version'", &s, err) < 0)
		goto out;
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		db_error(st, rc, "read schema version", err);
		goto out;
	}
	sqlite3_int64 version = sqlite3_column_int64(s, 0);
	if (version == 1) {
		/* Same rows, rowid layout; inside this transaction, so all or nothing. */
		sqlite3_finalize(s);
		s = NULL;
		if (exec_sql(st,
			     "CREATE TABLE objects_v2(kind TEXT NOT NULL, key TEXT NOT NULL, doc BLOB NOT "
			     "NULL,"
			     " PRIMARY KEY(kind, key));"
			     "INSERT INTO objects_v2(kind, key, doc) SELECT kind, key, doc FROM objects;"
			     "DROP TABLE objects;"
			     "ALTER TABLE objects_v2 RENAME TO objects;"
			     "UPDATE meta SET value = 2 WHERE name = 'schema_version';",
			     err) < 0)
			goto out;
		version = 2;
	}
	if (version != STORE_SCHEMA_VERSION) {
		err_set(err, ERR_INTERNAL,
			"schema version %lld is not %d (written by another gantry version?)",
			(long long)version, STORE_SCHEMA_VERSION);
		goto out;
	}
	sqlite3_finalize(s);
	s = NULL;
	if (exec_sql(st, "COMMIT", err) < 0)
		goto out;
	ret = 0;
out:
	sqlite3_finalize(s);
	if (ret < 0 && st->db && !sqlite3_get_autocommit(st->db))
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	return ret;
}

static void close_db(struct store *st)
{
	sqlite3_finalize(st->begin);
	sqlite3_finalize(st->commit);
	sqlite3_finalize(st->rollback);
	sqlite3_finalize(st->upsert);
	sqlite3_finalize(st->del);
	sqlite3_finalize(st->load);
	st->begin = st->commit = st->rollback = st->upsert = st->del = st->load = NULL;
	/* Every statement is finalized, so this closes (and checkpoints) for real. */
	int rc = sqlite3_close(st->db);
	if (rc != SQLITE_OK)
		log_error("store: close database: %s (%d)", sqlite3_errstr(rc), rc);
	st->db = NULL;
}

struct store *store_open(uv_loop_t *loop, const char *dir, struct err **err)
{
	struct store *st = xcalloc(1, sizeof(*st));
	char *path = NULL;
	int rc;
	st->loop = loop;
	if (make_dir(dir, err) < 0)
		goto fail;
	path = xasprintf("%s/%s", dir, STORE_DB_NAME);
	/* NOMUTEX: the store hands the connection between the loop and one worker at a time, and
	 * uv_queue_work orders those hand-overs. */
	rc = sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
			     NULL);
	if (rc != SQLITE_OK) {
		db_error(st, rc, path, err);
		goto fail;
	}
	sqlite3_extended_result_codes(st->db, 1);
	sqlite3_busy_timeout(st->db, STORE_BUSY_TIMEOUT_MS);
	if (setup_db(st, err) < 0)
		goto fail;
	if (prepare(st, "BEGIN IMMEDIATE", &st->begin, err) < 0 ||
	    prepare(st, "COMMIT", &st->commit, err) < 0 || prepare(st, "ROLLBACK", &st->rollback, err) < 0 ||
	    prepare(st,
		    "INSERT INTO objects(kind, key, doc) VALUES(?1, ?2, ?3)"
		    " ON CONFLICT(kind, key) DO UPDATE SET doc = excluded.doc",
		    &st->upsert, err) < 0 ||
	    prepare(st, "DELETE FROM objects WHERE kind = ?1 AND key = ?2", &st->del, err) < 0 ||
	    prepare(st, "SELECT key, doc FROM objects WHERE kind = ?1 ORDER BY key", &st->load, err) < 0)
		goto fail;
	if (loop) {
		uv_idle_init(loop, &st->idle);
		st->idle.data = st;
		st->work.data = st;
	}
	free(path);
	return st;
fail:
	err_prefix(err, "open store in %s", dir);
	if (st->db)
		close_db(st);
	free(st);
	free(path);
	return NULL;
}

static void idle_close_cb(uv_handle_t *h)
{
	struct store *st = h->data;
	st->idle_closed = true;
}

void store_close(struct store *st)
{
	struct err *e = NULL;
	if (!st)
		return;
	if (store_flush(st, &e) < 0) {
		log_error("store: close: %s; writes %" PRIu64 "..%" PRIu64 " are lost", e->msg,
			  st->durable_seq + 1, st->last_seq);
		err_free(e);
	}
	if (st->loop) {
		/* The handle is part of *st: free only after the loop has run its close callback. */
		st->closing = true;
		uv_close((uv_handle_t *)&st->idle, idle_close_cb);
		while (!st->idle_closed)
			uv_run(st->loop, UV_RUN_ONCE);
	}
	if (st->wait_head < st->wait_n)
		log_warn("store: close: %zu durability callbacks never ran", st->wait_n - st->wait_head);
	close_db(st);
	batch_release(&st->pending);
	batch_release(&st->inflight);
	free(st->waiters);
	free(st);
}

int store_load(struct store *st, const char *kind,
	       int (*cb)(void *arg, const char *key, const char *doc, size_t len), void *arg,
	       struct err **err)
{
	sqlite3_stmt *s = st->load;
	int rc, ret = 0;
	if (st->busy || st->pending.n > 0 || st->loading)
		return err_set(err, ERR_INTERNAL, "store: load `%s`: %s", kind,
			       st->loading ? "called from a load callback" : "writes are queued");
	rc = sqlite3_bind_text(s, 1, kind, -1, SQLITE_STATIC);
	if (rc != SQLITE_OK) {
		ret = db_error(st, rc, "store: load: bind", err);
		goto out;
	}
	st->loading = true;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *key = (const char *)sqlite3_column_text(s, 0);
		/* As text, so that doc[len] == 0 (handy for parsers); the bytes are the stored blob's. */
		const char *doc = (const char *)sqlite3_column_text(s, 1);
		size_t len = (size_t)sqlite3_column_bytes(s, 1);
		if (!key || !doc) {
			ret = db_error(st, sqlite3_errcode(st->db), "store: load: read row", err);
			goto out;
		}
		ret = cb(arg, key, doc, len);
		if (ret != 0)
			goto out;
	}
	if (rc != SQLITE_DONE)
		ret = db_error(st, rc, "store: load", err);
out:
	st->loading = false;
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return ret;
}

static uint64_t queue_write(struct store *st, const char *kind, const char *key, const char *doc, size_t len,
			    bool del)
{
	size_t kind_n = strlen(kind), key_n = strlen(key);
	char *p = xmalloc(kind_n + 1 + key_n + 1 + (del ? 0 : len + 1));
	struct store_write *w = batch_push(&st->pending);
	w->kind = p;
	memcpy(w->kind, kind, kind_n + 1);
	w->key = w->kind + kind_n + 1;
	memcpy(w->key, key, key_n + 1);
	w->doc = NULL;
	w->len = 0;
	if (!del) {
		w->doc = w->key + key_n + 1;
		if (len > 0)
			memcpy(w->doc, doc, len);
		w->doc[len] = '\0';
		w->len = len;
	}
	st->pending.last_seq = ++st->last_seq;
	schedule(st);
	return st->last_seq;
}

uint64_t store_put(struct store *st, const char *kind, const char *key, const char *doc, size_t len)
{
	return queue_write(st, kind, key, doc, len, false);
}

uint64_t store_del(struct store *st, const char *kind, const char *key)
{
	return queue_write(st, kind, key, NULL, 0, true);
}

uint64_t store_last_seq(const struct store *st)
{
	return st->last_seq;
}

uint64_t store_durable_seq(const struct store *st)
{
	return st->durable_seq;
}

void store_when_durable(struct store *st, uint64_t seq, void (*cb)(void *arg), void *arg)
{
	if (seq <= st->durable_seq) {
		cb(arg);
		return;
	}
	if (st->wait_n == st->wait_cap) {
		if (st->wait_head > 0) {
			memmove(st->waiters, st->waiters + st->wait_head,
				(st->wait_n - st->wait_head) * sizeof(*st->waiters));
			st->wait_n -= st->wait_head;
			st->wait_head = 0;
		} else {
			st->wait_cap = st->wait_cap ? 2 * st->wait_cap : 64;
			st->waiters = xrealloc(st->waiters, st->wait_cap * sizeof(*st->waiters));
		}
	}
	/* Waiters come in seq order in practice, so this scan stops at once. */
	size_t i = st->wait_n;
	while (i > st->wait_head && st->waiters[i - 1].seq > seq)
		i--;
	memmove(st->waiters + i + 1, st->waiters + i, (st->wait_n - i) * sizeof(*st->waiters));
	st->waiters[i] = (struct store_waiter){seq, cb, arg};
	st->wait_n++;
}

int store_flush(struct store *st, struct err **err)
{
	/* Writes queued by callbacks that run here are flushed too, hence the loop. */
	while (st->busy || st->pending.n > 0) {
		if (st->busy) {
			/* Only the loop can deliver the batch's completion (after_work_cb). */
			uv_run(st->loop, UV_RUN_ONCE);
			continue;
		}
		/* Nothing in flight: the connection is the loop thread's, commit inline. */
		char *msg = NULL;
		if (commit_batch(st, &st->pending, &msg) < 0) {
			err_set(err, ERR_INTERNAL, "store: commit of writes %" PRIu64 "..%" PRIu64 ": %s",
				st->durable_seq + 1, st->pending.last_seq, msg);
			free(msg);
			return -1;
		}
		st->durable_seq = st->pending.last_seq;
		batch_clear(&st->pending);
		if (st->loop)
			uv_idle_stop(&st->idle);
		run_due(st);
	}
	run_due(st);
	return 0;
}
