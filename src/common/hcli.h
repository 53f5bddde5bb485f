/* An HTTP client on the libuv loop: libcurl's multi interface with its sockets polled by uv_poll
 * handles and its timeouts by a uv_timer, so that thousands of requests (e.g. one long-poll per
 * hollow agent) run concurrently on one thread. Connections are kept alive and reused. */
#ifndef GANTRY_HCLI_H
#define GANTRY_HCLI_H

#include <stddef.h>
#include <uv.h>

#include "common/err.h"
#include "common/hsrv.h"

/* The largest response body kept; a longer one fails the request. */
#define HCLI_BODY_MAX (64u * 1024u * 1024u)

struct hcli;
struct hcli_req;

/* Called once per request on the loop thread. status is the HTTP status, or 0 when the request
 * failed before one arrived (then err says why). body (borrowed, NUL-terminated) is valid only
 * during the call. */
typedef void (*hcli_done_fn)(void *arg, unsigned status, const char *body, size_t len, const struct err *err);

/* Creates a client on loop. Never NULL. */
struct hcli *hcli_new(uv_loop_t *loop);
/* Cancels every request still running (each callback is called as hcli_cancel says) and frees the
 * client once its handles are closed (the loop must run for that). Accepts NULL. */
void hcli_free(struct hcli *c);

/* Starts a request: method ("GET", "POST", ...), url, extra headers (n pairs), body (copied; may be
 * NULL for none), timeout for the whole request in milliseconds (0 = none). done is called when it
 * ends. Returns a handle usable with hcli_cancel until done is called. */
struct hcli_req *hcli_request(struct hcli *c, const char *method, const char *url,
			      const struct hsrv_header *hdrs, size_t n, const void *body, size_t len,
			      long timeout_ms, hcli_done_fn done, void *arg);
/* Cancels a running request: its done callback is called at once, with status 0 and an
 * ERR_UNAVAILABLE error "cancelled", so that whatever it owns is released in one place. */
void hcli_cancel(struct hcli_req *r);
/* The number of requests running. */
size_t hcli_running(const struct hcli *c);

#endif
