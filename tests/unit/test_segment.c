/*
 * Unit tests of the segment codec: round trips of random event streams with
 * edge values, write -> read -> aggregate against direct aggregation (from the
 * start and from a middle block), truncation at every byte of the last frame,
 * bit flips in every part of the file, mutated blocks fed to the decoder,
 * a block encoded by hand from docs/FORMAT.md, the header layouts against
 * that document's tables, version rules, write errors,
 * and the encoded size of a synthetic 1,000-connection workload.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <netinet/in.h>
#include <zlib.h>
#include <zstd.h>
#include <cmocka.h>

#include "aggregator.h"
#include "segcodec.h"
#include "segment.h"
#include "tst.h"

#define SEC	  TST_SEC
#define SEG_HDR	  64 /* docs/FORMAT.md: file header of version 1.0 */
#define FRAME_HDR 48 /* frame header of version 1.0 */

static char tmpdir[64];

static const char *tpath(const char *name)
{
	static char p[4][128];
	static int i;

	i = (i + 1) % 4;
	snprintf(p[i], sizeof(p[i]), "%s/%s", tmpdir, name);
	unlink(p[i]);
	return p[i];
}

static int group_setup(void **state)
{
	(void)state;
	return tst_tmpdir(tmpdir, sizeof(tmpdir), "segtest");
}

static int group_teardown(void **state)
{
	(void)state;
	tst_rmtree(tmpdir);
	return 0;
}

static const struct tt_seg_meta test_meta = {
	.recording_id = 42,
	.seq = 7,
	.mono_to_wall_ns = -123456789,
	.created_wall_ns = 1700000000ull * SEC,
	.boot_id_hi = 0x0123456789abcdefull,
	.boot_id_lo = 0xfedcba9876543210ull,
};

static struct tt_segw *create_w(const char *path)
{
	struct tt_segw *w = NULL;
	char why[256];

	assert_int_equal(tt_segw_create(path, &test_meta, 0600, &w, why, sizeof(why)), 0);
	assert_non_null(w);
	return w;
}

static struct tt_segr *open_r(const char *path)
{
	struct tt_segr *r = NULL;
	char why[256];
	int err = tt_segr_open(path, &r, why, sizeof(why));

	if (err)
		fail_msg("open %s: %s", path, why);
	return r;
}

/* ---- comparing events field by field -------------------------------------- */

static void assert_info_equal(const struct tt_block_info *a, const struct tt_block_info *b)
{
	assert_int_equal(a->offset, b->offset);
	assert_int_equal(a->length, b->length);
	assert_int_equal(a->raw_len, b->raw_len);
	assert_int_equal(a->t_start, b->t_start);
	assert_int_equal(a->t_end, b->t_end);
	assert_int_equal(a->n_events, b->n_events);
	assert_int_equal(a->checksum, b->checksum);
}

/* ---- random events with edge values ---------------------------------------- */

static uint64_t edge64(uint64_t *s)
{
	static const uint64_t e[] = { 0,	  1,	      127,	 128,
				      UINT32_MAX, 1ull << 63, INT64_MAX, UINT64_MAX - 1,
				      UINT64_MAX };

	return tst_rnd(s) % 3 ? tst_rnd(s) >> (tst_rnd(s) % 64)
			      : e[tst_rnd(s) % (sizeof(e) / sizeof(e[0]))];
}

static uint32_t edge32(uint64_t *s)
{
	static const uint32_t e[] = { 0, 1, 127, 128, INT32_MAX, UINT32_MAX - 1, UINT32_MAX };

	return tst_rnd(s) % 3 ? (uint32_t)(tst_rnd(s) >> (32 + tst_rnd(s) % 32))
			      : e[tst_rnd(s) % (sizeof(e) / sizeof(e[0]))];
}

static void gen_addr(uint64_t *s, uint8_t a[16])
{
	uint64_t x = tst_rnd(s), y = tst_rnd(s);

	switch (tst_rnd(s) % 4) {
	case 0: /* IPv6 */
		memcpy(a, &x, 8);
		memcpy(a + 8, &y, 8);
		break;
	case 1: /* unspecified */
		memset(a, 0, 16);
		break;
	default: /* IPv4, v4-mapped */
		memset(a, 0, 16);
		a[10] = a[11] = 0xff;
		memcpy(a + 12, &x, 4);
		break;
	}
}

struct gen {
	uint64_t s;
	uint64_t ts;
	uint64_t ids[48];
	struct tt_counters last[48]; /* per id, so samples sometimes change little */
	struct tt_ev_conn last_conn;
};

static void gen_init(struct gen *g, uint64_t seed)
{
	int i;

	memset(g, 0, sizeof(*g));
	g->s = seed;
	g->ts = 1000 * SEC;
	for (i = 0; i < 48; i++) {
		/* cookies, UDP peer ids with bit 63, and the extremes */
		g->ids[i] = i < 40 ? 4096 + (uint64_t)i * 3 : (tst_rnd(&g->s) | 1ull << 63);
	}
	g->ids[0] = 0;
	g->ids[1] = UINT64_MAX;
}

static void gen_counters(struct gen *g, struct tt_counters *c)
{
	uint64_t *s = &g->s;

	if (tst_rnd(s) % 2) {
		/* a few fields move by a little, either way */
		c->bytes_in += tst_rnd(s) % 100000;
		if (tst_rnd(s) % 2)
			c->bytes_out -= tst_rnd(s) % 50;
		c->packets_in += tst_rnd(s) % 70;
		if (tst_rnd(s) % 4 == 0)
			c->srtt_us += (uint32_t)(tst_rnd(s) % 100) - 50;
		if (tst_rnd(s) % 8 == 0)
			c->state = (uint8_t)(tst_rnd(s) % 13);
		return;
	}
	c->bytes_in = edge64(s);
	c->bytes_out = edge64(s);
	c->packets_in = edge64(s);
	c->packets_out = edge64(s);
	c->srtt_us = edge32(s);
	c->rttvar_us = edge32(s);
	c->retrans = edge32(s);
	c->rst_sent = edge32(s);
	c->rst_recv = edge32(s);
	c->state = (uint8_t)tst_rnd(s);
}

static void gen_event(struct gen *g, struct tt_event *e)
{
	uint64_t *s = &g->s;
	unsigned k = (unsigned)(tst_rnd(s) % 48);
	uint64_t id = g->ids[k];

	memset(e, 0, sizeof(*e));
	switch (tst_rnd(s) % 20) {
	case 0: /* ring-buffer events slightly out of order */
		g->ts -= tst_rnd(s) % 5000;
		break;
	case 1:
		g->ts = edge64(s);
		break;
	default:
		g->ts += tst_rnd(s) % 3000000;
		break;
	}
	e->ts_ns = g->ts;
	e->type = (uint16_t)(1 + tst_rnd(s) % (TT_EV_TYPE_MAX - 1));
	switch (tst_rnd(s) % 8) {
	case 0:
	case 1:
		e->flags = TT_EVF_KEYFRAME;
		break;
	case 2:
		e->flags = (uint16_t)tst_rnd(s); /* unknown bits travel as stored */
		break;
	default:
		break;
	}
	switch (e->type) {
	case TT_EV_CONN: {
		struct tt_ev_conn *c = &e->conn;

		*c = g->last_conn;
		/* change some fields of the previous CONN, or all of them */
		if (tst_rnd(s) % 3 == 0 || tst_rnd(s) % 2)
			gen_addr(s, c->laddr);
		if (tst_rnd(s) % 2)
			gen_addr(s, c->raddr);
		if (tst_rnd(s) % 2)
			c->lport = (uint16_t)tst_rnd(s);
		if (tst_rnd(s) % 2)
			c->rport = (uint16_t)(tst_rnd(s) % 3 ? tst_rnd(s) : 65535);
		if (tst_rnd(s) % 4 == 0) {
			c->family = tst_rnd(s) % 2 ? 4 : 6;
			c->proto = tst_rnd(s) % 2 ? IPPROTO_TCP : (uint8_t)tst_rnd(s);
			c->flags = (uint8_t)tst_rnd(s);
		}
		if (tst_rnd(s) % 3 == 0)
			c->pid = edge32(s);
		if (tst_rnd(s) % 3 == 0)
			c->tgid = edge32(s);
		if (tst_rnd(s) % 5 == 0)
			c->netns = edge32(s);
		if (tst_rnd(s) % 5 == 0)
			c->cgroup = edge64(s);
		if (tst_rnd(s) % 3 == 0) {
			unsigned n = (unsigned)(tst_rnd(s) % (TT_COMM_MAX + 1)), i;

			memset(c->comm, 0, TT_COMM_MAX);
			for (i = 0; i < n; i++) /* all 16 bytes used, zeros inside too */
				c->comm[i] = (char)(tst_rnd(s) % 5 ? 1 + tst_rnd(s) % 255 : 0);
		}
		c->open_ns = tst_rnd(s) % 4 ? e->ts_ns - tst_rnd(s) % (3600 * SEC) : edge64(s);
		c->id = id;
		c->pad = 0;
		g->last_conn = *c;
		break;
	}
	case TT_EV_SAMPLE:
		gen_counters(g, &g->last[k]);
		e->sample.id = id;
		e->sample.c = g->last[k];
		break;
	case TT_EV_STATE:
		e->state.id = id;
		e->state.old_state = (uint8_t)tst_rnd(s);
		e->state.new_state = (uint8_t)tst_rnd(s);
		e->state.err = (uint16_t)(tst_rnd(s) % 2 ? tst_rnd(s) : 0);
		break;
	case TT_EV_RESET:
		e->reset.id = id;
		e->reset.received = (uint8_t)(tst_rnd(s) % 3 ? tst_rnd(s) % 2 : tst_rnd(s));
		break;
	case TT_EV_CLOSE:
		gen_counters(g, &g->last[k]);
		e->close.id = id;
		e->close.c = g->last[k];
		e->close.reason = (uint8_t)(tst_rnd(s) % 3 ? tst_rnd(s) % 4 : tst_rnd(s));
		e->close.err = (uint16_t)(tst_rnd(s) % 2 ? tst_rnd(s) : 111);
		break;
	case TT_EV_TICK:
		e->tick.start_ns = tst_rnd(s) % 4 ? e->ts_ns - SEC : edge64(s);
		break;
	case TT_EV_LOSS:
		e->loss.ring_drops = edge64(s);
		e->loss.socks_full = edge64(s);
		e->loss.peers_full = edge64(s);
		break;
	}
}

