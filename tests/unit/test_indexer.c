/*
 * Unit tests of the indexer on hand-built tables and on tables the aggregator
 * builds from a synthetic event stream: lifetime totals, peaks and RTT, bucket
 * sums and boundaries, closed lifetimes drained once, UDP lifetimes of one id
 * kept apart, rewind after a failed store, and random tables against a naive
 * model of what the index must end up holding.
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

#define SEC 1000000000ull
/* Unix time at CLOCK_MONOTONIC 0; a multiple of 10 s, so bucket edges are easy to name */
#define M2W (1700000000ull * SEC)
#define BUCKET (10 * SEC)

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

/* Add a row whose deltas are d_in/d_out; tot is carried by the caller. */
static struct tt_row *tab_row(struct tab *tb, uint64_t id, uint64_t open_mono,
			      struct tt_counters *tot, uint64_t d_in, uint64_t d_out,
			      uint32_t srtt)
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

static void test_totals_peaks_rtt(void **state)
{
	struct tt_indexer *ix = tt_indexer_new(BUCKET, (int64_t)M2W);
	static const uint64_t din[] = { 100, 5000, 0, 300, 2000 };
	static const uint64_t dout[] = { 10, 20, 90000, 0, 5 };
	static const uint32_t rtt[] = { 0, 800, 200, 0, 500 };
	struct tt_counters tot = { 0 };
	const struct tt_ix_conn *c;
	const struct tt_ix_bucket *b;
	struct tab tb;
	size_t nc, nb;
	unsigned i;

	(void)state;
	assert_non_null(ix);
	for (i = 0; i < 5; i++) {
		struct tt_row *r;

		tab_start(&tb, (100 + i) * SEC, (101 + i) * SEC);
		r = tab_row(&tb, 7, 100 * SEC, &tot, din[i], dout[i], rtt[i]);
		r->d_resets = i == 3;
		assert_int_equal(tt_indexer_add(ix, &tb.t), 0);
	}
	tt_indexer_drain(ix, &c, &nc, &b, &nb);
	assert_int_equal(nc, 1);
	assert_int_equal(c->conn.id, 7);
	assert_int_equal(c->open_ns, M2W + 100 * SEC);
	assert_int_equal(c->first_seen_ns, M2W + 101 * SEC);
	assert_int_equal(c->last_seen_ns, M2W + 105 * SEC);
	assert_int_equal(c->tot.bytes_in, 7400);
	assert_int_equal(c->tot.bytes_out, 90035);
	assert_true(c->peak_rate_in == 5000.0);
	assert_true(c->peak_rate_out == 90000.0);
	assert_int_equal(c->rtt_min_us, 200);
	assert_int_equal(c->rtt_max_us, 800);
	assert_int_equal(c->rtt_n, 3);
	assert_int_equal(c->rtt_sum_us, 1500);
	assert_int_equal(c->resets, 1);
	assert_int_equal(c->closed, 0);
	assert_int_equal(c->close_ns, 0);
	/* ticks ending at 101..105 s: all in bucket [100 s, 110 s) */
	assert_int_equal(nb, 1);
	assert_int_equal(b->conn_key, 0);
	assert_int_equal(b->t_start_ns, M2W + 100 * SEC);
	assert_int_equal(b->bytes_in, 7400);
	assert_int_equal(b->bytes_out, 90035);
	assert_int_equal(b->packets_in, tot.packets_in);
	assert_int_equal(b->rtt_n, 3);
	assert_int_equal(b->rtt_avg_us, 500);
	tt_indexer_free(ix);
}

