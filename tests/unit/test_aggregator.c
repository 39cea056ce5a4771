/*
 * Unit tests of the aggregator on synthetic event streams: rates, lifecycle,
 * partial, UDP expiry, PID attribution, and random streams against a naive
 * reference model.
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
#include "tst.h"

#define SEC 1000000000ull

static struct tt_event conn_ev(uint64_t ts, uint64_t id, int proto, uint32_t pid, uint8_t flags)
{
	struct tt_event e = { .ts_ns = ts, .type = TT_EV_CONN };

	e.conn.id = id;
	e.conn.proto = (uint8_t)proto;
	e.conn.family = 4;
	e.conn.pid = e.conn.tgid = pid;
	e.conn.flags = flags;
	e.conn.open_ns = ts;
	memcpy(e.conn.comm, pid ? "worker" : "", pid ? 7 : 1);
	return e;
}

static struct tt_event sample_ev(uint64_t ts, uint64_t id, uint64_t in, uint64_t out)
{
	struct tt_event e = { .ts_ns = ts, .type = TT_EV_SAMPLE };

	e.sample.id = id;
	e.sample.c.bytes_in = in;
	e.sample.c.bytes_out = out;
	e.sample.c.packets_in = in / 100;
	e.sample.c.packets_out = out / 100;
	return e;
}

static struct tt_event close_ev(uint64_t ts, uint64_t id, uint64_t in, uint64_t out, uint8_t reason)
{
	struct tt_event e = { .ts_ns = ts, .type = TT_EV_CLOSE };

	e.close.id = id;
	e.close.c.bytes_in = in;
	e.close.c.bytes_out = out;
	e.close.reason = reason;
	return e;
}

static struct tt_event tick_ev(uint64_t ts, uint64_t start)
{
	struct tt_event e = { .ts_ns = ts, .type = TT_EV_TICK };

	e.tick.start_ns = start;
	return e;
}

static void feed(struct tt_agg *a, struct tt_event e, int want)
{
	assert_int_equal(tt_agg_feed(a, &e), want);
}

static void test_rates_over_measured_tick(void **state)
{
	struct tt_agg *a = tt_agg_new();
	const struct tt_row *r;

	(void)state;
	feed(a, conn_ev(10 * SEC, 7, IPPROTO_TCP, 100, 0), 0);
	feed(a, sample_ev(11 * SEC, 7, 1000, 4000), 0);
	feed(a, tick_ev(11 * SEC, 10 * SEC), 1);
	r = tst_row_of(tt_agg_table(a), 7);
	assert_non_null(r);
	assert_true(r->rate_in == 1000.0 && r->rate_out == 4000.0);
	assert_true(r->flags & TT_ROW_NEW);

	/* a tick that ran long (2.5 s): rate is delta over the measured length */
	feed(a, sample_ev(13500000000ull, 7, 6000, 4000), 0);
	feed(a, tick_ev(13500000000ull, 11 * SEC), 1);
	r = tst_row_of(tt_agg_table(a), 7);
	assert_true(r->rate_in == 2000.0 && r->rate_out == 0.0);
	assert_int_equal(r->d_bytes_in, 5000);
	assert_int_equal(r->tot.bytes_in, 6000);
	assert_false(r->flags & TT_ROW_NEW);
	assert_int_equal(tt_agg_table(a)->bytes_in, 5000);
	tt_agg_free(a);
}

static void test_close_reported_once(void **state)
{
	struct tt_agg *a = tt_agg_new();
	const struct tt_row *r;

	(void)state;
	feed(a, conn_ev(1 * SEC, 1, IPPROTO_TCP, 5, 0), 0);
	feed(a, sample_ev(2 * SEC, 1, 10, 20), 0);
	feed(a, tick_ev(2 * SEC, 1 * SEC), 1);
	feed(a, close_ev(2500000000ull, 1, 15, 25, TT_CLOSE_NORMAL), 0);
	feed(a, tick_ev(3 * SEC, 2 * SEC), 1);
	r = tst_row_of(tt_agg_table(a), 1);
	assert_non_null(r);
	assert_true(r->flags & TT_ROW_CLOSED);
	assert_int_equal(r->tot.bytes_in, 15);
	assert_int_equal(r->d_bytes_out, 5);
	assert_int_equal(r->close_ns - r->open_ns, 1500000000ull);
	assert_int_equal(tt_agg_table(a)->closed, 1);
	feed(a, tick_ev(4 * SEC, 3 * SEC), 1);
	assert_null(tst_row_of(tt_agg_table(a), 1));
	assert_int_equal(tt_agg_table(a)->n, 0);
	tt_agg_free(a);
}

