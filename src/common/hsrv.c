/* HTTP server: libmicrohttpd in external-epoll mode, polled from the libuv loop. */
#include "common/hsrv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/xalloc.h"

/* Bodies past this many bytes over the limit are not even drained: the connection is dropped. */
#define HSRV_DRAIN_MAX (64u * 1024 * 1024)
/* Connections: as many as the open-file limit allows (minus room for the store, logs and outgoing
 * calls), within these bounds. Every agent holds a long-poll and a few report connections. */
#define HSRV_CONNECTIONS_MIN	  256
#define HSRV_CONNECTIONS_MAX	  65536
#define HSRV_FDS_RESERVED	  256
#define HSRV_CONNECTION_TIMEOUT_S 120

struct hsrv {
	uv_loop_t *loop;
	struct MHD_Daemon *mhd;
	uv_poll_t poll;
	uv_timer_t timer;
	int open_handles;
	bool stopping;
	size_t max_body;
	hsrv_handler handler;
	void *arg;
	hsrv_stream_handler stream_handler;
	void *stream_arg;
	hsrv_body_limit_fn body_limit; /* NULL: max_body for every request */
	void *body_limit_arg;
	int port;
	struct hreq *waiting; /* requests handed to the handler and not yet answered */
};

struct hreq {
	struct hsrv *srv;
	struct MHD_Connection *conn;
	char *uri; /* the raw request-target */
	char *method;
	char *path; /* the part before '?' (own allocation) */
	const char *query;
	struct buf body;
	size_t max_body; /* this request's bound: srv->max_body or srv->body_limit's choice */
	size_t seen;	 /* body bytes received, including the ones dropped when too large */
	size_t drained;	 /* body bytes dropped after an early answer */
	bool too_large;
	bool headers_done;		    /* the first handler call (headers only) has happened */
	bool handed;			    /* the handler has been called */
	bool suspended;			    /* MHD_suspend_connection is in force */
	bool answered;			    /* hreq_respond has been called */
	bool taken;			    /* by the stream handler */
	bool ended;			    /* the stream's end callback ran */
	const struct hreq_stream_ops *sops; /* set by hreq_stream */
	void *sctx;
	struct MHD_Response *resp;
	unsigned status;
	struct hsrv_header *hdrs;
	size_t nhdrs, hdrcap;
	char **resp_hdrs; /* name, value pairs */
	size_t nresp_hdrs;
	char peer[64];
	struct hreq *next, *prev; /* in srv->waiting while handed and not answered */
};

static void run_mhd(struct hsrv *srv);
static void on_timer(uv_timer_t *t);

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct hsrv *srv = cls;
	struct hreq *req = xcalloc(1, sizeof(*req));
	req->srv = srv;
	req->conn = conn;
	req->uri = xstrdup(uri ? uri : "/");
	const char *q = strchr(req->uri, '?');
	if (q) {
		req->path = xstrndup(req->uri, (size_t)(q - req->uri));
		req->query = q + 1;
	} else {
		req->path = xstrdup(req->uri);
		req->query = "";
	}
	req->max_body = srv->max_body;
	buf_init(&req->body, req->max_body);
	return req;
}

static void req_free(struct hreq *req)
{
	if (!req)
		return;
	free(req->uri);
	free(req->method);
	free(req->path);
	buf_release(&req->body);
	free(req->hdrs);
	for (size_t i = 0; i < req->nresp_hdrs * 2; i++)
		free(req->resp_hdrs[i]);
	free(req->resp_hdrs);
	if (req->resp)
		MHD_destroy_response(req->resp);
	free(req);
}

static void unlink_waiting(struct hreq *req)
{
	struct hsrv *srv = req->srv;
	if (req->prev)
		req->prev->next = req->next;
	else if (srv->waiting == req)
		srv->waiting = req->next;
	if (req->next)
		req->next->prev = req->prev;
	req->next = req->prev = NULL;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)conn;
	(void)toe;
	struct hreq *req = *con_cls;
	if (!req)
		return;
	/* A request still waiting for its handler's answer is only completed when the daemon stops,
	 * and hsrv_stop answers those first; keep the list consistent regardless. */
	if (req->handed && !req->answered) {
		unlink_waiting(req);
		if (req->sops && req->sops->gone)
			req->sops->gone(req->sctx);
	}
	req_free(req);
	*con_cls = NULL;
}

