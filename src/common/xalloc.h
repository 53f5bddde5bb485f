/* Allocation wrappers that abort on out-of-memory, so callers never check for NULL.
 * Inputs are bounded at the edges instead (see the named *_MAX constants). */
#ifndef GANTRY_XALLOC_H
#define GANTRY_XALLOC_H

#include <stddef.h>

/* malloc/calloc/realloc that abort with a message when memory is exhausted. */
void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
/* strdup / strndup that abort on OOM. xstrdup(NULL) returns NULL. */
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Formats into a new heap string; the caller frees it. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
