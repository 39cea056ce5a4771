/*
 * Unit tests of report.c (top-N): random hand-built tables of two hosts
 * (lifetimes that reuse an id, owners that change, idle rows, closes, IPv4 and
 * IPv6, TCP and UDP) go into a tt_top for every grouping, and every group is
 * compared field by field with a trivial reference model: a list of every
 * active row, grouped by a projection of the fields the keys name. Ranking is
 * checked against the metric for every metric and is independent of the input
 * order; pieces that sum a lifetime's active ticks build the groups the ticks
 * build; distinct lifetimes, peaks (one connection's tick, not a tick's sum),
 * filters, reset, lookup and the option parsers.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "filter.h"
#include "report.h"
#include "tst.h"

#define SEC	TST_SEC
#define T0	(5000 * SEC) /* CLOCK_MONOTONIC of the first tick's start */
#define M2W	(1700000000ll * (int64_t)SEC)
#define TICKS	50
#define LIVES	30 /* per host */
#define HOSTS	2
#define MAX_CT	(HOSTS * LIVES * TICKS)
#define REF_MAX 1024 /* groups of the reference */

static const char *const host_names[HOSTS] = { "alpha", "beta" };

/* ---- the input: lifetimes and their ticks ----------------------------------------------------- */

struct life {
	struct tt_ev_conn conn; /* current owner */
	uint64_t open_ns;
	int t_open, t_close; /* ticks it is in, inclusive; t_close < TICKS: it closes then */
	struct tt_counters tot;
	uint8_t close_reason;
};

struct input {
	struct tt_table tab[HOSTS][TICKS];
	struct tt_row rows[HOSTS][TICKS][LIVES];
};

static const char *const comms[] = { "nginx", "java", "curl", "sshd", "postgres" };