static size_t identity_unescape(void *cls, struct MHD_Connection *c, char *s)
{
	(void)cls;
	(void)c;
	/* Keep arguments raw: SigV4 and the routers decode what they need themselves. */
	return strlen(s);
}

static enum MHD_Result queue(struct hreq *req)
{
	enum MHD_Result rc = MHD_queue_response(req->conn, req->status, req->resp);
	MHD_destroy_response(req->resp);
	req->resp = NULL;
	return rc;
}

/* Puts req in srv->waiting: handed to a handler and not answered yet. */
static void link_waiting(struct hsrv *srv, struct hreq *req)
{
	req->handed = true;
	req->next = srv->waiting;
	if (srv->waiting)
		srv->waiting->prev = req;
	srv->waiting = req;
}

static void hand(struct hsrv *srv, struct hreq *req)
{
	link_waiting(srv, req);
	srv->handler(srv->arg, req);
}

static void suspend(struct hreq *req)
{
	req->suspended = true;
	MHD_suspend_connection(req->conn);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
				  const char *version, const char *upload_data, size_t *upload_data_size,
				  void **con_cls)
{
	struct hsrv *srv = cls;
	struct hreq *req = *con_cls;
	(void)url;
	(void)version;
	if (!req)
		return MHD_NO;
	if (req->resp) {
		/* Resumed with an answer, or answered before its body ended (a refusal part-way through
		 * an upload). libmicrohttpd queues an answer only once the body is read, so the rest is
		 * read and dropped first, up to HSRV_DRAIN_MAX; past that the connection is dropped. */
		if (*upload_data_size) {
			req->drained += *upload_data_size;
			*upload_data_size = 0;
			return req->drained > HSRV_DRAIN_MAX ? MHD_NO : MHD_YES;
		}
		return queue(req);
	}
	if (req->sops) {
		if (!*upload_data_size) {
			/* The end of the body: the owner answers now or later. */
			if (req->ended) {
				if (!req->answered)
					suspend(req);
				return MHD_YES;
			}
			req->ended = true;
			req->sops->end(req->sctx);
			if (req->resp)
				return queue(req);
			if (!req->answered)
				suspend(req);
			return MHD_YES;
		}
		size_t n = *upload_data_size;
		*upload_data_size = 0;
		if (req->sops->data(req->sctx, upload_data, n) < 0)
			/* Refused: with an answer, that goes out at the body's end (see above); without
			 * one, the connection is dropped. */
			return req->resp ? MHD_YES : MHD_NO;
		return MHD_YES;
	}
	if (req->taken) { /* taken, not answered yet: the body is the stream's */
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (req->handed) {
		/* Resumed without an answer should not happen; keep waiting. */
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (!req->headers_done) {
		/* First call: the headers are in, no body yet. Refuse a declared oversize body before
		 * reading any of it; MHD then closes the connection instead of draining it. */
		req->headers_done = true;
		req->method = xstrdup(method);
		if (srv->stream_handler) {
			link_waiting(srv, req);
			if (srv->stream_handler(srv->stream_arg, req)) {
				req->taken = true;
				if (req->resp)
					return queue(req);
				return MHD_YES;
			}
			unlink_waiting(req);
			req->handed = false;
		}
		if (srv->body_limit) {
			req->max_body = srv->body_limit(srv->body_limit_arg, req);
			buf_init(&req->body, req->max_body); /* still empty: nothing to release */
		}
		const char *cl =
			MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl) {
			char *end;
			errno = 0;
			unsigned long long n = strtoull(cl, &end, 10);
			if (errno || *end || n > req->max_body) {
				req->too_large = true;
				hand(srv, req);
				if (req->resp)
					return queue(req);
				suspend(req);
			}
		}
		return MHD_YES;
	}
	if (*upload_data_size) {
		req->seen += *upload_data_size;
		if (!req->too_large && buf_add(&req->body, upload_data, *upload_data_size) < 0) {
			/* A chunked body that outgrew the bound: stop keeping it, answer at its end. */
			req->too_large = true;
			buf_release(&req->body);
		}
		*upload_data_size = 0;
		if (req->too_large && req->seen > req->max_body + HSRV_DRAIN_MAX)
			return MHD_NO;
		return MHD_YES;
	}
	hand(srv, req);
	if (req->resp)
		return queue(req);
	suspend(req);
	return MHD_YES;
}

void hsrv_set_stream_handler(struct hsrv *srv, hsrv_stream_handler fn, void *arg)
{
	srv->stream_handler = fn;
	srv->stream_arg = arg;
}

void hsrv_set_body_limit(struct hsrv *srv, hsrv_body_limit_fn fn, void *arg)
{
	srv->body_limit = fn;
	srv->body_limit_arg = arg;
}

void hreq_stream(struct hreq *req, const struct hreq_stream_ops *ops, void *ctx)
{
	req->sops = ops;
	req->sctx = ctx;
}

/* Accessors */

const char *hreq_method(const struct hreq *req)
{
	return req->method ? req->method : "GET";
}

const char *hreq_path(const struct hreq *req)
{
	return req->path;
}

const char *hreq_query(const struct hreq *req)
{
	return req->query;
}

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct hreq *req = cls;
	(void)kind;
	if (req->nhdrs == req->hdrcap) {
		req->hdrcap = req->hdrcap ? req->hdrcap * 2 : 16;
		req->hdrs = xrealloc(req->hdrs, req->hdrcap * sizeof(*req->hdrs));
	}
	req->hdrs[req->nhdrs].name = key;
	req->hdrs[req->nhdrs].value = value ? value : "";
	req->nhdrs++;
	return MHD_YES;
}

