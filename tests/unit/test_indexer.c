/*
 * Unit tests of the indexer on hand-built tables and on tables the aggregator
 * builds from a synthetic event stream: lifetime summaries (totals, peaks, RTT
 * over active ticks), rollup pieces of both lengths (period edges, ticks ending
 * on an edge, parts started by owner changes, minor pieces adding up to the
 * major one), idle ticks costing nothing, closed lifetimes drained once, UDP
 * lifetimes of one id kept apart, row ids and rewind after a failed store, the
 * accepted minor lengths, and random tables against an independent model of
 * what the index must report at each drain and end up holding.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "aggregator.h"
#include "indexer.h"
#include "tst.h"

#define SEC 1000000000ull
/* Unix time at CLOCK_MONOTONIC 0, in s: a whole hour, so period edges are easy to name */
#define M2W_S	1699999200ull
#define M2W	(M2W_S * SEC)
#define MINOR_S 60u /* the tests name minutes; tt_indexer_new(0) is TT_IX_RES_MINOR */
#define MAJOR_S TT_IX_RES_MAJOR

/* A table being built by hand; rows[] is the tt_table's storage. */
struct tab {
	struct tt_table t;
	struct tt_row rows[64];
};

static void tab_start(struct tab *tb, uint64_t start, uint64_t end)
{
	memset(tb, 0, sizeof(*tb));
	tb->t.start_ns = start;
	tb->t.ts_ns = end;
	tb->t.rows = tb->rows;
}

/* Add a row whose deltas are d_in/d_out; tot is carried by the caller. Owner: curl, 42. */
static struct tt_row *tab_row(struct tab *tb, uint64_t id, uint64_t open_mono,
			      struct tt_counters *tot, uint64_t d_in, uint64_t d_out, uint32_t srtt)
{
	struct tt_row *r = &tb->rows[tb->t.n++];
	double len = (double)(tb->t.ts_ns - tb->t.start_ns) / 1e9;

	memset(r, 0, sizeof(*r));
	tot->bytes_in += d_in;
	tot->bytes_out += d_out;
	tot->packets_in += (d_in + 99) / 100;
	tot->packets_out += (d_out + 99) / 100;
	tot->srtt_us = srtt;
	r->conn.id = id;
	r->conn.family = 4;
	r->conn.proto = IPPROTO_TCP;
	r->conn.open_ns = open_mono;
	r->conn.pid = r->conn.tgid = 42;
	memcpy(r->conn.comm, "curl", 5);
	r->tot = *tot;
	r->d_bytes_in = d_in;
	r->d_bytes_out = d_out;
	r->d_packets_in = (d_in + 99) / 100;
	r->d_packets_out = (d_out + 99) / 100;
	r->rate_in = len > 0 ? (double)d_in / len : 0;
	r->rate_out = len > 0 ? (double)d_out / len : 0;
	r->open_ns = open_mono;
	return r;
}

static void set_owner(struct tt_row *r, uint32_t tgid, const char *comm, uint64_t cgroup)
{
	size_t n = strlen(comm);

	assert_true(n < TT_COMM_MAX);
	r->conn.pid = r->conn.tgid = tgid;
	memset(r->conn.comm, 0, sizeof(r->conn.comm));
	memcpy(r->conn.comm, comm, n + 1);
	r->conn.cgroup = cgroup;
}

static const struct tt_ix_conn *find_conn(const struct tt_ix_conn *c, size_t n, uint64_t id,
					  uint64_t open_ns, size_t *idx)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (c[i].conn.id == id && c[i].open_ns == open_ns) {
			if (idx)
				*idx = i;
			return &c[i];
		}
	return NULL;
}

/* The one piece of lifetime key for (res_s, t_s, part); t_s is an offset from M2W_S. */
static const struct tt_ix_piece *piece(const struct tt_ix_piece *p, size_t n, size_t key,
				       uint32_t res_s, uint64_t t_s, uint32_t part)
{
	const struct tt_ix_piece *hit = NULL;
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i].conn_key == key && p[i].res_s == res_s && p[i].t_s == M2W_S + t_s &&
		    p[i].part == part) {
			assert_null(hit);
			hit = &p[i];
		}
	assert_non_null(hit);
	return hit;
}

/* What a piece must say about when and how much; times are offsets from M2W. */
struct want {
	uint32_t res_s;
	uint64_t t_s;
	uint32_t part;
	uint32_t ticks;
	uint64_t bytes_in;
	uint64_t first, last;
};

static void check_want(const struct tt_ix_piece *p, size_t n, size_t key, const struct want *w)
{
	const struct tt_ix_piece *q = piece(p, n, key, w->res_s, w->t_s, w->part);

	assert_int_equal(q->ticks, w->ticks);
	assert_int_equal(q->bytes_in, w->bytes_in);
	assert_int_equal(q->first_ns, M2W + w->first);
	assert_int_equal(q->last_ns, M2W + w->last);
}

static void drain_nothing(struct tt_indexer *ix)
{
	const struct tt_ix_conn *c;
	const struct tt_ix_piece *p;
	size_t nc, np;

	tt_indexer_drain(ix, &c, &nc, &p, &np);
	assert_int_equal(nc, 0);
	assert_int_equal(np, 0);
}

static void test_totals_peaks_rtt(void **state)
{
	struct tt_indexer *ix = tt_indexer_new(MINOR_S * SEC, (int64_t)M2W);
	static const uint64_t din[] = { 100, 5000, 0, 300, 2000 };
	static const uint64_t dout[] = { 10, 20, 90000, 0, 5 };
	static const uint32_t rtt[] = { 0, 800, 200, 0, 500 };
	static const uint8_t st[] = { TT_TCP_SYN_SENT, 1, 1, 1, 4 };
	struct tt_counters tot = { 0 };
	const struct tt_ix_conn *c;
	const struct tt_ix_piece *p;
	struct tab tb;
	size_t nc, np, k;
	unsigned i;

	(void)state;
	assert_non_null(ix);
	assert_int_equal(tt_indexer_minor_ns(ix), MINOR_S * SEC);
	for (i = 0; i < 5; i++) {
		struct tt_row *r;

		tab_start(&tb, (100 + i) * SEC, (101 + i) * SEC);
		tot.state = st[i];
		r = tab_row(&tb, 7, 100 * SEC, &tot, din[i], dout[i], rtt[i]);
		r->flags = i == 0 ? TT_ROW_NEW : 0;
		r->d_resets = i == 3;
		r->d_retrans = i == 4 ? 2 : 0;
		assert_int_equal(tt_indexer_add(ix, &tb.t), 0);
	}
	tt_indexer_drain(ix, &c, &nc, &p, &np);
	assert_int_equal(nc, 1);
	assert_int_equal(c->conn.id, 7);
	assert_int_equal(c->conn.tgid, 42);
	assert_int_equal(c->rowid, 0);
	assert_int_equal(c->open_ns, M2W + 100 * SEC);
	assert_int_equal(c->first_seen_ns, M2W + 101 * SEC);
	assert_int_equal(c->last_seen_ns, M2W + 105 * SEC);
	assert_int_equal(c->tot.bytes_in, 7400);
	assert_int_equal(c->tot.bytes_out, 90035);
	assert_int_equal(c->tot.packets_in, 74);
	assert_int_equal(c->tot.packets_out, 903);
	assert_int_equal(c->tot.srtt_us, 500);
	assert_int_equal(c->tot.state, 4);
	assert_true(c->peak_rate_in == 5000.0);
	assert_true(c->peak_rate_out == 90000.0);
	assert_int_equal(c->rtt_min_us, 200);
	assert_int_equal(c->rtt_max_us, 800);
	assert_int_equal(c->rtt_n, 3);
	assert_int_equal(c->rtt_sum_us, 1500);
	assert_int_equal(c->resets, 1);
	assert_int_equal(c->closed, 0);
	assert_int_equal(c->close_ns, 0);
	/* ticks ending at 101..105 s: minute [60 s, 120 s) and hour [0, 3600 s), one piece each */
	assert_int_equal(np, 2);
	for (k = 0; k < 2; k++) {
		const struct tt_ix_piece *q =
			k ? piece(p, np, 0, MAJOR_S, 0, 0) : piece(p, np, 0, MINOR_S, 60, 0);

		assert_int_equal(q->tgid, 42);
		assert_string_equal(q->comm, "curl");
		assert_int_equal(q->cgroup, 0);
		assert_int_equal(q->ticks, 5);
		assert_int_equal(q->first_ns, M2W + 101 * SEC);
		assert_int_equal(q->last_ns, M2W + 105 * SEC);
		assert_int_equal(q->age_ns, 5 * SEC);
		assert_int_equal(q->state, 4);
		assert_int_equal(q->closed, 0);
		assert_int_equal(q->bytes_in, 7400);
		assert_int_equal(q->bytes_out, 90035);
		assert_int_equal(q->packets_in, 74);
		assert_int_equal(q->packets_out, 903);
		assert_int_equal(q->retrans, 2);
		assert_int_equal(q->resets, 1);
		assert_true(q->peak_rate_in == 5000.0);
		assert_true(q->peak_rate_out == 90000.0);
		assert_int_equal(q->rtt_sum_us, 1500);
		assert_int_equal(q->rtt_n, 3);
		assert_int_equal(q->rtt_min_us, 200);
		assert_int_equal(q->rtt_max_us, 800);
	}
	drain_nothing(ix);
	tt_indexer_free(ix);
}

/*
 * A tick covers (start, end] and goes into the period holding its end: one
 * ending exactly on an edge belongs to the period before it, one ending a
 * nanosecond later to the next, for the minor and the major length alike.
 */
