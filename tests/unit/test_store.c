/* Unit tests for the SQLite store (store.h): documents survive close and reopen, later writes
 * supersede earlier ones, synchronous and loop (group commit) modes, durability callbacks run in
 * order and only after the commit, and writes acknowledged before a SIGKILL are all on disk. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>
#include <uv.h>

#include "common/err.h"
#include "common/xalloc.h"
#include "store/store.h"

/* ---- fixture: a fresh temporary directory per test ---- */

struct fixture {
	char *tmp;  /* the mkdtemp directory, removed at the end */
	char *data; /* tmp/data: not created, so that store_open has to */
};

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	const char *base = getenv("TMPDIR");
	f->tmp = xasprintf("%s/gantry-store-XXXXXX", base && *base ? base : "/tmp");
	if (!mkdtemp(f->tmp)) {
		fprintf(stderr, "mkdtemp %s: %s\n", f->tmp, strerror(errno));
		free(f->tmp);
		free(f);
		return -1;
	}
	f->data = xasprintf("%s/data", f->tmp);
	*state = f;
	return 0;
}

static int rm_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)type;
	(void)ftw;
	return remove(path);
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	int rc = nftw(f->tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f->data);
	free(f->tmp);
	free(f);
	return rc;
}

/* ---- helpers ---- */

struct row {
	char *key;
	char *doc;
	size_t len;
};

struct rows {
	struct row *r;
	size_t n, cap;
	size_t stop_after; /* collect_cb returns 7 after this many rows; 0 = never */
};

static int collect_cb(void *arg, const char *key, const char *doc, size_t len)
{
	struct rows *rs = arg;
	/* store.h: a loaded doc is NUL-terminated. */
	assert_int_equal(doc[len], '\0');
	if (rs->n == rs->cap) {
		rs->cap = rs->cap ? 2 * rs->cap : 16;
		rs->r = xrealloc(rs->r, rs->cap * sizeof(*rs->r));
	}
	struct row *row = &rs->r[rs->n++];
	row->key = xstrdup(key);
	row->doc = xmalloc(len + 1);
	memcpy(row->doc, doc, len + 1);
	row->len = len;
	if (rs->stop_after && rs->n == rs->stop_after)
		return 7;
	return 0;
}

static void rows_free(struct rows *rs)
{
	for (size_t i = 0; i < rs->n; i++) {
		free(rs->r[i].key);
		free(rs->r[i].doc);
	}
	free(rs->r);
	memset(rs, 0, sizeof(*rs));
}

static void load_all(struct store *st, const char *kind, struct rows *rs)
{
	struct err *e = NULL;
	memset(rs, 0, sizeof(*rs));
	int rc = store_load(st, kind, collect_cb, rs, &e);
	if (e)
		fprintf(stderr, "store_load: %s\n", e->msg);
	assert_int_equal(rc, 0);
	assert_null(e);
}

static void assert_row(const struct rows *rs, size_t i, const char *key, const char *doc, size_t len)
{
	assert_true(i < rs->n);
	assert_string_equal(rs->r[i].key, key);
	assert_int_equal(rs->r[i].len, len);
	assert_memory_equal(rs->r[i].doc, doc, len);
}

static struct store *open_ok(uv_loop_t *loop, const char *dir)
{
	struct err *e = NULL;
	struct store *st = store_open(loop, dir, &e);
	if (!st)
		fprintf(stderr, "store_open: %s\n", e->msg);
	assert_non_null(st);
	assert_null(e);
	return st;
}

static void flush_ok(struct store *st)
{
	struct err *e = NULL;
	int rc = store_flush(st, &e);
	if (e)
		fprintf(stderr, "store_flush: %s\n", e->msg);
	assert_int_equal(rc, 0);
	assert_null(e);
}

static uint64_t put_s(struct store *st, const char *kind, const char *key, const char *doc)
{
	return store_put(st, kind, key, doc, strlen(doc));
}

/* ---- put / del / load across close and reopen ---- */

