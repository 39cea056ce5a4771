/*
 * Unit tests of writer.c, the recorder's persistence, on the synthetic stream of
 * tests/support (every event type): blocks flushed every --flush right after a
 * tick, keyframe blocks every --keyframe and at every segment's start, the last
 * partial block flushed by finish; segments rolled by time and by size;
 * retention by age and by the size of the whole directory (checked after every
 * tick); what a crash leaves (the pending block lost, nothing else; a torn tail
 * reported once by the next open, which seals it and writes new files). Every
 * store is read back with tt_scan: write -> read -> aggregate equals the
 * recorder's own tables.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "clock.h"
#include "store.h"
#include "writer.h"
#include "tst.h"

#define SEC TST_SEC
#define T0  (100 * SEC) /* CLOCK_MONOTONIC of the first tick's start */
#define M2W (1700000000ll * (int64_t)SEC)

struct fx {
	char tmp[64];
	char dir[128];
};

/* A fresh directory per test: one that fails leaves no lock to the next. */
static int setup(void **state)
{
	static struct fx f;

	if (tst_tmpdir(f.tmp, sizeof(f.tmp), "writer"))
		return -1;
	snprintf(f.dir, sizeof(f.dir), "%s/store", f.tmp);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	tst_rmtree(f->tmp);
	return 0;
}

static int64_t q(const char *dir, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int64_t q(const char *dir, const char *fmt, ...)
{
	char sql[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sql, sizeof(sql), fmt, ap);
	va_end(ap);
	return tst_q_int(dir, sql);
}

static uint64_t file_size(const char *dir, const char *name)
{
	char path[512];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return stat(path, &st) ? 0 : (uint64_t)st.st_size;
}

/* Everything in the directory, as retention counts it. */
static uint64_t dir_bytes(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	uint64_t n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n += file_size(dir, de->d_name);
	closedir(d);
	return n;
}

/* Segment files in the directory. */
static int seg_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		n += strlen(de->d_name) > 4 && !strcmp(de->d_name + strlen(de->d_name) - 4, ".tts");
	closedir(d);
	return n;
}

/* Every table of the scan equals the recorder's at the same tick; the scan's first tick. */
static uint64_t check_scan(const char *dir, const struct tst_capture *live, int strict,
			   size_t *ntables)
{
	struct tst_capture c = { 0 };
	uint64_t first;
	size_t i;

	tst_scan(dir, 0, 0, &c, NULL, 0);
	assert_true(c.n > 0);
	for (i = 0; i < c.n; i++) {
		const struct tst_saved *want = tst_capture_at(live, c.t[i].t.ts_ns);

		assert_non_null(want);
		tst_assert_table_equal(&c.t[i].t, &want->t, strict);
	}
	/* and no tick of the kept span is missing */
	for (i = 1; i < c.n; i++)
		assert_int_equal(c.t[i].t.start_ns, c.t[i - 1].t.ts_ns);
	first = c.t[0].t.ts_ns;
	*ntables = c.n;
	tst_capture_free(&c);
	return first;
}

static void opts(struct tt_writer_opts *wo, const char *dir, int64_t m2w)
{
	tst_writer_opts(wo, dir, T0, m2w);
	wo->flush_ns = 5 * SEC;
	wo->keyframe_ns = 20 * SEC;
	wo->segment_ns = 0;
	wo->segment_bytes = 0;
	wo->bucket_ns = 60 * SEC;
}