static void test_failed_connect_keeps_reason(void **state)
{
	struct tt_agg *a = tt_agg_new();
	struct tt_event st = { .ts_ns = 1100000000ull, .type = TT_EV_STATE };
	struct tt_event c = close_ev(1200000000ull, 3, 0, 0, TT_CLOSE_FAILED);
	const struct tt_row *r;

	(void)state;
	feed(a, conn_ev(1 * SEC, 3, IPPROTO_TCP, 9, 0), 0);
	st.state.id = 3;
	st.state.old_state = TT_TCP_SYN_SENT;
	st.state.new_state = TT_TCP_CLOSE;
	st.state.err = 111;
	feed(a, st, 0);
	c.close.err = 111;
	feed(a, c, 0);
	feed(a, tick_ev(2 * SEC, 1 * SEC), 1);
	r = tst_row_of(tt_agg_table(a), 3);
	assert_non_null(r);
	assert_int_equal(r->close_reason, TT_CLOSE_FAILED);
	assert_int_equal(r->err, 111);
	/* the lifetime ends at the state change, not at the later destroy */
	assert_int_equal(r->close_ns, 1100000000ull);
	tt_agg_free(a);
}

static void test_partial_flag_and_counts(void **state)
{
	struct tt_agg *a = tt_agg_new();
	const struct tt_row *r;

	(void)state;
	feed(a, conn_ev(1 * SEC, 4, IPPROTO_TCP, 0, TT_CF_PARTIAL), 0);
	feed(a, tick_ev(2 * SEC, 1 * SEC), 1);
	r = tst_row_of(tt_agg_table(a), 4);
	assert_true(r->conn.flags & TT_CF_PARTIAL);
	assert_int_equal(r->tot.bytes_in + r->tot.bytes_out, 0);
	feed(a, sample_ev(3 * SEC, 4, 300, 0), 0);
	feed(a, tick_ev(3 * SEC, 2 * SEC), 1);
	r = tst_row_of(tt_agg_table(a), 4);
	assert_true(r->conn.flags & TT_CF_PARTIAL);
	assert_int_equal(r->d_bytes_in, 300);
	tt_agg_free(a);
}

static void test_udp_idle_expiry_and_new_life(void **state)
{
	struct tt_agg *a = tt_agg_new();
	const struct tt_row *r;
	uint64_t id = (1ull << 63) | 42;

	(void)state;
	feed(a, conn_ev(1 * SEC, id, IPPROTO_UDP, 77, TT_CF_UDP_PEER), 0);
	feed(a, sample_ev(1 * SEC, id, 512, 64), 0);
	feed(a, tick_ev(1 * SEC, 0), 1);
	/* quiet ticks: the flow stays, with zero rate */
	feed(a, tick_ev(2 * SEC, 1 * SEC), 1);
	r = tst_row_of(tt_agg_table(a), id);
	assert_non_null(r);
	assert_true(r->rate_in == 0.0);
	assert_int_equal(r->last_active_ns, 1 * SEC);
	feed(a, close_ev(6 * SEC, id, 512, 64, TT_CLOSE_IDLE), 0);
	feed(a, tick_ev(6 * SEC, 2 * SEC), 1);
	r = tst_row_of(tt_agg_table(a), id);
	assert_true(r->flags & TT_ROW_CLOSED);
	assert_int_equal(r->close_reason, TT_CLOSE_IDLE);
	assert_int_equal(r->d_bytes_in, 0);
	feed(a, tick_ev(7 * SEC, 6 * SEC), 1);
	assert_null(tst_row_of(tt_agg_table(a), id));
	/* the same peer again: a new lifetime that counts from zero */
	feed(a, conn_ev(8 * SEC, id, IPPROTO_UDP, 77, TT_CF_UDP_PEER), 0);
	feed(a, sample_ev(8 * SEC, id, 100, 0), 0);
	feed(a, tick_ev(8 * SEC, 7 * SEC), 1);
	r = tst_row_of(tt_agg_table(a), id);
	assert_true(r->flags & TT_ROW_NEW);
	assert_int_equal(r->tot.bytes_in, 100);
	assert_int_equal(r->d_bytes_in, 100);
	assert_int_equal(r->open_ns, 8 * SEC);
	tt_agg_free(a);
}