static void test_roundtrip_reopen(void **state)
{
	struct fixture *f = *state;
	static const char bin[] = {'x', '\0', 'y', '\0', (char)0xff, 'z'};
	const char *cluster_key = "000000000000/us-east-1/w\xc3\xa9"
				  "b";
	struct rows rs;

	struct store *st = open_ok(NULL, f->data);
	struct stat sb;
	assert_int_equal(stat(f->data, &sb), 0);
	assert_true(S_ISDIR(sb.st_mode));
	assert_int_equal(sb.st_mode & 0777, 0700);

	put_s(st, "cluster", "b", "{\"b\":1}");
	store_put(st, "cluster", "a", bin, sizeof(bin));
	store_put(st, "cluster", "c", NULL, 0);
	put_s(st, "cluster", cluster_key, "{\"clusterName\":\"web\"}");
	put_s(st, "cluster", "d", "D");
	store_del(st, "cluster", "d");
	put_s(st, "task", "a", "T");
	flush_ok(st);
	store_close(st);

	st = open_ok(NULL, f->data);
	load_all(st, "cluster", &rs);
	assert_int_equal(rs.n, 4);
	assert_row(&rs, 0, cluster_key, "{\"clusterName\":\"web\"}", 21);
	assert_row(&rs, 1, "a", bin, sizeof(bin));
	assert_row(&rs, 2, "b", "{\"b\":1}", 7);
	assert_row(&rs, 3, "c", "", 0);
	rows_free(&rs);
	load_all(st, "task", &rs);
	assert_int_equal(rs.n, 1);
	assert_row(&rs, 0, "a", "T", 1);
	rows_free(&rs);
	load_all(st, "service", &rs);
	assert_int_equal(rs.n, 0);
	rows_free(&rs);

	/* A non-zero return from the callback stops the walk and is what store_load returns. */
	struct err *e = NULL;
	memset(&rs, 0, sizeof(rs));
	rs.stop_after = 2;
	assert_int_equal(store_load(st, "cluster", collect_cb, &rs, &e), 7);
	assert_null(e);
	assert_int_equal(rs.n, 2);
	rows_free(&rs);
	store_close(st);
}

/* ---- later writes to a (kind, key) supersede earlier ones ---- */

static void test_supersede(void **state)
{
	struct fixture *f = *state;
	struct rows rs;
	struct store *st = open_ok(NULL, f->data);

	put_s(st, "k", "k3", "k3-old");
	put_s(st, "k", "k4", "k4-old");
	put_s(st, "k", "k5", "k5");
	flush_ok(st);

	/* Within one batch. */
	put_s(st, "k", "k1", "v1");
	put_s(st, "k", "k1", "v2-longer");
	put_s(st, "k", "k2", "gone");
	store_del(st, "k", "k2");
	store_del(st, "k", "k3");
	put_s(st, "k", "k3", "k3-new");
	store_del(st, "k", "never-existed");
	/* Across batches. */
	put_s(st, "k", "k4", "k4-newer");
	store_del(st, "k", "k5");
	flush_ok(st);
	put_s(st, "k", "k1", "v3");
	flush_ok(st);

	load_all(st, "k", &rs);
	assert_int_equal(rs.n, 3);
	assert_row(&rs, 0, "k1", "v3", 2);
	assert_row(&rs, 1, "k3", "k3-new", 6);
	assert_row(&rs, 2, "k4", "k4-newer", 8);
	rows_free(&rs);
	store_close(st);

	st = open_ok(NULL, f->data);
	load_all(st, "k", &rs);
	assert_int_equal(rs.n, 3);
	assert_row(&rs, 0, "k1", "v3", 2);
	assert_row(&rs, 1, "k3", "k3-new", 6);
	assert_row(&rs, 2, "k4", "k4-newer", 8);
	rows_free(&rs);
	store_close(st);
}

/* ---- synchronous mode (loop == NULL) ---- */

struct trace {
	char s[32];
	size_t n;
	struct store *st;
};

struct mark {
	struct trace *t;
	char c;
};

