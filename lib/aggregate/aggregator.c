/*
 * aggregator.c: see aggregator.h.
 *
 * Connections live in a dense array indexed through an idmap; a closed one is
 * reported in the table of the tick it closed in and removed right after, by
 * moving the last slot into its place.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator.h"
#include "idmap.h"
#include "mem.h"

struct conn {
	struct tt_ev_conn info;
	struct tt_counters cur; /* latest totals */
	struct tt_counters prev; /* totals at the previous tick, for deltas */
	uint64_t close_ns;
	uint64_t last_active_ns;
	uint32_t resets_tick; /* resets seen since the previous tick */
	uint8_t closed;
	uint8_t is_new;
	uint8_t close_reason;
	uint16_t err;
};

struct tt_agg {
	struct tt_idmap *index; /* id -> slot in conns */
	struct conn *conns;
	size_t n, cap;
	struct tt_table table;
	size_t rows_cap;
	uint64_t last_tick_ns; /* ts of the previous tick, 0 before the first */
	struct tt_ev_loss loss;
	uint64_t orphans;
};

struct tt_agg *tt_agg_new(void)
{
	struct tt_agg *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->index = tt_idmap_new();
	if (!a->index) {
		free(a);
		return NULL;
	}
	return a;
}

void tt_agg_free(struct tt_agg *a)
{
	if (!a)
		return;
	tt_idmap_free(a->index);
	free(a->conns);
	free(a->table.rows);
	free(a);
}

const struct tt_table *tt_agg_table(const struct tt_agg *a)
{
	return &a->table;
}

static struct conn *find(struct tt_agg *a, uint64_t id)
{
	uint32_t slot;

	return tt_idmap_get(a->index, id, &slot) ? &a->conns[slot] : NULL;
}

const struct tt_ev_conn *tt_agg_conn(const struct tt_agg *a, uint64_t id)
{
	uint32_t slot;

	return tt_idmap_get(a->index, id, &slot) ? &a->conns[slot].info : NULL;
}

static int counters_moved(const struct tt_counters *a, const struct tt_counters *b)
{
	return a->bytes_in != b->bytes_in || a->bytes_out != b->bytes_out ||
	       a->packets_in != b->packets_in || a->packets_out != b->packets_out;
}

static int on_conn(struct tt_agg *a, const struct tt_event *ev)
{
	const struct tt_ev_conn *ci = &ev->conn;
	struct conn *c = find(a, ci->id);
	int err;

	if (c) {
		/* owner update (a new pid did I/O): identity and times stay */
		uint64_t open_ns = c->info.open_ns;

		c->info = *ci;
		c->info.open_ns = open_ns;
		return 0;
	}
	err = tt_grow((void **)&a->conns, &a->cap, a->n + 1, sizeof(*a->conns));
	if (err)
		return err;
	err = tt_idmap_put(a->index, ci->id, (uint32_t)a->n);
	if (err)
		return err;
	c = &a->conns[a->n++];
	memset(c, 0, sizeof(*c));
	c->info = *ci;
	if (!c->info.open_ns)
		c->info.open_ns = ev->ts_ns;
	c->last_active_ns = ev->ts_ns;
	c->is_new = !(ev->flags & TT_EVF_KEYFRAME);
	return 0;
}

static void on_counters(struct tt_agg *a, struct conn *c, const struct tt_counters *nc, uint64_t ts)
{
	(void)a;
	if (counters_moved(&c->cur, nc))
		c->last_active_ns = ts;
	c->cur = *nc;
}

static void remove_slot(struct tt_agg *a, size_t i)
{
	tt_idmap_del(a->index, a->conns[i].info.id);
	a->n--;
	if (i != a->n) {
		a->conns[i] = a->conns[a->n];
		/* cannot fail: the id is present, put only replaces its value */
		tt_idmap_put(a->index, a->conns[i].info.id, (uint32_t)i);
	}
}

/* Counters only grow; should a source ever go backwards, report 0, not 2^64. */
static uint64_t delta(uint64_t cur, uint64_t prev)
{
	return cur >= prev ? cur - prev : 0;
}

static double per_sec(uint64_t bytes, uint64_t ns)
{
	return ns ? (double)bytes * 1e9 / (double)ns : 0.0;
}

