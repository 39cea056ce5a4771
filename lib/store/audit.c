/*
 * audit.c: see audit.h. One period, replayed: the blocks from the last
 * keyframe at or before it to its end through a fresh aggregator (the replay's
 * keyframe gives it the recorder's state), the ticks ending inside it through
 * a fresh indexer, whose minor pieces of the period are then what the recorder
 * wrote, row for row (a piece depends only on the ticks of its period and on
 * the tables, which a replay rebuilds exactly).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "indexer.h"
#include "mem.h"
#include "replay.h"

#define NS 1000000000ull

/*
 * Connections compared per audit, about: beyond it, one in k is (k from the
 * index's rows of the period), chosen by a hash of the id on both sides. The
 * replay still decodes every event of the period, but builds rows only for
 * those connections: on a host of 20,000 connections the aggregation of every
 * row of 300 ticks cost 8 times the query it guarded.
 */
#define AUDIT_CONNS 256

/* Whether connection id is one of the 1 in k compared. */
static int sampled(uint64_t id, uint64_t k)
{
	return k <= 1 || ((id * 0x9e3779b97f4a7c15ull) >> 32) % k == 0;
}

/* One piece in the form both sides can give: identity, owner, sums. */
struct arow {
	struct tt_ev_conn conn; /* tuple from the conn; tgid, comm, cgroup of the part */
	struct tt_ix_piece sum; /* conn_key, tgid, comm, cgroup zeroed */
};

struct alist {
	struct arow *v;
	size_t n, cap;
	size_t rows; /* every row seen, sampled or not */
	uint64_t k; /* compare 1 connection in k (sampled) */
	int migrated; /* a row without first_ns: nothing to compare */
};

static int alist_push(struct alist *l, const struct tt_ev_conn *c, const struct tt_ix_piece *s)
{
	struct arow *r;

	if (tt_grow((void **)&l->v, &l->cap, l->n + 1, sizeof(*l->v)))
		return -ENOMEM;
	r = &l->v[l->n++];
	memset(r, 0, sizeof(*r));
	memcpy(r->conn.laddr, c->laddr, sizeof(r->conn.laddr));
	memcpy(r->conn.raddr, c->raddr, sizeof(r->conn.raddr));
	r->conn.id = c->id;
	r->conn.lport = c->lport;
	r->conn.rport = c->rport;
	r->conn.family = c->family;
	r->conn.proto = c->proto;
	r->conn.tgid = c->tgid; /* the owner of the part */
	r->conn.cgroup = c->cgroup;
	memcpy(r->conn.comm, c->comm, TT_COMM_MAX);
	r->sum = *s;
	r->sum.conn_key = 0;
	r->sum.tgid = 0;
	memset(r->sum.comm, 0, sizeof(r->sum.comm));
	r->sum.cgroup = 0;
	return 0;
}

static int cmp_arow(const void *pa, const void *pb)
{
	const struct arow *a = pa, *b = pb;

	if (a->conn.id != b->conn.id)
		return a->conn.id < b->conn.id ? -1 : 1;
	if (a->sum.part != b->sum.part)
		return a->sum.part < b->sum.part ? -1 : 1;
	if (a->sum.first_ns != b->sum.first_ns)
		return a->sum.first_ns < b->sum.first_ns ? -1 : 1;
	return 0;
}

/* The index's rows of the period. */
static int take_index(void *ctx, const struct tt_piece *p)
{
	struct alist *l = ctx;

	l->rows++;
	if (p->migrated) {
		l->migrated = 1;
		return 0;
	}
	return alist_push(l, &p->conn, &p->sum);
}

/* A tuple a connect() had not completed yet when the replay saw it: the index keeps the later one. */
static int tuple_incomplete(const struct tt_ev_conn *c)
{
	static const uint8_t zero[16];

	return !c->lport || !c->rport || !memcmp(c->laddr, zero, 16) || !memcmp(c->raddr, zero, 16);
}

