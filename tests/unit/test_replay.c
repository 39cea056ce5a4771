/*
 * Unit tests of replay and scan over stores the recorder's writer made from
 * synthetic event streams (random connections, owner changes, samples, state
 * changes, resets, closes, partial and UDP-peer connections, losses), with
 * sparse keyframes: a window that starts between keyframes gives the tables of
 * a full replay from the recording's start, field for field; a store with a
 * keyframe every 30 s answers every window exactly (tables, events, stats) as
 * the same stream stored with a keyframe in every block; a damaged delta block
 * costs the blocks up to the next keyframe, counted. Repairs (lib/repair.h):
 * a flip of any bit of a segment's file header loses no block (warned and
 * counted); verify passes a clean store and names the row of every edited
 * index field; blocks written but not indexed before a crash are adopted by
 * the next recorder start; a killed reindex's leftovers do not stop a retry,
 * and the rebuilt index keeps the store's mode and group. (A schema-1 index, with
 * no blocks.keyframe, is read by cli.store_v1.read: this build writes schema 2
 * only.)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <netinet/in.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "aggregator.h"
#include "repair.h"
#include "scan.h"
#include "segcodec.h"
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

/* The recorder's loop over TICKS ticks of the stream of seed; its own tables to live (may be NULL).
 */
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

			snprintf(sql, sizeof(sql),
				 "SELECT t_end_ns FROM blocks ORDER BY t_end_ns "
				 "LIMIT 1 OFFSET %u",
				 (unsigned)(tst_rnd(&g) % 79));
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
	snprintf(sql, sizeof(sql),
		 "SELECT t_start_ns FROM blocks WHERE segment_id = %" PRId64
		 " AND offset = %" PRId64,
		 seg, off);
	t_bad = tst_q_int(f->sparse, sql);
	snprintf(sql, sizeof(sql),
		 "SELECT min(t_start_ns) FROM blocks WHERE keyframe AND "
		 "t_start_ns > %" PRId64,
		 t_bad);
	t_next_kf = tst_q_int(f->sparse, sql);
	snprintf(sql, sizeof(sql),
		 "SELECT count(*) FROM blocks WHERE t_start_ns > %" PRId64
		 " AND t_start_ns < %" PRId64,
		 t_bad, t_next_kf);
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
			tst_assert_table_equal(&c.t[i].t, &tst_capture_at(&full, c.t[i].t.ts_ns)->t,
					       1);
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

/* ---- repairs ------------------------------------------------------------------------------ */

/* Copy the regular files of from into to (created). */
static void copy_store(const char *from, const char *to)
{
	struct dirent *de;
	DIR *d = opendir(from);

	assert_non_null(d);
	assert_int_equal(mkdir(to, 0700), 0);
	while ((de = readdir(d))) {
		char a[512], b[512], buf[65536];
		ssize_t n;
		int in, out;

		if (de->d_name[0] == '.')
			continue;
		snprintf(a, sizeof(a), "%s/%s", from, de->d_name);
		snprintf(b, sizeof(b), "%s/%s", to, de->d_name);
		in = open(a, O_RDONLY);
		assert_true(in >= 0);
		out = open(b, O_WRONLY | O_CREAT | O_EXCL, 0600);
		assert_true(out >= 0);
		while ((n = read(in, buf, sizeof(buf))) > 0)
			assert_int_equal(write(out, buf, (size_t)n), n);
		close(in);
		close(out);
	}
	closedir(d);
}

