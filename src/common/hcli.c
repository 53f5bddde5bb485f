/* HTTP client: libcurl multi driven by libuv (socket and timer callbacks). */
#include "common/hcli.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/xalloc.h"

struct hcli {
	uv_loop_t *loop;
	CURLM *multi;
	uv_timer_t timer;
	size_t running;
	bool closing;
	struct hcli_req *reqs; /* every request started and not yet finished */
};

struct hcli_req {
	struct hcli *c;
	CURL *easy;
	struct curl_slist *hdrs;
	char *body;
	struct buf resp;
	bool too_large;
	hcli_done_fn done; /* hcli_request's callback, or NULL */
	hcli_resp_fn full; /* hcli_request_full's callback, or NULL */
	void *arg;
	struct buf rhdrs; /* response header lines, each NUL-terminated */
	bool hdrs_too_large;
	int body_fd;	     /* the request body's file, or -1 */
	long long body_left; /* bytes of it still to send */
	int read_errno;	     /* why reading body_fd failed (EIO: it ended early), or 0 */
	hcli_sink_fn sink;   /* where a 2xx body goes, or NULL */
	void *sink_arg;
	unsigned status;   /* of the answer whose headers came last (from its status line) */
	bool sink_stopped; /* the sink refused data */
	struct hcli_req *next, *prev;
};

/* One per socket curl watches. */
struct hcli_sock {
	uv_poll_t poll;
	struct hcli *c;
	curl_socket_t fd;
};

static void check_done(struct hcli *c);

static void on_sock_closed(uv_handle_t *h)
{
	free(h->data);
}

static void on_poll(uv_poll_t *p, int status, int events)
{
	struct hcli_sock *s = p->data;
	struct hcli *c = s->c;
	int flags = 0;
	if (status < 0)
		flags = CURL_CSELECT_ERR;
	if (events & UV_READABLE)
		flags |= CURL_CSELECT_IN;
	if (events & UV_WRITABLE)
		flags |= CURL_CSELECT_OUT;
	int still;
	curl_multi_socket_action(c->multi, s->fd, flags, &still);
	check_done(c);
}

static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	(void)easy;
	struct hcli *c = userp;
	struct hcli_sock *s = socketp;
	if (what == CURL_POLL_REMOVE) {
		if (s) {
			uv_poll_stop(&s->poll);
			curl_multi_assign(c->multi, fd, NULL);
			uv_close((uv_handle_t *)&s->poll, on_sock_closed);
		}
		return 0;
	}
	if (!s) {
		s = xcalloc(1, sizeof(*s));
		s->c = c;
		s->fd = fd;
		uv_poll_init_socket(c->loop, &s->poll, fd);
		s->poll.data = s;
		curl_multi_assign(c->multi, fd, s);
	}
	int events = 0;
	if (what & CURL_POLL_IN)
		events |= UV_READABLE;
	if (what & CURL_POLL_OUT)
		events |= UV_WRITABLE;
	uv_poll_start(&s->poll, events, on_poll);
	return 0;
}

static void on_timer(uv_timer_t *t)
{
	struct hcli *c = t->data;
	int still;
	curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &still);
	check_done(c);
}

static int on_timeout(CURLM *multi, long ms, void *userp)
{
	(void)multi;
	struct hcli *c = userp;
	if (ms < 0)
		uv_timer_stop(&c->timer);
	else
		uv_timer_start(&c->timer, on_timer, (uint64_t)ms, 0);
	return 0;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *userp)
{
	struct hcli_req *r = userp;
	size_t n = size * nmemb;
	if (r->sink && r->status >= 200 && r->status < 300) {
		if (n > 0 && r->sink(r->sink_arg, data, n) < 0) {
			r->sink_stopped = true;
			return 0; /* makes curl fail the transfer */
		}
		return n;
	}
	if (buf_add(&r->resp, data, n) < 0) {
		r->too_large = true;
		return 0; /* makes curl fail the transfer */
	}
	return n;
}

/* Keeps the header lines of the last response only: a status line starts a new one (after a
 * 100 Continue, say). */
static size_t on_header(char *data, size_t size, size_t nmemb, void *userp)
{
	struct hcli_req *r = userp;
	size_t n = size * nmemb, len = n;
	if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) {
		buf_reset(&r->rhdrs);
		/* "HTTP/1.1 200 OK": the status decides where the body goes (see on_write). */
		const char *sp = memchr(data, ' ', len);
		r->status = 0;
		for (const char *d = sp ? sp + 1 : data + len;
		     d < data + len && *d >= '0' && *d <= '9' && r->status < 1000; d++)
			r->status = r->status * 10 + (unsigned)(*d - '0');
	}
	while (len > 0 && (data[len - 1] == '\r' || data[len - 1] == '\n'))
		len--;
	if (len == 0)
		return n;
	if (buf_add(&r->rhdrs, data, len) < 0 || buf_addc(&r->rhdrs, '\0') < 0) {
		r->hdrs_too_large = true;
		return 0; /* makes curl fail the transfer */
	}
	return n;
}

