/* Encodings: hex, base64 and the percent-encoding rules of URIs and of SigV4. */
#ifndef GANTRY_ENC_H
#define GANTRY_ENC_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"

/* Writes 2n lowercase hex characters and a NUL into out (which holds 2n + 1 bytes). */
void enc_hex(const void *in, size_t n, char *out);
/* Standard base64 with padding. Returns a new string the caller frees. */
char *enc_b64(const void *in, size_t n);
/* Decodes standard base64 (padding required). Returns a new buffer the caller frees (NUL-
 * terminated for convenience) and its length in *outn, or NULL when the text is not base64. */
char *enc_b64_decode(const char *in, size_t n, size_t *outn);
/* Percent-encodes per SigV4: everything but A-Z a-z 0-9 - _ . ~ (and '/' when keep_slash) becomes
 * %XX with uppercase hex. Returns buf_add's result. */
int enc_uri(struct buf *out, const char *in, size_t n, bool keep_slash);
/* Decodes %XX escapes (and '+' as space when plus_space). Returns a new string the caller
 * frees, or NULL when an escape is malformed or decodes to a NUL byte. */
char *enc_pct_decode(const char *in, size_t n, bool plus_space);

#endif