static void make_input(struct input *in, uint64_t seed)
{
	uint64_t s = seed;
	int h, t, k;

	memset(in, 0, sizeof(*in));
	for (h = 0; h < HOSTS; h++) {
		struct life lives[LIVES];

		memset(lives, 0, sizeof(lives));
		for (k = 0; k < LIVES; k++) {
			struct life *l = &lives[k];
			struct tt_ev_conn *c = &l->conn;
			int span;

			/* ids repeat (k % 20): the same cookie in two lifetimes */
			c->id = 1000 * (uint64_t)(h + 1) + (uint64_t)(k % 20);
			l->t_open = (int)(tst_rnd(&s) % (TICKS - 5));
			if (k >= 20)
				l->t_open = lives[k - 20].t_close + 1 < TICKS
						    ? lives[k - 20].t_close + 1
						    : TICKS - 1;
			span = 1 + (int)(tst_rnd(&s) % TICKS);
			l->t_close = l->t_open + span;
			if (k < 20 && l->t_close > TICKS - 3)
				l->t_close = TICKS - 3; /* so the id's next lifetime has room */
			l->open_ns = T0 + (uint64_t)l->t_open * SEC + tst_rnd(&s) % SEC;
			c->open_ns = l->open_ns;
			c->proto = tst_chance(&s, 25) ? IPPROTO_UDP : IPPROTO_TCP;
			if (tst_chance(&s, 20)) {
				c->family = 6;
				c->raddr[0] = 0x20;
				c->raddr[1] = 0x01;
				c->raddr[8] = (uint8_t)(tst_rnd(&s) % 3);
				c->raddr[15] = (uint8_t)(tst_rnd(&s) % 4);
			} else {
				c->family = 4;
				c->raddr[10] = c->raddr[11] = 0xff;
				c->raddr[12] = 10;
				c->raddr[13] = (uint8_t)(tst_rnd(&s) % 3);
				c->raddr[14] = (uint8_t)(tst_rnd(&s) % 2);
				c->raddr[15] = (uint8_t)(tst_rnd(&s) % 5);
			}
			memcpy(c->laddr, c->raddr, 12);
			c->laddr[15] = 1;
			c->rport = (uint16_t)(tst_chance(&s, 50) ? 443 : 5432 + tst_rnd(&s) % 3);
			c->lport = (uint16_t)(tst_chance(&s, 30) ? 80 : 30000 + tst_rnd(&s) % 9);
			c->tgid = c->pid = 100 + (uint32_t)(tst_rnd(&s) % 6);
			snprintf(c->comm, sizeof(c->comm), "%s", comms[c->tgid % 5]);
			c->cgroup = 1 + tst_rnd(&s) % 3;
			c->netns = 4026531840u;
		}
		for (t = 0; t < TICKS; t++) {
			struct tt_table *tab = &in->tab[h][t];

			tab->start_ns = T0 + (uint64_t)t * SEC;
			tab->ts_ns = tab->start_ns + SEC;
			tab->seq = (uint64_t)t + 1;
			tab->rows = in->rows[h][t];
			for (k = 0; k < LIVES; k++) {
				struct life *l = &lives[k];
				struct tt_row *r;

				if (t < l->t_open || t > l->t_close)
					continue;
				r = &tab->rows[tab->n++];
				if (t > l->t_open && tst_chance(&s, 8)) { /* a new owner */
					l->conn.tgid = l->conn.pid =
						100 + (uint32_t)(tst_rnd(&s) % 6);
					snprintf(l->conn.comm, sizeof(l->conn.comm), "%s",
						 comms[l->conn.tgid % 5]);
					l->conn.cgroup = 1 + tst_rnd(&s) % 3;
				}
				r->conn = l->conn;
				r->open_ns = l->open_ns;
				if (t == l->t_open)
					r->flags |= TT_ROW_NEW;
				/* idle rows (no delta, no flag) must not count anywhere */
				if (t == l->t_open || tst_chance(&s, 45)) {
					r->d_bytes_in = tst_rnd(&s) % 100000;
					r->d_bytes_out = tst_rnd(&s) % 50000;
					r->d_packets_in = r->d_bytes_in / 1000 + tst_rnd(&s) % 3;
					r->d_packets_out = r->d_bytes_out / 1000 + tst_rnd(&s) % 3;
					if (l->conn.proto == IPPROTO_TCP) {
						r->d_retrans = tst_chance(&s, 10)
								       ? 1 + tst_rnd(&s) % 3
								       : 0;
						r->d_resets = tst_chance(&s, 3);
					}
					/* a rate over a measured tick a little off 1 s */
					r->rate_in = (double)r->d_bytes_in *
						     (0.9 + (double)(tst_rnd(&s) % 200) / 1000);
					r->rate_out = (double)r->d_bytes_out * 1.01;
				}
				l->tot.bytes_in += r->d_bytes_in;
				l->tot.bytes_out += r->d_bytes_out;
				l->tot.packets_in += r->d_packets_in;
				l->tot.packets_out += r->d_packets_out;
				l->tot.retrans += r->d_retrans;
				if (l->conn.proto == IPPROTO_TCP) {
					l->tot.srtt_us =
						tst_chance(&s, 20)
							? 0
							: 100 + (uint32_t)(tst_rnd(&s) % 900);
					l->tot.state = (uint8_t)(1 + tst_rnd(&s) % 8);
				}
				r->tot = l->tot;
				if (t == l->t_close && l->t_close < TICKS) {
					r->flags |= TT_ROW_CLOSED;
					r->close_ns = tab->start_ns + tst_rnd(&s) % SEC;
					r->close_reason = (uint8_t)(tst_rnd(&s) % 4);
					r->err = r->close_reason == TT_CLOSE_FAILED ? ECONNREFUSED
										    : 0;
					r->tot.state = TT_TCP_CLOSE;
				}
				r->last_active_ns = tab->ts_ns;
			}
		}
	}
}

/* ---- the reference model ------------------------------------------------------------------------
 */

/* The fields the keys of by name, every other one zero: equal projections, one group. */
struct pkey {
	uint64_t id, open_ns, cgroup;
	uint32_t tgid;
	uint16_t rport, lport;
	uint8_t proto, pad[3];
	uint8_t raddr[16];
	char comm[TT_COMM_MAX];
	char host[16];
};

static void project(const struct tt_groupby *by, const char *host, const struct tt_ev_conn *c,
		    struct pkey *k)
{
	int i;