const struct hsrv_header *hreq_headers(struct hreq *req, size_t *n)
{
	if (!req->hdrs)
		MHD_get_connection_values(req->conn, MHD_HEADER_KIND, collect_header, req);
	*n = req->nhdrs;
	return req->hdrs;
}

const char *hreq_header(struct hreq *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const struct buf *hreq_body(const struct hreq *req)
{
	return &req->body;
}

bool hreq_too_large(const struct hreq *req)
{
	return req->too_large;
}

const char *hreq_peer(struct hreq *req)
{
	if (req->peer[0])
		return req->peer;
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;
	if (sa && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, req->peer,
			  sizeof(req->peer));
	else if (sa && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, req->peer,
			  sizeof(req->peer));
	else
		snprintf(req->peer, sizeof(req->peer), "unknown");
	return req->peer;
}

/* Responses */

void hreq_add_header(struct hreq *req, const char *name, const char *value)
{
	req->resp_hdrs = xrealloc(req->resp_hdrs, (req->nresp_hdrs + 1) * 2 * sizeof(char *));
	req->resp_hdrs[req->nresp_hdrs * 2] = xstrdup(name);
	req->resp_hdrs[req->nresp_hdrs * 2 + 1] = xstrdup(value);
	req->nresp_hdrs++;
}

/* Sends resp (headers added here) as the answer; wakes a suspended connection. */
static void respond(struct hreq *req, unsigned status, const char *content_type, struct MHD_Response *resp)
{
	if (!resp) {
		log_error("http: cannot create a response");
		abort();
	}
	req->answered = true;
	if (req->handed)
		unlink_waiting(req);
	if (content_type)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
	for (size_t i = 0; i < req->nresp_hdrs; i++)
		MHD_add_response_header(resp, req->resp_hdrs[2 * i], req->resp_hdrs[2 * i + 1]);
	req->resp = resp;
	req->status = status;
	if (req->suspended) {
		/* Answered after the handler returned: wake the connection. In external-poll mode MHD
		 * has no wake-up channel of its own, so MHD_run must follow the resume; a zero timer
		 * runs it on the loop's next turn rather than here, which would re-enter handlers
		 * from inside whatever callback is answering. */
		req->suspended = false;
		MHD_resume_connection(req->conn);
		uv_timer_start(&req->srv->timer, on_timer, 0, 0);
	}
}

void hreq_respond(struct hreq *req, unsigned status, const char *content_type, char *body, size_t len)
{
	if (req->answered) {
		free(body);
		return;
	}
	struct MHD_Response *resp;
	if (len)
		resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	else {
		free(body);
		resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
	}
	respond(req, status, content_type, resp);
}

void hreq_respond_fd(struct hreq *req, unsigned status, const char *content_type, int fd,
		     unsigned long long offset, unsigned long long len)
{
	if (req->answered) {
		close(fd);
		return;
	}
	struct MHD_Response *resp = MHD_create_response_from_fd_at_offset64(len, fd, offset);
	if (!resp) {
		close(fd);
		resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
		status = 500;
	}
	respond(req, status, content_type, resp);
}

/* Loop integration */

static void on_timer(uv_timer_t *t)
{
	run_mhd(t->data);
}

static void on_poll(uv_poll_t *p, int status, int events)
{
	(void)status;
	(void)events;
	run_mhd(p->data);
}

static void run_mhd(struct hsrv *srv)
{
	if (!srv->mhd)
		return;
	MHD_run(srv->mhd);
	MHD_UNSIGNED_LONG_LONG to;
	if (MHD_get_timeout(srv->mhd, &to) == MHD_YES)
		uv_timer_start(&srv->timer, on_timer, to, 0);
	else
		uv_timer_stop(&srv->timer);
}

int hsrv_parse_addr(const char *s, struct sockaddr_storage *out, struct err **err)
{
	memset(out, 0, sizeof(*out));
	const char *colon = strrchr(s, ':');
	if (!colon)
		return err_set(err, ERR_INVALID_PARAM, "listen address '%s': expected ADDR:PORT", s);
	char *end;
	errno = 0;
	unsigned long port = strtoul(colon + 1, &end, 10);
	if (errno || *end || colon[1] == '\0' || port > 65535)
		return err_set(err, ERR_INVALID_PARAM, "listen address '%s': bad port", s);
	char host[256];
	size_t hn = (size_t)(colon - s);
	if (hn >= sizeof(host))
		return err_set(err, ERR_INVALID_PARAM, "listen address '%s': host too long", s);
	memcpy(host, s, hn);
	host[hn] = '\0';
	if (hn == 0)
		snprintf(host, sizeof(host), "0.0.0.0");
	if (host[0] == '[' && hn >= 2 && host[hn - 1] == ']') {
		host[hn - 1] = '\0';
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)out;
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host + 1, &a6->sin6_addr) != 1)
			return err_set(err, ERR_INVALID_PARAM, "listen address '%s': bad IPv6 address", s);
		return 0;
	}
	if (strcmp(host, "localhost") == 0)
		snprintf(host, sizeof(host), "127.0.0.1");
	struct sockaddr_in *a4 = (struct sockaddr_in *)out;
	a4->sin_family = AF_INET;
	a4->sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &a4->sin_addr) != 1)
		return err_set(err, ERR_INVALID_PARAM, "listen address '%s': bad IPv4 address", s);
	return 0;
}