static void mark_cb(void *arg)
{
	struct mark *m = arg;
	assert_true(m->t->n + 1 < sizeof(m->t->s));
	m->t->s[m->t->n++] = m->c;
}

static struct mark chain_mark;

/* Queues one more write from inside a durability callback, as an API handler would. */
static void chain_cb(void *arg)
{
	struct trace *t = arg;
	mark_cb(&(struct mark){t, 'x'});
	uint64_t seq = put_s(t->st, "k", "from-callback", "cb");
	chain_mark = (struct mark){t, 'y'};
	store_when_durable(t->st, seq, mark_cb, &chain_mark);
}

static void test_sync_mode(void **state)
{
	struct fixture *f = *state;
	struct trace t = {.st = NULL};
	struct rows rs;
	struct err *e = NULL;
	struct store *st = open_ok(NULL, f->data);
	t.st = st;

	assert_int_equal(store_last_seq(st), 0);
	assert_int_equal(store_durable_seq(st), 0);
	struct mark now = {&t, '0'};
	store_when_durable(st, 0, mark_cb, &now);
	assert_string_equal(t.s, "0");

	assert_int_equal(put_s(st, "k", "a", "A"), 1);
	assert_int_equal(put_s(st, "k", "b", "B"), 2);
	assert_int_equal(store_del(st, "k", "a"), 3);
	assert_int_equal(store_last_seq(st), 3);

	/* Registered out of order; they must run in seq order, ties in registration order. */
	struct mark m3c = {&t, 'c'}, m1 = {&t, 'a'}, m2 = {&t, 'b'}, m3d = {&t, 'd'};
	store_when_durable(st, 3, mark_cb, &m3c);
	store_when_durable(st, 1, mark_cb, &m1);
	store_when_durable(st, 2, mark_cb, &m2);
	store_when_durable(st, 3, mark_cb, &m3d);
	assert_string_equal(t.s, "0");
	assert_int_equal(store_durable_seq(st), 0);

	/* Queued is not committed: another connection sees nothing yet. */
	struct store *other = open_ok(NULL, f->data);
	load_all(other, "k", &rs);
	assert_int_equal(rs.n, 0);
	rows_free(&rs);
	store_close(other);

	/* Loading while writes are queued would read stale data: refused. */
	assert_int_equal(store_load(st, "k", collect_cb, &rs, &e), -1);
	assert_non_null(e);
	err_free(e);
	e = NULL;

	/* A callback that queues a write: the same flush commits it and runs its callback. */
	uint64_t s4 = put_s(st, "k", "c", "C");
	store_when_durable(st, s4, chain_cb, &t);

	flush_ok(st);
	assert_string_equal(t.s, "0abcdxy");
	assert_int_equal(store_durable_seq(st), 5);
	assert_int_equal(store_last_seq(st), 5);

	struct mark late = {&t, 'z'};
	store_when_durable(st, 2, mark_cb, &late);
	assert_string_equal(t.s, "0abcdxyz");

	load_all(st, "k", &rs);
	assert_int_equal(rs.n, 3);
	assert_row(&rs, 0, "b", "B", 1);
	assert_row(&rs, 1, "c", "C", 1);
	assert_row(&rs, 2, "from-callback", "cb", 2);
	rows_free(&rs);

	/* store_close commits what is still queued. */
	put_s(st, "k", "d", "D");
	store_close(st);
	st = open_ok(NULL, f->data);
	load_all(st, "k", &rs);
	assert_int_equal(rs.n, 4);
	assert_row(&rs, 2, "d", "D", 1);
	rows_free(&rs);
	store_close(st);
}

/* ---- loop mode: group commit ---- */

struct ack {
	struct store *st;
	uint64_t seq;
	uint64_t durable_seen; /* store_durable_seq() when the callback ran */
	int order;	       /* position among all acks, -1 until run */
};

static int ack_count;

