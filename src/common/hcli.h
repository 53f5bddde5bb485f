/* An HTTP client on the libuv loop: libcurl's multi interface with its sockets polled by uv_poll
 * handles and its timeouts by a uv_timer, so that thousands of requests (e.g. one long-poll per
 * hollow agent) run concurrently on one thread. Connections are kept alive and reused. */
#ifndef GANTRY_HCLI_H
#define GANTRY_HCLI_H

#include <stdbool.h>
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
/* The answer to a request started with hcli_request_full, valid only during the done callback. */
struct hcli_resp {
	unsigned status;       /* the HTTP status, or 0 when the request failed before one arrived */
	const char *body;      /* borrowed, NUL-terminated */
	size_t len;	       /* bytes in body */
	const struct err *err; /* why it failed when status is 0, else NULL */
	const char *hdrs__;    /* private: the response's header lines (see hcli_resp_header) */
	size_t hdrs_len__;     /* private */
};

/* Called once per hcli_request_full request on the loop thread. */
typedef void (*hcli_resp_fn)(void *arg, const struct hcli_resp *r);

/* The most bytes of response headers kept; a request with more fails. */
#define HCLI_HEADERS_MAX (64u * 1024u)

/* Receives the body of a 2xx answer as it arrives, for a request that set hcli_opts.sink: n > 0
 * bytes at p. Returns 0 to go on, or -1 to stop the transfer: the request then fails (status 0,
 * an ERR_CLIENT error "the receiver stopped the transfer"; the sink keeps its own reason). Runs on
 * the loop thread. */
typedef int (*hcli_sink_fn)(void *arg, const void *p, size_t n);

/* Everything a request can carry. Strings and the in-memory body are copied by hcli_request_full,
 * so the struct may live on the caller's stack. */
struct hcli_opts {
	const char *method; /* "GET", "PUT", ... */
	const char *url;
	const struct hsrv_header *hdrs; /* extra request headers */
	size_t nhdrs;
	const void *body; /* copied; NULL for none (ignored when body_from_fd) */
	size_t len;
	bool body_from_fd;   /* send body_size bytes read from body_fd instead of body */
	int body_fd;	     /* taken over by the request: closed when it ends, whatever happens */
	long long body_size; /* sent as Content-Length; fewer bytes in the file fail the request */
	long timeout_ms;     /* bounds the whole request (0 = none) */
	/* When set, the body of a 2xx answer goes to sink(sink_arg, ...) as it arrives instead of
	 * being kept (hcli_resp.body is then ""); other answers' bodies are kept as usual, so that
	 * an error body can be read. Redirects are not followed in either case. */
	hcli_sink_fn sink;
	void *sink_arg;
};

/* Starts a request like hcli_request, with a body streamed from a file if asked (read on the loop
 * thread as curl sends it) and with the response headers available to done through
 * hcli_resp_header. Returns a handle usable with hcli_cancel until done is called. */
struct hcli_req *hcli_request_full(struct hcli *c, const struct hcli_opts *o, hcli_resp_fn done, void *arg);
/* The value of response header name (case-insensitive; the last one when it came more than once,
 * without surrounding blanks), or NULL. Borrowed from r: valid during the done callback only. Only
 * the headers of the final answer count (not those of a 100 Continue or a redirect). */
const char *hcli_resp_header(const struct hcli_resp *r, const char *name);

/* Cancels a running request: its done callback is called at once, with status 0 and an
 * ERR_UNAVAILABLE error "cancelled", so that whatever it owns is released in one place. */
void hcli_cancel(struct hcli_req *r);
/* The number of requests running. */
size_t hcli_running(const struct hcli *c);

#endif
