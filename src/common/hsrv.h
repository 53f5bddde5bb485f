/* The HTTP server: libmicrohttpd driven from the libuv loop (MHD's epoll fd is polled by a
 * uv_poll handle, its timeouts by a uv_timer), so that every request handler runs on the one loop
 * thread that owns gantry's state.
 *
 * Each request reaches the handler once, after its body has been read in full (bounded by
 * max_body, or by what a body-limit function set with hsrv_set_body_limit() chose for the request
 * from its headers), or early with hreq_too_large() true when the body exceeds the bound: then the
 * body is not buffered. The handler answers with hreq_respond(), either before it returns or
 * later (a long-poll, or an answer that waits for the store's fsync); in the meantime the
 * connection is suspended and costs no polling.
 *
 * Bodies too large to buffer (registry uploads) are streamed instead: a stream handler set with
 * hsrv_set_stream_handler() sees each request as soon as its headers are in and may take it, then
 * receives the body piece by piece through hreq_stream(). */
#ifndef GANTRY_HSRV_H
#define GANTRY_HSRV_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "common/buf.h"
#include "common/err.h"

struct hsrv;
struct hreq;

struct hsrv_header {
	const char *name;
	const char *value;
};

/* Called once per request on the loop thread. The request stays valid until hreq_respond(). */
typedef void (*hsrv_handler)(void *arg, struct hreq *req);

/* Parses "ADDR:PORT", "[V6ADDR]:PORT" or ":PORT" into a socket address. Returns 0 or -1 with *err. */
int hsrv_parse_addr(const char *s, struct sockaddr_storage *out, struct err **err);

/* Starts listening on addr (port 0 picks a free port) and serving on loop; SIGPIPE is ignored from
 * then on (a peer leaving mid-answer must not kill the process). Returns a new server,
 * or NULL with *err (e.g. the address is in use). */
struct hsrv *hsrv_start(uv_loop_t *loop, const struct sockaddr_storage *addr, size_t max_body,
			hsrv_handler handler, void *arg, struct err **err);
/* Like hsrv_start, serving on fd: a socket that is already bound and listening (one made in another
 * network namespace, say). Takes ownership of fd: closed by hsrv_stop(), and on failure. Returns a
 * new server (hsrv_port() is the socket's port), or NULL with *err. */
struct hsrv *hsrv_start_fd(uv_loop_t *loop, int fd, size_t max_body, hsrv_handler handler, void *arg,
			   struct err **err);
/* Called on the loop thread when a request's headers are in, before any of its body. Returns false
 * to leave the request to the normal handler (body buffered up to max_body), or true when it takes
 * the request: then, before returning, it either answers (hreq_respond*, the body is discarded) or
 * calls hreq_stream(). */
typedef bool (*hsrv_stream_handler)(void *arg, struct hreq *req);
void hsrv_set_stream_handler(struct hsrv *srv, hsrv_stream_handler fn, void *arg);

/* Chooses the body bound of one request from its method, path and headers (its body is not read
 * yet), on the loop thread, once per request the stream handler did not take. Returns the bound in
 * bytes; a larger body reaches the handler with hreq_too_large() true, as with max_body. */
typedef size_t (*hsrv_body_limit_fn)(void *arg, struct hreq *req);
/* Lets fn choose each request's body bound in place of the server's max_body (NULL: max_body for
 * every request again). */
void hsrv_set_body_limit(struct hsrv *srv, hsrv_body_limit_fn fn, void *arg);

/* How a taken request's body reaches its owner. All run on the loop thread, in this order. */
struct hreq_stream_ops {
	/* The next n > 0 bytes of the body. Returns 0 to go on, or -1 after answering the request
	 * (the rest of the body is not read; the connection closes after the answer). */
	int (*data)(void *ctx, const char *p, size_t n);
	/* The body is complete (also for an empty body). Answer now or later. */
	void (*end)(void *ctx);
	/* The request ended without an answer (the client went away, or the server stops): the owner
	 * must release ctx and never touch the request again. Not called once answered. */
	void (*gone)(void *ctx);
};
/* Starts receiving the body of a request taken by a stream handler. ops is borrowed (static). */
void hreq_stream(struct hreq *req, const struct hreq_stream_ops *ops, void *ctx);

/* Stops accepting new connections; requests on open connections are still served. */
void hsrv_quiesce(struct hsrv *srv);
/* The port actually bound. */
int hsrv_port(const struct hsrv *srv);
/* Answers every request still waiting with 503, stops listening, closes connections and frees
 * the server once its loop handles are closed (the loop must run for that). Accepts NULL.
 * Owners of requests answered this way must not call hreq_respond on them afterwards: stop the
 * sources of late answers first (see server.c's shutdown order). */
void hsrv_stop(struct hsrv *srv);

/* Accessors; the strings are borrowed and live as long as the request. */
const char *hreq_method(const struct hreq *req);
/* The request path as sent, still percent-encoded, without the query string. */
const char *hreq_path(const struct hreq *req);
/* The raw query string after '?', "" when there is none. */
const char *hreq_query(const struct hreq *req);
/* The first value of header `name` (case-insensitive), or NULL. */
const char *hreq_header(struct hreq *req, const char *name);
/* All request headers in arrival order; *n receives the count. */
const struct hsrv_header *hreq_headers(struct hreq *req, size_t *n);
/* The body read so far (all of it, unless hreq_too_large()). */
const struct buf *hreq_body(const struct hreq *req);
/* True when the body was larger than its bound (max_body, or the body-limit function's choice)
 * and was not buffered. */
bool hreq_too_large(const struct hreq *req);
/* The client's address as text (for logs). */
const char *hreq_peer(struct hreq *req);

/* Adds a response header (copied). Call before hreq_respond(). */
void hreq_add_header(struct hreq *req, const char *name, const char *value);
/* Sends the response and ends the handler's use of req (it must not be touched afterwards).
 * Takes ownership of body (heap memory from xmalloc/buf_detach, or NULL when len is 0). */
void hreq_respond(struct hreq *req, unsigned status, const char *content_type, char *body, size_t len);
/* Like hreq_respond, with len bytes of the file fd from offset as the body (sent without copying;
 * a HEAD request gets the headers and Content-Length only). Takes ownership of fd (closed when the
 * response is done, also on failure). */
void hreq_respond_fd(struct hreq *req, unsigned status, const char *content_type, int fd,
		     unsigned long long offset, unsigned long long len);

#endif
