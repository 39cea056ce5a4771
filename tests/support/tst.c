// SPDX-License-Identifier: GPL-2.0
/* tst.c: the C tests' shared fixtures (tst.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <netinet/in.h>
#include <cmocka.h>
#include <sqlite3.h>

#include "tst.h"

uint64_t tst_rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

int tst_chance(uint64_t *s, unsigned pct)
{
	return tst_rnd(s) % 100 < pct;
}

int tst_tmpdir(char *buf, size_t len, const char *name)
{
	int n = snprintf(buf, len, "/tmp/tt_%s_XXXXXX", name);

	if (n < 0 || (size_t)n >= len)
		return -1;
	return mkdtemp(buf) ? 0 : -1;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

void tst_rmtree(const char *dir)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

uint8_t *tst_slurp(const char *path, size_t *len)
{
	struct stat st;
	uint8_t *p;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		fail_msg("open %s: %s", path, strerror(errno));
	assert_int_equal(fstat(fd, &st), 0);
	p = malloc((size_t)st.st_size + 1);
	assert_non_null(p);
	assert_int_equal(read(fd, p, (size_t)st.st_size), st.st_size);
	p[st.st_size] = 0;
	close(fd);
	*len = (size_t)st.st_size;
	return p;
}

void tst_spill(const char *path, const uint8_t *p, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd < 0)
		fail_msg("open %s: %s", path, strerror(errno));
	assert_int_equal(write(fd, p, len), (ssize_t)len);
	close(fd);
}

void tst_flip_byte(const char *path, uint64_t off, uint8_t mask)
{
	uint8_t byte;
	int fd = open(path, O_RDWR);

	if (fd < 0)
		fail_msg("open %s: %s", path, strerror(errno));
	assert_int_equal(pread(fd, &byte, 1, (off_t)off), 1);
	byte ^= mask;
	assert_int_equal(pwrite(fd, &byte, 1, (off_t)off), 1);
	close(fd);
}

int64_t tst_q_int(const char *dir, const char *sql)
{
	char path[512];
	sqlite3 *db;
	sqlite3_stmt *q;
	int64_t v = -1;

	snprintf(path, sizeof(path), "%s/index.db", dir);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	if (sqlite3_step(q) == SQLITE_ROW)
		v = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	sqlite3_close(db);
	return v;
}

const struct tt_row *tst_row_of(const struct tt_table *t, uint64_t id)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		if (t->rows[i].conn.id == id)
			return &t->rows[i];
	return NULL;
}

void tst_assert_ctr_equal(const struct tt_counters *a, const struct tt_counters *b)
{
	assert_int_equal(a->bytes_in, b->bytes_in);
	assert_int_equal(a->bytes_out, b->bytes_out);
	assert_int_equal(a->packets_in, b->packets_in);
	assert_int_equal(a->packets_out, b->packets_out);
	assert_int_equal(a->srtt_us, b->srtt_us);
	assert_int_equal(a->rttvar_us, b->rttvar_us);
	assert_int_equal(a->retrans, b->retrans);
	assert_int_equal(a->rst_sent, b->rst_sent);
	assert_int_equal(a->rst_recv, b->rst_recv);
	assert_int_equal(a->state, b->state);
	assert_memory_equal(a->pad, b->pad, sizeof(a->pad));
}

void tst_assert_conn_equal(const struct tt_ev_conn *a, const struct tt_ev_conn *b)
{
	assert_int_equal(a->id, b->id);
	assert_memory_equal(a->laddr, b->laddr, 16);
	assert_memory_equal(a->raddr, b->raddr, 16);
	assert_int_equal(a->lport, b->lport);
	assert_int_equal(a->rport, b->rport);
	assert_int_equal(a->family, b->family);
	assert_int_equal(a->proto, b->proto);
	assert_int_equal(a->flags, b->flags);
	assert_int_equal(a->pad, b->pad);
	assert_int_equal(a->pid, b->pid);
	assert_int_equal(a->tgid, b->tgid);
	assert_int_equal(a->netns, b->netns);
	assert_int_equal(a->cgroup, b->cgroup);
	assert_int_equal(a->open_ns, b->open_ns);
	assert_memory_equal(a->comm, b->comm, TT_COMM_MAX);
}

void tst_assert_event_equal(const struct tt_event *a, const struct tt_event *b)
{
	assert_int_equal(a->ts_ns, b->ts_ns);
	assert_int_equal(a->type, b->type);
	assert_int_equal(a->flags, b->flags);
	switch (a->type) {
	case TT_EV_CONN:
		tst_assert_conn_equal(&a->conn, &b->conn);
		break;
	case TT_EV_SAMPLE:
		assert_int_equal(a->sample.id, b->sample.id);
		tst_assert_ctr_equal(&a->sample.c, &b->sample.c);
		break;
	case TT_EV_STATE:
		assert_int_equal(a->state.id, b->state.id);
		assert_int_equal(a->state.old_state, b->state.old_state);
		assert_int_equal(a->state.new_state, b->state.new_state);
		assert_int_equal(a->state.err, b->state.err);
		break;
	case TT_EV_RESET:
		assert_int_equal(a->reset.id, b->reset.id);
		assert_int_equal(a->reset.received, b->reset.received);
		break;
	case TT_EV_CLOSE:
		assert_int_equal(a->close.id, b->close.id);
		tst_assert_ctr_equal(&a->close.c, &b->close.c);
		assert_int_equal(a->close.reason, b->close.reason);
		assert_int_equal(a->close.pad, b->close.pad);
		assert_int_equal(a->close.err, b->close.err);
		break;
	case TT_EV_TICK:
		assert_int_equal(a->tick.start_ns, b->tick.start_ns);
		break;
	case TT_EV_LOSS:
		assert_int_equal(a->loss.ring_drops, b->loss.ring_drops);
		assert_int_equal(a->loss.socks_full, b->loss.socks_full);
		assert_int_equal(a->loss.peers_full, b->loss.peers_full);
		break;
	default:
		fail_msg("unexpected event type %u", a->type);
	}
}

void tst_assert_table_equal(const struct tt_table *got, const struct tt_table *want, int strict)
{
	size_t i;

	assert_int_equal(got->n, want->n);
	assert_int_equal(got->start_ns, want->start_ns);
	assert_int_equal(got->ts_ns, want->ts_ns);
	if (strict)
		assert_int_equal(got->seq, want->seq);
	assert_int_equal(got->bytes_in, want->bytes_in);
	assert_int_equal(got->bytes_out, want->bytes_out);
	assert_true(got->rate_in == want->rate_in && got->rate_out == want->rate_out);
	assert_int_equal(got->opened, want->opened);
	assert_int_equal(got->closed, want->closed);
	assert_memory_equal(&got->loss, &want->loss, sizeof(got->loss));
	assert_int_equal(got->orphans, want->orphans);
	for (i = 0; i < want->n; i++) {
		const struct tt_row *g = tst_row_of(got, want->rows[i].conn.id);

		assert_non_null(g);
		tst_assert_row_equal(g, &want->rows[i], strict);
	}
}

void tst_assert_row_equal(const struct tt_row *g, const struct tt_row *w, int strict)
{
	tst_assert_conn_equal(&g->conn, &w->conn);
	tst_assert_ctr_equal(&g->tot, &w->tot);
	assert_int_equal(g->d_bytes_in, w->d_bytes_in);
	assert_int_equal(g->d_bytes_out, w->d_bytes_out);
	assert_int_equal(g->d_packets_in, w->d_packets_in);
	assert_int_equal(g->d_packets_out, w->d_packets_out);
	assert_int_equal(g->d_retrans, w->d_retrans);
	assert_int_equal(g->d_resets, w->d_resets);
	assert_true(g->rate_in == w->rate_in && g->rate_out == w->rate_out);
	assert_int_equal(g->open_ns, w->open_ns);
	assert_int_equal(g->close_ns, w->close_ns);
	if (strict)
		assert_int_equal(g->last_active_ns, w->last_active_ns);
	assert_int_equal(g->flags, w->flags);
	assert_int_equal(g->close_reason, w->close_reason);
	assert_int_equal(g->err, w->err);
}

void tst_capture_table(struct tst_capture *c, const struct tt_table *t)
{
	struct tst_saved *s;

	if (c->n == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 64;
		c->t = realloc(c->t, c->cap * sizeof(*c->t));
		assert_non_null(c->t);
	}
	s = &c->t[c->n++];
	s->t = *t;
	s->rows = malloc((t->n ? t->n : 1) * sizeof(*t->rows));
	assert_non_null(s->rows);
	if (t->n)
		memcpy(s->rows, t->rows, t->n * sizeof(*t->rows));
	s->t.rows = s->rows;
}

void tst_capture_event(struct tst_capture *c, const struct tt_event *ev)
{
	if (c->nev == c->evcap) {
		c->evcap = c->evcap ? 2 * c->evcap : 256;
		c->ev = realloc(c->ev, c->evcap * sizeof(*c->ev));
		assert_non_null(c->ev);
	}
	c->ev[c->nev++] = *ev;
}

void tst_capture_free(struct tst_capture *c)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		free(c->t[i].rows);
	free(c->t);
	free(c->ev);
	memset(c, 0, sizeof(*c));
}

const struct tst_saved *tst_capture_at(const struct tst_capture *c, uint64_t ts)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		if (c->t[i].t.ts_ns == ts)
			return &c->t[i];
	return NULL;
}

/* ---- the stream ------------------------------------------------------------------------------ */

