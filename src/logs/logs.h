/* CloudWatch Logs (JSON 1.1, X-Amz-Target prefix Logs_20140328, signing name `logs`): log groups
 * and streams, PutLogEvents / GetLogEvents / FilterLogEvents, retention and tags. Group and stream
 * metadata live in the control-plane store (kinds "loggroup", "logstream"); the events live in the
 * log store (logstore.h) under DATA/logs/, never in the control-plane store. */
#ifndef GANTRY_LOGS_H
#define GANTRY_LOGS_H

#include <uv.h>

#include "common/err.h"

struct api;
struct logs;
struct store;

/* How often retention deletes old segments (seconds); the environment variable
 * GANTRY_LOGS_RETENTION_INTERVAL overrides it (tests). Reads filter expired events regardless. */
#define LOGS_RETENTION_INTERVAL_S 300

/* Opens the log store in data_dir/logs and loads group and stream metadata from store (which must
 * not have been written to yet). loop and store are borrowed. Returns a new object or NULL with
 * *err. */
struct logs *logs_new(uv_loop_t *loop, struct store *store, const char *data_dir, struct err **err);

/* Registers the Logs operations with the API front and starts the retention timer. */
void logs_add_to_api(struct logs *logs, struct api *api);

/* Stops the retention timer and calls done(arg) on the loop once every accepted log event is
 * durable (so that answers waiting for it have gone out). */
void logs_stop(struct logs *logs, void (*done)(void *arg), void *arg);

/* Makes everything durable and frees; accepts NULL. With a loop, run it once more afterwards so that
 * the closed handles finish (server.c does). */
void logs_free(struct logs *logs);

#endif