static void test_period_boundaries(void **state)
{
	static const uint64_t ends10[] = { 109 * SEC, 110 * SEC, 110 * SEC + SEC / 2,
					   120 * SEC, 125 * SEC, 131 * SEC };
	static const struct want w10[] = {
		{ 10, 100, 0, 2, 2001, 109 * SEC, 110 * SEC },
		{ 10, 110, 0, 2, 2005, 110 * SEC + SEC / 2, 120 * SEC },
		{ 10, 120, 0, 1, 1004, 125 * SEC, 125 * SEC },
		{ 10, 130, 0, 1, 1005, 131 * SEC, 131 * SEC },
		{ MAJOR_S, 0, 0, 6, 6015, 109 * SEC, 131 * SEC },
	};
	static const uint64_t ends60[] = { 3599 * SEC + SEC / 2, 3600 * SEC, 3600 * SEC + 1,
					   7200 * SEC, 7200 * SEC + SEC / 4 };
	static const struct want w60[] = {
		{ MINOR_S, 3540, 0, 2, 3, 3599 * SEC + SEC / 2, 3600 * SEC },
		{ MINOR_S, 3600, 0, 1, 4, 3600 * SEC + 1, 3600 * SEC + 1 },
		{ MINOR_S, 7140, 0, 1, 8, 7200 * SEC, 7200 * SEC },
		{ MINOR_S, 7200, 0, 1, 16, 7200 * SEC + SEC / 4, 7200 * SEC + SEC / 4 },
		{ MAJOR_S, 0, 0, 2, 3, 3599 * SEC + SEC / 2, 3600 * SEC },
		{ MAJOR_S, 3600, 0, 2, 12, 3600 * SEC + 1, 7200 * SEC },
		{ MAJOR_S, 7200, 0, 1, 16, 7200 * SEC + SEC / 4, 7200 * SEC + SEC / 4 },
	};
	struct tt_indexer *ix = tt_indexer_new(10 * SEC, (int64_t)M2W);
	struct tt_counters tot = { 0 };
	const struct tt_ix_conn *c;
	const struct tt_ix_piece *p;
	uint64_t prev = 108 * SEC;
	struct tab tb;
	size_t nc, np, i;

	(void)state;
	assert_non_null(ix);
	assert_int_equal(tt_indexer_minor_ns(ix), 10 * SEC);
	for (i = 0; i < 6; i++) {
		tab_start(&tb, prev, ends10[i]);
		tab_row(&tb, 9, 100 * SEC, &tot, 1000 + i, 1, 0);
		assert_int_equal(tt_indexer_add(ix, &tb.t), 0);
		prev = ends10[i];
	}
	tt_indexer_drain(ix, &c, &nc, &p, &np);
	assert_int_equal(nc, 1);
	assert_int_equal(np, 5);
	for (i = 0; i < 5; i++)
		check_want(p, np, 0, &w10[i]);
	tt_indexer_free(ix);

	/* minutes, and ticks ending on, and just after, an hour's end */
	ix = tt_indexer_new(MINOR_S * SEC, (int64_t)M2W);
	assert_non_null(ix);
	memset(&tot, 0, sizeof(tot));
	prev = 3599 * SEC;
	for (i = 0; i < 5; i++) {
		tab_start(&tb, prev, ends60[i]);
		tab_row(&tb, 9, 3000 * SEC, &tot, 1u << i, 0, 0);
		assert_int_equal(tt_indexer_add(ix, &tb.t), 0);
		prev = ends60[i];
	}
	tt_indexer_drain(ix, &c, &nc, &p, &np);
	assert_int_equal(nc, 1);
	assert_int_equal(np, 7);
	for (i = 0; i < 7; i++)
		check_want(p, np, 0, &w60[i]);
	tt_indexer_free(ix);
}

/*
 * A piece that spans drains is reported in each with its full sums so far (an
 * upsert then holds the right total), and not again once its period is over.
 */
static void test_piece_across_drains(void **state)
{
	struct tt_indexer *ix = tt_indexer_new(10 * SEC, (int64_t)M2W);
	struct tt_counters tot = { 0 };
	const struct tt_ix_conn *c;
	const struct tt_ix_piece *p;
	struct tab tb;
	size_t nc, np;
	unsigned i;

	(void)state;
	for (i = 1; i <= 5; i++) {
		tab_start(&tb, (100 + i - 1) * SEC, (100 + i) * SEC);
		tab_row(&tb, 3, 100 * SEC, &tot, 10, 0, 0);
		assert_int_equal(tt_indexer_add(ix, &tb.t), 0);
	}
	tt_indexer_drain(ix, &c, &nc, &p, &np);
	assert_int_equal(nc, 1);
	assert_int_equal(np, 2);
	check_want(p, np, 0, &(struct want){ 10, 100, 0, 5, 50, 101 * SEC, 105 * SEC });
	check_want(p, np, 0, &(struct want){ MAJOR_S, 0, 0, 5, 50, 101 * SEC, 105 * SEC });
	for (i = 6; i <= 12; i++) {
		tab_start(&tb, (100 + i - 1) * SEC, (100 + i) * SEC);
		tab_row(&tb, 3, 100 * SEC, &tot, 10, 0, 0);
		assert_int_equal(tt_indexer_add(ix, &tb.t), 0);
	}
	tt_indexer_drain(ix, &c, &nc, &p, &np);
	assert_int_equal(nc, 1);
	assert_int_equal(np, 3);
	check_want(p, np, 0, &(struct want){ 10, 100, 0, 10, 100, 101 * SEC, 110 * SEC });
	check_want(p, np, 0, &(struct want){ 10, 110, 0, 2, 20, 111 * SEC, 112 * SEC });
	check_want(p, np, 0, &(struct want){ MAJOR_S, 0, 0, 12, 120, 101 * SEC, 112 * SEC });
	/* idle ticks: nothing to report at all */
	for (i = 13; i <= 14; i++) {
		tab_start(&tb, (100 + i - 1) * SEC, (100 + i) * SEC);
		tab_row(&tb, 3, 100 * SEC, &tot, 0, 0, 0);
		assert_int_equal(tt_indexer_add(ix, &tb.t), 0);
	}
	drain_nothing(ix);
	/* active again in the same period: that piece goes on, the finished one stays out */
	tab_start(&tb, 114 * SEC, 115 * SEC);
	tab_row(&tb, 3, 100 * SEC, &tot, 10, 0, 0);
	assert_int_equal(tt_indexer_add(ix, &tb.t), 0);
	tt_indexer_drain(ix, &c, &nc, &p, &np);
	assert_int_equal(nc, 1);
	assert_int_equal(c->last_seen_ns, M2W + 115 * SEC);
	assert_int_equal(c->tot.bytes_in, 130);
	assert_int_equal(np, 2);
	check_want(p, np, 0, &(struct want){ 10, 110, 0, 3, 30, 111 * SEC, 115 * SEC });
	check_want(p, np, 0, &(struct want){ MAJOR_S, 0, 0, 13, 130, 101 * SEC, 115 * SEC });
	drain_nothing(ix);
	tt_indexer_free(ix);
}

/*
 * Idle ticks (no deltas, no flags) cost nothing: no piece, no change of the
 * summary (not even its RTT, state or last seen), nothing to drain; only a
 * change of owner on an idle tick updates the summary's conn, and nothing
 * else. NEW alone makes a tick active.
 */
static void test_idle_ticks(void **state)
{
	struct tt_indexer *ix = tt_indexer_new(MINOR_S * SEC, (int64_t)M2W);
	struct tt_counters t5 = { 0 };
	const struct tt_ix_conn *c;
	const struct tt_ix_piece *p;
	const struct tt_ix_piece *q;
	struct tt_row *r;
	struct tab tb;
	size_t nc, np;
	unsigned s;

	(void)state;
	tab_start(&tb, 100 * SEC, 101 * SEC);
	r = tab_row(&tb, 5, 100 * SEC, &t5, 0, 0, 300);
	r->flags = TT_ROW_NEW;
	assert_int_equal(tt_indexer_add(ix, &tb.t), 0);
	tt_indexer_drain(ix, &c, &nc, &p, &np);
	assert_int_equal(nc, 1);
	assert_int_equal(c->first_seen_ns, M2W + 101 * SEC);
	assert_int_equal(c->last_seen_ns, M2W + 101 * SEC);
	assert_int_equal(c->rtt_n, 1);
	assert_int_equal(np, 2);
	q = piece(p, np, 0, MINOR_S, 60, 0);
	assert_int_equal(q->ticks, 1);
	assert_int_equal(q->bytes_in, 0);
	assert_int_equal(q->rtt_n, 1);
	assert_int_equal(q->rtt_sum_us, 300);

	/* idle; the RTT and state move, which is not activity */
	for (s = 102; s <= 110; s++) {
		tab_start(&tb, (s - 1) * SEC, s * SEC);
		t5.state = (uint8_t)(s % 11 + 1);
		tab_row(&tb, 5, 100 * SEC, &t5, 0, 0, 9000 + s);
		assert_int_equal(tt_indexer_add(ix, &tb.t), 0);
	}
	drain_nothing(ix);

	tab_start(&tb, 110 * SEC, 111 * SEC);
	t5.state = 1;
	tab_row(&tb, 5, 100 * SEC, &t5, 50, 0, 400);
	assert_int_equal(tt_indexer_add(ix, &tb.t), 0);
	tt_indexer_drain(ix, &c, &nc, &p, &np);
	assert_int_equal(nc, 1);
	assert_int_equal(c->last_seen_ns, M2W + 111 * SEC);
	assert_int_equal(c->tot.bytes_in, 50);
	assert_int_equal(c->tot.srtt_us, 400);
	assert_int_equal(c->tot.state, 1);
	assert_int_equal(c->rtt_n, 2);
	assert_int_equal(c->rtt_sum_us, 700);
	assert_int_equal(c->rtt_min_us, 300);
	assert_int_equal(c->rtt_max_us, 400);
	assert_true(c->peak_rate_in == 50.0);
	assert_int_equal(np, 2);
	check_want(p, np, 0, &(struct want){ MINOR_S, 60, 0, 2, 50, 101 * SEC, 111 * SEC });
	check_want(p, np, 0, &(struct want){ MAJOR_S, 0, 0, 2, 50, 101 * SEC, 111 * SEC });
	q = piece(p, np, 0, MINOR_S, 60, 0);
	assert_int_equal(q->rtt_n, 2);
	assert_int_equal(q->rtt_sum_us, 700);
	assert_int_equal(q->age_ns, 11 * SEC);
	assert_int_equal(q->state, 1);

	for (s = 112; s <= 115; s++) {
		tab_start(&tb, (s - 1) * SEC, s * SEC);
		t5.state = 8;
		tab_row(&tb, 5, 100 * SEC, &t5, 0, 0, 9999);
		assert_int_equal(tt_indexer_add(ix, &tb.t), 0);
	}
	drain_nothing(ix);

	/* another process takes the socket over while it is idle: only conn changes */
	tab_start(&tb, 115 * SEC, 116 * SEC);
	r = tab_row(&tb, 5, 100 * SEC, &t5, 0, 0, 9999);
	set_owner(r, 77, "nginx", 0);
	assert_int_equal(tt_indexer_add(ix, &tb.t), 0);
	tt_indexer_drain(ix, &c, &nc, &p, &np);
	assert_int_equal(nc, 1);
	assert_int_equal(c->conn.tgid, 77);
	assert_string_equal(c->conn.comm, "nginx");
	assert_int_equal(c->first_seen_ns, M2W + 101 * SEC);
	assert_int_equal(c->last_seen_ns, M2W + 111 * SEC);
	assert_int_equal(c->tot.bytes_in, 50);
	assert_int_equal(c->tot.srtt_us, 400);
	assert_int_equal(c->tot.state, 1);
	assert_int_equal(c->rtt_n, 2);
	assert_int_equal(c->rtt_sum_us, 700);
	assert_true(c->peak_rate_in == 50.0);
	assert_int_equal(np, 0);

	tab_start(&tb, 116 * SEC, 117 * SEC);
	r = tab_row(&tb, 5, 100 * SEC, &t5, 0, 0, 9999);
	set_owner(r, 77, "nginx", 0);
	assert_int_equal(tt_indexer_add(ix, &tb.t), 0);
	drain_nothing(ix);

	/* active again: part 1 of the minute and of the hour, under the new owner */
	tab_start(&tb, 117 * SEC, 118 * SEC);
	r = tab_row(&tb, 5, 100 * SEC, &t5, 7, 0, 0);
	set_owner(r, 77, "nginx", 0);
	assert_int_equal(tt_indexer_add(ix, &tb.t), 0);
	tt_indexer_drain(ix, &c, &nc, &p, &np);
	assert_int_equal(nc, 1);
	assert_int_equal(c->last_seen_ns, M2W + 118 * SEC);
	assert_int_equal(c->tot.bytes_in, 57);
	assert_int_equal(c->tot.srtt_us, 0);
	assert_int_equal(c->rtt_n, 2);
	assert_true(c->peak_rate_in == 50.0);
	assert_int_equal(np, 2);
	check_want(p, np, 0, &(struct want){ MINOR_S, 60, 1, 1, 7, 118 * SEC, 118 * SEC });
	check_want(p, np, 0, &(struct want){ MAJOR_S, 0, 1, 1, 7, 118 * SEC, 118 * SEC });
	q = piece(p, np, 0, MINOR_S, 60, 1);
	assert_int_equal(q->tgid, 77);
	assert_string_equal(q->comm, "nginx");
	assert_int_equal(q->rtt_n, 0);
	assert_int_equal(q->age_ns, 18 * SEC);
	drain_nothing(ix);
	tt_indexer_free(ix);
}