/* A written file and what went into it. */
struct written {
	struct tt_event *ev; /* every event, in order */
	size_t n_ev;
	struct tt_block_info info[512];
	size_t first[512]; /* index in ev of each block's first event */
	int n_blocks;
	uint64_t size;
};

static void written_free(struct written *wr)
{
	free(wr->ev);
	memset(wr, 0, sizeof(*wr));
}

/* Write n_blocks blocks of random events, sizes from 1 to max_ev. */
static void write_random(const char *path, uint64_t seed, int n_blocks, int max_ev,
			 struct written *wr)
{
	struct tt_segw *w = create_w(path);
	struct gen g;
	size_t cap = 0;
	int b, i;

	memset(wr, 0, sizeof(*wr));
	gen_init(&g, seed);
	assert_true(n_blocks <= 512);
	for (b = 0; b < n_blocks; b++) {
		int n = 1 + (int)(tst_rnd(&g.s) % (uint64_t)max_ev);

		wr->first[b] = wr->n_ev;
		for (i = 0; i < n; i++) {
			if (wr->n_ev == cap) {
				cap = cap ? cap * 2 : 1024;
				wr->ev = realloc(wr->ev, cap * sizeof(*wr->ev));
				assert_non_null(wr->ev);
			}
			gen_event(&g, &wr->ev[wr->n_ev]);
			assert_int_equal(tt_segw_append(w, &wr->ev[wr->n_ev]), 0);
			wr->n_ev++;
		}
		assert_int_equal(tt_segw_pending(w), n);
		assert_int_equal(tt_segw_flush(w, b == n_blocks - 1, &wr->info[b]), 0);
		assert_int_equal(tt_segw_pending(w), 0);
		assert_int_equal(wr->info[b].n_events, n);
		assert_int_equal(wr->info[b].t_start, wr->ev[wr->first[b]].ts_ns);
		assert_int_equal(wr->info[b].t_end, wr->ev[wr->n_ev - 1].ts_ns);
		assert_int_equal(wr->info[b].offset + wr->info[b].length, tt_segw_size(w));
	}
	wr->first[n_blocks] = wr->n_ev;
	wr->n_blocks = n_blocks;
	wr->size = tt_segw_size(w);
	tt_segw_close(w);
}

/* The loaded block's events must be block b's. */
static void check_block_events(struct tt_segr *r, const struct written *wr, int b)
{
	struct tt_event got;
	size_t i;

	for (i = wr->first[b]; i < wr->first[b + 1]; i++) {
		int rc = tt_segr_next_event(r, &got);

		if (rc != 1)
			fail_msg("block %d event %zu: %d %s", b, i - wr->first[b], rc,
				 tt_segr_errmsg(r));
		tst_assert_event_equal(&got, &wr->ev[i]);
	}
	assert_int_equal(tt_segr_next_event(r, &got), 0);
	assert_int_equal(tt_segr_next_event(r, &got), 0);
}

static int block_at(const struct written *wr, uint64_t off)
{
	int b;

	for (b = 0; b < wr->n_blocks; b++)
		if (wr->info[b].offset == off)
			return b;
	return -1;
}

/*
 * Read every block of path. Blocks returned must be intact and in order;
 * damage is counted and must lie at one of the written frames' offsets or,
 * for a torn tail, anywhere after. Returns the number of damage reports and
 * sets *seen to a bitmap of the blocks returned.
 */
static int read_all(struct tt_segr *r, const struct written *wr, uint64_t *seen_lo,
		    uint64_t *damaged_at)
{
	struct tt_block_info info;
	int rc, damage = 0, last = -1, guard = 0;

	*seen_lo = 0;
	while ((rc = tt_segr_next_block(r, &info)) != 0) {
		assert_true(++guard < 10000);
		if (rc == -EBADMSG) {
			assert_true(strlen(tt_segr_errmsg(r)) > 0);
			if (damaged_at)
				*damaged_at = info.offset;
			damage++;
			continue;
		}
		assert_int_equal(rc, 1);
		{
			int b = block_at(wr, info.offset);

			assert_true(b > last);
			last = b;
			assert_info_equal(&info, &wr->info[b]);
			check_block_events(r, wr, b);
			if (b < 64)
				*seen_lo |= 1ull << b;
		}
	}
	return damage;
}

/* ---- round trip ------------------------------------------------------------- */

static void test_round_trip_random_streams(void **state)
{
	const char *path = tpath("roundtrip.tts");
	struct written wr;
	struct tt_segr *r;
	struct tt_block_info info;
	const struct tt_seg_meta *m;
	uint64_t seen, s = 99;
	int b, i, blocks = 0;
	struct stat st;

	(void)state;
	write_random(path, 0x5eed, 300, 600, &wr);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal((uint64_t)st.st_size, wr.size);
	assert_int_equal(st.st_mode & 0777, 0600);

	r = open_r(path);
	m = tt_segr_meta(r);
	assert_non_null(m);
	assert_int_equal(m->recording_id, test_meta.recording_id);
	assert_int_equal(m->seq, test_meta.seq);
	assert_int_equal(m->mono_to_wall_ns, test_meta.mono_to_wall_ns);
	assert_int_equal(m->created_wall_ns, test_meta.created_wall_ns);
	assert_int_equal(m->boot_id_hi, test_meta.boot_id_hi);
	assert_int_equal(m->boot_id_lo, test_meta.boot_id_lo);
	assert_int_equal(m->flags, 0); /* not marked: TT_SEG_CLEAN_END only at a clean stop */

	/* in order, all of them */
	for (b = 0; b < wr.n_blocks; b++) {
		assert_int_equal(tt_segr_next_block(r, &info), 1);
		assert_info_equal(&info, &wr.info[b]);
		if (b % 3 == 0) /* a reader may also skip a block's events */
			check_block_events(r, &wr, b);
		blocks++;
	}
	assert_int_equal(tt_segr_next_block(r, &info), 0);
	assert_int_equal(tt_segr_next_block(r, &info), 0);

	/* random access by offset, as the index does */
	for (i = 0; i < 100; i++) {
		b = (int)(tst_rnd(&s) % (uint64_t)wr.n_blocks);
		assert_int_equal(tt_segr_load_block(r, wr.info[b].offset, &info), 1);
		assert_info_equal(&info, &wr.info[b]);
		check_block_events(r, &wr, b);
	}
	/* next_block goes on after a loaded block */
	assert_int_equal(tt_segr_load_block(r, wr.info[10].offset, &info), 1);
	assert_int_equal(tt_segr_next_block(r, &info), 1);
	assert_info_equal(&info, &wr.info[11]);
	/* an offset that is no frame */
	assert_int_equal(tt_segr_load_block(r, wr.info[10].offset + 1, &info), -EBADMSG);
	assert_int_equal(tt_segr_next_event(r, &(struct tt_event){ 0 }), -EINVAL);
	assert_int_equal(tt_segr_load_block(r, wr.size + 1000, &info), -EBADMSG);
	tt_segr_close(r);

	r = open_r(path);
	assert_int_equal(read_all(r, &wr, &seen, NULL), 0);
	assert_int_equal(seen, UINT64_MAX);
	tt_segr_close(r);
	written_free(&wr);
}

/* ---- write -> read -> aggregate ----------------------------------------------- */

#define SIM_SLOTS 60

struct sim {
	uint64_t s;
	uint64_t ts, last_tick;
	uint64_t next_cookie;
	struct {
		int live; /* 0 none, 1 open, 2 closed this tick */
		uint64_t id;
		struct tt_counters c;
	} k[SIM_SLOTS];
	struct tt_ev_loss loss;
};

