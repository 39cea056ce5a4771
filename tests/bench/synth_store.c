// SPDX-License-Identifier: GPL-2.0
/*
 * synth_store: a store as tcptop-record would write it, without a kernel, for
 * benchmarking tcptop-analyze (tests/bench/bench_analyze.sh).
 *
 * The event stream is made up; everything after it is the recorder's own code:
 * the loop of record/main.c (every event to tt_writer_event, then to the
 * aggregator; after each TICK, tt_writer_tick with the table), so segments,
 * blocks, keyframes, the index, connection rows and buckets are exactly what
 * the recorder writes, at its defaults (5 s blocks, 1 h segments, 10 s buckets,
 * fdatasync and one index transaction per block).
 *
 * The host it pretends to record: a web server with CONNS TCP and UDP
 * connections open at any time: nginx serving clients, a Java service with
 * pools to PostgreSQL and Redis, sshd and a metrics exporter, outbound HTTPS,
 * DNS over connected UDP sockets. Most connections live for hours (pools,
 * keep-alives); about a quarter are short (seconds to minutes) and are replaced
 * by a new one of the same kind when they close, so the count stays at CONNS.
 * Connections open when the recording starts are partial. Each tick about
 * --active of them move data (totals grow by random amounts, a few heavy
 * hitters much more), a connection always moves data in its first tick, and
 * lifecycle events (CONN, STATE, RESET, CLOSE) fall at random times inside the
 * tick, in order, as the collector's ring buffer delivers them.
 *
 * CLOCK_MONOTONIC is simulated (the host has been up 3 days), and
 * mono_to_wall puts the recording's start at --start (2024-03-12T00:00:00Z by
 * default), so windows can be given with fixed times. The stream is a function
 * of the options only: the same seed gives the same events, the same blocks
 * and the same index rows; only the segments' creation times (taken by
 * lib/writer.c from the real clock) differ.
 *
 * Usage: synth_store DIR [--conns 1000] [--hours 24] [--tick 1s] [--seed 1]
 *                        [--active 0.10] [--start UNIX_SECONDS] [--flush 5s]
 *                        [--keyframe 60s] [--retrans 0.01] [--host NAME]
 * --retrans: the chance that an active tick of a TCP connection retransmits
 * (tests/cli/test_events_stream.py wants every one to: many event rows).
 * --flush and --keyframe are the recorder's: the length of a block, and how often
 * one opens with a keyframe.
 * DIR must not exist (or be empty). Progress goes to stderr; the result to
 * stdout, ending with one "summary key=value ..." line for scripts.
 * Exit: 0 done, 1 runtime error, 2 bad usage.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "aggregator.h"
#include "clock.h"
#include "event.h"
#include "timeparse.h"
#include "writer.h"

#define PROG	      "synth_store"
#define NS	      1000000000ull
#define MONO0	      (3 * 86400 * NS + 123456789ull) /* the host has been up 3 days */
#define START_DEFAULT 1710201600ull /* 2024-03-12T00:00:00Z */

/* ---- deterministic randomness: xoshiro256** seeded by splitmix64 ---------- */

