/*
 * store_read.c: the read side of store.h: every query a reader runs on the
 * index, so the SQLite handle never leaves the store module. The values are
 * returned as the index holds them; the callers check their ranges.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "idxcheck.h"
#include "store.h"
#include "store_int.h"

/* SQLite's message for the failure of rc; returns a negative errno. */
static int read_fail(struct tt_store *s, int rc)
{
	return tt_store_fail(s, (rc & 0xff) == SQLITE_NOMEM ? -ENOMEM : -EIO, "%s",
			     sqlite3_errmsg(tt_store_sqlite(s)));
}

static int prepare(struct tt_store *s, const char *sql, sqlite3_stmt **q)
{
	int rc = sqlite3_prepare_v2(tt_store_sqlite(s), sql, -1, q, NULL);

	return rc == SQLITE_OK ? 0 : read_fail(s, rc);
}

/* The end of stepping q: 0 when it ran out of rows, else the failure. */
static int step_done(struct tt_store *s, int rc)
{
	return rc == SQLITE_DONE ? 0 : read_fail(s, rc);
}

static const char *text(sqlite3_stmt *q, int col)
{
	return (const char *)sqlite3_column_text(q, col);
}

/* A time as the index should hold it: an integer in (0, TT_TIME_MAX]. */
#define VALID_NS(x) "(typeof(" x ") = 'integer' AND " x " > 0 AND " x " <= 4611686018427387904)"

/* The recording's blocks a reader believes, as a FROM ... WHERE clause. */
#define REC_BLOCKS                                                                                 \
	" FROM blocks b JOIN segments s ON s.id = b.segment_id WHERE s.recording_id = r.id AND " TT_REPLAY_BLOCK_OK

/* tt_store_rec.span_end_ns */
#define REC_END_SQL                                                                                                       \
	"max(coalesce(CASE WHEN " VALID_NS(                                                                               \
		"r.end_ns") " AND r.end_ns >= r.start_ns AND"                                                             \
			    " r.end_ns <= coalesce((SELECT max(b.t_end_ns)" REC_BLOCKS                                    \
			    "), r.end_ns) +"                                                                              \
			    " 86400000000000 THEN r.end_ns END, r.start_ns), coalesce((SELECT max(b.t_end_ns)" REC_BLOCKS \
			    " AND b.t_end_ns >= r.start_ns), r.start_ns))"

/* tt_store_rec.start_ok */
#define REC_START_OK                                                                                              \
	"(" VALID_NS(                                                                                             \
		"r.start_ns") " AND r.start_ns BETWEEN coalesce((SELECT min(b.t_start_ns)" REC_BLOCKS             \
			      "), r.start_ns) - 86400000000000 AND coalesce((SELECT min(b.t_start_ns)" REC_BLOCKS \
			      "), r.start_ns) + 60000000000)"

/* Every recording (all), or recording id alone. */
static int recordings(struct tt_store *s, int all, int64_t id, unsigned flags,
		      int (*fn)(void *ctx, const struct tt_store_rec *r), void *ctx)
{
	sqlite3_stmt *q = NULL;
	char sql[4096];
	int rc = SQLITE_DONE, err, n = 0;

	snprintf(sql, sizeof(sql),
		 "SELECT r.id, r.host, r.kernel, r.boot_id, r.options, r.tool_version, r.start_ns,"
		 " r.end_ns, r.clean_stop, r.mono_to_wall_ns, %s, %s, %s, r.bucket_ns, %s"
		 " FROM recordings r WHERE ?1 OR r.id = ?2 ORDER BY %s",
		 tt_store_schema_version(s) >= 2 ? "r.rollup_ns" : "0",
		 flags & TT_REC_SEG_END ? "(SELECT max(s.t_end_ns) FROM segments s"
					  " WHERE s.recording_id = r.id)"
					: "0",
		 flags & TT_REC_BELIEF ? REC_END_SQL ", " REC_START_OK : "0, 0",
		 flags & TT_REC_BLOCKS_END ? "(SELECT max(b.t_end_ns) FROM blocks b JOIN segments s"
					     " ON s.id = b.segment_id WHERE s.recording_id = r.id)"
					   : "NULL",
		 flags & TT_REC_BY_START ? "r.start_ns, r.id" : "r.id");
	if ((err = prepare(s, sql, &q)))
		return err;
	sqlite3_bind_int(q, 1, all);
	sqlite3_bind_int64(q, 2, id);
	while (!err && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct tt_store_rec r = {
			.id = sqlite3_column_int64(q, 0),
			.host = text(q, 1),
			.kernel = text(q, 2),
			.boot_id = text(q, 3),
			.options = text(q, 4),
			.tool_version = text(q, 5),
			.start_ns = sqlite3_column_int64(q, 6),
			.end_ns = sqlite3_column_int64(q, 7),
			.has_end = sqlite3_column_type(q, 7) != SQLITE_NULL,
			.clean_stop = sqlite3_column_int(q, 8),
			.mono_to_wall_ns = sqlite3_column_int64(q, 9),
			.rollup_ns = sqlite3_column_int64(q, 10),
			.seg_end_ns = sqlite3_column_int64(q, 11),
			.span_end_ns = sqlite3_column_int64(q, 12),
			.start_ok = sqlite3_column_int(q, 13),
			.bucket_ns = sqlite3_column_int64(q, 14),
			.blocks_end_ns = sqlite3_column_int64(q, 15),
			.has_blocks_end = sqlite3_column_type(q, 15) != SQLITE_NULL,
		};

		if (sqlite3_column_type(q, 6) == SQLITE_INTEGER)
			r.ints |= TT_REC_INT_START;
		if (sqlite3_column_type(q, 9) == SQLITE_INTEGER)
			r.ints |= TT_REC_INT_M2W;
		if (sqlite3_column_type(q, 10) == SQLITE_INTEGER)
			r.ints |= TT_REC_INT_ROLLUP;
		n++;
		err = fn(ctx, &r);
	}
	if (!err)
		err = step_done(s, rc);
	if (!err && !all && !n)
		err = tt_store_fail(s, -ENOENT, "no recording %" PRId64, id);
	sqlite3_finalize(q);
	return err;
}

