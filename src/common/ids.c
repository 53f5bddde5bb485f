/* Random identifiers. */
#include "common/ids.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>

void ids_random(void *buf, size_t n)
{
	if (RAND_bytes(buf, (int)n) != 1) {
		fprintf(stderr, "gantry: the random number generator failed\n");
		abort();
	}
}

static void hex(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

void ids_hex32(char out[33])
{
	unsigned char r[16];
	ids_random(r, sizeof(r));
	hex(r, sizeof(r), out);
}

void ids_uuid(char out[37])
{
	unsigned char r[16];
	ids_random(r, sizeof(r));
	r[6] = (unsigned char)((r[6] & 0x0f) | 0x40); /* RFC 4122: version 4 */
	r[8] = (unsigned char)((r[8] & 0x3f) | 0x80); /* RFC 4122: variant 10 */
	char h[33];
	hex(r, 16, h);
	snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", h, h + 8, h + 12, h + 16, h + 20);
}

void ids_token(char *out, size_t n, int secret)
{
	static const char upper[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	static const char any[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *set = secret ? any : upper;
	size_t setn = secret ? 64 : 36;
	for (size_t i = 0; i < n; i++) {
		unsigned char c;
		/* Rejection sampling keeps every character equally likely. */
		do
			ids_random(&c, 1);
		while (c >= 256 - (256 % setn));
		out[i] = set[c % setn];
	}
	out[n] = '\0';
}