static int on_tick(struct tt_agg *a, const struct tt_event *ev)
{
	struct tt_table *t = &a->table;
	uint64_t start = ev->tick.start_ns ? ev->tick.start_ns : a->last_tick_ns;
	uint64_t len;
	size_t i;
	int err;

	if (!start || start > ev->ts_ns)
		start = ev->ts_ns;
	len = ev->ts_ns - start;

	err = tt_grow((void **)&t->rows, &a->rows_cap, a->n, sizeof(*t->rows));
	if (err)
		return err;

	t->start_ns = start;
	t->ts_ns = ev->ts_ns;
	t->seq++;
	t->n = 0;
	t->bytes_in = t->bytes_out = 0;
	t->opened = t->closed = 0;
	t->loss = a->loss;
	t->orphans = a->orphans;

	for (i = 0; i < a->n; i++) {
		struct conn *c = &a->conns[i];
		struct tt_row *r = &t->rows[t->n++];

		/* every field before flags is set below: clear only the rest (a whole
		 * row's memset was the top cost of replaying a day, as rep stos) */
		memset(&r->flags, 0, sizeof(*r) - offsetof(struct tt_row, flags));
		r->conn = c->info;
		r->tot = c->cur;
		r->d_bytes_in = delta(c->cur.bytes_in, c->prev.bytes_in);
		r->d_bytes_out = delta(c->cur.bytes_out, c->prev.bytes_out);
		r->d_packets_in = delta(c->cur.packets_in, c->prev.packets_in);
		r->d_packets_out = delta(c->cur.packets_out, c->prev.packets_out);
		r->d_retrans = (uint32_t)delta(c->cur.retrans, c->prev.retrans);
		r->d_resets = c->resets_tick;
		r->rate_in = per_sec(r->d_bytes_in, len);
		r->rate_out = per_sec(r->d_bytes_out, len);
		r->open_ns = c->info.open_ns;
		r->close_ns = c->closed ? c->close_ns : 0;
		r->last_active_ns = c->last_active_ns;
		r->flags = (c->closed ? TT_ROW_CLOSED : 0) | (c->is_new ? TT_ROW_NEW : 0);
		r->close_reason = c->close_reason;
		r->err = c->err;
		t->bytes_in += r->d_bytes_in;
		t->bytes_out += r->d_bytes_out;
		t->opened += c->is_new;
		t->closed += c->closed;

		c->prev = c->cur;
		c->resets_tick = 0;
		c->is_new = 0;
	}
	t->rate_in = per_sec(t->bytes_in, len);
	t->rate_out = per_sec(t->bytes_out, len);

	for (i = a->n; i-- > 0;)
		if (a->conns[i].closed)
			remove_slot(a, i);
	a->last_tick_ns = ev->ts_ns;
	return 1;
}

int tt_agg_feed(struct tt_agg *a, const struct tt_event *ev)
{
	struct conn *c;

	switch (ev->type) {
	case TT_EV_CONN:
		return on_conn(a, ev);
	case TT_EV_TICK:
		return on_tick(a, ev);
	case TT_EV_LOSS:
		a->loss = ev->loss;
		return 0;
	default:
		break;
	}

	/* the rest all name a connection */
	c = find(a, ev->sample.id);
	if (!c) {
		a->orphans++;
		return 0;
	}
	switch (ev->type) {
	case TT_EV_SAMPLE:
		on_counters(a, c, &ev->sample.c, ev->ts_ns);
		if (ev->flags & TT_EVF_KEYFRAME)
			c->prev = c->cur; /* a baseline, not traffic of this tick */
		break;
	case TT_EV_STATE:
		c->cur.state = ev->state.new_state;
		if (ev->state.new_state == TT_TCP_CLOSE && !c->close_ns)
			c->close_ns = ev->ts_ns;
		break;
	case TT_EV_RESET:
		c->resets_tick++;
		break;
	case TT_EV_CLOSE:
		on_counters(a, c, &ev->close.c, ev->ts_ns);
		c->closed = 1;
		c->close_reason = ev->close.reason;
		c->err = ev->close.err;
		if (!c->close_ns)
			c->close_ns = ev->ts_ns;
		break;
	default:
		a->orphans++;
		break;
	}
	return 0;
}

