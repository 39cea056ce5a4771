/*
 * indexer.c: see indexer.h.
 *
 * Lifetimes live in a slot array; freed slots are reused through a free list,
 * so a lifetime keeps its slot from first sight until it is forgotten. An idmap
 * points each connection id at the slot of its latest lifetime; an earlier
 * lifetime of the same id (a UDP flow that expired and came back within one
 * drain) keeps its own slot until it has been drained.
 *
 * Drains are two-phase so that a failed transaction loses nothing: every change
 * is stamped with the generation it happened in, a drain reports what changed
 * after the last stored generation, and it counts as stored (closed lifetimes
 * freed, finished buckets dropped) only when the next drain begins, unless
 * tt_indexer_rewind said otherwise in between.
 *
 * Workload: tt_indexer_add once per tick, O(rows); tt_indexer_drain once per
 * block, O(lifetimes). Capacity is reserved before a table is accounted, so the
 * steady state allocates nothing and a drain never fails.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "idmap.h"
#include "indexer.h"
#include "mem.h"

struct life {
	struct tt_ix_conn s; /* the summary, as drained */
	struct tt_ix_bucket cur; /* the bucket of its latest tick (conn_key unused) */
	uint64_t gen; /* generation of the last change to s */
	uint64_t cur_gen; /* generation of the last change to cur once it had traffic */
	uint64_t seen_tick; /* ix->ticks of the last table it was in */
	uint32_t out; /* its index in the drain being built */
	uint8_t used; /* slot holds a lifetime */
	uint8_t gone; /* closed or vanished: it will not change again */
	uint8_t has_cur; /* cur holds a bucket */
	uint8_t cur_active; /* cur saw traffic: it gets a row */
};

/* A bucket its connection has moved past, not yet stored. */
struct done {
	uint32_t slot;
	uint64_t gen;
	struct tt_ix_bucket b;
};

struct tt_indexer {
	uint64_t bucket_ns;
	int64_t m2w;
	struct tt_idmap *map; /* connection id -> slot of its latest lifetime */
	struct life *lives;
	size_t nlives; /* slots ever used (high-water mark) */
	size_t lives_cap;
	size_t nused; /* slots holding a lifetime */
	uint32_t *freel; /* free slots below nlives */
	size_t nfree, free_cap;
	struct done *done;
	size_t ndone, done_cap;
	uint64_t gen; /* stamps changes; from 1 */
	uint64_t committed; /* changes up to this generation are stored */
	uint64_t pending; /* generation of the drain not yet known stored; 0: none */
	uint64_t ticks; /* tables accounted */
	struct tt_ix_conn *oc; /* the last drain's output */
	size_t oc_cap;
	struct tt_ix_bucket *ob;
	size_t ob_cap;
};

struct tt_indexer *tt_indexer_new(uint64_t bucket_ns, int64_t mono_to_wall_ns)
{
	struct tt_indexer *ix = calloc(1, sizeof(*ix));

	if (!ix)
		return NULL;
	ix->map = tt_idmap_new();
	if (!ix->map) {
		free(ix);
		return NULL;
	}
	ix->bucket_ns = bucket_ns ? bucket_ns : TT_IX_BUCKET_NS_DEFAULT;
	ix->m2w = mono_to_wall_ns;
	ix->gen = 1;
	return ix;
}

void tt_indexer_free(struct tt_indexer *ix)
{
	if (!ix)
		return;
	tt_idmap_free(ix->map);
	free(ix->lives);
	free(ix->freel);
	free(ix->done);
	free(ix->oc);
	free(ix->ob);
	free(ix);
}

uint64_t tt_indexer_bucket_ns(const struct tt_indexer *ix)
{
	return ix->bucket_ns;
}

/* Unsigned wrap-around makes a negative offset work too. */
static uint64_t wall(const struct tt_indexer *ix, uint64_t mono)
{
	return mono + (uint64_t)ix->m2w;
}

/*
 * Room for a table of n rows: each row can start a lifetime and finish a
 * bucket, and a drain can report every lifetime and every bucket.
 */