/* One tick of a plausible stream into out[], ending with its TICK. */
static int sim_tick(struct sim *m, struct tt_event *out, int max)
{
	uint64_t *s = &m->s;
	int n = 0, acts = (int)(tst_rnd(s) % 40), a, i;

	for (a = 0; a < acts && n + 3 < max; a++) {
		int x = (int)(tst_rnd(s) % SIM_SLOTS);
		struct tt_event *e = &out[n];

		memset(e, 0, sizeof(*e));
		/* ring-buffer order is only roughly time order */
		m->ts += tst_rnd(s) % 8 ? tst_rnd(s) % 20000000 : 0;
		e->ts_ns = m->ts - tst_rnd(s) % 3000;
		switch (tst_rnd(s) % 8) {
		case 0: /* open */
			if (m->k[x].live)
				break;
			m->k[x].live = 1;
			memset(&m->k[x].c, 0, sizeof(m->k[x].c));
			m->k[x].c.state = TT_TCP_ESTABLISHED;
			/* a UDP peer comes back under the same id */
			if (!m->k[x].id || x % 5)
				m->k[x].id = x % 5 ? (m->next_cookie += 1 + tst_rnd(s) % 4)
						   : (tst_rnd(s) | 1ull << 63);
			e->type = TT_EV_CONN;
			e->conn.id = m->k[x].id;
			e->conn.family = 4;
			e->conn.proto = x % 5 ? IPPROTO_TCP : IPPROTO_UDP;
			e->conn.flags = x % 5 ? 0 : TT_CF_UDP_PEER;
			e->conn.laddr[10] = e->conn.laddr[11] = 0xff;
			e->conn.laddr[12] = 10;
			e->conn.laddr[15] = 1;
			e->conn.raddr[10] = e->conn.raddr[11] = 0xff;
			e->conn.raddr[12] = 192;
			e->conn.raddr[15] = (uint8_t)x;
			e->conn.lport = 443;
			e->conn.rport = (uint16_t)(32768 + tst_rnd(s) % 28000);
			e->conn.pid = e->conn.tgid = 1000 + (uint32_t)(x % 3);
			e->conn.open_ns = e->ts_ns;
			memcpy(e->conn.comm, "nginx", 5);
			n++;
			break;
		case 1:
		case 2:
		case 3: /* traffic */
			if (m->k[x].live != 1)
				break;
			m->k[x].c.bytes_in += tst_rnd(s) % 50000;
			m->k[x].c.bytes_out += tst_rnd(s) % 3000;
			m->k[x].c.packets_in += 1 + tst_rnd(s) % 30;
			m->k[x].c.packets_out += 1 + tst_rnd(s) % 5;
			m->k[x].c.srtt_us = 100 + (uint32_t)(tst_rnd(s) % 900);
			if (tst_rnd(s) % 10 == 0)
				m->k[x].c.retrans++;
			e->type = TT_EV_SAMPLE;
			e->sample.id = m->k[x].id;
			e->sample.c = m->k[x].c;
			n++;
			break;
		case 4: /* a reset, then the state change */
			if (m->k[x].live != 1 || x % 5 == 0)
				break;
			e->type = TT_EV_RESET;
			e->reset.id = m->k[x].id;
			e->reset.received = (uint8_t)(tst_rnd(s) % 2);
			m->k[x].c.rst_recv += e->reset.received;
			m->k[x].c.rst_sent += !e->reset.received;
			n++;
			e = &out[n];
			memset(e, 0, sizeof(*e));
			e->ts_ns = m->ts;
			e->type = TT_EV_STATE;
			e->state.id = m->k[x].id;
			e->state.old_state = m->k[x].c.state;
			e->state.new_state = 8; /* CLOSE-WAIT */
			m->k[x].c.state = 8;
			n++;
			break;
		case 5: /* close */
			if (m->k[x].live != 1)
				break;
			m->k[x].live = 2;
			m->k[x].c.bytes_in += tst_rnd(s) % 100;
			e->type = TT_EV_CLOSE;
			e->close.id = m->k[x].id;
			e->close.c = m->k[x].c;
			e->close.reason = (uint8_t)(tst_rnd(s) % 4);
			e->close.err = e->close.reason == TT_CLOSE_FAILED ? 111 : 0;
			n++;
			break;
		case 6: /* the owner changes */
			if (m->k[x].live != 1)
				break;
			e->type = TT_EV_CONN;
			e->conn.id = m->k[x].id;
			e->conn.family = 4;
			e->conn.proto = IPPROTO_TCP;
			e->conn.pid = e->conn.tgid = 2000 + (uint32_t)(tst_rnd(s) % 5);
			memcpy(e->conn.comm, "worker-with-16ch", 16);
			n++;
			break;
		default: /* the recorder lost something */
			if (tst_rnd(s) % 4)
				break;
			m->loss.ring_drops += tst_rnd(s) % 3;
			m->loss.socks_full += tst_rnd(s) % 2;
			e->type = TT_EV_LOSS;
			e->loss = m->loss;
			n++;
			break;
		}
	}
	m->ts = m->last_tick + SEC + tst_rnd(s) % 1000000;
	memset(&out[n], 0, sizeof(out[n]));
	out[n].ts_ns = m->ts;
	out[n].type = TT_EV_TICK;
	out[n].tick.start_ns = m->last_tick;
	m->last_tick = m->ts;
	for (i = 0; i < SIM_SLOTS; i++)
		if (m->k[i].live == 2)
			m->k[i].live = 0;
	return n + 1;
}

static int append_cb(const struct tt_event *ev, void *ctx)
{
	return tt_segw_append(ctx, ev);
}

#define AGG_TICKS	120
#define TICKS_PER_BLOCK 5

static void test_write_read_aggregate_equals_direct(void **state)
{
	const char *path = tpath("aggregate.tts");
	struct tst_capture tables = { 0 };
	struct tt_block_info infos[AGG_TICKS / TICKS_PER_BLOCK + 1];
	struct tt_agg *direct = tt_agg_new(), *replay = tt_agg_new(), *mid = tt_agg_new();
	struct tt_segw *w = create_w(path);
	struct tt_segr *r;
	struct tt_block_info info;
	struct tt_event evs[200], ev;
	struct sim m;
	int tick, i, n_blocks = 0, n_tick, rc, mid_block;

	(void)state;
	memset(&m, 0, sizeof(m));
	m.s = 0xa99;
	m.ts = m.last_tick = 50 * SEC;
	m.next_cookie = 8192;

	/* the recorder: aggregate, append, flush right after a TICK, keyframe next */
	assert_int_equal(tt_agg_keyframe(direct, m.ts, append_cb, w), 0);
	for (tick = 0; tick < AGG_TICKS; tick++) {
		int n = sim_tick(&m, evs, 200);

		for (i = 0; i < n; i++) {
			assert_int_equal(tt_agg_feed(direct, &evs[i]), i == n - 1);
			assert_int_equal(tt_segw_append(w, &evs[i]), 0);
		}
		tst_capture_table(&tables, tt_agg_table(direct));
		if ((tick + 1) % TICKS_PER_BLOCK == 0) {
			assert_int_equal(tt_segw_flush(w, 0, &infos[n_blocks++]), 0);
			if (tick + 1 < AGG_TICKS)
				assert_int_equal(tt_agg_keyframe(direct, evs[n - 1].ts_ns,
								 append_cb, w),
						 0);
		}
	}
	assert_int_equal(tt_segw_flush(w, 1, &info), -ENODATA);
	tt_segw_close(w);
	assert_int_equal(n_blocks, AGG_TICKS / TICKS_PER_BLOCK);

	/* a reader that replays everything */
	r = open_r(path);
	n_tick = 0;
	while ((rc = tt_segr_next_block(r, &info)) == 1) {
		while ((rc = tt_segr_next_event(r, &ev)) == 1) {
			rc = tt_agg_feed(replay, &ev);
			assert_true(rc == 0 || rc == 1);
			if (rc == 1) {
				assert_true(n_tick < AGG_TICKS);
				tst_assert_table_equal(tt_agg_table(replay), &tables.t[n_tick++].t,
						       1);
			}
		}
		assert_int_equal(rc, 0);
	}
	assert_int_equal(rc, 0);
	assert_int_equal(n_tick, AGG_TICKS);

	/* one that starts at a middle block, from its offset as the index has it */
	mid_block = n_blocks / 2 + 1;
	n_tick = mid_block * TICKS_PER_BLOCK;
	rc = tt_segr_load_block(r, infos[mid_block].offset, &info);
	assert_int_equal(rc, 1);
	do {
		int first = 1;

		while ((rc = tt_segr_next_event(r, &ev)) == 1) {
			/* every block opens with the keyframe */
			if (first)
				assert_true(ev.flags & TT_EVF_KEYFRAME);
			first = 0;
			rc = tt_agg_feed(mid, &ev);
			if (rc == 1)
				tst_assert_table_equal(tt_agg_table(mid), &tables.t[n_tick++].t, 0);
		}
		assert_int_equal(rc, 0);
	} while ((rc = tt_segr_next_block(r, &info)) == 1);
	assert_int_equal(rc, 0);
	assert_int_equal(n_tick, AGG_TICKS);
	assert_int_equal(tt_agg_table(mid)->orphans, 0);

	tt_segr_close(r);
	tst_capture_free(&tables);
	tt_agg_free(direct);
	tt_agg_free(replay);
	tt_agg_free(mid);
}

/* ---- damage ----------------------------------------------------------------- */

static void test_truncation_every_byte_of_last_frame(void **state)
{
	const char *path = tpath("trunc.tts");
	struct written wr;
	struct tt_segr *r;
	uint64_t seen, dmg, last_off, cut, all_but_last;
	char why[256];
	int rc;

	(void)state;
	write_random(path, 0x7777, 6, 60, &wr);
	last_off = wr.info[wr.n_blocks - 1].offset;
	all_but_last = (1ull << (wr.n_blocks - 1)) - 1;
	for (cut = wr.size - 1; cut >= last_off; cut--) {
		assert_int_equal(truncate(path, (off_t)cut), 0);
		r = open_r(path);
		dmg = 0;
		rc = read_all(r, &wr, &seen, &dmg);
		assert_int_equal(seen, all_but_last);
		if (cut == last_off) {
			assert_int_equal(rc, 0); /* a clean end at a frame boundary */
		} else {
			if (rc != 1)
				fail_msg("cut at %llu (last frame at %llu): %d damage reports, last: %s",
					 (unsigned long long)cut, (unsigned long long)last_off, rc,
					 tt_segr_errmsg(r));
			assert_int_equal(dmg, last_off);
		}
		tt_segr_close(r);
	}
	/* cut inside the file header: not a segment any more */
	for (cut = 0; cut < SEG_HDR; cut += 7) {
		assert_int_equal(truncate(path, (off_t)cut), 0);
		r = NULL;
		assert_int_equal(tt_segr_open(path, &r, why, sizeof(why)), -EBADMSG);
		assert_null(r);
		assert_non_null(strstr(why, path));
	}
	written_free(&wr);
}

/* Flip one bit at pos and check what a reader makes of it. */
static void flip_and_check(const char *path, const uint8_t *orig, size_t len, size_t pos,
			   const struct written *wr, int damaged_block)
{
	uint8_t *p = malloc(len);
	struct tt_segr *r = NULL;
	uint64_t seen, dmg = UINT64_MAX, want = (1ull << wr->n_blocks) - 1;
	char why[256];
	int rc;

	assert_non_null(p);
	memcpy(p, orig, len);
	p[pos] ^= (uint8_t)(1u << (pos * 5 % 8));
	tst_spill(path, p, len);
	free(p);

	if (damaged_block < 0) {
		/* the file header: refused, but salvage still finds every block */
		assert_int_equal(tt_segr_open(path, &r, why, sizeof(why)), -EBADMSG);
		assert_null(r);
		assert_int_equal(tt_segr_openf(path, TT_SEGR_SALVAGE, &r, why, sizeof(why)), 0);
		assert_null(tt_segr_meta(r));
		assert_true(strlen(tt_segr_errmsg(r)) > 0);
		rc = read_all(r, wr, &seen, &dmg);
		assert_int_equal(rc, 0);
		assert_int_equal(seen, want);
	} else {
		r = open_r(path);
		rc = read_all(r, wr, &seen, &dmg);
		if (rc != 1)
			fail_msg("flip at %zu: %d damage reports", pos, rc);
		assert_int_equal(dmg, wr->info[damaged_block].offset);
		assert_int_equal(seen, want & ~(1ull << damaged_block));
	}
	tt_segr_close(r);
}