/* Run sql on dir's index: SQLITE_OK, or SQLITE_CONSTRAINT (an edit the schema refuses). */
static int try_sql(const char *dir, const char *sql)
{
	char path[256], *err = NULL;
	sqlite3 *db;
	int rc;

	snprintf(path, sizeof(path), "%s/index.db", dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	rc = sqlite3_exec(db, sql, NULL, NULL, &err);
	if (rc != SQLITE_OK && rc != SQLITE_CONSTRAINT) {
		print_error("%s: %s\n", sql, err);
		fail();
	}
	sqlite3_free(err);
	sqlite3_close(db);
	return rc;
}

static void exec_sql(const char *dir, const char *sql)
{
	assert_int_equal(try_sql(dir, sql), SQLITE_OK);
}

/*
 * Every bit of the first segment's 64-byte file header, flipped in turn: the
 * scan still gives every table of the full replay, warns, and counts the
 * damaged header; reindex indexes the file by its name. The segment reader
 * alone refused such a file, which lost all its blocks.
 */
static void test_header_damage_every_bit(void **state)
{
	struct fx *f = *state;
	struct tst_capture full = { 0 };
	char path[256], dir2[160], why[512];
	uint64_t bit, to;
	size_t i;

	tst_rmtree(f->sparse);
	record(f->sparse, 0x5eed, KF_SPARSE, NULL);
	/* the first segment (110 s): its blocks only */
	to = (uint64_t)((int64_t)T0 + M2W) + 100 * SEC;
	tst_scan(f->sparse, 0, to, &full, NULL, 0);
	assert_true(full.n >= 95);
	snprintf(path, sizeof(path), "%s/r000001-s000000.tts", f->sparse);
	for (bit = 0; bit < 64 * 8; bit++) {
		struct tst_capture c = { 0 };
		struct tt_scan_stats st;
		char warn[512];

		tst_flip_byte(path, bit / 8, (uint8_t)(1u << (bit % 8)));
		st = tst_scan(f->sparse, 0, to, &c, warn, sizeof(warn));
		if (st.headers_damaged != 1 || c.n != full.n)
			fail_msg("bit %" PRIu64 ": %" PRIu64
				 " damaged headers, %zu of %zu tables (%s)",
				 bit, st.headers_damaged, c.n, full.n, warn);
		assert_int_equal(st.blocks_damaged, 0);
		assert_non_null(strstr(warn, "r000001-s000000.tts"));
		assert_non_null(strstr(warn, "file header"));
		for (i = 0; i < c.n; i++)
			tst_assert_table_equal(&c.t[i].t, &full.t[i].t, 1);
		tst_capture_free(&c);
		tst_flip_byte(path, bit / 8, (uint8_t)(1u << (bit % 8)));
	}

	/* reindex a copy with a damaged header: the file is indexed by its name */
	snprintf(dir2, sizeof(dir2), "%s/hdr", f->tmp);
	tst_rmtree(dir2);
	copy_store(f->sparse, dir2);
	snprintf(path, sizeof(path), "%s/r000001-s000000.tts", dir2);
	tst_flip_byte(path, 20, 1u << 3); /* the recording id */
	{
		struct tt_reindex_result res;
		struct tst_capture c = { 0 };
		char warn[512];

		assert_int_equal(tt_reindex(dir2, NULL, &res, why, sizeof(why)), 0);
		assert_int_equal(res.bad_headers, 1);
		assert_int_equal(res.bad_files, 0);
		assert_int_equal(res.segments, 4);
		assert_int_equal(res.blocks, 80);
		tst_scan(dir2, 0, to, &c, warn, sizeof(warn));
		assert_non_null(strstr(warn, "file header"));
		assert_int_equal(c.n, full.n);
		for (i = 0; i < c.n; i++)
			tst_assert_table_equal(&c.t[i].t, &full.t[i].t, 1);
		tst_capture_free(&c);
	}
	tst_rmtree(dir2);
	tst_capture_free(&full);
}

/* What verify found: counts, and every line. */
struct found {
	unsigned problems, warnings;
	char lines[8192];
};

static void on_found(void *ctx, enum tt_finding_level level, const char *what, const char *msg)
{
	struct found *fd = ctx;
	size_t used = strlen(fd->lines);

	if (level == TT_FINDING_PROBLEM)
		fd->problems++;
	else if (level == TT_FINDING_WARNING)
		fd->warnings++;
	if (used < sizeof(fd->lines))
		snprintf(fd->lines + used, sizeof(fd->lines) - used, "%d %s: %s\n", (int)level,
			 what, msg);
}

static struct tt_verify_result verify_dir(const char *dir, struct found *fd)
{
	struct tt_repair_cb cb = { .on_finding = on_found, .ctx = fd };
	struct tt_verify_result res = { 0 };
	struct tt_store *st;
	char why[512];

	memset(fd, 0, sizeof(*fd));
	assert_int_equal(tt_store_open(dir, TT_STORE_READ, 0, 0, &st, why, sizeof(why)), 0);
	assert_int_equal(tt_verify(st, &cb, &res, why, sizeof(why)), 0);
	tt_store_close(st);
	assert_int_equal(res.problems, fd->problems);
	return res;
}

/*
 * A clean store verifies with 0 problems and 0 warnings, every event decoded;
 * then each field verify checks, edited (a random bit flipped, or a value
 * moved out of its range), is reported by exactly one line naming its row.
 */
#ifndef ROUNDS
#define ROUNDS 6 /* edits of each field; -DROUNDS=N for more */
#endif

static void test_verify_every_field(void **state)
{
	static const struct {
		const char *table, *col;
	} fields[] = {
		{ "blocks", "offset" },		{ "blocks", "length" },
		{ "blocks", "raw_length" },	{ "blocks", "t_start_ns" },
		{ "blocks", "t_end_ns" },	{ "blocks", "events" },
		{ "blocks", "checksum" },	{ "blocks", "keyframe" },
		{ "segments", "recording_id" }, { "segments", "seq" },
		{ "segments", "bytes" },	{ "segments", "blocks" },
		{ "segments", "t_start_ns" },	{ "segments", "t_end_ns" },
	};
	struct fx *f = *state;
	uint64_t g = 0xf11b; /* tst_rnd state */
	struct tt_verify_result res;
	struct found fd;
	char orig[256], idx[256], sql[512], dir2[160];
	unsigned k, round;

	tst_rmtree(f->sparse);
	record(f->sparse, 0x5eed, KF_SPARSE, NULL);
	res = verify_dir(f->sparse, &fd);
	if (fd.problems || fd.warnings)
		fail_msg("a clean store: %s", fd.lines);
	assert_int_equal(res.frames, 80);
	assert_int_equal(res.segments, 4);
	assert_int_equal((int64_t)res.events,
			 tst_q_int(f->sparse, "SELECT sum(events) FROM blocks"));

	snprintf(dir2, sizeof(dir2), "%s/edit", f->tmp);
	tst_rmtree(dir2);
	copy_store(f->sparse, dir2);
	snprintf(idx, sizeof(idx), "%s/index.db", dir2);
	snprintf(orig, sizeof(orig), "%s/index.db", f->sparse);
	for (round = 0; round < ROUNDS; round++) {
		for (k = 0; k < sizeof(fields) / sizeof(fields[0]); k++) {
			const char *t = fields[k].table, *c = fields[k].col;
			/* a row of the table, the stream's own random choice (ids from 1) */
			int64_t id = 1 + (int64_t)(tst_rnd(&g) % (!strcmp(t, "blocks") ? 80 : 4));
			/* keyframe is 0 or 1; the others any bit an edit may hit */
			int64_t bit = !strcmp(c, "keyframe") ? 1 : (int64_t)1 << (tst_rnd(&g) % 40);
			char row[64];

			snprintf(sql, sizeof(sql),
				 "UPDATE %s SET %s = (%s | %" PRId64 ") - (%s & %" PRId64 ") WHERE "
				 "id = %" PRId64,
				 t, c, c, bit, c, bit, id);
			if (try_sql(dir2, sql) != SQLITE_OK)
				continue; /* two rows made one (UNIQUE): not an index anyone can
					     have */
			verify_dir(dir2, &fd);
			snprintf(row, sizeof(row), "%s row %" PRId64 " (", t, id);
			if (fd.problems != 1 || !strstr(fd.lines, row) || !strstr(fd.lines, c))
				fail_msg("%s.%s of row %" PRId64 " ^ %" PRId64 ": %u problems:\n%s",
					 t, c, id, bit, fd.problems, fd.lines);
			exec_sql(dir2, sql); /* flipped back */
		}
	}
	/* spans: edits that move them past what the blocks hold */
	{
		static const char *const edits[][2] = {
			{ "UPDATE recordings SET start_ns = start_ns + 3600000000000",
			  "recordings row 1" },
			{ "UPDATE recordings SET end_ns = start_ns + 1000", "recordings row 1" },
			{ "UPDATE conns SET last_seen_ns = last_seen_ns + 3600000000000 WHERE id = 7",
			  "conns row 7" },
			{ "UPDATE conns SET recording_id = 99 WHERE id = 9", "conns row 9" },
			{ "UPDATE rollups SET last_ns = res * 1000000000 + 1 WHERE (res, t, conn, part) "
			  "= (SELECT res, t, conn, part FROM rollups LIMIT 1)",
			  "rollups row " },
			{ "UPDATE rollups SET bytes_out = bytes_out + 1 WHERE (res, t, conn, part) = "
			  "(SELECT res, t, conn, part FROM rollups WHERE res = 3600 AND conn = 12)",
			  "conns row 12" },
			{ "UPDATE rollups SET packets_in = packets_in + 1024 WHERE (res, t, conn, part) = "
			  "(SELECT res, t, conn, part FROM rollups WHERE res = 300 AND conn = 13 LIMIT 1)",
			  "conns row 13" },
			{ "UPDATE conns SET bytes_in = bytes_in + 1 WHERE id = 11",
			  "conns row 11" },
		};

		for (k = 0; k < sizeof(edits) / sizeof(edits[0]); k++) {
			tst_rmtree(dir2);
			copy_store(f->sparse, dir2);
			exec_sql(dir2, edits[k][0]);
			verify_dir(dir2, &fd);
			if (fd.problems < 1 || !strstr(fd.lines, edits[k][1]))
				fail_msg("%s: %u problems:\n%s", edits[k][0], fd.problems,
					 fd.lines);
		}
	}
	(void)orig;
	tst_rmtree(dir2);
}

/*
 * Segment seq of recording 1 in dir as a crash leaves it: without the clean
 * stop its header says once a stop was recorded (TT_SEG_CLEAN_END).
 */
static void unmark_clean_end(const char *dir, unsigned seq)
{
	char path[4096 + 64], name[64];
	uint8_t h[TT_SEGC_HDR_LEN];
	struct tt_segc_file fh;
	int fd;

	assert_int_equal(tt_store_segment_name(name, sizeof(name), 1, seq), 0);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, h, sizeof(h), 0), sizeof(h));
	assert_int_equal(tt_segc_file_decode(h, sizeof(h), &fh), TT_SEGC_OK);
	assert_true(fh.meta.flags & TT_SEG_CLEAN_END); /* a clean stop said so */
	fh.meta.flags = 0;
	tt_segc_file_encode(h, &fh.meta);
	assert_int_equal(pwrite(fd, h, sizeof(h), 0), sizeof(h));
	close(fd);
}

