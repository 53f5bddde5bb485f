/* A capped, never-NULL growable byte buffer (struct buf) and a non-owning slice (struct str).
 * buf.p always points at a NUL-terminated string (a static "" until the first append), so it can
 * be passed to C string functions at any time. Appends past buf.max fail instead of growing. */
#ifndef GANTRY_BUF_H
#define GANTRY_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

struct buf {
	char *p;    /* never NULL; NUL-terminated */
	size_t len; /* bytes used, not counting the terminator */
	size_t cap; /* bytes allocated, 0 while p points at the static empty string */
	size_t max; /* the most bytes this buffer may hold; 0 means no cap */
};

struct str {
	const char *p;
	size_t n;
};

#define BUF_INIT                            \
	{                                   \
		(char *)buf__empty, 0, 0, 0 \
	}
extern const char buf__empty[1];

/* Initializes an empty buffer that refuses to grow past max bytes (0 = uncapped). */
void buf_init(struct buf *b, size_t max);
/* Frees the contents and leaves an empty buffer; accepts NULL. */
void buf_release(struct buf *b);
/* Empties the buffer, keeping its allocation. */
void buf_reset(struct buf *b);
/* Appends n bytes. Returns 0, or -1 (buffer unchanged) when the cap would be exceeded. */
int buf_add(struct buf *b, const void *data, size_t n);
/* Appends a NUL-terminated string. Same return as buf_add. */
int buf_adds(struct buf *b, const char *s);
/* Appends one byte. Same return as buf_add. */
int buf_addc(struct buf *b, char c);
/* Appends printf-formatted text. Same return as buf_add. */
int buf_addf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hands the contents to the caller (a heap string the caller frees) and empties the buffer. */
char *buf_detach(struct buf *b, size_t *len);

/* A slice of a NUL-terminated string. */
static inline struct str str_c(const char *s)
{
	struct str r = {s, s ? strlen(s) : 0};
	return r;
}
/* True when a slice equals a C string. */
static inline bool str_eq(struct str a, const char *b)
{
	size_t n = strlen(b);
	return a.n == n && memcmp(a.p, b, n) == 0;
}
/* True when s starts with prefix. */
static inline bool str_starts(struct str s, const char *prefix)
{
	size_t n = strlen(prefix);
	return s.n >= n && memcmp(s.p, prefix, n) == 0;
}

/* qsort comparison of two `const char *` elements (strcmp order). */
int str_cmp_ptr(const void *a, const void *b);

#endif