int tt_store_each_recording(struct tt_store *s, unsigned flags,
			    int (*fn)(void *ctx, const struct tt_store_rec *r), void *ctx)
{
	return recordings(s, 1, 0, flags, fn, ctx);
}

int tt_store_recording(struct tt_store *s, int64_t id, unsigned flags,
		       int (*fn)(void *ctx, const struct tt_store_rec *r), void *ctx)
{
	return recordings(s, 0, id, flags, fn, ctx);
}

int tt_store_recordings_span(struct tt_store *s, struct tt_store_span *sp)
{
	sqlite3_stmt *q = NULL;
	int rc, err;

	memset(sp, 0, sizeof(*sp));
	err = prepare(s,
		      "SELECT min(r.start_ns), max(" REC_END_SQL "), min(" REC_START_OK
		      ") FROM recordings r",
		      &q);
	if (err)
		return err;
	rc = sqlite3_step(q);
	if (rc != SQLITE_ROW) {
		err = read_fail(s, rc);
	} else {
		sp->start_bad =
			sqlite3_column_type(q, 2) != SQLITE_NULL && !sqlite3_column_int(q, 2);
		sp->has_start = sqlite3_column_type(q, 0) != SQLITE_NULL;
		sp->start_ns = sqlite3_column_int64(q, 0);
		sp->end_ns = sqlite3_column_int64(q, 1);
	}
	sqlite3_finalize(q);
	return err;
}

int tt_store_find_orphan(struct tt_store *s, const char **table, int64_t *id, int64_t *names)
{
	sqlite3_stmt *q = NULL;
	int rc, err;

	err = prepare(s,
		      "SELECT 'segments', id, recording_id FROM segments WHERE recording_id"
		      " NOT IN (SELECT id FROM recordings) UNION ALL SELECT 'blocks', id,"
		      " segment_id FROM blocks WHERE segment_id NOT IN (SELECT id FROM"
		      " segments) LIMIT 1",
		      &q);
	if (err)
		return err;
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		*table = text(q, 0)[0] == 's' ? "segments" : "blocks";
		*id = sqlite3_column_int64(q, 1);
		*names = sqlite3_column_int64(q, 2);
		err = 1;
	} else {
		err = step_done(s, rc);
	}
	sqlite3_finalize(q);
	return err;
}

int tt_store_totals(struct tt_store *s, struct tt_store_totals *t)
{
	sqlite3_stmt *q = NULL;
	int rc = SQLITE_DONE, err;

	err = prepare(s,
		      "SELECT (SELECT count(*) FROM segments), (SELECT count(*) FROM segments"
		      " WHERE sealed), (SELECT count(*) FROM blocks), (SELECT count(*) FROM"
		      " connections), (SELECT min(t_start_ns) FROM blocks), (SELECT"
		      " max(t_end_ns) FROM blocks), (SELECT coalesce(sum(raw_length),0) FROM"
		      " blocks), (SELECT coalesce(sum(length),0) FROM blocks),"
		      " (SELECT coalesce(sum(d), 0) FROM (SELECT max(b.ring_drops) AS d FROM"
		      "  blocks b JOIN segments s ON s.id = b.segment_id GROUP BY"
		      "  s.recording_id)),"
		      " (SELECT coalesce(sum(d), 0) FROM (SELECT max(b.socks_full) AS d FROM"
		      "  blocks b JOIN segments s ON s.id = b.segment_id GROUP BY"
		      "  s.recording_id)),"
		      " (SELECT coalesce(sum(d), 0) FROM (SELECT max(b.peers_full) AS d FROM"
		      "  blocks b JOIN segments s ON s.id = b.segment_id GROUP BY"
		      "  s.recording_id))",
		      &q);
	if (err)
		return err;
	rc = sqlite3_step(q);
	if (rc != SQLITE_ROW) {
		err = read_fail(s, rc);
		sqlite3_finalize(q);
		return err;
	}
	t->segments = sqlite3_column_int64(q, 0);
	t->sealed = sqlite3_column_int64(q, 1);
	t->blocks = sqlite3_column_int64(q, 2);
	t->connections = sqlite3_column_int64(q, 3);
	t->t_start_ns = sqlite3_column_int64(q, 4);
	t->t_end_ns = sqlite3_column_int64(q, 5);
	t->raw_bytes = (uint64_t)sqlite3_column_int64(q, 6);
	t->bytes = (uint64_t)sqlite3_column_int64(q, 7);
	t->ring_drops = sqlite3_column_int64(q, 8);
	t->socks_full = sqlite3_column_int64(q, 9);
	t->peers_full = sqlite3_column_int64(q, 10);
	sqlite3_finalize(q);
	return 0;
}

int tt_store_each_segment_file(struct tt_store *s, int (*fn)(void *ctx, const char *file),
			       void *ctx)
{
	sqlite3_stmt *q = NULL;
	int rc = SQLITE_DONE, err;

	if ((err = prepare(s, "SELECT file FROM segments", &q)))
		return err;
	while (!err && (rc = sqlite3_step(q)) == SQLITE_ROW)
		err = fn(ctx, text(q, 0));
	if (!err)
		err = step_done(s, rc);
	sqlite3_finalize(q);
	return err;
}

/* ---- blocks ------------------------------------------------------------------ */

int tt_store_count_blocks(struct tt_store *s, int64_t rec, struct tt_store_block_count *c)
{
	sqlite3_stmt *q = NULL;
	int rc, err;

	memset(c, 0, sizeof(*c));
	err = prepare(s,
		      "SELECT count(*), count(*) FILTER (WHERE NOT " TT_REPLAY_BLOCK_OK "),"
		      " min(b.id) FILTER (WHERE NOT " TT_REPLAY_BLOCK_OK ") FROM blocks b JOIN"
		      " segments s ON s.id = b.segment_id WHERE s.recording_id = ?1",
		      &q);
	if (err)
		return err;
	sqlite3_bind_int64(q, 1, rec);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		c->total = (uint64_t)sqlite3_column_int64(q, 0);
		c->bad = (uint64_t)sqlite3_column_int64(q, 1);
		c->first_bad = sqlite3_column_int64(q, 2);
	} else {
		err = read_fail(s, rc);
	}
	sqlite3_finalize(q);
	return err;
}