/*
 * A crash between a block's fsync and its index transaction, three blocks
 * over: the frames are in the segment, the index stops before them. The next
 * recorder start adopts them: every frame indexed, and the store answers as
 * the one whose index saw them all.
 */
static void test_adopt_unindexed_blocks(void **state)
{
	struct fx *f = *state;
	struct tst_capture full = { 0 }, c = { 0 };
	struct tt_writer_opts wo;
	struct tt_writer *w;
	struct tt_store *st;
	char dir2[160], why[512];
	const char *warn;
	uint64_t n = 0;
	size_t i;

	tst_rmtree(f->sparse);
	record(f->sparse, 0x5eed, KF_SPARSE, NULL);
	tst_scan(f->sparse, 0, 0, &full, NULL, 0);
	snprintf(dir2, sizeof(dir2), "%s/crash", f->tmp);
	tst_rmtree(dir2);
	copy_store(f->sparse, dir2);
	/* what the index said before the last three blocks' transactions: open, unsealed */
	exec_sql(dir2,
		 "DELETE FROM blocks WHERE id IN (SELECT id FROM blocks ORDER BY id DESC "
		 "LIMIT 3); UPDATE segments SET sealed = 0, blocks = (SELECT count(*) FROM "
		 "blocks b WHERE b.segment_id = segments.id), bytes = (SELECT max(offset + "
		 "length) FROM blocks b WHERE b.segment_id = segments.id), t_end_ns = (SELECT "
		 "max(t_end_ns) FROM blocks b WHERE b.segment_id = segments.id) WHERE seq = 3; "
		 "UPDATE recordings SET end_ns = NULL, clean_stop = 0");
	unmark_clean_end(dir2, 3);
	assert_int_equal(tt_store_open(dir2, TT_STORE_READ, 0, 0, &st, why, sizeof(why)), 0);
	assert_int_equal(tt_repair_unindexed(st, &n, why, sizeof(why)), 0);
	tt_store_close(st);
	assert_int_equal(n, 3);

	/* while a recorder holds the store, it indexes its own blocks: nothing is touched */
	{
		struct tt_store *holder;

		assert_int_equal(tt_store_open(dir2, TT_STORE_WRITE, 0700, 0600, &holder, why,
					       sizeof(why)),
				 0);
		n = 0;
		assert_int_equal(tt_repair_adopt(dir2, NULL, &n, NULL, why, sizeof(why)), -EBUSY);
		assert_int_equal(n, 3);
		tt_store_close(holder);
		assert_int_equal(tst_q_int(dir2, "SELECT count(*) FROM blocks"), 77);
	}

	/* the next recorder start */
	tt_writer_opts_default(&wo);
	wo.dir = dir2;
	wo.rec.host = "testhost";
	wo.rec.start_ns = (uint64_t)((int64_t)T0 + M2W) + 1000 * SEC;
	wo.rec.mono_to_wall_ns = M2W;
	assert_int_equal(tt_writer_open(&wo, &w, why, sizeof(why)), 0);
	warn = tt_writer_take_warning(w);
	assert_non_null(warn);
	assert_non_null(strstr(warn, "3 blocks"));
	assert_non_null(strstr(warn, "adopted"));
	tt_writer_free(w);
	assert_int_equal(tst_q_int(dir2, "SELECT count(*) FROM blocks b JOIN segments s ON s.id = "
					 "b.segment_id WHERE s.recording_id = 1"),
			 80);
	assert_int_equal(tst_q_int(dir2,
				   "SELECT count(*) FROM recordings WHERE id = 1 AND end_ns IS "
				   "NULL"),
			 1);
	/* every table as before, through the rollups too */
	tst_scan(dir2, 0, (uint64_t)((int64_t)T0 + M2W) + 500 * SEC, &c, NULL, 0);
	assert_int_equal(c.n, full.n);
	for (i = 0; i < c.n; i++)
		tst_assert_table_equal(&c.t[i].t, &full.t[i].t, 1);
	assert_int_equal(tst_q_int(dir2,
				   "SELECT sum(r.bytes_in) FROM rollups r JOIN conns c ON c.id = "
				   "r.conn WHERE c.recording_id = 1 AND r.res = 3600"),
			 tst_q_int(f->sparse,
				   "SELECT sum(bytes_in) FROM rollups WHERE res = 3600"));
	tst_capture_free(&c);
	tst_capture_free(&full);
	tst_rmtree(dir2);
}

