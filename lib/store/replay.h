/*
 * replay.h: a recording read back as the same event stream the recorder
 * stored: window -> blocks (from the index) -> segment reader -> events.
 * Implements tt_source, so the aggregator behind it is the recorder's own.
 *
 * The stream is the one every block's own keyframe would give: reading starts
 * at the last keyframe block at or before the window (within the recording);
 * the blocks before the window's first one (the warm-up) only build the state,
 * which is handed out as a keyframe (TT_EVF_KEYFRAME events at the ts of the
 * tick before the window's first block) unless that block has one itself. So a
 * fresh aggregator behind the replay builds the same tables as one that saw the
 * whole recording (less seq and last_active_ns, which a keyframe does not
 * carry), and consumers see the keyframe events they always saw. Later
 * keyframes change nothing for a reader that is already in step. A block that
 * is damaged or missing is skipped (counted in the stats), and so are the delta
 * blocks after it, whose events continue a state that is lost, up to the next
 * keyframe block, which brings the state back: the traffic of the gap is
 * reported by no tick rather than by a wrong one. A segment whose 64-byte file
 * header is damaged loses nothing: the index says where its frames are, and
 * each frame has its own checksums; it is counted and warned about.
 */
#ifndef TT_REPLAY_H
#define TT_REPLAY_H

#include <stddef.h>
#include <stdint.h>

#include "source.h"
#include "store.h"

struct tt_replay;

/*
 * Blocks rows that cannot be placed (offset, seq or times out of range:
 * TT_REPLAY_BLOCK_OK in lib/store_int.h) are left out of every selection and
 * reported as lost.
 */
struct tt_replay_opts {
	int64_t recording_id; /* which recording (recordings.id) */
	uint64_t from_ns; /* Unix ns; blocks ending before are not read (0: from the start) */
	uint64_t to_ns; /* Unix ns; blocks starting after are not read (0: to the end) */
};

struct tt_replay_stats {
	uint64_t blocks_total; /* blocks of the recording in the index */
	uint64_t blocks_selected; /* overlapping the window */
	uint64_t blocks_read; /* of those, read and decoded */
	uint64_t blocks_warmup; /* read before the window to build its starting state */
	uint64_t blocks_damaged; /* unreadable (selected or warm-up): skipped */
	uint64_t blocks_unsynced; /* selected delta blocks skipped after damage, waiting
				   * for a keyframe block */
	uint64_t events; /* events returned (a synthesised keyframe's included) */
	uint64_t blocks_mismatch; /* read, but their index row disagrees with the frame */
	uint64_t headers_damaged; /* segment files opened whose file header is damaged: their
				   * blocks are read all the same (docs/FORMAT.md) */
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
