/*
 * Unit tests of the store in temporary directories: what tt_store_block writes
 * read back with SQL against what the test fed (through the real aggregator and
 * indexer), the views, the writer lock, file modes, errors for things that are
 * not stores, retention by size and age, schema migration and refusal, a
 * failed transaction retried without loss, and the cost of a block.
 */
#define _GNU_SOURCE
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
#include <sys/wait.h>
#include <unistd.h>
#include <netinet/in.h>
#include <cmocka.h>
#include <sqlite3.h>

#include "aggregator.h"
#include "format.h"
#include "indexer.h"
#include "store.h"
#include "store_int.h" /* white-box: the test reads the index itself */
#include "tst.h"

#define SEC    1000000000ull
#define M2W    (1700000000ull * SEC) /* a multiple of 10 s: bucket edges are easy to name */
#define BUCKET (10 * SEC)

struct fx {
	char tmp[64]; /* mkdtemp */
	char dir[128]; /* tmp/store: created by the store */
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	if (tst_tmpdir(f->tmp, sizeof(f->tmp), "store"))
		return -1;
	snprintf(f->dir, sizeof(f->dir), "%s/store", f->tmp);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	tt_store_test_schema(0, NULL);
	tst_rmtree(f->tmp);
	free(f);
	return 0;
}

static struct tt_store *open_w(const char *dir)
{
	struct tt_store *s = NULL;
	char why[512];
	int err = tt_store_open(dir, TT_STORE_WRITE, 0700, 0600, &s, why, sizeof(why));

	if (err)
		print_error("open %s: %s\n", dir, why);
	assert_int_equal(err, 0);
	assert_non_null(s);
	return s;
}

static sqlite3 *db_of(struct tt_store *s)
{
	return tt_store_sqlite(s);
}

/* First column of a one-row query; fails the test on an SQL error. */
static int64_t q_int(sqlite3 *db, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int64_t q_int(sqlite3 *db, const char *fmt, ...)
{
	sqlite3_stmt *q;
	char sql[1024];
	va_list ap;
	int64_t v = -1;

	va_start(ap, fmt);
	vsnprintf(sql, sizeof(sql), fmt, ap);
	va_end(ap);
	if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK) {
		print_error("%s: %s\n", sql, sqlite3_errmsg(db));
		fail();
	}
	if (sqlite3_step(q) == SQLITE_ROW)
		v = sqlite3_column_type(q, 0) == SQLITE_NULL ? INT64_MIN
							     : sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	return v;
}

static const char *q_text(sqlite3 *db, char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static const char *q_text(sqlite3 *db, char *buf, size_t len, const char *fmt, ...)
{
	sqlite3_stmt *q;
	char sql[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sql, sizeof(sql), fmt, ap);
	va_end(ap);
	if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK) {
		print_error("%s: %s\n", sql, sqlite3_errmsg(db));
		fail();
	}
	snprintf(buf, len, "%s", "<none>");
	if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_text(q, 0))
		snprintf(buf, len, "%s", (const char *)sqlite3_column_text(q, 0));
	sqlite3_finalize(q);
	return buf;
}

static const struct tt_recording_info rec_info = {
	.host = "db-7",
	.kernel = "6.1.0-test",
	.boot_id = "0f8e2b2c-1111-2222-3333-444455556666",
	.options = "tcptop-record -d /var/lib/tcptop",
	.tool_version = "0.1.0",
	.start_ns = M2W + 100 * SEC,
	.mono_to_wall_ns = (int64_t)M2W,
};

/* ---- a synthetic recording through the real aggregator and indexer ------------------------ */

struct gen {
	struct tt_agg *agg;
	struct tt_indexer *ix;
	uint64_t now; /* CLOCK_MONOTONIC of the last tick */
};

static void gen_init(struct gen *g, uint64_t start)
{
	g->agg = tt_agg_new();
	g->ix = tt_indexer_new(BUCKET, (int64_t)M2W);
	assert_non_null(g->agg);
	assert_non_null(g->ix);
	g->now = start;
}

static void gen_free(struct gen *g)
{
	tt_agg_free(g->agg);
	tt_indexer_free(g->ix);
}

static void gen_feed(struct gen *g, const struct tt_event *e)
{
	int rc = tt_agg_feed(g->agg, e);

	assert_true(rc >= 0);
	if (rc == 1)
		assert_int_equal(tt_indexer_add(g->ix, tt_agg_table(g->agg)), 0);
}

static void v4(uint8_t a[16], uint8_t x, uint8_t y, uint8_t z, uint8_t w)
{
	memset(a, 0, 16);
	a[10] = a[11] = 0xff;
	a[12] = x, a[13] = y, a[14] = z, a[15] = w;
}

static void gen_conn(struct gen *g, uint64_t id, int family, int proto, uint16_t lport,
		     uint16_t rport, uint32_t pid, const char *comm, uint8_t flags)
{
	struct tt_event e = { .ts_ns = g->now + 1, .type = TT_EV_CONN };

	e.conn.id = id;
	e.conn.family = (uint8_t)family;
	e.conn.proto = (uint8_t)proto;
	if (family == 4) {
		v4(e.conn.laddr, 10, 0, 0, 1);
		v4(e.conn.raddr, 10, 0, 0, 2);
	} else {
		e.conn.laddr[15] = 1;
		e.conn.raddr[15] = 1;
	}
	e.conn.lport = lport;
	e.conn.rport = rport;
	e.conn.pid = pid + 1;
	e.conn.tgid = pid;
	e.conn.flags = flags;
	e.conn.cgroup = 4242;
	e.conn.netns = 4026531840u;
	e.conn.open_ns = g->now + 1;
	snprintf(e.conn.comm, sizeof(e.conn.comm), "%s", comm);
	gen_feed(g, &e);
}

static void gen_sample(struct gen *g, uint64_t id, uint64_t in, uint64_t out, uint32_t srtt,
		       uint32_t retrans)
{
	struct tt_event e = { .ts_ns = g->now + 2, .type = TT_EV_SAMPLE };

	e.sample.id = id;
	e.sample.c.bytes_in = in;
	e.sample.c.bytes_out = out;
	e.sample.c.packets_in = in / 1000;
	e.sample.c.packets_out = out / 1000;
	e.sample.c.srtt_us = srtt;
	e.sample.c.retrans = retrans;
	e.sample.c.state = srtt ? TT_TCP_ESTABLISHED : 0;
	gen_feed(g, &e);
}

static void gen_close(struct gen *g, uint64_t id, uint8_t reason, uint16_t err)
{
	struct tt_event e = { .ts_ns = g->now + 3, .type = TT_EV_CLOSE };
	const struct tt_table *t = tt_agg_table(g->agg);
	size_t i;

	e.close.id = id;
	/* final totals: what the last table said */
	for (i = 0; i < t->n; i++)
		if (t->rows[i].conn.id == id)
			e.close.c = t->rows[i].tot;
	e.close.c.state = TT_TCP_CLOSE;
	e.close.reason = reason;
	e.close.err = err;
	gen_feed(g, &e);
}

static void gen_tick(struct gen *g)
{
	struct tt_event e = { .type = TT_EV_TICK };

	e.tick.start_ns = g->now;
	g->now += SEC;
	e.ts_ns = g->now;
	gen_feed(g, &e);
}

static struct tt_block_info block_at(uint64_t off, uint32_t len, uint64_t t0, uint64_t t1)
{
	struct tt_block_info bi = { .offset = off,
				    .length = len,
				    .raw_len = len * 4,
				    .t_start = t0,
				    .t_end = t1,
				    .n_events = 77,
				    .checksum = 0xdeadbeef,
				    .keyframe = 1 };

	return bi;
}

/* the last migration in schema/ */
#define SCHEMA_NOW 3

#define ID_A 0x1001ull
#define ID_B 0x1002ull
#define ID_C 0x1003ull
#define ID_D (0x8000000000000000ull | 0xd0d0ull)

/*
 * Ten 1 s ticks from 100 s (monotonic), two blocks of five: A (v4, nginx)
 * sends all along, B (v6, psql) only in the second block, C is a refused
 * connect, D a UDP peer flow. Returns the recording id.
 */
static int64_t write_recording(struct tt_store *s, int64_t *seg_out, uint64_t *a_in,
			       uint64_t *a_out)
{
	struct tt_ev_loss loss1 = { .ring_drops = 3, .socks_full = 0, .peers_full = 1 };
	struct tt_ev_loss loss2 = { .ring_drops = 10, .socks_full = 2, .peers_full = 1 };
	uint64_t in = 0, out = 0, b_in = 0;
	struct tt_block_info bi;
	struct gen g;
	int64_t rec, seg;
	int k;

	gen_init(&g, 100 * SEC);
	assert_int_equal(tt_store_recording_begin(s, &rec_info, &rec), 0);
	assert_int_equal(tt_store_segment_begin(s, rec, 0, "r000001-s000000.tts", M2W + 100 * SEC,
						&seg),
			 0);
	gen_conn(&g, ID_A, 4, IPPROTO_TCP, 43210, 443, 100, "nginx", 0);
	gen_conn(&g, ID_C, 4, IPPROTO_TCP, 50000, 8080, 300, "curl", 0);
	gen_conn(&g, ID_D, 4, IPPROTO_UDP, 53, 33333, 400, "named", TT_CF_UDP_PEER);
	for (k = 1; k <= 10; k++) {
		in += 1000 * (uint64_t)k;
		out += 300;
		gen_sample(&g, ID_A, in, out, 100 * (uint32_t)k, (uint32_t)k / 4);
		if (k == 1)
			gen_close(&g, ID_C, TT_CLOSE_FAILED, ECONNREFUSED);
		if (k == 6)
			gen_conn(&g, ID_B, 6, IPPROTO_TCP, 5432, 40000, 200, "psql", TT_CF_PARTIAL);
		if (k >= 6) {
			b_in += 50000;
			gen_sample(&g, ID_B, b_in, 10, 0, 0);
		}
		gen_sample(&g, ID_D, 64 * (uint64_t)k, 64 * (uint64_t)k, 0, 0);
		gen_tick(&g);
		if (k == 5) {
			bi = block_at(64, 1000, 100 * SEC, 105 * SEC);
			assert_int_equal(tt_store_block(s, seg, &bi, (int64_t)M2W, &loss1, g.ix),
					 0);
		}
	}
	bi = block_at(1064, 2000, 105 * SEC, 110 * SEC);
	assert_int_equal(tt_store_block(s, seg, &bi, (int64_t)M2W, &loss2, g.ix), 0);
	assert_int_equal(tt_store_segment_seal(s, seg), 0);
	assert_int_equal(tt_store_recording_end(s, rec, M2W + 111 * SEC, 1), 0);
	gen_free(&g);
	*seg_out = seg;
	*a_in = in;
	*a_out = out;
	return rec;
}