static int cmp_conn_id(const void *pa, const void *pb, void *arg)
{
	const struct conn *conns = arg;
	uint64_t a = conns[*(const uint32_t *)pa].info.id, b = conns[*(const uint32_t *)pb].info.id;

	return (a > b) - (a < b);
}

int tt_agg_keyframe(const struct tt_agg *a, uint64_t ts_ns,
		    int (*fn)(const struct tt_event *ev, void *ctx), void *ctx)
{
	/* in id order: neighbouring ids encode as small deltas (docs/FORMAT.md),
	 * about a quarter smaller than the slots' order; without memory for the
	 * order, the slots' order is just as correct */
	uint32_t *order = a->n ? malloc(a->n * sizeof(*order)) : NULL;
	struct tt_event ev;
	size_t i;
	int err = 0;

	if (order) {
		for (i = 0; i < a->n; i++)
			order[i] = (uint32_t)i;
		qsort_r(order, a->n, sizeof(*order), cmp_conn_id, a->conns);
	}
	for (i = 0; i < a->n && !err; i++) {
		const struct conn *c = &a->conns[order ? order[i] : i];

		memset(&ev, 0, sizeof(ev));
		ev.ts_ns = ts_ns;
		ev.flags = TT_EVF_KEYFRAME;
		ev.type = TT_EV_CONN;
		ev.conn = c->info;
		if ((err = fn(&ev, ctx)))
			break;
		memset(&ev.conn, 0, sizeof(ev.conn));
		ev.type = TT_EV_SAMPLE;
		ev.sample.id = c->info.id;
		ev.sample.c = c->cur;
		err = fn(&ev, ctx);
	}
	free(order);
	if (err)
		return err;
	memset(&ev, 0, sizeof(ev));
	ev.ts_ns = ts_ns;
	ev.flags = TT_EVF_KEYFRAME;
	ev.type = TT_EV_LOSS;
	ev.loss = a->loss;
	return fn(&ev, ctx);
}

static const char *const sort_names[TT_SORT_MAX] = {
	[TT_SORT_RATE] = "rate", [TT_SORT_BYTES] = "bytes",	[TT_SORT_PACKETS] = "packets",
	[TT_SORT_RTT] = "rtt",	 [TT_SORT_RETRANS] = "retrans", [TT_SORT_DURATION] = "duration",
};

const char *tt_sort_key_name(enum tt_sort_key k)
{
	return k < TT_SORT_MAX ? sort_names[k] : "?";
}

int tt_sort_key_parse(const char *name)
{
	int k;

	for (k = 0; k < TT_SORT_MAX; k++)
		if (!strcmp(name, sort_names[k]))
			return k;
	return -1;
}

struct sort_ctx {
	enum tt_sort_key key;
	uint64_t now;
};

static double sort_value(const struct tt_row *r, const struct sort_ctx *s)
{
	switch (s->key) {
	case TT_SORT_RATE:
		return r->rate_in + r->rate_out;
	case TT_SORT_BYTES:
		return (double)r->tot.bytes_in + (double)r->tot.bytes_out;
	case TT_SORT_PACKETS:
		return (double)r->tot.packets_in + (double)r->tot.packets_out;
	case TT_SORT_RTT:
		return r->tot.srtt_us;
	case TT_SORT_RETRANS:
		return r->tot.retrans;
	case TT_SORT_DURATION:
		return (double)tt_row_age_ns(r, s->now);
	default:
		return 0;
	}
}

static int cmp_rows(const void *pa, const void *pb, void *arg)
{
	const struct tt_row *a = pa, *b = pb;
	double va = sort_value(a, arg), vb = sort_value(b, arg);

	if (va != vb)
		return va < vb ? 1 : -1;
	/* a total order, so every run sorts the same way */
	if (a->conn.id != b->conn.id)
		return a->conn.id < b->conn.id ? -1 : 1;
	return 0;
}

void tt_rows_sort(struct tt_row *rows, size_t n, enum tt_sort_key key, uint64_t ts_ns)
{
	struct sort_ctx s = { .key = key, .now = ts_ns };

	qsort_r(rows, n, sizeof(*rows), cmp_rows, &s);
}
