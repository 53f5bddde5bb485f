/* Unit tests for the log event store (logs/logstore.h): appends become readable only once durable,
 * survive a reopen (the index is rebuilt), a torn tail is cut off, rotation and retention delete
 * whole segments while sequence numbers stay, time ranges use the sparse index, reading backwards,
 * and dropped streams stay gone. Runs without a loop (durability through logstore_flush). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "common/xalloc.h"
#include "logs/logstore.h"

static char dir[64];

static int rm_one(const char *p, const struct stat *sb, int f, struct FTW *ftw)
{
	(void)sb;
	(void)f;
	(void)ftw;
	return remove(p);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_logstore.XXXXXX");
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

static struct logstore *open_ls(void)
{
	struct err *e = NULL;
	char *p = xasprintf("%s/logs", dir);
	struct logstore *ls = logstore_open(NULL, p, &e);
	free(p);
	if (!ls)
		fail_msg("open: %s", e->msg);
	return ls;
}

/* Appends n events "msg-<i>" with timestamps t0 + i*step. */
static void put(struct logstore *ls, struct logstore_stream *st, size_t n, int64_t t0, int64_t step,
		size_t first)
{
	struct logstore_in *ev = calloc(n, sizeof(*ev));
	char **msgs = calloc(n, sizeof(*msgs));
	for (size_t i = 0; i < n; i++) {
		msgs[i] = xasprintf("msg-%zu", first + i);
		ev[i] = (struct logstore_in){t0 + (int64_t)i * step, msgs[i], strlen(msgs[i])};
	}
	struct err *e = NULL;
	assert_int_equal(logstore_append(ls, st, ev, n, 1000, &e), 0);
	for (size_t i = 0; i < n; i++)
		free(msgs[i]);
	free(msgs);
	free(ev);
}

/* Reads the events in [start, end) from seq `from`; returns how many, checks they are consecutive
 * "msg-<k>" from *first_k (set to the first one's k). */
static size_t count(struct logstore_stream *st, uint64_t from, int64_t start, int64_t end, uint64_t *examined)
{
	struct logstore_iter *it = logstore_iter_new(st, from, start, end);
	struct logstore_event ev;
	struct err *e = NULL;
	size_t n = 0;
	long prev = -1;
	int r;
	while ((r = logstore_iter_next(it, &ev, examined, &e)) == 1) {
		char buf[32];
		assert_true(ev.len < sizeof(buf));
		memcpy(buf, ev.msg, ev.len);
		buf[ev.len] = 0;
		long k = strtol(buf + 4, NULL, 10);
		if (prev >= 0)
			assert_int_equal(k, prev + 1);
		prev = k;
		assert_true(ev.timestamp >= start && ev.timestamp < end);
		n++;
	}
	assert_int_equal(r, 0);
	logstore_iter_free(it);
	return n;
}

static int fired;
static void on_durable(void *arg)
{
	(void)arg;
	fired++;
}

static void test_append_durable_reopen(void **state)
{
	(void)state;
	struct logstore *ls = open_ls();
	struct logstore_stream *st = logstore_stream(ls, "acct/r/g", "s", true);
	assert_null(logstore_stream(ls, "acct/r/g", "other", false));
	put(ls, st, 1000, 5000, 1, 0);
	/* Not durable yet: not readable. */
	assert_int_equal(count(st, 0, INT64_MIN, INT64_MAX, NULL), 0);
	fired = 0;
	logstore_when_durable(ls, on_durable, NULL);
	assert_int_equal(fired, 0);
	assert_int_equal(logstore_flush(ls, NULL), 0);
	assert_int_equal(fired, 1);
	assert_int_equal(count(st, 0, INT64_MIN, INT64_MAX, NULL), 1000);
	/* Already durable: at once. */
	logstore_when_durable(ls, on_durable, NULL);
	assert_int_equal(fired, 2);
	struct logstore_info info;
	logstore_info(st, &info);
	assert_int_equal(info.events, 1000);
	assert_int_equal(info.next_seq, 1000);
	assert_int_equal(info.first_ts, 5000);
	assert_int_equal(info.last_ts, 5999);
	logstore_close(ls);

	ls = open_ls();
	st = logstore_stream(ls, "acct/r/g", "s", false);
	assert_non_null(st);
	assert_int_equal(count(st, 0, INT64_MIN, INT64_MAX, NULL), 1000);
	put(ls, st, 10, 6000, 1, 1000);
	logstore_flush(ls, NULL);
	assert_int_equal(count(st, 990, INT64_MIN, INT64_MAX, NULL), 20);
	logstore_close(ls);
}

