/*
 * Unit tests of replay and scan over stores the recorder's writer made from
 * synthetic event streams (random connections, owner changes, samples, state
 * changes, resets, closes, partial and UDP-peer connections, losses), with
 * sparse keyframes: a window that starts between keyframes gives the tables of
 * a full replay from the recording's start, field for field; a store with a
 * keyframe every 30 s answers every window exactly (tables, events, stats) as
 * the same stream stored with a keyframe in every block; a damaged delta block
 * costs the blocks up to the next keyframe, counted. (A schema-1 index, with
 * no blocks.keyframe, is read by cli.store_v1.read: this build writes schema 2
 * only.)
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
#include <sys/stat.h>

#include <netinet/in.h>

#include <cmocka.h>

#include "aggregator.h"
#include "scan.h"
#include "store.h"
#include "writer.h"
#include "tst.h"

#define SEC	  TST_SEC
#define T0	  (100 * SEC) /* CLOCK_MONOTONIC of the first tick's start */
#define M2W	  (1700000000ll * (int64_t)SEC)
#define TICKS	  400 /* of 1 s */
#define KF_SPARSE (30 * SEC)

struct fx {
	char tmp[64]; /* mkdtemp */
	char sparse[128]; /* a keyframe every 30 s, segments of 110 s */
	char dense[128]; /* the same stream, a keyframe in every block */
};

/* The recorder's loop over TICKS ticks of the stream of seed; its own tables to live (may be NULL). */
static void record(const char *dir, uint64_t seed, uint64_t keyframe_ns, struct tst_capture *live)
{
	struct tt_writer_opts wo;
	struct tst_gen g;

	tst_writer_opts(&wo, dir, T0, M2W);
	wo.flush_ns = 5 * SEC;
	wo.keyframe_ns = keyframe_ns;
	wo.segment_ns = 110 * SEC; /* not a multiple of the keyframe: both reasons to start one */
	wo.segment_bytes = 0;
	tst_gen_init(&g, seed, T0);
	tst_record(&wo, &g, TICKS, live, 1);
}

/* Drop keyframe events that follow the first event of the stream that is not one. */
static void drop_inner_keyframes(struct tst_capture *c)
{
	size_t i, n = 0;
	int started = 0;

	for (i = 0; i < c->nev; i++) {
		if (!(c->ev[i].flags & TT_EVF_KEYFRAME))
			started = 1;
		else if (started)
			continue;
		c->ev[n++] = c->ev[i];
	}
	c->nev = n;
}

/* A random window: from inside the recording (any ns of it), to 1..90 s later or open. */
static void random_window(uint64_t *s, uint64_t *from, uint64_t *to)
{
	uint64_t span = (uint64_t)TICKS * SEC;

	*from = (uint64_t)((int64_t)T0 + M2W) + tst_rnd(s) % span;
	*to = tst_chance(s, 20) ? 0 : *from + SEC + tst_rnd(s) % (90 * SEC);
}

static int setup(void **state)
{
	static struct fx f;

	if (tst_tmpdir(f.tmp, sizeof(f.tmp), "replay"))
		return -1;
	snprintf(f.sparse, sizeof(f.sparse), "%s/sparse", f.tmp);
	snprintf(f.dense, sizeof(f.dense), "%s/dense", f.tmp);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	tt_store_test_schema(0, NULL);
	tst_rmtree(f->tmp);
	return 0;
}

/* ---- tests -------------------------------------------------------------------------------- */

/* The sparse store is what --keyframe promises: keyframes every 30 s and at every segment. */
static void test_keyframe_blocks_where_due(void **state)
{
	struct fx *f = *state;
	struct tst_capture live = { 0 };

	record(f->sparse, 0x5eed, KF_SPARSE, &live);
	/* 400 s of 5 s blocks: 80; keyframes at 0, 30, ... and at each segment's start */
	assert_int_equal(tst_q_int(f->sparse, "SELECT count(*) FROM blocks"), 80);
	assert_int_equal(tst_q_int(f->sparse, "SELECT count(*) FROM segments"), 4);
	assert_int_equal(tst_q_int(f->sparse, "SELECT count(*) FROM blocks b JOIN segments s ON "
					  "s.id = b.segment_id WHERE b.offset = 64 AND "
					  "b.keyframe = 0"),
			 0);
	/* 0 30 60 90, segment 110 140 170 200, segment 220 250 280 310, segment 330 360 390 */
	assert_int_equal(tst_q_int(f->sparse, "SELECT sum(keyframe) FROM blocks"), 15);
	/* at most 30 s between two keyframe blocks */
	assert_int_equal(tst_q_int(f->sparse,
			       "SELECT max(d) FROM (SELECT t_start_ns - lag(t_start_ns) OVER "
			       "(ORDER BY t_start_ns) AS d FROM blocks WHERE keyframe)") <=
				 (int64_t)(30 * SEC + SEC),
			 1);
	tst_capture_free(&live);
}