static void test_flush_and_keyframes(void **state)
{
	struct fx *f = *state;
	struct tt_writer_opts wo;
	struct tst_capture live = { 0 };
	struct tst_gen g;
	size_t n, i;
	uint64_t blocks;

	opts(&wo, f->dir, M2W);
	tst_gen_init(&g, 0x1111, T0);
	blocks = tst_record(&wo, &g, 203, &live, 1);
	/* 40 blocks of 5 ticks, and the last 3 ticks flushed by finish */
	assert_int_equal(blocks, 41);
	assert_int_equal(q(f->dir, "SELECT count(*) FROM blocks"), 41);
	for (i = 0; i < 40; i++)
		assert_int_equal(q(f->dir,
				   "SELECT t_end_ns FROM blocks ORDER BY offset LIMIT 1 "
				   "OFFSET %zu",
				   i),
				 M2W + (int64_t)(T0 + 5 * (i + 1) * SEC));
	assert_int_equal(q(f->dir, "SELECT max(t_end_ns) FROM blocks"),
			 M2W + (int64_t)(T0 + 203 * SEC));
	/* a keyframe block every 20 s: blocks 0, 4, 8, ... 40; the others delta blocks */
	assert_int_equal(q(f->dir, "SELECT sum(keyframe) FROM blocks"), 11);
	assert_int_equal(q(f->dir,
			   "SELECT count(*) FROM (SELECT keyframe, row_number() OVER "
			   "(ORDER BY offset) - 1 AS i FROM blocks) WHERE keyframe != (i %% 4 = 0)"),
			 0);
	/* the clean stop */
	assert_int_equal(q(f->dir, "SELECT clean_stop FROM recordings"), 1);
	assert_int_equal(q(f->dir, "SELECT end_ns FROM recordings"),
			 M2W + (int64_t)(T0 + 203 * SEC));
	assert_int_equal(q(f->dir, "SELECT count(*) FROM segments WHERE sealed"), 1);
	assert_int_equal(q(f->dir, "SELECT bytes FROM segments"),
			 (int64_t)file_size(f->dir, "r000001-s000000.tts"));
	assert_int_equal(q(f->dir, "SELECT blocks FROM segments"), 41);
	/* write -> read -> aggregate: the recorder's tables, strictly */
	assert_int_equal(check_scan(f->dir, &live, 1, &n), T0 + SEC);
	assert_int_equal(n, 203);
	tst_capture_free(&live);
}

static void test_roll_by_time(void **state)
{
	struct fx *f = *state;
	struct tt_writer_opts wo;
	struct tst_capture live = { 0 };
	struct tst_gen g;
	size_t n;
	int64_t nseg, i;

	opts(&wo, f->dir, M2W);
	wo.segment_ns = 60 * SEC;
	wo.keyframe_ns = 3600 * SEC; /* only the segments' own keyframes */
	tst_gen_init(&g, 0x2222, T0);
	tst_record(&wo, &g, 330, &live, 1);
	nseg = q(f->dir, "SELECT count(*) FROM segments WHERE blocks > 0");
	/* 5 segments of 60 s (12 blocks) and one of the last 30 s */
	assert_int_equal(nseg, 6);
	assert_int_equal(seg_files(f->dir), q(f->dir, "SELECT count(*) FROM segments"));
	for (i = 0; i < nseg; i++) {
		assert_int_equal(q(f->dir, "SELECT blocks FROM segments WHERE seq = %" PRId64, i),
				 i < 5 ? 12 : 6);
		assert_int_equal(q(f->dir, "SELECT t_end_ns FROM segments WHERE seq = %" PRId64, i),
				 M2W + (int64_t)(T0 +
						 (uint64_t)(i < 5 ? 60 * (i + 1) : 330) * SEC));
		/* each opens with a keyframe, and only that one */
		assert_int_equal(q(f->dir,
				   "SELECT keyframe FROM blocks b JOIN segments s ON s.id = "
				   "b.segment_id WHERE s.seq = %" PRId64 " ORDER BY offset LIMIT 1",
				   i),
				 1);
	}
	assert_int_equal(q(f->dir, "SELECT sum(keyframe) FROM blocks"), 6);
	assert_int_equal(q(f->dir, "SELECT count(*) FROM segments WHERE NOT sealed"), 0);
	check_scan(f->dir, &live, 1, &n);
	assert_int_equal(n, 330);
	tst_capture_free(&live);
}

static void test_roll_by_size(void **state)
{
	struct fx *f = *state;
	struct tt_writer_opts wo;
	struct tst_capture live = { 0 };
	struct tst_gen g;
	size_t n;
	int64_t nseg, i;
	const uint64_t cap = 8192;

	opts(&wo, f->dir, M2W);
	wo.segment_bytes = cap;
	tst_gen_init(&g, 0x3333, T0);
	tst_record(&wo, &g, 300, &live, 1);
	nseg = q(f->dir, "SELECT count(*) FROM segments");
	assert_true(nseg >= 3);
	assert_int_equal(seg_files(f->dir), nseg);
	for (i = 0; i < nseg - 1; i++) {
		int64_t bytes = q(f->dir, "SELECT bytes FROM segments WHERE seq = %" PRId64, i);
		int64_t last =
			q(f->dir,
			  "SELECT b.length FROM blocks b JOIN segments s ON s.id = "
			  "b.segment_id WHERE s.seq = %" PRId64 " ORDER BY offset DESC LIMIT 1",
			  i);

		/* rolled by the first flush that reached the size, not before, not after */
		assert_true(bytes >= (int64_t)cap);
		assert_true(bytes - last < (int64_t)cap);
		assert_int_equal(q(f->dir,
				   "SELECT keyframe FROM blocks b JOIN segments s ON s.id = "
				   "b.segment_id WHERE s.seq = %" PRId64 " ORDER BY offset LIMIT 1",
				   i),
				 1);
	}
	assert_true(q(f->dir, "SELECT bytes FROM segments WHERE seq = %" PRId64, nseg - 1) <
		    (int64_t)cap + q(f->dir, "SELECT max(length) FROM blocks"));
	check_scan(f->dir, &live, 1, &n);
	assert_int_equal(n, 300);
	tst_capture_free(&live);
}

