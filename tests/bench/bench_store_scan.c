// SPDX-License-Identifier: GPL-2.0
/*
 * bench_store_scan: what a store's segments hold, for tests/bench/bench_store.sh.
 *
 * Reads every segment of a store in order (the index names them), decodes
 * every block and feeds the events to the recorder's own aggregator, so the
 * tick tables are exactly the ones the recorder saw. Prints key=value lines:
 *
 *   ticks            TICK events
 *   live_ticks       sum over ticks of the rows in that tick's table (every
 *                    connection alive during the tick; a closed one in the tick
 *                    it closed): the connection-ticks
 *   active_ticks     the same, counting only rows whose bytes or packets moved
 *   own_*            the same for the connections of one process (--comm NAME:
 *                    ids that any CONN event names with that comm), so that
 *                    other processes' connections on a shared machine can be
 *                    set apart
 *   steady_*         the same without the ticks of the first block (start-up:
 *                    every connection is announced once), and the bytes on disk
 *                    of the blocks after the first
 *   ev_<type>, kf_<type>   events by type, outside and inside keyframes
 *   sample_no_traffic  SAMPLEs outside keyframes that moved no byte or packet
 *                    counter: a first sample before any traffic, or an RTT,
 *                    state or retransmit update only
 *
 * With --reencode it also writes the stream again, without its keyframes,
 * through the segment writer into temporary files, regenerating keyframes at
 * each block start exactly as tcptop-record does (lib/writer.c):
 *   all_kf5          every connection, 5 s blocks: must equal the store
 *   own_kf5          only --comm's connections (and the TICK and LOSS events):
 *                    the store as if nothing else had run on the machine
 *   own_nokf5        the same with no keyframes: what the keyframes cost
 *   own_kf10         10 s blocks, each with its keyframe
 *   own_kf5_sorted   5 s blocks, keyframe connections written in id order
 *   own_b5_kf30/60   5 s blocks, but a keyframe only every 30 / 60 s (the blocks
 *                    between would need an earlier keyframe to be decoded)
 *   own_b5_kf60_sorted  both
 *   own_kf5_nortt    5 s blocks with srtt and rttvar zeroed: what RTT costs
 *   own_kf5_coalesce 5 s blocks, the events of each tick rewritten as if the
 *                    collector held them to the tick's end: one CONN per
 *                    connection (its final identity), no SAMPLE that only
 *                    changes the state (the STATE event says it)
 *   sample_state_only  SAMPLEs (outside keyframes) that change the state alone
 * one line each: reencode name=N flush_s=S keyframes=K blocks=B raw_bytes=R
 * file_bytes=F steady_bytes=SB steady_live_ticks=L steady_active_ticks=A (the frames
 * after the first block, and the connection-ticks they hold).
 *
 * Build (bench_store.sh does): cc -O2 -I lib -o bench_store_scan bench_store_scan.c
 *     BUILD/lib/libtt_core.a -lzstd -lz -lsqlite3 -lm
 * Exit: 0, 1 on a read error or a damaged block, 2 on bad usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aggregator.h"
#include "event.h"
#include "idmap.h"
#include "segment.h"

#define MAX_FILES 4096

static int moved(const struct tt_counters *a, const struct tt_counters *b)
{
	return a->bytes_in != b->bytes_in || a->bytes_out != b->bytes_out ||
	       a->packets_in != b->packets_in || a->packets_out != b->packets_out;
}

/* b differs from a in the state field alone */
static int state_only(const struct tt_counters *a, const struct tt_counters *b)
{
	struct tt_counters x = *b;

	x.state = a->state;
	return a->state != b->state && !memcmp(a, &x, sizeof(x));
}

struct recode {
	const char *name;
	uint64_t flush_ns;
	int keyframes;
	int own_only;
	uint64_t kf_every_ns; /* 0: a keyframe with every block; else at most this often */
	int sort_kf; /* keyframe connections in id order */
	int no_rtt; /* srtt and rttvar left out (zero): what the RTT costs */
	int coalesce; /* per tick: one CONN per connection, no state-only SAMPLE */
	struct tt_event *buf; /* coalesce: the tick's events so far */
	uint8_t *state_only;
	size_t nbuf, cap_buf;
	uint64_t last_kf;
	struct tt_agg *agg;
	struct tt_segw *w;
	char path[4096];
	uint64_t block_start;
	uint64_t blocks, raw, first_block_end; /* file size after the first block */
	uint32_t pending; /* events since the last flush, keyframes not counted */
	uint64_t st_live, st_active; /* connection-ticks after its first block */
};

