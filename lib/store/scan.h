/*
 * scan.h: the analyzer's one loop. For every recording of a store that
 * overlaps a window: replay its blocks (only those the window needs, picked by
 * the index, from the last keyframe before it: lib/replay.h) through a fresh
 * aggregator, and hand each event and each tick's table to the caller. Commands differ only in what
 * they do with the tables.
 */
#ifndef TT_SCAN_H
#define TT_SCAN_H

#include <stddef.h>
#include <stdint.h>

#include "aggregator.h"
#include "indexer.h"
#include "store.h"

/* The recording being scanned. */
struct tt_scan_rec {
	const char *dir; /* the store */
	const char *host; /* recordings.host */
	int64_t id; /* recordings.id */
	int64_t mono_to_wall_ns; /* CLOCK_MONOTONIC -> Unix ns */
	uint64_t start_ns; /* Unix ns */
	uint64_t end_ns; /* Unix ns; for a recording that died, its last block's end */
	uint64_t rollup_ns; /* its minor rollup length; 0: it has no rollups */
	const char *boot_id; /* recordings.boot_id: which boot its cgroup ids belong to */
};

struct tt_scan_cb {
	/* A recording starts (before its first event). May be NULL. */
	int (*on_recording)(void *ctx, const struct tt_scan_rec *rec);
	/* Every event but TICK, after the aggregator applied it. May be NULL. */
	int (*on_event)(void *ctx, const struct tt_scan_rec *rec, const struct tt_event *ev,
			const struct tt_agg *agg);
	/* Every tick's table. May be NULL. */
	int (*on_table)(void *ctx, const struct tt_scan_rec *rec, const struct tt_table *t,
			const struct tt_agg *agg);
	/* Blocks read so far of those selected, after each tick. May be NULL. */
	void (*on_progress)(void *ctx, uint64_t done, uint64_t total);
	void *progress_ctx; /* on_progress's ctx; NULL: the scan's ctx */
	/*
	 * Rollup pieces (lib/indexer.h). May be NULL. When set, the whole rollup
	 * periods inside the window of a recording that has rollups come as
	 * pieces, in time order, instead of as tables: on_table and on_event then
	 * only get what ends in the window's partial first and last period (before
	 * and after the pieces). For callers whose answer is built from sums,
	 * maxima and last values of active ticks (lib/report.h), which is the same
	 * either way, and much cheaper over hours.
	 */
	int (*on_piece)(void *ctx, const struct tt_scan_rec *rec, const struct tt_piece *p);
};

struct tt_scan_stats {
	uint64_t recordings; /* overlapping the window */
	uint64_t blocks_total; /* of those recordings */
	uint64_t blocks_selected; /* overlapping the window: the ones read */
	uint64_t blocks_read;
	uint64_t blocks_warmup; /* read before the window, to the aggregator only: the
				 * state at its start (from the last keyframe block) */
	uint64_t blocks_damaged; /* unreadable: skipped */
	uint64_t blocks_unsynced; /* intact delta blocks skipped after damage, until the
				   * next keyframe block */
	uint64_t events;
	uint64_t headers_damaged; /* segment files read whose file header is damaged (their
				   * blocks read all the same) */
	uint64_t ticks;
	uint64_t pieces; /* rollup pieces read instead of ticks */
	struct tt_ev_loss lost; /* the recorder's losses during the blocks read, summed
				 * over recordings: numbers in the answer may be short */
};

/*
 * Scan st over [from_ns, to_ns] (Unix ns; to_ns 0 = no end). Callbacks return
 * 0 to go on; a non-zero return stops the scan and is returned. Stats add up
 * into *stats (may be NULL). A warning about skipped damage goes to warn (may
 * be empty). On failure a negative errno and why.
 */
int tt_scan(struct tt_store *st, uint64_t from_ns, uint64_t to_ns, const struct tt_scan_cb *cb,
	    void *ctx, struct tt_scan_stats *stats, char *warn, size_t warn_len, char *why,
	    size_t why_len);

/*
 * The store's first start and last end (Unix ns); 0, or -ENODATA for an empty
 * store, -EBADMSG when a recordings row's start_ns is not a time (a damaged index).
 */
int tt_scan_span(struct tt_store *st, uint64_t *start_ns, uint64_t *end_ns);

#endif /* TT_SCAN_H */