/*
 * A reindex killed before its rename leaves index.db.rebuild, its -wal and
 * -shm: the retry removes them and succeeds, and the new index.db has the
 * mode and group of the one it replaces (a --group store stays readable);
 * the recording's rollups keep the length it was recorded with.
 */
static void test_reindex_retry_and_mode(void **state)
{
	static const char *const left[] = { "index.db.rebuild", "index.db.rebuild-wal",
					    "index.db.rebuild-shm" };
	struct fx *f = *state;
	char path[256], why[512];
	struct tt_reindex_result res;
	struct stat before, after;
	gid_t gid = getuid() == 0 ? 1 : getgid(); /* root can give it another group */
	size_t i;

	tst_rmtree(f->sparse);
	record(f->sparse, 0x5eed, KF_SPARSE, NULL);
	for (i = 0; i < 3; i++) {
		int fd;

		snprintf(path, sizeof(path), "%s/%s", f->sparse, left[i]);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
		assert_true(fd >= 0);
		assert_int_equal(write(fd, "torn", 4), 4);
		close(fd);
	}
	/* as if it was recorded with --bucket 60s: the rebuilt rollups keep that length */
	exec_sql(f->sparse, "UPDATE recordings SET rollup_ns = 60000000000");
	snprintf(path, sizeof(path), "%s/index.db", f->sparse);
	assert_int_equal(chown(path, (uid_t)-1, gid), 0);
	assert_int_equal(chmod(path, 0640), 0);
	assert_int_equal(stat(path, &before), 0);
	assert_int_equal(tt_reindex(f->sparse, NULL, &res, why, sizeof(why)), 0);
	assert_int_equal(res.blocks, 80);
	assert_int_equal(stat(path, &after), 0);
	assert_true(after.st_ino != before.st_ino); /* a new file */
	assert_int_equal(after.st_mode & 07777, 0640);
	assert_int_equal(after.st_gid, gid);
	assert_int_equal(after.st_uid, before.st_uid);
	for (i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", f->sparse, left[i]);
		assert_int_equal(access(path, F_OK), -1);
	}
	assert_int_equal(tst_q_int(f->sparse, "SELECT count(*) FROM blocks"), 80);
	assert_int_equal(tst_q_int(f->sparse, "SELECT rollup_ns FROM recordings"), 60000000000ll);
	assert_int_equal(tst_q_int(f->sparse, "SELECT count(*) FROM rollups WHERE res = 300"), 0);
	assert_true(tst_q_int(f->sparse, "SELECT count(*) FROM rollups WHERE res = 60") > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keyframe_blocks_where_due),
		cmocka_unit_test(test_window_between_keyframes_equals_full_replay),
		cmocka_unit_test(test_sparse_answers_as_dense),
		cmocka_unit_test(test_damaged_delta_block_waits_for_keyframe),
		cmocka_unit_test(test_header_damage_every_bit),
		cmocka_unit_test(test_verify_every_field),
		cmocka_unit_test(test_adopt_unindexed_blocks),
		cmocka_unit_test(test_reindex_retry_and_mode),
	};

	return cmocka_run_group_tests_name("replay", tests, setup, teardown);
}