static size_t on_read(char *data, size_t size, size_t nmemb, void *userp)
{
	struct hcli_req *r = userp;
	size_t want = size * nmemb;
	if ((long long)want > r->body_left)
		want = (size_t)r->body_left;
	if (want == 0)
		return 0;
	ssize_t got;
	do
		got = read(r->body_fd, data, want);
	while (got < 0 && errno == EINTR);
	if (got <= 0) {
		r->read_errno = got < 0 ? errno : EIO;
		return CURL_READFUNC_ABORT;
	}
	r->body_left -= got;
	return (size_t)got;
}

static void unlink_req(struct hcli_req *r)
{
	struct hcli *c = r->c;
	if (r->prev)
		r->prev->next = r->next;
	else if (c->reqs == r)
		c->reqs = r->next;
	if (r->next)
		r->next->prev = r->prev;
	r->next = r->prev = NULL;
}

static void req_free(struct hcli_req *r)
{
	curl_multi_remove_handle(r->c->multi, r->easy);
	curl_easy_cleanup(r->easy);
	curl_slist_free_all(r->hdrs);
	free(r->body);
	buf_release(&r->resp);
	buf_release(&r->rhdrs);
	if (r->body_fd >= 0)
		close(r->body_fd);
	r->c->running--;
	free(r);
}

static void check_done(struct hcli *c)
{
	CURLMsg *m;
	int left;
	while ((m = curl_multi_info_read(c->multi, &left))) {
		if (m->msg != CURLMSG_DONE)
			continue;
		struct hcli_req *r = NULL;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
		CURLcode rc = m->data.result;
		unlink_req(r);
		long status = 0;
		struct err *e = NULL;
		if (rc == CURLE_OK) {
			curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
		} else if (r->too_large) {
			err_set(&e, ERR_TOO_LARGE, "response body exceeds %u bytes", HCLI_BODY_MAX);
		} else if (r->hdrs_too_large) {
			err_set(&e, ERR_TOO_LARGE, "response headers exceed %u bytes", HCLI_HEADERS_MAX);
		} else if (r->sink_stopped) {
			err_set(&e, ERR_CLIENT, "the receiver stopped the transfer");
		} else if (r->read_errno) {
			err_sys(&e, r->read_errno, "read the request body");
		} else {
			char *url = NULL;
			curl_easy_getinfo(r->easy, CURLINFO_EFFECTIVE_URL, &url);
			err_set(&e, ERR_SYS, "%s: %s", url ? url : "request", curl_easy_strerror(rc));
		}
		hcli_done_fn done = r->done;
		hcli_resp_fn full = r->full;
		void *arg = r->arg;
		/* Free before the callback so that it may start new requests (or free the client). */
		size_t len = r->resp.len, hlen = r->rhdrs.len;
		char *body = buf_detach(&r->resp, NULL);
		char *hdrs = buf_detach(&r->rhdrs, NULL);
		req_free(r);
		if (full) {
			struct hcli_resp resp = {(unsigned)status, body, len, e, hdrs, hlen};
			full(arg, &resp);
		} else {
			done(arg, (unsigned)status, body, len, e);
		}
		free(hdrs);
		free(body);
		err_free(e);
	}
}

struct hcli *hcli_new(uv_loop_t *loop)
{
	static bool global_init;
	if (!global_init) {
		curl_global_init(CURL_GLOBAL_DEFAULT);
		global_init = true;
	}
	struct hcli *c = xcalloc(1, sizeof(*c));
	c->loop = loop;
	c->multi = curl_multi_init();
	if (!c->multi) {
		log_error("http client: curl_multi_init failed");
		abort();
	}
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_timeout);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
	/* Long-polls from many hollow agents share a few servers: allow many connections per host. */
	curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 0L);
	curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, 20000L);
	uv_timer_init(loop, &c->timer);
	c->timer.data = c;
	return c;
}

static void on_timer_closed(uv_handle_t *h)
{
	struct hcli *c = h->data;
	free(c);
}

void hcli_free(struct hcli *c)
{
	if (!c || c->closing)
		return;
	c->closing = true;
	while (c->reqs)
		hcli_cancel(c->reqs);
	/* curl_multi_cleanup closes its sockets through on_socket(CURL_POLL_REMOVE). */
	curl_multi_cleanup(c->multi);
	uv_timer_stop(&c->timer);
	uv_close((uv_handle_t *)&c->timer, on_timer_closed);
}