static unsigned connection_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
		return HSRV_CONNECTIONS_MAX;
	if (rl.rlim_cur < HSRV_CONNECTIONS_MIN + HSRV_FDS_RESERVED)
		return HSRV_CONNECTIONS_MIN;
	rlim_t n = rl.rlim_cur - HSRV_FDS_RESERVED;
	return n > HSRV_CONNECTIONS_MAX ? HSRV_CONNECTIONS_MAX : (unsigned)n;
}

/* Everything after the daemon is up: the loop handles that drive it. */
static void attach_loop(struct hsrv *srv)
{
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(srv->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	uv_timer_init(srv->loop, &srv->timer);
	srv->timer.data = srv;
	uv_poll_init(srv->loop, &srv->poll, di->epoll_fd);
	srv->poll.data = srv;
	srv->open_handles = 2;
	uv_poll_start(&srv->poll, UV_READABLE, on_poll);
	run_mhd(srv);
}

static struct hsrv *srv_new(uv_loop_t *loop, size_t max_body, hsrv_handler handler, void *arg)
{
	struct hsrv *srv = xcalloc(1, sizeof(*srv));
	srv->loop = loop;
	srv->max_body = max_body;
	srv->handler = handler;
	srv->arg = arg;
	/* A peer that goes away mid-answer must not kill the process. With SIGPIPE ignored, MHD may
	 * also send files (blobs) with sendfile(2) instead of 4 KiB pread/send pairs. */
	signal(SIGPIPE, SIG_IGN);
	return srv;
}

#define HSRV_FLAGS (MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG)

struct hsrv *hsrv_start(uv_loop_t *loop, const struct sockaddr_storage *addr, size_t max_body,
			hsrv_handler handler, void *arg, struct err **err)
{
	struct hsrv *srv = srv_new(loop, max_body, handler, arg);
	unsigned flags = HSRV_FLAGS;
	if (addr->ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	srv->mhd = MHD_start_daemon(
		flags, 0, NULL, NULL, on_request, srv, MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)addr,
		MHD_OPTION_URI_LOG_CALLBACK, on_uri, srv, MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
		MHD_OPTION_UNESCAPE_CALLBACK, identity_unescape, srv, MHD_OPTION_CONNECTION_LIMIT,
		connection_limit(), MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HSRV_CONNECTION_TIMEOUT_S,
		MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u, MHD_OPTION_SIGPIPE_HANDLED_BY_APP, 1, MHD_OPTION_END);
	if (!srv->mhd) {
		char text[128];
		const struct sockaddr_in *a4 = (const struct sockaddr_in *)(const void *)addr;
		inet_ntop(
			addr->ss_family,
			addr->ss_family == AF_INET6
				? (const void *)&((const struct sockaddr_in6 *)(const void *)addr)->sin6_addr
				: (const void *)&a4->sin_addr,
			text, sizeof(text));
		err_set(err, ERR_SYS, "cannot listen on %s port %u (is the address in use?)", text,
			ntohs(a4->sin_port));
		free(srv);
		return NULL;
	}
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(srv->mhd, MHD_DAEMON_INFO_BIND_PORT);
	srv->port = di ? di->port : 0;
	attach_loop(srv);
	return srv;
}

/* The port a socket is bound to, or 0. */
static int sock_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		return 0;
	if (ss.ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)(const void *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)(const void *)&ss)->sin6_port);
	return 0;
}