static uint64_t rs[4];

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void rnd_seed(uint64_t seed)
{
	int i;

	for (i = 0; i < 4; i++)
		rs[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t rnd(void)
{
	uint64_t r = rotl(rs[1] * 5, 7) * 9, t = rs[1] << 17;

	rs[2] ^= rs[0];
	rs[3] ^= rs[1];
	rs[1] ^= rs[2];
	rs[0] ^= rs[3];
	rs[2] ^= t;
	rs[3] = rotl(rs[3], 45);
	return r;
}

/* Uniform in [0, 1). */
static double rnd01(void)
{
	return (double)(rnd() >> 11) * 0x1.0p-53;
}

/* Uniform in [0, n). */
static uint64_t rnd_below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

/* Log-uniform in [lo, hi]: as many connections of seconds as of minutes as of hours. */
static double rnd_log(double lo, double hi)
{
	return lo * exp(rnd01() * log(hi / lo));
}

/* ---- the host's connections ------------------------------------------------- */

enum kind { K_NGINX, K_PG, K_REDIS, K_SSH, K_EXPORTER, K_HTTPS_OUT, K_DNS, K_MAX };

struct kind_info {
	double weight; /* share of the connection slots */
	double short_share; /* share of its connections that are short-lived */
	double short_lo, short_hi; /* short lifetimes, seconds, log-uniform */
	double bytes_scale; /* typical bytes per active tick (before the heavy factor) */
	const char *comm;
	uint32_t pid, npids; /* owner: pid .. pid + npids - 1 (thread ids of one process) */
	uint32_t tgid; /* 0: the pid itself (separate processes) */
};

static const struct kind_info kinds[K_MAX] = {
	[K_NGINX] = { 0.45, 0.30, 2, 900, 60000, "nginx", 1210, 4, 0 },
	[K_PG] = { 0.20, 0.00, 0, 0, 8000, "java", 2301, 40, 2301 },
	[K_REDIS] = { 0.14, 0.00, 0, 0, 2000, "java", 2301, 40, 2301 },
	[K_SSH] = { 0.02, 0.00, 0, 0, 500, "sshd", 3100, 8, 0 },
	[K_EXPORTER] = { 0.04, 0.50, 1, 30, 20000, "node_exporter", 880, 1, 0 },
	[K_HTTPS_OUT] = { 0.10, 0.70, 1, 600, 30000, "python3", 4400, 6, 0 },
	[K_DNS] = { 0.05, 1.00, 5, 120, 120, "systemd-resolve", 610, 1, 0 },
};

struct sconn {
	struct tt_ev_conn info;
	struct tt_counters c; /* totals so far */
	uint64_t close_ns; /* when it will close (CLOCK_MONOTONIC); UINT64_MAX: never here */
	double heavy; /* traffic factor, a few connections carry most bytes */
	uint32_t base_rtt_us;
	enum kind kind;
	int fresh; /* opened in this tick: its first traffic is sampled at the tick's end */
};

/* A lifecycle event of the tick being built, with its place for a stable sort. */
struct pev {
	struct tt_event ev;
	size_t seq;
};

struct opts {
	const char *dir;
	uint64_t conns;
	uint64_t hours_ns; /* recording length */
	uint64_t tick_ns;
	uint64_t seed;
	double active;
	uint64_t start_s; /* Unix seconds of the recording's start */
	uint64_t flush_ns; /* block length, as tcptop-record --flush */
	uint64_t keyframe_ns; /* as tcptop-record --keyframe; 0: the writer's default (60 s) */
	const char *host; /* recordings.host; default synth-web-1 */
};

struct gen {
	struct opts o;
	struct sconn *c;
	uint64_t next_cookie;
	uint64_t opened; /* connections in all */
	uint64_t closed;
	uint64_t events; /* of the stream, keyframes excluded */
	uint64_t conn_ticks; /* rows over all tables */
	struct tt_writer *w;
	struct tt_agg *agg;
	/* events of the tick being built, sorted by time before they are fed */
	struct pev *pend;
	size_t npend, cappend;
};

static void set_v4(uint8_t a[16], uint32_t host_order)
{
	memset(a, 0, 10);
	a[10] = a[11] = 0xff;
	a[12] = (uint8_t)(host_order >> 24);
	a[13] = (uint8_t)(host_order >> 16);
	a[14] = (uint8_t)(host_order >> 8);
	a[15] = (uint8_t)host_order;
}

static void set_v6(uint8_t a[16], uint64_t lo)
{
	static const uint8_t prefix[8] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0 };
	int i;

	memcpy(a, prefix, 8);
	for (i = 0; i < 8; i++)
		a[15 - i] = (uint8_t)(lo >> (8 * i));
}

#define V4(a, b, c, d) (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (d))
#define SERVER_V4      V4(10, 0, 0, 10)

static uint16_t ephemeral(void)
{
	return (uint16_t)(32768 + rnd_below(28232));
}

/* A new connection of kind k in slot s, opened at ts (partial: found at the start). */
static void conn_new(struct gen *g, struct sconn *s, enum kind k, uint64_t ts, int partial,
		     uint64_t end_ns)
{
	const struct kind_info *ki = &kinds[k];
	struct tt_ev_conn *ci = &s->info;
	double life;
	int v6 = 0;

	memset(s, 0, sizeof(*s));
	s->kind = k;
	ci->id = g->next_cookie;
	g->next_cookie += 1 + rnd_below(8); /* other sockets took the cookies between */
	ci->proto = k == K_DNS ? 17 : 6;
	ci->flags = partial ? TT_CF_PARTIAL : 0;
	ci->pid = ki->pid + (uint32_t)rnd_below(ki->npids);
	ci->tgid = ki->tgid ? ki->tgid : ci->pid;
	ci->netns = 4026531840u;
	ci->cgroup = 4000 + (uint64_t)k;
	ci->open_ns = ts;
	snprintf(ci->comm, sizeof(ci->comm), "%s", ki->comm);
	switch (k) {
	case K_NGINX: /* clients from a few private networks, some over IPv6 */
		v6 = rnd01() < 0.15;
		ci->lport = 443;
		ci->rport = ephemeral();
		if (v6) {
			set_v6(ci->laddr, 0x10);
			set_v6(ci->raddr, 0x1000000 + rnd_below(4096));
		} else {
			set_v4(ci->laddr, SERVER_V4);
			set_v4(ci->raddr, rnd01() < 0.5
						  ? V4(192, 168, rnd_below(4), 1 + rnd_below(254))
						  : V4(10, 20 + rnd_below(4), rnd_below(256),
						       1 + rnd_below(254)));
		}
		break;
	case K_PG:
		set_v4(ci->laddr, SERVER_V4);
		set_v4(ci->raddr, V4(10, 0, 1, 5 + rnd_below(4)));
		ci->lport = ephemeral();
		ci->rport = 5432;
		break;
	case K_REDIS:
		set_v4(ci->laddr, SERVER_V4);
		set_v4(ci->raddr, V4(10, 0, 1, 20));
		ci->lport = ephemeral();
		ci->rport = 6379;
		break;
	case K_SSH:
		set_v4(ci->laddr, SERVER_V4);
		set_v4(ci->raddr, V4(10, 9, 0, 1 + rnd_below(16)));
		ci->lport = 22;
		ci->rport = ephemeral();
		break;
	case K_EXPORTER:
		set_v4(ci->laddr, SERVER_V4);
		set_v4(ci->raddr, V4(10, 9, 1, 1 + rnd_below(2)));
		ci->lport = 9100;
		ci->rport = ephemeral();
		break;
	case K_HTTPS_OUT:
		set_v4(ci->laddr, SERVER_V4);
		set_v4(ci->raddr,
		       V4(93 + rnd_below(100), rnd_below(256), rnd_below(256), 1 + rnd_below(254)));
		ci->lport = ephemeral();
		ci->rport = 443;
		break;
	case K_DNS:
	default:
		set_v4(ci->laddr, SERVER_V4);
		set_v4(ci->raddr, V4(10, 0, 0, 2));
		ci->lport = ephemeral();
		ci->rport = 53;
		break;
	}
	ci->family = v6 ? 6 : 4;
	s->c.state = ci->proto == 6 ? TT_TCP_ESTABLISHED : 0;
	s->base_rtt_us = ci->proto != 6	    ? 0
			 : k == K_HTTPS_OUT ? (uint32_t)rnd_log(8000, 90000)
			 : v6 || (k == K_NGINX && ci->raddr[12] == 192)
				 ? (uint32_t)rnd_log(2000, 40000)
				 : (uint32_t)rnd_log(60, 600);
	/* 1 in 50 connections is a heavy hitter: a bulk download, a big query */
	s->heavy = rnd01() < 0.02 ? rnd_log(20, 500) : rnd_log(0.2, 5);
	if (rnd01() < ki->short_share)
		life = rnd_log(ki->short_lo, ki->short_hi);
	else
		life = 3600.0 * (1 + 47 * rnd01()); /* 1 to 48 hours */
	if (partial)
		life *= rnd01(); /* already some way into its life */
	s->close_ns = ts + (uint64_t)(life * 1e9) + 1;
	if (s->close_ns >= end_ns)
		s->close_ns = UINT64_MAX; /* outlives the recording */
}

static enum kind pick_kind(void)
{
	double x = rnd01(), acc = 0;
	int k;

	for (k = 0; k < K_MAX - 1; k++) {
		acc += kinds[k].weight;
		if (x < acc)
			break;
	}
	return (enum kind)k;
}

static double retrans_p = 0.01; /* --retrans */

/* Grow the counters as an active tick would. */
static void traffic(struct sconn *s)
{
	const struct kind_info *ki = &kinds[s->kind];
	uint64_t in, out;
	double sz = ki->bytes_scale * s->heavy * rnd_log(0.05, 4);

	/* servers mostly send, clients mostly receive; both ways move something */
	if (s->kind == K_NGINX || s->kind == K_SSH || s->kind == K_EXPORTER) {
		out = (uint64_t)sz + 1;
		in = (uint64_t)(sz * rnd_log(0.01, 0.3)) + 1;
	} else {
		in = (uint64_t)sz + 1;
		out = (uint64_t)(sz * rnd_log(0.02, 0.5)) + 1;
	}
	s->c.bytes_in += in;
	s->c.bytes_out += out;
	if (s->info.proto == 6) {
		s->c.packets_in += in / 1448 + 1 + rnd_below(2);
		s->c.packets_out += out / 1448 + 1 + rnd_below(2);
		s->c.srtt_us = (uint32_t)(s->base_rtt_us * (0.85 + 0.3 * rnd01())) + 1;
		s->c.rttvar_us = s->c.srtt_us / 4 + (uint32_t)rnd_below(s->c.srtt_us / 8 + 1);
		if (rnd01() < retrans_p)
			s->c.retrans += 1 + (uint32_t)rnd_below(3);
	} else {
		s->c.packets_in += 1;
		s->c.packets_out += 1;
	}
}

static int pend(struct gen *g, const struct tt_event *ev)
{
	if (g->npend == g->cappend) {
		size_t n = g->cappend ? g->cappend * 2 : 256;
		struct pev *p = realloc(g->pend, n * sizeof(*p));

		if (!p)
			return -ENOMEM;
		g->pend = p;
		g->cappend = n;
	}
	g->pend[g->npend].ev = *ev;
	g->pend[g->npend].seq = g->npend;
	g->npend++;
	return 0;
}

/* By time; equal times keep the order they were made in. */
static int cmp_pev(const void *pa, const void *pb)
{
	const struct pev *a = pa, *b = pb;

	if (a->ev.ts_ns != b->ev.ts_ns)
		return a->ev.ts_ns < b->ev.ts_ns ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static void ev_state(struct tt_event *ev, uint64_t ts, uint64_t id, uint8_t o, uint8_t n)
{
	memset(ev, 0, sizeof(*ev));
	ev->ts_ns = ts;
	ev->type = TT_EV_STATE;
	ev->state.id = id;
	ev->state.old_state = o;
	ev->state.new_state = n;
}

/* Lifecycle of a closing connection at ts: the ring buffer's STATE/RESET, then CLOSE. */
static int close_events(struct gen *g, struct sconn *s, uint64_t ts)
{
	struct tt_event ev;
	uint64_t id = s->info.id;
	int reset = s->info.proto == 6 && rnd01() < 0.04;
	int err = 0;

	if (s->info.proto == 6 && reset) {
		memset(&ev, 0, sizeof(ev));
		ev.ts_ns = ts;
		ev.type = TT_EV_RESET;
		ev.reset.id = id;
		ev.reset.received = 1;
		s->c.rst_recv++;
		err = pend(g, &ev);
		ev_state(&ev, ts, id, TT_TCP_ESTABLISHED, TT_TCP_CLOSE);
		err = err ? err : pend(g, &ev);
	} else if (s->info.proto == 6) {
		ev_state(&ev, ts, id, TT_TCP_ESTABLISHED, 4 /* FIN_WAIT1 */);
		err = pend(g, &ev);
		ev_state(&ev, ts + 150000, id, 4, 5 /* FIN_WAIT2 */);
		err = err ? err : pend(g, &ev);
		ev_state(&ev, ts + 300000, id, 5, TT_TCP_CLOSE);
		err = err ? err : pend(g, &ev);
	}
	if (err)
		return err;
	memset(&ev, 0, sizeof(ev));
	ev.ts_ns = ts + 300001;
	ev.type = TT_EV_CLOSE;
	ev.close.id = id;
	s->c.state = s->info.proto == 6 ? TT_TCP_CLOSE : 0;
	ev.close.c = s->c;
	ev.close.reason = reset		       ? TT_CLOSE_RESET
			  : s->info.proto == 6 ? TT_CLOSE_NORMAL
					       : TT_CLOSE_IDLE;
	g->closed++;
	return pend(g, &ev);
}

/* A new connection: CONN then the handshake's STATE changes. */
static int open_events(struct gen *g, struct sconn *s, uint64_t ts, uint64_t tick_end)
{
	struct tt_event ev;
	int inbound = s->info.lport == 443 || s->info.lport == 22 || s->info.lport == 9100;
	int err;

	memset(&ev, 0, sizeof(ev));
	ev.ts_ns = ts;
	ev.type = TT_EV_CONN;
	ev.conn = s->info;
	g->opened++;
	if ((err = pend(g, &ev)) || s->info.proto != 6)
		return err;
	if (inbound) {
		ev_state(&ev, ts, s->info.id, TT_TCP_SYN_RECV, TT_TCP_ESTABLISHED);
		return pend(g, &ev);
	}
	ev_state(&ev, ts, s->info.id, TT_TCP_CLOSE, TT_TCP_SYN_SENT);
	if ((err = pend(g, &ev)))
		return err;
	ev_state(&ev,
		 ts + s->base_rtt_us * 1000ull < tick_end ? ts + s->base_rtt_us * 1000ull
							  : tick_end,
		 s->info.id, TT_TCP_SYN_SENT, TT_TCP_ESTABLISHED);
	return pend(g, &ev);
}

/* The loop of record/main.c: the store gets the stream, then the aggregator. */
static int feed(struct gen *g, const struct tt_event *ev)
{
	int err = tt_writer_event(g->w, ev);

	if (err) {
		fprintf(stderr, PROG ": %s\n", tt_writer_errmsg(g->w));
		return err;
	}
	if (!(ev->flags & TT_EVF_KEYFRAME))
		g->events++;
	err = tt_agg_feed(g->agg, ev);
	if (err < 0) {
		fprintf(stderr, PROG ": out of memory\n");
		return err;
	}
	if (err == 0)
		return 0;
	g->conn_ticks += tt_agg_table(g->agg)->n;
	err = tt_writer_tick(g->w, g->agg, tt_agg_table(g->agg));
	if (err)
		fprintf(stderr, PROG ": %s\n", tt_writer_errmsg(g->w));
	return err;
}

/* One tick (start, end]: lifecycle events in time order, then samples, then TICK. */
static int one_tick(struct gen *g, uint64_t start, uint64_t end, uint64_t rec_end)
{
	uint64_t i;
	struct tt_event ev;
	size_t k;
	int err;

	g->npend = 0;
	for (i = 0; i < g->o.conns; i++) {
		struct sconn *s = &g->c[i];
		uint64_t at;

		if (s->close_ns > end)
			continue;
		at = s->close_ns > start ? s->close_ns : start + 1;
		if (at + 300001 > end)
			at = end - 300001;
		if ((err = close_events(g, s, at)))
			return err;
		/* the replacement opens in the rest of the tick */
		at += 300001 + rnd_below(end - at - 300001);
		conn_new(g, s, s->kind, at, 0, rec_end);
		if ((err = open_events(g, s, at, end)))
			return err;
		s->close_ns = s->close_ns > end ? s->close_ns : end + 1; /* not twice in a tick */
		traffic(s); /* a new connection moves data in its first tick */
		s->fresh = 1;
	}
	/* a handshake's ESTABLISHED can come after a close in the same tick: order by time */
	if (g->npend) /* qsort's base may not be NULL, even for 0 elements */
		qsort(g->pend, g->npend, sizeof(*g->pend), cmp_pev);
	for (k = 0; k < g->npend; k++)
		if ((err = feed(g, &g->pend[k].ev)))
			return err;
	for (i = 0; i < g->o.conns; i++) {
		struct sconn *s = &g->c[i];

		if (!s->fresh && rnd01() >= g->o.active)
			continue;
		if (!s->fresh)
			traffic(s);
		s->fresh = 0;
		memset(&ev, 0, sizeof(ev));
		ev.ts_ns = end;
		ev.type = TT_EV_SAMPLE;
		ev.sample.id = s->info.id;
		ev.sample.c = s->c;
		if ((err = feed(g, &ev)))
			return err;
	}
	memset(&ev, 0, sizeof(ev));
	ev.ts_ns = end;
	ev.type = TT_EV_TICK;
	ev.tick.start_ns = start;
	return feed(g, &ev);
}

/* Bytes of the store's files: segments (*.tts) and the index (index.db*). */
static void store_size(const char *dir, uint64_t *seg, uint64_t *idx, unsigned *nseg)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[4096];
	struct stat sb;

	*seg = *idx = 0;
	*nseg = 0;
	if (!d)
		return;
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);

		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (stat(path, &sb) || !S_ISREG(sb.st_mode))
			continue;
		if (l > 4 && !strcmp(e->d_name + l - 4, ".tts")) {
			*seg += (uint64_t)sb.st_size;
			(*nseg)++;
		} else if (!strncmp(e->d_name, "index.db", 8)) {
			*idx += (uint64_t)sb.st_size;
		}
	}
	closedir(d);
}