/* The first difference of a (the index) and b (the blocks) in words, or NULL. */
static const char *differ(const struct arow *a, const struct arow *b, char *buf, size_t len)
{
	const struct tt_ix_piece *x = &a->sum, *y = &b->sum;
#define D(f)                                                                                       \
	do {                                                                                       \
		if (x->f != y->f) {                                                                \
			snprintf(buf, len, #f " is %.17g in the index, %.17g in the blocks",       \
				 (double)x->f, (double)y->f);                                      \
			return buf;                                                                \
		}                                                                                  \
	} while (0)
	D(ticks);
	D(first_ns);
	D(last_ns);
	D(age_ns);
	D(state);
	D(closed);
	D(bytes_in);
	D(bytes_out);
	D(packets_in);
	D(packets_out);
	D(retrans);
	D(resets);
	D(peak_rate_in);
	D(peak_rate_out);
	D(rtt_sum_us);
	D(rtt_n);
	D(rtt_min_us);
	D(rtt_max_us);
#undef D
	if (a->conn.tgid != b->conn.tgid || a->conn.cgroup != b->conn.cgroup ||
	    memcmp(a->conn.comm, b->conn.comm, TT_COMM_MAX))
		return "its owner (pid, comm, cgroup) is not the blocks'";
	if (a->conn.family != b->conn.family || a->conn.proto != b->conn.proto)
		return "its family or protocol is not the blocks'";
	if (!tuple_incomplete(&b->conn) &&
	    (a->conn.lport != b->conn.lport || a->conn.rport != b->conn.rport ||
	     memcmp(a->conn.laddr, b->conn.laddr, 16) || memcmp(a->conn.raddr, b->conn.raddr, 16)))
		return "its addresses or ports are not the blocks'";
	return NULL;
}

/*
 * The blocks' rows of the period: 0, 1 when they cannot say (damage, a gap), or
 * -errno. from_start: the recording began inside the period (its first tick
 * may start after the period does).
 */
static int replay_period(struct tt_store *st, int64_t rec, int64_t m2w, uint64_t minor_s,
			 uint64_t t_s, int from_start, struct alist *out, char *warn,
			 size_t warn_len)
{
	/* past the period: the tick that closes it is read, then the replay stops */
	struct tt_replay_opts ro = { .recording_id = rec,
				     .from_ns = t_s * NS,
				     .to_ns = (t_s + 2 * minor_s) * NS };
	const struct tt_replay_stats *rs;
	const struct tt_ix_conn *conns;
	const struct tt_ix_piece *pieces;
	struct tt_replay *rp = NULL;
	const struct tt_table *t;
	struct tt_indexer *ix = tt_indexer_new(minor_s * NS, m2w);
	struct tt_agg *agg = tt_agg_new();
	struct tt_source *src;
	struct tt_event ev;
	size_t nconns, npieces, i;
	uint64_t prev = 0; /* the last tick's end, CLOCK_MONOTONIC */
	int rc, err = 0, closed = 0;

	if (!ix || !agg) {
		err = -ENOMEM;
		goto out;
	}
	if (tt_replay_open(st, &ro, &rp, warn, warn_len)) {
		warn[0] = '\0';
		err = 1; /* the blocks are not there to say */
		goto out;
	}
	src = tt_replay_source(rp);
	while ((rc = tt_source_next(src, &ev)) > 0) {
		uint64_t end, id = tt_event_id(&ev);

		if (id && !sampled(id, out->k))
			continue; /* a connection not compared: no row for it */
		rc = tt_agg_feed(agg, &ev);
		if (rc < 0) {
			err = -ENOMEM;
			goto out;
		}
		if (rc != 1)
			continue;
		t = tt_agg_table(agg);
		end = tt_wall_ns(t->ts_ns, m2w);
		/*
		 * ticks follow each other: a tick that does not start where the one
		 * before ended follows a gap in the blocks (a segment the index lost
		 * or gave to another recording, retention), and the period cannot be
		 * recomputed; the first one read must start before the period does
		 */
		if (end > t_s * NS &&
		    (prev ? t->start_ns != prev
			  : !from_start && tt_wall_ns(t->start_ns, m2w) > t_s * NS)) {
			err = 1;
			goto out;
		}
		prev = t->ts_ns;
		if (end > (t_s + minor_s) * NS) {
			closed = 1; /* every tick of the period was seen */
			break;
		}
		if (end > t_s * NS && (err = tt_indexer_add(ix, t)))
			goto out;
	}
	rs = tt_replay_stats(rp);
	if (rc < 0 || !closed || rs->blocks_damaged || rs->blocks_unsynced || rs->blocks_mismatch) {
		err = 1;
		goto out;
	}
	tt_indexer_drain(ix, &conns, &nconns, &pieces, &npieces);
	for (i = 0; i < npieces; i++) {
		const struct tt_ix_piece *p = &pieces[i];
		struct tt_ev_conn c;

		if (p->res_s != minor_s || p->t_s != t_s)
			continue;
		c = conns[p->conn_key].conn;
		c.tgid = p->tgid;
		c.cgroup = p->cgroup;
		memcpy(c.comm, p->comm, TT_COMM_MAX);
		if ((err = alist_push(out, &c, p)))
			goto out;
	}
out:
	if (err == -ENOMEM)
		snprintf(warn, warn_len, "out of memory");
	tt_replay_close(rp);
	tt_agg_free(agg);
	tt_indexer_free(ix);
	return err;
}

