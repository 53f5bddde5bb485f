/* libFuzzer target for the request path: the input's first line names an ECS operation, the rest
 * is its JSON body. The request is signed correctly, so the bytes reach JSON parsing, member
 * validation and the operations themselves (state accumulates across inputs, as on a server). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/harness.h"

static struct harness h;
static unsigned long runs;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!h.api && harness_open(&h) < 0)
		abort();
	const uint8_t *nl = memchr(data, '\n', size);
	size_t oplen = nl ? (size_t)(nl - data) : size;
	if (oplen > 64)
		return 0;
	char op[65];
	memcpy(op, data, oplen);
	op[oplen] = '\0';
	if (strchr(op, '\0') != op + oplen)
		return 0;
	char *body = xstrndup(nl ? (const char *)nl + 1 : "", nl ? size - oplen - 1 : 0);
	if (strlen(body) != (nl ? size - oplen - 1 : 0)) {
		free(body); /* an embedded NUL: the harness takes C strings */
		return 0;
	}
	unsigned st = harness_ecs(&h, op, body);
	free(body);
	/* Every request gets exactly one answer, and it is a success or a client/server error. */
	if (st != 200 && st != 400 && st != 500 && st != 413)
		abort();
	/* Keep the state bounded over long runs: start afresh now and then. */
	if (++runs % 5000 == 0) {
		harness_free(&h);
		memset(&h, 0, sizeof(h));
	}
	return 0;
}