static struct hcli_req *start(struct hcli *c, const struct hcli_opts *o, hcli_done_fn done, hcli_resp_fn full,
			      void *arg)
{
	struct hcli_req *r = xcalloc(1, sizeof(*r));
	r->c = c;
	r->done = done;
	r->full = full;
	r->arg = arg;
	r->body_fd = o->body_from_fd ? o->body_fd : -1;
	r->sink = full ? o->sink : NULL;
	r->sink_arg = o->sink_arg;
	buf_init(&r->resp, HCLI_BODY_MAX);
	buf_init(&r->rhdrs, HCLI_HEADERS_MAX);
	r->easy = curl_easy_init();
	if (!r->easy) {
		log_error("http client: curl_easy_init failed");
		abort();
	}
	for (size_t i = 0; i < o->nhdrs; i++) {
		char *h = xasprintf("%s: %s", o->hdrs[i].name, o->hdrs[i].value);
		r->hdrs = curl_slist_append(r->hdrs, h);
		free(h);
	}
	/* curl would otherwise add "Expect: 100-continue" to larger POSTs and wait for it. */
	r->hdrs = curl_slist_append(r->hdrs, "Expect:");
	curl_easy_setopt(r->easy, CURLOPT_URL, o->url);
	curl_easy_setopt(r->easy, CURLOPT_CUSTOMREQUEST, o->method);
	curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->hdrs);
	curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, r);
	if (full) {
		curl_easy_setopt(r->easy, CURLOPT_HEADERFUNCTION, on_header);
		curl_easy_setopt(r->easy, CURLOPT_HEADERDATA, r);
	}
	curl_easy_setopt(r->easy, CURLOPT_PRIVATE, r);
	curl_easy_setopt(r->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(r->easy, CURLOPT_TCP_KEEPALIVE, 1L);
	if (o->timeout_ms > 0)
		curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS, o->timeout_ms);
	if (o->body_from_fd) {
		/* An upload with a known length: curl sends Content-Length and calls on_read for the
		 * bytes; CUSTOMREQUEST keeps the method the caller asked for. */
		r->body_left = o->body_size > 0 ? o->body_size : 0;
		curl_easy_setopt(r->easy, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(r->easy, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(r->easy, CURLOPT_READDATA, r);
		curl_easy_setopt(r->easy, CURLOPT_INFILESIZE_LARGE, (curl_off_t)r->body_left);
	} else if (o->body) {
		r->body = xmalloc(o->len ? o->len : 1);
		memcpy(r->body, o->body, o->len);
		curl_easy_setopt(r->easy, CURLOPT_POSTFIELDS, r->body);
		curl_easy_setopt(r->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)o->len);
	} else if (strcmp(o->method, "HEAD") == 0) {
		curl_easy_setopt(r->easy, CURLOPT_NOBODY, 1L);
	}
	r->next = c->reqs;
	if (c->reqs)
		c->reqs->prev = r;
	c->reqs = r;
	c->running++;
	curl_multi_add_handle(c->multi, r->easy);
	return r;
}

struct hcli_req *hcli_request(struct hcli *c, const char *method, const char *url,
			      const struct hsrv_header *hdrs, size_t n, const void *body, size_t len,
			      long timeout_ms, hcli_done_fn done, void *arg)
{
	struct hcli_opts o = {
		.method = method,
		.url = url,
		.hdrs = hdrs,
		.nhdrs = n,
		.body = body,
		.len = len,
		.timeout_ms = timeout_ms,
	};
	return start(c, &o, done, NULL, arg);
}

struct hcli_req *hcli_request_full(struct hcli *c, const struct hcli_opts *o, hcli_resp_fn done, void *arg)
{
	return start(c, o, NULL, done, arg);
}

const char *hcli_resp_header(const struct hcli_resp *r, const char *name)
{
	const char *found = NULL;
	size_t n = strlen(name);
	for (const char *p = r->hdrs__; p && p < r->hdrs__ + r->hdrs_len__; p += strlen(p) + 1) {
		if (strncasecmp(p, name, n) != 0 || p[n] != ':')
			continue;
		const char *v = p + n + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		found = v;
	}
	return found;
}

void hcli_cancel(struct hcli_req *r)
{
	if (!r)
		return;
	hcli_done_fn done = r->done;
	hcli_resp_fn full = r->full;
	void *arg = r->arg;
	unlink_req(r);
	req_free(r);
	struct err *e = NULL;
	err_set(&e, ERR_UNAVAILABLE, "cancelled");
	if (full) {
		struct hcli_resp resp = {0, "", 0, e, NULL, 0};
		full(arg, &resp);
	} else {
		done(arg, 0, "", 0, e);
	}
	err_free(e);
}

size_t hcli_running(const struct hcli *c)
{
	return c->running;
}