	memset(k, 0, sizeof(*k));
	for (i = 0; i < by->n; i++) {
		switch (by->keys[i]) {
		case TT_G_CONN:
			k->id = c->id;
			k->open_ns = c->open_ns;
			break;
		case TT_G_PID:
			k->tgid = c->tgid;
			memcpy(k->comm, c->comm, TT_COMM_MAX);
			break;
		case TT_G_PROCESS:
			memcpy(k->comm, c->comm, TT_COMM_MAX);
			break;
		case TT_G_RHOST:
			memcpy(k->raddr, c->raddr, 16);
			break;
		case TT_G_RNET: {
			/* by hand: IPv4 /net_bits of the last 4 bytes, IPv6 /64 */
			int bits = c->family == 4 ? 96 + by->net_bits : 64, b;

			for (b = 0; b < bits; b++)
				if (c->raddr[b / 8] & (0x80 >> (b % 8)))
					k->raddr[b / 8] |= (uint8_t)(0x80 >> (b % 8));
			break;
		}
		case TT_G_RPORT:
			k->rport = c->rport;
			k->proto = c->proto;
			break;
		case TT_G_LPORT:
			k->lport = c->lport;
			k->proto = c->proto;
			break;
		case TT_G_CGROUP:
			k->cgroup = c->cgroup;
			break;
		case TT_G_HOST:
			snprintf(k->host, sizeof(k->host), "%s", host);
			break;
		default:
			fail();
		}
	}
}

struct ref_group {
	struct pkey key;
	struct tt_group g; /* the sums; conns from lives */
	struct tt_ev_conn last_conn; /* the last row's identity and owner */
	uint64_t lives[LIVES * HOSTS * 2][2]; /* (id, open_ns) seen */
	size_t nlives;
};

struct ref {
	struct ref_group *g;
	size_t n;
};

static struct ref_group *ref_find(struct ref *ref, const struct pkey *k, int add)
{
	size_t i;

	for (i = 0; i < ref->n; i++)
		if (!memcmp(&ref->g[i].key, k, sizeof(*k)))
			return &ref->g[i];
	if (!add)
		return NULL;
	assert_true(ref->n < REF_MAX);
	memset(&ref->g[ref->n], 0, sizeof(ref->g[ref->n]));
	ref->g[ref->n].key = *k;
	return &ref->g[ref->n++];
}

static int row_passes(const struct tt_row *r, const struct tt_filter *f)
{
	return !f || ((!f->proto || f->proto == r->conn.proto) &&
		      (f->port < 0 || f->port == r->conn.lport || f->port == r->conn.rport));
}

static void ref_build(struct ref *ref, const struct input *in, const struct tt_groupby *by,
		      const struct tt_filter *f)
{
	int h, t;
	size_t i, j;

	ref->n = 0;
	for (t = 0; t < TICKS; t++) {
		for (h = 0; h < HOSTS; h++) {
			const struct tt_table *tab = &in->tab[h][t];
			uint64_t ts = (uint64_t)((int64_t)tab->ts_ns + M2W);

			for (i = 0; i < tab->n; i++) {
				const struct tt_row *r = &tab->rows[i];
				struct ref_group *rg;
				struct tt_group *g;
				struct pkey k;
				uint64_t age;

				if (!(r->d_bytes_in || r->d_bytes_out || r->d_packets_in ||
				      r->d_packets_out || r->d_retrans || r->d_resets ||
				      (r->flags & (TT_ROW_NEW | TT_ROW_CLOSED))))
					continue;
				if (!row_passes(r, f))
					continue;
				project(by, host_names[h], &r->conn, &k);
				rg = ref_find(ref, &k, 1);
				g = &rg->g;
				for (j = 0; j < rg->nlives; j++)
					if (rg->lives[j][0] == r->conn.id &&
					    rg->lives[j][1] == r->open_ns)
						break;
				if (j == rg->nlives) {
					assert_true(rg->nlives < LIVES * HOSTS * 2);
					rg->lives[rg->nlives][0] = r->conn.id;
					rg->lives[rg->nlives][1] = r->open_ns;
					rg->nlives++;
				}
				g->conns = rg->nlives;
				g->bytes_in += r->d_bytes_in;
				g->bytes_out += r->d_bytes_out;
				g->packets_in += r->d_packets_in;
				g->packets_out += r->d_packets_out;
				g->retrans += r->d_retrans;
				g->resets += r->d_resets;
				if (r->rate_in > g->peak_rate_in)
					g->peak_rate_in = r->rate_in;
				if (r->rate_out > g->peak_rate_out)
					g->peak_rate_out = r->rate_out;
				if (r->tot.srtt_us) {
					g->rtt_sum_us += r->tot.srtt_us;
					g->rtt_n++;
					if (r->tot.srtt_us > g->rtt_max_us)
						g->rtt_max_us = r->tot.srtt_us;
				}
				age = r->close_ns ? r->close_ns : tab->ts_ns;
				age = age > r->open_ns ? age - r->open_ns : 0;
				if (age > g->duration_ns)
					g->duration_ns = age;
				if (!g->first_ns || ts < g->first_ns)
					g->first_ns = ts;
				if (ts > g->last_ns)
					g->last_ns = ts;
				g->state = r->tot.state;
				rg->last_conn = r->conn;
				if (r->flags & TT_ROW_CLOSED) {
					g->closed = 1;
					g->close_reason = r->close_reason;
					g->err = r->err;
				}
			}
		}
	}
}