static void test_pid_attribution_update(void **state)
{
	struct tt_agg *a = tt_agg_new();
	struct tt_event upd = conn_ev(3 * SEC, 5, IPPROTO_TCP, 4242, 0);
	const struct tt_row *r;

	(void)state;
	/* an accepted socket is born in softirq: no owner yet */
	feed(a, conn_ev(1 * SEC, 5, IPPROTO_TCP, 0, 0), 0);
	feed(a, tick_ev(2 * SEC, 1 * SEC), 1);
	assert_int_equal(tst_row_of(tt_agg_table(a), 5)->conn.pid, 0);
	feed(a, upd, 0);
	feed(a, tick_ev(4 * SEC, 2 * SEC), 1);
	r = tst_row_of(tt_agg_table(a), 5);
	assert_int_equal(r->conn.tgid, 4242);
	assert_string_equal(r->conn.comm, "worker");
	assert_int_equal(r->open_ns, 1 * SEC); /* an owner update is not a new life */
	assert_false(r->flags & TT_ROW_NEW);
	tt_agg_free(a);
}

static void test_orphan_events_are_counted(void **state)
{
	struct tt_agg *a = tt_agg_new();

	(void)state;
	feed(a, sample_ev(1 * SEC, 99, 1, 1), 0);
	feed(a, tick_ev(2 * SEC, 1 * SEC), 1);
	assert_int_equal(tt_agg_table(a)->orphans, 1);
	assert_int_equal(tt_agg_table(a)->n, 0);
	tt_agg_free(a);
}

/* --- random streams against a naive reference ------------------------------ */

#define REF_IDS 40

struct ref_conn {
	int live; /* 0 none, 1 open, 2 closed this tick */
	uint64_t in, out, prev_in, prev_out;
};

static void test_random_streams_match_reference(void **state)
{
	uint64_t seed = 0x1234567887654321ull;
	int run;

	(void)state;
	for (run = 0; run < 50; run++) {
		struct tt_agg *a = tt_agg_new();
		struct ref_conn ref[REF_IDS];
		uint64_t ts = SEC, last_tick = SEC;
		int tick, k;

		memset(ref, 0, sizeof(ref));
		for (tick = 0; tick < 40; tick++) {
			int nev = (int)(tst_rnd(&seed) % 30);
			const struct tt_table *t;
			uint64_t sum_in = 0;

			for (k = 0; k < nev; k++) {
				unsigned id = (unsigned)(tst_rnd(&seed) % REF_IDS);
				struct ref_conn *c = &ref[id];
				struct tt_event e;

				ts += tst_rnd(&seed) % 1000;
				switch (tst_rnd(&seed) % 4) {
				case 0:
					if (c->live)
						break;
					memset(c, 0, sizeof(*c));
					c->live = 1;
					e = conn_ev(ts, id + 1, IPPROTO_TCP, id, 0);
					assert_int_equal(tt_agg_feed(a, &e), 0);
					break;
				case 1:
				case 2:
					if (c->live != 1)
						break;
					c->in += tst_rnd(&seed) % 100000;
					c->out += tst_rnd(&seed) % 3;
					e = sample_ev(ts, id + 1, c->in, c->out);
					assert_int_equal(tt_agg_feed(a, &e), 0);
					break;
				default:
					if (c->live != 1)
						break;
					c->in += tst_rnd(&seed) % 10;
					c->live = 2;
					e = close_ev(ts, id + 1, c->in, c->out, TT_CLOSE_NORMAL);
					assert_int_equal(tt_agg_feed(a, &e), 0);
					break;
				}
			}
			ts += SEC;
			{
				struct tt_event e = tick_ev(ts, last_tick);

				assert_int_equal(tt_agg_feed(a, &e), 1);
			}
			t = tt_agg_table(a);
			for (k = 0; k < REF_IDS; k++) {
				struct ref_conn *c = &ref[k];
				const struct tt_row *r = tst_row_of(t, (uint64_t)k + 1);

				if (!c->live) {
					assert_null(r);
					continue;
				}
				assert_non_null(r);
				assert_int_equal(r->tot.bytes_in, c->in);
				assert_int_equal(r->d_bytes_in, c->in - c->prev_in);
				assert_int_equal(r->d_bytes_out, c->out - c->prev_out);
				assert_int_equal(!!(r->flags & TT_ROW_CLOSED), c->live == 2);
				sum_in += c->in - c->prev_in;
				c->prev_in = c->in;
				c->prev_out = c->out;
				if (c->live == 2)
					c->live = 0;
			}
			assert_int_equal(t->bytes_in, sum_in);
			last_tick = ts;
		}
		tt_agg_free(a);
	}
}

/* --- keyframes: a reader may start at any block --------------------------- */

struct evlist {
	struct tt_event ev[256];
	int n;
};

static int collect_ev(const struct tt_event *ev, void *ctx)
{
	struct evlist *l = ctx;

	assert_true(l->n < 256);
	l->ev[l->n++] = *ev;
	return 0;
}