static void test_write_read_back(void **state)
{
	struct fx *f = *state;
	struct tt_store *s = open_w(f->dir);
	uint64_t a_in, a_out, bytes;
	int64_t rec, seg;
	char buf[256], want[64];
	uint8_t addr[16];
	sqlite3 *db;
	char why[256];

	rec = write_recording(s, &seg, &a_in, &a_out);
	tt_store_close(s);

	/* a reader, once the writer is gone: the WAL was checkpointed */
	assert_int_equal(tt_store_open(f->dir, TT_STORE_READ, 0, 0, &s, why, sizeof(why)), 0);
	assert_int_equal(tt_store_schema_version(s), SCHEMA_NOW);
	assert_string_equal(tt_store_dir(s), f->dir);
	db = db_of(s);

	assert_string_equal(q_text(db, buf, sizeof(buf),
				   "SELECT host || '|' || kernel || '|' || "
				   "boot_id || '|' || options || '|' || tool_version FROM recordings "
				   "WHERE id = %" PRId64,
				   rec),
			    "db-7|6.1.0-test|0f8e2b2c-1111-2222-3333-444455556666|"
			    "tcptop-record -d /var/lib/tcptop|0.1.0");
	assert_int_equal(q_int(db, "SELECT start_ns FROM recordings"), M2W + 100 * SEC);
	assert_int_equal(q_int(db, "SELECT end_ns FROM recordings"), M2W + 111 * SEC);
	assert_int_equal(q_int(db, "SELECT clean_stop FROM recordings"), 1);
	assert_int_equal(q_int(db, "SELECT mono_to_wall_ns FROM recordings"), M2W);
	assert_int_equal(q_int(db, "SELECT bucket_ns FROM recordings"), BUCKET);

	/* segment: span and size from its blocks */
	assert_int_equal(q_int(db, "SELECT count(*) FROM segments"), 1);
	assert_int_equal(q_int(db, "SELECT t_start_ns FROM segments"), M2W + 100 * SEC);
	assert_int_equal(q_int(db, "SELECT t_end_ns FROM segments"), M2W + 110 * SEC);
	assert_int_equal(q_int(db, "SELECT bytes FROM segments"), 3064);
	assert_int_equal(q_int(db, "SELECT blocks FROM segments"), 2);
	assert_int_equal(q_int(db, "SELECT sealed FROM segments"), 1);
	assert_int_equal(tt_store_segment_bytes(s, &bytes), 0);
	assert_int_equal(bytes, 3064);

	/* blocks and losses */
	assert_int_equal(q_int(db, "SELECT count(*) FROM blocks WHERE segment_id = %" PRId64, seg),
			 2);
	assert_int_equal(q_int(db, "SELECT length FROM blocks WHERE offset = 1064"), 2000);
	assert_int_equal(q_int(db, "SELECT raw_length FROM blocks WHERE offset = 1064"), 8000);
	assert_int_equal(q_int(db, "SELECT events FROM blocks WHERE offset = 64"), 77);
	assert_int_equal(q_int(db, "SELECT checksum FROM blocks WHERE offset = 64"), 0xdeadbeef);
	assert_int_equal(q_int(db, "SELECT t_start_ns FROM blocks WHERE offset = 1064"),
			 M2W + 105 * SEC);
	assert_int_equal(q_int(db, "SELECT ring_drops FROM blocks WHERE offset = 1064"), 10);
	assert_int_equal(q_int(db, "SELECT ring_drops FROM v_losses ORDER BY t_start_ns LIMIT 1"),
			 3);
	assert_int_equal(q_int(db, "SELECT ring_drops FROM v_losses ORDER BY t_start_ns DESC "
				   "LIMIT 1"),
			 7);
	assert_int_equal(q_int(db, "SELECT socks_full FROM v_losses ORDER BY t_start_ns DESC "
				   "LIMIT 1"),
			 2);
	assert_int_equal(q_int(db, "SELECT peers_full FROM v_losses ORDER BY t_start_ns DESC "
				   "LIMIT 1"),
			 0);

	/* connections: one row per lifetime, what the stream said */
	assert_int_equal(q_int(db, "SELECT count(*) FROM connections"), 4);
	assert_int_equal(q_int(db, "SELECT bytes_in FROM connections WHERE conn_id = %llu", ID_A),
			 a_in);
	assert_int_equal(q_int(db, "SELECT bytes_out FROM connections WHERE conn_id = %llu", ID_A),
			 a_out);
	assert_int_equal(q_int(db, "SELECT packets_in FROM connections WHERE conn_id = %llu", ID_A),
			 a_in / 1000);
	assert_int_equal(q_int(db, "SELECT retrans FROM connections WHERE conn_id = %llu", ID_A),
			 2);
	assert_int_equal(q_int(db, "SELECT rtt_min_us FROM connections WHERE conn_id = %llu", ID_A),
			 100);
	assert_int_equal(q_int(db, "SELECT rtt_max_us FROM connections WHERE conn_id = %llu", ID_A),
			 1000);
	assert_int_equal(q_int(db, "SELECT rtt_avg_us FROM connections WHERE conn_id = %llu", ID_A),
			 550);
	assert_int_equal(q_int(db, "SELECT peak_rate_in FROM connections WHERE conn_id = %llu",
			       ID_A),
			 10000);
	assert_int_equal(q_int(db, "SELECT open_ns FROM connections WHERE conn_id = %llu", ID_A),
			 M2W + 100 * SEC + 1);
	assert_int_equal(q_int(db, "SELECT last_seen_ns FROM connections WHERE conn_id = %llu",
			       ID_A),
			 M2W + 110 * SEC);
	assert_int_equal(q_int(db,
			       "SELECT close_ns IS NULL AND close_reason IS NULL FROM "
			       "connections WHERE conn_id = %llu",
			       ID_A),
			 1);
	assert_int_equal(q_int(db, "SELECT pid FROM connections WHERE conn_id = %llu", ID_A), 100);
	assert_int_equal(q_int(db, "SELECT tid FROM connections WHERE conn_id = %llu", ID_A), 101);
	assert_int_equal(q_int(db, "SELECT cgroup FROM connections WHERE conn_id = %llu", ID_A),
			 4242);
	assert_string_equal(q_text(db, buf, sizeof(buf),
				   "SELECT proto || ' ' || laddr || ':' || "
				   "lport || ' ' || raddr || ':' || rport || ' ' || comm || ' ' || "
				   "state FROM connections WHERE conn_id = %llu",
				   ID_A),
			    "tcp 10.0.0.1:43210 10.0.0.2:443 nginx ESTAB");
	/* the same spelling as the printers use */
	v4(addr, 10, 0, 0, 2);
	assert_string_equal(q_text(db, buf, sizeof(buf),
				   "SELECT raddr FROM connections WHERE "
				   "conn_id = %llu",
				   ID_A),
			    tt_fmt_addr(want, sizeof(want), addr, 4));
	assert_string_equal(q_text(db, buf, sizeof(buf),
				   "SELECT local || ' ' || remote || ' ' || "
				   "partial FROM v_connections WHERE conn_id = %llu",
				   ID_B),
			    "[::1]:5432 [::1]:40000 1");
	assert_int_equal(q_int(db, "SELECT rtt_avg_us FROM connections WHERE conn_id = %llu", ID_B),
			 INT64_MIN);
	assert_string_equal(q_text(db, buf, sizeof(buf),
				   "SELECT close_reason || ' ' || close_errno "
				   "|| ' ' || close_error FROM v_connections WHERE conn_id = %llu",
				   ID_C),
			    "failed 111 ECONNREFUSED");
	assert_int_equal(q_int(db, "SELECT close_ns FROM connections WHERE conn_id = %llu", ID_C),
			 M2W + 100 * SEC + 3);
	assert_string_equal(q_text(db, buf, sizeof(buf),
				   "SELECT proto || ' ' || udp_peer || ' ' || "
				   "comm FROM connections WHERE conn_id = %lld",
				   (long long)ID_D),
			    "udp 1 named");
	assert_string_equal(q_text(db, buf, sizeof(buf),
				   "SELECT opened FROM v_connections WHERE "
				   "conn_id = %llu",
				   ID_A),
			    "2023-11-14 22:15:00.000");
	assert_true(q_int(db, "SELECT duration_s * 1000 FROM v_connections WHERE conn_id = %llu",
			  ID_A) == 9999);

	/* buckets add up to the totals; every bucket is aligned */
	assert_int_equal(q_int(db,
			       "SELECT sum(b.bytes_in) FROM buckets b JOIN connections c ON "
			       "c.id = b.connection_id WHERE c.conn_id = %llu",
			       ID_A),
			 a_in);
	assert_int_equal(q_int(db, "SELECT sum(bytes_in) FROM buckets"),
			 q_int(db, "SELECT sum(bytes_in) FROM connections"));
	assert_int_equal(q_int(db, "SELECT sum(bytes_out) FROM v_timeline"),
			 q_int(db, "SELECT sum(bytes_out) FROM connections"));
	assert_int_equal(q_int(db, "SELECT count(*) FROM buckets WHERE t_start_ns %% %llu <> 0",
			       BUCKET),
			 0);
	/* ticks ending at 101..110 s: all in bucket [100 s, 110 s) */
	assert_int_equal(q_int(db, "SELECT count(DISTINCT t_start_ns) FROM buckets"), 1);
	/* the refused connect moved no data, but it opened and closed: a bucket of zeros */
	assert_int_equal(q_int(db, "SELECT count(*) FROM v_buckets WHERE comm = 'curl'"), 1);
	assert_int_equal(q_int(db, "SELECT bytes + packets_in + packets_out FROM v_buckets WHERE "
				   "comm = 'curl'"),
			 0);

	/* aggregating views */
	assert_int_equal(q_int(db, "SELECT bytes_in FROM v_process_totals WHERE comm = 'nginx'"),
			 a_in);
	assert_int_equal(q_int(db, "SELECT failed_connects FROM v_process_totals WHERE comm = "
				   "'curl'"),
			 1);
	assert_int_equal(q_int(db, "SELECT connections FROM v_remote_hosts WHERE raddr = "
				   "'10.0.0.2'"),
			 3);
	assert_string_equal(q_text(db, buf, sizeof(buf), "SELECT comm FROM v_top_talkers LIMIT 1"),
			    "psql");
	assert_int_equal(q_int(db, "SELECT segments FROM v_recordings"), 1);
	assert_int_equal(q_int(db, "SELECT connections FROM v_recordings"), 4);

	/* a reader cannot write */
	assert_int_equal(tt_store_recording_begin(s, &rec_info, &rec), -EBADF);
	assert_non_null(strstr(tt_store_errmsg(s), "read-only"));
	tt_store_close(s);
}

/* Every view compiles and runs on an empty index and on a filled one. */
static void test_views_run(void **state)
{
	struct fx *f = *state;
	struct tt_store *s = open_w(f->dir);
	sqlite3_stmt *q;
	uint64_t a, b;
	int64_t seg;
	int pass, views;

	for (pass = 0; pass < 2; pass++) {
		if (pass)
			write_recording(s, &seg, &a, &b);
		assert_int_equal(sqlite3_prepare_v2(db_of(s),
						    "SELECT name FROM sqlite_master WHERE "
						    "type = 'view' ORDER BY name",
						    -1, &q, NULL),
				 0);
		views = 0;
		while (sqlite3_step(q) == SQLITE_ROW) {
			const char *name = (const char *)sqlite3_column_text(q, 0);

			assert_true(q_int(db_of(s), "SELECT count(*) FROM %s", name) >= pass);
			views++;
		}
		sqlite3_finalize(q);
		assert_int_equal(views, 10); /* connections and buckets are views since 0002 */
	}
	tt_store_close(s);
}

static void test_second_writer_busy(void **state)
{
	struct fx *f = *state;
	struct tt_store *s = open_w(f->dir), *s2 = NULL;
	char why[256], want[64];
	pid_t child;
	int status;

	/* flock belongs to the open file description: a second open conflicts, same process or not */
	assert_int_equal(tt_store_open(f->dir, TT_STORE_WRITE, 0700, 0600, &s2, why, sizeof(why)),
			 -EBUSY);
	assert_null(s2);
	snprintf(want, sizeof(want), "is being recorded by pid %d", (int)getpid());
	assert_non_null(strstr(why, want));
	assert_non_null(strstr(why, f->dir));

	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		struct tt_store *c = NULL;
		int err = tt_store_open(f->dir, TT_STORE_WRITE, 0700, 0600, &c, why, sizeof(why));

		_exit(err == -EBUSY && !c && strstr(why, want) ? 0 : 1);
	}
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);

	/* readers are never locked out */
	assert_int_equal(tt_store_open(f->dir, TT_STORE_READ, 0, 0, &s2, why, sizeof(why)), 0);
	tt_store_close(s2);

	/* the lock goes with the writer */
	tt_store_close(s);
	s = open_w(f->dir);
	tt_store_close(s);
}