static void feed_ticks(struct tt_top *top, const struct input *in, const struct tt_filter *f)
{
	int h, t;

	for (t = 0; t < TICKS; t++)
		for (h = 0; h < HOSTS; h++)
			assert_int_equal(tt_top_add(top, &in->tab[h][t], M2W, host_names[h], f), 0);
}

static void assert_group_equal(const struct tt_group *got, const struct tt_group *want,
			       int with_state)
{
	assert_int_equal(got->conns, want->conns);
	assert_int_equal(got->bytes_in, want->bytes_in);
	assert_int_equal(got->bytes_out, want->bytes_out);
	assert_int_equal(got->packets_in, want->packets_in);
	assert_int_equal(got->packets_out, want->packets_out);
	assert_int_equal(got->retrans, want->retrans);
	assert_int_equal(got->resets, want->resets);
	assert_true(got->peak_rate_in == want->peak_rate_in);
	assert_true(got->peak_rate_out == want->peak_rate_out);
	assert_int_equal(got->rtt_sum_us, want->rtt_sum_us);
	assert_int_equal(got->rtt_n, want->rtt_n);
	assert_int_equal(got->rtt_max_us, want->rtt_max_us);
	assert_int_equal(got->duration_ns, want->duration_ns);
	assert_int_equal(got->first_ns, want->first_ns);
	assert_int_equal(got->last_ns, want->last_ns);
	if (with_state) {
		assert_int_equal(got->state, want->state);
		assert_int_equal(got->closed, want->closed);
		assert_int_equal(got->close_reason, want->close_reason);
		assert_int_equal(got->err, want->err);
	}
}

/* Every group of top is the reference's, and the other way round. */
static void check_against_ref(struct tt_top *top, const struct tt_groupby *by, struct ref *ref)
{
	const struct tt_group **ranked;
	long n = tt_top_rank(top, TT_BY_BYTES, &ranked), i;
	int conn_only = by->n == 1 && by->keys[0] == TT_G_CONN;

	assert_int_equal(n, (long)ref->n);
	for (i = 0; i < n; i++) {
		struct pkey k;
		const struct ref_group *rg;

		project(by, ranked[i]->host, &ranked[i]->conn, &k);
		rg = ref_find(ref, &k, 0);
		if (!rg)
			fail_msg("group %ld of %ld is not in the reference", i, n);
		assert_group_equal(ranked[i], &rg->g, conn_only);
		if (conn_only) /* the whole identity, the latest owner */
			assert_memory_equal(&ranked[i]->conn, &rg->last_conn,
					    sizeof(rg->last_conn));
	}
}