void tst_gen_init(struct tst_gen *g, uint64_t seed, uint64_t t0)
{
	memset(g, 0, sizeof(*g));
	g->s = seed ? seed : 1;
	g->t0 = g->last_tick = t0;
	g->next_cookie = 4096;
}

static void conn_event(struct tst_gen *g, struct tt_event *ev, const struct tst_live *l,
		       uint64_t ts)
{
	memset(ev, 0, sizeof(*ev));
	ev->ts_ns = ts;
	ev->type = TT_EV_CONN;
	ev->conn.id = l->id;
	ev->conn.laddr[10] = ev->conn.laddr[11] = 0xff;
	ev->conn.laddr[12] = 10;
	ev->conn.laddr[15] = (uint8_t)(1 + l->id % 7);
	ev->conn.raddr[10] = ev->conn.raddr[11] = 0xff;
	ev->conn.raddr[12] = 192;
	ev->conn.raddr[15] = l->peer;
	ev->conn.lport = (uint16_t)(1024 + l->id % 30000);
	ev->conn.rport = l->proto == IPPROTO_UDP ? 53 : 443;
	ev->conn.family = 4;
	ev->conn.proto = l->proto;
	ev->conn.flags = (l->id & (1ull << 63)) ? TT_CF_UDP_PEER : 0;
	ev->conn.pid = ev->conn.tgid = (uint32_t)(100 + tst_rnd(&g->s) % 50);
	ev->conn.netns = 4026531840u;
	ev->conn.cgroup = 1 + tst_rnd(&g->s) % 3;
	snprintf(ev->conn.comm, sizeof(ev->conn.comm), "p%u", ev->conn.pid);
}