/* Ticks ending at 109, 110, 110.5 and 120 s, and a connection over three buckets. */
static void test_bucket_boundaries(void **state)
{
	struct tt_indexer *ix = tt_indexer_new(BUCKET, (int64_t)M2W);
	static const uint64_t ends[] = { 109 * SEC, 110 * SEC, 110 * SEC + SEC / 2, 120 * SEC,
					 125 * SEC, 131 * SEC };
	static const uint64_t bucket_of[] = { 100, 100, 110, 110, 120, 130 };
	uint64_t want[4] = { 0 };
	struct tt_counters tot = { 0 };
	const struct tt_ix_conn *c;
	const struct tt_ix_bucket *b;
	uint64_t prev = 108 * SEC;
	struct tab tb;
	size_t nc, nb, i, j;

	(void)state;
	assert_int_equal(tt_indexer_bucket_ns(ix), BUCKET);
	for (i = 0; i < 6; i++) {
		tab_start(&tb, prev, ends[i]);
		tab_row(&tb, 9, 100 * SEC, &tot, 1000 + i, 1, 0);
		want[(bucket_of[i] - 100) / 10] += 1000 + i;
		assert_int_equal(tt_indexer_add(ix, &tb.t), 0);
		prev = ends[i];
	}
	tt_indexer_drain(ix, &c, &nc, &b, &nb);
	assert_int_equal(nc, 1);
	assert_int_equal(nb, 4);
	for (j = 0; j < 4; j++) {
		for (i = 0; i < nb; i++)
			if (b[i].t_start_ns == M2W + (100 + 10 * j) * SEC)
				break;
		assert_true(i < nb);
		assert_int_equal(b[i].bytes_in, want[j]);
		assert_int_equal(b[i].conn_key, 0);
	}
	tt_indexer_free(ix);
}

/*
 * A bucket that spans drains is reported in each with its full sums so far
 * (an upsert then holds the right total), and not again once finished.
 */
static void test_bucket_across_drains(void **state)
{
	struct tt_indexer *ix = tt_indexer_new(BUCKET, (int64_t)M2W);
	struct tt_counters tot = { 0 };
	const struct tt_ix_conn *c;
	const struct tt_ix_bucket *b;
	struct tab tb;
	size_t nc, nb;
	unsigned i;

	(void)state;
	for (i = 1; i <= 5; i++) {
		tab_start(&tb, (100 + i - 1) * SEC, (100 + i) * SEC);
		tab_row(&tb, 3, 100 * SEC, &tot, 10, 0, 0);
		tt_indexer_add(ix, &tb.t);
	}
	tt_indexer_drain(ix, &c, &nc, &b, &nb);
	assert_int_equal(nb, 1);
	assert_int_equal(b[0].bytes_in, 50);
	for (i = 6; i <= 12; i++) {
		tab_start(&tb, (100 + i - 1) * SEC, (100 + i) * SEC);
		tab_row(&tb, 3, 100 * SEC, &tot, 10, 0, 0);
		tt_indexer_add(ix, &tb.t);
	}
	tt_indexer_drain(ix, &c, &nc, &b, &nb);
	assert_int_equal(nb, 2);
	assert_int_equal(b[0].t_start_ns, M2W + 100 * SEC);
	assert_int_equal(b[0].bytes_in, 100);
	assert_int_equal(b[1].t_start_ns, M2W + 110 * SEC);
	assert_int_equal(b[1].bytes_in, 20);
	/* idle ticks: the lifetime is still reported (last seen moves), no bucket is */
	tab_start(&tb, 112 * SEC, 113 * SEC);
	tab_row(&tb, 3, 100 * SEC, &tot, 0, 0, 0);
	tt_indexer_add(ix, &tb.t);
	tt_indexer_drain(ix, &c, &nc, &b, &nb);
	assert_int_equal(nc, 1);
	assert_int_equal(c->last_seen_ns, M2W + 113 * SEC);
	assert_int_equal(nb, 0);
	tt_indexer_free(ix);
}

static void test_closed_drained_once(void **state)
{
	struct tt_indexer *ix = tt_indexer_new(BUCKET, (int64_t)M2W);
	struct tt_counters ta = { 0 }, tb_ = { 0 };
	const struct tt_ix_conn *c;
	const struct tt_ix_bucket *b;
	struct tt_row *r;
	struct tab tb;
	size_t nc, nb, i = 0;

	(void)state;
	tab_start(&tb, 100 * SEC, 101 * SEC);
	tab_row(&tb, 1, 100 * SEC, &ta, 500, 500, 0);
	tab_row(&tb, 2, 100 * SEC, &tb_, 10, 10, 0);
	tt_indexer_add(ix, &tb.t);
	tab_start(&tb, 101 * SEC, 102 * SEC);
	r = tab_row(&tb, 1, 100 * SEC, &ta, 7, 0, 0);
	r->flags = TT_ROW_CLOSED;
	r->close_ns = 101 * SEC + 500;
	r->close_reason = TT_CLOSE_FAILED;
	r->err = 111;
	tab_row(&tb, 2, 100 * SEC, &tb_, 10, 10, 0);
	tt_indexer_add(ix, &tb.t);

	tt_indexer_drain(ix, &c, &nc, &b, &nb);
	assert_int_equal(nc, 2);
	assert_non_null(find_conn(c, nc, 1, M2W + 100 * SEC, &i));
	assert_int_equal(c[i].closed, 1);
	assert_int_equal(c[i].close_ns, M2W + 101 * SEC + 500);
	assert_int_equal(c[i].close_reason, TT_CLOSE_FAILED);
	assert_int_equal(c[i].err, 111);
	assert_int_equal(c[i].tot.bytes_in, 507);
	assert_int_equal(nb, 2);

	/* the closed one is not in the next table and must not come back */
	tab_start(&tb, 102 * SEC, 103 * SEC);
	tab_row(&tb, 2, 100 * SEC, &tb_, 10, 10, 0);
	tt_indexer_add(ix, &tb.t);
	tt_indexer_drain(ix, &c, &nc, &b, &nb);
	assert_int_equal(nc, 1);
	assert_int_equal(c[0].conn.id, 2);
	assert_int_equal(nb, 1);
	assert_int_equal(b[0].bytes_in, 30);
	tt_indexer_drain(ix, &c, &nc, &b, &nb);
	assert_int_equal(nc, 0);
	assert_int_equal(nb, 0);
	tt_indexer_free(ix);
}