static const char *const groupings[] = {
	"conn",
	"pid",
	"process",
	"remote-host",
	"remote-net/24",
	"remote-net/16",
	"remote-port",
	"local-port",
	"cgroup",
	"host",
	"process,remote-port",
	"host,remote-net/8,local-port",
};

static void test_groups_equal_reference(void **state)
{
	static struct input in;
	static struct ref_group rg[REF_MAX];
	struct ref ref = { .g = rg };
	uint64_t seed;
	size_t gi;

	(void)state;
	for (seed = 1; seed <= 6; seed++) {
		make_input(&in, seed * 0x9e3779b9ull);
		for (gi = 0; gi < sizeof(groupings) / sizeof(groupings[0]); gi++) {
			struct tt_groupby by;
			struct tt_top *top;
			char why[256];

			assert_int_equal(tt_groupby_parse(groupings[gi], &by, why, sizeof(why)), 0);
			top = tt_top_new(&by);
			assert_non_null(top);
			feed_ticks(top, &in, NULL);
			ref_build(&ref, &in, &by, NULL);
			assert_true(ref.n > 0);
			check_against_ref(top, &by, &ref);
			tt_top_free(top);
		}
	}
}

/* The conn grouping has one group per lifetime: an id used twice is two. */
static void test_distinct_lifetimes(void **state)
{
	static struct input in;
	struct tt_groupby by;
	struct tt_top *top;
	const struct tt_group **ranked;
	char why[256];
	long n, i;
	uint64_t conns = 0, lives = 0;
	int h, k;

	(void)state;
	make_input(&in, 77);
	assert_int_equal(tt_groupby_parse("conn", &by, why, sizeof(why)), 0);
	top = tt_top_new(&by);
	feed_ticks(top, &in, NULL);
	n = tt_top_rank(top, TT_BY_CONNS, &ranked);
	for (i = 0; i < n; i++) {
		assert_int_equal(ranked[i]->conns, 1);
		conns += ranked[i]->conns;
	}
	/* every lifetime is active in its first tick (TT_ROW_NEW) */
	for (h = 0; h < HOSTS; h++)
		for (k = 0; k < TICKS; k++) {
			size_t r;

			for (r = 0; r < in.tab[h][k].n; r++)
				lives += !!(in.tab[h][k].rows[r].flags & TT_ROW_NEW);
		}
	assert_int_equal(conns, lives);
	assert_int_equal(lives, HOSTS * LIVES);
	tt_top_free(top);

	/* one group for all: every lifetime once, however many ticks and owners it had */
	assert_int_equal(tt_groupby_parse("cgroup", &by, why, sizeof(why)), 0);
	top = tt_top_new(&by);
	feed_ticks(top, &in, NULL);
	n = tt_top_rank(top, TT_BY_CONNS, &ranked);
	conns = 0;
	for (i = 0; i < n; i++)
		conns += ranked[i]->conns;
	/* a lifetime whose cgroup changed counts in each cgroup it went to: at least all */
	assert_true(conns >= lives);
	tt_top_free(top);
}

/* A peak is one connection's highest tick, not the sum of a tick's connections. */
static void test_peak_is_one_connection(void **state)
{
	struct tt_row rows[2];
	struct tt_table tab = { .start_ns = T0, .ts_ns = T0 + SEC, .n = 2, .rows = rows };
	struct tt_groupby by;
	struct tt_top *top;
	const struct tt_group **ranked;
	char why[256];
	int i;

	(void)state;
	memset(rows, 0, sizeof(rows));
	for (i = 0; i < 2; i++) {
		rows[i].conn.id = 1 + (uint64_t)i;
		rows[i].conn.proto = IPPROTO_TCP;
		rows[i].conn.family = 4;
		memcpy(rows[i].conn.comm, "same", 5);
		rows[i].open_ns = T0;
		rows[i].d_bytes_in = 1000;
		rows[i].rate_in = 1000.0 + i;
		rows[i].tot.srtt_us = 100 * (uint32_t)(i + 1);
	}
	assert_int_equal(tt_groupby_parse("process", &by, why, sizeof(why)), 0);
	top = tt_top_new(&by);
	assert_int_equal(tt_top_add(top, &tab, M2W, "h", NULL), 0);
	tab.start_ns += SEC;
	tab.ts_ns += SEC;
	rows[0].rate_in = 700.0;
	rows[1].d_bytes_in = 0; /* idle: its rate and RTT must not count */
	rows[1].rate_in = 9999.0;
	rows[1].tot.srtt_us = 50000;
	assert_int_equal(tt_top_add(top, &tab, M2W, "h", NULL), 0);
	assert_int_equal(tt_top_rank(top, TT_BY_RATE, &ranked), 1);
	assert_true(ranked[0]->peak_rate_in == 1001.0);
	assert_int_equal(ranked[0]->bytes_in, 3000);
	assert_int_equal(ranked[0]->conns, 2);
	assert_int_equal(ranked[0]->rtt_n, 3);
	assert_int_equal(tt_group_rtt_us(ranked[0]), (100 + 200 + 100) / 3);
	assert_int_equal(ranked[0]->rtt_max_us, 200);
	assert_int_equal(ranked[0]->first_ns, (uint64_t)((int64_t)T0 + SEC + M2W));
	assert_int_equal(ranked[0]->last_ns, (uint64_t)((int64_t)T0 + 2 * SEC + M2W));
	tt_top_free(top);
}