static int mode_of(const char *dir, const char *name)
{
	char path[256];
	struct stat st;

	snprintf(path, sizeof(path), "%s%s%s", dir, name ? "/" : "", name ? name : "");
	if (stat(path, &st) < 0)
		return -1;
	return (int)(st.st_mode & 07777);
}

static void test_modes_under_open_umask(void **state)
{
	struct fx *f = *state;
	mode_t old = umask(0);
	struct tt_store *s = open_w(f->dir);
	int64_t rec;

	assert_int_equal(tt_store_recording_begin(s, &rec_info, &rec), 0);
	assert_int_equal(mode_of(f->dir, NULL), 0700);
	assert_int_equal(mode_of(f->dir, "LOCK"), 0600);
	assert_int_equal(mode_of(f->dir, "index.db"), 0600);
	/* they exist while a WAL writer is open */
	assert_int_equal(mode_of(f->dir, "index.db-wal"), 0600);
	assert_int_equal(mode_of(f->dir, "index.db-shm"), 0600);
	tt_store_close(s);
	umask(old);
}

static void test_not_a_store(void **state)
{
	struct fx *f = *state;
	struct tt_store *s = NULL;
	char why[256], path[256];
	int fd;

	/* no such directory */
	assert_int_equal(tt_store_open(f->dir, TT_STORE_READ, 0, 0, &s, why, sizeof(why)), -ENOENT);
	assert_null(s);
	/* a directory without an index */
	assert_int_equal(tt_store_open(f->tmp, TT_STORE_READ, 0, 0, &s, why, sizeof(why)), -ENOENT);
	assert_null(s);
	assert_non_null(strstr(why, "is not a tcptop store (no index.db)"));
	assert_non_null(strstr(why, f->tmp));
	/* a file */
	snprintf(path, sizeof(path), "%s/file", f->tmp);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "hello, world: not SQLite at all, no, not at all", 47), 47);
	close(fd);
	assert_int_equal(tt_store_open(path, TT_STORE_WRITE, 0700, 0600, &s, why, sizeof(why)),
			 -ENOTDIR);
	assert_non_null(strstr(why, "is not a directory"));
	assert_int_equal(tt_store_open(path, TT_STORE_READ, 0, 0, &s, why, sizeof(why)), -ENOTDIR);
	/* an index.db that is not a database is refused, and left alone */
	assert_int_equal(mkdir(f->dir, 0700), 0);
	snprintf(path, sizeof(path), "%s/index.db", f->dir);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "this is not an SQLite database, it is some text of ours", 55),
			 55);
	close(fd);
	assert_int_equal(tt_store_open(f->dir, TT_STORE_WRITE, 0700, 0600, &s, why, sizeof(why)),
			 -EBADMSG);
	assert_null(s);
	assert_non_null(strstr(why, "index.db"));
	assert_int_equal(tt_store_open(f->dir, TT_STORE_READ, 0, 0, &s, why, sizeof(why)),
			 -EBADMSG);
	assert_int_equal(mode_of(f->dir, "index.db"), 0600);
	{
		struct stat st;

		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_size, 55);
	}
	/* an existing empty directory becomes a store */
	snprintf(path, sizeof(path), "%s/empty", f->tmp);
	assert_int_equal(mkdir(path, 0755), 0);
	s = open_w(path);
	tt_store_close(s);
}

/* ---- retention ------------------------------------------------------------------------------ */

#define SEG_BYTES    1000
#define LONG_ID(rec) (90000 + (uint64_t)(rec))
#define SEG_SPAN     (60 * SEC)

/* A file of n bytes, as a segment would be on disk. */
static void make_file(const char *dir, const char *name, size_t n)
{
	char path[256], buf[SEG_BYTES] = { 0 };
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, n), (ssize_t)n);
	close(fd);
}

static int file_exists(const char *dir, const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return access(path, F_OK) == 0;
}

/*
 * nseg segments of SEG_BYTES each for recording rec, one a minute from
 * mono t0, each with one block; connection i lives inside segment i, and
 * connection LONG_ID(rec) spans them all. Sealed but the last when last_open.
 */
static void fill_recording(struct tt_store *s, const char *dir, int64_t rec, uint64_t t0, int nseg,
			   int last_open, int64_t *seg_ids)
{
	struct tt_counters tot[16] = { { 0 } }, ltot = { 0 };
	struct tt_table t = { 0 };
	struct tt_row rows[2];
	struct tt_indexer *ix = tt_indexer_new(BUCKET, (int64_t)M2W);
	uint64_t long_id = LONG_ID(rec);
	int i, k;

	assert_non_null(ix);
	assert_true(nseg <= 16);
	t.rows = rows;
	for (i = 0; i < nseg; i++) {
		uint64_t s0 = t0 + (uint64_t)i * SEG_SPAN;
		struct tt_block_info bi;
		char name[64];

		snprintf(name, sizeof(name), "r%06" PRId64 "-s%06d.tts", rec, i);
		make_file(dir, name, SEG_BYTES);
		assert_int_equal(tt_store_segment_begin(s, rec, (uint32_t)i, name, M2W + s0,
							&seg_ids[i]),
				 0);
		/* a tick every 10 s inside the segment's minute */
		for (k = 1; k <= 5; k++) {
			memset(rows, 0, sizeof(rows));
			t.start_ns = s0 + (uint64_t)(k - 1) * 10 * SEC;
			t.ts_ns = s0 + (uint64_t)k * 10 * SEC;
			t.n = 2;
			rows[0].conn.id = (uint64_t)rec * 100 + (uint64_t)i;
			rows[0].conn.family = 4;
			rows[0].conn.proto = IPPROTO_TCP;
			rows[0].open_ns = s0 + 1;
			tot[i].bytes_in += 100;
			rows[0].tot = tot[i];
			rows[0].d_bytes_in = 100;
			if (k == 5) {
				rows[0].flags = TT_ROW_CLOSED;
				rows[0].close_ns = t.ts_ns;
			}
			rows[1].conn.id = long_id;
			rows[1].conn.family = 4;
			rows[1].conn.proto = IPPROTO_TCP;
			rows[1].open_ns = t0;
			ltot.bytes_in += 7;
			rows[1].tot = ltot;
			rows[1].d_bytes_in = 7;
			assert_int_equal(tt_indexer_add(ix, &t), 0);
		}
		bi = block_at(64, SEG_BYTES - 64, s0, s0 + 50 * SEC);
		assert_int_equal(tt_store_block(s, seg_ids[i], &bi, (int64_t)M2W, NULL, ix), 0);
		if (i < nseg - 1 || !last_open)
			assert_int_equal(tt_store_segment_seal(s, seg_ids[i]), 0);
	}
	tt_indexer_free(ix);
}

static int retain(struct tt_store *s, uint64_t now, uint64_t max_age, uint64_t max_bytes,
		  int64_t keep, unsigned *removed)
{
	struct tt_retain_opts o = { .now_ns = now,
				    .max_age_ns = max_age,
				    .max_bytes = max_bytes,
				    .keep_seg_id = keep };
	struct tt_retain_result r;
	int err = tt_store_retain(s, &o, &r);

	*removed = r.removed;
	return err;
}

/* What a file counts for in the directory's size (see tt_store_dir_bytes). */
static uint64_t counted_bytes(const char *dir, const char *name)
{
	char path[256];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(stat(path, &st), 0);
	return (uint64_t)st.st_blocks * 512 > (uint64_t)st.st_size ? (uint64_t)st.st_blocks * 512
								   : (uint64_t)st.st_size;
}

static void test_retain_by_size(void **state)
{
	struct fx *f = *state;
	struct tt_store *s = open_w(f->dir);
	uint64_t t0 = 1000 * SEC, cut, dir, one, after;
	int64_t rec, seg[5];
	unsigned removed;
	uint64_t bytes;
	sqlite3 *db = db_of(s);

	assert_int_equal(tt_store_recording_begin(s, &rec_info, &rec), 0);
	fill_recording(s, f->dir, rec, t0, 5, 1, seg);
	assert_int_equal(tt_store_segment_bytes(s, &bytes), 0);
	assert_int_equal(bytes, 5 * SEG_BYTES);

	/* nothing to do; the second pass cuts the WAL back to nothing */
	assert_int_equal(retain(s, M2W + t0, 0, 0, seg[4], &removed), 0);
	assert_int_equal(removed, 0);
	assert_int_equal(retain(s, M2W + t0, 0, 1ull << 40, seg[4], &removed), 0);
	assert_int_equal(removed, 0);
	assert_int_equal(tt_store_dir_bytes(s, &dir), 0);
	assert_int_equal(retain(s, M2W + t0, 0, dir, seg[4], &removed), 0);
	assert_int_equal(removed, 0);

	/* the whole directory counts: two and a half segments less than it is */
	one = counted_bytes(f->dir, "r000001-s000000.tts");
	assert_int_equal(retain(s, M2W + t0, 0, dir - 2 * one - one / 2, seg[4], &removed), 0);
	assert_int_equal(removed, 3);
	assert_int_equal(tt_store_dir_bytes(s, &after), 0);
	assert_true(after <= dir - 3 * one);
	assert_false(file_exists(f->dir, "r000001-s000000.tts"));
	assert_false(file_exists(f->dir, "r000001-s000001.tts"));
	assert_false(file_exists(f->dir, "r000001-s000002.tts"));
	assert_true(file_exists(f->dir, "r000001-s000003.tts"));
	assert_true(file_exists(f->dir, "r000001-s000004.tts"));
	assert_int_equal(q_int(db, "SELECT count(*) FROM segments"), 2);
	assert_int_equal(q_int(db, "SELECT min(seq) FROM segments"), 3);
	assert_int_equal(q_int(db, "SELECT count(*) FROM blocks"), 2);
	assert_int_equal(q_int(db, "SELECT count(*) FROM blocks WHERE segment_id NOT IN "
				   "(SELECT id FROM segments)"),
			 0);
	assert_int_equal(tt_store_segment_bytes(s, &bytes), 0);
	assert_int_equal(bytes, 2 * SEG_BYTES);
	/* connections that ended before what is left are gone; the long one stays */
	cut = M2W + t0 + 3 * SEG_SPAN;
	assert_int_equal(q_int(db, "SELECT count(*) FROM connections WHERE last_seen_ns < %llu",
			       (unsigned long long)cut),
			 0);
	assert_int_equal(q_int(db, "SELECT count(*) FROM connections"), 3);
	assert_int_equal(q_int(db, "SELECT count(*) FROM connections WHERE conn_id = %llu",
			       (unsigned long long)LONG_ID(rec)),
			 1);
	assert_int_equal(q_int(db, "SELECT count(*) FROM buckets WHERE t_start_ns + %llu <= %llu",
			       (unsigned long long)BUCKET, (unsigned long long)cut),
			 0);
	assert_true(q_int(db,
			  "SELECT count(*) FROM buckets b JOIN connections c ON c.id = "
			  "b.connection_id WHERE c.conn_id = %llu",
			  (unsigned long long)LONG_ID(rec)) > 0);
	assert_int_equal(q_int(db, "PRAGMA foreign_key_check"), -1);

	/* the segment being written is never removed, however small the cap */
	assert_int_equal(retain(s, M2W + t0, 0, 1, seg[4], &removed), 0);
	assert_int_equal(removed, 1);
	assert_true(file_exists(f->dir, "r000001-s000004.tts"));
	assert_int_equal(q_int(db, "SELECT count(*) FROM segments"), 1);
	assert_int_equal(q_int(db, "SELECT id FROM segments"), seg[4]);
	assert_int_equal(q_int(db, "SELECT count(*) FROM recordings"), 1);
	tt_store_close(s);
}