static void test_bit_flips_lose_one_block(void **state)
{
	const char *path = tpath("flip.tts");
	struct written wr;
	uint8_t *orig;
	size_t len, pos, i;
	uint64_t s = 4242;
	int b;

	(void)state;
	write_random(path, 0x3141, 5, 200, &wr);
	orig = tst_slurp(path, &len);
	assert_int_equal(len, wr.size);

	for (pos = 0; pos < SEG_HDR; pos++)
		flip_and_check(path, orig, len, pos, &wr, -1);
	for (b = 0; b < wr.n_blocks; b++) {
		const struct tt_block_info *in = &wr.info[b];
		int payload_flips = b == 2 ? 300 : 25;

		/* every byte of a frame header, the middle frame's most of all */
		for (pos = in->offset; pos < in->offset + FRAME_HDR; pos += b == 2 ? 1 : 5)
			flip_and_check(path, orig, len, pos, &wr, b);
		for (i = 0; i < (size_t)payload_flips; i++) {
			pos = in->offset + FRAME_HDR + tst_rnd(&s) % (in->length - FRAME_HDR);
			flip_and_check(path, orig, len, pos, &wr, b);
		}
	}
	free(orig);
	written_free(&wr);
}

static void test_several_damages_and_garbage(void **state)
{
	const char *path = tpath("multi.tts");
	struct written wr;
	struct tt_segr *r;
	uint8_t *orig, *p;
	size_t len;
	uint64_t seen, dmg;
	int rc;

	(void)state;
	write_random(path, 0x2718, 8, 100, &wr);
	orig = tst_slurp(path, &len);
	p = malloc(len + 100);
	assert_non_null(p);
	memcpy(p, orig, len);
	/* block 1's payload, block 4's magic, block 6's header length; torn tail */
	p[wr.info[1].offset + FRAME_HDR + 3] ^= 0x40;
	p[wr.info[4].offset] ^= 0x01;
	p[wr.info[6].offset + 4] ^= 0x80;
	tst_spill(path, p, wr.info[7].offset + 20);
	r = open_r(path);
	rc = read_all(r, &wr, &seen, &dmg);
	assert_int_equal(rc, 4);
	assert_int_equal(seen, (1u << 0) | (1u << 2) | (1u << 3) | (1u << 5));
	tt_segr_close(r);

	/* garbage between frames (a stray frame magic in it) and at the end */
	memcpy(p, orig, len);
	{
		uint8_t *q = malloc(len + 200);
		size_t at = wr.info[3].offset, n;

		assert_non_null(q);
		memcpy(q, p, at);
		memset(q + at, 0xab, 50);
		memcpy(q + at + 20, "\xf7TTB", 4);
		memcpy(q + at + 50, p + at, len - at);
		n = len + 50;
		memcpy(q + n, "\xf7TTBgarbage", 11);
		tst_spill(path, q, n + 11);
		free(q);
	}
	r = open_r(path);
	{
		struct tt_block_info info;
		int blocks = 0, bad = 0;

		while ((rc = tt_segr_next_block(r, &info)) != 0) {
			if (rc == 1)
				blocks++;
			else
				bad++;
			assert_true(rc == 1 || rc == -EBADMSG);
		}
		assert_int_equal(blocks, 8);
		assert_int_equal(bad, 2); /* the garbage, the torn tail */
	}
	tt_segr_close(r);
	free(p);
	free(orig);
	written_free(&wr);
}

/* ---- the decoder on blocks that pass every checksum ------------------------ */

/* Frame raw as a valid segment file: a good checksum around bad content. */
static void write_frame_file(const char *path, const uint8_t *hdr, const uint8_t *raw,
			     size_t raw_len, uint32_t n_events, uint64_t t_start, uint64_t t_end)
{
	size_t bound = ZSTD_compressBound(raw_len), clen;
	uint8_t *f = malloc(SEG_HDR + FRAME_HDR + bound);
	uint8_t *h = f + SEG_HDR;
	uint32_t crc;

	assert_non_null(f);
	memcpy(f, hdr, SEG_HDR);
	clen = ZSTD_compress(h + FRAME_HDR, bound, raw, raw_len, 1);
	assert_false(ZSTD_isError(clen));
	memset(h, 0, FRAME_HDR);
	memcpy(h, "\xf7TTB", 4);
	h[4] = FRAME_HDR;
	memcpy(h + 8, &(uint32_t){ (uint32_t)clen }, 4);
	memcpy(h + 12, &(uint32_t){ (uint32_t)raw_len }, 4);
	memcpy(h + 16, &n_events, 4);
	crc = (uint32_t)crc32(0, h + FRAME_HDR, (uInt)clen);
	memcpy(h + 20, &crc, 4);
	memcpy(h + 24, &t_start, 8);
	memcpy(h + 32, &t_end, 8);
	crc = (uint32_t)crc32(0, h, FRAME_HDR - 4);
	memcpy(h + 44, &crc, 4);
	tst_spill(path, f, SEG_HDR + FRAME_HDR + clen);
	free(f);
}

static void test_decoder_survives_mutated_blocks(void **state)
{
	const char *src = tpath("fuzzsrc.tts"), *path = tpath("fuzz.tts");
	struct written wr;
	uint8_t *file, *raw, *mut;
	size_t len, raw_len, i;
	uint32_t plen;
	uint64_t s = 0xf00d;
	int iter, decoded_all = 0, rejected = 0;

	(void)state;
	write_random(src, 0xfeed, 1, 400, &wr);
	file = tst_slurp(src, &len);
	memcpy(&plen, file + SEG_HDR + 8, 4);
	raw_len = wr.info[0].raw_len;
	raw = malloc(raw_len);
	mut = malloc(raw_len * 2 + 64);
	assert_non_null(raw);
	assert_non_null(mut);
	assert_int_equal(ZSTD_decompress(raw, raw_len, file + SEG_HDR + FRAME_HDR, plen), raw_len);

	for (iter = 0; iter < 4000; iter++) {
		size_t n = raw_len, k, muts = 1 + tst_rnd(&s) % 4;
		uint32_t n_ev = wr.info[0].n_events;
		struct tt_segr *r;
		struct tt_block_info info;
		struct tt_event ev;
		int rc, guard = 0;

		memcpy(mut, raw, raw_len);
		for (k = 0; k < muts; k++) {
			size_t at = tst_rnd(&s) % n;

			switch (tst_rnd(&s) % 6) {
			case 0:
				mut[at] ^= (uint8_t)(1u << tst_rnd(&s) % 8);
				break;
			case 1:
				mut[at] = (uint8_t)tst_rnd(&s);
				break;
			case 2:
				mut[at] = tst_rnd(&s) % 2 ? 0xff : 0x80;
				break;
			case 3: /* cut short */
				n = at + 1;
				break;
			case 4: /* a chunk repeated */
				if (n + 32 <= raw_len * 2) {
					memmove(mut + at + 32, mut + at, n - at);
					n += 32;
				}
				break;
			default: /* random bytes, many events claimed */
				for (i = at; i < n && i < at + 40; i++)
					mut[i] = (uint8_t)tst_rnd(&s);
				if (tst_rnd(&s) % 4 == 0)
					n_ev = (uint32_t)(n / 2);
				break;
			}
		}
		write_frame_file(path, file, mut, n, n_ev, wr.info[0].t_start, wr.info[0].t_end);
		r = open_r(path);
		rc = tt_segr_next_block(r, &info);
		if (rc == 1) {
			while ((rc = tt_segr_next_event(r, &ev)) == 1)
				assert_true(++guard <= (int)n_ev);
			assert_true(rc == 0 || rc == -EBADMSG);
			if (rc == -EBADMSG) {
				assert_true(strlen(tt_segr_errmsg(r)) > 0);
				assert_int_equal(tt_segr_next_event(r, &ev), -EBADMSG);
			}
			decoded_all += rc == 0;
			rejected += rc == -EBADMSG;
		} else {
			assert_int_equal(rc, -EBADMSG);
			rejected++;
		}
		tt_segr_close(r);
	}
	/*
	 * Many mutations still decode (a changed counter is a valid counter: the
	 * frame checksum, not the decoder, is what catches those); what matters is
	 * that none was read out of bounds and both outcomes were exercised.
	 */
	printf("mutated blocks: %d decoded, %d rejected\n", decoded_all, rejected);
	assert_true(decoded_all > 0 && rejected > 0);
	free(raw);
	free(mut);
	free(file);
	written_free(&wr);
}

/* ---- a block encoded by hand from docs/FORMAT.md ------------------------------ */

/* clang-format off */
static const uint8_t hand_block[] = {
	/* CONN, keyframe, ts 1000 (= t_start: no delta), new id 0x8000000000000001 in full */
	0x11, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0x80,
	/* mask 0x4dd: raddr4 rport lport laddr4 owner kind comm */
	0xdd, 0x09, 192, 168, 1, 2, 0x50, 0xc3, 0xbb, 0x01, 10, 0, 0, 1, 100, 0, 4, 6, 1,
	5, 'n', 'g', 'i', 'n', 'x',
	/* open_ns 900: zigzag(-100) = 199 */
	0xc7, 0x01,
	/* SAMPLE ts +5, same id, mask 0x55: bytes_in 1000, packets_in 3, srtt 50, state 1 */
	0x82, 0x0a, 0x02, 0x55, 0xd0, 0x0f, 0x06, 0x64, 0x02,
	/* SAMPLE ts -2, keyframe + unknown flag 0x100, same id, bytes_in -100 */
	0xb2, 0x80, 0x02, 0x03, 0x02, 0x01, 0xc7, 0x01,
	/* type 9 of a later minor version, with its length: skipped */
	0x49, 0x03, 0xaa, 0xbb, 0xcc,
	/* TICK ts +1000, start 1003, with a length and one trailing byte from the future */
	0xc6, 0xd0, 0x0f, 0x03, 0xd0, 0x0f, 0xee,
	/* LOSS, same ts: 1, 0, UINT64_MAX */
	0x07, 0x01, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
	/* STATE, new id 0x8000000000000009 as a delta (+8), SYN-SENT -> CLOSE, err 111 */
	0x03, 0x01, 0x10, 2, 7, 0x6f,
	/* RESET, same id, received */
	0x04, 0x02, 0x01,
	/* CLOSE, same id, bytes_out 5, reason failed, err 111 */
	0x05, 0x02, 0x02, 0x0a, 0x01, 0x6f,
	/* SAMPLE, id by table index 0, bytes_in +1 */
	0x02, 0x03, 0x01, 0x02,
};
/* clang-format on */