static int reserve(struct tt_indexer *ix, size_t n)
{
	size_t lives = ix->nlives + n, done = ix->ndone + n;
	int err;

	if ((err = tt_grow((void **)&ix->lives, &ix->lives_cap, lives, sizeof(*ix->lives))) ||
	    (err = tt_grow((void **)&ix->freel, &ix->free_cap, lives, sizeof(*ix->freel))) ||
	    (err = tt_grow((void **)&ix->done, &ix->done_cap, done, sizeof(*ix->done))) ||
	    (err = tt_grow((void **)&ix->oc, &ix->oc_cap, lives, sizeof(*ix->oc))) ||
	    (err = tt_grow((void **)&ix->ob, &ix->ob_cap, done + lives, sizeof(*ix->ob))))
		return err;
	return 0;
}

/*
 * A lifetime for (id, open_ns) in *slot, found next time through the map. If
 * the map named an earlier lifetime of the id, that one has ended, whether or
 * not we saw its close: it will not change again.
 */
static int new_life(struct tt_indexer *ix, uint64_t id, uint64_t open_ns, uint32_t *slot)
{
	struct life *l;
	uint32_t i, old;
	int err;

	i = ix->nfree ? ix->freel[ix->nfree - 1] : (uint32_t)ix->nlives;
	if (tt_idmap_get(ix->map, id, &old))
		ix->lives[old].gone = 1;
	err = tt_idmap_put(ix->map, id, i);
	if (err)
		return err;
	if (ix->nfree)
		ix->nfree--;
	else
		ix->nlives++;
	ix->nused++;
	l = &ix->lives[i];
	memset(l, 0, sizeof(*l));
	l->used = 1;
	l->s.conn.id = id;
	l->s.open_ns = open_ns;
	*slot = i;
	return 0;
}

static void free_life(struct tt_indexer *ix, uint32_t i)
{
	struct life *l = &ix->lives[i];
	uint32_t cur;

	/* a later lifetime of the same id may own the map entry by now */
	if (tt_idmap_get(ix->map, l->s.conn.id, &cur) && cur == i)
		tt_idmap_del(ix->map, l->s.conn.id);
	l->used = 0;
	ix->freel[ix->nfree++] = i;
	ix->nused--;
}

/* Move a lifetime into the bucket starting at bstart, keeping the old one if unstored. */
static void enter_bucket(struct tt_indexer *ix, struct life *l, uint32_t slot, uint64_t bstart)
{
	if (l->has_cur && l->cur.t_start_ns == bstart)
		return;
	if (l->has_cur && l->cur_active && l->cur_gen > ix->committed) {
		struct done *d = &ix->done[ix->ndone++];

		d->slot = slot;
		d->gen = l->cur_gen;
		d->b = l->cur;
	}
	memset(&l->cur, 0, sizeof(l->cur));
	l->cur.t_start_ns = bstart;
	l->has_cur = 1;
	l->cur_active = 0;
}

static void account(struct tt_indexer *ix, struct life *l, uint32_t slot, const struct tt_row *r,
		    uint64_t now, uint64_t bstart)
{
	struct tt_ix_conn *s = &l->s;
	struct tt_ix_bucket *b = &l->cur;
	uint32_t rtt = r->tot.srtt_us;

	s->conn = r->conn;
	if (!s->first_seen_ns)
		s->first_seen_ns = now;
	s->last_seen_ns = now;
	s->tot = r->tot;
	if (r->rate_in > s->peak_rate_in)
		s->peak_rate_in = r->rate_in;
	if (r->rate_out > s->peak_rate_out)
		s->peak_rate_out = r->rate_out;
	if (rtt) {
		if (!s->rtt_n || rtt < s->rtt_min_us)
			s->rtt_min_us = rtt;
		if (rtt > s->rtt_max_us)
			s->rtt_max_us = rtt;
		s->rtt_sum_us += rtt;
		s->rtt_n++;
	}
	s->resets += r->d_resets;
	if ((r->flags & TT_ROW_CLOSED) && !s->closed) {
		s->closed = 1;
		s->close_ns = r->close_ns ? wall(ix, r->close_ns) : now;
		s->close_reason = r->close_reason;
		s->err = r->err;
	}
	l->gone = s->closed;
	l->gen = ix->gen;
	l->seen_tick = ix->ticks;

	/* a tick's deltas go to the bucket that holds its end */
	enter_bucket(ix, l, slot, bstart);
	b->bytes_in += r->d_bytes_in;
	b->bytes_out += r->d_bytes_out;
	b->packets_in += r->d_packets_in;
	b->packets_out += r->d_packets_out;
	b->retrans += r->d_retrans;
	if (rtt) {
		b->rtt_sum_us += rtt;
		b->rtt_n++;
	}
	/* an idle connection costs no bucket rows */
	if (r->d_bytes_in || r->d_bytes_out || r->d_packets_in || r->d_packets_out || r->d_retrans)
		l->cur_active = 1;
	else if (!rtt)
		return; /* the bucket did not change */
	if (l->cur_active)
		l->cur_gen = ix->gen;
}