static double metric_of(const struct tt_group *g, enum tt_metric m)
{
	switch (m) {
	case TT_BY_BYTES:
		return (double)g->bytes_in + (double)g->bytes_out;
	case TT_BY_TX:
		return (double)g->bytes_out;
	case TT_BY_RX:
		return (double)g->bytes_in;
	case TT_BY_RATE:
		return g->peak_rate_in + g->peak_rate_out;
	case TT_BY_PACKETS:
		return (double)g->packets_in + (double)g->packets_out;
	case TT_BY_RTT:
		return g->rtt_n ? (double)g->rtt_sum_us / (double)g->rtt_n : 0;
	case TT_BY_RETRANS:
		return (double)g->retrans;
	case TT_BY_DURATION:
		return (double)g->duration_ns;
	case TT_BY_CONNS:
		return (double)g->conns;
	case TT_BY_FAILURES: /* report.h: failed connects + resets */
		return (double)g->failed + (double)g->resets;
	default:
		fail();
	}
	return 0;
}

/* The input in another order: hosts swapped, each table's rows reversed. */
static void feed_reordered(struct tt_top *top, struct input *in)
{
	int h, t;

	for (t = 0; t < TICKS; t++)
		for (h = HOSTS - 1; h >= 0; h--) {
			struct tt_table *tab = &in->tab[h][t];
			size_t i;

			for (i = 0; i < tab->n / 2; i++) {
				struct tt_row x = tab->rows[i];

				tab->rows[i] = tab->rows[tab->n - 1 - i];
				tab->rows[tab->n - 1 - i] = x;
			}
			assert_int_equal(tt_top_add(top, tab, M2W, host_names[h], NULL), 0);
		}
}

static void test_ranking(void **state)
{
	static struct input in;
	const char *const gs[] = { "conn", "process", "remote-net/24", "host,remote-port" };
	size_t gi;
	int m;

	(void)state;
	for (gi = 0; gi < sizeof(gs) / sizeof(gs[0]); gi++) {
		struct tt_groupby by;
		struct tt_top *a, *b;
		char why[256];

		make_input(&in, 4242 + gi);
		assert_int_equal(tt_groupby_parse(gs[gi], &by, why, sizeof(why)), 0);
		a = tt_top_new(&by);
		b = tt_top_new(&by);
		feed_ticks(a, &in, NULL);
		feed_reordered(b, &in);
		for (m = 0; m < TT_BY_MAX; m++) {
			const struct tt_group **ra, **rb;
			long na = tt_top_rank(a, (enum tt_metric)m, &ra), i;
			long nb = tt_top_rank(b, (enum tt_metric)m, &rb);

			assert_int_equal(na, nb);
			assert_true(na > 1);
			for (i = 0; i < na; i++) {
				struct pkey ka, kb;

				if (i)
					assert_true(metric_of(ra[i - 1], m) >= metric_of(ra[i], m));
				/* the same groups in the same order, ties included */
				project(&by, ra[i]->host, &ra[i]->conn, &ka);
				project(&by, rb[i]->host, &rb[i]->conn, &kb);
				assert_memory_equal(&ka, &kb, sizeof(ka));
				assert_group_equal(ra[i], rb[i], 0);
				/* lookup finds b's group of a's key */
				assert_ptr_equal(tt_top_lookup(b, ra[i]), rb[i]);
			}
		}
		tt_top_free(a);
		tt_top_free(b);
	}
}