#define HAND_EVENTS 9 /* returned; the block holds 10 */

static void hand_events(struct tt_event e[HAND_EVENTS])
{
	memset(e, 0, HAND_EVENTS * sizeof(*e));
	e[0].ts_ns = 1000;
	e[0].type = TT_EV_CONN;
	e[0].flags = TT_EVF_KEYFRAME;
	e[0].conn.id = 0x8000000000000001ull;
	e[0].conn.laddr[10] = e[0].conn.laddr[11] = 0xff;
	e[0].conn.laddr[12] = 10;
	e[0].conn.laddr[15] = 1;
	e[0].conn.raddr[10] = e[0].conn.raddr[11] = 0xff;
	memcpy(e[0].conn.raddr + 12, "\xc0\xa8\x01\x02", 4);
	e[0].conn.lport = 443;
	e[0].conn.rport = 50000;
	e[0].conn.family = 4;
	e[0].conn.proto = IPPROTO_TCP;
	e[0].conn.flags = TT_CF_PARTIAL;
	e[0].conn.pid = e[0].conn.tgid = 100;
	e[0].conn.open_ns = 900;
	memcpy(e[0].conn.comm, "nginx", 5);
	e[1].ts_ns = 1005;
	e[1].type = TT_EV_SAMPLE;
	e[1].sample.id = e[0].conn.id;
	e[1].sample.c.bytes_in = 1000;
	e[1].sample.c.packets_in = 3;
	e[1].sample.c.srtt_us = 50;
	e[1].sample.c.state = 1;
	e[2] = e[1];
	e[2].ts_ns = 1003;
	e[2].flags = TT_EVF_KEYFRAME | 0x100;
	e[2].sample.c.bytes_in = 900;
	e[3].ts_ns = 2003;
	e[3].type = TT_EV_TICK;
	e[3].tick.start_ns = 1003;
	e[4].ts_ns = 2003;
	e[4].type = TT_EV_LOSS;
	e[4].loss.ring_drops = 1;
	e[4].loss.peers_full = UINT64_MAX;
	e[5].ts_ns = 2003;
	e[5].type = TT_EV_STATE;
	e[5].state.id = 0x8000000000000009ull;
	e[5].state.old_state = TT_TCP_SYN_SENT;
	e[5].state.new_state = TT_TCP_CLOSE;
	e[5].state.err = 111;
	e[6].ts_ns = 2003;
	e[6].type = TT_EV_RESET;
	e[6].reset.id = 0x8000000000000009ull;
	e[6].reset.received = 1;
	e[7].ts_ns = 2003;
	e[7].type = TT_EV_CLOSE;
	e[7].close.id = 0x8000000000000009ull;
	e[7].close.c.bytes_out = 5;
	e[7].close.reason = TT_CLOSE_FAILED;
	e[7].close.err = 111;
	e[8] = e[2];
	e[8].ts_ns = 2003;
	e[8].flags = 0;
	e[8].sample.c.bytes_in = 901;
}

