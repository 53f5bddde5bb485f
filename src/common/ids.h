/* Random identifiers from the OpenSSL CSPRNG: hex ids (as in task ARNs), UUIDs, secrets. */
#ifndef GANTRY_IDS_H
#define GANTRY_IDS_H

#include <stddef.h>

/* Fills buf with n random bytes; aborts if the CSPRNG fails (there is no safe fallback). */
void ids_random(void *buf, size_t n);
/* Writes 32 lowercase hex characters and a NUL (the id format of ECS task ARNs). */
void ids_hex32(char out[33]);
/* Writes a random (version 4) UUID in its 36-character text form and a NUL. */
void ids_uuid(char out[37]);
/* Writes n characters from [A-Z0-9] (or [A-Za-z0-9+/] when secret) and a NUL. */
void ids_token(char *out, size_t n, int secret);

#endif