#define BLK_ROW                                                                                    \
	"SELECT b.segment_id, s.seq, b.offset, b.t_start_ns, b.t_end_ns, %s, b.id, b.events,"      \
	" b.length, b.checksum FROM blocks b JOIN segments s ON s.id = b.segment_id"               \
	" WHERE s.recording_id = ?1 AND " TT_REPLAY_BLOCK_OK

static void read_block(sqlite3_stmt *q, struct tt_store_block *out)
{
	out->seg_id = sqlite3_column_int64(q, 0);
	out->seq = sqlite3_column_int64(q, 1);
	out->offset = sqlite3_column_int64(q, 2);
	out->t_start_ns = sqlite3_column_int64(q, 3);
	out->t_end_ns = sqlite3_column_int64(q, 4);
	out->keyframe = sqlite3_column_int(q, 5) != 0;
	out->id = sqlite3_column_int64(q, 6);
	out->events = sqlite3_column_int64(q, 7);
	out->length = sqlite3_column_int64(q, 8);
	out->checksum = sqlite3_column_int64(q, 9);
}

/* BLK_ROW followed by tail, with the keyframe column this index has. */
static int prepare_blocks(struct tt_store *s, const char *tail, sqlite3_stmt **q)
{
	char sql[2048];

	snprintf(sql, sizeof(sql), BLK_ROW "%s",
		 tt_store_has_keyframe_column(s) ? "b.keyframe" : "1", tail);
	return prepare(s, sql, q);
}

int tt_store_find_block(struct tt_store *s, int64_t rec, enum tt_store_block_pick pick, int64_t a,
			int64_t b, struct tt_store_block *out)
{
	static const char *const tail[] = {
		[TT_BLOCK_FIRST_ENDING] = " AND b.t_end_ns >= ?2 ORDER BY s.seq, b.offset LIMIT 1",
		[TT_BLOCK_KEYFRAME_AT] = " AND b.keyframe AND (s.seq, b.offset) <= (?2, ?3)"
					 " ORDER BY s.seq DESC, b.offset DESC LIMIT 1",
		[TT_BLOCK_NEXT] = " AND (s.seq, b.offset) > (?2, ?3) ORDER BY s.seq, b.offset"
				  " LIMIT 1",
	};
	sqlite3_stmt *q = NULL;
	int rc, err;

	if ((err = prepare_blocks(s, tail[pick], &q)))
		return err;
	sqlite3_bind_int64(q, 1, rec);
	sqlite3_bind_int64(q, 2, a);
	if (pick != TT_BLOCK_FIRST_ENDING)
		sqlite3_bind_int64(q, 3, b);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		read_block(q, out);
		err = 1;
	} else {
		err = step_done(s, rc);
	}
	sqlite3_finalize(q);
	return err;
}

int tt_store_each_block(struct tt_store *s, int64_t rec, const struct tt_store_block_run *run,
			int (*fn)(void *ctx, const struct tt_store_block *b), void *ctx)
{
	sqlite3_stmt *q = NULL;
	int rc = SQLITE_DONE, err;

	err = prepare_blocks(s,
			     run->has_end ? " AND (s.seq, b.offset) >= (?2, ?3) AND"
					    " (s.seq, b.offset) < (?4, ?5) ORDER BY s.seq, b.offset"
					  : " AND (s.seq, b.offset) >= (?2, ?3) AND"
					    " b.t_start_ns <= ?4 ORDER BY s.seq, b.offset",
			     &q);
	if (err)
		return err;
	sqlite3_bind_int64(q, 1, rec);
	sqlite3_bind_int64(q, 2, run->seq);
	sqlite3_bind_int64(q, 3, run->offset);
	if (run->has_end) {
		sqlite3_bind_int64(q, 4, run->end_seq);
		sqlite3_bind_int64(q, 5, run->end_offset);
	} else {
		sqlite3_bind_int64(q, 4, run->t_start_max);
	}
	while (!err && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct tt_store_block b;

		read_block(q, &b);
		err = fn(ctx, &b);
	}
	if (!err)
		err = step_done(s, rc);
	sqlite3_finalize(q);
	return err;
}

int tt_store_segment_file_path(struct tt_store *s, int64_t seg_id, char *path, size_t len)
{
	sqlite3_stmt *q = NULL;
	int rc, err = -ENOENT;

	if (sqlite3_prepare_v2(tt_store_sqlite(s), "SELECT file FROM segments WHERE id = ?1", -1,
			       &q, NULL)) {
		read_fail(s, SQLITE_ERROR);
		return -EIO;
	}
	sqlite3_bind_int64(q, 1, seg_id);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW && sqlite3_column_type(q, 0) == SQLITE_TEXT)
		err = tt_store_segment_path(s, text(q, 0), path, len);
	sqlite3_finalize(q);
	return err;
}

int tt_store_losses_at(struct tt_store *s, int64_t rec, uint64_t ts, struct tt_ev_loss *l)
{
	sqlite3_stmt *q = NULL;
	int rc, err;

	memset(l, 0, sizeof(*l));
	err = prepare(s,
		      "SELECT b.ring_drops, b.socks_full, b.peers_full FROM blocks b JOIN"
		      " segments s ON s.id = b.segment_id WHERE s.recording_id = ?1 AND"
		      " b.t_end_ns <= ?2 ORDER BY b.t_end_ns DESC LIMIT 1",
		      &q);
	if (err)
		return err;
	sqlite3_bind_int64(q, 1, rec);
	sqlite3_bind_int64(q, 2, (int64_t)ts);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		l->ring_drops = (uint64_t)sqlite3_column_int64(q, 0);
		l->socks_full = (uint64_t)sqlite3_column_int64(q, 1);
		l->peers_full = (uint64_t)sqlite3_column_int64(q, 2);
	} else {
		err = step_done(s, rc);
	}
	sqlite3_finalize(q);
	return err;
}

