/*
 * replay.h: a recording read back as the same event stream the recorder
 * stored: window -> blocks (from the index) -> segment reader -> events.
 * Implements tt_source, so the aggregator behind it is the recorder's own.
 *
 * The first block read opens with a keyframe, so a replay can start anywhere;
 * later keyframes change nothing for a reader that is already in step. A block
 * that is damaged or missing is skipped (counted in the stats); the next
 * block's keyframe brings the state back, and the traffic of the gap is
 * reported by no tick rather than by a wrong one.
 */
#ifndef TT_REPLAY_H
#define TT_REPLAY_H

#include <stddef.h>
#include <stdint.h>

#include "source.h"
#include "store.h"

struct tt_replay;

struct tt_replay_opts {
	int64_t recording_id; /* which recording (recordings.id) */
	uint64_t from_ns; /* Unix ns; blocks ending before are not read (0: from the start) */
	uint64_t to_ns; /* Unix ns; blocks starting after are not read (0: to the end) */
};

struct tt_replay_stats {
	uint64_t blocks_total; /* blocks of the recording in the index */
	uint64_t blocks_selected; /* overlapping the window */
	uint64_t blocks_read; /* read and decoded */
	uint64_t blocks_damaged; /* selected but unreadable: skipped */
	uint64_t events; /* events returned */
};

/*
 * Select the blocks and prepare to read them; st must stay open while the
 * replay is used. On failure a negative errno and why.
 */
int tt_replay_open(struct tt_store *st, const struct tt_replay_opts *o, struct tt_replay **out,
		   char *why, size_t why_len);

struct tt_source *tt_replay_source(struct tt_replay *r);

/* CLOCK_MONOTONIC -> Unix ns of the recording. */
int64_t tt_replay_mono_to_wall(const struct tt_replay *r);

const struct tt_replay_stats *tt_replay_stats(const struct tt_replay *r);

/* A warning about skipped damage (one line), or NULL. */
const char *tt_replay_warning(const struct tt_replay *r);

void tt_replay_close(struct tt_replay *r);

#endif /* TT_REPLAY_H */
