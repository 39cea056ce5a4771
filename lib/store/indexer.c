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
 * freed, finished pieces dropped) only when the next drain begins, unless
 * tt_indexer_rewind said otherwise in between.
 *
 * Workload: tt_indexer_add once per tick, O(rows), and only active rows do
 * more than a comparison; tt_indexer_drain once per block, O(lifetimes).
 * Capacity is reserved before a table is accounted, so the steady state
 * allocates nothing and a drain never fails.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "idmap.h"
#include "indexer.h"
#include "mem.h"

#define NRES 2 /* minor and major rollups */

struct life {
	struct tt_ix_conn s; /* the summary, as drained */
	struct tt_ix_piece cur[NRES]; /* the part of its latest active tick, per length */
	uint64_t gen; /* generation of the last change to s */
	uint64_t cur_gen[NRES]; /* generation of the last change to cur */
	uint64_t rowid_gen; /* drain that handed out s.rowid */
	uint64_t seen_tick; /* ix->ticks of the last table it was in */
	uint32_t out; /* its index in the drain being built */
	uint8_t used; /* slot holds a lifetime */
	uint8_t gone; /* closed or vanished: it will not change again */
	uint8_t has_cur[NRES]; /* cur holds a part */
};

/* A part its connection has moved past, not yet stored. */
struct done {
	uint32_t slot;
	uint64_t gen;
	struct tt_ix_piece p;
};

struct tt_indexer {
	uint64_t res_ns[NRES];
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
	uint32_t *oslot; /* slot of each oc entry */
	size_t oc_cap, oslot_cap;
	struct tt_ix_piece *op;
	size_t op_cap;
};

int tt_indexer_minor_ok(uint64_t minor_ns)
{
	uint64_t hour = TT_IX_RES_MAJOR * 1000000000ull;

	return minor_ns && minor_ns <= hour && minor_ns % 1000000000ull == 0 &&
	       hour % minor_ns == 0;
}

struct tt_indexer *tt_indexer_new(uint64_t minor_ns, int64_t mono_to_wall_ns)
{
	struct tt_indexer *ix;

	if (!minor_ns)
		minor_ns = TT_IX_RES_MINOR * 1000000000ull;
	if (!tt_indexer_minor_ok(minor_ns))
		return NULL;
	ix = calloc(1, sizeof(*ix));
	if (!ix)
		return NULL;
	ix->map = tt_idmap_new();
	if (!ix->map) {
		free(ix);
		return NULL;
	}
	ix->res_ns[0] = minor_ns;
	ix->res_ns[1] = TT_IX_RES_MAJOR * 1000000000ull;
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
	free(ix->oslot);
	free(ix->op);
	free(ix);
}

uint64_t tt_indexer_minor_ns(const struct tt_indexer *ix)
{
	return ix->res_ns[0];
}

/* Unsigned wrap-around makes a negative offset work too. */
static uint64_t wall(const struct tt_indexer *ix, uint64_t mono)
{
	return tt_wall_ns(mono, ix->m2w);
}

/*
 * Room for a table of n rows: each row can start a lifetime and finish a part
 * of each length, and a drain can report every lifetime and every part.
 */