static void put_le(uint8_t *p, uint64_t v, int n)
{
	int i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* A frame as FORMAT.md has it; hlen > 48 and flags as a later version may write. */
static size_t hand_frame(uint8_t *f, size_t cap, const uint8_t *raw, size_t raw_len, unsigned hlen,
			 unsigned flags, uint32_t n_ev, uint64_t t0, uint64_t t1)
{
	size_t clen = ZSTD_compress(f + hlen, cap - hlen, raw, raw_len, 3);

	assert_false(ZSTD_isError(clen));
	memset(f, 0x5a, hlen); /* fields a later version added: anything */
	put_le(f, 0x425454f7, 4);
	put_le(f + 4, hlen, 2);
	put_le(f + 6, flags, 2);
	put_le(f + 8, clen, 4);
	put_le(f + 12, raw_len, 4);
	put_le(f + 16, n_ev, 4);
	put_le(f + 20, crc32(0, f + hlen, (uInt)clen), 4);
	put_le(f + 24, t0, 8);
	put_le(f + 32, t1, 8);
	put_le(f + 40, 0, 4);
	put_le(f + hlen - 4, crc32(0, f, hlen - 4), 4);
	return hlen + clen;
}

/* A file header as FORMAT.md has it. */
static size_t hand_header(uint8_t *h, unsigned major, unsigned minor, unsigned hlen, unsigned flags)
{
	memset(h, 0x33, hlen);
	memcpy(h, "\x89TTSEG\r\n", 8);
	put_le(h + 8, major, 2);
	put_le(h + 10, minor, 2);
	put_le(h + 12, hlen, 2);
	put_le(h + 14, flags, 2);
	put_le(h + 16, 42, 8);
	put_le(h + 24, (uint64_t)-5, 8);
	put_le(h + 32, 1700000000, 8);
	put_le(h + 40, 0x1111, 8);
	put_le(h + 48, 0x2222, 8);
	put_le(h + 56, 3, 4);
	put_le(h + hlen - 4, crc32(0, h, hlen - 4), 4);
	return hlen;
}

static void test_hand_encoded_block_per_format_doc(void **state)
{
	const char *path = tpath("hand.tts");
	uint8_t f[4096];
	struct tt_event want[HAND_EVENTS], got;
	struct tt_block_info info;
	struct tt_segr *r;
	const struct tt_seg_meta *m;
	size_t n;
	int i;

	(void)state;
	hand_events(want);
	/* a newer minor (1.3): longer file header, longer frame header, optional flag */
	n = hand_header(f, 1, 3, 72, 0x0100);
	n += hand_frame(f + n, sizeof(f) - n, hand_block, sizeof(hand_block), 56, 0x0100, 10, 1000,
			2003);
	/* a frame that needs a feature this reader lacks: skipped, reported */
	n += hand_frame(f + n, sizeof(f) - n, hand_block, sizeof(hand_block), 48, 0x0002, 10, 1000,
			2003);
	/* 1.1's DELTA (required bit 0): known, the block continues the one before */
	n += hand_frame(f + n, sizeof(f) - n, hand_block, sizeof(hand_block), 48, 0x0001, 10, 1000,
			2003);
	tst_spill(path, f, n);

	r = open_r(path);
	m = tt_segr_meta(r);
	assert_int_equal(m->recording_id, 42);
	assert_int_equal(m->mono_to_wall_ns, -5);
	assert_int_equal(m->created_wall_ns, 1700000000);
	assert_int_equal(m->boot_id_hi, 0x1111);
	assert_int_equal(m->boot_id_lo, 0x2222);
	assert_int_equal(m->seq, 3);
	assert_int_equal(tt_segr_next_block(r, &info), 1);
	assert_int_equal(info.offset, 72);
	assert_int_equal(info.n_events, 10);
	assert_int_equal(info.raw_len, sizeof(hand_block));
	assert_int_equal(info.keyframe, 1);
	for (i = 0; i < HAND_EVENTS; i++) {
		assert_int_equal(tt_segr_next_event(r, &got), 1);
		tst_assert_event_equal(&got, &want[i]);
	}
	assert_int_equal(tt_segr_next_event(r, &got), 0);
	assert_int_equal(tt_segr_next_block(r, &info), -EBADMSG);
	assert_non_null(strstr(tt_segr_errmsg(r), "unsupported"));
	assert_int_equal(tt_segr_next_block(r, &info), 1);
	assert_int_equal(info.keyframe, 0);
	for (i = 0; i < HAND_EVENTS; i++) {
		assert_int_equal(tt_segr_next_event(r, &got), 1);
		tst_assert_event_equal(&got, &want[i]);
	}
	assert_int_equal(tt_segr_next_block(r, &info), 0);
	tt_segr_close(r);

	/* the writer produces exactly these bytes (less what only a later version writes) */
	{
		const char *wpath = tpath("hand-w.tts");
		struct tt_segw *w = create_w(wpath);
		uint8_t expect[sizeof(hand_block)], *file, raw[sizeof(hand_block)];
		size_t e = 0, len;
		uint32_t plen;

		for (i = 0; i < HAND_EVENTS; i++)
			assert_int_equal(tt_segw_append(w, &want[i]), 0);
		assert_int_equal(tt_segw_flush(w, 0, &info), 0);
		tt_segw_close(w);
		/* hand_block without the type-9 event and with the TICK's length removed */
		memcpy(expect, hand_block, 54);
		e = 54;
		memcpy(expect + e, "\x86\xd0\x0f\xd0\x0f", 5);
		e += 5;
		memcpy(expect + e, hand_block + 66, sizeof(hand_block) - 66);
		e += sizeof(hand_block) - 66;
		assert_int_equal(info.raw_len, e);
		file = tst_slurp(wpath, &len);
		/* the file header, byte by byte */
		assert_memory_equal(file, "\x89TTSEG\r\n\x01\x00\x01\x00\x40\x00\x00\x00", 16);
		assert_int_equal(file[16], 42);
		assert_int_equal(file[56], 7);
		assert_int_equal(*(uint32_t *)(file + 60), (uint32_t)crc32(0, file, 60));
		/* the frame header */
		assert_memory_equal(file + 64, "\xf7TTB\x30\x00\x00\x00", 8);
		memcpy(&plen, file + 64 + 8, 4);
		assert_int_equal(len, 64 + 48 + plen);
		assert_int_equal(*(uint32_t *)(file + 64 + 12), e);
		assert_int_equal(*(uint32_t *)(file + 64 + 16), HAND_EVENTS);
		assert_int_equal(*(uint32_t *)(file + 64 + 20), crc32(0, file + 112, plen));
		assert_int_equal(*(uint64_t *)(file + 64 + 24), 1000);
		assert_int_equal(*(uint64_t *)(file + 64 + 32), 2003);
		assert_int_equal(*(uint32_t *)(file + 64 + 44), (uint32_t)crc32(0, file + 64, 44));
		/* the payload: one zstd frame with a content checksum */
		assert_int_equal(ZSTD_findFrameCompressedSize(file + 112, plen), plen);
		/* zstd's Frame_Header_Descriptor, bit 2: Content_Checksum_flag */
		assert_true(file[112 + 4] & 0x04);
		assert_int_equal(ZSTD_decompress(raw, sizeof(raw), file + 112, plen), e);
		assert_memory_equal(raw, expect, e);
		free(file);
	}
}

/*
 * The header layouts of lib/segcodec.h against docs/FORMAT.md's two tables
 * (read from the document itself, so neither can change alone): every row's
 * offset and size is the codec's, the rows tile the header, and a header the
 * codec encodes holds each field where the table says.
 */
struct doc_row {
	char off[16];
	unsigned size;
	char field[64];
	char value[160];
};

/* The rows of the first table after the line that starts with heading. */
static size_t doc_table(const char *doc, const char *heading, struct doc_row *rows, size_t max)
{
	const char *p = strstr(doc, heading);
	size_t n = 0;

	assert_non_null(p);
	p = strstr(p, "\n| ");
	assert_non_null(p);
	p++;
	while (*p == '|' && n < max) {
		const char *eol = strchr(p, '\n');
		char line[512], *cell[5] = { 0 }, *s, *save = NULL;
		int nc = 0;

		assert_non_null(eol);
		assert_true((size_t)(eol - p) < sizeof(line));
		memcpy(line, p, (size_t)(eol - p));
		line[eol - p] = 0;
		p = eol + 1;
		for (s = strtok_r(line, "|", &save); s && nc < 5; s = strtok_r(NULL, "|", &save)) {
			char *e;

			while (*s == ' ')
				s++;
			for (e = s + strlen(s); e > s && e[-1] == ' '; e--)
				;
			*e = 0;
			cell[nc++] = s;
		}
		if (nc < 3 || !strcmp(cell[0], "offset") || !strcmp(cell[0], "---"))
			continue;
		snprintf(rows[n].off, sizeof(rows[n].off), "%s", cell[0]);
		rows[n].size = (unsigned)strtoul(cell[1], NULL, 10);
		snprintf(rows[n].field, sizeof(rows[n].field), "%s", cell[2]);
		snprintf(rows[n].value, sizeof(rows[n].value), "%s", nc > 3 ? cell[3] : "");
		n++;
	}
	return n;
}

struct layout {
	const char *field; /* as the table names it */
	unsigned off, size;
};

/* Check rows against want (in table order); end is the header length (H or F). */
static void check_layout(const struct doc_row *rows, size_t n, const struct layout *want,
			 size_t n_want, const char *end, unsigned hdr_len)
{
	size_t i;

	assert_true(n >= n_want);
	for (i = 0; i < n_want; i++) {
		unsigned off;

		if (strcmp(rows[i].field, want[i].field))
			fail_msg("row %zu: table says '%s', codec has '%s'", i, rows[i].field,
				 want[i].field);
		/* the CRC row says "H-4" (or "F-4"): the last 4 bytes of the header */
		if (!strncmp(rows[i].off, end, strlen(end)) && rows[i].off[strlen(end)] == '-')
			off = hdr_len - (unsigned)strtoul(rows[i].off + strlen(end) + 1, NULL, 10);
		else
			off = (unsigned)strtoul(rows[i].off, NULL, 10);
		if (off != want[i].off || rows[i].size != want[i].size)
			fail_msg("%s: table says offset %s size %u, codec %u size %u",
				 want[i].field, rows[i].off, rows[i].size, want[i].off,
				 want[i].size);
		/* the fields tile the header, no gap, no overlap */
		if (i + 1 < n_want)
			assert_int_equal(want[i].off + want[i].size, want[i + 1].off);
		else
			assert_int_equal(want[i].off + want[i].size, hdr_len);
	}
}

static uint64_t get_le(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	while (n--)
		v = v << 8 | p[n];
	return v;
}

static void test_header_layout_per_format_doc(void **state)
{
	static const struct layout file[] = {
		{ "magic", TT_SEGC_H_MAGIC, TT_SEGC_MAGIC_LEN },
		{ "major version", TT_SEGC_H_MAJOR, 2 },
		{ "minor version", TT_SEGC_H_MINOR, 2 },
		{ "header length `H`", TT_SEGC_H_LEN, 2 },
		{ "flags", TT_SEGC_H_FLAGS, 2 },
		{ "recording id", TT_SEGC_H_RECORDING_ID, 8 },
		{ "mono_to_wall_ns (signed)", TT_SEGC_H_MONO_TO_WALL, 8 },
		{ "created_wall_ns", TT_SEGC_H_CREATED, 8 },
		{ "boot_id_hi", TT_SEGC_H_BOOT_ID_HI, 8 },
		{ "boot_id_lo", TT_SEGC_H_BOOT_ID_LO, 8 },
		{ "seq", TT_SEGC_H_SEQ, 4 },
		{ "header CRC", TT_SEGC_H_CRC, 4 },
	};
	static const struct layout frame[] = {
		{ "frame magic", TT_SEGC_F_MAGIC, TT_SEGC_FRAME_MAGIC_LEN },
		{ "frame header length `F`", TT_SEGC_F_LEN, 2 },
		{ "flags", TT_SEGC_F_FLAGS, 2 },
		{ "payload length `P`", TT_SEGC_F_PAYLOAD_LEN, 4 },
		{ "raw length", TT_SEGC_F_RAW_LEN, 4 },
		{ "event count", TT_SEGC_F_N_EVENTS, 4 },
		{ "payload CRC", TT_SEGC_F_PAYLOAD_CRC, 4 },
		{ "t_start", TT_SEGC_F_T_START, 8 },
		{ "t_end", TT_SEGC_F_T_END, 8 },
		{ "reserved", TT_SEGC_F_RESERVED, 4 },
		{ "header CRC", TT_SEGC_F_CRC, 4 },
	};
	const struct tt_seg_meta meta = { .recording_id = 0x0102030405060708,
					  .seq = 0x0a0b0c0d,
					  .mono_to_wall_ns = -7,
					  .created_wall_ns = 0x1112131415161718,
					  .boot_id_hi = 0x2122232425262728,
					  .boot_id_lo = 0x3132333435363738 };
	const struct tt_segc_frame fr = { .flags = TT_SEGC_FRAME_DELTA,
					  .payload_len = 0x41424344,
					  .raw_len = 0x51525354,
					  .n_events = 0x61626364,
					  .payload_crc = 0x71727374,
					  .t_start = 0x8182838485868788,
					  .t_end = 0x9192939495969798 };
	struct doc_row rows[32];
	struct tt_segc_file fd;
	struct tt_segc_frame fdec;
	uint8_t h[TT_SEGC_HDR_LEN], f[TT_SEGC_FRAME_HDR_LEN];
	char magic[64] = "";
	unsigned hlen = 0;
	size_t n, len, i;
	char *doc;

	(void)state;
	doc = (char *)tst_slurp(TT_FORMAT_DOC, &len);
	assert_non_null(doc);
	doc = realloc(doc, len + 1);
	assert_non_null(doc);
	doc[len] = 0;

	/* file header: layout, documented values, and where the encoder puts each field */
	n = doc_table(doc, "\n## File header", rows, 32);
	assert_int_equal(n, sizeof(file) / sizeof(file[0]));
	check_layout(rows, n, file, n, "H", TT_SEGC_HDR_LEN);
	for (i = 0; i < TT_SEGC_MAGIC_LEN; i++)
		snprintf(magic + 3 * i, sizeof(magic) - 3 * i, "%s%02X", i ? " " : "`",
			 tt_segc_magic[i]);
	assert_true(!strncmp(rows[0].value, magic, strlen(magic)));
	assert_int_equal(strtoul(rows[1].value, NULL, 10), TT_SEG_VERSION);
	assert_int_equal(strtoul(rows[2].value, NULL, 10), TT_SEGC_MINOR);
	assert_int_equal(strtoul(rows[3].value, NULL, 10), TT_SEGC_HDR_LEN);
	assert_int_equal(strtoul(rows[4].value, NULL, 10), 0);

	tt_segc_file_encode(h, &meta);
	assert_memory_equal(h + file[0].off, tt_segc_magic, TT_SEGC_MAGIC_LEN);
	assert_int_equal(get_le(h + file[1].off, file[1].size), TT_SEG_VERSION);
	assert_int_equal(get_le(h + file[2].off, file[2].size), TT_SEGC_MINOR);
	assert_int_equal(get_le(h + file[3].off, file[3].size), TT_SEGC_HDR_LEN);
	assert_int_equal(get_le(h + file[4].off, file[4].size), 0);
	assert_int_equal(get_le(h + file[5].off, file[5].size), meta.recording_id);
	assert_int_equal(get_le(h + file[6].off, file[6].size), (uint64_t)meta.mono_to_wall_ns);
	assert_int_equal(get_le(h + file[7].off, file[7].size), meta.created_wall_ns);
	assert_int_equal(get_le(h + file[8].off, file[8].size), meta.boot_id_hi);
	assert_int_equal(get_le(h + file[9].off, file[9].size), meta.boot_id_lo);
	assert_int_equal(get_le(h + file[10].off, file[10].size), meta.seq);
	assert_int_equal(get_le(h + file[11].off, file[11].size), crc32(0, h, TT_SEGC_HDR_LEN - 4));
	assert_int_equal(tt_segc_file_peek(h, &hlen), TT_SEGC_OK);
	assert_int_equal(hlen, TT_SEGC_HDR_LEN);
	assert_int_equal(tt_segc_file_decode(h, hlen, &fd), TT_SEGC_OK);
	assert_memory_equal(&fd.meta, &meta, sizeof(meta));

	/* frame header, the same way */
	n = doc_table(doc, "\n## Frame", rows, 32);
	/* the last row is the payload after the header, not a header field */
	assert_int_equal(n, sizeof(frame) / sizeof(frame[0]) + 1);
	assert_string_equal(rows[n - 1].field, "payload");
	check_layout(rows, n - 1, frame, n - 1, "F", TT_SEGC_FRAME_HDR_LEN);
	for (i = 0; i < TT_SEGC_FRAME_MAGIC_LEN; i++)
		snprintf(magic + 3 * i, sizeof(magic) - 3 * i, "%s%02X", i ? " " : "`",
			 tt_segc_frame_magic[i]);
	assert_true(!strncmp(rows[0].value, magic, strlen(magic)));
	snprintf(magic, sizeof(magic), "(0x%08X ", TT_SEGC_FRAME_MAGIC);
	assert_non_null(strstr(rows[0].value, magic));
	assert_int_equal(strtoul(rows[1].value, NULL, 10), TT_SEGC_FRAME_HDR_LEN);
	assert_non_null(strstr(rows[2].value, "defines bit 0, `DELTA`"));
	assert_int_equal(TT_SEGC_FRAME_DELTA, 1u << 0);
	assert_non_null(strstr(rows[4].value, "≤ 64 MiB"));
	assert_int_equal(TT_SEGC_RAW_CAP, 64u << 20);
	snprintf(magic, sizeof(magic), "`%u ≤ F ≤ %u`", TT_SEGC_FRAME_HDR_LEN,
		 TT_SEGC_FRAME_HDR_MAX);
	assert_non_null(strstr(doc, magic));

	tt_segc_frame_encode(f, &fr);
	assert_int_equal(get_le(f + frame[0].off, frame[0].size), TT_SEGC_FRAME_MAGIC);
	assert_memory_equal(f + frame[0].off, tt_segc_frame_magic, TT_SEGC_FRAME_MAGIC_LEN);
	assert_int_equal(get_le(f + frame[1].off, frame[1].size), TT_SEGC_FRAME_HDR_LEN);
	assert_int_equal(get_le(f + frame[2].off, frame[2].size), fr.flags);
	assert_int_equal(get_le(f + frame[3].off, frame[3].size), fr.payload_len);
	assert_int_equal(get_le(f + frame[4].off, frame[4].size), fr.raw_len);
	assert_int_equal(get_le(f + frame[5].off, frame[5].size), fr.n_events);
	assert_int_equal(get_le(f + frame[6].off, frame[6].size), fr.payload_crc);
	assert_int_equal(get_le(f + frame[7].off, frame[7].size), fr.t_start);
	assert_int_equal(get_le(f + frame[8].off, frame[8].size), fr.t_end);
	assert_int_equal(get_le(f + frame[9].off, frame[9].size), 0);
	assert_int_equal(get_le(f + frame[10].off, frame[10].size),
			 crc32(0, f, TT_SEGC_FRAME_HDR_LEN - 4));
	assert_true(tt_segc_is_frame_magic(f));
	assert_int_equal(tt_segc_frame_peek(f, &hlen), TT_SEGC_OK);
	assert_int_equal(hlen, TT_SEGC_FRAME_HDR_LEN);
	assert_int_equal(tt_segc_frame_decode(f, hlen, &fdec), TT_SEGC_OK);
	assert_int_equal(fdec.hlen, TT_SEGC_FRAME_HDR_LEN);
	assert_int_equal(fdec.flags, fr.flags);
	assert_int_equal(fdec.payload_len, fr.payload_len);
	assert_int_equal(fdec.raw_len, fr.raw_len);
	assert_int_equal(fdec.n_events, fr.n_events);
	assert_int_equal(fdec.payload_crc, fr.payload_crc);
	assert_int_equal(fdec.t_start, fr.t_start);
	assert_int_equal(fdec.t_end, fr.t_end);
	free(doc);
}

static void test_version_rules(void **state)
{
	const char *path = tpath("version.tts");
	uint8_t f[4096];
	struct tt_segr *r = NULL;
	char why[256];
	size_t n;

	(void)state;
	/* another major version: refused, not taken for damage */
	n = hand_header(f, 2, 0, 64, 0);
	n += hand_frame(f + n, sizeof(f) - n, hand_block, sizeof(hand_block), 48, 0, 10, 1000,
			2003);
	tst_spill(path, f, n);
	assert_int_equal(tt_segr_open(path, &r, why, sizeof(why)), -ENOTSUP);
	assert_null(r);
	assert_non_null(strstr(why, "2.0"));

	/* a required header flag this reader does not know */
	hand_header(f, 1, 1, 64, 0x0004);
	tst_spill(path, f, n);
	assert_int_equal(tt_segr_open(path, &r, why, sizeof(why)), -ENOTSUP);

	/* an optional one is ignored */
	hand_header(f, 1, 1, 64, 0x8000);
	tst_spill(path, f, n);
	r = open_r(path);
	tt_segr_close(r);

	/* an unknown type without a length cannot be skipped: the block is lost */
	{
		uint8_t raw[] = { 0x0a, 0x00, 0x01, 0x02 };
		struct tt_block_info info;
		struct tt_event ev;

		n = hand_header(f, 1, 0, 64, 0);
		n += hand_frame(f + n, sizeof(f) - n, raw, sizeof(raw), 48, 0, 1, 5, 5);
		tst_spill(path, f, n);
		r = open_r(path);
		assert_int_equal(tt_segr_next_block(r, &info), 1);
		assert_int_equal(tt_segr_next_event(r, &ev), -EBADMSG);
		assert_non_null(strstr(tt_segr_errmsg(r), "unknown event type"));
		assert_int_equal(tt_segr_next_block(r, &info), 0);
		tt_segr_close(r);
	}

	/* not a segment at all */
	tst_spill(path,
		  (const uint8_t *)"hello, this is not a segment file at all....."
				   "..................",
		  64);
	assert_int_equal(tt_segr_open(path, &r, why, sizeof(why)), -EBADMSG);
	assert_non_null(strstr(why, "magic"));
	assert_int_equal(tt_segr_open(tpath("does-not-exist"), &r, why, sizeof(why)), -ENOENT);
}

/* ---- writer behaviour ---------------------------------------------------------- */

/* A delta block's frame carries the DELTA flag; keyframe blocks, the default, do not. */
static void test_delta_blocks_flagged(void **state)
{
	const char *path = tpath("delta.tts");
	struct tt_segw *w = create_w(path);
	struct tt_block_info info, got[3];
	struct tt_event ev = { .ts_ns = 5 * SEC, .type = TT_EV_TICK };
	struct tt_segr *r;
	uint8_t *file;
	size_t len;
	int i;

	(void)state;
	for (i = 0; i < 3; i++) {
		ev.ts_ns += SEC;
		ev.tick.start_ns = ev.ts_ns - SEC;
		assert_int_equal(tt_segw_append(w, &ev), 0);
		if (i == 1)
			tt_segw_set_delta(w, 1);
		assert_int_equal(tt_segw_flush(w, 0, &info), 0);
		assert_int_equal(info.keyframe, i != 1);
		got[i] = info;
	}
	tt_segw_close(w);
	file = tst_slurp(path, &len);
	/* flags at frame offset 6: bit 0 required, DELTA */
	assert_int_equal(file[got[0].offset + 6], 0);
	assert_int_equal(file[got[1].offset + 6], 1);
	assert_int_equal(file[got[2].offset + 6], 0);
	free(file);
	r = open_r(path);
	for (i = 0; i < 3; i++) {
		assert_int_equal(tt_segr_next_block(r, &info), 1);
		assert_int_equal(info.offset, got[i].offset);
		assert_int_equal(info.keyframe, i != 1);
	}
	assert_int_equal(tt_segr_load_block(r, got[1].offset, &info), 1);
	assert_int_equal(info.keyframe, 0);
	tt_segr_close(r);
}

static void test_writer_contract(void **state)
{
	const char *path = tpath("contract.tts");
	struct tt_segw *w = create_w(path), *w2 = NULL;
	struct tt_block_info info;
	struct tt_event ev = { .ts_ns = 1, .type = TT_EV_TICK };
	char why[256] = "";

	(void)state;
	/* never reuses a file */
	assert_int_equal(tt_segw_create(path, &test_meta, 0600, &w2, why, sizeof(why)), -EEXIST);
	assert_null(w2);
	assert_non_null(strstr(why, path));

	assert_int_equal(tt_segw_size(w), SEG_HDR);
	assert_int_equal(tt_segw_flush(w, 1, &info), -ENODATA);
	assert_int_equal(tt_segw_size(w), SEG_HDR);
	ev.type = 0;
	assert_int_equal(tt_segw_append(w, &ev), -EINVAL);
	ev.type = TT_EV_TYPE_MAX;
	assert_int_equal(tt_segw_append(w, &ev), -EINVAL);
	assert_int_equal(tt_segw_pending(w), 0);
	ev.type = TT_EV_TICK;
	assert_int_equal(tt_segw_append(w, &ev), 0);
	assert_int_equal(tt_segw_pending(w), 1);
	tt_segw_close(w); /* pending dropped */
	tt_segw_close(NULL);
	tt_segr_close(NULL);
	w = NULL;
	{
		struct tt_segr *r = open_r(path);

		assert_int_equal(tt_segr_next_block(r, &info), 0);
		tt_segr_close(r);
	}
}

/* A clean stop rewrites the header with TT_SEG_CLEAN_END: same meta, same frames. */
static void test_mark_clean_end(void **state)
{
	const char *path = tpath("clean.tts");
	struct tt_segw *w = create_w(path);
	struct tt_block_info info, got;
	struct tt_event ev = { .ts_ns = 5, .type = TT_EV_TICK };
	struct tt_seg_meta want = test_meta;
	struct tt_segr *r;
	struct stat st;

	(void)state;
	assert_int_equal(tt_segw_append(w, &ev), 0);
	assert_int_equal(tt_segw_flush(w, 1, &info), 0);
	assert_int_equal(tt_segw_mark_clean_end(w), 0);
	tt_segw_close(w);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, SEG_HDR + info.length);

	r = open_r(path);
	want.flags = TT_SEG_CLEAN_END;
	assert_non_null(tt_segr_meta(r));
	assert_memory_equal(tt_segr_meta(r), &want, sizeof(want));
	assert_int_equal(tt_segr_next_block(r, &got), 1);
	assert_info_equal(&got, &info);
	assert_int_equal(tt_segr_next_block(r, &got), 0);
	tt_segr_close(r);
}