int tt_indexer_add(struct tt_indexer *ix, const struct tt_table *t)
{
	uint64_t now = wall(ix, t->ts_ns);
	/*
	 * A tick covers (start, end]: one that ends exactly on a bucket boundary
	 * happened in the bucket before it.
	 */
	uint64_t bstart = now ? (now - 1) - (now - 1) % ix->bucket_ns : 0;
	size_t i;
	int err;

	err = reserve(ix, t->n);
	if (err)
		return err;
	ix->ticks++;
	for (i = 0; i < t->n; i++) {
		const struct tt_row *r = &t->rows[i];
		uint64_t open_ns = wall(ix, r->open_ns ? r->open_ns : r->conn.open_ns);
		uint32_t slot;

		if (!tt_idmap_get(ix->map, r->conn.id, &slot) ||
		    ix->lives[slot].s.open_ns != open_ns) {
			/* a new id, or a new lifetime of a known one (UDP flows come back) */
			err = new_life(ix, r->conn.id, open_ns, &slot);
			if (err)
				return err;
		}
		account(ix, &ix->lives[slot], slot, r, now, bstart);
	}
	/*
	 * Every live connection is in every table, so one missing from this one
	 * has ended (a replay that started past its close, a lost close): it can
	 * be forgotten once stored, like a closed one.
	 */
	for (i = 0; i < ix->nlives; i++) {
		struct life *l = &ix->lives[i];

		if (l->used && l->seen_tick != ix->ticks)
			l->gone = 1;
	}
	return 0;
}

/* The outstanding drain was stored: drop what it made redundant. */
static void commit(struct tt_indexer *ix)
{
	size_t i, n = 0;

	if (!ix->pending)
		return;
	ix->committed = ix->pending;
	ix->pending = 0;
	for (i = 0; i < ix->nlives; i++) {
		struct life *l = &ix->lives[i];

		/* cur_gen <= gen, so its last bucket is stored as well */
		if (l->used && l->gone && l->gen <= ix->committed)
			free_life(ix, (uint32_t)i);
	}
	for (i = 0; i < ix->ndone; i++)
		if (ix->done[i].gen > ix->committed)
			ix->done[n++] = ix->done[i];
	ix->ndone = n;
}

static void out_bucket(struct tt_indexer *ix, size_t *nob, const struct tt_ix_bucket *b,
		       uint32_t out)
{
	struct tt_ix_bucket *o = &ix->ob[(*nob)++];

	*o = *b;
	o->conn_key = out;
	o->rtt_avg_us = b->rtt_n ? (uint32_t)(b->rtt_sum_us / b->rtt_n) : 0;
}

void tt_indexer_drain(struct tt_indexer *ix, const struct tt_ix_conn **conns, size_t *nconns,
		      const struct tt_ix_bucket **buckets, size_t *nbuckets)
{
	size_t i, noc = 0, nob = 0;

	commit(ix);
	for (i = 0; i < ix->nlives; i++) {
		struct life *l = &ix->lives[i];

		if (!l->used || l->gen <= ix->committed)
			continue;
		l->out = (uint32_t)noc;
		ix->oc[noc++] = l->s;
	}
	/* a bucket changed after the last store only if its lifetime did too */
	for (i = 0; i < ix->ndone; i++)
		out_bucket(ix, &nob, &ix->done[i].b, ix->lives[ix->done[i].slot].out);
	for (i = 0; i < ix->nlives; i++) {
		struct life *l = &ix->lives[i];

		if (l->used && l->has_cur && l->cur_active && l->cur_gen > ix->committed)
			out_bucket(ix, &nob, &l->cur, l->out);
	}
	ix->pending = ix->gen++;
	*conns = ix->oc;
	*nconns = noc;
	*buckets = ix->ob;
	*nbuckets = nob;
}

void tt_indexer_rewind(struct tt_indexer *ix)
{
	ix->pending = 0;
}