static struct tt_idmap *own_ids; /* ids of --comm's connections */

static void die(const char *what, const char *why)
{
	fprintf(stderr, "bench_store_scan: %s: %s\n", what, why);
	exit(1);
}

static int kf_emit(const struct tt_event *ev, void *ctx)
{
	struct recode *r = ctx;

	return tt_segw_append(r->w, ev);
}

/* A keyframe gathered, to be written in id order: CONN and SAMPLE pairs, then the rest. */
static struct tt_event *kf_buf;
static size_t kf_n, kf_cap;

static int kf_gather(const struct tt_event *ev, void *ctx)
{
	(void)ctx;
	if (kf_n == kf_cap) {
		kf_cap = kf_cap ? 2 * kf_cap : 4096;
		kf_buf = realloc(kf_buf, kf_cap * sizeof(*kf_buf));
		if (!kf_buf)
			return -ENOMEM;
	}
	kf_buf[kf_n++] = *ev;
	return 0;
}

static int cmp_pair(const void *a, const void *b)
{
	const struct tt_event *x = a, *y = b;

	return x->conn.id < y->conn.id ? -1 : x->conn.id > y->conn.id;
}

static int sorted_keyframe(struct recode *r, uint64_t ts)
{
	size_t i, npairs;
	struct tt_event *pairs;
	int err;

	kf_n = 0;
	if ((err = tt_agg_keyframe(r->agg, ts, kf_gather, r)))
		return err;
	/* CONN, SAMPLE, CONN, SAMPLE, ..., LOSS: sort the pairs by id */
	npairs = (kf_n - 1) / 2;
	pairs = malloc((npairs ? npairs : 1) * 2 * sizeof(*pairs));
	if (!pairs)
		return -ENOMEM;
	for (i = 0; i < npairs; i++)
		pairs[i] = kf_buf[2 * i];
	qsort(pairs, npairs, sizeof(*pairs), cmp_pair);
	for (i = 0; i < npairs && !err; i++) {
		struct tt_event smp;
		size_t j;

		/* the SAMPLE that followed this CONN */
		for (j = 0; j < npairs; j++)
			if (kf_buf[2 * j].conn.id == pairs[i].conn.id)
				break;
		smp = kf_buf[2 * j + 1];
		if (!(err = tt_segw_append(r->w, &pairs[i])))
			err = tt_segw_append(r->w, &smp);
	}
	if (!err)
		err = tt_segw_append(r->w, &kf_buf[kf_n - 1]);
	free(pairs);
	return err;
}

static int recode_flush(struct recode *r)
{
	struct tt_block_info bi;
	int err = tt_segw_flush(r->w, 0, &bi);

	if (err == -ENODATA)
		return 0;
	if (err)
		return err;
	if (!r->blocks++)
		r->first_block_end = tt_segw_size(r->w);
	r->raw += bi.raw_len;
	r->pending = 0;
	return 0;
}

static int is_own(uint64_t id)
{
	uint32_t v;

	return own_ids && tt_idmap_get(own_ids, id, &v);
}

/* lib/writer.c's logic: append, aggregate, after a due tick flush, then keyframe. */
static int recode_one(struct recode *r, const struct tt_event *ev)
{
	const struct tt_table *t;
	int err;

	if ((err = tt_segw_append(r->w, ev)))
		return err;
	r->pending++;
	err = tt_agg_feed(r->agg, ev);
	if (err <= 0)
		return err;
	t = tt_agg_table(r->agg);
	if (r->blocks) {
		size_t j;

		r->st_live += t->n;
		for (j = 0; j < t->n; j++)
			r->st_active += t->rows[j].d_bytes_in || t->rows[j].d_bytes_out ||
					t->rows[j].d_packets_in || t->rows[j].d_packets_out;
	}
	if (!r->block_start)
		r->block_start = t->start_ns;
	if (t->ts_ns - r->block_start < r->flush_ns)
		return 0;
	if ((err = recode_flush(r)))
		return err;
	r->block_start = t->ts_ns;
	if (!r->keyframes || (r->kf_every_ns && t->ts_ns - r->last_kf < r->kf_every_ns))
		return 0;
	r->last_kf = t->ts_ns;
	return r->sort_kf ? sorted_keyframe(r, t->ts_ns)
			  : tt_agg_keyframe(r->agg, t->ts_ns, kf_emit, r);
}