size_t tst_gen_tick(struct tst_gen *g, struct tt_event *ev)
{
	uint64_t ts = g->last_tick, end = g->last_tick + TST_SEC, *s = &g->s;
	size_t n = 0, i;
	unsigned k, opens = (unsigned)(tst_rnd(s) % 4);

#define NEXT_TS() (ts += 1 + tst_rnd(s) % (TST_SEC / 400))
	for (k = 0; k < opens && g->n < TST_GEN_LIVE; k++) {
		struct tst_live *l = &g->live[g->n++];

		memset(l, 0, sizeof(*l));
		l->proto = tst_chance(s, 25) ? IPPROTO_UDP : IPPROTO_TCP;
		l->peer = (uint8_t)(tst_rnd(s) % 250);
		l->id = l->proto == IPPROTO_UDP ? (1ull << 63) | (tst_rnd(s) >> 1)
						: g->next_cookie++;
		conn_event(g, &ev[n], l, NEXT_TS());
		/* partial: found already open at the first walk, or later by discovery */
		if (g->last_tick == g->t0 || tst_chance(s, 10)) {
			ev[n].conn.flags |= TT_CF_PARTIAL;
			ev[n].conn.open_ns = ts;
		} else {
			ev[n].conn.open_ns = ts - tst_rnd(s) % (TST_SEC / 2);
		}
		n++;
	}
	for (i = 0; i < g->n; i++) {
		struct tst_live *l = &g->live[i];

		if (tst_chance(s, 3)) { /* another holder did I/O */
			conn_event(g, &ev[n], l, NEXT_TS());
			n++;
		}
		if (tst_chance(s, 30)) {
			l->c.bytes_in += tst_rnd(s) % 5000;
			l->c.bytes_out += tst_rnd(s) % 3000;
			l->c.packets_in += 1 + tst_rnd(s) % 5;
			l->c.packets_out += 1 + tst_rnd(s) % 5;
			l->c.srtt_us =
				l->proto == IPPROTO_TCP ? (uint32_t)(50 + tst_rnd(s) % 500) : 0;
			l->c.rttvar_us = l->c.srtt_us / 2;
			l->c.retrans += tst_chance(s, 10);
			l->c.state = l->proto == IPPROTO_TCP ? TT_TCP_ESTABLISHED : 0;
			memset(&ev[n], 0, sizeof(ev[n]));
			ev[n].ts_ns = NEXT_TS();
			ev[n].type = TT_EV_SAMPLE;
			ev[n].sample.id = l->id;
			ev[n].sample.c = l->c;
			n++;
		}
		if (l->proto == IPPROTO_TCP && tst_chance(s, 2)) {
			memset(&ev[n], 0, sizeof(ev[n]));
			ev[n].ts_ns = NEXT_TS();
			ev[n].type = TT_EV_RESET;
			ev[n].reset.id = l->id;
			ev[n].reset.received = (uint8_t)(tst_rnd(s) & 1);
			l->c.rst_recv += ev[n].reset.received;
			l->c.rst_sent += !ev[n].reset.received;
			n++;
		}
		if (tst_chance(s, 4)) {
			if (l->proto == IPPROTO_TCP) {
				memset(&ev[n], 0, sizeof(ev[n]));
				ev[n].ts_ns = NEXT_TS();
				ev[n].type = TT_EV_STATE;
				ev[n].state.id = l->id;
				ev[n].state.old_state = TT_TCP_ESTABLISHED;
				ev[n].state.new_state = tst_chance(s, 50) ? TT_TCP_CLOSE : 8;
				n++;
			}
			l->c.bytes_in += tst_rnd(s) % 100;
			memset(&ev[n], 0, sizeof(ev[n]));
			ev[n].ts_ns = NEXT_TS();
			ev[n].type = TT_EV_CLOSE;
			ev[n].close.id = l->id;
			ev[n].close.c = l->c;
			ev[n].close.reason = (uint8_t)(tst_rnd(s) % 4);
			ev[n].close.err = ev[n].close.reason == TT_CLOSE_FAILED ? ECONNREFUSED : 0;
			n++;
			g->live[i--] = g->live[--g->n];
		}
	}
	if (tst_chance(s, 5)) {
		g->loss.ring_drops += 1 + tst_rnd(s) % 3;
		g->loss.peers_full += tst_chance(s, 30);
		memset(&ev[n], 0, sizeof(ev[n]));
		ev[n].ts_ns = NEXT_TS();
		ev[n].type = TT_EV_LOSS;
		ev[n].loss = g->loss;
		n++;
	}
#undef NEXT_TS
	assert_true(ts < end);
	assert_true(n < TST_GEN_EV_CAP);
	memset(&ev[n], 0, sizeof(ev[n]));
	ev[n].ts_ns = end;
	ev[n].type = TT_EV_TICK;
	ev[n].tick.start_ns = g->last_tick;
	g->last_tick = end;
	return n + 1;
}

