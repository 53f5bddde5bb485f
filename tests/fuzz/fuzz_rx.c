/* libFuzzer target for the =~ regular expressions (common/rx.h): the input is a pattern, a NUL
 * and a value (or only a pattern, matched against itself). Besides crashes, leaks, undefined
 * behaviour and timeouts (compile and match are meant to be linear) it checks that a refusal
 * gives a reason and that matching is deterministic. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/rx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4000)
		return 0; /* patterns are at most 2000 (query language) or 1024 bytes (filter patterns) */
	char *text = malloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	const char *value = memchr(data, 0, size) ? text + strlen(text) + 1 : text;
	const char *why = NULL;
	struct rx *re = rx_compile(text, &why);
	if (!re == !why)
		abort();
	if (re) {
		size_t n = strlen(value);
		char *copy = malloc(n ? n : 1); /* unterminated: ASan sees a read past n */
		memcpy(copy, value, n);
		bool whole = rx_match(re, value), some = rx_search(re, copy, n);
		if (whole && !some)
			abort();
		free(copy);
	}
	rx_free(re);
	free(text);
	return 0;
}
