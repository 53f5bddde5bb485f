/* The log event store: CloudWatch Logs events in files of their own under DATA/logs/ (never in the
 * control-plane store).
 *
 * Layout: DATA/logs/<sha256(group key)>/<sha256(stream name)>/<first seq, 16 hex>.seg, plus a file
 * `name` in each group and stream directory holding its real name. A segment is append-only, a
 * sequence of records: u32 message length, u32 CRC-32 (of the rest), i64 timestamp (ms), i64
 * ingestion time (ms), message bytes (host byte order). Events in a stream are numbered by a
 * sequence number that never goes back (a segment's name is the number of its first event), so
 * read tokens stay valid while old segments are deleted.
 *
 * Durability: appends are written at once (to the page cache) and made durable by group commit: at
 * the loop's next idle phase, one job on the libuv thread pool fdatasyncs every segment (and
 * fsyncs every directory) written since the last job; logstore_when_durable() callbacks run on the
 * loop when the job is done. Readers see an event only once it is durable, so nothing that was
 * read can vanish in a crash. On open, every segment is scanned once to rebuild the index; a torn
 * or corrupt tail (a crash during a write) is cut off.
 *
 * Index: per stream, per segment, a sparse index of blocks of LOGSTORE_BLOCK_EVENTS events (file
 * offset, first sequence number, lowest and highest timestamp), so that a time range or the tail
 * is read without scanning the whole stream. Retention deletes whole segments whose newest event
 * is older than the cutoff (logstore_expire); readers filter the rest by time.
 *
 * Everything runs on the loop thread, except the fsyncs and directory removals. */
#ifndef GANTRY_LOGS_LOGSTORE_H
#define GANTRY_LOGS_LOGSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "common/err.h"

#define LOGSTORE_BLOCK_EVENTS 128		   /* events per sparse-index entry */
#define LOGSTORE_SEG_BYTES    (64u * 1024 * 1024)  /* a segment is rotated past this size */
#define LOGSTORE_SEG_AGE_MS   (24LL * 3600 * 1000) /* ... or when its first event is this old */
#define LOGSTORE_MSG_MAX      (1024u * 1024u)	   /* no message is larger (records beyond are corrupt) */
#define LOGSTORE_REC_HEADER   24		   /* bytes before a record's message */

struct logstore;
struct logstore_stream;

/* One event to append. */
struct logstore_in {
	int64_t timestamp; /* ms since the epoch */
	const char *msg;
	size_t len;
};

/* One event read back. msg is borrowed: valid until the next call on the same iterator. */
struct logstore_event {
	uint64_t seq;
	int64_t timestamp;
	int64_t ingestion;
	const char *msg;
	size_t len;
};

/* What a stream holds (of its durable events). first/last are 0 when it is empty. */
struct logstore_info {
	uint64_t events;     /* events in the segments still on disk */
	uint64_t next_seq;   /* the sequence number the next durable event will get */
	uint64_t bytes;	     /* bytes on disk */
	int64_t first_ts;    /* lowest timestamp */
	int64_t last_ts;     /* highest timestamp */
	int64_t last_ingest; /* the latest ingestion time */
};

/* Opens (creating if needed, mode 0700) the store in directory dir and rebuilds every stream's
 * index by scanning its segments. loop may be NULL (tests): then writes become durable in
 * logstore_flush(). Returns a new store or NULL with *err. */
struct logstore *logstore_open(uv_loop_t *loop, const char *dir, struct err **err);

/* Makes everything written durable (running due callbacks), closes its handles and frees the store.
 * Not from a loop callback while a sync job is in flight; accepts NULL. */
void logstore_close(struct logstore *ls);

/* Synchronously makes everything appended so far durable and runs the due callbacks. For tests,
 * start-up and shutdown (not from a loop callback). Returns 0 or -1 with *err. */
int logstore_flush(struct logstore *ls, struct err **err);

/* Sets the rotation limits (tests use small ones). */
void logstore_set_rotation(struct logstore *ls, uint64_t seg_bytes, int64_t seg_age_ms);

/* The stream named (group_key, name), or NULL. With create, a missing stream is made (its
 * directories are created on its first append). group_key is the caller's unique name for the
 * group (logs.c uses "ACCOUNT/REGION/GROUP"). Borrowed; valid until it is dropped. */
struct logstore_stream *logstore_stream(struct logstore *ls, const char *group_key, const char *name,
					bool create);

/* Calls cb for every stream that has data on disk (for start-up reconciliation with the metadata).
 * cb may call logstore_drop_stream on the stream it is given. */
void logstore_foreach(struct logstore *ls,
		      void (*cb)(void *arg, const char *group_key, const char *name,
				 struct logstore_stream *st),
		      void *arg);

/* Appends n events (n > 0) with ingestion time `ingest`. They become readable and durable at the
 * next group commit; register a callback with logstore_when_durable to learn when. Returns 0, or
 * -1 with *err (nothing of the batch is kept then). */
int logstore_append(struct logstore *ls, struct logstore_stream *st, const struct logstore_in *ev, size_t n,
		    int64_t ingest, struct err **err);

/* Runs cb(arg) on the loop once everything appended so far is durable (at once when it already is). */
void logstore_when_durable(struct logstore *ls, void (*cb)(void *arg), void *arg);

/* Deletes a stream's events and directory (a rename now, the removal on the thread pool). st is
 * invalid afterwards. */
void logstore_drop_stream(struct logstore *ls, struct logstore_stream *st);

/* Deletes the segments of st whose every event is older than cutoff_ms. Returns how many. */
size_t logstore_expire(struct logstore *ls, struct logstore_stream *st, int64_t cutoff_ms);

/* Fills *info about st's durable events. */
void logstore_info(const struct logstore_stream *st, struct logstore_info *info);

/* --- reading: an iterator over a stream's durable events in sequence order --- */

struct logstore_iter;

/* An iterator over the events of st with seq >= from_seq and start_ms <= timestamp < end_ms
 * (blocks outside the range are skipped using the index). New; free with logstore_iter_free. */
struct logstore_iter *logstore_iter_new(struct logstore_stream *st, uint64_t from_seq, int64_t start_ms,
					int64_t end_ms);
/* Next event (1), the end (0), or -1 with *err on an I/O error. *examined (may be NULL) is
 * increased by the number of records looked at. */
int logstore_iter_next(struct logstore_iter *it, struct logstore_event *ev, uint64_t *examined,
		       struct err **err);
void logstore_iter_free(struct logstore_iter *it);

/* Calls cb for the events of st with seq < before_seq and start_ms <= timestamp < end_ms, newest
 * first, until cb returns non-zero (that value is returned) or the events run out (0). -1 with *err
 * on an I/O error. ev->msg is only valid during the callback. */
int logstore_scan_back(struct logstore_stream *st, uint64_t before_seq, int64_t start_ms, int64_t end_ms,
		       int (*cb)(void *arg, const struct logstore_event *ev), void *arg, struct err **err);

#endif
