/* The awslogs driver: a container's k8s-file log shipped to CloudWatch Logs with PutLogEvents. */
#include "agent/logship.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/fsx.h"
#include "common/jv.h"
#include "common/log.h"
#include "common/xalloc.h"

#define LOGS_PREFIX "Logs_20140328."

enum phase { PH_GROUP, PH_STREAM, PH_SHIP };

struct logship_stream {
	uv_loop_t *loop;
	struct awsc *aws;
	char *path, *offset_path, *group, *stream;
	bool create_group, non_blocking;
	long long max_buffer;
	enum phase phase;
	long long offset;   /* bytes of the log shipped */
	long long consumed; /* bytes the batch in flight covers */
	struct hcli_req *req;
	uv_timer_t timer;
	unsigned backoff_ms;
	logship_ready_fn ready;
	void *ready_arg;
	void (*done)(void *arg);
	void *done_arg;
	bool finishing, stopped;
	/* Where `offset` is not a clean point (a batch filled up in the middle of a line longer than
	 * a batch): per stream (0 stdout, 1 stderr), what of the line being written before it is not
	 * shipped yet (less than an event), its timestamp and whether a line is open. `next` is the
	 * same for offset + consumed, taken over once the batch in flight is delivered. The offset
	 * file keeps `carry` with `offset`, so an agent that restarts there goes on with it. */
	struct carry {
		struct buf text[2];
		long long ms[2];
		bool open[2];
	} carry, next;
};

static void carry_clear(struct carry *c)
{
	for (int k = 0; k < 2; k++) {
		buf_release(&c->text[k]);
		c->ms[k] = 0;
		c->open[k] = false;
	}
}

/* Makes dst a copy of src (what dst held is released). */
static void carry_copy(struct carry *dst, const struct carry *src)
{
	carry_clear(dst);
	for (int k = 0; k < 2; k++) {
		buf_add(&dst->text[k], src->text[k].p, src->text[k].len);
		dst->ms[k] = src->ms[k];
		dst->open[k] = src->open[k];
	}
}

/* The batch in flight is delivered (or dropped for good): its end is where the next one starts. */
static void carry_advance(struct logship_stream *s)
{
	carry_copy(&s->carry, &s->next);
	carry_clear(&s->next);
}

/* ---- parsing ---- */

static int digits(const char *p, int n)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	return v;
}

int logship_parse_line(const char *line, size_t len, long long *ms, bool *is_stderr, bool *partial,
		       const char **msg, size_t *msg_len)
{
	/* "2024-05-01T12:00:00.123456789+00:00 stdout F text" */
	const char *sp = memchr(line, ' ', len);
	if (!sp || sp - line < 20 || line[4] != '-' || line[7] != '-' || line[10] != 'T' || line[13] != ':' ||
	    line[16] != ':')
		return -1;
	struct tm tm = {0};
	int y = digits(line, 4), mo = digits(line + 5, 2), d = digits(line + 8, 2), h = digits(line + 11, 2),
	    mi = digits(line + 14, 2), s = digits(line + 17, 2);
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 ||
	    s < 0 || s > 60)
		return -1;
	tm.tm_year = y - 1900, tm.tm_mon = mo - 1, tm.tm_mday = d, tm.tm_hour = h, tm.tm_min = mi,
	tm.tm_sec = s;
	long long t = (long long)timegm(&tm) * 1000;
	const char *p = line + 19;
	if (*p == '.') {
		long long frac = 0, scale = 1000;
		for (p++; p < sp && *p >= '0' && *p <= '9'; p++) {
			if (scale > 1) {
				scale /= 10;
				frac += (*p - '0') * scale;
			}
		}
		t += frac;
	}
	if (p < sp && (*p == '+' || *p == '-') && sp - p == 6) {
		int oh = digits(p + 1, 2), om = digits(p + 4, 2);
		if (oh < 0 || om < 0)
			return -1;
		long long off = (long long)(oh * 60 + om) * 60000;
		t += *p == '+' ? -off : off;
	} else if (p < sp && *p != 'Z') {
		return -1;
	}
	const char *rest = sp + 1, *end = line + len;
	const char *sp2 = memchr(rest, ' ', (size_t)(end - rest));
	if (!sp2 || sp2 + 2 > end || (sp2[1] != 'F' && sp2[1] != 'P'))
		return -1;
	*partial = sp2[1] == 'P';
	*is_stderr = sp2 - rest == 6 && memcmp(rest, "stderr", 6) == 0;
	const char *m = sp2 + 2;
	if (m < end && *m == ' ')
		m++;
	*ms = t;
	*msg = m;
	*msg_len = (size_t)(end - m);
	return 0;
}