/* ---- rollups ------------------------------------------------------------------ */

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
 * Whether a rollups row (and its conns and processes rows) of tt_store_each_piece
 * can be read (lib/idxcheck.h). 1 and why not (tt_store_errmsg) if it cannot.
 */
static int piece_invalid(struct tt_store *st, sqlite3_stmt *q, const struct tt_ix_span *span,
			 uint64_t res_s)
{
	char why[512];
	size_t skip = strlen(tt_store_dir(st)) + strlen(": index: ");

	if (!tt_check_piece(q, span, res_s, tt_store_dir(st), why, sizeof(why)))
		return 0;
	/* tt_store_errmsg names the store itself */
	tt_store_fail(st, -EBADMSG, "%s", strlen(why) > skip ? why + skip : why);
	return 1;
}

/* The span of recording rec a piece must lie in (its end: the later of end_ns and its blocks'). */
static void piece_span(struct tt_store *s, int64_t rec, struct tt_ix_span *span)
{
	sqlite3_stmt *q = NULL;

	span->rec_id = rec;
	span->start_ns = span->end_ns = 0;
	if (sqlite3_prepare_v2(tt_store_sqlite(s),
			       "SELECT start_ns, max(coalesce(end_ns, start_ns), coalesce((SELECT"
			       " max(t_end_ns) FROM segments WHERE recording_id = ?1), 0)) FROM"
			       " recordings WHERE id = ?1",
			       -1, &q, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(q, 1, rec);
		if (sqlite3_step(q) == SQLITE_ROW) {
			span->start_ns = (uint64_t)sqlite3_column_int64(q, 0);
			span->end_ns = (uint64_t)sqlite3_column_int64(q, 1);
		}
	}
	/* tt_check_piece adds a day to these: a lie out of range must not overflow */
	if (span->start_ns > (uint64_t)TT_TIME_MAX || span->end_ns > (uint64_t)TT_TIME_MAX) {
		span->start_ns = span->start_ns > (uint64_t)TT_TIME_MAX ? 0 : span->start_ns;
		span->end_ns = (uint64_t)TT_TIME_MAX;
	}
	sqlite3_finalize(q);
}

int tt_store_each_piece(struct tt_store *s, int64_t rec, int64_t m2w, uint64_t res_s, uint64_t t0,
			uint64_t t1, int (*fn)(void *ctx, const struct tt_piece *p), void *ctx)
{
	struct tt_ix_span span;
	sqlite3_stmt *q = NULL;
	int rc = SQLITE_DONE, err;

	err = prepare(s,
		      "SELECT o.t, o.part, o.ticks, o.first_ns, o.last_ns, o.age_ns, o.state,"
		      " o.closed, o.bytes_in, o.bytes_out, o.packets_in, o.packets_out, o.retrans,"
		      " o.resets, o.peak_rate_in, o.peak_rate_out, o.rtt_sum_us, o.rtt_n,"
		      " o.rtt_min_us, o.rtt_max_us, o.cgroup, p.pid, p.comm, c.conn_id, c.family,"
		      " c.proto, c.laddr, c.lport, c.raddr, c.rport, c.tid, c.netns, c.flags,"
		      " c.open_ns, c.close_reason, c.close_errno, o.conn, o.process_id, p.id, c.id,"
		      " c.recording_id FROM rollups o LEFT JOIN conns c ON c.id = o.conn"
		      " LEFT JOIN processes p ON p.id = o.process_id"
		      " WHERE o.res = ?1 AND o.t >= ?2 AND o.t < ?3 AND (c.recording_id = ?4 OR"
		      " c.id IS NULL OR c.recording_id NOT IN (SELECT id FROM recordings))"
		      " ORDER BY o.t, o.conn, o.part",
		      &q);
	if (err)
		return err;
	sqlite3_bind_int64(q, 1, (int64_t)res_s);
	sqlite3_bind_int64(q, 2, (int64_t)t0);
	sqlite3_bind_int64(q, 3, (int64_t)t1);
	sqlite3_bind_int64(q, 4, rec);
	piece_span(s, rec, &span);
	while (!err && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct tt_piece p;
		struct tt_ix_piece *x = &p.sum;
		struct tt_ev_conn *c = &p.conn;
		const char *comm;
		uint64_t t_ns;
		int flags;

		if (piece_invalid(s, q, &span, res_s)) {
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
		c->flags =
			(uint8_t)((flags & 1 ? TT_CF_PARTIAL : 0) |
				  (flags & 2 ? TT_CF_UDP_PEER : 0) |
				  (flags & 4 ? TT_CF_ACTIVE : 0) | (flags & 8 ? TT_CF_PASSIVE : 0));
		/* the tables carry CLOCK_MONOTONIC */
		c->open_ns = (uint64_t)sqlite3_column_int64(q, 33) - (uint64_t)m2w;
		p.close_reason = (uint8_t)sqlite3_column_int(q, 34);
		p.err = (uint16_t)sqlite3_column_int(q, 35);
		p.migrated = sqlite3_column_type(q, 3) == SQLITE_NULL;
		err = fn(ctx, &p);
	}
	if (!err)
		err = step_done(s, rc);
	sqlite3_finalize(q);
	return err;
}

/* ---- for verify, reindex and adoption ------------------------------------------- */

static int64_t col_or(sqlite3_stmt *q, int col, int64_t dflt)
{
	return sqlite3_column_type(q, col) == SQLITE_NULL ? dflt : sqlite3_column_int64(q, col);
}

int tt_store_each_segment(struct tt_store *s, int (*fn)(void *ctx, const struct tt_store_seg *sg),
			  void *ctx)
{
	sqlite3_stmt *q = NULL;
	int rc = SQLITE_DONE, err;

	err = prepare(s,
		      "SELECT s.id, s.recording_id, s.seq, s.file, s.bytes, s.blocks, s.t_start_ns,"
		      " s.t_end_ns, r.mono_to_wall_ns FROM segments s LEFT JOIN recordings r"
		      " ON r.id = s.recording_id ORDER BY s.id",
		      &q);
	if (err)
		return err;
	while (!err && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct tt_store_seg sg = {
			.id = sqlite3_column_int64(q, 0),
			.rec = sqlite3_column_int64(q, 1),
			.seq = sqlite3_column_int64(q, 2),
			.file = text(q, 3),
			.bytes = sqlite3_column_int64(q, 4),
			.blocks = sqlite3_column_int64(q, 5),
			.t_start_ns = col_or(q, 6, INT64_MIN),
			.t_end_ns = col_or(q, 7, INT64_MIN),
			.m2w = sqlite3_column_int64(q, 8),
			.rec_found = sqlite3_column_type(q, 8) != SQLITE_NULL,
		};

		err = fn(ctx, &sg);
	}
	if (!err)
		err = step_done(s, rc);
	sqlite3_finalize(q);
	return err;
}

int tt_store_each_segment_block(struct tt_store *s, int64_t seg_id,
				int (*fn)(void *ctx, const struct tt_store_blockrow *b), void *ctx)
{
	sqlite3_stmt *q = NULL;
	int rc = SQLITE_DONE, err;

	err = prepare(s,
		      tt_store_has_keyframe_column(s)
			      ? "SELECT id, offset, length, raw_length, t_start_ns, t_end_ns,"
				" events, checksum, keyframe FROM blocks WHERE segment_id = ?1"
				" ORDER BY offset"
			      : "SELECT id, offset, length, raw_length, t_start_ns, t_end_ns,"
				" events, checksum, 1 FROM blocks WHERE segment_id = ?1"
				" ORDER BY offset",
		      &q);
	if (err)
		return err;
	sqlite3_bind_int64(q, 1, seg_id);
	while (!err && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct tt_store_blockrow b = {
			.id = sqlite3_column_int64(q, 0),
			.offset = sqlite3_column_int64(q, 1),
			.length = sqlite3_column_int64(q, 2),
			.raw_length = sqlite3_column_int64(q, 3),
			.t_start_ns = sqlite3_column_int64(q, 4),
			.t_end_ns = sqlite3_column_int64(q, 5),
			.events = sqlite3_column_int64(q, 6),
			.checksum = sqlite3_column_int64(q, 7),
			.keyframe = sqlite3_column_int64(q, 8),
		};

		err = fn(ctx, &b);
	}
	if (!err)
		err = step_done(s, rc);
	sqlite3_finalize(q);
	return err;
}

int tt_store_each_open_segment(struct tt_store *s,
			       int (*fn)(void *ctx, const char *file, int64_t bytes, int has_last,
					 int64_t last_off),
			       void *ctx)
{
	sqlite3_stmt *q = NULL;
	int rc = SQLITE_DONE, err;

	err = prepare(s,
		      "SELECT s.file, s.bytes, (SELECT max(b.offset) FROM blocks b WHERE"
		      " b.segment_id = s.id) FROM segments s WHERE s.sealed = 0 ORDER BY s.id",
		      &q);
	if (err)
		return err;
	while (!err && (rc = sqlite3_step(q)) == SQLITE_ROW)
		err = fn(ctx, text(q, 0), sqlite3_column_int64(q, 1),
			 sqlite3_column_type(q, 2) != SQLITE_NULL, sqlite3_column_int64(q, 2));
	if (!err)
		err = step_done(s, rc);
	sqlite3_finalize(q);
	return err;
}

int tt_store_segment_created(struct tt_store *s, const char *file, int64_t *created_ns)
{
	sqlite3_stmt *q = NULL;
	int rc, err;

	if ((err = prepare(s, "SELECT created_ns FROM segments WHERE file = ?1", &q)))
		return err;
	sqlite3_bind_text(q, 1, file, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		*created_ns = sqlite3_column_int64(q, 0);
		err = 1;
	} else {
		err = step_done(s, rc);
	}
	sqlite3_finalize(q);
	return err;
}

/* Run sql with ?1 = rec (bind >= 1), ?2 = last_end (bind 2); each row (key, message) to fn. */
static void report_rows(struct tt_store *s, const char *table, const char *sql, int64_t rec,
			int64_t last_end, int bind, tt_store_problem_fn fn, void *ctx)
{
	sqlite3 *db = tt_store_sqlite(s);
	sqlite3_stmt *q = NULL;
	int rc;

	if (sqlite3_prepare_v2(db, sql, -1, &q, NULL)) {
		fn(ctx, table, NULL, sqlite3_errmsg(db));
		sqlite3_finalize(q);
		return;
	}
	if (bind >= 1)
		sqlite3_bind_int64(q, 1, rec);
	if (bind >= 2)
		sqlite3_bind_int64(q, 2, last_end);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW)
		fn(ctx, table, text(q, 0), text(q, 1));
	if (rc != SQLITE_DONE)
		fn(ctx, table, NULL, sqlite3_errmsg(db));
	sqlite3_finalize(q);
}

/* What a connection's rollups of one length add up to, as one text (p: the table's alias). */
#define ROLLUP_AGG(p)                                                                              \
	"'ticks ' || sum(" p "ticks) || ', bytes ' || sum(" p "bytes_in) || '/' || sum(" p         \
	"bytes_out) || ', packets ' || sum(" p "packets_in) || '/' || sum(" p "packets_out) || "   \
	"', retrans ' || sum(" p "retrans) || ', resets ' || sum(" p                               \
	"resets) || ', rtt ' || sum(" p "rtt_sum_us) || '/' || sum(" p                             \
	"rtt_n) || ' min ' || coalesce(min(" p "rtt_min_us), '-') "                                \
	"|| ' max ' || coalesce(max(" p "rtt_max_us), '-') || ', peak ' || coalesce(max(" p        \
	"peak_rate_in), '-') || '/' || coalesce(max(" p "peak_rate_out), '-') || ', age ' || "     \
	"coalesce(max(" p "age_ns), '-') || ', closed ' || max(" p "closed)"

void tt_store_check_file(struct tt_store *s, tt_store_problem_fn fn, void *ctx)
{
	static const char *const tables[] = { "recordings", "segments", "blocks",
					      "conns",	    "rollups",	"processes" };
	sqlite3 *db = tt_store_sqlite(s);
	sqlite3_stmt *q = NULL;
	size_t i;

	/* a damaged page, or an index b-tree that disagrees with its table, which no query of ours
	 * notices */
	if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &q, NULL) == SQLITE_OK)
		while (sqlite3_step(q) == SQLITE_ROW)
			if (text(q, 0) && strcmp(text(q, 0), "ok"))
				fn(ctx, "index.db", "(integrity_check)", text(q, 0));
	sqlite3_finalize(q);
	/*
	 * A value of another type than its column's (a blob or text where a
	 * number belongs computes as 0 in SQL, so the range checks could pass
	 * it): INTEGER columns hold integers, REAL ones numbers, TEXT ones text,
	 * NULL where allowed. The first few rows of each column.
	 */
	for (i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		char sql[512];
		sqlite3_stmt *ti;

		snprintf(sql, sizeof(sql), "SELECT name, upper(type) FROM pragma_table_info('%s')",
			 tables[i]);
		if (sqlite3_prepare_v2(db, sql, -1, &ti, NULL) != SQLITE_OK)
			continue; /* not in this schema */
		while (sqlite3_step(ti) == SQLITE_ROW) {
			const char *col = text(ti, 0), *type = text(ti, 1);
			const char *ok = !type			    ? NULL
					 : !strcmp(type, "INTEGER") ? "'integer'"
					 : !strcmp(type, "REAL")    ? "'real', 'integer'"
					 : !strcmp(type, "TEXT")    ? "'text'"
								    : NULL;

			/*
			 * laddr and raddr: an integer or text by design; a name that is
			 * no plain identifier is no column of ours, and never goes into SQL
			 */
			if (!col || !ok ||
			    strspn(col, "abcdefghijklmnopqrstuvwxyz_0123456789") != strlen(col))
				continue;
			snprintf(sql, sizeof(sql),
				 "SELECT %s, '%s is ' || typeof(\"%s\") || ', not %s' FROM %s WHERE "
				 "typeof(\"%s\") NOT IN (%s, 'null') LIMIT 5",
				 !strcmp(tables[i], "rollups")
					 ? "res || ',' || t || ',' || conn || ',' || part"
					 : "rowid",
				 col, col, type, tables[i], col, ok);
			report_rows(s, tables[i], sql, 0, 0, 0, fn, ctx);
		}
		sqlite3_finalize(ti);
	}
}

