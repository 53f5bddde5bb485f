/* libFuzzer target for CloudWatch Logs filter patterns (logs/filter.h): input bytes (up to the first
 * NUL) are parsed with filter_parse and, when they parse, matched against a few fixed messages (plain
 * text and JSON). Besides crashes, leaks and undefined behaviour it checks that a refusal is an
 * InvalidParameter error. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "logs/filter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const msgs[] = {
	"[ERROR] disk full on /dev/sda1",
	"INFO request done in 12 ms",
	"{\"level\":\"error\",\"latency\":150,\"user\":{\"id\":7,\"name\":\"ann\"},\"tags\":[\"a\",\"b\"],"
	"\"ok\":false,\"nothing\":null}",
	"{\"a\":{\"b\":[1,2,{\"c\":\"deep\"}]},\"n\":-1.5e3}",
	"127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] \"GET /a.gif HTTP/1.0\" 404 1534",
	"a \"unterminated [x y",
	"",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *p = malloc(size + 1);
	memcpy(p, data, size);
	p[size] = 0;
	struct err *e = NULL;
	struct filter *f = filter_parse(p, &e);
	if (f) {
		for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++)
			(void)filter_match(f, msgs[i], strlen(msgs[i]));
		/* The pattern itself as a message, too: arbitrary bytes. */
		(void)filter_match(f, (const char *)data, size);
		filter_free(f);
	} else if (!e || e->kind != ERR_INVALID_PARAM) {
		abort();
	}
	err_free(e);
	free(p);
	return 0;
}