/*
 * A connection first met idle (one that was there before the recording or
 * the replay started: no NEW flag) has done nothing yet: it is not reported
 * until it does, and then its first sight is the tick it first appeared in;
 * one that vanishes without ever doing anything is never reported.
 */
static void test_idle_first_sight(void **state)
{
	struct tt_indexer *ix = tt_indexer_new(MINOR_S * SEC, (int64_t)M2W);
	struct tt_counters t6 = { .bytes_in = 12345, .bytes_out = 678, .srtt_us = 250 };
	struct tt_counters t8 = { .bytes_in = 1 };
	const struct tt_ix_conn *c;
	const struct tt_ix_piece *p;
	const struct tt_ix_piece *q;
	struct tab tb;
	size_t nc, np;
	unsigned s;

	(void)state;
	for (s = 102; s <= 117; s++) {
		tab_start(&tb, (s - 1) * SEC, s * SEC);
		tab_row(&tb, 6, 90 * SEC, &t6, 0, 0, 250);
		if (s <= 105)
			tab_row(&tb, 8, 95 * SEC, &t8, 0, 0, 0);
		assert_int_equal(tt_indexer_add(ix, &tb.t), 0);
		if (s == 102 || s == 110 || s == 117)
			drain_nothing(ix);
	}
	tab_start(&tb, 117 * SEC, 118 * SEC);
	tab_row(&tb, 6, 90 * SEC, &t6, 1, 0, 0);
	assert_int_equal(tt_indexer_add(ix, &tb.t), 0);
	tt_indexer_drain(ix, &c, &nc, &p, &np);
	assert_int_equal(nc, 1);
	assert_int_equal(c->conn.id, 6);
	assert_int_equal(c->first_seen_ns, M2W + 102 * SEC);
	assert_int_equal(c->last_seen_ns, M2W + 118 * SEC);
	assert_int_equal(c->tot.bytes_in, 12346);
	assert_int_equal(c->tot.bytes_out, 678);
	assert_int_equal(c->rtt_n, 0);
	assert_int_equal(c->rtt_min_us, 0);
	assert_int_equal(c->rtt_max_us, 0);
	assert_int_equal(np, 2);
	check_want(p, np, 0, &(struct want){ MINOR_S, 60, 0, 1, 1, 118 * SEC, 118 * SEC });
	check_want(p, np, 0, &(struct want){ MAJOR_S, 0, 0, 1, 1, 118 * SEC, 118 * SEC });
	q = piece(p, np, 0, MAJOR_S, 0, 0);
	assert_int_equal(q->age_ns, 28 * SEC);
	assert_int_equal(q->tgid, 42);
	drain_nothing(ix);
	tt_indexer_free(ix);
}

/*
 * A change of owner (tgid, comm or cgroup; not pid) within a period starts a
 * new part of it, for each length separately: A, B, A gives parts 0, 1, 2; a
 * new period starts again at part 0 while the hour goes on where it was.
 */
static void test_owner_parts(void **state)
{
	static const struct {
		uint64_t end_s;
		uint32_t tgid, pid;
		const char *comm;
		uint64_t cgroup;
	} tk[] = {
		{ 61, 42, 42, "curl", 0 },    { 62, 42, 99, "curl", 0 }, /* another thread: same
									    owner */
		{ 63, 43, 43, "wget", 0 },    { 64, 43, 43, "wget", 0 }, { 65, 42, 42, "curl", 0 },
		{ 121, 42, 42, "curl", 0 }, /* next minute, same hour */
		{ 122, 42, 42, "curl", 7 }, /* cgroup only */
		{ 123, 42, 42, "curl-x", 7 }, /* comm only */
	};
	struct tt_indexer *ix = tt_indexer_new(MINOR_S * SEC, (int64_t)M2W);
	struct tt_counters tot = { 0 };
	const struct tt_ix_conn *c;
	const struct tt_ix_piece *p, *q;
	uint64_t prev = 60 * SEC;
	struct tab tb;
	size_t nc, np, i;

	(void)state;
	for (i = 0; i < sizeof(tk) / sizeof(tk[0]); i++) {
		struct tt_row *r;

		tab_start(&tb, prev, tk[i].end_s * SEC);
		r = tab_row(&tb, 1, 60 * SEC, &tot, 1u << i, 1, 0);
		set_owner(r, tk[i].tgid, tk[i].comm, tk[i].cgroup);
		r->conn.pid = tk[i].pid;
		assert_int_equal(tt_indexer_add(ix, &tb.t), 0);
		prev = tk[i].end_s * SEC;
		if (i != 3)
			continue;
		tt_indexer_drain(ix, &c, &nc, &p, &np);
		assert_int_equal(nc, 1);
		assert_int_equal(c->conn.tgid, 43);
		assert_int_equal(np, 4);
		check_want(p, np, 0, &(struct want){ MINOR_S, 60, 0, 2, 3, 61 * SEC, 62 * SEC });
		check_want(p, np, 0, &(struct want){ MINOR_S, 60, 1, 2, 12, 63 * SEC, 64 * SEC });
		check_want(p, np, 0, &(struct want){ MAJOR_S, 0, 0, 2, 3, 61 * SEC, 62 * SEC });
		check_want(p, np, 0, &(struct want){ MAJOR_S, 0, 1, 2, 12, 63 * SEC, 64 * SEC });
		q = piece(p, np, 0, MINOR_S, 60, 0);
		assert_int_equal(q->tgid, 42);
		assert_string_equal(q->comm, "curl");
		assert_int_equal(q->bytes_out, 2);
		q = piece(p, np, 0, MAJOR_S, 0, 1);
		assert_int_equal(q->tgid, 43);
		assert_string_equal(q->comm, "wget");
		assert_int_equal(q->packets_in, 2);
	}
	/* parts 0 and 1 of minute 60 were stored and are over: they stay out */
	tt_indexer_drain(ix, &c, &nc, &p, &np);
	assert_int_equal(nc, 1);
	assert_int_equal(c->conn.tgid, 42);
	assert_string_equal(c->conn.comm, "curl-x");
	assert_int_equal(c->conn.cgroup, 7);
	assert_int_equal(c->tot.bytes_in, 255);
	assert_int_equal(np, 7);
	check_want(p, np, 0, &(struct want){ MINOR_S, 60, 2, 1, 16, 65 * SEC, 65 * SEC });
	check_want(p, np, 0, &(struct want){ MINOR_S, 120, 0, 1, 32, 121 * SEC, 121 * SEC });
	check_want(p, np, 0, &(struct want){ MINOR_S, 120, 1, 1, 64, 122 * SEC, 122 * SEC });
	check_want(p, np, 0, &(struct want){ MINOR_S, 120, 2, 1, 128, 123 * SEC, 123 * SEC });
	check_want(p, np, 0, &(struct want){ MAJOR_S, 0, 2, 2, 48, 65 * SEC, 121 * SEC });
	check_want(p, np, 0, &(struct want){ MAJOR_S, 0, 3, 1, 64, 122 * SEC, 122 * SEC });
	check_want(p, np, 0, &(struct want){ MAJOR_S, 0, 4, 1, 128, 123 * SEC, 123 * SEC });
	q = piece(p, np, 0, MAJOR_S, 0, 2);
	assert_int_equal(q->tgid, 42);
	assert_int_equal(q->cgroup, 0);
	assert_int_equal(q->bytes_out, 2);
	q = piece(p, np, 0, MINOR_S, 120, 1);
	assert_int_equal(q->cgroup, 7);
	assert_string_equal(q->comm, "curl");
	q = piece(p, np, 0, MAJOR_S, 0, 4);
	assert_int_equal(q->cgroup, 7);
	assert_string_equal(q->comm, "curl-x");
	drain_nothing(ix);
	tt_indexer_free(ix);
}