static int reserve(struct tt_indexer *ix, size_t n)
{
	size_t lives = ix->nlives + n, done = ix->ndone + NRES * n;
	int err;

	if ((err = tt_grow((void **)&ix->lives, &ix->lives_cap, lives, sizeof(*ix->lives))) ||
	    (err = tt_grow((void **)&ix->freel, &ix->free_cap, lives, sizeof(*ix->freel))) ||
	    (err = tt_grow((void **)&ix->done, &ix->done_cap, done, sizeof(*ix->done))) ||
	    (err = tt_grow((void **)&ix->oc, &ix->oc_cap, lives, sizeof(*ix->oc))) ||
	    (err = tt_grow((void **)&ix->oslot, &ix->oslot_cap, lives, sizeof(*ix->oslot))) ||
	    (err = tt_grow((void **)&ix->op, &ix->op_cap, done + NRES * lives, sizeof(*ix->op))))
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

static int same_owner(const struct tt_ix_piece *p, const struct tt_ev_conn *c)
{
	return p->tgid == c->tgid && p->cgroup == c->cgroup &&
	       !memcmp(p->comm, c->comm, TT_COMM_MAX);
}

/* The part of length k that an active tick ending at now (Unix ns) of c goes into. */
static struct tt_ix_piece *enter_part(struct tt_indexer *ix, struct life *l, uint32_t slot, int k,
				      uint64_t now, const struct tt_ev_conn *c)
{
	/* a tick covers (start, end]: one ending on a boundary is in the period before */
	uint64_t t = now ? (now - 1) - (now - 1) % ix->res_ns[k] : 0;
	struct tt_ix_piece *p = &l->cur[k];
	uint32_t part = 0;

	if (l->has_cur[k] && p->t_s * 1000000000ull == t) {
		if (same_owner(p, c))
			return p;
		part = p->part + 1;
	}
	if (l->has_cur[k] && l->cur_gen[k] > ix->committed) {
		struct done *d = &ix->done[ix->ndone++];

		d->slot = slot;
		d->gen = l->cur_gen[k];
		d->p = *p;
	}
	memset(p, 0, sizeof(*p));
	p->res_s = (uint32_t)(ix->res_ns[k] / 1000000000ull);
	p->t_s = t / 1000000000ull;
	p->part = part;
	p->tgid = c->tgid;
	memcpy(p->comm, c->comm, TT_COMM_MAX);
	p->cgroup = c->cgroup;
	l->has_cur[k] = 1;
	return p;
}

static void add_to_part(struct tt_ix_piece *p, const struct tt_row *r, uint64_t now, uint64_t age)
{
	uint32_t rtt = r->tot.srtt_us;

	if (!p->ticks++)
		p->first_ns = now;
	p->last_ns = now;
	/* not monotonic: a UDP flow closed as idle is as old as its last datagram */
	if (age > p->age_ns)
		p->age_ns = age;
	p->state = r->tot.state;
	if (r->flags & TT_ROW_CLOSED)
		p->closed = 1;
	p->bytes_in += r->d_bytes_in;
	p->bytes_out += r->d_bytes_out;
	p->packets_in += r->d_packets_in;
	p->packets_out += r->d_packets_out;
	p->retrans += r->d_retrans;
	p->resets += r->d_resets;
	if (r->rate_in > p->peak_rate_in)
		p->peak_rate_in = r->rate_in;
	if (r->rate_out > p->peak_rate_out)
		p->peak_rate_out = r->rate_out;
	if (rtt) {
		if (!p->rtt_n || rtt < p->rtt_min_us)
			p->rtt_min_us = rtt;
		if (rtt > p->rtt_max_us)
			p->rtt_max_us = rtt;
		p->rtt_sum_us += rtt;
		p->rtt_n++;
	}
}

static void account(struct tt_indexer *ix, struct life *l, uint32_t slot, const struct tt_row *r,
		    uint64_t now, uint64_t tick_mono)
{
	struct tt_ix_conn *s = &l->s;
	uint32_t rtt = r->tot.srtt_us;
	int k;

	l->seen_tick = ix->ticks;
	if (!s->first_seen_ns) {
		/* first met idle (a replay from a keyframe): nothing to report until it acts */
		s->first_seen_ns = now;
		s->conn = r->conn;
	}
	if (!tt_row_active(r)) {
		/* an idle tick changes nothing but perhaps who holds the socket */
		if (memcmp(&s->conn, &r->conn, sizeof(s->conn))) {
			s->conn = r->conn;
			l->gen = ix->gen;
		}
		return;
	}
	s->conn = r->conn;
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
	for (k = 0; k < NRES; k++) {
		add_to_part(enter_part(ix, l, slot, k, now, &r->conn), r, now,
			    tt_row_age_ns(r, tick_mono));
		l->cur_gen[k] = ix->gen;
	}
}

int tt_indexer_add(struct tt_indexer *ix, const struct tt_table *t)
{
	uint64_t now = wall(ix, t->ts_ns);
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
		account(ix, &ix->lives[slot], slot, r, now, t->ts_ns);
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

		/* cur_gen <= gen, so its last parts are stored as well */
		if (l->used && l->gone && l->gen <= ix->committed)
			free_life(ix, (uint32_t)i);
	}
	for (i = 0; i < ix->ndone; i++)
		if (ix->done[i].gen > ix->committed)
			ix->done[n++] = ix->done[i];
	ix->ndone = n;
}

static void out_piece(struct tt_indexer *ix, size_t *nop, const struct tt_ix_piece *p, uint32_t out)
{
	struct tt_ix_piece *o = &ix->op[(*nop)++];

	*o = *p;
	o->conn_key = out;
}

void tt_indexer_drain(struct tt_indexer *ix, const struct tt_ix_conn **conns, size_t *nconns,
		      const struct tt_ix_piece **pieces, size_t *npieces)
{
	size_t i, noc = 0, nop = 0;
	int k;

	commit(ix);
	for (i = 0; i < ix->nlives; i++) {
		struct life *l = &ix->lives[i];

		if (!l->used || l->gen <= ix->committed)
			continue;
		l->out = (uint32_t)noc;
		ix->oslot[noc] = (uint32_t)i;
		ix->oc[noc++] = l->s;
	}
	/* a part changed after the last store only if its lifetime did too */
	for (i = 0; i < ix->ndone; i++)
		out_piece(ix, &nop, &ix->done[i].p, ix->lives[ix->done[i].slot].out);
	for (i = 0; i < ix->nlives; i++) {
		struct life *l = &ix->lives[i];

		for (k = 0; k < NRES; k++)
			if (l->used && l->has_cur[k] && l->cur_gen[k] > ix->committed)
				out_piece(ix, &nop, &l->cur[k], l->out);
	}
	ix->pending = ix->gen++;
	*conns = ix->oc;
	*nconns = noc;
	*pieces = ix->op;
	*npieces = nop;
}

void tt_indexer_stored(struct tt_indexer *ix, size_t i, int64_t rowid)
{
	struct life *l = &ix->lives[ix->oslot[i]];

	if (l->s.rowid == rowid)
		return;
	l->s.rowid = rowid;
	l->rowid_gen = ix->pending;
}

void tt_indexer_rewind(struct tt_indexer *ix)
{
	size_t i;

	if (!ix->pending)
		return;
	/* rows inserted by the failed transaction do not exist */
	for (i = 0; i < ix->nlives; i++)
		if (ix->lives[i].used && ix->lives[i].rowid_gen == ix->pending) {
			ix->lives[i].s.rowid = 0;
			ix->lives[i].rowid_gen = 0;
		}
	ix->pending = 0;
}
