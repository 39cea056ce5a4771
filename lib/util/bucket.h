/*
 * bucket.h: the one rule that cuts a window into time buckets, for every
 * command that draws or prints a window over time (timeline, report).
 *
 * Bucket k covers (t0 + k*width, t0 + (k+1)*width]: a tick goes whole into
 * the bucket its end falls in, as a tick covers (start, end]. The grid starts
 * at an origin at or before the window's start (the window's start, or the
 * clock boundary before it: tt_time_align), so the first bucket may begin
 * before the window and the last may end past it.
 * Pure arithmetic: no allocation, no clock.
 */
#ifndef TT_BUCKET_H
#define TT_BUCKET_H

#include <stddef.h>
#include <stdint.h>

struct tt_buckets {
	uint64_t t0_ns; /* Unix ns where bucket 0 starts (exclusive) */
	uint64_t width_ns; /* every bucket's length */
	size_t n; /* buckets: enough to reach the window's end, at least 1 */
};

/*
 * The grid of width_ns buckets from origin_ns over (from_ns, to_ns]. 0, or
 * -EINVAL (width 0, to < from, origin > from).
 */
int tt_buckets_init(struct tt_buckets *b, uint64_t origin_ns, uint64_t from_ns, uint64_t to_ns,
		    uint64_t width_ns);

/* The bucket of a tick ending at ts_ns; SIZE_MAX when that is outside the grid. */
size_t tt_bucket_of(const struct tt_buckets *b, uint64_t ts_ns);

/* Where bucket k starts (exclusive), Unix ns. */
uint64_t tt_bucket_start(const struct tt_buckets *b, size_t k);

#endif /* TT_BUCKET_H */
