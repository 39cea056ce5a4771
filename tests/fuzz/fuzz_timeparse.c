/*
 * fuzz_timeparse: --from/--to/--last text. tt_parse_time, tt_parse_duration,
 * tt_parse_size and tt_parse_window on the input (split at the first two NULs
 * into from, to, last), with a fixed clock and span.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "timeparse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tt_time_ctx ctx = { .now_ns = 1764252300000000000ull,
				   .start_ns = 1764250000000000000ull,
				   .end_ns = 1764252000000000000ull,
				   .utc = size & 1 };
	char *s = malloc(size + 3), *a, *b, *c, why[128];
	uint64_t v, f, t;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = s[size + 1] = s[size + 2] = '\0';
	(void)tt_parse_time(s, &ctx, &v);
	(void)tt_parse_duration(s, &v);
	(void)tt_parse_size(s, &v);
	a = s;
	b = a + strlen(a) + 1;
	c = b <= s + size ? b + strlen(b) + 1 : b;
	if (c > s + size + 1)
		c = s + size + 1;
	(void)tt_parse_window(*a ? a : NULL, *b ? b : NULL, *c ? c : NULL, &ctx, &f, &t, why,
			      sizeof(why));
	ctx.start_ns = 0;
	ctx.end_ns = UINT64_MAX;
	ctx.now_ns = UINT64_MAX;
	(void)tt_parse_time(s, &ctx, &v);
	(void)tt_parse_window(*a ? a : NULL, *b ? b : NULL, NULL, &ctx, &f, &t, why, sizeof(why));
	free(s);
	return 0;
}