int tt_store_each_conn_id(struct tt_store *s,
			  int (*fn)(void *ctx, const struct tt_store_conn_id *c), void *ctx)
{
	sqlite3_stmt *q = NULL;
	int rc = SQLITE_DONE, err;

	err = prepare(s,
		      "SELECT c.id, c.conn_id, c.family, c.proto, c.laddr, c.lport, c.raddr, c.rport,"
		      " EXISTS (SELECT 1 FROM segments s WHERE s.recording_id = c.recording_id AND"
		      " s.seq = 0), EXISTS (SELECT 1 FROM recordings r WHERE r.id ="
		      " c.recording_id), p.pid, p.comm FROM conns c LEFT JOIN processes p ON p.id ="
		      " c.process_id",
		      &q);
	if (err)
		return err;
	while (!err && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct tt_store_conn_id c = {
			.row = sqlite3_column_int64(q, 0),
			.conn_id = (uint64_t)sqlite3_column_int64(q, 1),
			.family = sqlite3_column_int(q, 2),
			.proto = sqlite3_column_int(q, 3),
			.lport = sqlite3_column_int(q, 5),
			.rport = sqlite3_column_int(q, 7),
			.whole = sqlite3_column_int(q, 8),
			.rec_found = sqlite3_column_int(q, 9),
			.has_owner = sqlite3_column_type(q, 10) == SQLITE_INTEGER && text(q, 11),
			.pid = sqlite3_column_int64(q, 10),
			.comm = text(q, 11) ? text(q, 11) : "",
		};

		column_addr(q, 4, c.laddr);
		column_addr(q, 6, c.raddr);
		err = fn(ctx, &c);
	}
	if (!err)
		err = step_done(s, rc);
	sqlite3_finalize(q);
	return err;
}