/*
 * 400 s of data ending now, segments of 60 s, --retain 130 s: the segments
 * that ended more than 130 s ago go, files and rows; the oldest one left opens
 * with a keyframe, so the store still reads from its start exactly.
 */
static void test_retain_by_age(void **state)
{
	struct fx *f = *state;
	struct tt_writer_opts wo;
	struct tst_capture live = { 0 };
	struct tst_gen g;
	int64_t m2w = (int64_t)tt_clock_ns(CLOCK_REALTIME) - (int64_t)(T0 + 400 * SEC);
	uint64_t first;
	size_t n;
	int i;

	opts(&wo, f->dir, m2w);
	wo.segment_ns = 60 * SEC;
	wo.retain_ns = 130 * SEC;
	tst_gen_init(&g, 0x4444, T0);
	tst_record(&wo, &g, 400, &live, 1);
	/* ended at -340, -280, -220, -160 s: gone; -100, -40 and the last one kept */
	assert_int_equal(q(f->dir, "SELECT min(seq) FROM segments"), 4);
	assert_int_equal(q(f->dir, "SELECT count(*) FROM segments"), 3);
	for (i = 0; i < 7; i++) {
		char name[64];

		snprintf(name, sizeof(name), "r000001-s%06d.tts", i);
		assert_int_equal(file_size(f->dir, name) > 0, i >= 4);
	}
	assert_int_equal(q(f->dir, "SELECT count(*) FROM blocks b LEFT JOIN segments s ON s.id = "
				   "b.segment_id WHERE s.id IS NULL"),
			 0);
	assert_int_equal(q(f->dir, "SELECT min(t_start_ns) FROM blocks"),
			 m2w + (int64_t)(T0 + 240 * SEC));
	first = check_scan(f->dir, &live, 0, &n);
	assert_int_equal(first, T0 + 241 * SEC);
	assert_int_equal(n, 160);
	tst_capture_free(&live);
}

/*
 * The directory after every tick, flushes and retention passes included. What
 * it holds in the middle of a flush, before that flush's pass (the headroom
 * the writer keeps for it), cannot be seen from outside: when the pass removes
 * nothing, what is seen here is that peak.
 */
struct size_watch {
	const char *dir;
	uint64_t limit, max_seen;
	int ticks;
};

static void watch_size(void *ctx, struct tt_writer *w, const struct tt_table *t)
{
	struct size_watch *sw = ctx;
	uint64_t n = dir_bytes(sw->dir);

	(void)w, (void)t;
	if (n > sw->max_seen)
		sw->max_seen = n;
	/* the first block (a row for every connection) may go over; none after it */
	if (++sw->ticks > 10 && n > sw->limit)
		fail_msg("tick %d: the directory holds %" PRIu64
			 " bytes, over --retain-size %" PRIu64,
			 sw->ticks, n, sw->limit);
}

