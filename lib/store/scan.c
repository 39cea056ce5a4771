/*
 * scan.c: see scan.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay.h"
#include "scan.h"

/* A time as the index should hold it: an integer in (0, TT_TIME_MAX]. */
#define VALID_NS(x) "(typeof(" x ") = 'integer' AND " x " > 0 AND " x " <= 4611686018427387904)"

/* The recording's blocks a reader believes (lib/replay.h), as a FROM ... WHERE clause. */
#define REC_BLOCKS                                                                               \
	" FROM blocks b JOIN segments s ON s.id = b.segment_id WHERE s.recording_id = r.id AND "   \
	TT_REPLAY_BLOCK_OK

/*
 * A recording's end: the later of its end_ns and its last block's end (only
 * times after its start count), for one that died its last block's end, for
 * one without blocks its start. The blocks are what the segments hold: an
 * end_ns before them, or more than a day after them, is not believed.
 */
#define REC_END_SQL                                                                              \
	"max(coalesce(CASE WHEN " VALID_NS("r.end_ns") " AND r.end_ns >= r.start_ns AND"          \
	" r.end_ns <= coalesce((SELECT max(b.t_end_ns)" REC_BLOCKS "), r.end_ns) +"               \
	" 86400000000000 THEN r.end_ns END, r.start_ns), coalesce((SELECT max(b.t_end_ns)"        \
	REC_BLOCKS " AND b.t_end_ns >= r.start_ns), r.start_ns))"

/*
 * A recording's start_ns is believed when it is a time, no more than a day
 * before its first block (a recorder writes its first block within a flush, at
 * most an hour: a start decades early would stretch every window over them),
 * and not after it (by more than a minute of clock slack).
 */
#define REC_START_OK                                                                             \
	"(" VALID_NS("r.start_ns") " AND r.start_ns BETWEEN coalesce((SELECT min(b.t_start_ns)"    \
	REC_BLOCKS "), r.start_ns) - 86400000000000 AND coalesce((SELECT min(b.t_start_ns)"         \
	REC_BLOCKS "), r.start_ns) + 60000000000)"

/* Whether a recordings row can be read (column 6: REC_START_OK); "" or why not, in why. */
static int rec_invalid(const struct tt_scan_rec *rec, sqlite3_stmt *q, int col_start, char *why,
		       size_t why_len)
{
	const char *what = NULL;
	int64_t v = 0;

	if (sqlite3_column_type(q, col_start) != SQLITE_INTEGER || (int64_t)rec->start_ns <= 0 ||
	    (int64_t)rec->start_ns > TT_TIME_MAX) {
		what = "start_ns";
		v = (int64_t)rec->start_ns;
	} else if (sqlite3_column_type(q, 2) != SQLITE_INTEGER ||
		   rec->mono_to_wall_ns < -TT_TIME_MAX || rec->mono_to_wall_ns > TT_TIME_MAX) {
		what = "mono_to_wall_ns";
		v = rec->mono_to_wall_ns;
	} else if (rec->rollup_ns && ((int64_t)rec->rollup_ns < 0 ||
				      rec->rollup_ns % 1000000000ull ||
				      (TT_IX_RES_MAJOR * 1000000000ull) % rec->rollup_ns)) {
		/* the periods must tile the hour, as the recorder's --bucket does */
		what = "rollup_ns";
		v = (int64_t)rec->rollup_ns;
	}
	if (!what && !sqlite3_column_int(q, 6)) {
		snprintf(why, why_len, "%s: index: recordings row %" PRId64 ": start_ns %" PRId64
			 " is not within a day before its first block", rec->dir, rec->id,
			 (int64_t)rec->start_ns);
		return 1;
	}
	if (!what)
		return 0;
	if (sqlite3_column_type(q, what[0] == 's' ? col_start : what[0] == 'm' ? 2 : 5) ==
	    SQLITE_INTEGER)
		snprintf(why, why_len, "%s: index: recordings row %" PRId64 ": %s %" PRId64
			 " is out of range", rec->dir, rec->id, what, v);
	else
		snprintf(why, why_len, "%s: index: recordings row %" PRId64 ": %s is not an integer",
			 rec->dir, rec->id, what);
	return 1;
}