static void test_flush_error_truncates_and_retries(void **state)
{
	const char *path = tpath("efbig.tts");
	struct tt_segw *w = create_w(path);
	struct tt_block_info info[3];
	struct rlimit old, lim;
	static struct tt_event ev[3000];
	struct gen g;
	struct stat st;
	uint64_t good;
	void (*oldsig)(int);
	int i, err;

	(void)state;
	gen_init(&g, 77);
	for (i = 0; i < 3000; i++)
		gen_event(&g, &ev[i]);
	for (i = 0; i < 1000; i++)
		assert_int_equal(tt_segw_append(w, &ev[i]), 0);
	assert_int_equal(tt_segw_flush(w, 1, &info[0]), 0);
	good = tt_segw_size(w);
	for (i = 1000; i < 2000; i++)
		assert_int_equal(tt_segw_append(w, &ev[i]), 0);

	/* a file size limit stands in for a full disk: part of the frame gets written */
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	oldsig = signal(SIGXFSZ, SIG_IGN);
	lim = old;
	lim.rlim_cur = good + 100;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	err = tt_segw_flush(w, 1, &info[1]);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, oldsig);
	assert_int_equal(err, -EFBIG);
	assert_non_null(strstr(tt_segw_errmsg(w), "File too large"));
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal((uint64_t)st.st_size, good); /* cut back to the last frame */
	assert_int_equal(tt_segw_size(w), good);
	assert_int_equal(tt_segw_pending(w), 1000); /* kept for a retry */

	assert_int_equal(tt_segw_flush(w, 1, &info[1]), 0);
	assert_int_equal(info[1].offset, good);
	for (i = 2000; i < 3000; i++)
		assert_int_equal(tt_segw_append(w, &ev[i]), 0);
	assert_int_equal(tt_segw_flush(w, 0, &info[2]), 0);
	tt_segw_close(w);
	{
		struct tt_segr *r = open_r(path);
		struct tt_block_info got;
		struct tt_event e;
		int b, k;

		for (b = 0; b < 3; b++) {
			assert_int_equal(tt_segr_next_block(r, &got), 1);
			assert_info_equal(&got, &info[b]);
			for (k = 0; k < 1000; k++) {
				assert_int_equal(tt_segr_next_event(r, &e), 1);
				tst_assert_event_equal(&e, &ev[b * 1000 + k]);
			}
			assert_int_equal(tt_segr_next_event(r, &e), 0);
		}
		assert_int_equal(tt_segr_next_block(r, &got), 0);
		tt_segr_close(r);
	}
}

