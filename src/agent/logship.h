/* The awslogs log driver: ships what a container prints (the k8s-file log conmon writes, one line
 * per write: "2024-05-01T12:00:00.123456789+00:00 stdout F text", "P" marking a partial line that
 * the next one continues) to CloudWatch Logs (gantry's Logs API) with PutLogEvents, in order, in
 * batches, one stream per container. What has been shipped is kept as an offset in a file beside
 * the log, so an agent that restarts goes on where it stopped, and a server that cannot be reached
 * only delays shipping: the log file (bounded by conmon's log-size-max) is the buffer. A batch ends
 * where every line it holds is whole, except for a line longer than a batch: then the batch ends
 * inside it and the next goes on from there (what of that line is not shipped yet, less than an
 * event, is kept with the offset, so a restart just then loses nothing either). Loop thread only;
 * the reads are small and from the page cache. */
#ifndef GANTRY_LOGSHIP_H
#define GANTRY_LOGSHIP_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "api/awsc.h"
#include "common/err.h"
#include "logs/logs.h"

/* Batches are bounded as CloudWatch bounds them (logs.h): a message is at most LOGSHIP_EVENT_MAX
 * bytes, a batch at most LOGSHIP_BATCH_BYTES counting 26 per event and LOGSHIP_BATCH_EVENTS events.
 * Their JSON is larger (a control character takes 6 bytes), up to LOGS_PUT_BODY_MAX, which is what
 * the server takes for PutLogEvents. */
#define LOGSHIP_EVENT_MAX	   (LOGS_PUT_EVENT_BYTES - LOGS_PUT_EVENT_OVERHEAD)
#define LOGSHIP_BATCH_BYTES	   LOGS_PUT_BATCH_BYTES
#define LOGSHIP_BATCH_EVENTS	   LOGS_PUT_EVENTS_MAX
#define LOGSHIP_READ_MAX	   (2 * 1024 * 1024) /* bytes of the log read at a time */
#define LOGSHIP_POLL_MS		   250		     /* how often a running container's log is looked at */
#define LOGSHIP_RETRY_MIN_MS	   500		     /* after a failed call: this, doubling ... */
#define LOGSHIP_RETRY_MAX_MS	   15000	     /* ... up to this */
#define LOGSHIP_CALL_TIMEOUT	   30000
#define LOGSHIP_MAX_BUFFER_DEFAULT (1024 * 1024) /* docker's max-buffer-size: 1m */

/* Parses a docker size ("4m", "512k", "1g", "1048576") into bytes. Returns -1 when it is not one. */
long long logship_parse_size(const char *s);

struct logship_stream;

/* Where a container's output goes (its logConfiguration options). Borrowed for the call. */
struct logship_target {
	const char *group;  /* awslogs-group */
	const char *stream; /* "prefix/container/task-id", as ECS names it */
	bool create_group;  /* awslogs-create-group */
	/* mode: the container never waits for shipping here (conmon writes its output to a file,
	 * which is the buffer). blocking (the default) ships every line, up to conmon's log size
	 * bound; non-blocking keeps at most max_buffer bytes not yet shipped and drops the oldest
	 * beyond that (with a warning), as docker's ring buffer does. */
	bool non_blocking;
	long long max_buffer; /* max-buffer-size in bytes; 0 = LOGSHIP_MAX_BUFFER_DEFAULT */
};

/* Called once when the stream is ready (the group and stream exist: e is NULL) or cannot be
 * (e->msg is CloudWatch's reason, e.g. the group does not exist and may not be created). */
typedef void (*logship_ready_fn)(void *arg, const struct err *e);

/* Starts shipping the k8s-file log at path (it may not exist yet) to t, keeping progress in
 * offset_path; first creates the group (when t->create_group) and the stream, then calls ready.
 * aws (borrowed) signs the calls. Returns the stream (never NULL). */
struct logship_stream *logship_start(uv_loop_t *loop, struct awsc *aws, const char *path,
				     const char *offset_path, const struct logship_target *t,
				     logship_ready_fn ready, void *arg);
/* The container has exited: everything in the log (a last partial line too) is shipped, then
 * done(arg) is called (once). */
void logship_finish(struct logship_stream *s, void (*done)(void *arg), void *arg);
/* Stops shipping (what is not shipped stays in the log and its offset file for a later
 * logship_start) and frees the stream once its handles are closed. No callback after this. Accepts
 * NULL. */
void logship_stop(struct logship_stream *s);

/* Whether part of the log at path is not shipped yet by the progress kept in offset_path (its
 * offset is short of the log's size, or it holds a long line's unshipped rest). False when there
 * is no log. File operations only: safe on any thread. */
bool logship_unshipped(const char *path, const char *offset_path);

/* One line of a k8s-file log, parsed: ms since the epoch, whether it came from stderr (else
 * stdout), whether it is partial, and the message (borrowed from line). Returns 0, or -1 for a line
 * that is not in the format. */
int logship_parse_line(const char *line, size_t len, long long *ms, bool *is_stderr, bool *partial,
		       const char **msg, size_t *msg_len);

#endif
