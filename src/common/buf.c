/* struct buf: the capped, never-NULL string buffer. */
#include "common/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/xalloc.h"

const char buf__empty[1] = "";

void buf_init(struct buf *b, size_t max)
{
	b->p = (char *)buf__empty;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

void buf_release(struct buf *b)
{
	if (!b)
		return;
	if (b->cap)
		free(b->p);
	size_t max = b->max;
	buf_init(b, max);
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->cap)
		b->p[0] = '\0';
}

static int grow(struct buf *b, size_t extra)
{
	if (b->max && (extra > b->max || b->len > b->max - extra))
		return -1;
	size_t need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap *= 2;
	if (b->cap) {
		b->p = xrealloc(b->p, cap);
	} else {
		b->p = xmalloc(cap);
		b->p[0] = '\0';
	}
	b->cap = cap;
	return 0;
}

int buf_add(struct buf *b, const void *data, size_t n)
{
	if (grow(b, n) < 0)
		return -1;
	if (n == 0)
		return 0;
	memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

int buf_adds(struct buf *b, const char *s)
{
	return buf_add(b, s, strlen(s));
}

int buf_addc(struct buf *b, char c)
{
	return buf_add(b, &c, 1);
}

int buf_addf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || grow(b, (size_t)n) < 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

char *buf_detach(struct buf *b, size_t *len)
{
	char *p = b->cap ? b->p : xstrdup("");
	if (len)
		*len = b->len;
	size_t max = b->max;
	buf_init(b, max);
	return p;
}

int str_cmp_ptr(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}
