/*
 * audit.h: one rollup period of a recording, recomputed from its segments and
 * compared with what index.db says of it.
 *
 * The rollups answer top over whole periods without reading the segments, so
 * a value in them that is in range and agrees with its hour (idxcheck.h) but
 * not with the traffic (a column set to 0 in every row, say) would change an
 * answer without a word. The index is a cache of the segments: a reader that
 * answers from the rollups replays one of their periods through the same
 * aggregator and indexer the recorder used and compares row for row. Cost: the
 * blocks of one minor period (5 minutes by default) per recording answered
 * from the rollups.
 */
#ifndef TT_AUDIT_H
#define TT_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

/*
 * The minor rollup rows of period t_s (Unix s, a multiple of minor_s) of
 * recording rec (m2w: its CLOCK_MONOTONIC -> Unix ns) against the ticks its
 * blocks give for that period. 0: they agree. -ENODATA: the period cannot be
 * recomputed (its blocks do not cover it, one is damaged, its rows were
 * migrated from schema 1): nothing is claimed. 1: they disagree, and warn
 * names the first difference ("recording 1, period 1710201600 (Unix s),
 * connection 465a part 0: packets_in is 0 in the index, 35 in the blocks").
 * -EBADMSG: a rollups row of the period is out of range (warn names it, as
 * tt_store_each_piece does). -ENOMEM ("out of memory" in warn).
 */
int tt_audit_period(struct tt_store *st, int64_t rec, int64_t m2w, uint64_t minor_s, uint64_t t_s,
		    char *warn, size_t warn_len);

#endif /* TT_AUDIT_H */