static void test_retain_by_age(void **state)
{
	struct fx *f = *state;
	struct tt_store *s = open_w(f->dir);
	uint64_t t0 = 1000 * SEC, now = M2W + t0 + 5 * SEG_SPAN;
	int64_t rec, seg[5];
	unsigned removed;
	sqlite3 *db = db_of(s);

	assert_int_equal(tt_store_recording_begin(s, &rec_info, &rec), 0);
	fill_recording(s, f->dir, rec, t0, 5, 0, seg);
	/*
	 * Segment i's block ends at t0 + i min + 50 s and now is t0 + 5 min, so
	 * the segments ended 250, 190, 130, 70 and 10 s ago.
	 */
	assert_int_equal(retain(s, now, 200 * SEC, 0, seg[4], &removed), 0);
	assert_int_equal(removed, 1);
	assert_false(file_exists(f->dir, "r000001-s000000.tts"));
	assert_true(file_exists(f->dir, "r000001-s000001.tts"));
	assert_int_equal(retain(s, now, 120 * SEC, 0, seg[4], &removed), 0);
	assert_int_equal(removed, 2);
	assert_false(file_exists(f->dir, "r000001-s000002.tts"));
	assert_true(file_exists(f->dir, "r000001-s000003.tts"));
	assert_int_equal(q_int(db, "SELECT min(seq) FROM segments"), 3);
	/* keep_seg_id holds even for a sealed segment */
	assert_int_equal(retain(s, now + 3600 * SEC, 1, 0, seg[4], &removed), 0);
	assert_int_equal(removed, 1);
	assert_int_equal(q_int(db, "SELECT count(*) FROM segments"), 1);
	assert_true(file_exists(f->dir, "r000001-s000004.tts"));
	tt_store_close(s);
}

/* Retention says how many segments it removed before an export destination had them. */
static void test_retain_counts_unshipped(void **state)
{
	struct fx *f = *state;
	struct tt_store *s = open_w(f->dir);
	uint64_t t0 = 1000 * SEC, now = M2W + t0 + 5 * SEG_SPAN;
	struct tt_retain_result r;
	struct tt_retain_opts o = { .now_ns = now, .max_age_ns = 200 * SEC };
	int64_t rec, seg[5], end1, end2;
	sqlite3 *db = db_of(s);
	char sql[256];

	assert_int_equal(tt_store_recording_begin(s, &rec_info, &rec), 0);
	fill_recording(s, f->dir, rec, t0, 5, 0, seg);
	o.keep_seg_id = seg[4];
	end1 = q_int(db, "SELECT t_end_ns FROM segments WHERE seq = 1");
	end2 = q_int(db, "SELECT t_end_ns FROM segments WHERE seq = 2");
	/* no destination: nothing is unshipped */
	assert_int_equal(tt_store_retain(s, &o, &r), 0);
	assert_int_equal(r.removed, 1);
	assert_int_equal(r.unshipped, 0);
	/* one destination has everything up to segment 1's end, one has nothing */
	snprintf(sql, sizeof(sql),
		 "INSERT INTO export_cursors VALUES ('http://a/', %lld, %lld, 0),"
		 " ('http://b/', %lld, 0, 0)",
		 (long long)rec, (long long)end1, (long long)rec);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	o.max_age_ns = 120 * SEC;
	assert_int_equal(tt_store_retain(s, &o, &r), 0);
	assert_int_equal(r.removed, 2);
	assert_int_equal(r.unshipped, 2);
	assert_int_equal(r.unshipped_end_ns, (uint64_t)end2);
	/* both have all of segment 3: removing it loses nothing */
	assert_int_equal(sqlite3_exec(db, "UPDATE export_cursors SET ticks_ns = 9e18", NULL, NULL,
				      NULL),
			 SQLITE_OK);
	o.max_age_ns = 30 * SEC;
	assert_int_equal(tt_store_retain(s, &o, &r), 0);
	assert_int_equal(r.removed, 1);
	assert_int_equal(r.unshipped, 0);
	tt_store_close(s);
}

/* A recording whose every segment went is gone with all its summaries; others are untouched. */
static void test_retain_whole_recording(void **state)
{
	struct fx *f = *state;
	struct tt_store *s = open_w(f->dir);
	int64_t rec1, rec2, seg1[3], seg2[2];
	unsigned removed;
	sqlite3 *db = db_of(s);
	char path[256];

	assert_int_equal(tt_store_recording_begin(s, &rec_info, &rec1), 0);
	fill_recording(s, f->dir, rec1, 1000 * SEC, 3, 0, seg1);
	assert_int_equal(tt_store_recording_end(s, rec1, M2W + 1200 * SEC, 0), 0);
	assert_int_equal(tt_store_recording_begin(s, &rec_info, &rec2), 0);
	fill_recording(s, f->dir, rec2, 2000 * SEC, 2, 1, seg2);
	/* a file someone removed already: its rows go all the same */
	snprintf(path, sizeof(path), "%s/r%06" PRId64 "-s000001.tts", f->dir, rec1);
	assert_int_equal(unlink(path), 0);

	assert_int_equal(retain(s, M2W + 2200 * SEC, 0, 1, seg2[1], &removed), 0);
	assert_int_equal(removed, 4);
	assert_int_equal(q_int(db, "SELECT count(*) FROM recordings"), 1);
	assert_int_equal(q_int(db, "SELECT id FROM recordings"), rec2);
	assert_int_equal(q_int(db, "SELECT count(*) FROM connections WHERE recording_id = %" PRId64,
			       rec1),
			 0);
	assert_int_equal(q_int(db,
			       "SELECT count(*) FROM buckets b JOIN connections c ON c.id = "
			       "b.connection_id WHERE c.recording_id = %" PRId64,
			       rec2),
			 q_int(db, "SELECT count(*) FROM buckets"));
	assert_true(q_int(db, "SELECT count(*) FROM connections WHERE recording_id = %" PRId64,
			  rec2) >= 2);
	assert_int_equal(q_int(db, "SELECT count(*) FROM segments"), 1);
	tt_store_close(s);
}

/*
 * Rows of removed time go, rows still referenced stay: an open connection
 * whatever its last_seen_ns (idle, or a schema where last_seen is the last
 * active tick), a closed one whose close is inside what is left.
 */
