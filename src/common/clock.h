/* Time: wall-clock epoch seconds for API documents, and a monotonic clock for intervals. */
#ifndef GANTRY_CLOCK_H
#define GANTRY_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Wall-clock time in epoch seconds with sub-second precision. */
double clock_now(void);
/* Monotonic milliseconds (for timeouts and intervals, not for documents). */
uint64_t clock_mono_ms(void);
/* Parses an ISO 8601 basic timestamp "YYYYMMDDTHHMMSSZ" (SigV4's X-Amz-Date) into *out.
 * Returns 0, or -1 when the text is not exactly in that form. */
int clock_parse_amz(const char *s, time_t *out);

#endif
