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

/* PutLogEvents, as the CloudWatch Logs API reference states it: a batch holds 1 to 10,000 events;
 * its size, the UTF-8 bytes of every message plus 26 per event, is at most 1,048,576 bytes; one
 * event (its message plus 26) is at most 256 KiB. */
#define LOGS_PUT_EVENTS_MAX	10000
#define LOGS_PUT_BATCH_BYTES	1048576
#define LOGS_PUT_EVENT_OVERHEAD 26
#define LOGS_PUT_EVENT_BYTES	(256 * 1024)

/* The largest PutLogEvents request body taken (the API front's bound for that operation; every
 * other one keeps API_BODY_MAX, 1 MiB). CloudWatch bounds the events, not the JSON that carries
 * them, and a legal batch can take far more than 1 MiB of JSON. The most it can take:
 *   messages  1,048,576 bytes of UTF-8 (the 26 per event counted as message bytes too), each
 *             written as at most 6: a control character is "\u0001"; escaped, a 2-byte character
 *             is one 6-byte \u escape and a 4-byte one a 12-byte surrogate pair
 *                                                              6 x 1,048,576 = 6,291,456
 *   events    {"timestamp":-9223372036854775808,"message":""} and a comma: 48 bytes, 52 with a
 *             space after each ':' and ',', as some encoders write them
 *                                                                 64 x 10,000 =   640,000
 *   the rest  logGroupName and logStreamName (512 characters each, at most 12 KiB together
 *             when escaped), sequenceToken, member names, braces, whitespace          65,536
 *                                                                          total  6,996,992
 * (6.7 MiB). A body padded past that with whitespace is refused as too large, like any other. */
#define LOGS_PUT_BODY_MAX (6 * LOGS_PUT_BATCH_BYTES + 64 * LOGS_PUT_EVENTS_MAX + 65536)

/* How often retention deletes old segments (seconds); the environment variable
 * GANTRY_LOGS_RETENTION_INTERVAL overrides it (tests). Reads filter expired events regardless. */
#define LOGS_RETENTION_INTERVAL_S 300

/* Opens the log store in data_dir/logs and loads group and stream metadata from store (which must
 * not have been written to yet). loop and store are borrowed. Returns a new object or NULL with
 * *err. */
struct logs *logs_new(uv_loop_t *loop, struct store *store, const char *data_dir, struct err **err);

/* Registers the Logs operations with the API front (PutLogEvents with its body bound,
 * LOGS_PUT_BODY_MAX) and starts the retention timer. */
void logs_add_to_api(struct logs *logs, struct api *api);

/* Stops the retention timer and calls done(arg) on the loop once every accepted log event is
 * durable (so that answers waiting for it have gone out). */
void logs_stop(struct logs *logs, void (*done)(void *arg), void *arg);

/* Makes everything durable and frees; accepts NULL. With a loop, run it once more afterwards so that
 * the closed handles finish (server.c does). */
void logs_free(struct logs *logs);

#endif