/* Pieces summing a lifetime's active ticks per owner build the groups the ticks build. */
static void test_pieces_equal_ticks(void **state)
{
	static struct input in;
	static struct tt_piece pc[MAX_CT];
	static int pc_host[MAX_CT];
	const char *const gs[] = { "conn", "pid", "process,remote-port", "cgroup" };
	size_t npc = 0, gi, i;
	int h, t;

	(void)state;
	make_input(&in, 31337);
	/* one piece per (host, lifetime, owner run), in time order of their last tick */
	for (t = 0; t < TICKS; t++)
		for (h = 0; h < HOSTS; h++) {
			const struct tt_table *tab = &in.tab[h][t];
			uint64_t ts = (uint64_t)((int64_t)tab->ts_ns + M2W);

			for (i = 0; i < tab->n; i++) {
				const struct tt_row *r = &tab->rows[i];
				struct tt_piece *p = NULL;
				size_t j;

				if (!tt_row_active(r))
					continue;
				for (j = npc; j-- > 0;)
					if (pc[j].conn.id == r->conn.id &&
					    pc[j].conn.open_ns == r->open_ns && pc_host[j] == h) {
						p = &pc[j];
						break;
					}
				if (p && (p->conn.tgid != r->conn.tgid ||
					  p->conn.cgroup != r->conn.cgroup ||
					  memcmp(p->conn.comm, r->conn.comm, TT_COMM_MAX)))
					p = NULL; /* a new owner: a new part */
				if (!p) {
					p = &pc[npc++];
					memset(p, 0, sizeof(*p));
					p->conn = r->conn;
					p->conn.open_ns = r->open_ns;
					p->sum.tgid = r->conn.tgid;
					memcpy(p->sum.comm, r->conn.comm, TT_COMM_MAX);
					p->sum.cgroup = r->conn.cgroup;
					p->sum.first_ns = ts;
					pc_host[p - pc] = h;
				}
				p->sum.last_ns = ts;
				p->sum.ticks++;
				if (tt_row_age_ns(r, tab->ts_ns) > p->sum.age_ns)
					p->sum.age_ns = tt_row_age_ns(r, tab->ts_ns);
				p->sum.state = r->tot.state;
				p->sum.bytes_in += r->d_bytes_in;
				p->sum.bytes_out += r->d_bytes_out;
				p->sum.packets_in += r->d_packets_in;
				p->sum.packets_out += r->d_packets_out;
				p->sum.retrans += r->d_retrans;
				p->sum.resets += r->d_resets;
				if (r->rate_in > p->sum.peak_rate_in)
					p->sum.peak_rate_in = r->rate_in;
				if (r->rate_out > p->sum.peak_rate_out)
					p->sum.peak_rate_out = r->rate_out;
				if (r->tot.srtt_us) {
					p->sum.rtt_sum_us += r->tot.srtt_us;
					p->sum.rtt_n++;
					if (r->tot.srtt_us > p->sum.rtt_max_us)
						p->sum.rtt_max_us = r->tot.srtt_us;
				}
				if (r->flags & TT_ROW_CLOSED) {
					p->sum.closed = 1;
					p->close_reason = r->close_reason;
					p->err = r->err;
				}
			}
		}
	for (gi = 0; gi < sizeof(gs) / sizeof(gs[0]); gi++) {
		struct tt_groupby by;
		struct tt_top *ticks, *pieces;
		const struct tt_group **ra, **rb;
		char why[256];
		long n, k;

		assert_int_equal(tt_groupby_parse(gs[gi], &by, why, sizeof(why)), 0);
		ticks = tt_top_new(&by);
		pieces = tt_top_new(&by);
		feed_ticks(ticks, &in, NULL);
		for (i = 0; i < npc; i++)
			assert_int_equal(tt_top_add_piece(pieces, &pc[i], host_names[pc_host[i]],
							  NULL),
					 0);
		n = tt_top_rank(ticks, TT_BY_BYTES, &ra);
		assert_int_equal(tt_top_rank(pieces, TT_BY_BYTES, &rb), n);
		for (k = 0; k < n; k++) {
			assert_memory_equal(&ra[k]->conn, &rb[k]->conn, sizeof(ra[k]->conn));
			assert_group_equal(ra[k], rb[k], by.keys[0] == TT_G_CONN);
		}
		tt_top_free(ticks);
		tt_top_free(pieces);
	}
}

