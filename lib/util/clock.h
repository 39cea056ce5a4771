/*
 * clock.h: the time now in ns on one clock, the one copy of it. CLOCK_REALTIME
 * is Unix time, what the store and the command lines speak; CLOCK_MONOTONIC,
 * which the wall clock's steps do not move, is for intervals and deadlines.
 */
#ifndef TT_CLOCK_H
#define TT_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Now on clk (CLOCK_REALTIME, CLOCK_MONOTONIC, ...), in ns since its epoch. */
static inline uint64_t tt_clock_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#endif /* TT_CLOCK_H */