/*
 * What the collector would emit if it held a tick's events until the tick
 * ends: each connection's CONN once, where it first appeared, with the identity
 * it had at the end of the tick; no SAMPLE that changes the state alone (the
 * STATE event that follows says it).
 */
static int recode_tick(struct recode *r)
{
	struct tt_idmap *lastconn = tt_idmap_new();
	size_t i;
	int err = 0;

	if (!lastconn)
		return -ENOMEM;
	for (i = 0; i < r->nbuf && !err; i++)
		if (r->buf[i].type == TT_EV_CONN)
			err = tt_idmap_put(lastconn, r->buf[i].conn.id, (uint32_t)i);
	for (i = 0; i < r->nbuf && !err; i++) {
		struct tt_event e = r->buf[i];
		uint32_t j;

		if (e.type == TT_EV_CONN) {
			if (!tt_idmap_get(lastconn, e.conn.id, &j))
				continue; /* said already */
			tt_idmap_del(lastconn, e.conn.id);
			e.conn = r->buf[j].conn;
			e.conn.open_ns = r->buf[i].conn.open_ns;
		} else if (e.type == TT_EV_SAMPLE && r->state_only[i]) {
			continue;
		}
		err = recode_one(r, &e);
	}
	tt_idmap_free(lastconn);
	r->nbuf = 0;
	return err;
}

static int recode_event(struct recode *r, const struct tt_event *in, int state_only)
{
	uint64_t id = tt_event_id(in);
	struct tt_event ev = *in;

	if (r->own_only && id && !is_own(id))
		return 0;
	if (r->no_rtt && (in->type == TT_EV_SAMPLE || in->type == TT_EV_CLOSE))
		ev.sample.c.srtt_us = ev.sample.c.rttvar_us = 0;
	if (!r->coalesce)
		return recode_one(r, &ev);
	if (r->nbuf == r->cap_buf) {
		r->cap_buf = r->cap_buf ? 2 * r->cap_buf : 4096;
		r->buf = realloc(r->buf, r->cap_buf * sizeof(*r->buf));
		r->state_only = realloc(r->state_only, r->cap_buf);
		if (!r->buf || !r->state_only)
			return -ENOMEM;
	}
	r->state_only[r->nbuf] = (uint8_t)state_only;
	r->buf[r->nbuf++] = ev;
	return ev.type == TT_EV_TICK ? recode_tick(r) : 0;
}

/* The store's segment files, in recording and sequence order. */
static int list_segments(const char *dir, char **files)
{
	char path[4096];
	sqlite3 *db = NULL;
	sqlite3_stmt *q;
	int n = 0;

	snprintf(path, sizeof(path), "file:%s/index.db?mode=ro", dir);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL) ||
	    sqlite3_prepare_v2(db, "SELECT file FROM segments ORDER BY recording_id, seq", -1, &q,
			       NULL))
		die(path, sqlite3_errmsg(db));
	while (sqlite3_step(q) == SQLITE_ROW && n < MAX_FILES)
		files[n++] = strdup((const char *)sqlite3_column_text(q, 0));
	sqlite3_finalize(q);
	sqlite3_close(db);
	return n;
}

/*
 * Every event of every block, in order, to fn. Returns the number of damaged
 * blocks; blk_cb (if any) is told when a block starts, with its frame info.
 */
static uint64_t walk(const char *dir, char **files, int nfiles,
		     void (*fn)(const struct tt_event *, void *),
		     void (*blk_cb)(const struct tt_block_info *, void *), void *ctx)
{
	uint64_t damaged = 0;
	char why[512];
	int i;

	for (i = 0; i < nfiles; i++) {
		char path[4096];
		struct tt_segr *r;
		struct tt_block_info bi;
		int got;

		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		if (tt_segr_open(path, &r, why, sizeof(why)))
			die(path, why);
		while ((got = tt_segr_next_block(r, &bi)) != 0) {
			struct tt_event e;
			int n;

			if (got < 0) {
				damaged++;
				if (got != -EBADMSG)
					break;
				continue;
			}
			if (blk_cb)
				blk_cb(&bi, ctx);
			while ((n = tt_segr_next_event(r, &e)) > 0)
				fn(&e, ctx);
			if (n < 0)
				damaged++;
		}
		tt_segr_close(r);
	}
	return damaged;
}