static void test_closed_drained_once(void **state)
{
	struct tt_indexer *ix = tt_indexer_new(10 * SEC, (int64_t)M2W);
	struct tt_counters ta = { 0 }, tb_ = { 0 }, tc = { 0 };
	const struct tt_ix_conn *c;
	const struct tt_ix_piece *p, *q;
	struct tt_row *r;
	struct tab tb;
	size_t nc, np, i1 = 0, i2 = 0, i3 = 0, k;

	(void)state;
	tab_start(&tb, 100 * SEC, 101 * SEC);
	tab_row(&tb, 1, 100 * SEC, &ta, 500, 500, 0)->flags = TT_ROW_NEW;
	tab_row(&tb, 2, 100 * SEC, &tb_, 10, 10, 0)->flags = TT_ROW_NEW;
	tab_row(&tb, 3, 100 * SEC, &tc, 1, 0, 0)->flags = TT_ROW_NEW;
	assert_int_equal(tt_indexer_add(ix, &tb.t), 0);
	/* 1 closes with no traffic in its last tick: the close alone makes it active */
	tab_start(&tb, 101 * SEC, 102 * SEC);
	ta.state = TT_TCP_CLOSE;
	r = tab_row(&tb, 1, 100 * SEC, &ta, 0, 0, 0);
	r->flags = TT_ROW_CLOSED;
	r->close_ns = 101 * SEC + 500;
	r->close_reason = TT_CLOSE_FAILED;
	r->err = 111;
	tab_row(&tb, 2, 100 * SEC, &tb_, 10, 10, 0);
	/* 3 closes with no close time: it closed at the tick's end */
	r = tab_row(&tb, 3, 100 * SEC, &tc, 3, 0, 0);
	r->flags = TT_ROW_CLOSED;
	assert_int_equal(tt_indexer_add(ix, &tb.t), 0);

	tt_indexer_drain(ix, &c, &nc, &p, &np);
	assert_int_equal(nc, 3);
	assert_non_null(find_conn(c, nc, 1, M2W + 100 * SEC, &i1));
	assert_non_null(find_conn(c, nc, 2, M2W + 100 * SEC, &i2));
	assert_non_null(find_conn(c, nc, 3, M2W + 100 * SEC, &i3));
	assert_int_equal(c[i1].closed, 1);
	assert_int_equal(c[i1].close_ns, M2W + 101 * SEC + 500);
	assert_int_equal(c[i1].close_reason, TT_CLOSE_FAILED);
	assert_int_equal(c[i1].err, 111);
	assert_int_equal(c[i1].tot.bytes_in, 500);
	assert_int_equal(c[i1].tot.state, TT_TCP_CLOSE);
	assert_int_equal(c[i1].last_seen_ns, M2W + 102 * SEC);
	assert_int_equal(c[i2].closed, 0);
	assert_int_equal(c[i3].closed, 1);
	assert_int_equal(c[i3].close_ns, M2W + 102 * SEC);
	assert_int_equal(c[i3].close_reason, TT_CLOSE_NORMAL);
	assert_int_equal(np, 6);
	for (k = 0; k < 2; k++) {
		uint32_t res = k ? MAJOR_S : 10;
		uint64_t t = k ? 0 : 100;

		check_want(p, np, i1, &(struct want){ res, t, 0, 2, 500, 101 * SEC, 102 * SEC });
		check_want(p, np, i2, &(struct want){ res, t, 0, 2, 20, 101 * SEC, 102 * SEC });
		check_want(p, np, i3, &(struct want){ res, t, 0, 2, 4, 101 * SEC, 102 * SEC });
		q = piece(p, np, i1, res, t, 0);
		assert_int_equal(q->closed, 1);
		assert_int_equal(q->state, TT_TCP_CLOSE);
		assert_int_equal(q->age_ns, SEC + 500);
		assert_int_equal(q->bytes_out, 500);
		assert_int_equal(piece(p, np, i2, res, t, 0)->closed, 0);
		q = piece(p, np, i3, res, t, 0);
		assert_int_equal(q->closed, 1);
		assert_int_equal(q->age_ns, 2 * SEC);
	}

	/* the closed ones are not in the next table and must not come back */
	tab_start(&tb, 102 * SEC, 103 * SEC);
	tab_row(&tb, 2, 100 * SEC, &tb_, 10, 10, 0);
	assert_int_equal(tt_indexer_add(ix, &tb.t), 0);
	tt_indexer_drain(ix, &c, &nc, &p, &np);
	assert_int_equal(nc, 1);
	assert_int_equal(c[0].conn.id, 2);
	assert_int_equal(np, 2);
	check_want(p, np, 0, &(struct want){ 10, 100, 0, 3, 30, 101 * SEC, 103 * SEC });
	check_want(p, np, 0, &(struct want){ MAJOR_S, 0, 0, 3, 30, 101 * SEC, 103 * SEC });
	drain_nothing(ix);
	tt_indexer_free(ix);
}

/*
 * A UDP flow expires and its id comes back within one drain: two lifetimes,
 * each with its own pieces and row id.
 */
static void test_two_lifetimes_one_id(void **state)
{
	struct tt_indexer *ix = tt_indexer_new(10 * SEC, (int64_t)M2W);
	uint64_t id = 0x8000000000000abcull;
	struct tt_counters t1 = { 0 }, t2 = { 0 };
	const struct tt_ix_conn *c;
	const struct tt_ix_piece *p;
	struct tt_row *r;
	struct tab tb;
	size_t nc, np, i1 = 0, i2 = 0, k;

	(void)state;
	tab_start(&tb, 100 * SEC, 101 * SEC);
	r = tab_row(&tb, id, 100 * SEC, &t1, 64, 64, 0);
	r->conn.proto = IPPROTO_UDP;
	r->conn.flags = TT_CF_UDP_PEER;
	r->flags = TT_ROW_NEW;
	assert_int_equal(tt_indexer_add(ix, &tb.t), 0);
	tab_start(&tb, 101 * SEC, 102 * SEC);
	r = tab_row(&tb, id, 100 * SEC, &t1, 0, 0, 0);
	r->conn.proto = IPPROTO_UDP;
	r->conn.flags = TT_CF_UDP_PEER;
	r->flags = TT_ROW_CLOSED;
	r->close_reason = TT_CLOSE_IDLE;
	r->close_ns = 102 * SEC;
	assert_int_equal(tt_indexer_add(ix, &tb.t), 0);
	tab_start(&tb, 102 * SEC, 103 * SEC);
	r = tab_row(&tb, id, 102 * SEC + 7, &t2, 1000, 2000, 0);
	r->conn.proto = IPPROTO_UDP;
	r->conn.flags = TT_CF_UDP_PEER;
	r->flags = TT_ROW_NEW;
	assert_int_equal(tt_indexer_add(ix, &tb.t), 0);

	tt_indexer_drain(ix, &c, &nc, &p, &np);
	assert_int_equal(nc, 2);
	assert_non_null(find_conn(c, nc, id, M2W + 100 * SEC, &i1));
	assert_non_null(find_conn(c, nc, id, M2W + 102 * SEC + 7, &i2));
	assert_int_equal(c[i1].closed, 1);
	assert_int_equal(c[i1].close_reason, TT_CLOSE_IDLE);
	assert_int_equal(c[i1].close_ns, M2W + 102 * SEC);
	assert_int_equal(c[i1].tot.bytes_in, 64);
	assert_int_equal(c[i1].rowid, 0);
	assert_int_equal(c[i2].closed, 0);
	assert_int_equal(c[i2].tot.bytes_in, 1000);
	assert_int_equal(c[i2].first_seen_ns, M2W + 103 * SEC);
	assert_int_equal(c[i2].rowid, 0);
	assert_int_equal(np, 4);
	for (k = 0; k < 2; k++) {
		uint32_t res = k ? MAJOR_S : 10;
		uint64_t t = k ? 0 : 100;

		check_want(p, np, i1, &(struct want){ res, t, 0, 2, 64, 101 * SEC, 102 * SEC });
		check_want(p, np, i2, &(struct want){ res, t, 0, 1, 1000, 103 * SEC, 103 * SEC });
		assert_int_equal(piece(p, np, i1, res, t, 0)->closed, 1);
		assert_int_equal(piece(p, np, i2, res, t, 0)->bytes_out, 2000);
	}
	tt_indexer_stored(ix, i1, 100);
	tt_indexer_stored(ix, i2, 101);

	/* the new lifetime goes on under its row; the old one is gone */
	tab_start(&tb, 103 * SEC, 104 * SEC);
	r = tab_row(&tb, id, 102 * SEC + 7, &t2, 1, 1, 0);
	r->conn.proto = IPPROTO_UDP;
	r->conn.flags = TT_CF_UDP_PEER;
	assert_int_equal(tt_indexer_add(ix, &tb.t), 0);
	tt_indexer_drain(ix, &c, &nc, &p, &np);
	assert_int_equal(nc, 1);
	assert_int_equal(c[0].open_ns, M2W + 102 * SEC + 7);
	assert_int_equal(c[0].rowid, 101);
	assert_int_equal(c[0].tot.bytes_in, 1001);
	assert_int_equal(np, 2);
	check_want(p, np, 0, &(struct want){ 10, 100, 0, 2, 1001, 103 * SEC, 104 * SEC });
	check_want(p, np, 0, &(struct want){ MAJOR_S, 0, 0, 2, 1001, 103 * SEC, 104 * SEC });
	drain_nothing(ix);
	tt_indexer_free(ix);
}

/*
 * A drain that was not stored is reported again, closed lifetimes and finished
 * pieces too, and the row ids handed out in it are forgotten; row ids from
 * stored drains are kept, whatever happens to later ones.
 */
static void test_rewind(void **state)
{
	struct tt_indexer *ix = tt_indexer_new(10 * SEC, (int64_t)M2W);
	struct tt_counters ta = { 0 }, tb_ = { 0 }, tc = { 0 };
	const struct tt_ix_conn *c;
	const struct tt_ix_piece *p;
	struct tt_row *r;
	struct tab tb;
	size_t nc, np, i1 = 0, i2 = 0, i3 = 0, k;

	(void)state;
	tab_start(&tb, 108 * SEC, 109 * SEC);
	tab_row(&tb, 1, 100 * SEC, &ta, 5, 0, 0)->flags = TT_ROW_NEW;
	tab_row(&tb, 2, 100 * SEC, &tb_, 6, 0, 0)->flags = TT_ROW_NEW;
	assert_int_equal(tt_indexer_add(ix, &tb.t), 0);
	tab_start(&tb, 109 * SEC, 111 * SEC);
	r = tab_row(&tb, 1, 100 * SEC, &ta, 1, 0, 0);
	r->flags = TT_ROW_CLOSED;
	r->close_ns = 110 * SEC;
	tab_row(&tb, 2, 100 * SEC, &tb_, 4, 0, 0);
	assert_int_equal(tt_indexer_add(ix, &tb.t), 0);
	tt_indexer_drain(ix, &c, &nc, &p, &np);
	assert_int_equal(nc, 2);
	assert_int_equal(np, 6);
	assert_non_null(find_conn(c, nc, 1, M2W + 100 * SEC, &i1));
	assert_non_null(find_conn(c, nc, 2, M2W + 100 * SEC, &i2));
	tt_indexer_stored(ix, i1, 1);
	tt_indexer_stored(ix, i2, 2);
	tt_indexer_rewind(ix);

	/* more traffic before the retry: it must add to, not replace, what was lost */
	tab_start(&tb, 111 * SEC, 112 * SEC);
	tab_row(&tb, 2, 100 * SEC, &tb_, 3, 0, 0);
	assert_int_equal(tt_indexer_add(ix, &tb.t), 0);
	tt_indexer_drain(ix, &c, &nc, &p, &np);
	assert_int_equal(nc, 2);
	assert_non_null(find_conn(c, nc, 1, M2W + 100 * SEC, &i1));
	assert_non_null(find_conn(c, nc, 2, M2W + 100 * SEC, &i2));
	assert_int_equal(c[i1].closed, 1);
	assert_int_equal(c[i1].rowid, 0);
	assert_int_equal(c[i2].rowid, 0);
	assert_int_equal(c[i2].tot.bytes_in, 13);
	assert_int_equal(np, 6);
	check_want(p, np, i1, &(struct want){ 10, 100, 0, 1, 5, 109 * SEC, 109 * SEC });
	check_want(p, np, i1, &(struct want){ 10, 110, 0, 1, 1, 111 * SEC, 111 * SEC });
	check_want(p, np, i1, &(struct want){ MAJOR_S, 0, 0, 2, 6, 109 * SEC, 111 * SEC });
	check_want(p, np, i2, &(struct want){ 10, 100, 0, 1, 6, 109 * SEC, 109 * SEC });
	check_want(p, np, i2, &(struct want){ 10, 110, 0, 2, 7, 111 * SEC, 112 * SEC });
	check_want(p, np, i2, &(struct want){ MAJOR_S, 0, 0, 3, 13, 109 * SEC, 112 * SEC });
	tt_indexer_stored(ix, i1, 10);
	tt_indexer_stored(ix, i2, 20);

	/* stored this time: the closed one and the finished pieces are gone */
	drain_nothing(ix);
	/* a failed empty drain loses no row id */
	tt_indexer_rewind(ix);
	drain_nothing(ix);

	tab_start(&tb, 112 * SEC, 113 * SEC);
	tab_row(&tb, 2, 100 * SEC, &tb_, 1, 0, 0);
	tab_row(&tb, 3, 112 * SEC, &tc, 9, 0, 0)->flags = TT_ROW_NEW;
	assert_int_equal(tt_indexer_add(ix, &tb.t), 0);
	tt_indexer_drain(ix, &c, &nc, &p, &np);
	assert_int_equal(nc, 2);
	assert_non_null(find_conn(c, nc, 2, M2W + 100 * SEC, &i2));
	assert_non_null(find_conn(c, nc, 3, M2W + 112 * SEC, &i3));
	assert_int_equal(c[i2].rowid, 20);
	assert_int_equal(c[i3].rowid, 0);
	assert_int_equal(np, 4);
	tt_indexer_stored(ix, i2, 20);
	tt_indexer_stored(ix, i3, 30);
	tt_indexer_rewind(ix);

	/* 3's insert did not happen; 2's row is still there */
	for (k = 0; k < 2; k++) {
		tt_indexer_drain(ix, &c, &nc, &p, &np);
		assert_int_equal(nc, 2);
		assert_non_null(find_conn(c, nc, 2, M2W + 100 * SEC, &i2));
		assert_non_null(find_conn(c, nc, 3, M2W + 112 * SEC, &i3));
		assert_int_equal(c[i2].rowid, 20);
		assert_int_equal(c[i3].rowid, 0);
		assert_int_equal(np, 4);
		check_want(p, np, i2, &(struct want){ 10, 110, 0, 3, 8, 111 * SEC, 113 * SEC });
		check_want(p, np, i2, &(struct want){ MAJOR_S, 0, 0, 4, 14, 109 * SEC, 113 * SEC });
		check_want(p, np, i3, &(struct want){ 10, 110, 0, 1, 9, 113 * SEC, 113 * SEC });
		check_want(p, np, i3, &(struct want){ MAJOR_S, 0, 0, 1, 9, 113 * SEC, 113 * SEC });
		tt_indexer_stored(ix, i3, 31 + (int64_t)k);
		if (!k)
			tt_indexer_rewind(ix);
	}

	tab_start(&tb, 113 * SEC, 114 * SEC);
	tab_row(&tb, 2, 100 * SEC, &tb_, 0, 0, 0);
	tab_row(&tb, 3, 112 * SEC, &tc, 1, 0, 0);
	assert_int_equal(tt_indexer_add(ix, &tb.t), 0);
	tt_indexer_drain(ix, &c, &nc, &p, &np);
	assert_int_equal(nc, 1);
	assert_int_equal(c[0].conn.id, 3);
	assert_int_equal(c[0].rowid, 32);
	assert_int_equal(c[0].tot.bytes_in, 10);
	assert_int_equal(np, 2);
	drain_nothing(ix);
	tt_indexer_free(ix);
}