static void test_torn_tail(void **state)
{
	(void)state;
	struct logstore *ls = open_ls();
	struct logstore_stream *st = logstore_stream(ls, "acct/r/g", "torn", true);
	put(ls, st, 100, 1, 1, 0);
	logstore_flush(ls, NULL);
	logstore_close(ls);
	/* Find the segment and append half a record and then garbage, as a crash mid-write leaves. */
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "%s/logs", dir);
	char *seg = NULL;
	DIR *d1 = opendir(cmd);
	struct dirent *a;
	while (!seg && (a = readdir(d1))) {
		if (a->d_name[0] == '.')
			continue;
		char *g = xasprintf("%s/%s", cmd, a->d_name);
		DIR *d2 = opendir(g);
		struct dirent *b;
		while (!seg && (b = readdir(d2))) {
			if (b->d_name[0] == '.' || !strcmp(b->d_name, "name"))
				continue;
			char *s = xasprintf("%s/%s", g, b->d_name);
			char *n = xasprintf("%s/name", s);
			FILE *f = fopen(n, "r");
			char nm[16] = {0};
			if (f && fgets(nm, sizeof(nm), f) && !strcmp(nm, "torn"))
				seg = xasprintf("%s/0000000000000000.seg", s);
			if (f)
				fclose(f);
			free(n);
			free(s);
		}
		closedir(d2);
		free(g);
	}
	closedir(d1);
	assert_non_null(seg);
	int fd = open(seg, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	unsigned char junk[40] = {20, 0, 0, 0, 1, 2, 3, 4, 5};
	assert_int_equal(write(fd, junk, sizeof(junk)), sizeof(junk));
	close(fd);
	ls = open_ls();
	st = logstore_stream(ls, "acct/r/g", "torn", false);
	assert_int_equal(count(st, 0, INT64_MIN, INT64_MAX, NULL), 100);
	put(ls, st, 5, 200, 1, 100);
	logstore_flush(ls, NULL);
	assert_int_equal(count(st, 0, INT64_MIN, INT64_MAX, NULL), 105);
	logstore_close(ls);
	ls = open_ls();
	st = logstore_stream(ls, "acct/r/g", "torn", false);
	assert_int_equal(count(st, 0, INT64_MIN, INT64_MAX, NULL), 105);
	logstore_close(ls);
	free(seg);
}

static void test_rotation_expiry_index(void **state)
{
	(void)state;
	struct logstore *ls = open_ls();
	logstore_set_rotation(ls, 16 * 1024, INT64_MAX);
	struct logstore_stream *st = logstore_stream(ls, "acct/r/g", "rot", true);
	/* 20 batches of 500 events, timestamps 0..9999 */
	for (size_t b = 0; b < 20; b++)
		put(ls, st, 500, (int64_t)b * 500, 1, b * 500);
	logstore_flush(ls, NULL);
	assert_int_equal(count(st, 0, INT64_MIN, INT64_MAX, NULL), 10000);
	/* A narrow time range reads a few blocks, not the stream. */
	uint64_t examined = 0;
	assert_int_equal(count(st, 0, 7000, 7010, &examined), 10);
	assert_true(examined <= 2 * LOGSTORE_BLOCK_EVENTS);
	/* Reading backwards from the tail. */
	struct logstore_info before;
	logstore_info(st, &before);
	/* Expire everything older than 5000: whole segments go, the numbering stays. */
	size_t dropped = logstore_expire(ls, st, 5000);
	assert_true(dropped >= 5);
	struct logstore_info after;
	logstore_info(st, &after);
	assert_true(after.events < before.events);
	assert_true(after.first_ts <= 5000);
	assert_int_equal(after.next_seq, 10000);
	size_t left = count(st, 0, INT64_MIN, INT64_MAX, NULL);
	assert_int_equal(left, after.events);
	assert_int_equal(count(st, 9990, INT64_MIN, INT64_MAX, NULL), 10);
	logstore_flush(ls, NULL);
	logstore_close(ls);
	ls = open_ls();
	st = logstore_stream(ls, "acct/r/g", "rot", false);
	assert_int_equal(count(st, 0, INT64_MIN, INT64_MAX, NULL), left);
	logstore_info(st, &after);
	assert_int_equal(after.next_seq, 10000);
	logstore_close(ls);
}

struct back {
	uint64_t seqs[64];
	size_t n, want;
};

static int back_cb(void *arg, const struct logstore_event *ev)
{
	struct back *b = arg;
	b->seqs[b->n++] = ev->seq;
	return b->n == b->want;
}

static void test_scan_back(void **state)
{
	(void)state;
	struct logstore *ls = open_ls();
	struct logstore_stream *st = logstore_stream(ls, "acct/r/g", "back", true);
	put(ls, st, 1000, 0, 10, 0);
	logstore_flush(ls, NULL);
	struct back b = {.want = 5};
	struct err *e = NULL;
	assert_int_equal(logstore_scan_back(st, UINT64_MAX, INT64_MIN, INT64_MAX, back_cb, &b, &e), 1);
	assert_int_equal(b.n, 5);
	assert_int_equal(b.seqs[0], 999);
	assert_int_equal(b.seqs[4], 995);
	b = (struct back){.want = 3};
	assert_int_equal(logstore_scan_back(st, 500, 0, 4000, back_cb, &b, &e), 1);
	assert_int_equal(b.seqs[0], 399); /* timestamp 3990 < 4000 */
	b = (struct back){.want = 64};
	assert_int_equal(logstore_scan_back(st, 3, INT64_MIN, INT64_MAX, back_cb, &b, &e), 0);
	assert_int_equal(b.n, 3);
	logstore_close(ls);
}

static void test_drop(void **state)
{
	(void)state;
	struct logstore *ls = open_ls();
	struct logstore_stream *st = logstore_stream(ls, "acct/r/g2", "gone", true);
	put(ls, st, 10, 0, 1, 0);
	logstore_flush(ls, NULL);
	logstore_drop_stream(ls, st);
	assert_null(logstore_stream(ls, "acct/r/g2", "gone", false));
	logstore_flush(ls, NULL);
	logstore_close(ls);
	ls = open_ls();
	assert_null(logstore_stream(ls, "acct/r/g2", "gone", false));
	st = logstore_stream(ls, "acct/r/g2", "gone", true);
	assert_int_equal(count(st, 0, INT64_MIN, INT64_MAX, NULL), 0);
	logstore_close(ls);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_append_durable_reopen),
		cmocka_unit_test(test_torn_tail),
		cmocka_unit_test(test_rotation_expiry_index),
		cmocka_unit_test(test_scan_back),
		cmocka_unit_test(test_drop),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