int tt_store_each_rollup_owner(struct tt_store *s,
			       int (*fn)(void *ctx, const struct tt_store_rollup_owner *o),
			       void *ctx)
{
	sqlite3_stmt *q = NULL;
	int rc = SQLITE_DONE, err;

	err = prepare(s,
		      "SELECT o.res || ',' || o.t || ',' || o.conn || ',' || o.part, c.conn_id,"
		      " p.pid, p.comm, EXISTS (SELECT 1 FROM segments s WHERE s.recording_id ="
		      " c.recording_id AND s.seq = 0) FROM rollups o JOIN conns c ON c.id = o.conn"
		      " LEFT JOIN processes p ON p.id = o.process_id",
		      &q);
	if (err)
		return err;
	while (!err && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct tt_store_rollup_owner o = {
			.key = text(q, 0) ? text(q, 0) : "",
			.conn_id = (uint64_t)sqlite3_column_int64(q, 1),
			.has_owner = sqlite3_column_type(q, 2) == SQLITE_INTEGER && text(q, 3),
			.pid = sqlite3_column_int64(q, 2),
			.comm = text(q, 3) ? text(q, 3) : "",
			.whole = sqlite3_column_int(q, 4),
		};

		err = fn(ctx, &o);
	}
	if (!err)
		err = step_done(s, rc);
	sqlite3_finalize(q);
	return err;
}

void tt_store_check_orphan_conns(struct tt_store *s, tt_store_problem_fn fn, void *ctx)
{
	report_rows(s, "conns",
		    "SELECT id, 'recording_id ' || recording_id || ': no such "
		    "recording' FROM conns c WHERE NOT EXISTS (SELECT 1 FROM "
		    "recordings r WHERE r.id = c.recording_id)",
		    0, 0, 0, fn, ctx);
}