/* ---- through the aggregator --------------------------------------------------------------- */

static void feed(struct tt_agg *a, struct tt_indexer *ix, struct tt_event e)
{
	int rc = tt_agg_feed(a, &e);

	assert_true(rc >= 0);
	if (rc == 1)
		assert_int_equal(tt_indexer_add(ix, tt_agg_table(a)), 0);
}

static void feed_tick(struct tt_agg *a, struct tt_indexer *ix, uint64_t t)
{
	struct tt_event e;

	memset(&e, 0, sizeof(e));
	e.type = TT_EV_TICK;
	e.ts_ns = t * SEC;
	e.tick.start_ns = (t - 1) * SEC;
	feed(a, ix, e);
}

/*
 * An event stream with known totals: what the indexer says about each
 * connection equals what the stream's last counters said, its pieces add up
 * to the same bytes, a reset alone makes a tick active, and idle ticks of the
 * aggregator's tables leave nothing to drain.
 */
static void test_from_aggregator(void **state)
{
	struct tt_agg *a = tt_agg_new();
	struct tt_indexer *ix = tt_indexer_new(10 * SEC, (int64_t)M2W);
	uint64_t in_a = 0, out_a = 0, in_b = 0, rtt_sum = 0, want;
	const struct tt_ix_conn *c;
	const struct tt_ix_piece *p, *q;
	struct tt_event e;
	size_t nc, np, ia = 0, ib = 0, k;
	uint64_t t;

	(void)state;
	assert_non_null(a);
	memset(&e, 0, sizeof(e));
	e.type = TT_EV_CONN;
	e.ts_ns = 100 * SEC + 1;
	e.conn.id = 11;
	e.conn.family = 4;
	e.conn.proto = IPPROTO_TCP;
	e.conn.open_ns = 100 * SEC;
	feed(a, ix, e);
	e.conn.id = 12;
	feed(a, ix, e);
	for (t = 101; t <= 130; t++) {
		memset(&e, 0, sizeof(e));
		if (t <= 125) {
			e.type = TT_EV_SAMPLE;
			e.ts_ns = t * SEC - 10;
			e.sample.id = 11;
			in_a += t * 3;
			out_a += t;
			e.sample.c.bytes_in = in_a;
			e.sample.c.bytes_out = out_a;
			e.sample.c.srtt_us = (uint32_t)t;
			rtt_sum += t;
			feed(a, ix, e);
		}
		if (t == 128) {
			/* no traffic, a reset: active, with the RTT it last had */
			e.type = TT_EV_RESET;
			e.ts_ns = t * SEC - 10;
			e.reset.id = 11;
			feed(a, ix, e);
			rtt_sum += 125;
		}
		if (t <= 115) {
			e.type = TT_EV_SAMPLE;
			e.ts_ns = t * SEC - 10;
			e.sample.id = 12;
			in_b += 1000;
			e.sample.c.bytes_in = in_b;
			e.sample.c.bytes_out = 0;
			e.sample.c.srtt_us = 0;
			if (t == 115) {
				e.type = TT_EV_CLOSE;
				e.close.reason = TT_CLOSE_RESET;
			}
			feed(a, ix, e);
		}
		feed_tick(a, ix, t);
	}
	tt_indexer_drain(ix, &c, &nc, &p, &np);
	assert_int_equal(nc, 2);
	assert_non_null(find_conn(c, nc, 11, M2W + 100 * SEC, &ia));
	assert_non_null(find_conn(c, nc, 12, M2W + 100 * SEC, &ib));
	assert_int_equal(c[ia].first_seen_ns, M2W + 101 * SEC);
	assert_int_equal(c[ia].last_seen_ns, M2W + 128 * SEC);
	assert_int_equal(c[ia].tot.bytes_in, in_a);
	assert_int_equal(c[ia].tot.bytes_out, out_a);
	assert_int_equal(c[ia].rtt_min_us, 101);
	assert_int_equal(c[ia].rtt_max_us, 125);
	assert_int_equal(c[ia].rtt_n, 26);
	assert_int_equal(c[ia].rtt_sum_us, rtt_sum);
	assert_int_equal(c[ia].resets, 1);
	assert_true(c[ia].peak_rate_in == 125.0 * 3);
	assert_true(c[ia].peak_rate_out == 125.0);
	assert_int_equal(c[ib].tot.bytes_in, in_b);
	assert_int_equal(c[ib].closed, 1);
	assert_int_equal(c[ib].close_reason, TT_CLOSE_RESET);
	assert_int_equal(c[ib].close_ns, M2W + 115 * SEC - 10);
	assert_int_equal(c[ib].last_seen_ns, M2W + 115 * SEC);
	assert_int_equal(c[ib].rtt_n, 0);
	assert_true(c[ib].peak_rate_in == 1000.0);

	/* ticks ending at 101..110 s are period 100, 111..120 period 110, 121..130 period 120 */
	assert_int_equal(np, 7);
	for (k = 0; k < 2; k++) {
		uint64_t lo = 101 + 10 * k, hi = lo + 9;

		for (want = 0, t = lo; t <= hi; t++)
			want += t * 3;
		check_want(p, np, ia,
			   &(struct want){ 10, 100 + 10 * k, 0, 10, want, lo * SEC, hi * SEC });
		q = piece(p, np, ia, 10, 100 + 10 * k, 0);
		assert_int_equal(q->rtt_n, 10);
		assert_int_equal(q->rtt_min_us, lo);
		assert_int_equal(q->rtt_max_us, hi);
		assert_int_equal(q->resets, 0);
		check_want(p, np, ib,
			   &(struct want){ 10, 100 + 10 * k, 0, 10 - 5 * k, 10000 - 5000 * k,
					   lo * SEC, (hi - 5 * k) * SEC });
		assert_int_equal(piece(p, np, ib, 10, 100 + 10 * k, 0)->closed, k);
	}
	for (want = 0, t = 121; t <= 125; t++)
		want += t * 3;
	check_want(p, np, ia, &(struct want){ 10, 120, 0, 6, want, 121 * SEC, 128 * SEC });
	q = piece(p, np, ia, 10, 120, 0);
	assert_int_equal(q->resets, 1);
	assert_int_equal(q->rtt_n, 6);
	assert_int_equal(q->rtt_sum_us, 121 + 122 + 123 + 124 + 125 + 125);
	assert_int_equal(q->age_ns, 28 * SEC);
	check_want(p, np, ia, &(struct want){ MAJOR_S, 0, 0, 26, in_a, 101 * SEC, 128 * SEC });
	q = piece(p, np, ia, MAJOR_S, 0, 0);
	assert_int_equal(q->bytes_out, out_a);
	assert_int_equal(q->rtt_sum_us, rtt_sum);
	assert_int_equal(q->resets, 1);
	check_want(p, np, ib, &(struct want){ MAJOR_S, 0, 0, 15, in_b, 101 * SEC, 115 * SEC });
	q = piece(p, np, ib, MAJOR_S, 0, 0);
	assert_int_equal(q->closed, 1);
	assert_int_equal(q->age_ns, 15 * SEC - 10);
	assert_int_equal(q->rtt_n, 0);

	/* 11 goes on idle: nothing to drain */
	for (t = 131; t <= 140; t++)
		feed_tick(a, ix, t);
	drain_nothing(ix);
	tt_agg_free(a);
	tt_indexer_free(ix);
}