static void ack_cb(void *arg)
{
	struct ack *a = arg;
	assert_int_equal(a->order, -1);
	a->order = ack_count++;
	a->durable_seen = store_durable_seq(a->st);
	/* Only after the commit that made it durable. */
	assert_true(a->durable_seen >= a->seq);
}

static void put_acked(struct store *st, struct ack *acks, size_t n, const char *prefix)
{
	for (size_t i = 0; i < n; i++) {
		char key[64], doc[64];
		snprintf(key, sizeof(key), "%s-%03zu", prefix, i);
		snprintf(doc, sizeof(doc), "{\"n\":%zu}", i);
		acks[i] = (struct ack){st, put_s(st, "k", key, doc), 0, -1};
		store_when_durable(st, acks[i].seq, ack_cb, &acks[i]);
	}
}

/* Counts, through a connection of its own, the committed documents of kind "k". */
struct disk_check {
	char *path;
	int64_t rows;
};

static void disk_check_cb(void *arg)
{
	struct disk_check *dc = arg;
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	assert_int_equal(sqlite3_open_v2(dc->path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(
		sqlite3_prepare_v2(db, "SELECT count(*) FROM objects WHERE kind = 'k'", -1, &s, NULL),
		SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	dc->rows = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
}

struct chain {
	struct store *st;
	int left;
	int done;
};

static void chain_put_cb(void *arg)
{
	struct chain *c = arg;
	assert_int_equal(store_durable_seq(c->st), store_last_seq(c->st));
	c->done++;
	if (--c->left <= 0)
		return;
	char key[32];
	snprintf(key, sizeof(key), "chain-%d", c->left);
	uint64_t seq = put_s(c->st, "k", key, "c");
	store_when_durable(c->st, seq, chain_put_cb, c);
}

static void test_loop_group_commit(void **state)
{
	struct fixture *f = *state;
	uv_loop_t loop;
	struct ack a[64], b[10], c[10], d[10], e2[10];
	struct rows rs;
	assert_int_equal(uv_loop_init(&loop), 0);
	struct store *st = open_ok(&loop, f->data);
	ack_count = 0;

	/* 64 writes in one loop iteration: nothing is durable until the loop commits them, and
	 * then all of them are, in one batch. */
	put_acked(st, a, 64, "a");
	struct disk_check dc = {xasprintf("%s/state.db", f->data), -1};
	store_when_durable(st, 64, disk_check_cb, &dc);
	assert_int_equal(store_last_seq(st), 64);
	assert_int_equal(store_durable_seq(st), 0);
	assert_int_equal(ack_count, 0);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(ack_count, 64);
	assert_int_equal(store_durable_seq(st), 64);
	for (int i = 0; i < 64; i++) {
		assert_int_equal(a[i].order, i);
		assert_int_equal(a[i].durable_seen, 64);
	}
	/* The callbacks ran after the commit: another connection already saw all 64. */
	assert_int_equal(dc.rows, 64);
	free(dc.path);

	/* Writes queued while a batch is in flight form the next batch: each group's callbacks see
	 * exactly its own batch committed. NOWAIT starts batch b (and may or may not finish it). */
	put_acked(st, b, 10, "b");
	uv_run(&loop, UV_RUN_NOWAIT);
	put_acked(st, c, 10, "c");
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(ack_count, 84);
	for (int i = 0; i < 10; i++) {
		assert_int_equal(b[i].order, 64 + i);
		assert_int_equal(b[i].durable_seen, 74);
		assert_int_equal(c[i].order, 74 + i);
		assert_int_equal(c[i].durable_seen, 84);
	}

	/* Writes made by durability callbacks are committed by the loop too. */
	struct chain ch = {st, 5, 0};
	uint64_t seq = put_s(st, "k", "chain-start", "c");
	store_when_durable(st, seq, chain_put_cb, &ch);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(ch.done, 5);
	assert_int_equal(store_durable_seq(st), 89);

	/* store_flush waits for the batch in flight and commits the rest. */
	put_acked(st, d, 10, "d");
	uv_run(&loop, UV_RUN_NOWAIT);
	put_acked(st, e2, 10, "e");
	flush_ok(st);
	assert_int_equal(store_durable_seq(st), 109);
	assert_int_equal(ack_count, 104);
	for (int i = 0; i < 10; i++) {
		assert_int_equal(d[i].order, 84 + i);
		assert_int_equal(e2[i].order, 94 + i);
	}

	/* Queued, then closed without running the loop: store_close commits it. */
	put_s(st, "k", "z-last", "L");
	store_close(st);
	/* Every handle the store used is closed. */
	assert_int_equal(uv_loop_close(&loop), 0);

	st = open_ok(NULL, f->data);
	load_all(st, "k", &rs);
	assert_int_equal(rs.n, 64 + 10 + 10 + 5 + 10 + 10 + 1);
	assert_row(&rs, 0, "a-000", "{\"n\":0}", 7);
	assert_row(&rs, rs.n - 1, "z-last", "L", 1);
	rows_free(&rs);
	store_close(st);
}

/* ---- acknowledged writes survive a SIGKILL ---- */

#define CRASH_MAX_DOCS	  1000000 /* the child would stop here; it is killed long before */
#define CRASH_OUTSTANDING 4096	  /* the child's bound on queued, not yet durable writes */
#define CRASH_KILL_AFTER  3000	  /* acks the parent reads before the kill */
#define CRASH_DOC_MAX	  9000

/* The document for seq: its length and bytes follow from seq, so the parent can check it. Every
 * 50th spans several database pages. */
static size_t crash_doc(uint64_t seq, char *buf)
{
	size_t len = seq % 50 == 0 ? CRASH_DOC_MAX : 16 + (size_t)(seq * 7919 % 600);
	uint64_t x = seq * 0x9e3779b97f4a7c15ULL + 1;
	int n = snprintf(buf, len, "doc-%" PRIu64 ":", seq);
	for (size_t i = (size_t)n; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		buf[i] = (char)(x & 0xff);
	}
	return len;
}

static void crash_key(uint64_t seq, char *key, size_t n)
{
	snprintf(key, n, "k%012" PRIu64, seq);
}

struct crash_child {
	struct store *st;
	int fd;
	uint64_t next;
};

static struct crash_child crash;

static void crash_ack_cb(void *arg)
{
	uint64_t seq = (uint64_t)(uintptr_t)arg;
	/* An 8-byte pipe write is atomic. The parent reads every ack it was sent. */
	if (write(crash.fd, &seq, sizeof(seq)) != (ssize_t)sizeof(seq))
		_exit(4);
}

static void crash_produce_cb(uv_idle_t *h)
{
	static char doc[CRASH_DOC_MAX];
	char key[32];
	for (int i = 0; i < 32; i++) {
		if (crash.next >= CRASH_MAX_DOCS) {
			uv_idle_stop(h);
			return;
		}
		if (store_last_seq(crash.st) - store_durable_seq(crash.st) >= CRASH_OUTSTANDING)
			return;
		uint64_t want = ++crash.next;
		crash_key(want, key, sizeof(key));
		size_t len = crash_doc(want, doc);
		uint64_t seq = store_put(crash.st, "doc", key, doc, len);
		if (seq != want)
			_exit(5);
		store_when_durable(crash.st, seq, crash_ack_cb, (void *)(uintptr_t)seq);
	}
}

static void crash_child_main(const char *dir, int fd)
{
	uv_loop_t loop;
	uv_idle_t idle;
	struct err *e = NULL;
	if (uv_loop_init(&loop) != 0)
		_exit(2);
	crash.st = store_open(&loop, dir, &e);
	if (!crash.st)
		_exit(3);
	crash.fd = fd;
	uv_idle_init(&loop, &idle);
	uv_idle_start(&idle, crash_produce_cb);
	uv_run(&loop, UV_RUN_DEFAULT);
	store_close(crash.st);
	_exit(0);
}

static void test_crash_keeps_acknowledged(void **state)
{
	struct fixture *f = *state;
	int p[2];
	assert_int_equal(pipe(p), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		crash_child_main(f->data, p[1]);
	}
	close(p[1]);

	uint64_t *acked = xmalloc(CRASH_MAX_DOCS * sizeof(*acked));
	size_t n_acked = 0, have = 0;
	bool killed = false;
	unsigned char buf[4096];
	for (;;) {
		if (!killed && n_acked >= CRASH_KILL_AFTER) {
			assert_int_equal(kill(pid, SIGKILL), 0);
			killed = true;
		}
		/* After the kill, keep reading: acks already in the pipe were sent before it. */
		ssize_t r = read(p[0], buf + have, sizeof(buf) - have);
		if (r < 0 && errno == EINTR)
			continue;
		assert_true(r >= 0);
		if (r == 0)
			break;
		have += (size_t)r;
		size_t used = 0;
		for (; have - used >= sizeof(uint64_t); used += sizeof(uint64_t)) {
			uint64_t seq;
			memcpy(&seq, buf + used, sizeof(seq));
			assert_true(n_acked < CRASH_MAX_DOCS);
			/* Durability callbacks run in seq order. */
			if (n_acked > 0)
				assert_true(seq > acked[n_acked - 1]);
			acked[n_acked++] = seq;
		}
		memmove(buf, buf + used, have - used);
		have -= used;
	}
	close(p[0]);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
	assert_true(n_acked >= CRASH_KILL_AFTER);

	/* Batches commit in order, so what is on disk is writes 1..D, all intact, with D at least
	 * the last acknowledged write. */
	struct rows rs;
	struct store *st = open_ok(NULL, f->data);
	load_all(st, "doc", &rs);
	fprintf(stderr, "# crash: %zu acknowledged before SIGKILL (last %" PRIu64 "), %zu on disk\n", n_acked,
		acked[n_acked - 1], rs.n);
	assert_true(rs.n >= acked[n_acked - 1]);
	char *doc = xmalloc(CRASH_DOC_MAX);
	for (size_t i = 0; i < rs.n; i++) {
		char key[32];
		crash_key(i + 1, key, sizeof(key));
		size_t len = crash_doc(i + 1, doc);
		assert_row(&rs, i, key, doc, len);
	}
	for (size_t i = 0; i < n_acked; i++)
		assert_true(acked[i] >= 1 && acked[i] <= rs.n);
	free(doc);
	rows_free(&rs);
	free(acked);
	store_close(st);
}

/* ---- open failures ---- */

static void test_open_errors(void **state)
{
	struct fixture *f = *state;
	struct err *e = NULL;

	/* dir is a regular file. */
	char *file = xasprintf("%s/file", f->tmp);
	FILE *fp = fopen(file, "w");
	assert_non_null(fp);
	fclose(fp);
	assert_null(store_open(NULL, file, &e));
	assert_non_null(e);
	assert_int_equal(e->kind, ERR_INVALID_PARAM);
	err_free(e);
	e = NULL;

	/* The parent is missing. */
	char *deep = xasprintf("%s/missing/data", f->tmp);
	assert_null(store_open(NULL, deep, &e));
	assert_non_null(e);
	assert_int_equal(e->kind, ERR_SYS);
	assert_int_equal(e->sys_errno, ENOENT);
	err_free(e);
	e = NULL;

	/* A file written by a newer schema is refused, not misread. */
	struct store *st = open_ok(NULL, f->data);
	store_close(st);
	char *db_path = xasprintf("%s/state.db", f->data);
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open(db_path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "UPDATE meta SET value = 99 WHERE name = 'schema_version'", NULL,
				      NULL, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_changes(db), 1);
	sqlite3_close(db);
	assert_null(store_open(NULL, f->data, &e));
	assert_non_null(e);
	assert_non_null(strstr(e->msg, "schema version 99"));
	err_free(e);

	/* A version 1 file (objects WITHOUT ROWID) is migrated in place, keeping every document. */
	unlink(db_path);
	assert_int_equal(sqlite3_open(db_path, &db), SQLITE_OK);
	assert_int_equal(
		sqlite3_exec(db,
			     "CREATE TABLE meta(name TEXT PRIMARY KEY, value) WITHOUT ROWID;"
			     "CREATE TABLE objects(kind TEXT NOT NULL, key TEXT NOT NULL, doc BLOB NOT NULL,"
			     " PRIMARY KEY(kind, key)) WITHOUT ROWID;"
			     "INSERT INTO meta VALUES('schema_version', 1);"
			     "INSERT INTO objects VALUES('k', 'a', 'doc-a'), ('k', 'b', 'doc-b');",
			     NULL, NULL, NULL),
		SQLITE_OK);
	sqlite3_close(db);
	st = open_ok(NULL, f->data);
	struct rows got = {0};
	assert_int_equal(store_load(st, "k", collect_cb, &got, NULL), 0);
	assert_int_equal(got.n, 2);
	assert_string_equal(got.r[1].doc, "doc-b");
	rows_free(&got);
	store_close(st);
	assert_int_equal(sqlite3_open(db_path, &db), SQLITE_OK);
	sqlite3_stmt *q = NULL;
	assert_int_equal(
		sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE name = 'schema_version'", -1, &q, NULL),
		SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int64(q, 0), 2);
	sqlite3_finalize(q);
	sqlite3_close(db);

	free(db_path);
	free(deep);
	free(file);
}

/* ---- throughput, printed for the record (timing goals live in bench/) ---- */

#define TPUT_BATCH 64

struct tput {
	struct store *st;
	int rounds_left;
	int per_batch;
	char fill; /* the documents' bytes: each run must change them, or SQLite has nothing to write */
	int batches;
	uint64_t puts;
};

static void tput_round(struct tput *t);

static void tput_cb(void *arg)
{
	struct tput *t = arg;
	/* Each round's writes were one batch: the commit that acked the last one is exactly it. */
	assert_int_equal(store_durable_seq(t->st), store_last_seq(t->st));
	t->batches++;
	if (--t->rounds_left > 0)
		tput_round(t);
}

static void tput_round(struct tput *t)
{
	char key[32], doc[512];
	uint64_t seq = 0;
	memset(doc, t->fill, sizeof(doc));
	for (int i = 0; i < t->per_batch; i++) {
		snprintf(key, sizeof(key), "t%08" PRIu64, t->puts++);
		seq = store_put(t->st, "tput", key, doc, sizeof(doc));
	}
	store_when_durable(t->st, seq, tput_cb, t);
}

static double tput_run(const char *dir, int per_batch, int rounds, char fill)
{
	uv_loop_t loop;
	assert_int_equal(uv_loop_init(&loop), 0);
	struct store *st = open_ok(&loop, dir);
	struct tput t = {st, rounds, per_batch, fill, 0, 0};
	uint64_t t0 = uv_hrtime();
	tput_round(&t);
	uv_run(&loop, UV_RUN_DEFAULT);
	uint64_t ns = uv_hrtime() - t0;
	assert_int_equal(t.batches, rounds);
	assert_int_equal(store_durable_seq(st), (uint64_t)per_batch * (uint64_t)rounds);
	store_close(st);
	assert_int_equal(uv_loop_close(&loop), 0);
	return (double)t.puts / ((double)ns / 1e9);
}

static void test_group_commit_throughput(void **state)
{
	struct fixture *f = *state;
	double grouped = tput_run(f->data, TPUT_BATCH, 100, 'a');
	double single = tput_run(f->data, 1, 100, 'b');
	fprintf(stderr,
		"# store: %d puts per batch: %.0f puts/s (%.0f commits/s); 1 put per batch: %.0f puts/s; "
		"ratio %.1f\n",
		TPUT_BATCH, grouped, grouped / TPUT_BATCH, single, grouped / single);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_roundtrip_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_supersede, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sync_mode, setup, teardown),
		cmocka_unit_test_setup_teardown(test_loop_group_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_keeps_acknowledged, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_group_commit_throughput, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