/* ---- recording and scanning ------------------------------------------------------------------- */

void tst_writer_opts(struct tt_writer_opts *wo, const char *dir, uint64_t t0, int64_t m2w)
{
	tt_writer_opts_default(wo);
	wo->dir = dir;
	wo->rec.host = "testhost";
	wo->rec.kernel = "6.x";
	wo->rec.boot_id = "01234567-89ab-cdef-0123-456789abcdef";
	wo->rec.options = "test";
	wo->rec.tool_version = "test";
	wo->rec.start_ns = (uint64_t)((int64_t)t0 + m2w);
	wo->rec.mono_to_wall_ns = m2w;
}

uint64_t tst_record(const struct tt_writer_opts *wo, struct tst_gen *g, int ticks,
		    struct tst_capture *live, int finish)
{
	return tst_record_cb(wo, g, ticks, live, finish, NULL, NULL);
}

uint64_t tst_record_cb(const struct tt_writer_opts *wo, struct tst_gen *g, int ticks,
		       struct tst_capture *live, int finish,
		       void (*on_tick)(void *ctx, struct tt_writer *w, const struct tt_table *t),
		       void *ctx)
{
	static struct tt_event ev[TST_GEN_EV_CAP];
	struct tt_writer *w;
	struct tt_agg *agg = tt_agg_new();
	char why[512];
	uint64_t blocks;
	int tick, rc;
	size_t i, n;

	assert_non_null(agg);
	rc = tt_writer_open(wo, &w, why, sizeof(why));
	if (rc)
		fail_msg("tt_writer_open %s: %s", wo->dir, why);
	for (tick = 0; tick < ticks; tick++) {
		n = tst_gen_tick(g, ev);
		for (i = 0; i < n; i++) {
			assert_int_equal(tt_writer_event(w, &ev[i]), 0);
			rc = tt_agg_feed(agg, &ev[i]);
			assert_int_equal(rc, i == n - 1);
		}
		if (live)
			tst_capture_table(live, tt_agg_table(agg));
		rc = tt_writer_tick(w, agg, tt_agg_table(agg));
		if (rc)
			fail_msg("tt_writer_tick: %s", tt_writer_errmsg(w));
		if (on_tick)
			on_tick(ctx, w, tt_agg_table(agg));
	}
	if (finish) {
		rc = tt_writer_finish(w,
				      (uint64_t)((int64_t)g->last_tick + wo->rec.mono_to_wall_ns));
		if (rc)
			fail_msg("tt_writer_finish: %s", tt_writer_errmsg(w));
	}
	blocks = tt_writer_blocks(w);
	tt_writer_free(w);
	tt_agg_free(agg);
	return blocks;
}

