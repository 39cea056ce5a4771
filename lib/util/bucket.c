/*
 * bucket.c: see bucket.h.
 */
#include <errno.h>

#include "bucket.h"

int tt_buckets_init(struct tt_buckets *b, uint64_t origin_ns, uint64_t from_ns, uint64_t to_ns,
		    uint64_t width_ns)
{
	if (!width_ns || to_ns < from_ns || origin_ns > from_ns)
		return -EINVAL;
	b->t0_ns = origin_ns;
	b->width_ns = width_ns;
	b->n = (size_t)((to_ns - origin_ns) / width_ns + ((to_ns - origin_ns) % width_ns != 0));
	if (!b->n)
		b->n = 1;
	return 0;
}

size_t tt_bucket_of(const struct tt_buckets *b, uint64_t ts_ns)
{
	uint64_t k;

	if (ts_ns <= b->t0_ns)
		return SIZE_MAX;
	k = (ts_ns - b->t0_ns - 1) / b->width_ns;
	return k < b->n ? (size_t)k : SIZE_MAX;
}

uint64_t tt_bucket_start(const struct tt_buckets *b, size_t k)
{
	return b->t0_ns + (uint64_t)k * b->width_ns;
}
