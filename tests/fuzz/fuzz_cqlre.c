/* libFuzzer target for the =~ regular expressions (sched/cqlre.h): the input is a pattern, a NUL
 * and a value (or only a pattern, matched against itself). Besides crashes, leaks, undefined
 * behaviour and timeouts (compile and match are meant to be linear) it checks that a refusal
 * gives a reason and that matching is deterministic. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sched/cql.h"
#include "sched/cqlre.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > CQL_TEXT_MAX)
		return 0; /* cql_parse never hands it a longer pattern */
	char *text = malloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	const char *value = memchr(data, 0, size) ? text + strlen(text) + 1 : text;
	const char *why = NULL;
	struct cqlre *re = cqlre_compile(text, &why);
	if (!re == !why)
		abort();
	if (re && cqlre_match(re, value) != cqlre_match(re, value))
		abort();
	cqlre_free(re);
	free(text);
	return 0;
}
