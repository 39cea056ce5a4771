/*
 * scan.c: see scan.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "idxcheck.h"
#include "replay.h"
#include "scan.h"

/*
 * Whether a recordings row can be read: start_ns and mono_to_wall_ns integers
 * in range, rollup periods that tile the hour, a start believed
 * (tt_store_rec.start_ok). 0, or 1 and why not.
 */
static int rec_invalid(const struct tt_scan_rec *rec, const struct tt_store_rec *row, char *why,
		       size_t why_len)
{
	const char *what = NULL;
	unsigned col = 0;
	int64_t v = 0;

	if (!(row->ints & TT_REC_INT_START) || (int64_t)rec->start_ns <= 0 ||
	    (int64_t)rec->start_ns > TT_TIME_MAX) {
		what = "start_ns";
		col = TT_REC_INT_START;
		v = (int64_t)rec->start_ns;
	} else if (!(row->ints & TT_REC_INT_M2W) || rec->mono_to_wall_ns < -TT_TIME_MAX ||
		   rec->mono_to_wall_ns > TT_TIME_MAX) {
		what = "mono_to_wall_ns";
		col = TT_REC_INT_M2W;
		v = rec->mono_to_wall_ns;
	} else if (rec->rollup_ns &&
		   ((int64_t)rec->rollup_ns < 0 || rec->rollup_ns % 1000000000ull ||
		    (TT_IX_RES_MAJOR * 1000000000ull) % rec->rollup_ns)) {
		/* the periods must tile the hour, as the recorder's --bucket does */
		what = "rollup_ns";
		col = TT_REC_INT_ROLLUP;
		v = (int64_t)rec->rollup_ns;
	}
	if (!what && !row->start_ok) {
		snprintf(why, why_len,
			 "%s: index: recordings row %" PRId64 ": start_ns %" PRId64
			 " is not within a day before its first block",
			 rec->dir, rec->id, (int64_t)rec->start_ns);
		return 1;
	}
	if (!what)
		return 0;
	if (row->ints & col)
		snprintf(why, why_len,
			 "%s: index: recordings row %" PRId64 ": %s %" PRId64 " is out of range",
			 rec->dir, rec->id, what, v);
	else
		snprintf(why, why_len,
			 "%s: index: recordings row %" PRId64 ": %s is not an integer", rec->dir,
			 rec->id, what);
	return 1;
}

int tt_scan_span(struct tt_store *st, uint64_t *start_ns, uint64_t *end_ns)
{
	struct tt_store_span sp;

	if (tt_store_recordings_span(st, &sp))
		return -EIO;
	if (sp.start_bad)
		return -EBADMSG; /* a start that is not a time: no span can be told */
	if (!sp.has_start)
		return -ENODATA;
	*start_ns = (uint64_t)sp.start_ns;
	*end_ns = (uint64_t)sp.end_ns;
	return 0;
}

/*
 * Replay rec's blocks over [from_ns, to_ns]. With edge, only what ends in
 * (edge->lo, edge->hi] reaches the callbacks, and losses are left to the
 * caller (it counts them for the whole window at once).
 */
struct edge {
	uint64_t lo, hi; /* Unix ns */
};

static int in_edge(const struct edge *e, const struct tt_scan_rec *rec, uint64_t mono)
{
	uint64_t ts = tt_wall_ns(mono, rec->mono_to_wall_ns);

	return !e || (ts > e->lo && ts <= e->hi);
}