static void test_retain_keeps_open_connections(void **state)
{
	struct fx *f = *state;
	struct tt_store *s = open_w(f->dir);
	uint64_t t0 = 1000 * SEC, old = M2W + t0 + 10 * SEC, cut;
	int64_t rec, seg[4];
	unsigned removed;
	sqlite3 *db = db_of(s);
	static const char ins[] = "INSERT INTO conns (recording_id, conn_id, family, proto, "
				  "laddr, lport, raddr, rport, process_id, tid, cgroup, netns, "
				  "flags, open_ns, close_ns, first_seen_ns, last_seen_ns, state, "
				  "bytes_in, bytes_out, packets_in, packets_out, peak_rate_in, "
				  "peak_rate_out, rtt_samples, retrans, resets_sent, resets_recv, "
				  "reset_events) VALUES (%lld, %d, 4, 6, 16843009, 1, 33686018, 2, "
				  "1, 1, 0, 0, 0, %llu, %s, %llu, %llu, 1, 0, 0, 0, 0, 0, 0, 0, 0, "
				  "0, 0, 0)";
	char sql[1024], close_ns[32];

	assert_int_equal(tt_store_recording_begin(s, &rec_info, &rec), 0);
	fill_recording(s, f->dir, rec, t0, 4, 1, seg);
	cut = M2W + t0 + 2 * SEG_SPAN; /* the oldest remaining segment after removing two */
	assert_int_equal(sqlite3_exec(db,
				      "INSERT OR IGNORE INTO processes (id, pid, comm) "
				      "VALUES (1, 1, 'x')",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	/* 901: open and idle since t0; 902: closed before the cut; 903: closed after it */
	snprintf(sql, sizeof(sql), ins, (long long)rec, 901, (unsigned long long)old, "NULL",
		 (unsigned long long)old, (unsigned long long)old);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	snprintf(close_ns, sizeof(close_ns), "%llu", (unsigned long long)(cut - SEC));
	snprintf(sql, sizeof(sql), ins, (long long)rec, 902, (unsigned long long)old, close_ns,
		 (unsigned long long)old, (unsigned long long)(cut - SEC));
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	snprintf(close_ns, sizeof(close_ns), "%llu", (unsigned long long)(cut + SEC));
	snprintf(sql, sizeof(sql), ins, (long long)rec, 903, (unsigned long long)old, close_ns,
		 (unsigned long long)old, (unsigned long long)old);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);

	assert_int_equal(retain(s, M2W + t0 + 4 * SEG_SPAN, 100 * SEC, 0, seg[3], &removed), 0);
	assert_int_equal(removed, 2);
	assert_int_equal(q_int(db, "SELECT min(coalesce(t_start_ns, created_ns)) FROM segments"),
			 (int64_t)cut);
	assert_int_equal(q_int(db, "SELECT count(*) FROM connections WHERE conn_id = 901"), 1);
	assert_int_equal(q_int(db, "SELECT count(*) FROM connections WHERE conn_id = 902"), 0);
	assert_int_equal(q_int(db, "SELECT count(*) FROM connections WHERE conn_id = 903"), 1);
	tt_store_close(s);
}

/*
 * A new index is made with auto_vacuum INCREMENTAL; one made without is
 * converted when a writer opens it; pages freed by retention leave the file;
 * the WAL is cut back to nothing.
 */
static void test_retain_gives_space_back(void **state)
{
	struct fx *f = *state;
	struct tt_store *s = open_w(f->dir);
	int64_t rec, seg[8], pages_full;
	unsigned removed;
	char path[256], wal[256];
	struct stat st;
	sqlite3 *raw;
	int i;

	assert_int_equal(q_int(db_of(s), "PRAGMA auto_vacuum"), 2);
	tt_store_close(s);
	/* as a build before incremental vacuum made it */
	snprintf(path, sizeof(path), "%s/index.db", f->dir);
	snprintf(wal, sizeof(wal), "%s/index.db-wal", f->dir);
	assert_int_equal(sqlite3_open(path, &raw), SQLITE_OK);
	assert_int_equal(sqlite3_exec(raw, "PRAGMA auto_vacuum = NONE; VACUUM", NULL, NULL, NULL),
			 SQLITE_OK);
	assert_int_equal(q_int(raw, "PRAGMA auto_vacuum"), 0);
	sqlite3_close(raw);

	s = open_w(f->dir);
	assert_null(tt_store_warning(s));
	assert_int_equal(q_int(db_of(s), "PRAGMA auto_vacuum"), 2);
	assert_int_equal(tt_store_recording_begin(s, &rec_info, &rec), 0);
	fill_recording(s, f->dir, rec, 1000 * SEC, 8, 1, seg);
	assert_int_equal(sqlite3_exec(db_of(s),
				      "INSERT OR IGNORE INTO processes (id, pid, comm) "
				      "VALUES (1, 1, 'filler')",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	/* many closed connections of the first segment's time: pages to free */
	for (i = 0; i < 3000; i++) {
		char sql[768];

		snprintf(sql, sizeof(sql),
			 "INSERT INTO conns (recording_id, conn_id, family, proto, laddr, "
			 "lport, raddr, rport, process_id, tid, cgroup, netns, flags, "
			 "open_ns, close_ns, first_seen_ns, last_seen_ns, state, bytes_in, "
			 "bytes_out, packets_in, packets_out, peak_rate_in, peak_rate_out, "
			 "rtt_samples, retrans, resets_sent, resets_recv, reset_events) VALUES "
			 "(%lld, %d, 4, 6, 167772161, 1, 167772162, 2, 1, 1, 0, 0, "
			 "0, %llu, %llu, %llu, %llu, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)",
			 (long long)rec, 5000 + i, M2W + 1000 * SEC + 1, M2W + 1000 * SEC + 2,
			 M2W + 1000 * SEC + 1, M2W + 1000 * SEC + 2);
		assert_int_equal(sqlite3_exec(db_of(s), sql, NULL, NULL, NULL), SQLITE_OK);
	}
	pages_full = q_int(db_of(s), "PRAGMA page_count");
	assert_int_equal(retain(s, M2W + 9000 * SEC, 0, 1, seg[7], &removed), 0);
	assert_int_equal(removed, 7);
	assert_int_equal(q_int(db_of(s), "PRAGMA freelist_count"), 0);
	assert_true(q_int(db_of(s), "PRAGMA page_count") < pages_full / 2);
	assert_int_equal(stat(path, &st), 0);
	assert_true(st.st_size <=
		    q_int(db_of(s), "PRAGMA page_count") * q_int(db_of(s), "PRAGMA page_size"));
	assert_true(stat(wal, &st) < 0 || st.st_size == 0);
	tt_store_close(s);
}

/*
 * A pass that died between its transaction and the unlink left a file the
 * index does not name: the next handle's first pass removes it. A file made
 * by a run that died before naming it (its recording's newest) stays.
 */
static void test_retain_sweeps_left_overs(void **state)
{
	struct fx *f = *state;
	struct tt_store *s = open_w(f->dir);
	int64_t rec1, rec2, seg1[3], seg2[3];
	unsigned removed;

	assert_int_equal(tt_store_recording_begin(s, &rec_info, &rec1), 0);
	fill_recording(s, f->dir, rec1, 1000 * SEC, 3, 0, seg1);
	assert_int_equal(tt_store_recording_begin(s, &rec_info, &rec2), 0);
	fill_recording(s, f->dir, rec2, 2000 * SEC, 3, 1, seg2);
	/* retention of rec1 whole and rec2's first segment, as if it died before the unlinks */
	assert_int_equal(sqlite3_exec(db_of(s),
				      "DELETE FROM segments WHERE recording_id = 1 OR "
				      "(recording_id = 2 AND seq = 0); "
				      "DELETE FROM recordings WHERE id = 1",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	tt_store_close(s);
	make_file(f->dir, "r000002-s000003.tts", 64); /* died before naming it */
	make_file(f->dir, "r000003-s000000.tts", 64); /* a later recording's: not retention's */
	make_file(f->dir, "notes.tts", 10);

	s = open_w(f->dir);
	assert_int_equal(retain(s, M2W + 3000 * SEC, 0, 1ull << 40, seg2[2], &removed), 0);
	assert_int_equal(removed, 0);
	assert_false(file_exists(f->dir, "r000001-s000000.tts"));
	assert_false(file_exists(f->dir, "r000001-s000002.tts"));
	assert_false(file_exists(f->dir, "r000002-s000000.tts"));
	assert_true(file_exists(f->dir, "r000002-s000001.tts"));
	assert_true(file_exists(f->dir, "r000002-s000002.tts"));
	assert_true(file_exists(f->dir, "r000002-s000003.tts"));
	assert_true(file_exists(f->dir, "r000003-s000000.tts"));
	assert_true(file_exists(f->dir, "notes.tts"));
	tt_store_close(s);
}

/* ---- schema versions ------------------------------------------------------------------------ */

static int64_t user_version(const char *dir)
{
	char path[256];
	sqlite3 *db;
	int64_t v;

	snprintf(path, sizeof(path), "%s/index.db", dir);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	v = q_int(db, "PRAGMA user_version");
	sqlite3_close(db);
	return v;
}

static void set_user_version(const char *dir, int v)
{
	char path[256], sql[64];
	sqlite3 *db;

	snprintf(path, sizeof(path), "%s/index.db", dir);
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static void test_fresh_index_has_current_schema(void **state)
{
	struct fx *f = *state;
	struct tt_store *s = open_w(f->dir);
	char buf[32];

	assert_int_equal(tt_store_schema_version(s), SCHEMA_NOW);
	assert_string_equal(q_text(db_of(s), buf, sizeof(buf), "PRAGMA journal_mode"), "wal");
	assert_int_equal(q_int(db_of(s), "PRAGMA foreign_keys"), 1);
	assert_int_equal(q_int(db_of(s), "SELECT count(*) FROM sqlite_master WHERE type = 'table' "
					 "AND name IN ('recordings', 'segments', 'blocks', "
					 "'conns', 'processes', 'rollups')"),
			 6);
	tt_store_close(s);
	assert_int_equal(user_version(f->dir), SCHEMA_NOW);
	/* opening again applies nothing */
	s = open_w(f->dir);
	assert_int_equal(tt_store_schema_version(s), SCHEMA_NOW);
	tt_store_close(s);
}

static const char mig2[] = "ALTER TABLE recordings ADD COLUMN note TEXT NOT NULL DEFAULT "
			   "'migrated';\nCREATE VIEW v_notes AS SELECT id, note FROM recordings;\n";

static void test_migration(void **state)
{
	struct fx *f = *state;
	struct tt_store *s;
	char why[512], buf[64];
	uint64_t a, b;
	int64_t seg, rec;

	/* an index as this build makes it, with data in it */
	tt_store_test_schema(0, NULL);
	s = open_w(f->dir);
	rec = write_recording(s, &seg, &a, &b);
	tt_store_close(s);
	assert_int_equal(user_version(f->dir), SCHEMA_NOW);

	/* a migration that fails half way leaves the index as it was */
	tt_store_test_schema(0, "CREATE TABLE half_done (x);\nSELECT * FROM no_such_table;\n");
	assert_int_not_equal(tt_store_open(f->dir, TT_STORE_WRITE, 0700, 0600, &s, why,
					   sizeof(why)),
			     0);
	assert_null(s);
	assert_non_null(strstr(why, "migrating to schema 4"));
	assert_int_equal(user_version(f->dir), SCHEMA_NOW);

	/* a reader of a newer build reads it as it is, migrating nothing */
	tt_store_test_schema(0, mig2);
	assert_int_equal(tt_store_open(f->dir, TT_STORE_READ, 0, 0, &s, why, sizeof(why)), 0);
	assert_int_equal(tt_store_schema_version(s), SCHEMA_NOW);
	assert_int_equal(q_int(db_of(s), "SELECT bytes_in FROM connections WHERE conn_id = %llu",
			       ID_A),
			 a);
	tt_store_close(s);
	assert_int_equal(user_version(f->dir), SCHEMA_NOW);

	/* the writer of a newer build migrates and keeps everything */
	s = open_w(f->dir);
	assert_int_equal(tt_store_schema_version(s), SCHEMA_NOW + 1);
	assert_int_equal(q_int(db_of(s), "SELECT count(*) FROM sqlite_master WHERE name = "
					 "'half_done'"),
			 0);
	assert_string_equal(q_text(db_of(s), buf, sizeof(buf),
				   "SELECT note FROM v_notes WHERE "
				   "id = %" PRId64,
				   rec),
			    "migrated");
	assert_int_equal(q_int(db_of(s), "SELECT bytes_in FROM connections WHERE conn_id = %llu",
			       ID_A),
			 a);
	assert_int_equal(q_int(db_of(s), "SELECT count(*) FROM blocks"), 2);
	assert_int_equal(q_int(db_of(s), "PRAGMA foreign_keys"), 1);
	tt_store_close(s);
	assert_int_equal(user_version(f->dir), SCHEMA_NOW + 1);

	/* and this build, which knows only SCHEMA_NOW, refuses the newer index without touching it */
	tt_store_test_schema(0, NULL);
	assert_int_equal(tt_store_open(f->dir, TT_STORE_READ, 0, 0, &s, why, sizeof(why)), -EPROTO);
	assert_non_null(strstr(why, "newer"));
	assert_int_equal(tt_store_open(f->dir, TT_STORE_WRITE, 0700, 0600, &s, why, sizeof(why)),
			 -EPROTO);
	assert_null(s);
	assert_int_equal(user_version(f->dir), SCHEMA_NOW + 1);
	/* refusing released the lock */
	tt_store_test_schema(0, mig2);
	s = open_w(f->dir);
	tt_store_close(s);
}

/* Every row of sql on a and on b, as text, equal and in the same order; how many. */
static int same_rows(sqlite3 *a, sqlite3 *b, const char *sql)
{
	sqlite3_stmt *qa, *qb;
	int n = 0, rc, c;

	assert_int_equal(sqlite3_prepare_v2(a, sql, -1, &qa, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(b, sql, -1, &qb, NULL), SQLITE_OK);
	while ((rc = sqlite3_step(qa)) == SQLITE_ROW) {
		assert_int_equal(sqlite3_step(qb), SQLITE_ROW);
		assert_int_equal(sqlite3_column_count(qa), sqlite3_column_count(qb));
		for (c = 0; c < sqlite3_column_count(qa); c++) {
			const char *x = (const char *)sqlite3_column_text(qa, c);
			const char *y = (const char *)sqlite3_column_text(qb, c);

			if (!x || !y)
				assert_true(!x && !y);
			else
				assert_string_equal(x, y);
		}
		n++;
	}
	assert_int_equal(rc, SQLITE_DONE);
	assert_int_equal(sqlite3_step(qb), SQLITE_DONE);
	sqlite3_finalize(qa);
	sqlite3_finalize(qb);
	return n;
}

/*
 * The index of a store written by the schema-1 build (tests/data/store-v1)
 * migrates to this build's schema with the same rows in the same columns,
 * read through the views that replace its tables.
 */
static void test_migrate_v1_store(void **state)
{
	struct fx *f = *state;
	char src[4096], dst[4096], uri[4200], cmd[8400];
	struct tt_store *s;
	sqlite3 *old;

	snprintf(src, sizeof(src), "%s/store-v1/index.db", TT_TEST_DATA);
	snprintf(dst, sizeof(dst), "%s/index.db", f->dir);
	assert_int_equal(mkdir(f->dir, 0700), 0);
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", src, dst);
	assert_int_equal(system(cmd), 0);
	/* the original, read without a trace (immutable: no -wal, no -shm) */
	snprintf(uri, sizeof(uri), "file:%s?immutable=1", src);
	assert_int_equal(sqlite3_open_v2(uri, &old, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL),
			 SQLITE_OK);
	assert_int_equal(q_int(old, "PRAGMA user_version"), 1);

	s = open_w(f->dir);
	assert_int_equal(tt_store_schema_version(s), SCHEMA_NOW);
	assert_int_equal(same_rows(old, db_of(s), "SELECT * FROM connections ORDER BY id"), 9);
	assert_int_equal(same_rows(old, db_of(s),
				   "SELECT connection_id, t_start_ns, bytes_in, "
				   "bytes_out, packets_in, packets_out, retrans, "
				   "rtt_avg_us, rtt_samples FROM buckets ORDER BY 1, 2"),
			 q_int(old, "SELECT count(*) FROM buckets"));
	assert_true(same_rows(old, db_of(s), "SELECT * FROM v_timeline ORDER BY t_start_ns") > 0);
	assert_true(same_rows(old, db_of(s), "SELECT * FROM v_connections ORDER BY id") == 9);
	assert_true(same_rows(old, db_of(s), "SELECT * FROM v_remote_hosts ORDER BY 1, 2") > 0);
	assert_true(same_rows(old, db_of(s), "SELECT * FROM v_process_totals ORDER BY 1, 2") > 0);
	same_rows(old, db_of(s), "SELECT * FROM v_losses ORDER BY block_id");
	/* a recording of schema 1 has no rollups: queries replay its ticks */
	assert_int_equal(q_int(db_of(s), "SELECT rollup_ns FROM recordings"), 0);
	assert_int_equal(q_int(db_of(s), "SELECT count(*) FROM blocks WHERE keyframe = 1"),
			 q_int(old, "SELECT count(*) FROM blocks"));
	tt_store_close(s);
	sqlite3_close(old);
}

/* 0002: blocks.keyframe, written as given. */
static void test_keyframe_column(void **state)
{
	struct fx *f = *state;
	struct tt_block_info bi;
	struct tt_store *s;
	uint64_t a, b;
	int64_t seg;

	/* (a schema-1 index's blocks all become keyframe blocks: test_migrate_v1_store) */
	s = open_w(f->dir);
	write_recording(s, &seg, &a, &b);
	assert_true(tt_store_schema_version(s) >= 2);
	assert_int_equal(tt_store_has_keyframe_column(s), 1);
	assert_int_equal(q_int(db_of(s), "SELECT count(*) FROM blocks WHERE keyframe = 1"), 2);
	assert_int_equal(tt_store_segment_begin(s, 1, 1, "r000001-s000001.tts", M2W, &seg), 0);
	bi = block_at(64, 100, 110 * SEC, 115 * SEC);
	bi.keyframe = 1;
	assert_int_equal(tt_store_block(s, seg, &bi, (int64_t)M2W, NULL, NULL), 0);
	bi = block_at(164, 100, 115 * SEC, 120 * SEC);
	bi.keyframe = 0;
	assert_int_equal(tt_store_block(s, seg, &bi, (int64_t)M2W, NULL, NULL), 0);
	assert_int_equal(q_int(db_of(s),
			       "SELECT group_concat(keyframe, '') FROM (SELECT keyframe "
			       "FROM blocks WHERE segment_id = %" PRId64 " ORDER BY offset)",
			       seg),
			 10);
	tt_store_close(s);
}

static void test_far_future_schema_refused(void **state)
{
	struct fx *f = *state;
	struct tt_store *s = open_w(f->dir);
	char why[512];

	tt_store_close(s);
	set_user_version(f->dir, 999);
	assert_int_equal(tt_store_open(f->dir, TT_STORE_WRITE, 0700, 0600, &s, why, sizeof(why)),
			 -EPROTO);
	assert_null(s);
	assert_non_null(strstr(why, "schema version 999"));
	assert_int_equal(tt_store_open(f->dir, TT_STORE_READ, 0, 0, &s, why, sizeof(why)), -EPROTO);
	assert_non_null(strstr(why, "999"));
	assert_int_equal(user_version(f->dir), 999);
}

/*
 * A recorder killed while it created the index leaves an empty index.db (no
 * schema yet): readers say the store holds no recording (not a schema they
 * cannot read), and the next writer creates the schema in it.
 */
static void test_empty_index_left_by_a_kill(void **state)
{
	struct fx *f = *state;
	struct tt_store *s = NULL;
	char path[256], why[512];
	FILE *fp;

	assert_int_equal(mkdir(f->dir, 0700), 0);
	snprintf(path, sizeof(path), "%s/index.db", f->dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fclose(fp);
	assert_int_equal(tt_store_open(f->dir, TT_STORE_READ, 0, 0, &s, why, sizeof(why)),
			 -ENODATA);
	assert_null(s);
	assert_non_null(strstr(why, "holds no recording yet"));
	s = open_w(f->dir);
	tt_store_close(s);
	assert_int_equal(tt_store_open(f->dir, TT_STORE_READ, 0, 0, &s, why, sizeof(why)), 0);
	assert_true(tt_store_schema_version(s) >= 1);
	tt_store_close(s);
}

/* ---- failures and cost ---------------------------------------------------------------------- */

/* A block whose transaction fails stores nothing, and the next one stores what it lost. */
/* The one spelling of a segment name; nothing else passes for one. */
static void test_segment_names(void **state)
{
	static const char *const bad[] = {
		"../victim",
		"r1-s1.tts",
		"r000001-s00001.tts",
		"r0000001-s000001.tts",
		"r000001-s0000001.tts",
		"r000001-s000001.tts.x",
		"r000001-s000001.tt",
		"/r000001-s000001.tts",
		"r000001-s000001",
		"R000001-S000001.tts",
		"r-00001-s000001.tts",
		"r000001-s4294967296.tts",
		"",
		"r000001-s000001.tts/",
	};
	char name[TT_SEG_NAME_MAX];
	int64_t rec;
	uint32_t seq;
	size_t i;

	(void)state;
	assert_int_equal(tt_store_segment_name(name, sizeof(name), 1, 0), 0);
	assert_string_equal(name, "r000001-s000000.tts");
	assert_int_equal(tt_store_segment_name_parse(name, &rec, &seq), 1);
	assert_true(rec == 1 && seq == 0);
	assert_int_equal(tt_store_segment_name(name, sizeof(name), 12345678, 4294967295u), 0);
	assert_string_equal(name, "r12345678-s4294967295.tts");
	assert_int_equal(tt_store_segment_name_parse(name, &rec, &seq), 1);
	assert_true(rec == 12345678 && seq == 4294967295u);
	assert_int_equal(tt_store_segment_name(name, sizeof(name), INT64_MAX / 10, 7), 0);
	assert_int_equal(tt_store_segment_name_parse(name, NULL, NULL), 1);
	assert_int_equal(tt_store_segment_name(name, sizeof(name), -1, 0), -EINVAL);
	assert_int_equal(tt_store_segment_name(name, 8, 1, 0), -ENAMETOOLONG);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(tt_store_segment_name_parse(bad[i], NULL, NULL), 0);
}

/* A file outside the store, with contents the test checks are unchanged. */
static void make_victim(const char *path)
{
	FILE *v = fopen(path, "w");

	assert_non_null(v);
	fputs("precious\n", v);
	fclose(v);
}

static void victim_intact(const char *path)
{
	char buf[32] = "";
	FILE *v = fopen(path, "r");

	assert_non_null(v);
	assert_non_null(fgets(buf, sizeof(buf), v));
	fclose(v);
	assert_string_equal(buf, "precious\n");
}

/*
 * Symbolic links where the store keeps a file, a store others may write, a
 * segment row naming ../victim: each refused with a message naming it, the
 * victim untouched. (A store another user owns: tests/integration/
 * test_store_attacks.py, which has root to make one.)
 */
static void test_hostile_directory(void **state)
{
	static const char *const links[] = { "LOCK", "index.db", "index.db-wal", "index.db-shm" };
	struct fx *f = *state;
	char victim[192], link[192], why[512];
	struct tt_retain_opts ro = { .now_ns = 4000000000000000000ull, .max_age_ns = 1 };
	struct tt_retain_result rr;
	struct tt_store *s;
	int64_t rec;
	size_t i;

	snprintf(victim, sizeof(victim), "%s/victim", f->tmp);
	make_victim(victim);
	s = open_w(f->dir);
	tt_store_close(s);
	for (i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		snprintf(link, sizeof(link), "%s/%s", f->dir, links[i]);
		unlink(link);
		assert_int_equal(symlink(victim, link), 0);
		assert_int_equal(tt_store_open(f->dir, TT_STORE_WRITE, 0700, 0600, &s, why,
					       sizeof(why)),
				 -ELOOP);
		assert_non_null(strstr(why, links[i]));
		assert_non_null(strstr(why, "symbolic link"));
		if (i) {
			assert_int_equal(tt_store_open(f->dir, TT_STORE_READ, 0, 0, &s, why,
						       sizeof(why)),
					 -ELOOP);
		}
		victim_intact(victim);
		unlink(link);
		if (i == 1) { /* index.db was replaced: a fresh store */
			s = open_w(f->dir);
			tt_store_close(s);
		}
	}

	/* writable by others, or by the group: refused */
	assert_int_equal(chmod(f->dir, 01777), 0);
	assert_int_equal(tt_store_open(f->dir, TT_STORE_WRITE, 0700, 0600, &s, why, sizeof(why)),
			 -EPERM);
	assert_non_null(strstr(why, "writable by others"));
	assert_int_equal(chmod(f->dir, 0770), 0);
	assert_int_equal(tt_store_open(f->dir, TT_STORE_WRITE, 0700, 0600, &s, why, sizeof(why)),
			 -EPERM);
	assert_non_null(strstr(why, "writable by its group"));
	assert_int_equal(chmod(f->dir, 0700), 0);

	/* retention of a row naming ../victim removes nothing outside the store */
	s = open_w(f->dir);
	assert_int_equal(tt_store_recording_begin(s, &(struct tt_recording_info){ .host = "h" },
						  &rec),
			 0);
	assert_int_equal(sqlite3_exec(db_of(s),
				      "INSERT INTO segments (recording_id, seq, file, created_ns, "
				      "t_start_ns, t_end_ns, sealed) VALUES (1, 0, '../victim', 1, "
				      "1, 1, 1)",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	assert_int_equal(tt_store_retain(s, &ro, &rr), -EINVAL);
	assert_non_null(strstr(tt_store_errmsg(s), "'../victim'"));
	assert_int_equal(rr.removed, 0);
	tt_store_close(s);
	victim_intact(victim);
}

static void test_failed_block_is_retried(void **state)
{
	struct fx *f = *state;
	struct tt_store *s = open_w(f->dir);
	struct tt_block_info bi;
	sqlite3 *db = db_of(s);
	struct gen g;
	int64_t rec, seg;
	int err;

	gen_init(&g, 100 * SEC);
	assert_int_equal(tt_store_recording_begin(s, &rec_info, &rec), 0);
	assert_int_equal(tt_store_segment_begin(s, rec, 0, "x.tts", M2W, &seg), 0);
	gen_conn(&g, ID_A, 4, IPPROTO_TCP, 1, 2, 100, "a", 0);
	gen_conn(&g, ID_C, 4, IPPROTO_TCP, 3, 4, 300, "c", 0);
	gen_sample(&g, ID_A, 500, 5, 0, 0);
	gen_sample(&g, ID_C, 700, 7, 0, 0);
	gen_tick(&g);
	gen_close(&g, ID_C, TT_CLOSE_RESET, ECONNRESET);
	gen_tick(&g);

	assert_int_equal(sqlite3_exec(db,
				      "CREATE TEMP TRIGGER boom BEFORE INSERT ON "
				      "main.conns BEGIN SELECT RAISE(ABORT, 'injected'); "
				      "END",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	bi = block_at(64, 100, 100 * SEC, 102 * SEC);
	err = tt_store_block(s, seg, &bi, (int64_t)M2W, NULL, g.ix);
	assert_true(err < 0);
	assert_non_null(strstr(tt_store_errmsg(s), "injected"));
	assert_int_equal(q_int(db, "SELECT count(*) FROM blocks"), 0);
	assert_int_equal(q_int(db, "SELECT blocks FROM segments"), 0);
	assert_int_equal(q_int(db, "SELECT count(*) FROM connections"), 0);
	assert_int_equal(sqlite3_exec(db, "DROP TRIGGER boom", NULL, NULL, NULL), SQLITE_OK);

	gen_sample(&g, ID_A, 600, 5, 0, 0);
	gen_tick(&g);
	assert_int_equal(tt_store_block(s, seg, &bi, (int64_t)M2W, NULL, g.ix), 0);
	assert_int_equal(q_int(db, "SELECT count(*) FROM blocks"), 1);
	assert_int_equal(q_int(db, "SELECT count(*) FROM connections"), 2);
	assert_int_equal(q_int(db,
			       "SELECT close_reason = 'reset' FROM connections WHERE conn_id = "
			       "%llu",
			       ID_C),
			 1);
	assert_int_equal(q_int(db, "SELECT sum(bytes_in) FROM buckets"), 1300);
	/* the same block twice is an error, not a duplicate */
	assert_int_equal(tt_store_block(s, seg, &bi, (int64_t)M2W, NULL, g.ix), -EEXIST);
	assert_int_equal(tt_store_block(s, 12345, &bi, (int64_t)M2W, NULL, g.ix), -ENOENT);
	gen_free(&g);
	tt_store_close(s);
}

#define COST_CONNS 1000
#define COST_TICKS 60
#define COST_FLUSH 5
#define COST_IDLE  30 /* from this tick on, no connection moves */

/*
 * 1,000 busy connections, 1 s ticks, a block every 5 s, then idle ones: the
 * work of a block's transaction, counted in rows written (sqlite3_total_changes),
 * is bounded by the connections active in it (their lifetime row, a minor and
 * a major rollup row each, and the block's own rows), and an idle block writes
 * no connection and no rollup row. What it costs in time is measured by the
 * benchmarks (tests/bench/bench_store.sh), never asserted here.
 */
static void test_block_cost(void **state)
{
	struct fx *f = *state;
	struct tt_store *s = open_w(f->dir);
	struct tt_row *rows = calloc(COST_CONNS, sizeof(*rows));
	struct tt_indexer *ix = tt_indexer_new(BUCKET, (int64_t)M2W);
	struct tt_table t = { 0 };
	int64_t rec, seg, conns_before;
	int tick, i, blocks = 0, changes;

	assert_non_null(rows);
	assert_int_equal(tt_store_recording_begin(s, &rec_info, &rec), 0);
	assert_int_equal(tt_store_segment_begin(s, rec, 0, "cost.tts", M2W, &seg), 0);
	t.rows = rows;
	t.n = COST_CONNS;
	for (i = 0; i < COST_CONNS; i++) {
		rows[i].conn.id = 1000 + (uint64_t)i;
		rows[i].conn.family = 4;
		rows[i].conn.proto = IPPROTO_TCP;
		v4(rows[i].conn.laddr, 10, 1, (uint8_t)(i >> 8), (uint8_t)i);
		v4(rows[i].conn.raddr, 192, 168, 0, (uint8_t)(i % 7));
		rows[i].conn.lport = (uint16_t)(20000 + i);
		rows[i].conn.rport = 443;
		snprintf(rows[i].conn.comm, sizeof(rows[i].conn.comm), "worker%d", i % 13);
		rows[i].open_ns = 10 * SEC;
	}
	for (tick = 1; tick <= COST_TICKS; tick++) {
		int busy = tick < COST_IDLE;

		t.start_ns = (100 + (uint64_t)tick - 1) * SEC;
		t.ts_ns = (100 + (uint64_t)tick) * SEC;
		for (i = 0; i < COST_CONNS; i++) {
			struct tt_row *r = &rows[i];

			r->flags = 0;
			r->d_bytes_in = busy ? 1000 + (uint64_t)(i * tick % 977) : 0;
			r->d_bytes_out = busy ? 100 : 0;
			r->d_packets_in = busy ? 2 : 0;
			r->d_packets_out = busy;
			r->tot.bytes_in += r->d_bytes_in;
			r->tot.bytes_out += r->d_bytes_out;
			r->tot.srtt_us = 200 + (uint32_t)i;
			r->rate_in = (double)r->d_bytes_in;
		}
		assert_int_equal(tt_indexer_add(ix, &t), 0);
		if (tick % COST_FLUSH == 0) {
			struct tt_block_info bi = block_at(64 + (uint64_t)blocks * 4096, 4096,
							   t.ts_ns - COST_FLUSH * SEC, t.ts_ns);
			int before = sqlite3_total_changes(db_of(s));

			conns_before = q_int(db_of(s), "SELECT count(*) FROM connections");
			assert_int_equal(tt_store_block(s, seg, &bi, (int64_t)M2W, NULL, ix), 0);
			blocks++;
			changes = sqlite3_total_changes(db_of(s)) - before;
			if (tick <= COST_IDLE) {
				/* every connection written, once per row it has (3002) */
				assert_true(changes >= COST_CONNS);
				assert_true(changes <= 3 * COST_CONNS + 16);
			} else {
				/* idle: the block and its segment, nothing per connection (2) */
				assert_true(changes <= 4);
			}
			assert_int_equal(q_int(db_of(s), "SELECT count(*) FROM connections"),
					 blocks == 1 ? COST_CONNS : conns_before);
		}
	}
	assert_int_equal(q_int(db_of(s), "SELECT count(*) FROM blocks"), COST_TICKS / COST_FLUSH);
	assert_int_equal(q_int(db_of(s), "SELECT count(*) FROM connections"), COST_CONNS);
	assert_int_equal(q_int(db_of(s), "SELECT sum(bytes_in) FROM buckets"),
			 q_int(db_of(s), "SELECT sum(bytes_in) FROM connections"));
	tt_indexer_free(ix);
	free(rows);
	tt_store_close(s);
}

/* ---- the read API (lib/store_read.c) ------------------------------------------------------ */

static int copy_rec(void *ctx, const struct tt_store_rec *r)
{
	struct tt_store_rec *out = ctx;

	*out = *r;
	assert_string_equal(r->host, rec_info.host);
	assert_string_equal(r->kernel, rec_info.kernel);
	assert_string_equal(r->boot_id, rec_info.boot_id);
	assert_string_equal(r->options, rec_info.options);
	assert_string_equal(r->tool_version, rec_info.tool_version);
	out->host = out->kernel = out->boot_id = out->options = out->tool_version = NULL;
	return 0;
}

static int add_block_row(void *ctx, const struct tt_store_block *b)
{
	int64_t *offs = ctx;

	offs[++offs[0]] = b->offset;
	return 0;
}

static void test_read_api(void **state)
{
	struct fx *f = *state;
	struct tt_store *s = open_w(f->dir);
	struct tt_store_rec r;
	struct tt_store_totals t;
	struct tt_store_block_count c;
	struct tt_store_block b;
	struct tt_store_block_run run = { .t_start_max = INT64_MAX };
	struct tt_ev_loss l;
	int64_t rec, seg, offs[4] = { 0 };
	uint64_t a_in, a_out;

	rec = write_recording(s, &seg, &a_in, &a_out);

	/* the row as written, and what readers believe of it from its blocks */
	assert_int_equal(tt_store_recording(s, rec, TT_REC_SEG_END | TT_REC_BELIEF, copy_rec, &r),
			 0);
	assert_int_equal(r.id, rec);
	assert_int_equal(r.start_ns, (int64_t)(M2W + 100 * SEC));
	assert_int_equal(r.has_end, 1);
	assert_int_equal(r.end_ns, (int64_t)(M2W + 111 * SEC));
	assert_int_equal(r.clean_stop, 1);
	assert_int_equal(r.mono_to_wall_ns, (int64_t)M2W);
	assert_int_equal(r.seg_end_ns, (int64_t)(M2W + 110 * SEC));
	assert_int_equal(r.span_end_ns, (int64_t)(M2W + 111 * SEC));
	assert_int_equal(r.start_ok, 1);
	assert_int_equal(r.ints, TT_REC_INT_START | TT_REC_INT_M2W | TT_REC_INT_ROLLUP);
	assert_int_equal(tt_store_recording(s, rec + 1, 0, copy_rec, &r), -ENOENT);

	assert_int_equal(tt_store_totals(s, &t), 0);
	assert_int_equal(t.segments, 1);
	assert_int_equal(t.sealed, 1);
	assert_int_equal(t.blocks, 2);
	assert_int_equal(t.t_start_ns, (int64_t)(M2W + 100 * SEC));
	assert_int_equal(t.t_end_ns, (int64_t)(M2W + 110 * SEC));
	assert_int_equal(t.bytes, 3000);
	assert_int_equal(t.raw_bytes, 12000);
	assert_int_equal(t.ring_drops, 10);
	assert_int_equal(t.socks_full, 2);
	assert_int_equal(t.peers_full, 1);

	/* the blocks a replay picks: the first ending at or after a time, the next one */
	assert_int_equal(tt_store_count_blocks(s, rec, &c), 0);
	assert_int_equal(c.total, 2);
	assert_int_equal(c.bad, 0);
	assert_int_equal(tt_store_find_block(s, rec, TT_BLOCK_FIRST_ENDING,
					     (int64_t)(M2W + 106 * SEC), 0, &b),
			 1);
	assert_int_equal(b.offset, 1064);
	assert_int_equal(tt_store_find_block(s, rec, TT_BLOCK_NEXT, b.seq, b.offset, &b), 0);
	assert_int_equal(tt_store_find_block(s, rec, TT_BLOCK_KEYFRAME_AT, 0, 1063, &b), 1);
	assert_int_equal(b.offset, 64);
	assert_int_equal(tt_store_each_block(s, rec, &run, add_block_row, offs), 0);
	assert_int_equal(offs[0], 2);
	assert_int_equal(offs[1], 64);
	assert_int_equal(offs[2], 1064);

	/* the recorder's cumulative losses at the last block ending by then */
	assert_int_equal(tt_store_losses_at(s, rec, M2W + 106 * SEC, &l), 0);
	assert_int_equal(l.ring_drops, 3);
	assert_int_equal(tt_store_losses_at(s, rec, M2W + 99 * SEC, &l), 0);
	assert_int_equal(l.ring_drops, 0);
	tt_store_close(s);
}

/* ---- export (TT_STORE_EXPORT and the export read functions) --------------------------------- */

/* The journal mode index.db's header says (file format bytes 18, 19): 1 rollback, 2 WAL. */
static int header_mode(const char *dir)
{
	char path[256];
	unsigned char h[20];
	int fd;

	snprintf(path, sizeof(path), "%s/index.db", dir);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, h, sizeof(h), 0), (ssize_t)sizeof(h));
	close(fd);
	assert_int_equal(h[18], h[19]);
	return h[18];
}

static long gid_of(const char *dir, const char *name)
{
	char path[256];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(stat(path, &st), 0);
	return (long)st.st_gid;
}

struct cursors {
	struct tt_store *s; /* set: each row's cursor becomes (5, 7) during the read */
	const char *dir;
	int n;
	struct tt_store_cursor last;
	char host[64], boot_id[64];
};

static int take_cursor(void *ctx, const struct tt_store_cursor *c)
{
	struct cursors *k = ctx;

	k->n++;
	k->last = *c;
	snprintf(k->host, sizeof(k->host), "%s", c->host);
	snprintf(k->boot_id, sizeof(k->boot_id), "%s", c->boot_id);
	if (k->s) {
		/* committed at once, while this read goes on: another connection sees it */
		assert_int_equal(tt_store_set_cursor(k->s, "http://a/", c->rec, 5, 7), 0);
		assert_int_equal(tst_q_int(k->dir, "SELECT ticks_ns * 10 + meta_ns FROM"
						   " export_cursors WHERE dest = 'http://a/'"),
				 57);
	}
	return 0;
}

static struct cursors cursor_of(struct tt_store *s, const char *dest)
{
	struct cursors k = { 0 };

	assert_int_equal(tt_store_each_cursor(s, dest, take_cursor, &k), 0);
	assert_int_equal(k.n, 1);
	return k;
}

struct lifetimes {
	int n;
	uint64_t a_in;
	int seen_a, seen_c;
};

static int check_lifetime(void *ctx, const struct tt_store_lifetime *l)
{
	struct lifetimes *k = ctx;

	k->n++;
	if (l->conn_id == ID_A) {
		k->seen_a = 1;
		assert_string_equal(l->proto, "tcp");
		assert_int_equal(l->family, 4);
		assert_string_equal(l->laddr, "10.0.0.1");
		assert_int_equal(l->lport, 43210);
		assert_string_equal(l->raddr, "10.0.0.2");
		assert_int_equal(l->rport, 443);
		assert_int_equal(l->pid, 100);
		assert_string_equal(l->comm, "nginx");
		assert_string_equal(l->state, "ESTAB");
		assert_null(l->close_reason);
		assert_int_equal(l->close_ns, 0);
		assert_int_equal(l->open_ns, (int64_t)(M2W + 100 * SEC + 1));
		assert_int_equal(l->last_seen_ns, (int64_t)(M2W + 110 * SEC));
		assert_int_equal(l->bytes_in, (int64_t)k->a_in);
		assert_int_equal(l->packets_in, (int64_t)(k->a_in / 1000));
		assert_int_equal(l->rtt_min_us, 100);
		assert_int_equal(l->rtt_avg_us, 550);
		assert_int_equal(l->rtt_max_us, 1000);
		assert_int_equal(l->retrans, 2);
		assert_int_equal(l->cgroup, 4242);
	} else if (l->conn_id == ID_C) {
		k->seen_c = 1;
		assert_string_equal(l->close_reason, "failed");
		assert_int_equal(l->close_errno, ECONNREFUSED);
		assert_int_equal(l->close_ns, (int64_t)(M2W + 100 * SEC + 3));
		assert_string_equal(l->comm, "curl");
	} else if (l->conn_id == ID_D) {
		assert_string_equal(l->proto, "udp");
		assert_int_equal(l->udp_peer, 1);
	} else {
		assert_int_equal(l->conn_id, ID_B);
		assert_string_equal(l->laddr, "::1");
		assert_int_equal(l->partial, 1);
		assert_int_equal(l->rtt_avg_us, 0); /* no sample: NULL in the index */
	}
	return 0;
}

static int lifetimes_since(struct tt_store *s, int64_t rec, int64_t since, uint64_t a_in)
{
	struct lifetimes k = { .a_in = a_in };

	assert_int_equal(tt_store_each_lifetime_since(s, rec, since, check_lifetime, &k), 0);
	return k.n;
}

static int take_loss(void *ctx, const struct tt_store_loss *l)
{
	struct tt_store_loss *out = ctx;

	out[++out[0].t_start_ns] = *l;
	return 0;
}

/*
 * TT_STORE_EXPORT on a store a recorder stopped cleanly: WAL for the export,
 * the -wal and -shm with index.db's mode and group whatever the umask, cursors
 * that commit while a read goes on, rollback mode again after. Then the rows
 * export sends, and the same on a store a writer holds open.
 */
static void test_export(void **state)
{
	struct fx *f = *state;
	struct tt_store *s = NULL, *w;
	struct tt_store_rec r;
	struct tt_store_loss l[4] = { 0 };
	struct cursors k;
	uint64_t a_in, a_out, ns;
	int64_t rec, seg, since;
	mode_t old;
	char why[512];

	assert_int_equal(tt_store_open(f->dir, TT_STORE_WRITE, 0750, 0640, &w, why, sizeof(why)),
			 0);
	rec = write_recording(w, &seg, &a_in, &a_out);
	tt_store_close(w);
	assert_int_equal(header_mode(f->dir), 1);
	assert_false(file_exists(f->dir, "index.db-wal"));
	/* as root, SQLite gives its files the index's owner and group: make that visible */
	if (geteuid() == 0) {
		char path[256];

		snprintf(path, sizeof(path), "%s/index.db", f->dir);
		assert_int_equal(chown(path, (uid_t)-1, 1), 0);
	}

	old = umask(077);
	assert_int_equal(tt_store_open(f->dir, TT_STORE_EXPORT, 0, 0, &s, why, sizeof(why)), 0);
	umask(old);
	assert_int_equal(header_mode(f->dir), 2);
	assert_int_equal(mode_of(f->dir, "index.db-wal"), 0640);
	assert_int_equal(mode_of(f->dir, "index.db-shm"), 0640);
	assert_int_equal(gid_of(f->dir, "index.db-wal"), gid_of(f->dir, "index.db"));
	assert_int_equal(gid_of(f->dir, "index.db-shm"), gid_of(f->dir, "index.db"));

	/* no cursor yet; one written during the read that lists them */
	k = cursor_of(s, "http://a/");
	assert_int_equal(k.last.rec, rec);
	assert_string_equal(k.host, rec_info.host);
	assert_string_equal(k.boot_id, rec_info.boot_id);
	assert_int_equal(k.last.start_ns, (int64_t)rec_info.start_ns);
	assert_int_equal(k.last.ticks_ns, 0);
	assert_int_equal(k.last.meta_ns, 0);
	assert_int_equal(tt_store_unshipped_from(s, &ns), 0);
	assert_int_equal(ns, 0);
	k.s = s;
	k.dir = f->dir;
	k.n = 0;
	assert_int_equal(tt_store_each_cursor(s, "http://a/", take_cursor, &k), 0);
	k = cursor_of(s, "http://a/");
	assert_int_equal(k.last.ticks_ns, 5);
	assert_int_equal(k.last.meta_ns, 7);
	/* one destination's cursor is not another's; a second write updates */
	k = cursor_of(s, "http://b/");
	assert_int_equal(k.last.ticks_ns, 0);
	assert_int_equal(tt_store_set_cursor(s, "http://a/", rec, 9, 11), 0);
	assert_int_equal(tt_store_set_cursor(s, "http://b/", rec, 3, 0), 0);
	k = cursor_of(s, "http://a/");
	assert_int_equal(k.last.ticks_ns, 9);
	assert_int_equal(k.last.meta_ns, 11);
	assert_int_equal(tt_store_unshipped_from(s, &ns), 0);
	assert_int_equal(ns, 3);
	assert_int_equal(tst_q_int(f->dir, "SELECT count(*) FROM export_cursors"), 2);

	/* what export sends: the recording row, the lifetimes and losses since a time */
	assert_int_equal(tt_store_blocks_end(s, &ns), 0);
	assert_int_equal(ns, M2W + 110 * SEC);
	assert_int_equal(tt_store_recording(s, rec, TT_REC_BLOCKS_END, copy_rec, &r), 0);
	assert_int_equal(r.has_blocks_end, 1);
	assert_int_equal(r.blocks_end_ns, (int64_t)(M2W + 110 * SEC));
	assert_int_equal(r.bucket_ns, (int64_t)BUCKET);
	assert_int_equal(lifetimes_since(s, rec, 0, a_in), 4);
	/* C closed in the first tick, last seen at its end; the others are seen to the end */
	assert_int_equal(lifetimes_since(s, rec, (int64_t)(M2W + 101 * SEC - 1), a_in), 4);
	assert_int_equal(lifetimes_since(s, rec, (int64_t)(M2W + 101 * SEC), a_in), 3);
	assert_int_equal(lifetimes_since(s, rec, (int64_t)(M2W + 110 * SEC), a_in), 0);
	assert_int_equal(lifetimes_since(s, rec + 1, 0, a_in), 0);
	assert_int_equal(tt_store_each_loss_since(s, rec, 0, take_loss, l), 0);
	assert_int_equal(l[0].t_start_ns, 2);
	assert_int_equal(l[1].t_end_ns, (int64_t)(M2W + 105 * SEC));
	assert_int_equal(l[1].ring_drops, 3);
	assert_int_equal(l[1].socks_full, 0);
	assert_int_equal(l[1].peers_full, 1);
	assert_int_equal(l[2].t_start_ns, (int64_t)(M2W + 105 * SEC));
	assert_int_equal(l[2].ring_drops, 7);
	assert_int_equal(l[2].socks_full, 2);
	assert_int_equal(l[2].peers_full, 0);
	memset(l, 0, sizeof(l));
	since = (int64_t)(M2W + 105 * SEC);
	assert_int_equal(tt_store_each_loss_since(s, rec, since, take_loss, l), 0);
	assert_int_equal(l[0].t_start_ns, 1);
	assert_int_equal(l[1].ring_drops, 7);
	tt_store_close(s);

	/* back in rollback mode, the cursors kept */
	assert_int_equal(header_mode(f->dir), 1);
	assert_false(file_exists(f->dir, "index.db-wal"));
	assert_false(file_exists(f->dir, "index.db-shm"));
	assert_int_equal(tst_q_int(f->dir, "SELECT ticks_ns FROM export_cursors WHERE dest ="
					   " 'http://a/'"),
			 9);

	/* a reader writes no cursor */
	assert_int_equal(tt_store_open(f->dir, TT_STORE_READ, 0, 0, &s, why, sizeof(why)), 0);
	assert_int_equal(tt_store_set_cursor(s, "http://a/", rec, 1, 1), -EBADF);
	tt_store_close(s);

	/* a store a writer holds: export works beside it, and the index stays in WAL mode */
	w = open_w(f->dir);
	assert_int_equal(tt_store_open(f->dir, TT_STORE_EXPORT, 0, 0, &s, why, sizeof(why)), 0);
	assert_int_equal(tt_store_set_cursor(s, "http://a/", rec, 12, 13), 0);
	tt_store_close(s);
	assert_int_equal(header_mode(f->dir), 2);
	assert_int_equal(tt_store_recording_end(w, rec, M2W + 112 * SEC, 1), 0);
	tt_store_close(w);
	assert_int_equal(header_mode(f->dir), 1);
	assert_int_equal(tst_q_int(f->dir, "SELECT ticks_ns + end_ns FROM export_cursors c JOIN"
					   " recordings r ON r.id = c.recording_id WHERE dest ="
					   " 'http://a/'"),
			 (int64_t)(12 + M2W + 112 * SEC));

	/* a directory that is no store */
	assert_int_equal(tt_store_open(f->tmp, TT_STORE_EXPORT, 0, 0, &s, why, sizeof(why)),
			 -ENOENT);
	assert_non_null(strstr(why, "not a tcptop store"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_write_read_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_views_run, setup, teardown),
		cmocka_unit_test_setup_teardown(test_second_writer_busy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_modes_under_open_umask, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_a_store, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retain_by_size, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retain_by_age, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retain_counts_unshipped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retain_whole_recording, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retain_keeps_open_connections, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_retain_gives_space_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retain_sweeps_left_overs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fresh_index_has_current_schema, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_migration, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrate_v1_store, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keyframe_column, setup, teardown),
		cmocka_unit_test_setup_teardown(test_far_future_schema_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_index_left_by_a_kill, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_block_is_retried, setup, teardown),
		cmocka_unit_test(test_segment_names),
		cmocka_unit_test_setup_teardown(test_hostile_directory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_block_cost, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_api, setup, teardown),
		cmocka_unit_test_setup_teardown(test_export, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
