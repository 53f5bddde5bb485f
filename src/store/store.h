/* The durable store behind the control plane (DESIGN.md §4). The loop thread owns all state in
 * memory; the store keeps a copy of every document so that a restart rebuilds memory exactly.
 *
 * Model: a set of documents, each named by (kind, key), e.g. ("cluster", "000000000000/us-east-1/web").
 * Writes are queued with store_put() / store_del(), which return at once with a sequence number;
 * queued writes are committed in batches (group commit) on the libuv thread pool, one SQLite
 * transaction with a full fsync per batch. store_when_durable() runs a callback on the loop once a
 * given sequence number is on disk: the API answers a mutation only then, so nothing acknowledged
 * is ever lost, and many concurrent mutations share one fsync.
 *
 * Backends: sqlite.c (SQLite in WAL mode, synchronous=FULL). An etcd backend implements the same
 * functions later. All functions are called on the loop thread only.
 *
 * With a loop, a batch starts at the loop's next idle phase after a write is queued, so the writes
 * that the callbacks of one loop iteration make share it; one batch is in flight at a time, and
 * writes queued meanwhile form the next one. store_flush() and store_close() run the loop themselves
 * (UV_RUN_ONCE) until the batch in flight is done; uv_run() is not reentrant, so call them before
 * the loop runs or after uv_run() returns, never from a loop callback. */
#ifndef GANTRY_STORE_H
#define GANTRY_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "common/err.h"

struct store;

/* Opens (creating if needed) the store in directory dir (created with mode 0700 if missing; its
 * parent must exist); the database is dir/state.db. loop may be NULL for synchronous use (tests,
 * tools): then batches are committed inline by store_flush(), and durability callbacks run from
 * there. Returns a new store, or NULL with *err (also when the file has another schema version). */
struct store *store_open(uv_loop_t *loop, const char *dir, struct err **err);

/* Commits everything queued, waits for any batch in flight, and closes; frees the store.
 * Accepts NULL. Must not be called while a store_when_durable callback is running, nor from any
 * other loop callback (see above). If the final commit fails, the error is logged and those
 * writes are lost; callbacks still waiting for them never run. */
void store_close(struct store *st);

/* Calls cb(arg, key, doc, len) for every document of `kind`, in key order. Only valid before the
 * first store_put (i.e., at start-up). A non-zero return from cb stops the walk and is returned.
 * doc is borrowed for the duration of the call; doc[len] == 0, for parsers that want a string.
 * Returns 0, cb's non-zero value, or -1 with *err: also when writes are queued or in flight (the
 * file would not show them) or when called from inside cb. */
int store_load(struct store *st, const char *kind,
	       int (*cb)(void *arg, const char *key, const char *doc, size_t len), void *arg,
	       struct err **err);

/* Queues "document (kind, key) is now doc[0..len)". Copies its arguments; doc may hold any bytes
 * (and be NULL when len is 0), kind and key are NUL-terminated text. Returns the write's sequence
 * number (> 0, increasing; they restart at 1 with every store_open). Later writes to the same
 * (kind, key) supersede earlier ones. */
uint64_t store_put(struct store *st, const char *kind, const char *key, const char *doc, size_t len);
/* Queues the deletion of (kind, key) (a no-op when it does not exist). Returns its sequence number. */
uint64_t store_del(struct store *st, const char *kind, const char *key);

/* The sequence number of the most recent queued write (0 when nothing was ever written). */
uint64_t store_last_seq(const struct store *st);
/* The highest sequence number known to be on disk. */
uint64_t store_durable_seq(const struct store *st);

/* Runs cb(arg) on the loop once every write up to and including seq is durable: at once
 * (synchronously, before returning) when it already is. Callbacks run in seq order (callbacks
 * for the same seq in the order they were registered), after the commit; a callback may queue
 * writes and register callbacks. If a commit on the thread pool fails the process logs the
 * SQLite error and exits (exit(EXIT_FAILURE)): memory would otherwise be ahead of disk, and a
 * restart from the store loses nothing that was acknowledged. */
void store_when_durable(struct store *st, uint64_t seq, void (*cb)(void *arg), void *arg);

/* Synchronously commits everything queued (and waits for a batch in flight), then runs the due
 * durability callbacks; writes those callbacks queue are committed too. For start-up, shutdown
 * and tests; not from a loop callback (see above). Returns 0, or -1 with *err; then the writes
 * that failed stay queued. */
int store_flush(struct store *st, struct err **err);

#endif