struct hsrv *hsrv_start_fd(uv_loop_t *loop, int fd, size_t max_body, hsrv_handler handler, void *arg,
			   struct err **err)
{
	struct stat before;
	if (fstat(fd, &before) != 0 || !S_ISSOCK(before.st_mode)) {
		err_set(err, ERR_INVALID_PARAM, "fd %d is not a socket", fd);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0)
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	struct hsrv *srv = srv_new(loop, max_body, handler, arg);
	srv->port = sock_port(fd);
	srv->mhd = MHD_start_daemon(
		HSRV_FLAGS, 0, NULL, NULL, on_request, srv, MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
		MHD_OPTION_URI_LOG_CALLBACK, on_uri, srv, MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
		MHD_OPTION_UNESCAPE_CALLBACK, identity_unescape, srv, MHD_OPTION_CONNECTION_LIMIT,
		connection_limit(), MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HSRV_CONNECTION_TIMEOUT_S,
		MHD_OPTION_SIGPIPE_HANDLED_BY_APP, 1, MHD_OPTION_END);
	if (!srv->mhd) {
		/* Whether a failed MHD_start_daemon closed a socket it was given differs between
		 * versions: close it only while the number still names the same socket, never a file
		 * some other thread has opened under that number since. */
		struct stat after;
		if (fstat(fd, &after) == 0 && after.st_dev == before.st_dev && after.st_ino == before.st_ino)
			close(fd);
		err_set(err, ERR_SYS, "cannot serve HTTP on the listening socket (port %d)", srv->port);
		free(srv);
		return NULL;
	}
	attach_loop(srv);
	return srv;
}

void hsrv_quiesce(struct hsrv *srv)
{
	if (!srv || !srv->mhd)
		return;
	MHD_socket fd = MHD_quiesce_daemon(srv->mhd);
	if (fd != MHD_INVALID_SOCKET)
		close(fd);
}

int hsrv_port(const struct hsrv *srv)
{
	return srv->port;
}

static void on_closed(uv_handle_t *h)
{
	struct hsrv *srv = h->data;
	if (--srv->open_handles == 0)
		free(srv);
}

void hsrv_stop(struct hsrv *srv)
{
	if (!srv || srv->stopping)
		return;
	srv->stopping = true;
	while (srv->waiting) {
		struct hreq *req = srv->waiting;
		if (req->sops && req->sops->gone) {
			const struct hreq_stream_ops *ops = req->sops;
			req->sops = NULL;
			ops->gone(req->sctx);
		}
		hreq_respond(req, 503, "text/plain", xstrdup("server stopping\n"), 16);
	}
	MHD_run(srv->mhd);
	uv_poll_stop(&srv->poll);
	uv_timer_stop(&srv->timer);
	MHD_stop_daemon(srv->mhd);
	srv->mhd = NULL;
	uv_close((uv_handle_t *)&srv->poll, on_closed);
	uv_close((uv_handle_t *)&srv->timer, on_closed);
}