/*
 * Whether the recording's blocks can hold every tick of (t0, t1] (Unix ns) and
 * the index its rows for good: a block ends at or after t0 and one at or after
 * t1 (the rows of a period are final once the block holding its last tick is
 * sealed: a live recorder adds none). The ticks between are checked as they
 * are read (replay_period: no gap, the first one starting before t0).
 * *from_start: the recording's very first block (segment 0: retention took
 * nothing) starts inside the period, so its first tick may too.
 */
static int covered(struct tt_store *st, int64_t rec, uint64_t t0, uint64_t t1, int *from_start)
{
	struct tt_store_block b, f;

	if (tt_store_find_block(st, rec, TT_BLOCK_FIRST_ENDING, (int64_t)t0, 0, &b) != 1 ||
	    (uint64_t)b.t_start_ns >= t1)
		return 0; /* nothing of the period in the blocks */
	*from_start = (uint64_t)b.t_start_ns > t0 &&
		      tt_store_find_block(st, rec, TT_BLOCK_FIRST_ENDING, 0, 0, &f) == 1 &&
		      f.id == b.id && f.seq == 0;
	return tt_store_find_block(st, rec, TT_BLOCK_FIRST_ENDING, (int64_t)t1, 0, &b) == 1;
}

int tt_audit_period(struct tt_store *st, int64_t rec, int64_t m2w, uint64_t minor_s, uint64_t t_s,
		    char *warn, size_t warn_len)
{
	struct alist ixl = { 0 }, bl = { 0 };
	char buf[160];
	size_t i, j;
	int err, from_start = 0;

	warn[0] = '\0';
	if (!minor_s || !covered(st, rec, t_s * NS, (t_s + minor_s) * NS, &from_start))
		return -ENODATA;
	err = tt_store_each_piece(st, rec, m2w, minor_s, t_s, t_s + 1, take_index, &ixl);
	if (err == -EBADMSG) {
		snprintf(warn, warn_len, "%s", tt_store_errmsg(st));
		goto out;
	}
	if (err) {
		err = err == -ENOMEM ? err : -ENODATA;
		goto out;
	}
	if (ixl.migrated) {
		err = -ENODATA;
		goto out;
	}
	ixl.k = bl.k = ixl.rows / AUDIT_CONNS + 1;
	for (i = j = 0; i < ixl.n; i++)
		if (sampled(ixl.v[i].conn.id, ixl.k))
			ixl.v[j++] = ixl.v[i];
	ixl.n = j;
	err = replay_period(st, rec, m2w, minor_s, t_s, from_start, &bl, warn, warn_len);
	if (err) {
		err = err < 0 ? err : -ENODATA;
		goto out;
	}
	/* an idle period has no row on either side, and no array (qsort takes none) */
	if (ixl.n > 1)
		qsort(ixl.v, ixl.n, sizeof(*ixl.v), cmp_arow);
	if (bl.n > 1)
		qsort(bl.v, bl.n, sizeof(*bl.v), cmp_arow);
	for (i = 0; i < ixl.n || i < bl.n; i++) {
		const struct arow *a = i < ixl.n ? &ixl.v[i] : NULL;
		const struct arow *b = i < bl.n ? &bl.v[i] : NULL;
		const char *d;

		if (!a || !b || a->conn.id != b->conn.id || a->sum.part != b->sum.part)
			d = "the blocks and the index hold other connections in it";
		else if (!(d = differ(a, b, buf, sizeof(buf))))
			continue;
		snprintf(warn, warn_len,
			 "recording %" PRId64 ", period %" PRIu64 " (Unix s), connection %" PRIx64
			 " part %" PRIu32 ": %s",
			 rec, t_s, (a ? a : b)->conn.id, (a ? a : b)->sum.part, d);
		err = 1;
		break;
	}
out:
	if (err == -ENOMEM)
		snprintf(warn, warn_len, "out of memory");
	free(ixl.v);
	free(bl.v);
	return err;
}