static int scan_recording(struct tt_store *st, const struct tt_scan_rec *rec, uint64_t from_ns,
			  uint64_t to_ns, const struct edge *edge, const struct tt_scan_cb *cb,
			  void *ctx, struct tt_scan_stats *stats, char *warn, size_t warn_len,
			  char *why, size_t why_len)
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
	if (!edge && cb->on_recording && (err = cb->on_recording(ctx, rec)))
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
			if (cb->on_event && in_edge(edge, rec, ev.ts_ns) &&
			    (err = cb->on_event(ctx, rec, &ev, agg)))
				break;
			continue;
		}
		if (!in_edge(edge, rec, ev.ts_ns)) {
			err = 0;
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
	if (!edge) /* scan_rolled counts the recording's blocks once */
		stats->blocks_total += rs->blocks_total;
	stats->blocks_selected += rs->blocks_selected;
	stats->blocks_read += rs->blocks_read;
	stats->blocks_warmup += rs->blocks_warmup;
	stats->blocks_damaged += rs->blocks_damaged;
	stats->blocks_unsynced += rs->blocks_unsynced;
	stats->events += rs->events;
	stats->headers_damaged += rs->headers_damaged;
	if (have_base && !edge) {
		stats->lost.ring_drops += last.ring_drops - base.ring_drops;
		stats->lost.socks_full += last.socks_full - base.socks_full;
		stats->lost.peers_full += last.peers_full - base.peers_full;
	}
	if (tt_replay_warning(rp) && warn_len) {
		int n = snprintf(warn, warn_len,
				 "%s: recording %" PRId64 ": %s (%" PRIu64
				 " damaged blocks skipped",
				 rec->dir, rec->id, tt_replay_warning(rp), rs->blocks_damaged);

		if (!rs->blocks_damaged && !rs->blocks_unsynced)
			snprintf(warn, warn_len, "%s: recording %" PRId64 ": %s", rec->dir, rec->id,
				 tt_replay_warning(rp));
		else if (n >= 0 && (size_t)n < warn_len && rs->blocks_unsynced)
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

/* ---- rollups ----------------------------------------------------------------- */

/* A piece from the index, to the caller's on_piece. */
struct piece_fwd {
	const struct tt_scan_rec *rec;
	const struct tt_scan_cb *cb;
	void *ctx;
	struct tt_scan_stats *stats;
	int stopped; /* on_piece returned non-zero */
};

static int fwd_piece(void *ctx, const struct tt_piece *p)
{
	struct piece_fwd *f = ctx;
	int err;

	f->stats->pieces++;
	err = f->cb->on_piece(f->ctx, f->rec, p);
	f->stopped = err != 0;
	return err;
}

/* Pieces of length res_s of rec with t in [t0, t1) (Unix s), in time order. */
static int scan_pieces(struct tt_store *st, const struct tt_scan_rec *rec, uint64_t res_s,
		       uint64_t t0, uint64_t t1, const struct tt_scan_cb *cb, void *ctx,
		       struct tt_scan_stats *stats, char *why, size_t why_len)
{
	struct piece_fwd f = { .rec = rec, .cb = cb, .ctx = ctx, .stats = stats };
	int err;

	if (t0 >= t1)
		return 0;
	err = tt_store_each_piece(st, rec->id, rec->mono_to_wall_ns, res_s, t0, t1, fwd_piece, &f);
	if (err && !f.stopped)
		snprintf(why, why_len, "%s: index: %s", tt_store_dir(st), tt_store_errmsg(st));
	return err;
}

/* The recorder's cumulative losses at the last block of rec ending at or before ts. */
static void losses_at(struct tt_store *st, int64_t rec, uint64_t ts, struct tt_ev_loss *l)
{
	tt_store_losses_at(st, rec, ts, l); /* zeros when the index cannot say */
}

/* How many blocks the index holds of recording rec (0 if it cannot say). */
static uint64_t blocks_of(struct tt_store *st, int64_t rec)
{
	struct tt_store_block_count c;

	tt_store_count_blocks(st, rec, &c);
	return c.total;
}

static uint64_t round_up(uint64_t v, uint64_t m)
{
	return v % m ? v - v % m + m : v;
}

/*
 * Minor periods [a, b) and [c, d) (Unix ns) were read: each hour they touch is
 * compared with its hour rows (at most two hours: an aggregate of their minor
 * periods). A disagreement is a warning, the first one.
 */
static void check_hours(struct tt_store *st, const struct tt_scan_rec *rec, uint64_t a, uint64_t b,
			uint64_t c, uint64_t d, char *warn, size_t warn_len)
{
	const uint64_t h = TT_IX_RES_MAJOR * 1000000000ull;
	uint64_t hours[4] = { a - a % h, (b - 1) - (b - 1) % h, c - c % h, (d - 1) - (d - 1) % h };
	int i, j;

	for (i = 0; i < 4; i++) {
		if ((i < 2 && a >= b) || (i >= 2 && c >= d))
			continue;
		for (j = 0; j < i && hours[j] != hours[i]; j++)
			;
		if (j < i && !((j < 2 && a >= b) || (j >= 2 && c >= d)))
			continue; /* compared already */
		if (tt_check_hour(st, rec->id, rec->rollup_ns / 1000000000ull,
				  hours[i] / 1000000000ull, warn, warn_len))
			return;
	}
}

/*
 * The window (from_ns, to_ns] of rec as: the ticks ending in its partial first
 * minor period, the pieces of the whole periods (hours where whole hours fit,
 * minor periods around them), the ticks ending in its partial last period.
 * *done stays 0 when the window holds no whole minor period (the caller replays).
 */
static int scan_rolled(struct tt_store *st, const struct tt_scan_rec *rec, uint64_t from_ns,
		       uint64_t to_ns, const struct tt_scan_cb *cb, void *ctx,
		       struct tt_scan_stats *stats, char *warn, size_t warn_len, char *why,
		       size_t why_len, int *done)
{
	const uint64_t s = 1000000000ull, p1 = rec->rollup_ns, p2 = TT_IX_RES_MAJOR * s;
	/* past the recording, nothing ends: the last period needs no edge */
	uint64_t to = to_ns && to_ns < rec->end_ns ? to_ns : round_up(rec->end_ns + 1, p1);
	uint64_t a1 = round_up(from_ns, p1), b1 = to - to % p1, a2, b2, au;
	struct tt_ev_loss l0, l1;
	struct edge e;
	int err;

	if (a1 >= b1)
		return 0;
	*done = 1;
	stats->blocks_total += blocks_of(st, rec->id);
	if (cb->on_recording && (err = cb->on_recording(ctx, rec)))
		return err;
	e = (struct edge){ from_ns, a1 };
	if (a1 > from_ns && (err = scan_recording(st, rec, from_ns, a1, &e, cb, ctx, stats, warn,
						  warn_len, why, why_len)))
		return err;
	a2 = round_up(a1, p2);
	b2 = b1 - b1 % p2;
	if (a2 < b2) {
		if ((err = scan_pieces(st, rec, p1 / s, a1 / s, a2 / s, cb, ctx, stats, why,
				       why_len)) ||
		    (err = scan_pieces(st, rec, p2 / s, a2 / s, b2 / s, cb, ctx, stats, why,
				       why_len)) ||
		    (err = scan_pieces(st, rec, p1 / s, b2 / s, b1 / s, cb, ctx, stats, why,
				       why_len)))
			return err;
	} else if ((err = scan_pieces(st, rec, p1 / s, a1 / s, b1 / s, cb, ctx, stats, why,
				      why_len))) {
		return err;
	}
	e = (struct edge){ b1, to_ns ? to_ns : UINT64_MAX };
	if (to > b1 && (err = scan_recording(st, rec, b1, to_ns, &e, cb, ctx, stats, warn, warn_len,
					     why, why_len)))
		return err;
	/* the hours whose minor periods were read, against the hours' own rows */
	if (warn_len && !warn[0])
		check_hours(st, rec, a1, a2 < b2 ? a2 : b1, a2 < b2 ? b2 : b1, b1, warn, warn_len);
	/*
	 * and the first minor period of the recording read against its blocks
	 * (audit.h), with its hour when that was read as a whole: rows that agree
	 * with each other but not with the traffic are said too
	 */
	au = a1 > rec->start_ns - rec->start_ns % p1 ? a1 : rec->start_ns - rec->start_ns % p1;
	if (warn_len && !warn[0] && au + p1 <= b1) {
		char aw[256];

		err = tt_audit_period(st, rec->id, rec->mono_to_wall_ns, p1 / s, au / s, aw,
				      sizeof(aw));
		if (err == 1)
			snprintf(warn, warn_len,
				 "%s: index: the rollups disagree with the blocks (%s): answers "
				 "read from them may be wrong (run verify, then reindex)",
				 tt_store_dir(st), aw);
		else if (!err && au >= a2 && au < b2)
			tt_check_hour(st, rec->id, p1 / s, (au - au % p2) / s, warn, warn_len);
	}
	/* losses over the window, from the blocks' running totals */
	losses_at(st, rec->id, from_ns, &l0);
	losses_at(st, rec->id, to_ns ? to_ns : UINT64_MAX >> 1, &l1);
	stats->lost.ring_drops += l1.ring_drops - l0.ring_drops;
	stats->lost.socks_full += l1.socks_full - l0.socks_full;
	stats->lost.peers_full += l1.peers_full - l0.peers_full;
	return 0;
}

/* A recording from the index, to be scanned. */
struct scan_run {
	struct tt_store *st;
	uint64_t from_ns, to_ns;
	const struct tt_scan_cb *cb;
	void *ctx;
	struct tt_scan_stats *stats;
	char *warn, *why;
	size_t warn_len, why_len;
	int stopped; /* the scan stopped itself (a callback, a damaged row): why is said */
};

static int scan_one(void *arg, const struct tt_store_rec *row)
{
	struct scan_run *sr = arg;
	struct tt_scan_rec rec = {
		.dir = tt_store_dir(sr->st),
		.host = row->host,
		.id = row->id,
		.mono_to_wall_ns = row->mono_to_wall_ns,
		.start_ns = (uint64_t)row->start_ns,
		.end_ns = (uint64_t)row->span_end_ns,
		.rollup_ns = (uint64_t)row->rollup_ns,
		.boot_id = row->boot_id,
	};
	int done = 0, err = 0;

	if (rec_invalid(&rec, row, sr->why, sr->why_len)) {
		sr->stopped = 1;
		return -EBADMSG;
	}
	if (rec.start_ns > (sr->to_ns ? sr->to_ns : UINT64_MAX) || rec.end_ns < sr->from_ns)
		return 0;
	sr->stats->recordings++;
	if (sr->cb->on_piece && rec.rollup_ns)
		err = scan_rolled(sr->st, &rec, sr->from_ns, sr->to_ns, sr->cb, sr->ctx, sr->stats,
				  sr->warn, sr->warn_len, sr->why, sr->why_len, &done);
	if (!err && !done)
		err = scan_recording(sr->st, &rec, sr->from_ns, sr->to_ns, NULL, sr->cb, sr->ctx,
				     sr->stats, sr->warn, sr->warn_len, sr->why, sr->why_len);
	sr->stopped = err != 0;
	return err;
}

int tt_scan(struct tt_store *st, uint64_t from_ns, uint64_t to_ns, const struct tt_scan_cb *cb,
	    void *ctx, struct tt_scan_stats *stats, char *warn, size_t warn_len, char *why,
	    size_t why_len)
{
	struct tt_scan_stats local = { 0 };
	struct scan_run sr = { .st = st,
			       .from_ns = from_ns,
			       .to_ns = to_ns,
			       .cb = cb,
			       .ctx = ctx,
			       .warn = warn,
			       .why = why,
			       .warn_len = warn_len,
			       .why_len = why_len };
	const char *table;
	int64_t id, names;
	int err;

	if (!stats)
		stats = &local;
	sr.stats = stats;
	why[0] = '\0';
	/* rows the recordings cannot reach: what they hold would be left out silently */
	if (tt_store_find_orphan(st, &table, &id, &names) == 1 && warn_len)
		snprintf(warn, warn_len,
			 "%s: index: %s row %" PRId64 " names %s %" PRId64
			 ", which is not there: its blocks are not read (run verify, then reindex)",
			 tt_store_dir(st), table, id, table[0] == 's' ? "recording" : "segment",
			 names);
	/* rollups rows under a key no query selects would be left out silently: said */
	if (cb->on_piece && tt_store_schema_version(st) >= 2) {
		char kw[512];

		err = tt_check_rollup_keys(st, kw, sizeof(kw));
		if (err == -EBADMSG && warn_len && !warn[0])
			snprintf(warn, warn_len, "%s", kw);
		else if (err && err != -EBADMSG) {
			snprintf(why, why_len, "%s", kw);
			return err;
		}
	}
	/* every row, checked here: a filter in SQL would skip a damaged one silently */
	err = tt_store_each_recording(st, TT_REC_BY_START | TT_REC_BELIEF, scan_one, &sr);
	if (err && !sr.stopped)
		snprintf(why, why_len, "%s: index: %s", tt_store_dir(st), tt_store_errmsg(st));
	return err;
}
