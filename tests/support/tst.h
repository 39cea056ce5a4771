/*
 * tst.h: what the C tests share (tests/support, the static library tt_tst that
 * every unit test links): a deterministic random source, temporary directories,
 * whole-file I/O, field-by-field comparison of events and tables, a capture of
 * what a scan or a recording produced, a synthetic event stream of a busy host,
 * and the recorder's loop (writer + aggregator) and the analyzer's (scan) over
 * it. Not part of the tools; the assertions are cmocka's, so only tests link it.
 */
#ifndef TT_TST_H
#define TT_TST_H

#include <stddef.h>
#include <stdint.h>

#include "aggregator.h"
#include "event.h"
#include "scan.h"
#include "writer.h"

#define TST_SEC 1000000000ull

/* ---- randomness --------------------------------------------------------------------------- */

/* xorshift64: the next value of state *s (never seed it with 0). */
uint64_t tst_rnd(uint64_t *s);

/* 1 with probability pct %. */
int tst_chance(uint64_t *s, unsigned pct);

/* ---- files -------------------------------------------------------------------------------- */

/* mkdtemp /tmp/tt_NAME_XXXXXX into buf; 0 or -1. */
int tst_tmpdir(char *buf, size_t len, const char *name);

/* rm -rf dir (no symbolic link followed). */
void tst_rmtree(const char *dir);

/* The whole file (a NUL after it), its length in *len; fails the test on error. Free it. */
uint8_t *tst_slurp(const char *path, size_t *len);

/* Write p as the whole file (created 0600 or truncated); fails the test on error. */
void tst_spill(const char *path, const uint8_t *p, size_t len);

/* XOR the byte at off of the file with mask; fails the test on error. */
void tst_flip_byte(const char *path, uint64_t off, uint8_t mask);

/* The first column of the first row of sql on DIR/index.db, read-only; -1 without a row. */
int64_t tst_q_int(const char *dir, const char *sql);

/* ---- comparing ---------------------------------------------------------------------------- */

const struct tt_row *tst_row_of(const struct tt_table *t, uint64_t id);

/* Every field, padding included. */
void tst_assert_ctr_equal(const struct tt_counters *a, const struct tt_counters *b);
void tst_assert_conn_equal(const struct tt_ev_conn *a, const struct tt_ev_conn *b);
void tst_assert_event_equal(const struct tt_event *a, const struct tt_event *b);

/*
 * Table got against want, rows matched by id. strict: everything. Otherwise
 * everything but seq and last_active_ns, which a reader that started at a
 * keyframe cannot know (the aggregator's documented limit).
 */
void tst_assert_table_equal(const struct tt_table *got, const struct tt_table *want, int strict);

/* One row, as tst_assert_table_equal compares them. */
void tst_assert_row_equal(const struct tt_row *g, const struct tt_row *w, int strict);

/* ---- capture ------------------------------------------------------------------------------ */

struct tst_saved {
	struct tt_table t; /* t.rows points to rows */
	struct tt_row *rows;
};

/* Tables and events, copied as they come. Zero-initialise; free with tst_capture_free. */
struct tst_capture {
	struct tst_saved *t;
	size_t n, cap;
	struct tt_event *ev;
	size_t nev, evcap;
};

void tst_capture_table(struct tst_capture *c, const struct tt_table *t);
void tst_capture_event(struct tst_capture *c, const struct tt_event *ev);
void tst_capture_free(struct tst_capture *c);

/* The saved table that ends at ts (CLOCK_MONOTONIC), or NULL. */
const struct tst_saved *tst_capture_at(const struct tst_capture *c, uint64_t ts);

/* ---- a synthetic stream --------------------------------------------------------------------- */

#define TST_GEN_LIVE   80 /* connections open at most */
#define TST_GEN_EV_CAP 1024 /* events of one tick at most */

struct tst_live {
	uint64_t id;
	struct tt_counters c;
	uint8_t proto;
	uint8_t peer; /* the remote address's last byte: a tuple does not change */
};

/*
 * Ticks of 1 s from t0 (CLOCK_MONOTONIC) of a host that opens 0-3 connections a
 * tick (a quarter UDP peers, some partial), moves data on 30 % of them, changes
 * an owner (a new CONN, same tuple) now and then, resets, closes (every reason) and loses
 * ring-buffer events: every event type. A function of the seed only.
 */
struct tst_gen {
	uint64_t s; /* xorshift state */
	uint64_t t0; /* the first tick's start: connections met then are partial */
	uint64_t last_tick;
	uint64_t next_cookie;
	struct tst_live live[TST_GEN_LIVE];
	size_t n;
	struct tt_ev_loss loss;
};

void tst_gen_init(struct tst_gen *g, uint64_t seed, uint64_t t0);

/* One tick's events into ev[TST_GEN_EV_CAP] (the last one a TICK); their number. */
size_t tst_gen_tick(struct tst_gen *g, struct tt_event *ev);

/* ---- the recorder's loop and the analyzer's ------------------------------------------------- */

/* Writer options for dir: the defaults, and a recording of host "testhost" starting at t0. */
void tst_writer_opts(struct tt_writer_opts *wo, const char *dir, uint64_t t0, int64_t m2w);

/*
 * The loop of record/main.c over ticks ticks of g: every event to the writer,
 * then to the aggregator; after each TICK the table to the writer (and to live,
 * which may be NULL). finish: a clean stop at the last tick's end; otherwise
 * the writer is freed without one (what a crash leaves). Returns the blocks
 * written.
 */
uint64_t tst_record(const struct tt_writer_opts *wo, struct tst_gen *g, int ticks,
		    struct tst_capture *live, int finish);

/* The same, with on_tick(ctx, w, table) after each tt_writer_tick (may be NULL). */
uint64_t tst_record_cb(const struct tt_writer_opts *wo, struct tst_gen *g, int ticks,
		       struct tst_capture *live, int finish,
		       void (*on_tick)(void *ctx, struct tt_writer *w, const struct tt_table *t),
		       void *ctx);

/*
 * tt_scan of dir over [from, to] (Unix ns; to 0: open) into c (events but TICK,
 * and tables); the stats. warn NULL: a warning fails the test.
 */
struct tt_scan_stats tst_scan(const char *dir, uint64_t from, uint64_t to, struct tst_capture *c,
			      char *warn, size_t warn_len);

#endif /* TT_TST_H */