static void test_minor_ok(void **state)
{
	static const uint64_t ok[] = { SEC, 10 * SEC, 45 * SEC, 60 * SEC, 900 * SEC, 3600 * SEC };
	static const uint64_t bad[] = { 0,	 1,	   SEC / 2,    SEC + SEC / 2,
					7 * SEC, 70 * SEC, 7200 * SEC, 86400 * SEC };
	struct tt_counters tot = { 0 };
	const struct tt_ix_conn *c;
	const struct tt_ix_piece *p;
	struct tt_indexer *ix;
	struct tab tb;
	size_t i, nc, np;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(tt_indexer_minor_ok(ok[i]), 1);
		ix = tt_indexer_new(ok[i], (int64_t)M2W);
		assert_non_null(ix);
		assert_int_equal(tt_indexer_minor_ns(ix), ok[i]);
		tt_indexer_free(ix);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(tt_indexer_minor_ok(bad[i]), 0);
		if (bad[i])
			assert_null(tt_indexer_new(bad[i], (int64_t)M2W));
	}
	/* 0 asks for the default */
	ix = tt_indexer_new(0, (int64_t)M2W);
	assert_non_null(ix);
	assert_int_equal(tt_indexer_minor_ns(ix), TT_IX_RES_MINOR * SEC);
	tt_indexer_free(ix);

	/*
	 * a minor length of an hour: each period comes twice, once per length, the
	 * same piece (an upsert keyed by res, t, conn and part keeps one row)
	 */
	ix = tt_indexer_new(3600 * SEC, (int64_t)M2W);
	assert_non_null(ix);
	tab_start(&tb, 3599 * SEC, 3600 * SEC);
	tab_row(&tb, 1, 3599 * SEC, &tot, 5, 0, 0)->flags = TT_ROW_NEW;
	assert_int_equal(tt_indexer_add(ix, &tb.t), 0);
	tt_indexer_drain(ix, &c, &nc, &p, &np);
	assert_int_equal(nc, 1);
	assert_int_equal(np, 2);
	for (i = 0; i < np; i++) {
		assert_int_equal(p[i].res_s, 3600);
		assert_int_equal(p[i].t_s, M2W_S);
		assert_int_equal(p[i].part, 0);
		assert_int_equal(p[i].ticks, 1);
		assert_int_equal(p[i].bytes_in, 5);
	}
	tt_indexer_free(ix);
}

/* ---- a store of the drains, and minor pieces against major ones ------------------------- */

#define R_IDS	     12
#define R_TICKS	     700
#define R_MAX_LIVES  4096
#define R_MAX_PIECES 32768

struct db_piece {
	uint64_t id, open_ns;
	struct tt_ix_piece p;
};

/*
 * What a store makes of the drains: conns rows (rowid = index + 1) inserted for
 * a lifetime without a row id and updated for one with, rollups rows upserted
 * by (lifetime, res, t, part).
 */
struct db {
	size_t nc, np;
	struct tt_ix_conn c[R_MAX_LIVES];
	struct db_piece p[R_MAX_PIECES];
};

static void db_copy(struct db *to, const struct db *from)
{
	to->nc = from->nc;
	to->np = from->np;
	memcpy(to->c, from->c, from->nc * sizeof(from->c[0]));
	memcpy(to->p, from->p, from->np * sizeof(from->p[0]));
}

static struct db_piece *db_piece(struct db *db, uint64_t id, uint64_t open_ns, uint32_t res,
				 uint64_t t, uint32_t part)
{
	size_t i;

	for (i = db->np; i-- > 0;) {
		struct db_piece *d = &db->p[i];

		if (d->id == id && d->open_ns == open_ns && d->p.res_s == res && d->p.t_s == t &&
		    d->p.part == part)
			return d;
	}
	return NULL;
}

static void db_apply(struct db *db, struct tt_indexer *ix, const struct tt_ix_conn *c, size_t nc,
		     const struct tt_ix_piece *p, size_t np)
{
	size_t i, j;

	for (i = 0; i < nc; i++) {
		if (!c[i].rowid) {
			/* an insert: there must be no row for this lifetime yet */
			for (j = 0; j < db->nc; j++)
				assert_false(db->c[j].conn.id == c[i].conn.id &&
					     db->c[j].open_ns == c[i].open_ns);
			assert_true(db->nc < R_MAX_LIVES);
			db->c[db->nc++] = c[i];
			db->c[db->nc - 1].rowid = (int64_t)db->nc;
			tt_indexer_stored(ix, i, (int64_t)db->nc);
		} else {
			/* an update of the row this lifetime got */
			assert_in_range(c[i].rowid, 1, db->nc);
			j = (size_t)c[i].rowid - 1;
			assert_int_equal(db->c[j].conn.id, c[i].conn.id);
			assert_int_equal(db->c[j].open_ns, c[i].open_ns);
			db->c[j] = c[i];
			tt_indexer_stored(ix, i, c[i].rowid);
		}
	}
	for (i = 0; i < np; i++) {
		const struct tt_ix_conn *o;
		struct db_piece *d;

		assert_true(p[i].conn_key < nc);
		assert_true(p[i].res_s != 0);
		assert_int_equal(p[i].t_s % p[i].res_s, 0);
		o = &c[p[i].conn_key];
		d = db_piece(db, o->conn.id, o->open_ns, p[i].res_s, p[i].t_s, p[i].part);
		if (!d) {
			assert_true(db->np < R_MAX_PIECES);
			d = &db->p[db->np++];
			d->id = o->conn.id;
			d->open_ns = o->open_ns;
		}
		d->p = p[i];
	}
}

/* A number of pieces taken together, as a report over their periods would. */
struct agg {
	uint32_t n, ticks, retrans, resets, rtt_n, rtt_min, rtt_max, max_part;
	uint64_t bytes_in, bytes_out, packets_in, packets_out, rtt_sum, first, last, age;
	double peak_in, peak_out;
	uint8_t state, closed;
};

static void agg_add(struct agg *a, const struct tt_ix_piece *p)
{
	assert_true(p->ticks > 0);
	if (!a->n || p->first_ns < a->first)
		a->first = p->first_ns;
	if (!a->n || p->last_ns > a->last) {
		a->last = p->last_ns;
		a->state = p->state;
	}
	if (p->age_ns > a->age)
		a->age = p->age_ns;
	if (p->part > a->max_part)
		a->max_part = p->part;
	a->n++;
	a->closed |= p->closed;
	a->ticks += p->ticks;
	a->bytes_in += p->bytes_in;
	a->bytes_out += p->bytes_out;
	a->packets_in += p->packets_in;
	a->packets_out += p->packets_out;
	a->retrans += p->retrans;
	a->resets += p->resets;
	if (p->peak_rate_in > a->peak_in)
		a->peak_in = p->peak_rate_in;
	if (p->peak_rate_out > a->peak_out)
		a->peak_out = p->peak_rate_out;
	if (p->rtt_n) {
		if (!a->rtt_n || p->rtt_min_us < a->rtt_min)
			a->rtt_min = p->rtt_min_us;
		if (p->rtt_max_us > a->rtt_max)
			a->rtt_max = p->rtt_max_us;
	}
	a->rtt_sum += p->rtt_sum_us;
	a->rtt_n += p->rtt_n;
}

/*
 * For each lifetime and hour, the minor pieces of the hour taken together say
 * what the major pieces of the hour do, and every minor piece is in an hour
 * that has a major piece. Returns the highest major part seen.
 */
static uint32_t check_minor_major(const struct db *db, uint32_t minor_s)
{
	size_t i, j, nminor = 0, covered = 0;
	uint32_t max_part = 0;

	assert_true(minor_s < MAJOR_S);
	for (i = 0; i < db->np; i++) {
		const struct db_piece *h = &db->p[i];
		struct agg mi, ma;

		if (h->p.res_s == minor_s)
			nminor++;
		if (h->p.res_s != MAJOR_S || h->p.part)
			continue;
		memset(&mi, 0, sizeof(mi));
		memset(&ma, 0, sizeof(ma));
		for (j = 0; j < db->np; j++) {
			const struct db_piece *d = &db->p[j];

			if (d->id != h->id || d->open_ns != h->open_ns)
				continue;
			if (d->p.res_s == MAJOR_S && d->p.t_s == h->p.t_s) {
				agg_add(&ma, &d->p);
			} else if (d->p.res_s == minor_s && d->p.t_s >= h->p.t_s &&
				   d->p.t_s < h->p.t_s + MAJOR_S) {
				agg_add(&mi, &d->p);
				covered++;
			}
		}
		assert_true(mi.n >= ma.n);
		if (ma.max_part > max_part)
			max_part = ma.max_part;
		if (!ma.max_part)
			assert_int_equal(ma.n, 1);
		assert_int_equal(mi.ticks, ma.ticks);
		assert_int_equal(mi.bytes_in, ma.bytes_in);
		assert_int_equal(mi.bytes_out, ma.bytes_out);
		assert_int_equal(mi.packets_in, ma.packets_in);
		assert_int_equal(mi.packets_out, ma.packets_out);
		assert_int_equal(mi.retrans, ma.retrans);
		assert_int_equal(mi.resets, ma.resets);
		assert_int_equal(mi.rtt_sum, ma.rtt_sum);
		assert_int_equal(mi.rtt_n, ma.rtt_n);
		assert_int_equal(mi.rtt_min, ma.rtt_min);
		assert_int_equal(mi.rtt_max, ma.rtt_max);
		assert_true(mi.peak_in == ma.peak_in);
		assert_true(mi.peak_out == ma.peak_out);
		assert_int_equal(mi.first, ma.first);
		assert_int_equal(mi.last, ma.last);
		assert_int_equal(mi.age, ma.age);
		assert_int_equal(mi.state, ma.state);
		assert_int_equal(mi.closed, ma.closed);
	}
	assert_int_equal(covered, nminor);
	return max_part;
}

/*
 * Three hours of two connections with irregular ticks, some ending on period
 * edges, idle ones among them: for several minor lengths, the minor pieces of
 * each hour add up to its major piece. 1 keeps its owner, so each hour has one
 * major piece; 2 changes hands every five minutes, so its hours have parts.
 */