/* A UDP flow expires and its id comes back within one drain: two lifetimes. */
static void test_two_lifetimes_one_id(void **state)
{
	struct tt_indexer *ix = tt_indexer_new(BUCKET, (int64_t)M2W);
	uint64_t id = 0x8000000000000abcull;
	struct tt_counters t1 = { 0 }, t2 = { 0 };
	const struct tt_ix_conn *c;
	const struct tt_ix_bucket *b;
	struct tt_row *r;
	struct tab tb;
	size_t nc, nb, i1 = 0, i2 = 0, i;

	(void)state;
	tab_start(&tb, 100 * SEC, 101 * SEC);
	r = tab_row(&tb, id, 100 * SEC, &t1, 64, 64, 0);
	r->conn.proto = IPPROTO_UDP;
	r->conn.flags = TT_CF_UDP_PEER;
	tt_indexer_add(ix, &tb.t);
	tab_start(&tb, 101 * SEC, 102 * SEC);
	r = tab_row(&tb, id, 100 * SEC, &t1, 0, 0, 0);
	r->flags = TT_ROW_CLOSED;
	r->close_reason = TT_CLOSE_IDLE;
	r->close_ns = 102 * SEC;
	tt_indexer_add(ix, &tb.t);
	tab_start(&tb, 102 * SEC, 103 * SEC);
	r = tab_row(&tb, id, 102 * SEC + 7, &t2, 1000, 2000, 0);
	r->conn.proto = IPPROTO_UDP;
	tt_indexer_add(ix, &tb.t);

	tt_indexer_drain(ix, &c, &nc, &b, &nb);
	assert_int_equal(nc, 2);
	assert_non_null(find_conn(c, nc, id, M2W + 100 * SEC, &i1));
	assert_non_null(find_conn(c, nc, id, M2W + 102 * SEC + 7, &i2));
	assert_int_equal(c[i1].closed, 1);
	assert_int_equal(c[i1].close_reason, TT_CLOSE_IDLE);
	assert_int_equal(c[i1].tot.bytes_in, 64);
	assert_int_equal(c[i2].closed, 0);
	assert_int_equal(c[i2].tot.bytes_in, 1000);
	assert_int_equal(c[i2].first_seen_ns, M2W + 103 * SEC);
	assert_int_equal(nb, 2);
	for (i = 0; i < nb; i++) {
		if (b[i].conn_key == i1)
			assert_int_equal(b[i].bytes_in, 64);
		else if (b[i].conn_key == i2)
			assert_int_equal(b[i].bytes_in, 1000);
		else
			fail();
	}
	/* the new lifetime goes on; the old one is gone */
	tab_start(&tb, 103 * SEC, 104 * SEC);
	tab_row(&tb, id, 102 * SEC + 7, &t2, 1, 1, 0);
	tt_indexer_add(ix, &tb.t);
	tt_indexer_drain(ix, &c, &nc, &b, &nb);
	assert_int_equal(nc, 1);
	assert_int_equal(c[0].open_ns, M2W + 102 * SEC + 7);
	assert_int_equal(c[0].tot.bytes_in, 1001);
	tt_indexer_free(ix);
}