static int usage(const char *why)
{
	if (why)
		fprintf(stderr, PROG ": %s\n", why);
	fprintf(stderr,
		"Usage: " PROG " DIR [--conns 1000] [--hours 24] [--tick 1s] [--seed 1]\n"
		"                   [--active 0.10] [--start UNIX_SECONDS] [--flush 5s]\n"
		"                   [--keyframe 60s] [--retrans 0.01] [--host synth-web-1]\n");
	return 2;
}

static int parse(int argc, char **argv, struct opts *o)
{
	int i;

	memset(o, 0, sizeof(*o));
	o->conns = 1000;
	o->hours_ns = 24 * 3600 * NS;
	o->tick_ns = NS;
	o->seed = 1;
	o->active = 0.10;
	o->start_s = START_DEFAULT;
	o->flush_ns = 5 * NS;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		char *end = NULL;
		double h;

		if (!strcmp(a, "-h") || !strcmp(a, "--help"))
			return usage(NULL);
		if (a[0] != '-') {
			if (o->dir)
				return usage("one store directory");
			o->dir = a;
			continue;
		}
		if (!v)
			return usage("an option needs a value");
		i++;
		errno = 0;
		if (!strcmp(a, "--conns")) {
			o->conns = strtoull(v, &end, 10);
			if (*end || errno || o->conns < 1 || o->conns > 1000000)
				return usage("--conns: 1 to 1000000");
		} else if (!strcmp(a, "--hours")) {
			h = strtod(v, &end);
			if (*end || !(h > 0 && h <= 24 * 365))
				return usage("--hours: a positive number (0.5 is half an hour)");
			o->hours_ns = (uint64_t)(h * 3600e9 + 0.5);
		} else if (!strcmp(a, "--tick")) {
			if (tt_parse_duration(v, &o->tick_ns) || o->tick_ns < 10000000ull ||
			    o->tick_ns > 3600 * NS)
				return usage("--tick: a duration from 10ms to 1h");
		} else if (!strcmp(a, "--seed")) {
			o->seed = strtoull(v, &end, 0);
			if (*end || errno)
				return usage("--seed: a number");
		} else if (!strcmp(a, "--retrans")) {
			retrans_p = strtod(v, &end);
			if (*end || !(retrans_p >= 0 && retrans_p <= 1))
				return usage("--retrans: a fraction from 0 to 1");
		} else if (!strcmp(a, "--active")) {
			o->active = strtod(v, &end);
			if (*end || !(o->active >= 0 && o->active <= 1))
				return usage("--active: a fraction from 0 to 1");
		} else if (!strcmp(a, "--start")) {
			o->start_s = strtoull(v, &end, 10);
			if (*end || errno || o->start_s < 1 || o->start_s > 4000000000ull)
				return usage("--start: Unix seconds");
		} else if (!strcmp(a, "--host")) {
			if (!*v || strlen(v) > 64)
				return usage("--host: a name of 1 to 64 characters");
			o->host = v;
		} else if (!strcmp(a, "--keyframe")) {
			if (tt_parse_duration(v, &o->keyframe_ns) || !o->keyframe_ns)
				return usage("--keyframe: a positive duration");
		} else if (!strcmp(a, "--flush")) {
			if (tt_parse_duration(v, &o->flush_ns) || o->flush_ns < NS / 10 ||
			    o->flush_ns > 3600 * NS)
				return usage("--flush: a duration from 100ms to 1h");
		} else {
			return usage("unknown option");
		}
	}
	if (!o->dir)
		return usage("needs a store directory");
	if (o->hours_ns < o->tick_ns)
		return usage("--hours: shorter than one tick");
	return 0;
}

