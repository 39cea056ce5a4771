/*
 * replay_tty.h: the interactive, full-screen replay (keys: space, +/-, arrows,
 * [ ], g, s, /, q). Returns the exit code; the terminal is always restored.
 */
#ifndef TT_ANALYZE_REPLAY_TTY_H
#define TT_ANALYZE_REPLAY_TTY_H

#include <stdint.h>

#include "aggregator.h"
#include "filter.h"
#include "store.h"

/* Play recording rec of st (its span [rec_start, rec_end], Unix ns) from from_ns;
 * where says what is replayed (the header's second line); filter (may be
 * NULL) and top (0: all) are the command line's. */
int replay_tty(struct tt_store *st, int64_t rec, uint64_t rec_start, uint64_t rec_end,
	       uint64_t from_ns, double speed, enum tt_sort_key sort, int utc, const char *where,
	       const struct tt_filter *filter, unsigned top);

#endif /* TT_ANALYZE_REPLAY_TTY_H */
