/*
 * scan.c: see scan.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay.h"
#include "scan.h"

/* A recording's end: its end_ns, or for one that died, its last block's end. */
#define REC_END_SQL                                                                              \
	"coalesce(r.end_ns, (SELECT max(b.t_end_ns) FROM blocks b JOIN segments s ON"            \
	" s.id = b.segment_id WHERE s.recording_id = r.id), r.start_ns)"

int tt_scan_span(struct tt_store *st, uint64_t *start_ns, uint64_t *end_ns)
{
	sqlite3_stmt *q = NULL;
	int err = -ENODATA;

	if (sqlite3_prepare_v2(tt_store_db(st),
			       "SELECT min(r.start_ns), max(" REC_END_SQL ") FROM recordings r", -1,
			       &q, NULL))
		return -EIO;
	if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_type(q, 0) != SQLITE_NULL) {
		*start_ns = (uint64_t)sqlite3_column_int64(q, 0);
		*end_ns = (uint64_t)sqlite3_column_int64(q, 1);
		err = 0;
	}
	sqlite3_finalize(q);
	return err;
}

static int scan_recording(struct tt_store *st, const struct tt_scan_rec *rec, uint64_t from_ns,
			  uint64_t to_ns, const struct tt_scan_cb *cb, void *ctx,
			  struct tt_scan_stats *stats, char *warn, size_t warn_len, char *why,
			  size_t why_len)
{
	struct tt_replay_opts ro = { .recording_id = rec->id, .from_ns = from_ns, .to_ns = to_ns };
	const struct tt_replay_stats *rs;
	struct tt_replay *rp = NULL;
	struct tt_agg *agg = tt_agg_new();
	struct tt_source *src;
	struct tt_event ev;
	struct tt_ev_loss base = { 0 }, last = { 0 };
	int have_base = 0, err;

	if (!agg) {
		snprintf(why, why_len, "out of memory");
		return -ENOMEM;
	}
	err = tt_replay_open(st, &ro, &rp, why, why_len);
	if (err)
		goto out;
	rs = tt_replay_stats(rp);
	src = tt_replay_source(rp);
	if (cb->on_recording && (err = cb->on_recording(ctx, rec)))
		goto out;
	while ((err = tt_source_next(src, &ev)) > 0) {
		err = tt_agg_feed(agg, &ev);
		if (err < 0) {
			snprintf(why, why_len, "out of memory");
			break;
		}
		if (err == 0 && ev.type == TT_EV_LOSS) {
			/* the first block's keyframe is the baseline: what was lost
			 * before the blocks read is not this answer's loss */
			if (!have_base) {
				base = ev.loss;
				have_base = 1;
			}
			last = ev.loss;
		}
		if (err == 0) {
			if (cb->on_event && (err = cb->on_event(ctx, rec, &ev, agg)))
				break;
			continue;
		}
		stats->ticks++;
		if (cb->on_table && (err = cb->on_table(ctx, rec, tt_agg_table(agg), agg)))
			break;
		if (cb->on_progress)
			cb->on_progress(cb->progress_ctx ? cb->progress_ctx : ctx,
					stats->blocks_read + rs->blocks_read,
					stats->blocks_selected + rs->blocks_selected);
	}
	if (err < 0 && !why[0])
		snprintf(why, why_len, "%s", src->errmsg(src));
	stats->blocks_total += rs->blocks_total;
	stats->blocks_selected += rs->blocks_selected;
	stats->blocks_read += rs->blocks_read;
	stats->blocks_warmup += rs->blocks_warmup;
	stats->blocks_damaged += rs->blocks_damaged;
	stats->blocks_unsynced += rs->blocks_unsynced;
	stats->events += rs->events;
	if (have_base) {
		stats->lost.ring_drops += last.ring_drops - base.ring_drops;
		stats->lost.socks_full += last.socks_full - base.socks_full;
		stats->lost.peers_full += last.peers_full - base.peers_full;
	}
	if (tt_replay_warning(rp) && warn_len) {
		int n = snprintf(warn, warn_len, "%s: recording %" PRId64 ": %s (%" PRIu64
				 " damaged blocks skipped",
				 rec->dir, rec->id, tt_replay_warning(rp), rs->blocks_damaged);

		if (n >= 0 && (size_t)n < warn_len && rs->blocks_unsynced)
			snprintf(warn + n, warn_len - (size_t)n,
				 ", and %" PRIu64 " intact blocks after the damage, up to the next "
				 "keyframe)",
				 rs->blocks_unsynced);
		else if (n >= 0 && (size_t)n < warn_len)
			snprintf(warn + n, warn_len - (size_t)n, ")");
	}
out:
	tt_replay_close(rp);
	tt_agg_free(agg);
	return err;
}

int tt_scan(struct tt_store *st, uint64_t from_ns, uint64_t to_ns, const struct tt_scan_cb *cb,
	    void *ctx, struct tt_scan_stats *stats, char *warn, size_t warn_len, char *why,
	    size_t why_len)
{
	struct tt_scan_stats local = { 0 };
	sqlite3_stmt *q = NULL;
	int err = 0;

	if (!stats)
		stats = &local;
	why[0] = '\0';
	if (sqlite3_prepare_v2(tt_store_db(st),
			       "SELECT r.id, r.host, r.mono_to_wall_ns, r.start_ns, " REC_END_SQL
			       " FROM recordings r WHERE r.start_ns <= ?2 AND " REC_END_SQL " >= ?1"
			       " ORDER BY r.start_ns, r.id",
			       -1, &q, NULL)) {
		snprintf(why, why_len, "%s: index: %s", tt_store_dir(st),
			 sqlite3_errmsg(tt_store_db(st)));
		return -EIO;
	}
	sqlite3_bind_int64(q, 1, (int64_t)from_ns);
	sqlite3_bind_int64(q, 2, to_ns ? (int64_t)to_ns : INT64_MAX);
	while (!err && sqlite3_step(q) == SQLITE_ROW) {
		struct tt_scan_rec rec = {
			.dir = tt_store_dir(st),
			.host = (const char *)sqlite3_column_text(q, 1),
			.id = sqlite3_column_int64(q, 0),
			.mono_to_wall_ns = sqlite3_column_int64(q, 2),
			.start_ns = (uint64_t)sqlite3_column_int64(q, 3),
			.end_ns = (uint64_t)sqlite3_column_int64(q, 4),
		};

		stats->recordings++;
		err = scan_recording(st, &rec, from_ns, to_ns, cb, ctx, stats, warn, warn_len, why,
				     why_len);
	}
	sqlite3_finalize(q);
	return err;
}