void tt_store_check_summaries(struct tt_store *s, int64_t rec, int64_t last_end,
			      tt_store_problem_fn fn, void *ctx)
{
	report_rows(s, "conns",
		    "SELECT id, CASE WHEN first_seen_ns > last_seen_ns THEN 'first_seen_ns ' || "
		    "first_seen_ns || ' is after last_seen_ns ' || last_seen_ns ELSE "
		    "'last_seen_ns ' || last_seen_ns || ' is after its recording''s last block "
		    "ended (' || ?2 || ')' END FROM conns WHERE recording_id = ?1 AND "
		    "(first_seen_ns > last_seen_ns OR last_seen_ns > ?2)",
		    rec, last_end, 2, fn, ctx);
	report_rows(s, "rollups",
		    "SELECT o.res || ',' || o.t || ',' || o.conn || ',' || o.part, 'first_ns ' "
		    "|| o.first_ns || ', last_ns ' || o.last_ns || ' of period ' || o.t || '+' "
		    "|| o.res || ' s: not inside it, or after its recording''s last block ended "
		    "(' || ?2 || ')' FROM rollups o JOIN conns c ON c.id = o.conn WHERE "
		    "c.recording_id = ?1 AND o.first_ns IS NOT NULL AND (o.first_ns > "
		    "o.last_ns OR o.first_ns <= 0 OR o.last_ns > o.res * 1000000000 OR "
		    "o.t * 1000000000 + o.last_ns > ?2)",
		    rec, last_end, 2, fn, ctx);
	/* a rollup's period is the recording's or an hour, and starts on its length */
	report_rows(s, "rollups",
		    "SELECT o.res || ',' || o.t || ',' || o.conn || ',' || o.part, 'period of "
		    "' || o.res || ' s at ' || o.t || ': neither its recording''s rollup length "
		    "(' || (x.rollup_ns / 1000000000) || ' s) nor an hour, or not on its "
		    "length' FROM rollups o JOIN conns c ON c.id = o.conn JOIN recordings x ON "
		    "x.id = c.recording_id WHERE c.recording_id = ?1 AND (o.res NOT IN (3600, "
		    "x.rollup_ns / 1000000000) OR o.res <= 0 OR o.t % o.res != 0)",
		    rec, 0, 1, fn, ctx);
	/*
	 * Every field a connection's minor rollups sum up (or take the greatest
	 * or least of) equals its hour rollups' (the same ticks), partial or
	 * not, while none of its recording was removed.
	 */
	report_rows(
		s, "conns",
		"SELECT h.conn, 'its minor rollups (' || m.f || ') disagree with its hour "
		"rollups (' || h.f || ')' FROM (SELECT conn, " ROLLUP_AGG(
			"") " AS f FROM "
			    "rollups WHERE res = 3600 GROUP BY conn) h JOIN (SELECT o.conn, " ROLLUP_AGG(
				    "o.") " AS f FROM rollups o JOIN conns k ON k.id = o.conn JOIN "
					  "recordings x ON x.id = k.recording_id WHERE o.res * 1000000000 = "
					  "x.rollup_ns AND x.rollup_ns != 3600000000000 GROUP BY o.conn) m ON m.conn "
					  "= h.conn JOIN conns c ON c.id = h.conn WHERE c.recording_id = ?1 AND "
					  "EXISTS (SELECT 1 FROM segments s WHERE s.recording_id = ?1 AND s.seq = 0) "
					  "AND h.f IS NOT m.f",
		rec, 0, 1, fn, ctx);
	/*
	 * A connection's minor rollups add up to its hour rollups (the same
	 * ticks), and those to at least its row's totals (inactive ticks move
	 * nothing; a tick's delta is never negative, while a total may come back
	 * down a little at close, when the kernel's exact snapshot replaces a
	 * walk's reading), when none of its recording was removed (its segment 0
	 * is there) and it opened inside it (an extract's stream starts with the
	 * totals of connections opened before; a partial one counts from its
	 * first sight).
	 */
	report_rows(s, "conns",
		    "SELECT c.id, 'bytes_in ' || c.bytes_in || ', bytes_out ' || c.bytes_out "
		    "|| ', packets_in ' || c.packets_in || ', packets_out ' || c.packets_out "
		    "|| '; its hour rollups add up to ' || h.bi || ', ' || h.bo || ', ' || "
		    "h.pi || ', ' || h.po || ' and its minor ones to ' || m.bi || ', ' || "
		    "m.bo || ', ' || m.pi || ', ' || m.po || ' (equal, and at least the "
		    "row''s)' FROM conns c JOIN recordings r ON "
		    "r.id = c.recording_id JOIN (SELECT conn, sum(bytes_in) AS bi, "
		    "sum(bytes_out) AS bo, sum(packets_in) AS pi, sum(packets_out) AS po FROM "
		    "rollups WHERE res = 3600 GROUP BY conn) h ON h.conn = c.id JOIN (SELECT "
		    "o.conn, sum(o.bytes_in) AS bi, sum(o.bytes_out) AS bo, sum(o.packets_in) "
		    "AS pi, sum(o.packets_out) AS po FROM rollups o JOIN conns k ON k.id = "
		    "o.conn JOIN recordings x ON x.id = k.recording_id WHERE o.res * "
		    "1000000000 = x.rollup_ns GROUP BY o.conn) m ON m.conn = c.id WHERE "
		    "c.recording_id = ?1 AND c.open_ns >= r.start_ns AND (c.flags & 1) = 0 "
		    "AND r.rollup_ns > 0 AND EXISTS (SELECT 1 FROM "
		    "segments s WHERE s.recording_id = ?1 AND s.seq = 0) AND ((h.bi, h.bo, "
		    "h.pi, h.po) IS NOT (m.bi, m.bo, m.pi, m.po) OR h.bi < c.bytes_in OR h.bo < "
		    "c.bytes_out OR h.pi < c.packets_in OR h.po < c.packets_out)",
		    rec, 0, 1, fn, ctx);
}

/* ---- export (lib/ship) ------------------------------------------------------------ */