/* The length of the UTF-8 character at p (n > 0 bytes there): 1 to 4, or 0 when the bytes are not
 * one (invalid, or cut off), which is sent as U+FFFD. So is a NUL: the API's JSON parser refuses
 * "\u0000" inside a string, and one such event would lose its whole batch. */
static size_t utf8_char(const char *p, size_t n)
{
	unsigned char c = (unsigned char)p[0];
	if (c == 0)
		return 0;
	if (c < 0x80)
		return 1;
	size_t len = (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
	if (!len || len > n)
		return 0;
	for (size_t k = 1; k < len; k++)
		if (((unsigned char)p[k] >> 6) != 2)
			return 0;
	/* overlong forms, surrogates and code points past U+10FFFF: jansson judges, as it will judge
	 * the message */
	json_t *probe = json_stringn(p, len);
	bool ok = probe != NULL;
	json_decref(probe);
	return ok ? len : 0;
}

/* A JSON string of n bytes that may not be UTF-8: invalid bytes and NULs become U+FFFD. */
static json_t *utf8_string(const char *p, size_t n)
{
	json_t *j = memchr(p, '\0', n) ? NULL : json_stringn(p, n);
	if (j)
		return j;
	struct buf b = BUF_INIT;
	for (size_t i = 0; i < n;) {
		size_t len = utf8_char(p + i, n - i);
		if (len) {
			buf_add(&b, p + i, len);
			i += len;
		} else {
			buf_adds(&b, "\xef\xbf\xbd");
			i++;
		}
	}
	j = json_stringn(b.p, b.len);
	buf_release(&b);
	return j ? j : json_string("");
}

/* How many of the n bytes at p go into one event of at most max bytes as sent (utf8_string: an
 * invalid byte becomes the 3 bytes of U+FFFD), without cutting a character in two. *size receives
 * the event's size as sent, which is what CloudWatch counts. */
static size_t utf8_take(const char *p, size_t n, size_t max, size_t *size)
{
	size_t i = 0, out = 0;
	while (i < n) {
		size_t len = utf8_char(p + i, n - i);
		size_t sent = len ? len : 3;
		if (out + sent > max)
			break;
		out += sent;
		i += len ? len : 1;
	}
	*size = out;
	return i;
}

long long logship_parse_size(const char *s)
{
	char *end;
	errno = 0;
	long long v = s ? strtoll(s, &end, 10) : -1;
	if (!s || errno || end == s || v < 0)
		return -1;
	long long mul = 1;
	if (*end == 'k' || *end == 'K')
		mul = 1024, end++;
	else if (*end == 'm' || *end == 'M')
		mul = 1024 * 1024, end++;
	else if (*end == 'g' || *end == 'G')
		mul = 1024LL * 1024 * 1024, end++;
	if (*end == 'b' || *end == 'B')
		end++;
	return *end || v > (1LL << 40) / mul ? -1 : v * mul;
}

/* ---- offsets ---- */

/* The offset file: the offset, then, where `offset` is inside a line longer than a batch, one
 * record per stream with an unshipped rest: "carry K MS OPEN LEN\n" and LEN bytes of text. */
#define OFFSET_FILE_MAX (64 + 2 * (64 + 2 * (size_t)LOGSHIP_EVENT_MAX))

/* Reads the offset file at path into *offset and *carry (cleared first): 0 and nothing when it
 * is missing or unreadable. */
static void offset_read(const char *path, long long *offset, struct carry *carry)
{
	char *text = NULL;
	long long v = 0;
	carry_clear(carry);
	FILE *f = fopen(path, "r");
	if (!f)
		goto out;
	text = xmalloc(OFFSET_FILE_MAX + 1);
	size_t n = fread(text, 1, OFFSET_FILE_MAX, f);
	fclose(f);
	text[n] = '\0';
	char *p = text, *end;
	v = strtoll(p, &end, 10);
	if (end == p || (*end != '\n' && *end) || v < 0) {
		v = 0;
		goto out;
	}
	p = *end ? end + 1 : end;
	while (p < text + n) {
		int k, open, used = 0;
		long long ms;
		size_t len;
		/* (no white space directive after LEN: the text may begin with blanks) */
		if (sscanf(p, "carry %d %lld %d %zu%n", &k, &ms, &open, &len, &used) != 4 || !used ||
		    p[used] != '\n' || k < 0 || k > 1 || len > (size_t)(text + n - (p + used + 1))) {
			log_warn("logs: %s: the unshipped rest of a long line is unreadable; it is lost",
				 path);
			carry_clear(carry);
			break;
		}
		p += used + 1;
		buf_add(&carry->text[k], p, len);
		carry->ms[k] = ms;
		carry->open[k] = open != 0;
		p += len + 1;
	}
out:
	free(text);
	*offset = v;
}

static void offset_load(struct logship_stream *s)
{
	offset_read(s->offset_path, &s->offset, &s->carry);
}

bool logship_unshipped(const char *path, const char *offset_path)
{
	struct stat st;
	long long offset;
	struct carry c = {.text = {BUF_INIT, BUF_INIT}};
	if (stat(path, &st) != 0)
		return false;
	offset_read(offset_path, &offset, &c);
	bool rest = c.open[0] || c.open[1] || c.text[0].len || c.text[1].len;
	carry_clear(&c);
	return offset < (long long)st.st_size || rest;
}

static void offset_save(struct logship_stream *s)
{
	struct buf b = BUF_INIT;
	buf_addf(&b, "%lld\n", s->offset);
	for (int k = 0; k < 2; k++) {
		if (!s->carry.open[k] && !s->carry.text[k].len)
			continue;
		buf_addf(&b, "carry %d %lld %d %zu\n", k, s->carry.ms[k], s->carry.open[k],
			 s->carry.text[k].len);
		buf_add(&b, s->carry.text[k].p, s->carry.text[k].len);
		buf_addc(&b, '\n');
	}
	struct err *e = NULL;
	if (fsx_write_file(s->offset_path, b.p, b.len, 0600, false, &e) < 0) {
		log_warn("logs: %s", e->msg);
		err_free(e);
	}
	buf_release(&b);
}

/* ---- the calls ---- */

static void step(struct logship_stream *s);

static void on_timer(uv_timer_t *t)
{
	step(t->data);
}

static void later(struct logship_stream *s, unsigned ms)
{
	if (!s->stopped)
		uv_timer_start(&s->timer, on_timer, ms, 0);
}

static void retry(struct logship_stream *s)
{
	s->backoff_ms = s->backoff_ms ? s->backoff_ms * 2 : LOGSHIP_RETRY_MIN_MS;
	if (s->backoff_ms > LOGSHIP_RETRY_MAX_MS)
		s->backoff_ms = LOGSHIP_RETRY_MAX_MS;
	later(s, s->backoff_ms);
}

static bool transient(const struct awsc_result *r)
{
	return r->status == 0 || r->status >= 500 ||
	       (r->error_type &&
		(strstr(r->error_type, "Throttling") || strstr(r->error_type, "Unavailable")));
}

static void ready(struct logship_stream *s, const struct err *e)
{
	logship_ready_fn fn = s->ready;
	s->ready = NULL;
	if (fn)
		fn(s->ready_arg, e);
}

static void on_setup(void *arg, const struct awsc_result *r)
{
	struct logship_stream *s = arg;
	s->req = NULL;
	if (s->stopped)
		return;
	bool exists = r->error_type && strstr(r->error_type, "ResourceAlreadyExistsException");
	if (!r->out && !exists) {
		if (transient(r)) {
			retry(s);
			return;
		}
		/* ECS's words when the group is missing and may not be created */
		struct err *e = NULL;
		err_set(&e, ERR_CLIENT,
			"ResourceInitializationError: failed to validate logger args: create stream has been "
			"retried 1 times: failed to create Cloudwatch log stream: %s: %s",
			r->error_type ? r->error_type : "error", r->message ? r->message : "");
		ready(s, e);
		err_free(e);
		return;
	}
	s->backoff_ms = 0;
	s->phase = s->phase == PH_GROUP ? PH_STREAM : PH_SHIP;
	if (s->phase == PH_SHIP)
		ready(s, NULL);
	step(s);
}

static void on_put(void *arg, const struct awsc_result *r)
{
	struct logship_stream *s = arg;
	s->req = NULL;
	if (s->stopped)
		return;
	if (!r->out && transient(r)) {
		log_debug("logs: %s/%s: PutLogEvents: %u %s: %s (retrying)", s->group, s->stream, r->status,
			  r->error_type ? r->error_type : "", r->message ? r->message : "");
		retry(s);
		return;
	}
	if (!r->out)
		/* refused for good (e.g. the group was deleted): what cannot be delivered is dropped
		 * rather than retried for ever */
		log_warn("logs: %s/%s: %s: %s", s->group, s->stream, r->error_type ? r->error_type : "error",
			 r->message ? r->message : "");
	s->backoff_ms = 0;
	s->offset += s->consumed;
	carry_advance(s);
	log_debug("logs: %s/%s: shipped up to byte %lld", s->group, s->stream, s->offset);
	s->consumed = 0;
	offset_save(s);
	step(s);
}

static void call(struct logship_stream *s, const char *op, json_t *body, awsc_done_fn done)
{
	char *target = xasprintf(LOGS_PREFIX "%s", op);
	s->req = awsc_call(s->aws, target, "logs", body, LOGSHIP_CALL_TIMEOUT, done, s);
	free(target);
	json_decref(body);
}

/* Reads what is new in the log and builds a batch; returns it (NULL when there is none) with the
 * bytes it covers in s->consumed. */
static json_t *read_batch(struct logship_stream *s, bool *eof)
{
	*eof = true;
	int fd = open(s->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	struct stat st;
	if (fstat(fd, &st) != 0 || st.st_size < s->offset) {
		/* the log was truncated (conmon's size limit): start over */
		s->offset = 0;
		carry_clear(&s->carry);
	}
	if (s->non_blocking && st.st_size - s->offset > s->max_buffer) {
		/* non-blocking: more is waiting than the buffer holds; the oldest lines go, from a line
		 * start on */
		long long at = st.st_size - s->max_buffer;
		char c;
		while (at < st.st_size && pread(fd, &c, 1, at - 1) == 1 && c != '\n')
			at++;
		log_warn(
			"logs: %s/%s: non-blocking mode: %lld bytes of output dropped (max-buffer-size %lld)",
			s->group, s->stream, at - s->offset, s->max_buffer);
		s->offset = at;
		carry_clear(&s->carry);
	}
	size_t want = st.st_size - s->offset > LOGSHIP_READ_MAX ? LOGSHIP_READ_MAX
								: (size_t)(st.st_size - s->offset);
	char *data = xmalloc(want + 1);
	ssize_t got = want ? pread(fd, data, want, s->offset) : 0;
	close(fd);
	if (got <= 0) {
		free(data);
		return NULL;
	}
	*eof = s->offset + got >= st.st_size;
	json_t *events = json_array();
	/* stdout and stderr each have their own partial line: conmon marks a line "P" when a read of
	 * that stream ended without a newline, and the other stream's lines may come in between */
	/* per stream: the line being put together, its time, whether it is open; it starts from the
	 * line the batch before shipped in part */
	struct carry cur = {.text = {BUF_INIT, BUF_INIT}};
	carry_copy(&cur, &s->carry);
	long long last_ms = 0;
	size_t used = 0, clean_events = 0, bytes = 0, pos = 0;
	/* before the record being read: the batch's events, and its stream's rest, time and state */
	size_t rec_events = 0, rec_rest = 0;
	long long rec_ms = 0;
	bool rec_open = false;
	int rec_k = -1; /* that stream, while the record is being read */
	bool full = false;
	while (pos < (size_t)got && !full) {
		char *nl = memchr(data + pos, '\n', (size_t)got - pos);
		if (!nl)
			break;
		size_t len = (size_t)(nl - (data + pos));
		long long ms;
		bool partial, err_stream;
		const char *m;
		size_t mlen;
		if (logship_parse_line(data + pos, len, &ms, &err_stream, &partial, &m, &mlen) == 0) {
			int k = err_stream;
			rec_k = k;
			rec_events = json_array_size(events);
			rec_rest = cur.text[k].len;
			rec_ms = cur.ms[k];
			rec_open = cur.open[k];
			if (!cur.open[k])
				cur.ms[k] = ms;
			buf_add(&cur.text[k], m, mlen);
			cur.open[k] = partial;
			/* A whole line is one message; a line longer than an event is cut, as it grows,
			 * into events of LOGSHIP_EVENT_MAX bytes as sent (fewer where a character would
			 * be cut in two), as CloudWatch's agents cut it. An empty line is no event. */
			long long t = cur.ms[k] < last_ms ? last_ms : cur.ms[k]; /* a batch is in order */
			size_t off = 0;
			while (off < cur.text[k].len) {
				size_t size, n = utf8_take(cur.text[k].p + off, cur.text[k].len - off,
							   LOGSHIP_EVENT_MAX, &size);
				if (partial && off + n == cur.text[k].len)
					break; /* what fits in one event waits for the rest of its line */
				if (json_array_size(events) > 0 &&
				    (json_array_size(events) == LOGSHIP_BATCH_EVENTS ||
				     bytes + size + LOGS_PUT_EVENT_OVERHEAD > LOGSHIP_BATCH_BYTES)) {
					/* the rest goes in the next batch, which starts at the last clean
					 * point */
					full = true;
					break;
				}
				json_t *ev = json_object();
				json_object_set_new(ev, "timestamp", json_integer(t));
				json_object_set_new(ev, "message", utf8_string(cur.text[k].p + off, n));
				json_array_append_new(events, ev);
				bytes += size + LOGS_PUT_EVENT_OVERHEAD;
				last_ms = t;
				off += n;
			}
			if (full)
				break;
			if (off) {
				/* what was sent goes; a partial line's rest stays for its next part */
				struct buf rest = BUF_INIT;
				buf_add(&rest, cur.text[k].p + off, cur.text[k].len - off);
				buf_release(&cur.text[k]);
				cur.text[k] = rest;
			}
		}
		rec_k = -1;
		pos += len + 1;
		if (!cur.open[0] && !cur.open[1]) {
			/* a clean point: everything up to here is in the batch */
			used = pos;
			clean_events = json_array_size(events);
		}
		full = json_array_size(events) >= LOGSHIP_BATCH_EVENTS;
	}
	bool flushed = false;
	if ((cur.open[0] || cur.open[1]) && s->finishing && *eof && !full) {
		/* the container is gone: its last partial lines are flushed as they are (each is less
		 * than an event), in this batch if they fit, else whole in the next */
		size_t size[2] = {0, 0}, more = 0, more_bytes = 0;
		for (int k = 0; k < 2; k++)
			if (cur.open[k] && cur.text[k].len) {
				utf8_take(cur.text[k].p, cur.text[k].len, LOGSHIP_EVENT_MAX, &size[k]);
				more++;
				more_bytes += size[k] + LOGS_PUT_EVENT_OVERHEAD;
			}
		if (json_array_size(events) + more <= LOGSHIP_BATCH_EVENTS &&
		    bytes + more_bytes <= LOGSHIP_BATCH_BYTES) {
			for (int k = 0; k < 2; k++)
				if (size[k]) {
					json_t *ev = json_object();
					json_object_set_new(
						ev, "timestamp",
						json_integer(cur.ms[k] < last_ms ? last_ms : cur.ms[k]));
					json_object_set_new(ev, "message",
							    utf8_string(cur.text[k].p, cur.text[k].len));
					json_array_append_new(events, ev);
				}
			used = pos;
			flushed = true;
		}
	}
	carry_clear(&s->next);
	bool carried = full && clean_events == 0;
	if (carried) {
		/* No clean point in a whole batch (a line longer than a batch): the batch ends before
		 * the record it filled up in (what it took of that record goes again with the next),
		 * and the next one starts from what is not shipped yet of the lines open there. */
		if (rec_k >= 0) {
			while (json_array_size(events) > rec_events)
				json_array_remove(events, json_array_size(events) - 1);
			cur.text[rec_k].len = rec_rest;
			cur.ms[rec_k] = rec_ms;
			cur.open[rec_k] = rec_open;
		}
		used = pos;
		carry_copy(&s->next, &cur);
	} else if (!flushed) {
		/* stop at the last clean point: what follows (what did not fit, or the events cut from
		 * a line still being written) goes in the next batch, which starts there */
		while (json_array_size(events) > clean_events)
			json_array_remove(events, json_array_size(events) - 1);
	}
	carry_clear(&cur);
	if (used < (size_t)got)
		*eof = false;
	free(data);
	s->consumed = (long long)used;
	if (!carried && used == 0) /* nothing consumed: the next read starts where this one did */
		carry_copy(&s->next, &s->carry);
	if (json_array_size(events) == 0) {
		/* only lines that are not log lines, or a partial line still growing */
		if (used > 0) {
			s->offset += (long long)used;
			s->consumed = 0;
			carry_advance(s);
			offset_save(s);
		}
		json_decref(events);
		return NULL;
	}
	return events;
}

static void finished(struct logship_stream *s)
{
	void (*done)(void *) = s->done;
	s->done = NULL;
	if (done)
		done(s->done_arg);
}

static void step(struct logship_stream *s)
{
	if (s->stopped || s->req)
		return;
	if (s->phase == PH_GROUP) {
		if (!s->create_group) {
			s->phase = PH_STREAM;
		} else {
			call(s, "CreateLogGroup", json_pack("{s:s}", "logGroupName", s->group), on_setup);
			return;
		}
	}
	if (s->phase == PH_STREAM) {
		call(s, "CreateLogStream",
		     json_pack("{s:s,s:s}", "logGroupName", s->group, "logStreamName", s->stream), on_setup);
		return;
	}
	bool eof;
	json_t *events = read_batch(s, &eof);
	if (events) {
		call(s, "PutLogEvents",
		     json_pack("{s:s,s:s,s:o}", "logGroupName", s->group, "logStreamName", s->stream,
			       "logEvents", events),
		     on_put);
		return;
	}
	if (s->finishing && eof) {
		log_debug("logs: %s/%s: all %lld bytes shipped", s->group, s->stream, s->offset);
		finished(s);
		return;
	}
	later(s, LOGSHIP_POLL_MS);
}

struct logship_stream *logship_start(uv_loop_t *loop, struct awsc *aws, const char *path,
				     const char *offset_path, const struct logship_target *t,
				     logship_ready_fn ready_fn, void *arg)
{
	struct logship_stream *s = xcalloc(1, sizeof(*s));
	s->loop = loop;
	s->aws = aws;
	s->path = xstrdup(path);
	s->offset_path = xstrdup(offset_path);
	s->group = xstrdup(t->group);
	s->stream = xstrdup(t->stream);
	s->create_group = t->create_group;
	s->non_blocking = t->non_blocking;
	s->max_buffer = t->max_buffer > 0 ? t->max_buffer : LOGSHIP_MAX_BUFFER_DEFAULT;
	s->ready = ready_fn;
	s->ready_arg = arg;
	for (int k = 0; k < 2; k++)
		s->carry.text[k] = s->next.text[k] = (struct buf)BUF_INIT;
	offset_load(s);
	uv_timer_init(loop, &s->timer);
	s->timer.data = s;
	later(s, 0);
	return s;
}

void logship_finish(struct logship_stream *s, void (*done)(void *arg), void *arg)
{
	s->finishing = true;
	s->done = done;
	s->done_arg = arg;
	if (!s->req && s->phase == PH_SHIP) {
		uv_timer_stop(&s->timer);
		later(s, 0);
	}
}

static void on_closed(uv_handle_t *h)
{
	struct logship_stream *s = h->data;
	free(s->path), free(s->offset_path), free(s->group), free(s->stream);
	carry_clear(&s->carry);
	carry_clear(&s->next);
	free(s);
}

void logship_stop(struct logship_stream *s)
{
	if (!s || s->stopped)
		return;
	s->stopped = true;
	if (s->req)
		hcli_cancel(s->req); /* on_* see stopped */
	uv_timer_stop(&s->timer);
	uv_close((uv_handle_t *)&s->timer, on_closed);
}