static void test_retain_by_size(void **state)
{
	struct fx *f = *state;
	struct tt_writer_opts wo;
	struct tst_capture live = { 0 };
	struct tst_gen g;
	struct size_watch sw = { .dir = f->dir, .limit = 500 << 10 };
	uint64_t first;
	size_t n;

	opts(&wo, f->dir, M2W);
	wo.retain_bytes = sw.limit; /* caps segments at a quarter of it */
	/*
	 * hour rollups: the index stays small beside the segments, far from a
	 * limit too small to hold it and the segment being written (where the
	 * writer warns and goes over: not this test)
	 */
	wo.bucket_ns = 3600 * SEC;
	tst_gen_init(&g, 0x5555, T0);
	tst_record_cb(&wo, &g, 1500, &live, 1, watch_size, &sw);
	print_message("directory at most %" PRIu64 " KiB of %" PRIu64 " KiB, %" PRId64
		      " segments left, index %" PRIu64 " KiB\n",
		      sw.max_seen >> 10, sw.limit >> 10, q(f->dir, "SELECT count(*) FROM segments"),
		      file_size(f->dir, "index.db") >> 10);
	assert_true(dir_bytes(f->dir) <= sw.limit);
	/* something was removed, and what is left reads from its first segment's start */
	assert_true(q(f->dir, "SELECT min(seq) FROM segments") > 0);
	assert_int_equal(seg_files(f->dir), q(f->dir, "SELECT count(*) FROM segments"));
	assert_true(q(f->dir, "SELECT max(bytes) FROM segments") <=
		    (int64_t)(sw.limit / 4) + q(f->dir, "SELECT max(length) FROM blocks"));
	first = check_scan(f->dir, &live, 0, &n);
	assert_true(first > T0 + SEC);
	assert_int_equal(first + (n - 1) * SEC, T0 + 1500 * SEC);
	tst_capture_free(&live);
}

/*
 * A crash: the writer freed without a finish loses the block being built and
 * nothing else. Half a frame after the last one (the write a crash cut) is
 * reported by the next open, once; the segment is sealed, never appended to.
 */
static void test_crash_loses_only_the_pending_block(void **state)
{
	struct fx *f = *state;
	struct tt_writer_opts wo;
	struct tst_capture live = { 0 }, c = { 0 };
	struct tt_writer *w;
	struct tst_gen g;
	char path[512], why[512], warn[512];
	const char *msg;
	size_t i;
	int fd;

	opts(&wo, f->dir, M2W);
	tst_gen_init(&g, 0x6666, T0);
	assert_int_equal(tst_record(&wo, &g, 203, &live, 0), 40);
	assert_int_equal(q(f->dir, "SELECT count(*) FROM blocks"), 40);
	assert_int_equal(q(f->dir, "SELECT end_ns IS NULL AND NOT clean_stop FROM recordings"), 1);
	assert_int_equal(q(f->dir, "SELECT sealed FROM segments"), 0);
	tst_scan(f->dir, 0, 0, &c, NULL, 0);
	assert_int_equal(c.n, 200);
	for (i = 0; i < c.n; i++)
		tst_assert_table_equal(&c.t[i].t, &live.t[i].t, 1);
	tst_capture_free(&c);

	/* a torn write after the last frame */
	snprintf(path, sizeof(path), "%s/r000001-s000000.tts", f->dir);
	fd = open(path, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "\x28\xb5\x2f\xfd garbage of a half-written frame", 36), 36);
	close(fd);

	wo.rec.start_ns += 1000 * SEC;
	assert_int_equal(tt_writer_open(&wo, &w, why, sizeof(why)), 0);
	msg = tt_writer_take_warning(w);
	assert_non_null(msg);
	assert_non_null(strstr(msg, "r000001-s000000.tts: damaged after an unclean stop "
				    "(40 intact blocks kept"));
	assert_null(tt_writer_take_warning(w));
	assert_int_equal(tt_writer_finish(w, (uint64_t)(M2W + (int64_t)(T0 + 1001 * SEC))), 0);
	tt_writer_free(w);
	assert_int_equal(q(f->dir, "SELECT count(*) FROM segments WHERE NOT sealed"), 0);
	assert_int_equal(q(f->dir, "SELECT count(*) FROM recordings"), 2);
	assert_true(file_size(f->dir, "r000002-s000000.tts") > 0);
	/* the first recording still reads the same: the torn bytes are not a block */
	tst_scan(f->dir, 0, (uint64_t)(M2W + (int64_t)(T0 + 500 * SEC)), &c, warn, sizeof(warn));
	assert_int_equal(c.n, 200);
	for (i = 0; i < c.n; i++)
		tst_assert_table_equal(&c.t[i].t, &live.t[i].t, 1);
	tst_capture_free(&c);
	tst_capture_free(&live);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_flush_and_keyframes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_roll_by_time, setup, teardown),
		cmocka_unit_test_setup_teardown(test_roll_by_size, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retain_by_age, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retain_by_size, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_loses_only_the_pending_block, setup,
						teardown),
	};

	return cmocka_run_group_tests_name("writer", tests, NULL, NULL);
}