/* DIR must be new: the writer would append a second recording to an existing store. */
static int dir_is_new(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (!d)
		return errno == ENOENT;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n == 0;
}

int main(int argc, char **argv)
{
	struct tt_writer_opts wo;
	struct gen g;
	char why[512], args[1024];
	uint64_t t0, t0cpu, secs, ticks, k, start, end, rec_end, m2w, seg, idx, el, cpu, blocks;
	unsigned nseg, hour = 0;
	size_t used = 0;
	int i, err, rc = 1;

	memset(&g, 0, sizeof(g));
	if ((err = parse(argc, argv, &g.o)))
		return err;
	if (!dir_is_new(g.o.dir)) {
		fprintf(stderr, PROG ": %s: exists and is not empty (the store must be new)\n",
			g.o.dir);
		return 2;
	}
	for (i = 0; i < argc; i++)
		used += (size_t)snprintf(args + used, used < sizeof(args) ? sizeof(args) - used : 0,
					 "%s%s", i ? " " : "", argv[i]);
	rnd_seed(g.o.seed);
	ticks = g.o.hours_ns / g.o.tick_ns;
	rec_end = MONO0 + ticks * g.o.tick_ns;
	m2w = g.o.start_s * NS - MONO0;

	tt_writer_opts_default(&wo);
	wo.dir = g.o.dir;
	wo.flush_ns = g.o.flush_ns;
	if (g.o.keyframe_ns)
		wo.keyframe_ns = g.o.keyframe_ns;
	wo.rec.host = g.o.host ? g.o.host : "synth-web-1";
	wo.rec.kernel = "6.1.0-synthetic";
	wo.rec.boot_id = "5b0c8a3e-1f2d-4c6b-9a7e-0d3f2e1c4b5a";
	wo.rec.options = args;
	wo.rec.tool_version = TT_VERSION;
	wo.rec.start_ns = g.o.start_s * NS;
	wo.rec.mono_to_wall_ns = (int64_t)m2w;
	g.c = calloc(g.o.conns, sizeof(*g.c));
	g.agg = tt_agg_new();
	if (!g.c || !g.agg) {
		fprintf(stderr, PROG ": out of memory\n");
		goto out;
	}
	if (tt_writer_open(&wo, &g.w, why, sizeof(why))) {
		fprintf(stderr, PROG ": %s\n", why);
		goto out;
	}
	t0 = tt_clock_ns(CLOCK_MONOTONIC);
	t0cpu = tt_clock_ns(CLOCK_PROCESS_CPUTIME_ID);
	g.next_cookie = 0x4000 + rnd_below(0x1000);

	/* the connections open at the start: the iterator finds them, partial */
	g.npend = 0;
	for (k = 0; k < g.o.conns; k++) {
		struct sconn *s = &g.c[k];
		struct tt_event ev = { .ts_ns = MONO0 + 1000, .type = TT_EV_CONN };

		conn_new(&g, s, pick_kind(), MONO0, 1, rec_end);
		ev.conn = s->info;
		g.opened++;
		if ((err = feed(&g, &ev)))
			goto out;
	}
	start = MONO0;
	for (k = 0; k < ticks; k++) {
		/* the collector's tick is late by a little: measured, not nominal */
		end = MONO0 + (k + 1) * g.o.tick_ns + 50000 + rnd_below(1500000);
		if ((err = one_tick(&g, start, end, rec_end)))
			goto out;
		start = end;
		if ((k + 1) * g.o.tick_ns >= (uint64_t)(hour + 1) * 3600 * NS) {
			hour = (unsigned)((k + 1) * g.o.tick_ns / (3600 * NS));
			el = tt_clock_ns(CLOCK_MONOTONIC) - t0;
			fprintf(stderr,
				PROG ": %u h of %.1f synthesised, %.1f s, %" PRIu64 " blocks\n",
				hour, (double)g.o.hours_ns / 3600e9, (double)el / 1e9,
				tt_writer_blocks(g.w));
		}
	}
	if (tt_writer_finish(g.w, (uint64_t)((int64_t)start + (int64_t)m2w))) {
		fprintf(stderr, PROG ": %s\n", tt_writer_errmsg(g.w));
		goto out;
	}
	blocks = tt_writer_blocks(g.w);
	tt_writer_free(g.w); /* closes the index: its WAL is folded in */
	g.w = NULL;
	el = tt_clock_ns(CLOCK_MONOTONIC) - t0;
	cpu = tt_clock_ns(CLOCK_PROCESS_CPUTIME_ID) - t0cpu;
	secs = (start - MONO0 + NS / 2) / NS;
	store_size(g.o.dir, &seg, &idx, &nseg);
	if (tt_agg_table(g.agg)->orphans)
		fprintf(stderr, PROG ": warning: %" PRIu64 " events named unknown connections\n",
			tt_agg_table(g.agg)->orphans);
	printf("store %s: %" PRIu64 " ticks (%.2f h), %" PRIu64 " connections live, %" PRIu64
	       " in all, %" PRIu64 " connection-ticks, %" PRIu64 " events (keyframes excluded)\n",
	       g.o.dir, ticks, (double)secs / 3600.0, g.o.conns, g.opened, g.conn_ticks, g.events);
	printf("  recorded %s from @%" PRIu64 " to @%" PRIu64 ", %" PRIu64
	       " blocks in %u segments\n",
	       "synth-web-1", g.o.start_s, g.o.start_s + secs, blocks, nseg);
	printf("  size: segments %.1f MB, index.db %.1f MB, total %.1f MB (%.2f bytes per "
	       "connection-tick in segments)\n",
	       (double)seg / 1e6, (double)idx / 1e6, (double)(seg + idx) / 1e6,
	       (double)seg / (double)g.conn_ticks);
	printf("  synthesis: %.1f s wall, %.1f s CPU (%.0f connection-ticks/s)\n", (double)el / 1e9,
	       (double)cpu / 1e9, (double)g.conn_ticks / ((double)el / 1e9));
	printf("summary ticks=%" PRIu64 " conns=%" PRIu64 " conns_total=%" PRIu64
	       " conn_ticks=%" PRIu64 " events=%" PRIu64 " blocks=%" PRIu64 " segments=%u"
	       " start_unix=%" PRIu64 " end_unix=%" PRIu64 " segment_bytes=%" PRIu64
	       " index_bytes=%" PRIu64 " synth_s=%.3f seed=%" PRIu64 " tick_ns=%" PRIu64
	       " active=%.4f flush_ns=%" PRIu64 "\n",
	       ticks, g.o.conns, g.opened, g.conn_ticks, g.events, blocks, nseg, g.o.start_s,
	       g.o.start_s + secs, seg, idx, (double)el / 1e9, g.o.seed, g.o.tick_ns, g.o.active,
	       g.o.flush_ns);
	rc = 0;
out:
	tt_writer_free(g.w);
	tt_agg_free(g.agg);
	free(g.c);
	free(g.pend);
	return rc;
}