static void test_window_between_keyframes_equals_full_replay(void **state)
{
	struct fx *f = *state;
	struct tst_capture live = { 0 }, full = { 0 };
	struct tt_scan_stats st;
	uint64_t g = 0xabcdef;
	size_t i;
	int w;

	tst_rmtree(f->sparse);
	record(f->sparse, 0x5eed, KF_SPARSE, &live);

	/* a full replay is the recorder, strictly */
	st = tst_scan(f->sparse, 0, 0, &full, NULL, 0);
	assert_int_equal(st.blocks_warmup, 0);
	assert_int_equal(full.n, live.n);
	for (i = 0; i < live.n; i++)
		tst_assert_table_equal(&full.t[i].t, &live.t[i].t, 1);

	for (w = 0; w < 60; w++) {
		struct tst_capture c = { 0 };
		uint64_t from, to;

		random_window(&g, &from, &to);
		st = tst_scan(f->sparse, from, to, &c, NULL, 0);
		assert_true(c.n > 0);
		for (i = 0; i < c.n; i++) {
			const struct tst_saved *want = tst_capture_at(&full, c.t[i].t.ts_ns);

			assert_non_null(want);
			tst_assert_table_equal(&c.t[i].t, &want->t, 0);
		}
		/* the first tick of the window's first block, the first one of its block */
		assert_true((int64_t)c.t[0].t.ts_ns + M2W - (int64_t)5 * (int64_t)SEC <=
			    (int64_t)from);
		assert_true(st.blocks_warmup <= 5);
		tst_capture_free(&c);
	}
	tst_capture_free(&live);
	tst_capture_free(&full);
}

static void test_sparse_answers_as_dense(void **state)
{
	struct fx *f = *state;
	uint64_t g = 0x1234567;
	uint64_t warmups = 0;
	int w;

	tst_rmtree(f->sparse);
	record(f->sparse, 0xfeed, KF_SPARSE, NULL);
	record(f->dense, 0xfeed, 5 * SEC, NULL);
	assert_int_equal(tst_q_int(f->dense, "SELECT count(*) FROM blocks WHERE NOT keyframe"), 0);
	assert_true(tst_q_int(f->sparse, "SELECT sum(length) FROM blocks") <
		    tst_q_int(f->dense, "SELECT sum(length) FROM blocks"));

	for (w = 0; w < 120; w++) {
		struct tst_capture a = { 0 }, b = { 0 };
		struct tt_scan_stats sa, sb;
		uint64_t from, to;
		size_t i;

		if (w == 0) {
			from = to = 0;
		} else if (w % 3 == 0) {
			/*
			 * Inside the gap between a block's last tick and the next
			 * block's first event: a delta block's span starts at the
			 * tick, before its first event, as a keyframe block's does.
			 */
			char sql[160];

			snprintf(sql, sizeof(sql), "SELECT t_end_ns FROM blocks ORDER BY t_end_ns "
				 "LIMIT 1 OFFSET %u", (unsigned)(tst_rnd(&g) % 79));
			from = (uint64_t)tst_q_int(f->dense, sql) + 1 + tst_rnd(&g) % 1000;
			to = from + tst_rnd(&g) % 500000;
		} else {
			random_window(&g, &from, &to);
		}
		sa = tst_scan(f->sparse, from, to, &a, NULL, 0);
		sb = tst_scan(f->dense, from, to, &b, NULL, 0);
		/*
		 * The same tables, seq and last_active_ns included, and the same
		 * events, the keyframe that opens the window included; only the
		 * keyframes inside the window, which restate what a reader in step
		 * has (no consumer acts on them), are not in the sparse store.
		 */
		assert_int_equal(a.n, b.n);
		for (i = 0; i < a.n; i++)
			tst_assert_table_equal(&a.t[i].t, &b.t[i].t, 1);
		drop_inner_keyframes(&a);
		drop_inner_keyframes(&b);
		assert_int_equal(a.nev, b.nev);
		for (i = 0; i < a.nev; i++)
			tst_assert_event_equal(&a.ev[i], &b.ev[i]);
		assert_int_equal(sa.blocks_selected, sb.blocks_selected);
		assert_int_equal(sa.blocks_read, sb.blocks_read);
		assert_true(sa.events <= sb.events);
		assert_int_equal(sa.ticks, sb.ticks);
		assert_memory_equal(&sa.lost, &sb.lost, sizeof(sa.lost));
		assert_int_equal(sb.blocks_warmup, 0);
		warmups += sa.blocks_warmup;
		tst_capture_free(&a);
		tst_capture_free(&b);
	}
	assert_true(warmups > 0);
}