static void test_keyframe_restart_equals_continuous(void **state)
{
	struct tt_agg *live = tt_agg_new(), *fresh = tt_agg_new();
	struct tt_event loss = { .ts_ns = 2 * SEC, .type = TT_EV_LOSS };
	struct evlist kf = { .n = 0 };
	int i;

	(void)state;
	feed(live, conn_ev(1 * SEC, 1, IPPROTO_TCP, 10, 0), 0);
	feed(live, conn_ev(1 * SEC, 2, IPPROTO_UDP, 11, TT_CF_UDP_PEER), 0);
	feed(live, sample_ev(2 * SEC, 1, 5000, 100), 0);
	feed(live, sample_ev(2 * SEC, 2, 64, 64), 0);
	loss.loss.ring_drops = 3;
	feed(live, loss, 0);
	feed(live, tick_ev(2 * SEC, 1 * SEC), 1);

	assert_int_equal(tt_agg_keyframe(live, 2 * SEC, collect_ev, &kf), 0);
	assert_int_equal(kf.n, 5); /* 2 x (CONN, SAMPLE) + LOSS */
	for (i = 0; i < kf.n; i++) {
		assert_true(kf.ev[i].flags & TT_EVF_KEYFRAME);
		assert_int_equal(tt_agg_feed(fresh, &kf.ev[i]), 0);
		/* a continuous reader meets the keyframe too: it must change nothing */
		assert_int_equal(tt_agg_feed(live, &kf.ev[i]), 0);
	}
	{
		struct tt_event next[] = {
			sample_ev(2500000000ull, 1, 9000, 100),
			conn_ev(2600000000ull, 3, IPPROTO_TCP, 12, 0),
			close_ev(2700000000ull, 2, 64, 128, TT_CLOSE_NORMAL),
			tick_ev(3 * SEC, 2 * SEC),
		};

		for (i = 0; i < 4; i++) {
			int want = next[i].type == TT_EV_TICK;

			assert_int_equal(tt_agg_feed(live, &next[i]), want);
			assert_int_equal(tt_agg_feed(fresh, &next[i]), want);
		}
	}
	tst_assert_table_equal(tt_agg_table(fresh), tt_agg_table(live), 0);
	assert_int_equal(tst_row_of(tt_agg_table(fresh), 1)->d_bytes_in, 4000);
	assert_int_equal(tt_agg_table(fresh)->opened, 1);
	assert_int_equal(tt_agg_table(fresh)->loss.ring_drops, 3);
	tt_agg_free(live);
	tt_agg_free(fresh);
}

static void test_age_never_negative(void **state)
{
	struct tt_row r;

	(void)state;
	memset(&r, 0, sizeof(r));
	r.open_ns = 5 * SEC;
	assert_int_equal(tt_row_age_ns(&r, 7 * SEC), 2 * SEC);
	/* the kernel stamped the open a hair after the tick that carried it */
	assert_int_equal(tt_row_age_ns(&r, 5 * SEC - 1000), 0);
	r.close_ns = 6 * SEC;
	assert_int_equal(tt_row_age_ns(&r, 9 * SEC), 1 * SEC);
}

static void test_sort_total_order(void **state)
{
	struct tt_row rows[4];
	int i;

	(void)state;
	memset(rows, 0, sizeof(rows));
	for (i = 0; i < 4; i++) {
		rows[i].conn.id = (uint64_t)(4 - i);
		rows[i].rate_in = (i == 2) ? 50.0 : 10.0;
		rows[i].tot.bytes_out = (uint64_t)i * 1000;
	}
	tt_rows_sort(rows, 4, TT_SORT_RATE, 0);
	assert_true(rows[0].rate_in == 50.0);
	/* equal rates: ascending id */
	assert_true(rows[1].conn.id < rows[2].conn.id && rows[2].conn.id < rows[3].conn.id);
	tt_rows_sort(rows, 4, TT_SORT_BYTES, 0);
	assert_int_equal(rows[0].tot.bytes_out, 3000);
	assert_int_equal(rows[3].tot.bytes_out, 0);
	assert_int_equal(tt_sort_key_parse("retrans"), TT_SORT_RETRANS);
	assert_int_equal(tt_sort_key_parse("nope"), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rates_over_measured_tick),
		cmocka_unit_test(test_close_reported_once),
		cmocka_unit_test(test_failed_connect_keeps_reason),
		cmocka_unit_test(test_partial_flag_and_counts),
		cmocka_unit_test(test_udp_idle_expiry_and_new_life),
		cmocka_unit_test(test_pid_attribution_update),
		cmocka_unit_test(test_orphan_events_are_counted),
		cmocka_unit_test(test_random_streams_match_reference),
		cmocka_unit_test(test_keyframe_restart_equals_continuous),
		cmocka_unit_test(test_age_never_negative),
		cmocka_unit_test(test_sort_total_order),
	};

	return cmocka_run_group_tests_name("aggregator", tests, NULL, NULL);
}
