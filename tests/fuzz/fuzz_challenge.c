/* libFuzzer target for the registry client's parser of WWW-Authenticate challenges (the text is
 * the registry's, so untrusted). Besides crashes, leaks and undefined behaviour it checks: a
 * refusal leaves nothing allocated; an accepted challenge has a non-empty scheme without blanks,
 * and no part longer than the input. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry/regclient.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_challenge: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	char *scheme, *realm, *service;
	if (regclient_parse_challenge(text, &scheme, &realm, &service) < 0) {
		CHECK(!scheme && !realm && !service);
	} else {
		CHECK(scheme && *scheme && !strchr(scheme, ' '));
		CHECK(strlen(scheme) <= size);
		CHECK(!realm || strlen(realm) <= size);
		CHECK(!service || strlen(service) <= size);
	}
	free(scheme);
	free(realm);
	free(service);
	free(text);
	return 0;
}