static void test_filter_and_reset(void **state)
{
	static struct input in;
	static struct ref_group rg[REF_MAX];
	struct ref ref = { .g = rg };
	struct tt_filter f;
	struct tt_groupby by;
	struct tt_top *top;
	const struct tt_group **ranked;
	char why[256];

	(void)state;
	make_input(&in, 99);
	assert_int_equal(tt_groupby_parse("process,remote-port", &by, why, sizeof(why)), 0);
	top = tt_top_new(&by);
	tt_filter_init(&f);
	f.proto = IPPROTO_UDP;
	feed_ticks(top, &in, &f);
	ref_build(&ref, &in, &by, &f);
	check_against_ref(top, &by, &ref);

	/* reset forgets every group and every lifetime seen */
	tt_top_reset(top);
	assert_int_equal(tt_top_rank(top, TT_BY_BYTES, &ranked), 0);
	tt_filter_init(&f);
	f.port = 443;
	feed_ticks(top, &in, &f);
	ref_build(&ref, &in, &by, &f);
	assert_true(ref.n > 0);
	check_against_ref(top, &by, &ref);
	tt_top_free(top);
}

static void test_parsers(void **state)
{
	struct tt_groupby g;
	char why[256];

	(void)state;
	assert_int_equal(tt_groupby_parse("process,remote-port", &g, why, sizeof(why)), 0);
	assert_int_equal(g.n, 2);
	assert_int_equal(g.keys[0], TT_G_PROCESS);
	assert_int_equal(g.keys[1], TT_G_RPORT);
	assert_int_equal(tt_groupby_parse("remote-net/20", &g, why, sizeof(why)), 0);
	assert_int_equal(g.keys[0], TT_G_RNET);
	assert_int_equal(g.net_bits, 20);
	assert_int_equal(tt_groupby_parse("colour", &g, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "'colour'"));
	assert_int_equal(tt_groupby_parse("pid,pid", &g, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "twice"));
	assert_int_equal(tt_groupby_parse("remote-net", &g, why, sizeof(why)), -EINVAL);
	assert_int_equal(tt_groupby_parse("remote-net/129", &g, why, sizeof(why)), -EINVAL);
	assert_int_equal(tt_groupby_parse("remote-net/x", &g, why, sizeof(why)), -EINVAL);
	assert_int_equal(tt_groupby_parse("", &g, why, sizeof(why)), -EINVAL);
	assert_int_equal(tt_groupby_parse("conn,pid,process,remote-host,remote-port,local-port,"
					  "cgroup",
					  &g, why, sizeof(why)),
			 -EINVAL);
	assert_int_equal(tt_metric_parse("bytes"), TT_BY_BYTES);
	assert_int_equal(tt_metric_parse("rtt"), TT_BY_RTT);
	assert_int_equal(tt_metric_parse("conns"), TT_BY_CONNS);
	assert_int_equal(tt_metric_parse("weight"), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_groups_equal_reference),
		cmocka_unit_test(test_distinct_lifetimes),
		cmocka_unit_test(test_peak_is_one_connection),
		cmocka_unit_test(test_ranking),
		cmocka_unit_test(test_pieces_equal_ticks),
		cmocka_unit_test(test_filter_and_reset),
		cmocka_unit_test(test_parsers),
	};

	return cmocka_run_group_tests_name("report", tests, NULL, NULL);
}