static int on_event(void *ctx, const struct tt_scan_rec *rec, const struct tt_event *ev,
		    const struct tt_agg *agg)
{
	(void)rec, (void)agg;
	tst_capture_event(ctx, ev);
	return 0;
}

static int on_table(void *ctx, const struct tt_scan_rec *rec, const struct tt_table *t,
		    const struct tt_agg *agg)
{
	(void)rec, (void)agg;
	tst_capture_table(ctx, t);
	return 0;
}

struct tt_scan_stats tst_scan(const char *dir, uint64_t from, uint64_t to, struct tst_capture *c,
			      char *warn, size_t warn_len)
{
	struct tt_scan_cb cb = { .on_event = on_event, .on_table = on_table };
	struct tt_scan_stats st = { 0 };
	struct tt_store *s;
	char why[512], w[512] = "";
	int rc;

	rc = tt_store_open(dir, TT_STORE_READ, 0, 0, &s, why, sizeof(why));
	if (rc)
		fail_msg("tt_store_open %s: %s", dir, why);
	rc = tt_scan(s, from, to, &cb, c, &st, w, sizeof(w), why, sizeof(why));
	if (rc)
		fail_msg("tt_scan %s: %s", dir, why);
	if (warn)
		snprintf(warn, warn_len, "%s", w);
	else if (w[0])
		fail_msg("unexpected warning: %s", w);
	tt_store_close(s);
	return st;
}