/* pass 1: which ids are --comm's */
static const char *own_comm;

static void collect_own(const struct tt_event *e, void *ctx)
{
	(void)ctx;
	if (e->type == TT_EV_CONN && !strncmp(e->conn.comm, own_comm, TT_COMM_MAX) &&
	    tt_idmap_put(own_ids, e->conn.id, 1))
		die("memory", strerror(ENOMEM));
}

/*
 * The coalesced stream must give the same tables: rows of own_kf5's and
 * own_kf5_coalesce's latest tables that differ (identity, totals, deltas, flags).
 */
static uint64_t compare_tables(struct recode *rc, size_t nrc)
{
	const struct tt_table *a = NULL, *b = NULL;
	struct tt_idmap *m;
	uint64_t diff = 0;
	size_t k, i;

	for (k = 0; k < nrc; k++) {
		if (!strcmp(rc[k].name, "own_kf5"))
			a = tt_agg_table(rc[k].agg);
		if (!strcmp(rc[k].name, "own_kf5_coalesce"))
			b = tt_agg_table(rc[k].agg);
	}
	if (!a || !b || !(m = tt_idmap_new()))
		return 0;
	for (i = 0; i < b->n; i++)
		tt_idmap_put(m, b->rows[i].conn.id, (uint32_t)i);
	diff += a->n > b->n ? a->n - b->n : b->n - a->n;
	for (i = 0; i < a->n; i++) {
		const struct tt_row *x = &a->rows[i], *y;
		uint32_t j;

		if (!tt_idmap_get(m, x->conn.id, &j))
			continue; /* counted above */
		y = &b->rows[j];
		if (memcmp(&x->conn, &y->conn, sizeof(x->conn)) ||
		    memcmp(&x->tot, &y->tot, sizeof(x->tot)) || x->d_bytes_in != y->d_bytes_in ||
		    x->d_bytes_out != y->d_bytes_out || x->d_packets_in != y->d_packets_in ||
		    x->d_packets_out != y->d_packets_out || x->flags != y->flags ||
		    x->close_ns != y->close_ns || x->close_reason != y->close_reason)
			diff++;
	}
	tt_idmap_free(m);
	return diff;
}

/* pass 2: counts, tick tables, re-encoding */
struct scan {
	struct tt_agg *agg;
	struct recode *rc;
	size_t nrc;
	uint64_t blocks, st_bytes, st_raw;
	uint64_t ev[TT_EV_TYPE_MAX], kf[TT_EV_TYPE_MAX];
	uint64_t ticks, live, active, own_live, own_active, max_live, no_traffic, state_only;
	uint64_t coalesce_diff; /* rows where own_kf5_coalesce's table differs from own_kf5's */
	uint64_t st_ticks, st_live, st_active, st_own_live, st_own_active;
	struct tt_idmap *ids; /* counters as last seen, per id */
	struct tt_counters *last;
	size_t nlast, cap_last;
};

static void on_block(const struct tt_block_info *bi, void *ctx)
{
	struct scan *s = ctx;

	if (++s->blocks > 1) {
		s->st_bytes += bi->length;
		s->st_raw += bi->raw_len;
	}
}

