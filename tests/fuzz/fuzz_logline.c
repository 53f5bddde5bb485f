/* libFuzzer target: lines of a container's k8s-file log (what conmon writes around whatever the
 * container prints). */
#include <stddef.h>
#include <stdint.h>

#include "agent/logship.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	long long ms;
	bool partial, err_stream;
	const char *m;
	size_t n;
	if (logship_parse_line((const char *)data, size, &ms, &err_stream, &partial, &m, &n) == 0 &&
	    (m < (const char *)data || m + n > (const char *)data + size))
		__builtin_trap();
	return 0;
}