static void test_minor_major_consistent(void **state)
{
	static const uint64_t minors[] = { 1, 10, 60, 900 };
	struct db *db = calloc(1, sizeof(*db));
	size_t m;

	(void)state;
	assert_non_null(db);
	for (m = 0; m < sizeof(minors) / sizeof(minors[0]); m++) {
		struct tt_indexer *ix = tt_indexer_new(minors[m] * SEC, (int64_t)M2W);
		struct tt_counters tot[2];
		uint64_t s = 0x9E3779B97F4A7C15ull + m, now = 3000 * SEC;
		const struct tt_ix_conn *c;
		const struct tt_ix_piece *p;
		size_t nc, np, i;
		unsigned tick = 0;
		struct tab tb;

		assert_non_null(ix);
		memset(tot, 0, sizeof(tot));
		db->nc = db->np = 0;
		while (now < 3000 * SEC + 3 * MAJOR_S * SEC) {
			uint64_t start = now, x = tst_rnd(&s) % 50;

			now += SEC / 2 + tst_rnd(&s) % (40 * SEC);
			if (x < 8)
				now = (start / (minors[m] * SEC) + 1) * minors[m] * SEC;
			else if (x == 8)
				now = (start / (900 * SEC) + 1) * 900 * SEC;
			tab_start(&tb, start, now);
			for (i = 0; i < 2; i++) {
				int idle = tst_rnd(&s) % 4 == 0;
				uint64_t din = idle ? 0 : tst_rnd(&s) % 50000;
				uint64_t dout = idle ? 0 : tst_rnd(&s) % 3 ? tst_rnd(&s) % 5000 : 0;
				uint32_t srtt =
					tst_rnd(&s) % 3 ? 1 + (uint32_t)(tst_rnd(&s) % 3000) : 0;
				struct tt_row *r;

				tot[i].state = (uint8_t)(1 + tst_rnd(&s) % 11);
				r = tab_row(&tb, i + 1, 2999 * SEC, &tot[i], din, dout, srtt);
				r->flags = tick ? 0 : TT_ROW_NEW;
				if (!idle) {
					r->d_retrans = tst_rnd(&s) % 4 == 0
							       ? (uint32_t)(1 + tst_rnd(&s) % 3)
							       : 0;
					r->d_resets = tst_rnd(&s) % 9 == 0;
				}
				if (i == 1 && (now / (300 * SEC)) % 2)
					set_owner(r, 43, "wget", 0);
			}
			assert_int_equal(tt_indexer_add(ix, &tb.t), 0);
			if (++tick % 17 == 0) {
				tt_indexer_drain(ix, &c, &nc, &p, &np);
				db_apply(db, ix, c, nc, p, np);
			}
		}
		tt_indexer_drain(ix, &c, &nc, &p, &np);
		db_apply(db, ix, c, nc, p, np);
		assert_int_equal(db->nc, 2);
		for (i = 0; i < db->np; i++) {
			assert_true(db->p[i].p.res_s == minors[m] || db->p[i].p.res_s == MAJOR_S);
			if (db->p[i].id == 1)
				assert_int_equal(db->p[i].p.part, 0);
		}
		/* 2 changed hands within hours: those have parts */
		assert_true(check_minor_major(db, (uint32_t)minors[m]) >= 2);
		tt_indexer_free(ix);
	}
	free(db);
}

/* ---- random tables against a model ------------------------------------------------------- */

/*
 * The model: one lifetime as the index must report it, and one rollup piece,
 * keyed by (id, open), and (id, open, res, t, part); dirty while changed since
 * the last stored drain; seen: the drain that last reported it.
 */
struct m_life {
	uint64_t id, open_ns;
	uint32_t pid, tgid;
	char comm[TT_COMM_MAX];
	uint64_t cgroup;
	uint64_t first_seen, last_seen, close_ns;
	uint8_t closed, close_reason;
	uint16_t err;
	uint64_t bytes_in, bytes_out, packets_in, packets_out; /* totals at the last active tick */
	uint32_t srtt, retrans_tot;
	uint8_t state;
	double peak_in, peak_out;
	uint32_t rtt_min, rtt_max, rtt_n, resets;
	uint64_t rtt_sum;
	/* the period and part of its last active tick, per length, and its owner */
	int has[2];
	uint64_t cur_t[2];
	uint32_t cur_part[2];
	uint32_t part_tgid;
	char part_comm[TT_COMM_MAX];
	uint64_t part_cgroup;
	int dirty;
	unsigned seen;
};

struct m_piece {
	uint64_t id, open_ns, t;
	uint32_t res, part;
	uint32_t tgid;
	char comm[TT_COMM_MAX];
	uint64_t cgroup;
	uint32_t ticks;
	uint64_t first, last, age;
	uint8_t state, closed;
	uint64_t bytes_in, bytes_out, packets_in, packets_out;
	uint32_t retrans, resets;
	double peak_in, peak_out;
	uint64_t rtt_sum;
	uint32_t rtt_n, rtt_min, rtt_max;
	int dirty;
	unsigned seen;
};

struct model {
	struct m_life l[R_MAX_LIVES];
	size_t nl;
	struct m_piece p[R_MAX_PIECES];
	size_t np;
	unsigned drains;
};

static struct m_life *m_find_life(struct model *m, uint64_t id, uint64_t open_ns)
{
	size_t i;

	for (i = m->nl; i-- > 0;)
		if (m->l[i].id == id && m->l[i].open_ns == open_ns)
			return &m->l[i];
	return NULL;
}

static struct m_piece *m_find_piece(struct model *m, uint64_t id, uint64_t open_ns, uint32_t res,
				    uint64_t t, uint32_t part)
{
	size_t i;

	for (i = m->np; i-- > 0;) {
		struct m_piece *p = &m->p[i];

		if (p->id == id && p->open_ns == open_ns && p->res == res && p->t == t &&
		    p->part == part)
			return p;
	}
	return NULL;
}

static int m_active(const struct tt_row *r)
{
	return r->d_bytes_in || r->d_bytes_out || r->d_packets_in || r->d_packets_out ||
	       r->d_retrans || r->d_resets || (r->flags & TT_ROW_NEW) || (r->flags & TT_ROW_CLOSED);
}

/* Account row r of the table ending at now (monotonic) in the model. */
static void m_row(struct model *m, const struct tt_row *r, uint64_t now, uint32_t minor_s)
{
	uint64_t wend = M2W + now, open = M2W + r->open_ns;
	uint64_t end = r->close_ns ? r->close_ns : now;
	uint64_t age = end > r->open_ns ? end - r->open_ns : 0;
	struct m_life *l = m_find_life(m, r->conn.id, open);
	int k;

	if (!l) {
		assert_true(m->nl < R_MAX_LIVES);
		l = &m->l[m->nl++];
		memset(l, 0, sizeof(*l));
		l->id = r->conn.id;
		l->open_ns = open;
		l->first_seen = wend;
		l->pid = r->conn.pid;
		l->tgid = r->conn.tgid;
		memcpy(l->comm, r->conn.comm, TT_COMM_MAX);
		l->cgroup = r->conn.cgroup;
	}
	if (l->pid != r->conn.pid || l->tgid != r->conn.tgid || l->cgroup != r->conn.cgroup ||
	    memcmp(l->comm, r->conn.comm, TT_COMM_MAX)) {
		l->pid = r->conn.pid;
		l->tgid = r->conn.tgid;
		memcpy(l->comm, r->conn.comm, TT_COMM_MAX);
		l->cgroup = r->conn.cgroup;
		l->dirty = 1;
	}
	if (!m_active(r))
		return;
	l->dirty = 1;
	l->last_seen = wend;
	l->bytes_in = r->tot.bytes_in;
	l->bytes_out = r->tot.bytes_out;
	l->packets_in = r->tot.packets_in;
	l->packets_out = r->tot.packets_out;
	l->srtt = r->tot.srtt_us;
	l->retrans_tot = r->tot.retrans;
	l->state = r->tot.state;
	if (r->rate_in > l->peak_in)
		l->peak_in = r->rate_in;
	if (r->rate_out > l->peak_out)
		l->peak_out = r->rate_out;
	if (r->tot.srtt_us) {
		if (!l->rtt_n || r->tot.srtt_us < l->rtt_min)
			l->rtt_min = r->tot.srtt_us;
		if (r->tot.srtt_us > l->rtt_max)
			l->rtt_max = r->tot.srtt_us;
		l->rtt_sum += r->tot.srtt_us;
		l->rtt_n++;
	}
	l->resets += r->d_resets;
	if ((r->flags & TT_ROW_CLOSED) && !l->closed) {
		l->closed = 1;
		l->close_ns = r->close_ns ? M2W + r->close_ns : wend;
		l->close_reason = r->close_reason;
		l->err = r->err;
	}
	for (k = 0; k < 2; k++) {
		uint32_t res = k ? MAJOR_S : minor_s, part = 0;
		uint64_t t = (wend - 1) / (res * SEC) * res;
		struct m_piece *p;

		if (l->has[k] && l->cur_t[k] == t) {
			part = l->cur_part[k];
			if (l->part_tgid != r->conn.tgid || l->part_cgroup != r->conn.cgroup ||
			    memcmp(l->part_comm, r->conn.comm, TT_COMM_MAX))
				part++;
		}
		l->has[k] = 1;
		l->cur_t[k] = t;
		l->cur_part[k] = part;
		p = m_find_piece(m, l->id, open, res, t, part);
		if (!p) {
			assert_true(m->np < R_MAX_PIECES);
			p = &m->p[m->np++];
			memset(p, 0, sizeof(*p));
			p->id = l->id;
			p->open_ns = open;
			p->res = res;
			p->t = t;
			p->part = part;
			p->tgid = r->conn.tgid;
			memcpy(p->comm, r->conn.comm, TT_COMM_MAX);
			p->cgroup = r->conn.cgroup;
			p->first = wend;
		}
		p->dirty = 1;
		p->ticks++;
		p->last = wend;
		if (age > p->age)
			p->age = age;
		p->state = r->tot.state;
		if (r->flags & TT_ROW_CLOSED)
			p->closed = 1;
		p->bytes_in += r->d_bytes_in;
		p->bytes_out += r->d_bytes_out;
		p->packets_in += r->d_packets_in;
		p->packets_out += r->d_packets_out;
		p->retrans += r->d_retrans;
		p->resets += r->d_resets;
		if (r->rate_in > p->peak_in)
			p->peak_in = r->rate_in;
		if (r->rate_out > p->peak_out)
			p->peak_out = r->rate_out;
		if (r->tot.srtt_us) {
			if (!p->rtt_n || r->tot.srtt_us < p->rtt_min)
				p->rtt_min = r->tot.srtt_us;
			if (r->tot.srtt_us > p->rtt_max)
				p->rtt_max = r->tot.srtt_us;
			p->rtt_sum += r->tot.srtt_us;
			p->rtt_n++;
		}
	}
	l->part_tgid = r->conn.tgid;
	memcpy(l->part_comm, r->conn.comm, TT_COMM_MAX);
	l->part_cgroup = r->conn.cgroup;
}

static void m_check_life(const struct m_life *w, const struct tt_ix_conn *g)
{
	assert_int_equal(g->conn.id, w->id);
	assert_int_equal(g->open_ns, w->open_ns);
	assert_int_equal(g->conn.pid, w->pid);
	assert_int_equal(g->conn.tgid, w->tgid);
	assert_memory_equal(g->conn.comm, w->comm, TT_COMM_MAX);
	assert_int_equal(g->conn.cgroup, w->cgroup);
	assert_int_equal(g->first_seen_ns, w->first_seen);
	assert_int_equal(g->last_seen_ns, w->last_seen);
	assert_int_equal(g->closed, w->closed);
	assert_int_equal(g->close_ns, w->close_ns);
	assert_int_equal(g->close_reason, w->close_reason);
	assert_int_equal(g->err, w->err);
	assert_int_equal(g->tot.bytes_in, w->bytes_in);
	assert_int_equal(g->tot.bytes_out, w->bytes_out);
	assert_int_equal(g->tot.packets_in, w->packets_in);
	assert_int_equal(g->tot.packets_out, w->packets_out);
	assert_int_equal(g->tot.srtt_us, w->srtt);
	assert_int_equal(g->tot.retrans, w->retrans_tot);
	assert_int_equal(g->tot.state, w->state);
	assert_true(g->peak_rate_in == w->peak_in);
	assert_true(g->peak_rate_out == w->peak_out);
	assert_int_equal(g->rtt_min_us, w->rtt_min);
	assert_int_equal(g->rtt_max_us, w->rtt_max);
	assert_int_equal(g->rtt_sum_us, w->rtt_sum);
	assert_int_equal(g->rtt_n, w->rtt_n);
	assert_int_equal(g->resets, w->resets);
}