int tt_store_each_cursor(struct tt_store *s, const char *dest,
			 int (*fn)(void *ctx, const struct tt_store_cursor *c), void *ctx)
{
	sqlite3_stmt *q = NULL;
	int rc = SQLITE_DONE, err;

	err = prepare(s,
		      "SELECT r.id, r.host, r.boot_id, r.start_ns, coalesce(c.ticks_ns, 0),"
		      " coalesce(c.meta_ns, 0) FROM recordings r LEFT JOIN export_cursors c"
		      " ON c.recording_id = r.id AND c.dest = ?1 ORDER BY r.id",
		      &q);
	if (err)
		return err;
	sqlite3_bind_text(q, 1, dest, -1, SQLITE_STATIC);
	while (!err && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct tt_store_cursor c = {
			.rec = sqlite3_column_int64(q, 0),
			.host = text(q, 1),
			.boot_id = text(q, 2),
			.start_ns = sqlite3_column_int64(q, 3),
			.ticks_ns = sqlite3_column_int64(q, 4),
			.meta_ns = sqlite3_column_int64(q, 5),
		};

		err = fn(ctx, &c);
	}
	if (!err)
		err = step_done(s, rc);
	sqlite3_finalize(q);
	return err;
}

/* The first column of sql's one row as an integer into *v (0: no row). */
static int one_int(struct tt_store *s, const char *sql, int64_t *v)
{
	sqlite3_stmt *q = NULL;
	int rc, err;

	*v = 0;
	if ((err = prepare(s, sql, &q)))
		return err;
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		*v = sqlite3_column_int64(q, 0);
	else
		err = step_done(s, rc);
	sqlite3_finalize(q);
	return err;
}

int tt_store_unshipped_from(struct tt_store *s, uint64_t *ns)
{
	int64_t v = 0;
	int err = 0;

	if (tt_store_schema_version(s) >= 3)
		err = one_int(s, "SELECT coalesce(min(ticks_ns), 0) FROM export_cursors", &v);
	*ns = (uint64_t)v;
	return err;
}

int tt_store_blocks_end(struct tt_store *s, uint64_t *ns)
{
	int64_t v;
	int err = one_int(s, "SELECT coalesce(max(t_end_ns), 0) FROM blocks", &v);

	*ns = (uint64_t)v;
	return err;
}

int tt_store_each_lifetime_since(struct tt_store *s, int64_t rec, int64_t since_ns,
				 int (*fn)(void *ctx, const struct tt_store_lifetime *l), void *ctx)
{
	sqlite3_stmt *q = NULL;
	int rc = SQLITE_DONE, err;

	err = prepare(s,
		      "SELECT conn_id, open_ns, proto, family, laddr, lport, raddr, rport, pid, comm,"
		      " cgroup, netns, partial, udp_peer, coalesce(close_ns, 0), first_seen_ns,"
		      " last_seen_ns, state, close_reason, coalesce(close_errno, 0), bytes_in,"
		      " bytes_out, packets_in, packets_out, coalesce(rtt_min_us, 0),"
		      " coalesce(rtt_avg_us, 0), coalesce(rtt_max_us, 0), rtt_samples, retrans,"
		      " resets_sent, resets_recv FROM connections WHERE recording_id = ?1 AND"
		      " (last_seen_ns > ?2 OR coalesce(close_ns, 0) > ?2)",
		      &q);
	if (err)
		return err;
	sqlite3_bind_int64(q, 1, rec);
	sqlite3_bind_int64(q, 2, since_ns);
	while (!err && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct tt_store_lifetime l = {
			.conn_id = (uint64_t)sqlite3_column_int64(q, 0),
			.open_ns = sqlite3_column_int64(q, 1),
			.proto = text(q, 2),
			.family = sqlite3_column_int(q, 3),
			.laddr = text(q, 4),
			.lport = sqlite3_column_int(q, 5),
			.raddr = text(q, 6),
			.rport = sqlite3_column_int(q, 7),
			.pid = sqlite3_column_int(q, 8),
			.comm = text(q, 9),
			.cgroup = (uint64_t)sqlite3_column_int64(q, 10),
			.netns = sqlite3_column_int64(q, 11),
			.partial = sqlite3_column_int(q, 12),
			.udp_peer = sqlite3_column_int(q, 13),
			.close_ns = sqlite3_column_int64(q, 14),
			.first_seen_ns = sqlite3_column_int64(q, 15),
			.last_seen_ns = sqlite3_column_int64(q, 16),
			.state = text(q, 17),
			.close_reason = text(q, 18),
			.close_errno = sqlite3_column_int(q, 19),
			.bytes_in = sqlite3_column_int64(q, 20),
			.bytes_out = sqlite3_column_int64(q, 21),
			.packets_in = sqlite3_column_int64(q, 22),
			.packets_out = sqlite3_column_int64(q, 23),
			.rtt_min_us = sqlite3_column_int(q, 24),
			.rtt_avg_us = sqlite3_column_int(q, 25),
			.rtt_max_us = sqlite3_column_int(q, 26),
			.rtt_samples = sqlite3_column_int(q, 27),
			.retrans = sqlite3_column_int64(q, 28),
			.resets_sent = sqlite3_column_int64(q, 29),
			.resets_recv = sqlite3_column_int64(q, 30),
		};

		err = fn(ctx, &l);
	}
	if (!err)
		err = step_done(s, rc);
	sqlite3_finalize(q);
	return err;
}

int tt_store_each_loss_since(struct tt_store *s, int64_t rec, int64_t since_ns,
			     int (*fn)(void *ctx, const struct tt_store_loss *l), void *ctx)
{
	sqlite3_stmt *q = NULL;
	int rc = SQLITE_DONE, err;

	err = prepare(s,
		      "SELECT t_start_ns, t_end_ns, ring_drops, socks_full, peers_full FROM v_losses"
		      " WHERE recording_id = ?1 AND t_end_ns > ?2 AND"
		      " ring_drops + socks_full + peers_full > 0",
		      &q);
	if (err)
		return err;
	sqlite3_bind_int64(q, 1, rec);
	sqlite3_bind_int64(q, 2, since_ns);
	while (!err && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct tt_store_loss l = {
			.t_start_ns = sqlite3_column_int64(q, 0),
			.t_end_ns = sqlite3_column_int64(q, 1),
			.ring_drops = sqlite3_column_int64(q, 2),
			.socks_full = sqlite3_column_int64(q, 3),
			.peers_full = sqlite3_column_int64(q, 4),
		};

		err = fn(ctx, &l);
	}
	if (!err)
		err = step_done(s, rc);
	sqlite3_finalize(q);
	return err;
}