/* ---- size on a synthetic workload ---------------------------------------------- */

#define SZ_CONNS 1000
#define SZ_TICKS 300

struct sz_conn {
	uint64_t id;
	struct tt_counters c;
};

/*
 * 1,000 mostly idle connections of a server, 1 s ticks, 10% of them with
 * traffic in each tick; blocks of ticks_per_block ticks, each opened by the
 * keyframe the recorder writes (the whole table). With emit_samples 0 the
 * counters move the same but no SAMPLE is written, so the difference between
 * two runs is what the SAMPLEs cost. Returns the bytes of frames written.
 */
static uint64_t size_run(const char *path, int ticks_per_block, int emit_samples, uint64_t *samples,
			 uint64_t *raw_total)
{
	static struct sz_conn k[SZ_CONNS];
	struct tt_segw *w = create_w(path);
	struct tt_block_info info;
	struct tt_event e;
	uint64_t s = 0x51ce, ts = 3600 * SEC, last = ts;
	int t, i, j;
	uint64_t size;

	*samples = 0;
	*raw_total = 0;
	for (i = 0; i < SZ_CONNS; i++) {
		k[i].id =
			0x10000 + (uint64_t)i * 7 + tst_rnd(&s) % 7; /* cookies: a global counter */
		memset(&k[i].c, 0, sizeof(k[i].c));
		k[i].c.bytes_in = tst_rnd(&s) % 100000000;
		k[i].c.bytes_out = tst_rnd(&s) % 1000000;
		k[i].c.packets_in = k[i].c.bytes_in / 1400;
		k[i].c.packets_out = k[i].c.bytes_out / 600;
		k[i].c.srtt_us = 200 + (uint32_t)(tst_rnd(&s) % 5000);
		k[i].c.rttvar_us = k[i].c.srtt_us / 4;
		k[i].c.state = TT_TCP_ESTABLISHED;
	}
	for (t = 0; t < SZ_TICKS; t++) {
		if (t % ticks_per_block == 0) {
			for (i = 0; i < SZ_CONNS; i++) {
				memset(&e, 0, sizeof(e));
				e.ts_ns = last;
				e.flags = TT_EVF_KEYFRAME;
				e.type = TT_EV_CONN;
				e.conn.id = k[i].id;
				e.conn.laddr[10] = e.conn.laddr[11] = 0xff;
				memcpy(e.conn.laddr + 12, "\x0a\x00\x00\x05", 4);
				e.conn.raddr[10] = e.conn.raddr[11] = 0xff;
				memcpy(e.conn.raddr + 12,
				       &(uint32_t){ 0x0a000000u + (uint32_t)i * 37 }, 4);
				e.conn.lport = 443;
				e.conn.rport = (uint16_t)(32768 + (i * 7919) % 28000);
				e.conn.family = 4;
				e.conn.proto = IPPROTO_TCP;
				e.conn.pid = e.conn.tgid = 4000 + (uint32_t)(i % 4);
				e.conn.netns = 4026531840u;
				e.conn.cgroup = 9876;
				e.conn.open_ns = 60 * SEC + (uint64_t)i * 3 * SEC;
				memcpy(e.conn.comm, "nginx", 5);
				assert_int_equal(tt_segw_append(w, &e), 0);
				memset(&e.conn, 0, sizeof(e.conn));
				e.type = TT_EV_SAMPLE;
				e.sample.id = k[i].id;
				e.sample.c = k[i].c;
				assert_int_equal(tt_segw_append(w, &e), 0);
			}
		}
		ts = last + SEC;
		for (j = 0; j < SZ_CONNS / 10; j++) {
			struct sz_conn *c = &k[tst_rnd(&s) % SZ_CONNS];
			uint64_t din = tst_rnd(&s) % 3 ? tst_rnd(&s) % 4000 : tst_rnd(&s) % 200000;

			c->c.bytes_in += din;
			c->c.bytes_out += 100 + tst_rnd(&s) % 900;
			c->c.packets_in += 1 + din / 1400;
			c->c.packets_out += 1 + tst_rnd(&s) % 3;
			if (tst_rnd(&s) % 2)
				c->c.srtt_us += (uint32_t)(tst_rnd(&s) % 200) - 100;
			if (tst_rnd(&s) % 4 == 0)
				c->c.rttvar_us = c->c.srtt_us / 4 + (uint32_t)(tst_rnd(&s) % 50);
			if (!emit_samples)
				continue;
			memset(&e, 0, sizeof(e));
			/* the collector reads every counter at the tick deadline: one ts */
			e.ts_ns = ts;
			e.type = TT_EV_SAMPLE;
			e.sample.id = c->id;
			e.sample.c = c->c;
			assert_int_equal(tt_segw_append(w, &e), 0);
			(*samples)++;
		}
		memset(&e, 0, sizeof(e));
		e.ts_ns = ts;
		e.type = TT_EV_TICK;
		e.tick.start_ns = last;
		assert_int_equal(tt_segw_append(w, &e), 0);
		last = ts;
		if ((t + 1) % ticks_per_block == 0) {
			assert_int_equal(tt_segw_flush(w, 0, &info), 0);
			*raw_total += info.raw_len;
		}
	}
	size = tt_segw_size(w) - SEG_HDR;
	tt_segw_close(w);
	return size;
}

static void test_size_synthetic_1000_connections(void **state)
{
	uint64_t samples, none, raw, raw0, size, size0;
	double per_sample, per_conn_tick;
	int tpb;

	(void)state;
	for (tpb = 5; tpb <= 10; tpb += 5) {
		size = size_run(tpath("size-a.tts"), tpb, 1, &samples, &raw);
		size0 = size_run(tpath("size-b.tts"), tpb, 0, &none, &raw0);
		per_sample = (double)(size - size0) / (double)samples;
		per_conn_tick = (double)size / (double)(SZ_CONNS * SZ_TICKS);
		printf("segment size, 1000 conns, 10%% active per 1 s tick, %d s blocks:\n"
		       "  SAMPLE: %.2f bytes raw, %.2f compressed (ratio %.2f)\n"
		       "  all-in: %.2f bytes per connection per tick, %.1f bytes per SAMPLE, "
		       "%.1f KiB/s, ratio %.2f (keyframes %.1f%% of the bytes)\n",
		       tpb, (double)(raw - raw0) / (double)samples, per_sample,
		       (double)(raw - raw0) / (double)(size - size0), per_conn_tick,
		       (double)size / (double)samples, (double)size / SZ_TICKS / 1024.0,
		       (double)raw / (double)size, 100.0 * (double)size0 / (double)size);
		/* sizes are deterministic: generous bounds, not a benchmark */
		assert_true(per_sample < 12.0);
		assert_true(per_conn_tick < 12.0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_random_streams),
		cmocka_unit_test(test_write_read_aggregate_equals_direct),
		cmocka_unit_test(test_truncation_every_byte_of_last_frame),
		cmocka_unit_test(test_bit_flips_lose_one_block),
		cmocka_unit_test(test_several_damages_and_garbage),
		cmocka_unit_test(test_decoder_survives_mutated_blocks),
		cmocka_unit_test(test_hand_encoded_block_per_format_doc),
		cmocka_unit_test(test_header_layout_per_format_doc),
		cmocka_unit_test(test_version_rules),
		cmocka_unit_test(test_delta_blocks_flagged),
		cmocka_unit_test(test_writer_contract),
		cmocka_unit_test(test_mark_clean_end),
		cmocka_unit_test(test_flush_error_truncates_and_retries),
		cmocka_unit_test(test_size_synthetic_1000_connections),
	};

	return cmocka_run_group_tests_name("segment", tests, group_setup, group_teardown);
}