static void m_check_piece(const struct m_piece *w, const struct tt_ix_piece *g)
{
	assert_int_equal(g->res_s, w->res);
	assert_int_equal(g->t_s, w->t);
	assert_int_equal(g->part, w->part);
	assert_int_equal(g->tgid, w->tgid);
	assert_memory_equal(g->comm, w->comm, TT_COMM_MAX);
	assert_int_equal(g->cgroup, w->cgroup);
	assert_int_equal(g->ticks, w->ticks);
	assert_int_equal(g->first_ns, w->first);
	assert_int_equal(g->last_ns, w->last);
	assert_int_equal(g->age_ns, w->age);
	assert_int_equal(g->state, w->state);
	assert_int_equal(g->closed, w->closed);
	assert_int_equal(g->bytes_in, w->bytes_in);
	assert_int_equal(g->bytes_out, w->bytes_out);
	assert_int_equal(g->packets_in, w->packets_in);
	assert_int_equal(g->packets_out, w->packets_out);
	assert_int_equal(g->retrans, w->retrans);
	assert_int_equal(g->resets, w->resets);
	assert_true(g->peak_rate_in == w->peak_in);
	assert_true(g->peak_rate_out == w->peak_out);
	assert_int_equal(g->rtt_sum_us, w->rtt_sum);
	assert_int_equal(g->rtt_n, w->rtt_n);
	assert_int_equal(g->rtt_min_us, w->rtt_min);
	assert_int_equal(g->rtt_max_us, w->rtt_max);
}

/*
 * Drain: it must report exactly what changed since the last stored drain, with
 * the model's current values; then store it in a transaction that fails (the
 * indexer is rewound, the store left as it was) or commits.
 */
static void m_store(struct model *m, struct db *db, struct db *tx, struct tt_indexer *ix,
		    uint32_t minor_s, int fail)
{
	const struct tt_ix_conn *c;
	const struct tt_ix_piece *p;
	size_t nc, np, i, dirty = 0;
	unsigned d = ++m->drains;

	tt_indexer_drain(ix, &c, &nc, &p, &np);
	for (i = 0; i < m->nl; i++)
		dirty += m->l[i].dirty != 0;
	assert_int_equal(nc, dirty);
	for (i = 0; i < nc; i++) {
		struct m_life *l = m_find_life(m, c[i].conn.id, c[i].open_ns);

		assert_non_null(l);
		assert_true(l->dirty);
		assert_true(l->seen != d);
		l->seen = d;
		m_check_life(l, &c[i]);
	}
	for (i = dirty = 0; i < m->np; i++)
		dirty += m->p[i].dirty != 0;
	assert_int_equal(np, dirty);
	for (i = 0; i < np; i++) {
		struct m_piece *w;

		assert_true(p[i].conn_key < nc);
		assert_true(p[i].res_s == minor_s || p[i].res_s == MAJOR_S);
		w = m_find_piece(m, c[p[i].conn_key].conn.id, c[p[i].conn_key].open_ns, p[i].res_s,
				 p[i].t_s, p[i].part);
		assert_non_null(w);
		assert_true(w->dirty);
		assert_true(w->seen != d);
		w->seen = d;
		m_check_piece(w, &p[i]);
	}
	db_copy(tx, db);
	db_apply(tx, ix, c, nc, p, np);
	if (fail) {
		tt_indexer_rewind(ix);
		return;
	}
	db_copy(db, tx);
	for (i = 0; i < m->nl; i++)
		m->l[i].dirty = 0;
	for (i = 0; i < m->np; i++)
		m->p[i].dirty = 0;
}

static const struct {
	uint32_t tgid;
	const char *comm;
	uint64_t cgroup;
} owners[] = { { 42, "curl", 0 }, { 43, "wget", 0 }, { 42, "curl", 9 }, { 42, "curl-2", 9 } };

static void random_run(uint64_t minor_s, uint64_t seed)
{
	struct model *m = calloc(1, sizeof(*m));
	struct db *db = calloc(1, sizeof(*db)), *tx = calloc(1, sizeof(*tx));
	struct tt_indexer *ix = tt_indexer_new(minor_s * SEC, (int64_t)M2W);
	struct {
		int live;
		uint64_t open, last_open;
		unsigned owner;
		uint32_t pid;
		struct tt_counters tot;
	} sl[R_IDS];
	uint64_t s = seed, now = 1000 * SEC, minor_ns = minor_s * SEC;
	struct tab tb;
	size_t i;
	int tick;

	assert_non_null(m);
	assert_non_null(db);
	assert_non_null(tx);
	assert_non_null(ix);
	memset(sl, 0, sizeof(sl));
	for (tick = 0; tick <= R_TICKS; tick++) {
		uint64_t start = now, x = tst_rnd(&s) % 100, len;
		int last = tick == R_TICKS;

		/* irregular lengths, now and then long, now and then ending on an edge */
		if (x < 4)
			now += SEC + tst_rnd(&s) % (1500 * SEC);
		else
			now += SEC / 4 + tst_rnd(&s) % (3 * SEC);
		if (x >= 4 && x < 20)
			now = (start / minor_ns + 1) * minor_ns;
		else if (x >= 20 && x < 23)
			now = (start / (MAJOR_S * SEC) + 1) * MAJOR_S * SEC;
		len = now - start;
		tab_start(&tb, start, now);
		for (i = 0; i < R_IDS; i++) {
			uint64_t id = i < R_IDS / 2 ? i + 1 : (1ull << 63) | i;
			uint64_t din = 0, dout = 0;
			uint32_t retrans = 0, resets = 0, srtt;
			int new = 0, idle;
			struct tt_row *r;

			if (!sl[i].live) {
				if (last || tst_rnd(&s) % 4)
					continue;
				sl[i].live = new = 1;
				/* now and then stamped a hair after the tick: age 0 */
				sl[i].open = start + 1 + tst_rnd(&s) % (len + SEC / 1000);
				if (sl[i].open <= sl[i].last_open)
					sl[i].open = sl[i].last_open + 1;
				sl[i].last_open = sl[i].open;
				sl[i].owner = (unsigned)(tst_rnd(&s) % 4);
				sl[i].pid = owners[sl[i].owner].tgid;
				memset(&sl[i].tot, 0, sizeof(sl[i].tot));
			}
			if (!last && tst_rnd(&s) % 12 == 0)
				sl[i].owner = (unsigned)(tst_rnd(&s) % 4);
			if (!last && tst_rnd(&s) % 20 == 0)
				sl[i].pid = owners[sl[i].owner].tgid + (uint32_t)(tst_rnd(&s) % 3);
			idle = last || tst_rnd(&s) % 3 == 0;
			if (!idle) {
				din = tst_rnd(&s) % 3 ? tst_rnd(&s) % 100000 : 0;
				dout = tst_rnd(&s) % 3 ? tst_rnd(&s) % 1000 : 0;
				retrans =
					tst_rnd(&s) % 5 == 0 ? (uint32_t)(1 + tst_rnd(&s) % 3) : 0;
				resets = tst_rnd(&s) % 10 == 0;
			}
			srtt = tst_rnd(&s) % 3 ? 1 + (uint32_t)(tst_rnd(&s) % 2000) : 0;
			sl[i].tot.state = (uint8_t)(1 + tst_rnd(&s) % 11);
			sl[i].tot.retrans += retrans;
			r = tab_row(&tb, id, sl[i].open, &sl[i].tot, din, dout, srtt);
			set_owner(r, owners[sl[i].owner].tgid, owners[sl[i].owner].comm,
				  owners[sl[i].owner].cgroup);
			r->conn.pid = sl[i].pid;
			if (i >= R_IDS / 2) {
				r->conn.proto = IPPROTO_UDP;
				r->conn.flags = TT_CF_UDP_PEER;
			}
			r->d_retrans = retrans;
			r->d_resets = resets;
			r->flags = new ? TT_ROW_NEW : 0;
			if (!last && tst_rnd(&s) % 10 == 0) {
				r->flags |= TT_ROW_CLOSED;
				/* a UDP flow closed as idle is as old as its last datagram,
				 * possibly younger than at an earlier tick */
				r->close_ns =
					tst_rnd(&s) % 2 ? 0
					: tst_rnd(&s) % 2
						? now - tst_rnd(&s) % len
						: sl[i].open + tst_rnd(&s) % (now - sl[i].open + 1);
				r->close_reason = (uint8_t)(tst_rnd(&s) % 4);
				r->err = tst_rnd(&s) % 2 ? 0 : 104;
				sl[i].live = 0;
			}
			m_row(m, r, now, (uint32_t)minor_s);
		}
		assert_int_equal(tt_indexer_add(ix, &tb.t), 0);
		/* now and then the store fails and the drain is retried later */
		if (!last && tst_rnd(&s) % 5 == 0)
			m_store(m, db, tx, ix, (uint32_t)minor_s, tst_rnd(&s) % 4 == 0);
		if (tick == R_TICKS - 1)
			m_store(m, db, tx, ix, (uint32_t)minor_s, 0);
	}
	/* the last table was all idle, and the one before it stored: nothing to report */
	drain_nothing(ix);
	assert_true(m->drains > 100);

	/* the store holds every lifetime once, under its row id, and every piece */
	assert_int_equal(db->nc, m->nl);
	for (i = 0; i < m->nl; i++) {
		struct m_life *w = &m->l[i];
		const struct tt_ix_conn *g = find_conn(db->c, db->nc, w->id, w->open_ns, NULL);

		assert_non_null(g);
		assert_int_equal(g->rowid, (int64_t)(g - db->c) + 1);
		m_check_life(w, g);
	}
	assert_int_equal(db->np, m->np);
	for (i = 0; i < m->np; i++) {
		struct m_piece *w = &m->p[i];
		struct db_piece *g = db_piece(db, w->id, w->open_ns, w->res, w->t, w->part);

		assert_non_null(g);
		m_check_piece(w, &g->p);
	}
	check_minor_major(db, (uint32_t)minor_s);
	free(m);
	free(db);
	free(tx);
	tt_indexer_free(ix);
}

static void test_random_against_model(void **state)
{
	(void)state;
	random_run(10, 0x2545F4914F6CDD1Dull);
	random_run(60, 0x9E3779B97F4A7C15ull);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_totals_peaks_rtt),
		cmocka_unit_test(test_period_boundaries),
		cmocka_unit_test(test_piece_across_drains),
		cmocka_unit_test(test_idle_ticks),
		cmocka_unit_test(test_idle_first_sight),
		cmocka_unit_test(test_owner_parts),
		cmocka_unit_test(test_closed_drained_once),
		cmocka_unit_test(test_two_lifetimes_one_id),
		cmocka_unit_test(test_rewind),
		cmocka_unit_test(test_from_aggregator),
		cmocka_unit_test(test_minor_ok),
		cmocka_unit_test(test_minor_major_consistent),
		cmocka_unit_test(test_random_against_model),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