int tt_scan_span(struct tt_store *st, uint64_t *start_ns, uint64_t *end_ns)
{
	sqlite3_stmt *q = NULL;
	int err = -ENODATA;

	if (sqlite3_prepare_v2(tt_store_db(st),
			       "SELECT min(r.start_ns), max(" REC_END_SQL "), min(" REC_START_OK
			       ") FROM recordings r",
			       -1, &q, NULL))
		return -EIO;
	if (sqlite3_step(q) != SQLITE_ROW) {
		err = -EIO;
	} else if (sqlite3_column_type(q, 2) != SQLITE_NULL && !sqlite3_column_int(q, 2)) {
		err = -EBADMSG; /* a start that is not a time: no span can be told */
	} else if (sqlite3_column_type(q, 0) != SQLITE_NULL) {
		*start_ns = (uint64_t)sqlite3_column_int64(q, 0);
		*end_ns = (uint64_t)sqlite3_column_int64(q, 1);
		err = 0;
	}
	sqlite3_finalize(q);
	return err;
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
		int n = snprintf(warn, warn_len, "%s: recording %" PRId64 ": %s (%" PRIu64
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

/* An address as schema 2 stores it (integer, text, NULL) into 16 bytes, v4-mapped. */
static void column_addr(sqlite3_stmt *q, int col, uint8_t a[16])
{
	memset(a, 0, 16);
	if (sqlite3_column_type(q, col) == SQLITE_INTEGER) {
		uint32_t v = (uint32_t)sqlite3_column_int64(q, col);

		a[10] = a[11] = 0xff;
		a[12] = (uint8_t)(v >> 24);
		a[13] = (uint8_t)(v >> 16);
		a[14] = (uint8_t)(v >> 8);
		a[15] = (uint8_t)v;
	} else if (sqlite3_column_type(q, col) == SQLITE_TEXT) {
		const char *t = (const char *)sqlite3_column_text(q, col);

		if (t && inet_pton(AF_INET6, t, a) != 1)
			memset(a, 0, 16);
	}
}

/*
 * Whether a rollups row (and its conns row) of scan_pieces can be read: counts
 * are not negative, offsets within the period, times times. "" or why not.
 */
static int piece_invalid(struct tt_store *st, sqlite3_stmt *q, uint64_t res_s, char *why,
			 size_t why_len)
{
	/* columns that must be integers >= 0 (NULL allowed for the ones that may be) */
	static const struct {
		int col, null_ok;
		int64_t max;
		const char *name;
	} chk[] = {
		{ 0, 0, TT_TIME_MAX / 1000000000, "t" }, { 2, 0, INT64_MAX, "ticks" },
		{ 3, 1, 0, "first_ns" },		  { 4, 1, 0, "last_ns" },
		{ 5, 1, TT_TIME_MAX, "age_ns" },	  { 8, 0, INT64_MAX, "bytes_in" },
		{ 9, 0, INT64_MAX, "bytes_out" },	  { 10, 0, INT64_MAX, "packets_in" },
		{ 11, 0, INT64_MAX, "packets_out" },	  { 12, 0, UINT32_MAX, "retrans" },
		{ 13, 0, UINT32_MAX, "resets" },	  { 16, 0, INT64_MAX, "rtt_sum_us" },
		{ 17, 0, UINT32_MAX, "rtt_n" },	  { 18, 1, UINT32_MAX, "rtt_min_us" },
		{ 19, 1, UINT32_MAX, "rtt_max_us" },	  { 33, 0, TT_TIME_MAX, "open_ns" },
	};
	size_t i;

	for (i = 0; i < sizeof(chk) / sizeof(chk[0]); i++) {
		int type = sqlite3_column_type(q, chk[i].col);
		int64_t v = sqlite3_column_int64(q, chk[i].col);
		int64_t max = chk[i].max ? chk[i].max : (int64_t)res_s * 1000000000;

		if (type == SQLITE_NULL && chk[i].null_ok)
			continue;
		if (type == SQLITE_INTEGER && v >= (chk[i].col == 33 ? 1 : 0) && v <= max)
			continue;
		if (chk[i].col == 33)
			snprintf(why, why_len, "%s: index: conns row %" PRId64 ": open_ns is not a time",
				 tt_store_dir(st), (int64_t)sqlite3_column_int64(q, 36));
		else
			snprintf(why, why_len, "%s: index: rollups row (res %" PRIu64 ", t %" PRId64
				 ", conn %" PRId64 ", part %" PRId64 "): %s is out of range",
				 tt_store_dir(st), res_s, (int64_t)sqlite3_column_int64(q, 0),
				 (int64_t)sqlite3_column_int64(q, 36),
				 (int64_t)sqlite3_column_int64(q, 1), chk[i].name);
		return 1;
	}
	return 0;
}

/* Pieces of length res_s of rec with t in [t0, t1) (Unix s), in time order. */
static int scan_pieces(struct tt_store *st, const struct tt_scan_rec *rec, uint64_t res_s,
		       uint64_t t0, uint64_t t1, const struct tt_scan_cb *cb, void *ctx,
		       struct tt_scan_stats *stats, char *why, size_t why_len)
{
	sqlite3 *db = tt_store_db(st);
	sqlite3_stmt *q = NULL;
	int rc, err = 0;

	if (t0 >= t1)
		return 0;
	if (sqlite3_prepare_v2(
		    db,
		    "SELECT o.t, o.part, o.ticks, o.first_ns, o.last_ns, o.age_ns, o.state, o.closed,"
		    " o.bytes_in, o.bytes_out, o.packets_in, o.packets_out, o.retrans, o.resets,"
		    " o.peak_rate_in, o.peak_rate_out, o.rtt_sum_us, o.rtt_n, o.rtt_min_us,"
		    " o.rtt_max_us, o.cgroup, p.pid, p.comm, c.conn_id, c.family, c.proto, c.laddr,"
		    " c.lport, c.raddr, c.rport, c.tid, c.netns, c.flags, c.open_ns, c.close_reason,"
		    " c.close_errno, o.conn FROM rollups o JOIN conns c ON c.id = o.conn"
		    " JOIN processes p ON p.id = o.process_id"
		    " WHERE o.res = ?1 AND o.t >= ?2 AND o.t < ?3 AND c.recording_id = ?4"
		    " ORDER BY o.t, o.conn, o.part",
		    -1, &q, NULL)) {
		snprintf(why, why_len, "%s: index: %s", tt_store_dir(st), sqlite3_errmsg(db));
		return -EIO;
	}
	sqlite3_bind_int64(q, 1, (int64_t)res_s);
	sqlite3_bind_int64(q, 2, (int64_t)t0);
	sqlite3_bind_int64(q, 3, (int64_t)t1);
	sqlite3_bind_int64(q, 4, rec->id);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct tt_piece p;
		struct tt_ix_piece *x = &p.sum;
		struct tt_ev_conn *c = &p.conn;
		const char *comm;
		uint64_t t_ns;
		int flags;

		if (piece_invalid(st, q, res_s, why, why_len)) {
			err = -EBADMSG;
			break;
		}
		memset(&p, 0, sizeof(p));
		x->res_s = (uint32_t)res_s;
		x->t_s = (uint64_t)sqlite3_column_int64(q, 0);
		t_ns = x->t_s * 1000000000ull;
		x->part = (uint32_t)sqlite3_column_int64(q, 1);
		x->ticks = (uint32_t)sqlite3_column_int64(q, 2);
		x->first_ns = t_ns + (uint64_t)sqlite3_column_int64(q, 3);
		x->last_ns = t_ns + (uint64_t)sqlite3_column_int64(q, 4);
		x->age_ns = (uint64_t)sqlite3_column_int64(q, 5);
		x->state = (uint8_t)sqlite3_column_int(q, 6);
		x->closed = (uint8_t)sqlite3_column_int(q, 7);
		x->bytes_in = (uint64_t)sqlite3_column_int64(q, 8);
		x->bytes_out = (uint64_t)sqlite3_column_int64(q, 9);
		x->packets_in = (uint64_t)sqlite3_column_int64(q, 10);
		x->packets_out = (uint64_t)sqlite3_column_int64(q, 11);
		x->retrans = (uint32_t)sqlite3_column_int64(q, 12);
		x->resets = (uint32_t)sqlite3_column_int64(q, 13);
		x->peak_rate_in = sqlite3_column_double(q, 14);
		x->peak_rate_out = sqlite3_column_double(q, 15);
		x->rtt_sum_us = (uint64_t)sqlite3_column_int64(q, 16);
		x->rtt_n = (uint32_t)sqlite3_column_int64(q, 17);
		x->rtt_min_us = (uint32_t)sqlite3_column_int64(q, 18);
		x->rtt_max_us = (uint32_t)sqlite3_column_int64(q, 19);
		c->cgroup = (uint64_t)sqlite3_column_int64(q, 20);
		c->tgid = (uint32_t)sqlite3_column_int64(q, 21);
		comm = (const char *)sqlite3_column_text(q, 22);
		if (comm) /* comm need not end in a NUL */
			memcpy(c->comm, comm, strnlen(comm, TT_COMM_MAX));
		c->id = (uint64_t)sqlite3_column_int64(q, 23);
		c->family = (uint8_t)sqlite3_column_int(q, 24);
		c->proto = (uint8_t)sqlite3_column_int(q, 25);
		column_addr(q, 26, c->laddr);
		c->lport = (uint16_t)sqlite3_column_int(q, 27);
		column_addr(q, 28, c->raddr);
		c->rport = (uint16_t)sqlite3_column_int(q, 29);
		c->pid = (uint32_t)sqlite3_column_int64(q, 30);
		c->netns = (uint32_t)sqlite3_column_int64(q, 31);
		flags = sqlite3_column_int(q, 32);
		c->flags = (uint8_t)((flags & 1 ? TT_CF_PARTIAL : 0) | (flags & 2 ? TT_CF_UDP_PEER : 0) |
				     (flags & 4 ? TT_CF_ACTIVE : 0) | (flags & 8 ? TT_CF_PASSIVE : 0));
		/* the tables carry CLOCK_MONOTONIC */
		c->open_ns = (uint64_t)sqlite3_column_int64(q, 33) - (uint64_t)rec->mono_to_wall_ns;
		p.close_reason = (uint8_t)sqlite3_column_int(q, 34);
		p.err = (uint16_t)sqlite3_column_int(q, 35);
		stats->pieces++;
		if ((err = cb->on_piece(ctx, rec, &p)))
			break;
	}
	if (!err && rc != SQLITE_ROW && rc != SQLITE_DONE) {
		snprintf(why, why_len, "%s: index: %s", tt_store_dir(st), sqlite3_errmsg(db));
		err = -EIO;
	}
	sqlite3_finalize(q);
	return err;
}

/* The recorder's cumulative losses at the last block of rec ending at or before ts. */
static void losses_at(struct tt_store *st, int64_t rec, uint64_t ts, struct tt_ev_loss *l)
{
	sqlite3_stmt *q = NULL;

	memset(l, 0, sizeof(*l));
	if (sqlite3_prepare_v2(tt_store_db(st),
			       "SELECT b.ring_drops, b.socks_full, b.peers_full FROM blocks b JOIN"
			       " segments s ON s.id = b.segment_id WHERE s.recording_id = ?1 AND"
			       " b.t_end_ns <= ?2 ORDER BY b.t_end_ns DESC LIMIT 1",
			       -1, &q, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(q, 1, rec);
		sqlite3_bind_int64(q, 2, (int64_t)ts);
		if (sqlite3_step(q) == SQLITE_ROW) {
			l->ring_drops = (uint64_t)sqlite3_column_int64(q, 0);
			l->socks_full = (uint64_t)sqlite3_column_int64(q, 1);
			l->peers_full = (uint64_t)sqlite3_column_int64(q, 2);
		}
	}
	sqlite3_finalize(q);
}

/* How many blocks the index holds of recording rec (0 if it cannot say). */
static uint64_t blocks_of(struct tt_store *st, int64_t rec)
{
	sqlite3_stmt *q = NULL;
	uint64_t n = 0;

	if (sqlite3_prepare_v2(tt_store_db(st),
			       "SELECT count(*) FROM blocks b JOIN segments s ON s.id = b.segment_id"
			       " WHERE s.recording_id = ?1",
			       -1, &q, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(q, 1, rec);
		if (sqlite3_step(q) == SQLITE_ROW)
			n = (uint64_t)sqlite3_column_int64(q, 0);
	}
	sqlite3_finalize(q);
	return n;
}

static uint64_t round_up(uint64_t v, uint64_t m)
{
	return v % m ? v - v % m + m : v;
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
	uint64_t a1 = round_up(from_ns, p1), b1 = to - to % p1, a2, b2;
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
	if (to > b1 && (err = scan_recording(st, rec, b1, to_ns, &e, cb, ctx, stats, warn,
					     warn_len, why, why_len)))
		return err;
	/* losses over the window, from the blocks' running totals */
	losses_at(st, rec->id, from_ns, &l0);
	losses_at(st, rec->id, to_ns ? to_ns : UINT64_MAX >> 1, &l1);
	stats->lost.ring_drops += l1.ring_drops - l0.ring_drops;
	stats->lost.socks_full += l1.socks_full - l0.socks_full;
	stats->lost.peers_full += l1.peers_full - l0.peers_full;
	return 0;
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
	/* rows the recordings cannot reach: what they hold would be left out silently */
	if (sqlite3_prepare_v2(tt_store_db(st),
			       "SELECT 'segments', id, recording_id FROM segments WHERE recording_id"
			       " NOT IN (SELECT id FROM recordings) UNION ALL SELECT 'blocks', id,"
			       " segment_id FROM blocks WHERE segment_id NOT IN (SELECT id FROM"
			       " segments) LIMIT 1",
			       -1, &q, NULL) == SQLITE_OK &&
	    sqlite3_step(q) == SQLITE_ROW && warn_len)
		snprintf(warn, warn_len, "%s: index: %s row %" PRId64 " names %s %" PRId64
			 ", which is not there: its blocks are not read (run verify, then reindex)",
			 tt_store_dir(st), (const char *)sqlite3_column_text(q, 0),
			 (int64_t)sqlite3_column_int64(q, 1),
			 sqlite3_column_text(q, 0)[0] == 's' ? "recording" : "segment",
			 (int64_t)sqlite3_column_int64(q, 2));
	sqlite3_finalize(q);
	q = NULL;
	/* every row, checked here: a filter in SQL would skip a damaged one silently */
	if (sqlite3_prepare_v2(tt_store_db(st),
			       tt_store_schema_version(st) >= 2 ?
			       "SELECT r.id, r.host, r.mono_to_wall_ns, r.start_ns, " REC_END_SQL
			       ", r.rollup_ns, " REC_START_OK ", r.boot_id FROM recordings r ORDER BY r.start_ns, r.id" :
			       "SELECT r.id, r.host, r.mono_to_wall_ns, r.start_ns, " REC_END_SQL
			       ", 0, " REC_START_OK ", r.boot_id FROM recordings r ORDER BY r.start_ns, r.id",
			       -1, &q, NULL)) {
		snprintf(why, why_len, "%s: index: %s", tt_store_dir(st),
			 sqlite3_errmsg(tt_store_db(st)));
		return -EIO;
	}
	while (!err && sqlite3_step(q) == SQLITE_ROW) {
		struct tt_scan_rec rec = {
			.dir = tt_store_dir(st),
			.host = (const char *)sqlite3_column_text(q, 1),
			.id = sqlite3_column_int64(q, 0),
			.mono_to_wall_ns = sqlite3_column_int64(q, 2),
			.start_ns = (uint64_t)sqlite3_column_int64(q, 3),
			.end_ns = (uint64_t)sqlite3_column_int64(q, 4),
			.rollup_ns = (uint64_t)sqlite3_column_int64(q, 5),
			.boot_id = (const char *)sqlite3_column_text(q, 7),
		};
		int done = 0;

		if (rec_invalid(&rec, q, 3, why, why_len)) {
			err = -EBADMSG;
			break;
		}
		if (rec.start_ns > (to_ns ? to_ns : UINT64_MAX) || rec.end_ns < from_ns)
			continue;
		stats->recordings++;
		if (cb->on_piece && rec.rollup_ns)
			err = scan_rolled(st, &rec, from_ns, to_ns, cb, ctx, stats, warn, warn_len,
					  why, why_len, &done);
		if (!err && !done)
			err = scan_recording(st, &rec, from_ns, to_ns, NULL, cb, ctx, stats, warn,
					     warn_len, why, why_len);
	}
	sqlite3_finalize(q);
	return err;
}