/* Flip a payload byte of the frame at off in dir's segment file. */
static void damage(const char *dir, const char *file, uint64_t off)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	tst_flip_byte(path, off + 60, 0x40);
}

static void test_damaged_delta_block_waits_for_keyframe(void **state)
{
	struct fx *f = *state;
	struct tst_capture full = { 0 }, c = { 0 };
	struct tt_scan_stats st;
	char warn[512], sql[512], file[64];
	int64_t seg, off, t_bad, t_next_kf, skipped;
	size_t i;

	tst_rmtree(f->sparse);
	record(f->sparse, 0x5eed, KF_SPARSE, NULL);
	tst_scan(f->sparse, 0, 0, &full, NULL, 0);

	/* the first delta block followed by another delta block, in the second segment */
	seg = tst_q_int(f->sparse, "SELECT id FROM segments WHERE seq = 1");
	snprintf(sql, sizeof(sql),
		 "SELECT min(offset) FROM blocks b WHERE segment_id = %" PRId64 " AND NOT keyframe "
		 "AND (SELECT NOT keyframe FROM blocks n WHERE n.segment_id = b.segment_id AND "
		 "n.offset > b.offset ORDER BY n.offset LIMIT 1)",
		 seg);
	off = tst_q_int(f->sparse, sql);
	assert_true(off > 0);
	snprintf(sql, sizeof(sql), "SELECT t_start_ns FROM blocks WHERE segment_id = %" PRId64
		 " AND offset = %" PRId64, seg, off);
	t_bad = tst_q_int(f->sparse, sql);
	snprintf(sql, sizeof(sql), "SELECT min(t_start_ns) FROM blocks WHERE keyframe AND "
		 "t_start_ns > %" PRId64, t_bad);
	t_next_kf = tst_q_int(f->sparse, sql);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM blocks WHERE t_start_ns > %" PRId64
		 " AND t_start_ns < %" PRId64, t_bad, t_next_kf);
	skipped = tst_q_int(f->sparse, sql);
	assert_true(skipped >= 1);
	snprintf(file, sizeof(file), "r000001-s000001.tts");
	damage(f->sparse, file, (uint64_t)off);

	/* the whole recording: one damaged block, the delta blocks after it skipped */
	st = tst_scan(f->sparse, 0, 0, &c, warn, sizeof(warn));
	assert_int_equal(st.blocks_damaged, 1);
	assert_int_equal(st.blocks_unsynced, skipped);
	assert_non_null(strstr(warn, "1 damaged blocks skipped"));
	assert_non_null(strstr(warn, "up to the next keyframe"));
	for (i = 0; i < c.n; i++) {
		int64_t ts = (int64_t)c.t[i].t.ts_ns + M2W;

		/* no tick between the damage and the next keyframe is made up */
		assert_false(ts > t_bad && ts <= t_next_kf);
		if (ts <= t_bad)
			tst_assert_table_equal(&c.t[i].t, &tst_capture_at(&full, c.t[i].t.ts_ns)->t, 1);
	}
	tst_capture_free(&c);

	/* a window starting just after the damage: nothing until the next keyframe */
	st = tst_scan(f->sparse, (uint64_t)t_bad + 6 * SEC, 0, &c, warn, sizeof(warn));
	assert_int_equal(st.blocks_damaged, 1); /* in its warm-up */
	assert_true(st.blocks_unsynced >= 1);
	assert_true(c.n > 0);
	assert_true((int64_t)c.t[0].t.ts_ns + M2W > t_next_kf);
	for (i = 0; i < c.n; i++)
		tst_assert_table_equal(&c.t[i].t, &tst_capture_at(&full, c.t[i].t.ts_ns)->t, 0);
	tst_capture_free(&c);

	/* a window after the next keyframe does not notice */
	st = tst_scan(f->sparse, (uint64_t)t_next_kf + 1, 0, &c, NULL, 0);
	assert_int_equal(st.blocks_damaged, 0);
	for (i = 0; i < c.n; i++)
		tst_assert_table_equal(&c.t[i].t, &tst_capture_at(&full, c.t[i].t.ts_ns)->t, 0);
	tst_capture_free(&c);
	tst_capture_free(&full);
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keyframe_blocks_where_due),
		cmocka_unit_test(test_window_between_keyframes_equals_full_replay),
		cmocka_unit_test(test_sparse_answers_as_dense),
		cmocka_unit_test(test_damaged_delta_block_waits_for_keyframe),
	};

	return cmocka_run_group_tests_name("replay", tests, setup, teardown);
}