static void on_event(const struct tt_event *e, void *ctx)
{
	struct scan *s = ctx;
	int is_kf = !!(e->flags & TT_EVF_KEYFRAME), n, st_only = 0;
	size_t k;

	if (e->type < TT_EV_TYPE_MAX)
		(is_kf ? s->kf : s->ev)[e->type]++;
	if (e->type == TT_EV_SAMPLE || e->type == TT_EV_CLOSE) {
		uint32_t slot;

		if (!tt_idmap_get(s->ids, e->sample.id, &slot)) {
			if (s->nlast == s->cap_last) {
				s->cap_last = s->cap_last ? 2 * s->cap_last : 4096;
				s->last = realloc(s->last, s->cap_last * sizeof(*s->last));
				if (!s->last)
					die("memory", strerror(ENOMEM));
			}
			slot = (uint32_t)s->nlast++;
			memset(&s->last[slot], 0, sizeof(*s->last));
			if (tt_idmap_put(s->ids, e->sample.id, slot))
				die("memory", strerror(ENOMEM));
		}
		/* SAMPLE and CLOSE start alike: id, then the counters */
		if (!is_kf && e->type == TT_EV_SAMPLE && !moved(&s->last[slot], &e->sample.c))
			s->no_traffic++;
		if (!is_kf && e->type == TT_EV_SAMPLE && state_only(&s->last[slot], &e->sample.c)) {
			st_only = 1;
			s->state_only++;
		}
		s->last[slot] = e->sample.c;
	}
	if (!is_kf)
		for (k = 0; k < s->nrc; k++)
			if (recode_event(&s->rc[k], e, st_only))
				die("re-encoding", tt_segw_errmsg(s->rc[k].w));
	if (!is_kf && e->type == TT_EV_TICK && s->nrc)
		s->coalesce_diff += compare_tables(s->rc, s->nrc);
	n = tt_agg_feed(s->agg, e);
	if (n < 0)
		die("aggregator", strerror(-n));
	if (n > 0) {
		const struct tt_table *t = tt_agg_table(s->agg);
		int steady = s->blocks > 1;
		size_t j;

		s->ticks++;
		s->live += t->n;
		if (t->n > s->max_live)
			s->max_live = t->n;
		s->st_ticks += steady;
		s->st_live += steady ? t->n : 0;
		for (j = 0; j < t->n; j++) {
			const struct tt_row *row = &t->rows[j];
			int act = row->d_bytes_in || row->d_bytes_out || row->d_packets_in ||
				  row->d_packets_out;
			int own = is_own(row->conn.id);

			s->active += act;
			s->own_live += own;
			s->own_active += own && act;
			if (steady) {
				s->st_active += act;
				s->st_own_live += own;
				s->st_own_active += own && act;
			}
		}
	}
}

