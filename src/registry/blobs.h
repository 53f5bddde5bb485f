/* The registry's content-addressed blob store on disk: every blob once, under its digest
 * (DIR/sha256/ab/abcdef...), and upload sessions (DIR/uploads/<id>) whose bytes are hashed as they
 * arrive. A blob becomes visible only by an atomic rename after its digest matched and its bytes
 * were fsynced, so an upload interrupted at any byte, or a server killed mid-upload, leaves no
 * visible blob; leftover sessions are removed at open. Loop thread only (fsyncs run on the libuv
 * thread pool). */
#ifndef GANTRY_BLOBS_H
#define GANTRY_BLOBS_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include <uv.h>

#include "common/err.h"
#include "common/hmap.h"

/* The largest blob accepted: ECR's layer size limit (52,000 MiB). */
#define BLOBS_SIZE_MAX (52000LL * 1024 * 1024)
/* Upload sessions open at once; more are refused (TOOMANYREQUESTS) until some finish or expire. */
#define BLOBS_UPLOADS_MAX 1024
/* An upload session untouched this long is dropped (the spec lets registries expire them). */
#define BLOBS_UPLOAD_IDLE_S 3600

struct blobs;
struct blobs_upload;

/* Opens the store in dir (created, mode 0700), removing the upload sessions a previous process
 * left. Returns a new store or NULL with *err. */
struct blobs *blobs_open(uv_loop_t *loop, const char *dir, struct err **err);
/* Frees the store; cancels open sessions (their files are removed). Pending commits must have
 * finished (close after the loop has drained). Accepts NULL. */
void blobs_close(struct blobs *b);

/* The size of blob digest (a checked "sha256:<hex>"), or -1 when it is not stored. */
long long blobs_size(struct blobs *b, const char *digest);
/* Opens blob digest for reading. Returns the fd (the caller closes it) and its size in *size, or -1
 * when it is not stored. */
int blobs_open_read(struct blobs *b, const char *digest, long long *size);
/* Starts an upload session for owner (a caller's key, e.g. "account/region/repo", copied: the
 * session is only found again under the same owner). Returns it, or NULL with *err
 * (ERR_LIMIT_EXCEEDED when BLOBS_UPLOADS_MAX are open). */
struct blobs_upload *blobs_upload_new(struct blobs *b, const char *owner, struct err **err);
/* The session with this id and owner, or NULL. */
struct blobs_upload *blobs_upload_find(struct blobs *b, const char *owner, const char *id);
/* Its id (36 characters, a UUID) and the bytes received so far. */
const char *blobs_upload_id(const struct blobs_upload *u);
long long blobs_upload_size(const struct blobs_upload *u);
/* The request writing to it now (opaque to the store), or NULL. A session with a writer is not
 * expired or cancelled. */
void *blobs_upload_writer(const struct blobs_upload *u);
void blobs_upload_set_writer(struct blobs_upload *u, void *writer);
/* Appends n bytes. Returns 0, or -1 with *err (ERR_TOO_LARGE past BLOBS_SIZE_MAX, ERR_SYS). */
int blobs_upload_write(struct blobs_upload *u, const void *p, size_t n, struct err **err);

/* Called on the loop when a commit is done: err is NULL on success (the blob is then visible
 * under its digest), else the reason (taken by the callee). */
typedef void (*blobs_done_fn)(void *arg, struct err *err);
/* Finishes a session: checks that its bytes hash to digest (refused with ERR_INVALID_PARAM when
 * not, or ERR_UNSUPPORTED for another algorithm than sha256), then fsyncs and renames it into
 * place on the thread pool and calls done. The session is consumed either way (gone from the
 * store when done runs; on a digest mismatch its bytes are discarded). If the blob already exists
 * the session's copy is dropped. done may run before this returns (on a mismatch). */
void blobs_upload_commit(struct blobs_upload *u, const char *digest, blobs_done_fn done, void *arg);
/* Abandons a session and removes its bytes. */
void blobs_upload_cancel(struct blobs_upload *u);

/* Garbage collection (the registry decides what is garbage; see gc.c). */

/* Called on the loop with the digests a scan found (a new array of strings, taken by the callee;
 * NULL when the scan failed or was cancelled). */
typedef void (*blobs_scan_fn)(void *arg, json_t *found);
/* Lists, on the thread pool, the stored blobs that are not in keep and whose files are older than
 * min_age_s seconds (by mtime: a blob stored since the caller built keep is younger than that).
 * keep (digest -> anything) is taken by the scan and freed when it ends; the caller must not touch
 * it after this call. done runs on the loop. */
void blobs_scan(struct blobs *b, struct hmap *keep, double min_age_s, blobs_scan_fn done, void *arg);
/* Removes stored blob digest. Refused (ERR_UNAVAILABLE) while a commit of the same digest is in flight,
 * since its file may be appearing. Returns the bytes freed, or -1 with *err. */
long long blobs_remove(struct blobs *b, const char *digest, struct err **err);

#endif