/* A drain that was not stored is reported again, closed lifetimes and finished buckets too. */
static void test_rewind(void **state)
{
	struct tt_indexer *ix = tt_indexer_new(BUCKET, (int64_t)M2W);
	struct tt_counters ta = { 0 }, tb_ = { 0 };
	const struct tt_ix_conn *c;
	const struct tt_ix_bucket *b;
	struct tt_row *r;
	struct tab tb;
	size_t nc, nb, i = 0;

	(void)state;
	tab_start(&tb, 108 * SEC, 109 * SEC);
	tab_row(&tb, 1, 100 * SEC, &ta, 5, 0, 0);
	tab_row(&tb, 2, 100 * SEC, &tb_, 6, 0, 0);
	tt_indexer_add(ix, &tb.t);
	tab_start(&tb, 109 * SEC, 111 * SEC);
	r = tab_row(&tb, 1, 100 * SEC, &ta, 1, 0, 0);
	r->flags = TT_ROW_CLOSED;
	r->close_ns = 110 * SEC;
	tab_row(&tb, 2, 100 * SEC, &tb_, 4, 0, 0);
	tt_indexer_add(ix, &tb.t);
	tt_indexer_drain(ix, &c, &nc, &b, &nb);
	assert_int_equal(nc, 2);
	assert_int_equal(nb, 4);

	tt_indexer_rewind(ix);
	/* more traffic before the retry: it must add to, not replace, what was lost */
	tab_start(&tb, 111 * SEC, 112 * SEC);
	tab_row(&tb, 2, 100 * SEC, &tb_, 3, 0, 0);
	tt_indexer_add(ix, &tb.t);
	tt_indexer_drain(ix, &c, &nc, &b, &nb);
	assert_int_equal(nc, 2);
	assert_non_null(find_conn(c, nc, 1, M2W + 100 * SEC, &i));
	assert_int_equal(c[i].closed, 1);
	assert_int_equal(nb, 4);
	for (i = 0; i < nb; i++) {
		uint64_t id = c[b[i].conn_key].conn.id;
		uint64_t t = b[i].t_start_ns - M2W;

		if (id == 1)
			assert_int_equal(b[i].bytes_in, t == 100 * SEC ? 5 : 1);
		else
			assert_int_equal(b[i].bytes_in, t == 100 * SEC ? 6 : 7);
	}
	/* stored this time: the closed one and the finished buckets are gone */
	tt_indexer_drain(ix, &c, &nc, &b, &nb);
	assert_int_equal(nc, 0);
	assert_int_equal(nb, 0);
	tt_indexer_rewind(ix);
	tt_indexer_drain(ix, &c, &nc, &b, &nb);
	assert_int_equal(nc, 0);
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

/*
 * An event stream with known totals: what the indexer says about each
 * connection equals what the stream's last counters said, and its buckets add
 * up to the same bytes.
 */
static void test_from_aggregator(void **state)
{
	struct tt_agg *a = tt_agg_new();
	struct tt_indexer *ix = tt_indexer_new(BUCKET, (int64_t)M2W);
	uint64_t in_a = 0, out_a = 0, in_b = 0, sum_in[3] = { 0 }, sum_out[3] = { 0 };
	const struct tt_ix_conn *c;
	const struct tt_ix_bucket *b;
	struct tt_event e;
	size_t nc, nb, i, ia = 0, ib = 0;
	uint64_t t;

	(void)state;
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
	for (t = 101; t <= 125; t++) {
		memset(&e, 0, sizeof(e));
		e.type = TT_EV_SAMPLE;
		e.ts_ns = t * SEC - 10;
		e.sample.id = 11;
		in_a += t * 3;
		out_a += t;
		e.sample.c.bytes_in = in_a;
		e.sample.c.bytes_out = out_a;
		e.sample.c.srtt_us = (uint32_t)t;
		feed(a, ix, e);
		if (t <= 115) {
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
		memset(&e, 0, sizeof(e));
		e.type = TT_EV_TICK;
		e.ts_ns = t * SEC;
		e.tick.start_ns = (t - 1) * SEC;
		feed(a, ix, e);
	}
	tt_indexer_drain(ix, &c, &nc, &b, &nb);
	assert_int_equal(nc, 2);
	assert_non_null(find_conn(c, nc, 11, M2W + 100 * SEC, &ia));
	assert_non_null(find_conn(c, nc, 12, M2W + 100 * SEC, &ib));
	assert_int_equal(c[ia].tot.bytes_in, in_a);
	assert_int_equal(c[ia].tot.bytes_out, out_a);
	assert_int_equal(c[ia].rtt_min_us, 101);
	assert_int_equal(c[ia].rtt_max_us, 125);
	assert_int_equal(c[ia].rtt_n, 25);
	assert_true(c[ia].peak_rate_in == 125.0 * 3);
	assert_int_equal(c[ib].tot.bytes_in, in_b);
	assert_int_equal(c[ib].closed, 1);
	assert_int_equal(c[ib].close_reason, TT_CLOSE_RESET);
	assert_int_equal(c[ib].close_ns, M2W + 115 * SEC - 10);
	assert_int_equal(c[ib].rtt_n, 0);
	for (i = 0; i < nb; i++) {
		size_t k = (b[i].t_start_ns - M2W - 100 * SEC) / BUCKET;

		assert_true(k < 3);
		if (b[i].conn_key == ia) {
			sum_in[k] += b[i].bytes_in;
			sum_out[k] += b[i].bytes_out;
		} else {
			assert_int_equal(b[i].conn_key, ib);
			assert_int_equal(b[i].bytes_in, k == 0 ? 10000 : 5000);
		}
	}
	/* ticks ending at 101..110 s are bucket 100, 111..120 bucket 110, 121..125 bucket 120 */
	for (i = 0; i < 3; i++) {
		uint64_t lo = 101 + 10 * i, hi = i == 2 ? 125 : 110 + 10 * i, want = 0;

		for (t = lo; t <= hi; t++)
			want += t * 3;
		assert_int_equal(sum_in[i], want);
	}
	assert_int_equal(sum_out[0] + sum_out[1] + sum_out[2], out_a);
	tt_agg_free(a);
	tt_indexer_free(ix);
}

/* ---- random tables against a model ------------------------------------------------------- */

#define R_IDS 12
#define R_TICKS 400
#define R_MAX_LIVES 2048
#define R_MAX_BUCKETS 8192

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
	return *s;
}

/* One lifetime as the index must hold it, and its bucket sums. */
struct m_life {
	uint64_t id, open_ns, bytes_in, last_seen;
	int closed;
};

struct m_bucket {
	uint64_t id, open_ns, t_start, bytes_in, bytes_out, retrans;
};

struct model {
	struct m_life l[R_MAX_LIVES];
	size_t nl;
	struct m_bucket b[R_MAX_BUCKETS];
	size_t nb;
};

static struct m_life *m_life(struct model *m, uint64_t id, uint64_t open_ns)
{
	size_t i;

	for (i = 0; i < m->nl; i++)
		if (m->l[i].id == id && m->l[i].open_ns == open_ns)
			return &m->l[i];
	assert_true(m->nl < R_MAX_LIVES);
	memset(&m->l[m->nl], 0, sizeof(m->l[0]));
	m->l[m->nl].id = id;
	m->l[m->nl].open_ns = open_ns;
	return &m->l[m->nl++];
}

static struct m_bucket *m_bucket(struct model *m, uint64_t id, uint64_t open_ns, uint64_t t)
{
	size_t i;

	for (i = 0; i < m->nb; i++)
		if (m->b[i].id == id && m->b[i].open_ns == open_ns && m->b[i].t_start == t)
			return &m->b[i];
	assert_true(m->nb < R_MAX_BUCKETS);
	memset(&m->b[m->nb], 0, sizeof(m->b[0]));
	m->b[m->nb].id = id;
	m->b[m->nb].open_ns = open_ns;
	m->b[m->nb].t_start = t;
	return &m->b[m->nb++];
}

/* Upsert a drain into the "database" model. */
static void store_drain(struct model *db, struct tt_indexer *ix)
{
	const struct tt_ix_conn *c;
	const struct tt_ix_bucket *b;
	size_t nc, nb, i;

	tt_indexer_drain(ix, &c, &nc, &b, &nb);
	for (i = 0; i < nc; i++) {
		struct m_life *l = m_life(db, c[i].conn.id, c[i].open_ns);

		l->bytes_in = c[i].tot.bytes_in;
		l->last_seen = c[i].last_seen_ns;
		l->closed = c[i].closed;
	}
	for (i = 0; i < nb; i++) {
		const struct tt_ix_conn *o = &c[b[i].conn_key];
		struct m_bucket *mb = m_bucket(db, o->conn.id, o->open_ns, b[i].t_start_ns);

		assert_true(b[i].conn_key < nc);
		assert_int_equal(b[i].t_start_ns % BUCKET, 0);
		mb->bytes_in = b[i].bytes_in;
		mb->bytes_out = b[i].bytes_out;
		mb->retrans = b[i].retrans;
	}
}

static void test_random_against_model(void **state)
{
	struct model *want = calloc(1, sizeof(*want)), *db = calloc(1, sizeof(*db));
	struct tt_indexer *ix = tt_indexer_new(BUCKET, (int64_t)M2W);
	struct {
		int live;
		uint64_t open;
		struct tt_counters tot;
	} conns[R_IDS] = { { 0 } };
	uint64_t s = 0x2545F4914F6CDD1Dull, now = 1000 * SEC;
	struct tab tb;
	size_t i;
	int tick;

	(void)state;
	assert_non_null(want);
	assert_non_null(db);
	for (tick = 0; tick < R_TICKS; tick++) {
		/* irregular tick lengths, so ends land everywhere relative to buckets */
		uint64_t len = SEC / 4 + rnd(&s) % (3 * SEC), start = now;
		uint64_t wall_end, bucket;

		now += len;
		wall_end = M2W + now;
		bucket = (wall_end - 1) / BUCKET * BUCKET;
		tab_start(&tb, start, now);
		for (i = 0; i < R_IDS; i++) {
			uint64_t id = i < R_IDS / 2 ? i + 1 : (1ull << 63) | i;
			uint64_t din, dout;
			struct tt_row *r;
			struct m_life *ml;
			struct m_bucket *mb;

			if (!conns[i].live) {
				if (rnd(&s) % 4)
					continue;
				conns[i].live = 1;
				conns[i].open = start + 1 + rnd(&s) % (len - 1);
				memset(&conns[i].tot, 0, sizeof(conns[i].tot));
			}
			din = rnd(&s) % 3 ? rnd(&s) % 100000 : 0;
			dout = rnd(&s) % 3 ? rnd(&s) % 1000 : 0;
			r = tab_row(&tb, id, conns[i].open, &conns[i].tot, din, dout,
				    (uint32_t)(rnd(&s) % 2000));
			r->d_retrans = (uint32_t)(rnd(&s) % 5 == 0);
			ml = m_life(want, id, M2W + conns[i].open);
			ml->bytes_in = conns[i].tot.bytes_in;
			ml->last_seen = wall_end;
			if (rnd(&s) % 10 == 0) {
				r->flags = TT_ROW_CLOSED;
				r->close_ns = now;
				conns[i].live = 0;
				ml->closed = 1;
			}
			if (din || dout || r->d_packets_in || r->d_packets_out || r->d_retrans) {
				mb = m_bucket(want, id, M2W + conns[i].open, bucket);
				mb->bytes_in += din;
				mb->bytes_out += dout;
				mb->retrans += r->d_retrans;
			}
		}
		assert_int_equal(tt_indexer_add(ix, &tb.t), 0);
		if (rnd(&s) % 5 == 0) {
			store_drain(db, ix);
			/* now and then the store fails and the drain is retried later */
			if (rnd(&s) % 4 == 0)
				tt_indexer_rewind(ix);
		}
	}
	store_drain(db, ix);

	assert_int_equal(db->nl, want->nl);
	for (i = 0; i < want->nl; i++) {
		struct m_life *w = &want->l[i], *g = m_life(db, w->id, w->open_ns);

		assert_int_equal(g->bytes_in, w->bytes_in);
		assert_int_equal(g->last_seen, w->last_seen);
		assert_int_equal(g->closed, w->closed);
	}
	assert_int_equal(db->nb, want->nb);
	for (i = 0; i < want->nb; i++) {
		struct m_bucket *w = &want->b[i], *g = m_bucket(db, w->id, w->open_ns, w->t_start);

		assert_int_equal(g->bytes_in, w->bytes_in);
		assert_int_equal(g->bytes_out, w->bytes_out);
		assert_int_equal(g->retrans, w->retrans);
	}
	free(want);
	free(db);
	tt_indexer_free(ix);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_totals_peaks_rtt),
		cmocka_unit_test(test_bucket_boundaries),
		cmocka_unit_test(test_bucket_across_drains),
		cmocka_unit_test(test_closed_drained_once),
		cmocka_unit_test(test_two_lifetimes_one_id),
		cmocka_unit_test(test_rewind),
		cmocka_unit_test(test_from_aggregator),
		cmocka_unit_test(test_random_against_model),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