static void usage(void)
{
	fprintf(stderr, "Usage: bench_store_scan [--comm NAME] [--reencode] DIR\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static struct recode rc[] = {
		{ .name = "all_kf5", .flush_ns = 5000000000ull, .keyframes = 1 },
		{ .name = "own_kf5", .flush_ns = 5000000000ull, .keyframes = 1, .own_only = 1 },
		{ .name = "own_nokf5", .flush_ns = 5000000000ull, .keyframes = 0, .own_only = 1 },
		{ .name = "own_kf10", .flush_ns = 10000000000ull, .keyframes = 1, .own_only = 1 },
		{ .name = "own_kf5_sorted",
		  .flush_ns = 5000000000ull,
		  .keyframes = 1,
		  .own_only = 1,
		  .sort_kf = 1 },
		{ .name = "own_b5_kf30",
		  .flush_ns = 5000000000ull,
		  .keyframes = 1,
		  .own_only = 1,
		  .kf_every_ns = 30000000000ull },
		{ .name = "own_b5_kf60",
		  .flush_ns = 5000000000ull,
		  .keyframes = 1,
		  .own_only = 1,
		  .kf_every_ns = 60000000000ull },
		{ .name = "own_b5_kf60_sorted",
		  .flush_ns = 5000000000ull,
		  .keyframes = 1,
		  .own_only = 1,
		  .kf_every_ns = 60000000000ull,
		  .sort_kf = 1 },
		{ .name = "own_kf5_nortt",
		  .flush_ns = 5000000000ull,
		  .keyframes = 1,
		  .own_only = 1,
		  .no_rtt = 1 },
		{ .name = "own_kf5_coalesce",
		  .flush_ns = 5000000000ull,
		  .keyframes = 1,
		  .own_only = 1,
		  .coalesce = 1 },
	};
	const char *dir = NULL;
	char *files[MAX_FILES], tmpdir[] = "/tmp/bench_store_scan.XXXXXX", why[512];
	struct scan s = { 0 };
	uint64_t damaged;
	int reencode = 0, nfiles, i;
	size_t k;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--comm") && i + 1 < argc)
			own_comm = argv[++i];
		else if (!strcmp(argv[i], "--reencode"))
			reencode = 1;
		else if (argv[i][0] == '-' || dir)
			usage();
		else
			dir = argv[i];
	}
	if (!dir)
		usage();
	s.agg = tt_agg_new();
	s.ids = tt_idmap_new();
	if (!s.agg || !s.ids)
		die("memory", strerror(ENOMEM));
	nfiles = list_segments(dir, files);

	if (own_comm) {
		if (!(own_ids = tt_idmap_new()))
			die("memory", strerror(ENOMEM));
		walk(dir, files, nfiles, collect_own, NULL, NULL);
	}
	if (reencode) {
		struct tt_seg_meta meta = { 0 };

		if (!mkdtemp(tmpdir))
			die("mkdtemp", strerror(errno));
		s.rc = rc;
		s.nrc = own_comm ? sizeof(rc) / sizeof(rc[0]) : 1;
		for (k = 0; k < s.nrc; k++) {
			rc[k].agg = tt_agg_new();
			snprintf(rc[k].path, sizeof(rc[k].path), "%s/%s.tts", tmpdir, rc[k].name);
			if (!rc[k].agg)
				die("memory", strerror(ENOMEM));
			if (tt_segw_create(rc[k].path, &meta, 0600, &rc[k].w, why, sizeof(why)))
				die(rc[k].path, why);
		}
	}
	damaged = walk(dir, files, nfiles, on_event, on_block, &s);

	printf("files=%d blocks=%" PRIu64 " damaged=%" PRIu64 "\n", nfiles, s.blocks, damaged);
	printf("ticks=%" PRIu64 " live_ticks=%" PRIu64 " active_ticks=%" PRIu64 " max_live=%" PRIu64
	       " own_live_ticks=%" PRIu64 " own_active_ticks=%" PRIu64 " own_conns=%zu\n",
	       s.ticks, s.live, s.active, s.max_live, s.own_live, s.own_active,
	       own_ids ? tt_idmap_count(own_ids) : 0);
	printf("steady_bytes=%" PRIu64 " steady_raw=%" PRIu64 " steady_ticks=%" PRIu64
	       " steady_live_ticks=%" PRIu64 " steady_active_ticks=%" PRIu64
	       " steady_own_live_ticks=%" PRIu64 " steady_own_active_ticks=%" PRIu64 "\n",
	       s.st_bytes, s.st_raw, s.st_ticks, s.st_live, s.st_active, s.st_own_live,
	       s.st_own_active);
	for (k = 1; k < TT_EV_TYPE_MAX; k++)
		printf("%sev_%s=%" PRIu64 " kf_%s=%" PRIu64, k > 1 ? " " : "",
		       tt_event_type_name((unsigned)k), s.ev[k], tt_event_type_name((unsigned)k),
		       s.kf[k]);
	printf("\nsample_no_traffic=%" PRIu64 " sample_state_only=%" PRIu64
	       " coalesce_table_diffs=%" PRIu64 "\n",
	       s.no_traffic, s.state_only, s.coalesce_diff);

	for (k = 0; k < s.nrc; k++) {
		struct recode *r = &rc[k];
		struct stat sb;

		/* the writer's finish: a block holding only a keyframe is not written */
		if (r->pending && recode_flush(r))
			die("re-encoding", tt_segw_errmsg(r->w));
		if (stat(r->path, &sb))
			sb.st_size = 0;
		printf("reencode name=%s flush_s=%" PRIu64 " keyframes=%d blocks=%" PRIu64
		       " raw_bytes=%" PRIu64
		       " file_bytes=%lld steady_bytes=%lld steady_live_ticks=%" PRIu64
		       " steady_active_ticks=%" PRIu64 "\n",
		       r->name, (uint64_t)(r->flush_ns / 1000000000ull), r->keyframes, r->blocks,
		       r->raw, (long long)sb.st_size,
		       (long long)(r->blocks > 1 ? (uint64_t)sb.st_size - r->first_block_end : 0),
		       r->st_live, r->st_active);
		tt_segw_close(r->w);
		free(r->buf);
		free(r->state_only);
		unlink(r->path);
		tt_agg_free(r->agg);
	}
	if (s.nrc)
		rmdir(tmpdir);
	tt_agg_free(s.agg);
	tt_idmap_free(s.ids);
	tt_idmap_free(own_ids);
	free(s.last);
	free(kf_buf);
	for (i = 0; i < nfiles; i++)
		free(files[i]);
	return damaged ? 1 : 0;
}
