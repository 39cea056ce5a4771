/*
 * collector.c: see collector.h.
 *
 * Per tick: drain the lifecycle ring, walk every process's sockets
 * (iter/task_file) and our namespace's orphans (iter/tcp), read the UDP flow
 * counters, close what the kernel no longer has, then hand the tick's events
 * out in one go ending with TICK. Events are held until the tick ends so that
 * a connection's CONN, queued when it was first met, can still be completed in
 * place by what the walk learns in the same tick (the accepting process, the
 * local port a connect() picked).
 *
 * Ids: a TCP connection is its socket cookie; a UDP flow (socket, remote
 * peer) is a hash of both with bit 63 set (cookies are a per-boot counter and
 * never reach it). The collector remembers what it last reported per id and
 * emits a SAMPLE only when something moved.
 */
#define _GNU_SOURCE
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "capture.skel.h"
#include "clock.h"
#include "collector.h"
#include "idmap.h"
#include "mem.h"
#include "probe.h"
#include "tcptop_abi.h"

#define BATCH	       256
#define FLOW_ID_BIT    (1ull << 63)
#define GONE_TICKS     2 /* walks in a row a TCP socket is missing before it is closed */
#define DISCOVER_EVERY 10 /* ticks between two discovery walks of one namespace */
#define ORPHANS_EVERY                                                                              \
	5 /* ticks between two walks of our namespace's orphans: they move                         \
	   * no application bytes, their hooks report their ends, and                              \
	   * iter/tcp costs as much again as the task_file walk */
#define MAX_NETNS   1024 /* namespaces remembered for discovery */
#define WALK_BUF    (64 * 1024)
#define DRAIN_EVERY 256 /* events handed out between two ring drains */

/* What the collector remembers about one connection or UDP flow. */
struct cstate {
	struct tt_ev_conn conn; /* as last emitted */
	struct tt_counters last; /* totals as last emitted */
	struct tt_counters base; /* TCP partial: kernel totals at first sight;
				  * UDP: totals of kernel entries already deleted */
	uint64_t cookie; /* the socket; for a flow, its socket */
	uint64_t last_change_ns; /* when bytes or packets last moved (as seen at a tick) */
	uint64_t last_dgram_ns; /* UDP: the kernel's time of the flow's last datagram */
	uint64_t seen_tick; /* last tick a walk (or, for a flow, the map) had it */
	uint64_t conn_tick; /* tick whose queue holds this id's CONN at conn_q */
	size_t conn_q;
	uint32_t cand_pid; /* holder candidate of this tick's walk */
	char cand_comm[TT_COMM_MAX];
	uint8_t cand; /* 0 none, 1 a candidate, 2 the current holder still holds it */
	uint8_t is_flow;
	uint8_t gone; /* walks in a row without it and without a kernel entry */
	uint8_t ever_established;
	uint8_t from_open; /* we saw connect/accept: counts from open */
	uint8_t active; /* opened by connect() */
	uint8_t syn_failed; /* went from SYN_SENT straight to CLOSE */
	uint16_t close_err; /* sk_err when the state went to CLOSE (the application
			     * may clear sk_err by reading it before destroy) */
	uint16_t soft_err; /* sk_err_soft last seen: why SYNs went unanswered */
};

/* A UDP socket as the walk saw it: the holder its flows are shown with. */
struct usock {
	uint64_t cookie;
	uint64_t seen_tick;
	uint64_t cgroup;
	uint32_t tgid;
	uint32_t netns;
	uint8_t partial; /* there before us: its flows count from the start */
	char comm[TT_COMM_MAX];
};

struct tt_collector {
	struct tt_source src; /* first: tt_source* <-> tt_collector* */
	struct tt_collector_opts opts;
	struct capture_bpf *skel;
	struct ring_buffer *rb;
	int wake_off; /* the caller's wake_fd hung up: no longer polled */
	struct bpf_link *links[16];
	int nlinks;
	struct bpf_link *files_walk; /* iter/task_file */
	struct bpf_link *tcp_walk; /* iter/tcp */
	struct bpf_link *udp_walk; /* iter/udp, start-up discovery only */
	int starting; /* the start-up walk: what it meets was there before us */
	int no_discovery; /* privileges given up: no more walks in other namespaces */
	int cgroup_fd;
	int self_netns; /* our own namespace, to come back after a discovery walk */
	int udp_counted; /* cgroup_skb attached */
	int64_t mono_to_wall;
	uint64_t tickno;

	struct tt_idmap *index; /* id -> slot in cs */
	struct cstate *cs;
	size_t ncs, cap_cs;
	struct tt_idmap *nsnames; /* netns cookie -> netns inode, from the walks */
	uint64_t last_netns_cookie; /* the last one put into nsnames */
	struct tt_idmap *uindex; /* cookie -> slot in us */
	struct usock *us;
	size_t nus, cap_us;

	struct {
		uint32_t inum; /* netns inode */
		uint32_t tgid; /* a process in it */
		uint64_t tick; /* when it was last walked, 0: wanted */
	} netns[MAX_NETNS];
	size_t nnetns;

	struct tt_event *q; /* events of the current tick, in order */
	size_t qn, qhead, qcap;
	int qerr; /* a push failed (ENOMEM) inside a callback */
	int ready; /* q holds a finished tick: hand it out */

	unsigned char *wbuf; /* iterator reads */
	uint64_t tick_start_ns;
	uint64_t deadline_ns;
	int ended;
	struct tt_ev_loss loss;
	int loss_sent;
	uint64_t flows_read; /* UDP peer entries of the last read */
	char err[256];
	char limits[512]; /* what this recording cannot see, "; "-separated */
};

static tt_log_fn g_log; /* libbpf's print hook is process-wide */
static void *g_log_ctx;

static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char msg[512];
	size_t n;

	if (!g_log)
		return 0;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = '\0';
	g_log(level == LIBBPF_WARN ? 0 : level == LIBBPF_INFO ? 1 : 2, msg, g_log_ctx);
	return 0;
}

static void logf_(struct tt_collector *c, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void logf_(struct tt_collector *c, int level, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (!c->opts.log)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	c->opts.log(level, msg, c->opts.log_ctx);
}

/* Note a capability or hook the capture runs without: warned now, stored with the recording. */
static void limit(struct tt_collector *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void limit(struct tt_collector *c, const char *fmt, ...)
{
	size_t n = strlen(c->limits);
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (strstr(c->limits, msg))
		return; /* said once */
	logf_(c, 0, "%s", msg);
	snprintf(c->limits + n, sizeof(c->limits) - n, "%s%s", n ? "; " : "", msg);
}

void tt_collector_opts_default(struct tt_collector_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->interval_ns = 1000000000ull;
	o->udp_idle_ns = 5000000000ull;
	o->socks_max = 65536;
	o->peers_max = 16384;
	o->ringbuf_bytes = 32u << 20;
}

static void push(struct tt_collector *c, const struct tt_event *ev)
{
	if (tt_grow((void **)&c->q, &c->qcap, c->qn + 1, sizeof(*c->q))) {
		c->qerr = -ENOMEM;
		return;
	}
	c->q[c->qn++] = *ev;
}

static struct cstate *cs_find(struct tt_collector *c, uint64_t id)
{
	uint32_t slot;

	return tt_idmap_get(c->index, id, &slot) ? &c->cs[slot] : NULL;
}

static struct cstate *cs_add(struct tt_collector *c, uint64_t id)
{
	struct cstate *s;

	if (tt_grow((void **)&c->cs, &c->cap_cs, c->ncs + 1, sizeof(*c->cs)) ||
	    tt_idmap_put(c->index, id, (uint32_t)c->ncs)) {
		c->qerr = -ENOMEM;
		return NULL;
	}
	s = &c->cs[c->ncs++];
	memset(s, 0, sizeof(*s));
	s->conn.id = id;
	return s;
}

static void cs_del(struct tt_collector *c, uint64_t id)
{
	uint32_t slot;

	if (!tt_idmap_get(c->index, id, &slot))
		return;
	tt_idmap_del(c->index, id);
	if (slot != --c->ncs) {
		c->cs[slot] = c->cs[c->ncs];
		tt_idmap_put(c->index, c->cs[slot].conn.id, slot);
	}
}

static uint64_t sat_sub(uint64_t a, uint64_t b)
{
	return a >= b ? a - b : 0;
}

static uint64_t max64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

/* The raw kernel totals of a TCP snapshot, before any base is taken off. */
static void raw_tcp(const struct tt_snap *v, struct tt_counters *o)
{
	memset(o, 0, sizeof(*o));
	o->bytes_in = v->bytes_in;
	o->bytes_out = v->bytes_out;
	o->packets_in = v->segs_in;
	o->packets_out = v->segs_out;
	o->retrans = v->total_retrans;
}

/*
 * Totals of a TCP connection from a snapshot. A lifecycle hook's snapshot is
 * taken under the socket's lock: exact, it is taken as it is. A walk reads
 * without the lock, and an ACK processed between the kernel's update of
 * bytes_acked and of snd_una (or bytes_received and rcv_nxt) can make one
 * reading high by that segment; walk readings therefore never lower what was
 * reported, and the close (a hook) has the last word. A snapshot taken after
 * tcp_disconnect() zeroed the kernel's counters keeps the last totals.
 */
static void counters_from_snap(const struct cstate *s, const struct tt_snap *v, int exact,
			       struct tt_counters *o)
{
	uint64_t rt, bin, bout;

	*o = s->last;
	o->state = v->state;
	o->rst_sent = v->rst_sent > s->last.rst_sent ? v->rst_sent : s->last.rst_sent;
	o->rst_recv = v->rst_recv > s->last.rst_recv ? v->rst_recv : s->last.rst_recv;
	if (v->flags & TT_SNF_ZEROED)
		return;
	bin = sat_sub(v->bytes_in, s->base.bytes_in);
	bout = sat_sub(v->bytes_out, s->base.bytes_out);
	o->bytes_in = exact ? bin : max64(s->last.bytes_in, bin);
	o->bytes_out = exact ? bout : max64(s->last.bytes_out, bout);
	o->packets_in = max64(s->last.packets_in, sat_sub(v->segs_in, s->base.packets_in));
	o->packets_out = max64(s->last.packets_out, sat_sub(v->segs_out, s->base.packets_out));
	rt = sat_sub(v->total_retrans, s->base.retrans);
	if (rt < v->retrans_events)
		rt = v->retrans_events;
	if (rt > s->last.retrans)
		o->retrans = (uint32_t)rt;
	if (v->srtt_us) {
		o->srtt_us = v->srtt_us;
		o->rttvar_us = v->rttvar_us;
	}
}

static void counters_from_flow(const struct tt_flow_val *v, const struct tt_counters *base,
			       struct tt_counters *o)
{
	memset(o, 0, sizeof(*o));
	o->bytes_in = base->bytes_in + v->bytes_in;
	o->bytes_out = base->bytes_out + v->bytes_out;
	o->packets_in = base->packets_in + v->dgrams_in;
	o->packets_out = base->packets_out + v->dgrams_out;
}

static int moved(const struct tt_counters *a, const struct tt_counters *b)
{
	return a->bytes_in != b->bytes_in || a->bytes_out != b->bytes_out ||
	       a->packets_in != b->packets_in || a->packets_out != b->packets_out;
}

static void endpoints_from_tuple(struct tt_ev_conn *ci, const struct tt_tuple *t)
{
	memcpy(ci->laddr, t->saddr, 16);
	memcpy(ci->raddr, t->daddr, 16);
	ci->lport = t->sport;
	ci->rport = t->dport;
	ci->family = t->family;
}

static void conn_from_snap(struct tt_ev_conn *ci, uint64_t id, const struct tt_snap *v)
{
	memset(ci, 0, sizeof(*ci));
	ci->id = id;
	endpoints_from_tuple(ci, &v->tuple);
	ci->proto = v->tuple.proto;
	/* seen opening: which side listened is known (service-port groups by it) */
	ci->flags = !(v->sk_flags & TT_SKF_OPEN_SEEN) ? TT_CF_PARTIAL
		    : (v->sk_flags & TT_SKF_ACTIVE)   ? TT_CF_ACTIVE
						      : TT_CF_PASSIVE;
	if (v->flags & (TT_SNF_HELD | TT_SNF_TASK)) {
		/* the process: the walk knows who holds a socket, not which thread */
		ci->pid = v->tgid;
		ci->tgid = v->tgid;
		memcpy(ci->comm, v->comm, TT_COMM_MAX);
	}
	ci->netns = v->netns;
	ci->cgroup = v->cgroup_id;
	ci->open_ns = v->first_ns;
}

/*
 * Announce s->conn. A CONN queued earlier in this tick is rewritten in place
 * (nothing has seen it yet), so a connection's first CONN already carries
 * what the tick learnt about it.
 */
static void emit_conn(struct tt_collector *c, struct cstate *s, uint64_t ts)
{
	struct tt_event ev = { .ts_ns = ts, .type = TT_EV_CONN };

	if (s->conn_tick == c->tickno && s->conn_q >= c->qhead && s->conn_q < c->qn &&
	    c->q[s->conn_q].type == TT_EV_CONN && c->q[s->conn_q].conn.id == s->conn.id) {
		uint64_t open_ns = c->q[s->conn_q].conn.open_ns;

		c->q[s->conn_q].conn = s->conn;
		c->q[s->conn_q].conn.open_ns = open_ns;
		return;
	}
	ev.conn = s->conn;
	s->conn_tick = c->tickno;
	s->conn_q = c->qn;
	push(c, &ev);
}

static void emit_sample(struct tt_collector *c, struct cstate *s, const struct tt_counters *nc,
			uint64_t ts)
{
	struct tt_event ev = { .ts_ns = ts, .type = TT_EV_SAMPLE };

	if (!memcmp(nc, &s->last, sizeof(*nc)))
		return;
	if (moved(nc, &s->last))
		s->last_change_ns = ts;
	s->last = *nc;
	ev.sample.id = s->conn.id;
	ev.sample.c = *nc;
	push(c, &ev);
}

/* Identity changed: the tuple completed after connect(), or a new holder. */
static int conn_changed(const struct tt_ev_conn *a, const struct tt_ev_conn *b)
{
	return a->pid != b->pid || a->lport != b->lport || a->rport != b->rport ||
	       memcmp(a->laddr, b->laddr, 16) || memcmp(a->raddr, b->raddr, 16) ||
	       memcmp(a->comm, b->comm, TT_COMM_MAX);
}

/* The cstate of a TCP socket, created (and announced) on first sight. */
static struct cstate *tcp_state(struct tt_collector *c, const struct tt_snap *v, uint64_t ts)
{
	struct cstate *s = cs_find(c, v->cookie);
	struct tt_ev_conn ci;

	conn_from_snap(&ci, v->cookie, v);
	if (s) {
		/* a socket moving to CLOSE has given its port back, tcp_disconnect()
		 * clears the remote one: keep the tuple we know, take the rest (the
		 * process closing it) */
		if (s->conn.lport && s->conn.rport && (!ci.lport || !ci.rport)) {
			memcpy(ci.laddr, s->conn.laddr, 16);
			memcpy(ci.raddr, s->conn.raddr, 16);
			ci.lport = s->conn.lport;
			ci.rport = s->conn.rport;
			ci.family = s->conn.family;
		}
		ci.open_ns = s->conn.open_ns;
		ci.flags = s->conn.flags;
		if (!ci.pid) { /* snapshots in softirq know no process */
			ci.pid = s->conn.pid;
			ci.tgid = s->conn.tgid;
			memcpy(ci.comm, s->conn.comm, TT_COMM_MAX);
		}
		if (conn_changed(&s->conn, &ci)) {
			s->conn = ci;
			emit_conn(c, s, ts);
		}
		return s;
	}
	s = cs_add(c, v->cookie);
	if (!s)
		return NULL;
	if (!ci.open_ns || !(v->sk_flags & TT_SKF_OPEN_SEEN))
		ci.open_ns = ts; /* partial: first seen now */
	s->conn = ci;
	s->cookie = v->cookie;
	s->last_change_ns = ts;
	s->from_open = !!(v->sk_flags & TT_SKF_OPEN_SEEN);
	s->active = !!(v->sk_flags & TT_SKF_ACTIVE);
	if (!s->from_open && !(v->flags & TT_SNF_ZEROED))
		raw_tcp(v, &s->base); /* counts start now */
	emit_conn(c, s, ts);
	return s;
}

static enum tt_close_reason close_reason(const struct cstate *s, const struct tt_kevent *k)
{
	/* a connection whose state changes were lost (ring buffer full) shows it
	 * was established by what it carried: data in, or more than a SYN-ACK or a
	 * RST (what a refused connect receives) */
	int carried = s->last.bytes_in || s->last.packets_in >= 2;

	if (s->syn_failed || (s->active && !s->ever_established && !carried))
		return TT_CLOSE_FAILED; /* a connect that never connected, for whatever reason */
	if (s->from_open && !s->ever_established && (s->close_err || k->sk_err))
		return TT_CLOSE_FAILED;
	if (k->snap.rst_recv || k->snap.rst_sent || s->last.rst_recv || s->last.rst_sent)
		return TT_CLOSE_RESET;
	return TT_CLOSE_NORMAL;
}

/* errno of a close: what the kernel said, or, for a connect nobody answered, ETIMEDOUT. */
static uint16_t close_errno(const struct cstate *s, const struct tt_kevent *k,
			    enum tt_close_reason why)
{
	if (k && k->sk_err)
		return (uint16_t)k->sk_err;
	if (s->close_err)
		return s->close_err;
	if (why != TT_CLOSE_FAILED)
		return 0;
	if (k && k->sk_err_soft)
		return (uint16_t)k->sk_err_soft;
	return s->soft_err ? s->soft_err : ETIMEDOUT;
}

/* CLOSE for s and forget it; a UDP flow's reason is given (why < 0: TCP's own). */
static void emit_close(struct tt_collector *c, struct cstate *s, const struct tt_counters *nc,
		       const struct tt_kevent *k, int why, uint64_t ts)
{
	struct tt_event ev = { .ts_ns = ts, .type = TT_EV_CLOSE };
	struct tt_kevent none = { 0 };

	s->last = *nc; /* the final totals decide the reason too */
	ev.close.id = s->conn.id;
	ev.close.c = *nc;
	ev.close.reason = why >= 0 ? (uint8_t)why : close_reason(s, k ? k : &none);
	ev.close.err = why >= 0 ? 0 : close_errno(s, k, ev.close.reason);
	push(c, &ev);
	cs_del(c, s->conn.id);
}

static int on_kevent(void *ctx, void *data, size_t size)
{
	struct tt_collector *c = ctx;
	const struct tt_kevent *k = data;
	struct tt_event ev = { .ts_ns = k->ts_ns };
	struct tt_counters nc;
	struct cstate *s;

	if (size < sizeof(*k))
		return 0;
	if (k->type == TT_KEV_DESTROY && !cs_find(c, k->snap.cookie))
		return 0; /* already closed as gone */
	s = tcp_state(c, &k->snap, k->ts_ns);
	if (!s)
		return 0;
	if (k->sk_err_soft)
		s->soft_err = (uint16_t)k->sk_err_soft;
	counters_from_snap(s, &k->snap, 1, &nc);
	switch (k->type) {
	case TT_KEV_STATE:
		if (k->new_state == TT_TCP_ESTABLISHED)
			s->ever_established = 1;
		if (k->new_state == TT_TCP_CLOSE && k->sk_err)
			s->close_err = (uint16_t)k->sk_err;
		if (k->new_state == TT_TCP_CLOSE && k->old_state == TT_TCP_SYN_SENT)
			s->syn_failed = 1;
		emit_sample(c, s, &nc, k->ts_ns);
		ev.type = TT_EV_STATE;
		ev.state.id = s->conn.id;
		ev.state.old_state = k->old_state;
		ev.state.new_state = k->new_state;
		ev.state.err = (uint16_t)k->sk_err;
		push(c, &ev);
		break;
	case TT_KEV_RESET:
		emit_sample(c, s, &nc, k->ts_ns);
		ev.type = TT_EV_RESET;
		ev.reset.id = s->conn.id;
		ev.reset.received = k->rst_dir;
		push(c, &ev);
		break;
	case TT_KEV_DESTROY:
		emit_close(c, s, &nc, k, -1, k->ts_ns);
		break;
	default:
		break;
	}
	return 0;
}

/*
 * One run of an iterator: fn for every record it writes. Records are whole
 * (the kernel never splits one object's output), but a read() may end inside
 * one, so a partial tail is carried over.
 */
static int walk(struct tt_collector *c, struct bpf_link *l,
		void (*fn)(struct tt_collector *, const struct tt_snap *, uint64_t), uint64_t ts)
{
	int fd = bpf_iter_create(bpf_link__fd(l)), err = 0;
	size_t have = 0;
	ssize_t n;

	if (fd < 0)
		return -errno;
	while ((n = read(fd, c->wbuf + have, WALK_BUF - have)) > 0) {
		size_t off = 0;

		have += (size_t)n;
		for (; have - off >= sizeof(struct tt_snap); off += sizeof(struct tt_snap)) {
			struct tt_snap v;

			memcpy(&v, c->wbuf + off, sizeof(v));
			if (fn)
				fn(c, &v, ts);
		}
		memmove(c->wbuf, c->wbuf + off, have - off);
		have -= off;
	}
	if (n < 0)
		err = -errno;
	close(fd);
	return err;
}

/* A namespace holding a socket we cannot name yet: walk it (see discover()). */
static void want_netns(struct tt_collector *c, uint32_t inum, uint32_t tgid)
{
	size_t i;

	for (i = 0; i < c->nnetns; i++)
		if (c->netns[i].inum == inum) {
			if (c->tickno >= c->netns[i].tick + DISCOVER_EVERY)
				c->netns[i].tick = 0;
			c->netns[i].tgid = tgid;
			return;
		}
	if (c->nnetns == MAX_NETNS)
		return;
	c->netns[c->nnetns].inum = inum;
	c->netns[c->nnetns].tgid = tgid;
	c->netns[c->nnetns].tick = 0;
	c->nnetns++;
}

static void holder_candidate(struct cstate *s, const struct tt_snap *v)
{
	if (s->cand == 2)
		return;
	if (v->tgid == s->conn.tgid && !memcmp(v->comm, s->conn.comm, TT_COMM_MAX)) {
		s->cand = 2; /* whoever held it still does: no reason to switch */
		return;
	}
	if (!s->cand) {
		s->cand = 1;
		s->cand_pid = v->tgid;
		memcpy(s->cand_comm, v->comm, TT_COMM_MAX);
	}
}

static uint64_t flow_id(const struct tt_flow_key *k);

/*
 * A connected UDP socket that was there before us has a row from the start,
 * traffic or not, under the id its traffic to that peer will have.
 */
static void udp_connected_row(struct tt_collector *c, const struct usock *u,
			      const struct tt_snap *v, uint64_t ts)
{
	struct tt_flow_key k = { .cookie = v->cookie,
				 .port = v->tuple.dport,
				 .lport = v->tuple.sport };
	struct cstate *s;
	uint64_t id;

	memcpy(k.addr, v->tuple.daddr, 16);
	id = flow_id(&k);
	if (cs_find(c, id) || !(s = cs_add(c, id)))
		return;
	s->is_flow = 1;
	s->cookie = v->cookie;
	conn_from_snap(&s->conn, id, v);
	s->conn.flags = TT_CF_PARTIAL;
	s->conn.pid = s->conn.tgid = u->tgid;
	s->conn.open_ns = ts;
	s->last_change_ns = ts;
	s->seen_tick = c->tickno;
	emit_conn(c, s, ts);
}

/* The UDP socket of a walk record: the holder its flows are shown with. */
static void usock_seen(struct tt_collector *c, const struct tt_snap *v, uint64_t ts)
{
	struct usock *u;
	uint32_t slot;

	if (tt_idmap_get(c->uindex, v->cookie, &slot)) {
		u = &c->us[slot];
		if (u->seen_tick == c->tickno)
			return; /* held by several: the first of the walk is shown */
	} else {
		if (tt_grow((void **)&c->us, &c->cap_us, c->nus + 1, sizeof(*c->us)) ||
		    tt_idmap_put(c->uindex, v->cookie, (uint32_t)c->nus)) {
			c->qerr = -ENOMEM;
			return;
		}
		u = &c->us[c->nus++];
		memset(u, 0, sizeof(*u));
		u->cookie = v->cookie;
	}
	u->tgid = v->tgid;
	memcpy(u->comm, v->comm, TT_COMM_MAX);
	u->seen_tick = c->tickno;
	u->netns = v->netns;
	u->cgroup = v->cgroup_id;
	if (c->starting) {
		u->partial = 1;
		if (v->tuple.dport)
			udp_connected_row(c, u, v, ts);
	}
}

static void on_file(struct tt_collector *c, const struct tt_snap *v, uint64_t ts)
{
	struct tt_counters nc;
	struct cstate *s;

	/* netns cookie -> inode, to name UDP flows no walk met; the records of
	 * one process mostly share a namespace, so only a change is stored */
	if (v->netns_cookie && v->netns_cookie != c->last_netns_cookie) {
		tt_idmap_put(c->nsnames, v->netns_cookie, v->netns);
		c->last_netns_cookie = v->netns_cookie;
	}
	if (!v->cookie) { /* TCP from before us (the walk skips such UDP sockets) */
		want_netns(c, v->netns, v->tgid);
		return;
	}
	if (v->tuple.proto == IPPROTO_UDP) {
		usock_seen(c, v, ts);
		return;
	}
	s = cs_find(c, v->cookie);
	if (!s) {
		s = tcp_state(c, v, ts);
		if (!s)
			return;
	} else if (!s->conn.lport && v->tuple.sport) { /* connect() has picked its port */
		endpoints_from_tuple(&s->conn, &v->tuple);
		emit_conn(c, s, ts);
	}
	holder_candidate(s, v);
	s->seen_tick = c->tickno;
	s->gone = 0;
	counters_from_snap(s, v, 0, &nc);
	emit_sample(c, s, &nc, ts);
}

/* Start-up: only the namespaces that hold sockets without a cookie. */
static void on_file_discover(struct tt_collector *c, const struct tt_snap *v, uint64_t ts)
{
	(void)ts;
	if (!v->cookie)
		want_netns(c, v->netns, v->tgid);
}

static void on_orphan(struct tt_collector *c, const struct tt_snap *v, uint64_t ts)
{
	struct tt_counters nc;
	struct cstate *s = tcp_state(c, v, ts);

	if (!s)
		return;
	s->seen_tick = c->tickno;
	s->gone = 0;
	counters_from_snap(s, v, 0, &nc);
	emit_sample(c, s, &nc, ts);
}

/* After the walk: each connection is shown with a process that holds it now. */
static void apply_holders(struct tt_collector *c, uint64_t ts)
{
	size_t i;

	for (i = 0; i < c->ncs; i++) {
		struct cstate *s = &c->cs[i];

		if (s->cand == 1) {
			s->conn.pid = s->conn.tgid = s->cand_pid;
			memcpy(s->conn.comm, s->cand_comm, TT_COMM_MAX);
			emit_conn(c, s, ts);
		}
		s->cand = 0;
	}
}

static uint64_t flow_id(const struct tt_flow_key *k)
{
	/* FNV-1a over the key; 63 bits of hash, bit 63 marks a flow */
	return tt_fnv1a(k, offsetof(struct tt_flow_key, pad), TT_FNV1A_INIT) | FLOW_ID_BIT;
}

static const unsigned char v4mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

static struct usock *usock_find(struct tt_collector *c, uint64_t cookie)
{
	uint32_t slot;

	return tt_idmap_get(c->uindex, cookie, &slot) ? &c->us[slot] : NULL;
}

static void on_flow(struct tt_collector *c, const struct tt_flow_key *k,
		    const struct tt_flow_val *fv, uint64_t ts)
{
	uint64_t id = flow_id(k);
	struct cstate *s = cs_find(c, id);
	struct tt_counters nc;

	if (!s) {
		struct usock *u = usock_find(c, k->cookie);

		s = cs_add(c, id);
		if (!s)
			return;
		s->is_flow = 1;
		s->cookie = k->cookie;
		s->conn.proto = IPPROTO_UDP;
		memcpy(s->conn.laddr, fv->laddr, 16);
		s->conn.lport = fv->lport;
		memcpy(s->conn.raddr, k->addr, 16);
		s->conn.rport = k->port;
		/* the BPF side stores IPv4 v4-mapped, as it does for sockets */
		s->conn.family = !memcmp(k->addr, v4mapped_prefix, 12) ? 4 : 6;
		s->conn.flags = fv->connected ? 0 : TT_CF_UDP_PEER;
		if (u && u->partial)
			s->conn.flags |= TT_CF_PARTIAL;
		if (u) {
			s->conn.pid = s->conn.tgid = u->tgid;
			memcpy(s->conn.comm, u->comm, TT_COMM_MAX);
			s->conn.netns = u->netns;
			s->conn.cgroup = u->cgroup;
		} else if (fv->tgid) { /* gone before any walk saw it: who sent first */
			s->conn.pid = s->conn.tgid = fv->tgid;
			memcpy(s->conn.comm, fv->comm, TT_COMM_MAX);
			s->conn.comm[TT_COMM_MAX - 1] = '\0';
		}
		if (!s->conn.cgroup)
			s->conn.cgroup = fv->cgroup_id;
		if (!s->conn.netns) {
			uint32_t inum;

			if (tt_idmap_get(c->nsnames, fv->netns_cookie, &inum))
				s->conn.netns = inum;
		}
		/* the flow began at its first datagram, up to a tick before we read it */
		s->conn.open_ns = fv->first_ns ? fv->first_ns : ts;
		s->last_change_ns = ts;
		emit_conn(c, s, ts);
	} else {
		struct usock *u = usock_find(c, k->cookie);

		if (u && u->seen_tick == c->tickno &&
		    (u->tgid != s->conn.tgid || memcmp(u->comm, s->conn.comm, TT_COMM_MAX))) {
			s->conn.pid = s->conn.tgid = u->tgid;
			memcpy(s->conn.comm, u->comm, TT_COMM_MAX);
			emit_conn(c, s, ts);
		}
	}
	s->seen_tick = c->tickno;
	if (fv->last_ns > s->last_dgram_ns)
		s->last_dgram_ns = fv->last_ns;
	counters_from_flow(fv, &s->base, &nc);
	emit_sample(c, s, &nc, ts);
}

/* Read every UDP flow's counters, in batches. */
static int read_flows(struct tt_collector *c, uint64_t ts)
{
	static __thread struct tt_flow_key keys[BATCH];
	static __thread struct tt_flow_val vals[BATCH];
	int fd = bpf_map__fd(c->skel->maps.flows);
	LIBBPF_OPTS(bpf_map_batch_opts, bo);
	struct tt_flow_key token;
	int first = 1;

	c->flows_read = 0;
	for (;;) {
		__u32 n = BATCH, i;
		int err = bpf_map_lookup_batch(fd, first ? NULL : &token, &token, keys, vals, &n,
					       &bo);

		c->flows_read += n;
		for (i = 0; i < n; i++)
			on_flow(c, &keys[i], &vals[i], ts);
		if (err)
			return errno == ENOENT ? 0 : -errno;
		first = 0;
	}
}

/*
 * UDP has no close the kernel tells us about: a flow ends when its socket is
 * no longer held by any process (the walk did not see it, and it was quiet
 * this tick), or after udp_idle_ns without a datagram. Either way an explicit
 * CLOSE, so a replay needs no policy of its own. The kernel entry goes with
 * lookup-and-delete; a datagram that slipped in since the read keeps the flow
 * alive, with what the entry held kept as base.
 */
static void end_udp(struct tt_collector *c, uint64_t ts)
{
	int fd = bpf_map__fd(c->skel->maps.flows);
	size_t i;

	for (i = c->ncs; i-- > 0;) {
		struct cstate *s = &c->cs[i];
		struct usock *u;
		struct tt_flow_key k = { .cookie = s->cookie };
		struct tt_flow_val fv;
		struct tt_counters nc = s->last;
		int idle, gone;

		if (!s->is_flow)
			continue;
		u = usock_find(c, s->cookie);
		idle = s->last_change_ns < ts;
		gone = (u ? u->seen_tick != c->tickno : 1) && idle;
		if (!gone && ts - s->last_change_ns < c->opts.udp_idle_ns)
			continue;
		memcpy(k.addr, s->conn.raddr, 16);
		k.port = s->conn.rport;
		k.lport = s->conn.lport;
		if (!bpf_map_lookup_and_delete_elem(fd, &k, &fv)) {
			counters_from_flow(&fv, &s->base, &nc);
			if (moved(&nc, &s->last)) {
				emit_sample(c, s, &nc, ts);
				s->base = nc;
				continue;
			}
		}
		/* a flow ends at its last datagram: the timeout or the tick that
		 * noticed is not part of its life (its open_ns is its first one) */
		emit_close(c, s, &nc, NULL, gone ? TT_CLOSE_NORMAL : TT_CLOSE_IDLE,
			   s->last_dgram_ns && s->last_dgram_ns <= ts ? s->last_dgram_ns : ts);
	}
	for (i = c->nus; i-- > 0;) {
		if (c->us[i].seen_tick == c->tickno)
			continue;
		tt_idmap_del(c->uindex, c->us[i].cookie);
		if (i != --c->nus) {
			c->us[i] = c->us[c->nus];
			tt_idmap_put(c->uindex, c->us[i].cookie, (uint32_t)i);
		}
	}
}

/*
 * TCP sockets the walks did not see are either orphans in another namespace
 * (their `socks` entry still exists: alive, their lifecycle hooks report
 * them) or gone. Gone ones normally left through DESTROY; one whose DESTROY
 * record was lost (ring buffer full) is closed here with its last totals, so
 * nothing stays open forever. The kernel writes DESTROY before it deletes the
 * entry, so draining the ring after finding the entry gone settles any race.
 */
static void end_tcp(struct tt_collector *c, uint64_t ts)
{
	int fd = bpf_map__fd(c->skel->maps.socks);
	struct tt_sk e;
	size_t i;

	for (i = 0; i < c->ncs; i++) {
		struct cstate *s = &c->cs[i];

		if (s->is_flow || s->seen_tick == c->tickno)
			continue;
		if (!bpf_map_lookup_elem(fd, &s->cookie, &e))
			s->gone = 0;
		else if (s->gone < 255)
			s->gone++;
	}
	ring_buffer__consume(c->rb);
	for (i = c->ncs; i-- > 0;) {
		struct cstate *s = &c->cs[i];
		struct tt_counters nc = s->last;

		if (s->is_flow || s->gone < GONE_TICKS)
			continue;
		nc.state = TT_TCP_CLOSE;
		logf_(c, 2, "connection %llu: gone without a close record",
		      (unsigned long long)s->cookie);
		emit_close(c, s, &nc, NULL, -1, ts);
	}
}

/*
 * Walk the TCP sockets of a namespace whose sockets have no cookie yet (they
 * predate us and have not changed state since): iter/tcp runs in the
 * namespace of whoever creates the iterator, so we step in for the walk.
 */
static void discover(struct tt_collector *c)
{
	size_t i;

	if (c->no_discovery)
		return;
	for (i = 0; i < c->nnetns; i++) {
		char path[64];
		int fd, err;

		if (c->netns[i].tick)
			continue;
		c->netns[i].tick = c->tickno ? c->tickno : 1;
		snprintf(path, sizeof(path), "/proc/%u/ns/net", c->netns[i].tgid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (setns(fd, CLONE_NEWNET)) {
			limit(c,
			      "setns into other namespaces: %s (needs CAP_SYS_ADMIN): their "
			      "connections open before the start are found only when they change state",
			      strerror(errno));
			close(fd);
			continue;
		}
		close(fd);
		c->skel->bss->walk_mode = TT_WALK_DISCOVER;
		err = walk(c, c->tcp_walk, NULL, 0);
		c->skel->bss->walk_mode = TT_WALK_TICK;
		if (!err && c->starting)
			err = walk(c, c->udp_walk, NULL, 0);
		if (setns(c->self_netns, CLONE_NEWNET)) {
			/* cannot happen with the privileges that got us here; if it
			 * does, every later walk would be of the wrong namespace */
			snprintf(c->err, sizeof(c->err), "setns back to our namespace: %s",
				 strerror(errno));
			c->qerr = -errno;
			return;
		}
		if (err)
			logf_(c, 1, "discovery walk in netns %u: %s", c->netns[i].inum,
			      strerror(-err));
	}
}

static void read_loss(struct tt_collector *c, uint64_t ts)
{
	int ncpu = libbpf_num_possible_cpus(), fd = bpf_map__fd(c->skel->maps.health);
	uint64_t tot[TT_H_MAX] = { 0 };
	struct tt_event ev = { .ts_ns = ts, .type = TT_EV_LOSS };
	__u64 *vals;
	__u32 idx;
	int cpu;

	if (ncpu <= 0 || !(vals = calloc((size_t)ncpu, sizeof(*vals))))
		return;
	for (idx = 0; idx < TT_H_MAX; idx++)
		if (!bpf_map_lookup_elem(fd, &idx, vals))
			for (cpu = 0; cpu < ncpu; cpu++)
				tot[idx] += vals[cpu];
	free(vals);
	ev.loss.ring_drops = tot[TT_H_RB_DROPS];
	ev.loss.socks_full = tot[TT_H_SOCKS_FULL];
	ev.loss.peers_full = tot[TT_H_PEERS_FULL];
	if (c->loss_sent && !memcmp(&ev.loss, &c->loss, sizeof(c->loss)))
		return;
	c->loss = ev.loss;
	c->loss_sent = 1;
	push(c, &ev);
}

/* Close the tick ending at ts: drain, walk, read, end what ended, then TICK. */
static int collect(struct tt_collector *c, uint64_t ts)
{
	struct tt_event tick = { .ts_ns = ts, .type = TT_EV_TICK };
	int err;

	ring_buffer__consume(c->rb);
	err = walk(c, c->files_walk, on_file, ts);
	if (!err && c->tickno % ORPHANS_EVERY == 0)
		err = walk(c, c->tcp_walk, on_orphan, ts);
	if (err) {
		snprintf(c->err, sizeof(c->err), "socket walk: %s", strerror(-err));
		return err;
	}
	apply_holders(c, ts);
	if (c->udp_counted && (err = read_flows(c, ts))) {
		snprintf(c->err, sizeof(c->err), "reading UDP counters: %s", strerror(-err));
		return err;
	}
	end_tcp(c, ts);
	end_udp(c, ts);
	discover(c);
	read_loss(c, ts);
	tick.tick.start_ns = c->tick_start_ns;
	push(c, &tick);
	c->tick_start_ns = ts;
	c->tickno++;
	c->ready = 1;
	return c->qerr;
}

/*
 * Wait up to ms for the ring buffer or the caller's wake_fd; the ring's
 * records are consumed, the caller's callback runs for its fd or a signal. A
 * wake_fd that hung up is left alone from then on (a closed terminal must not
 * spin the loop). Returns what ring_buffer__consume returns, or -errno.
 */
static int wait_or_wake(struct tt_collector *c, int ms)
{
	struct pollfd p[2] = { { .fd = ring_buffer__epoll_fd(c->rb), .events = POLLIN },
			       { .fd = c->opts.wake_fd, .events = POLLIN } };
	int n = poll(p, 2, ms);

	if (n < 0 && errno != EINTR)
		return -errno;
	if (n < 0 || (p[1].revents & POLLIN))
		c->opts.wake(c->opts.wake_ctx);
	if (n > 0 && (p[1].revents & (POLLHUP | POLLERR | POLLNVAL)))
		c->wake_off = 1;
	return ring_buffer__consume(c->rb);
}

static int collector_next(struct tt_source *src, struct tt_event *ev)
{
	struct tt_collector *c = (struct tt_collector *)src;

	for (;;) {
		uint64_t now;
		int err;

		if (c->ready && c->qhead < c->qn) {
			/* handing a tick out can take a while (a store's fsync): keep
			 * the ring drained meanwhile; what arrives goes after the TICK,
			 * into the next tick */
			if (!(c->qhead % DRAIN_EVERY) && !c->qerr) {
				int n = ring_buffer__consume(c->rb);

				if (n < 0) {
					snprintf(c->err, sizeof(c->err), "ring buffer: %s",
						 strerror(-n));
					c->qerr = n;
				}
			}
			*ev = c->q[c->qhead++];
			return 1;
		}
		if (c->ready) {
			c->qhead = c->qn = 0;
			c->ready = 0;
		}
		if (c->ended)
			return 0;
		now = tt_clock_ns(CLOCK_MONOTONIC);
		if (c->opts.stop && *c->opts.stop) {
			c->ended = 1;
			err = collect(c, now);
			if (err)
				return err;
			continue;
		}
		if (now < c->deadline_ns) {
			uint64_t wait_ms = (c->deadline_ns - now + 999999) / 1000000;

			/* short polls keep a stop request under 100 ms away */
			if (c->opts.wake && !c->wake_off)
				err = wait_or_wake(c, (int)(wait_ms < 100 ? wait_ms : 100));
			else
				err = ring_buffer__poll(c->rb,
							(int)(wait_ms < 100 ? wait_ms : 100));
			if (err < 0 && err != -EINTR) {
				snprintf(c->err, sizeof(c->err), "ring buffer: %s", strerror(-err));
				return err;
			}
			if (c->qerr)
				return c->qerr;
			continue;
		}
		err = collect(c, now);
		if (err)
			return err;
		c->deadline_ns += c->opts.interval_ns;
		if (c->deadline_ns <= now) /* we fell behind: do not burst to catch up */
			c->deadline_ns = now + c->opts.interval_ns;
	}
}

static const char *collector_errmsg(const struct tt_source *src)
{
	const struct tt_collector *c = (const struct tt_collector *)src;

	return c->err[0] ? c->err : "no error";
}

static int attach_tp(struct tt_collector *c, struct bpf_program *p, int required, char *why,
		     size_t why_len)
{
	struct bpf_link *l = bpf_program__attach(p);

	if (!l) {
		int err = -errno;

		if (!required) {
			limit(c, "%s: attach failed (%s); its counters stay at zero",
			      bpf_program__name(p), strerror(-err));
			return 0;
		}
		snprintf(why, why_len, "attaching %s: %s", bpf_program__name(p), strerror(-err));
		return -ENOTSUP;
	}
	c->links[c->nlinks++] = l;
	return 0;
}

static void attach_cgroup(struct tt_collector *c)
{
	char path[512];
	struct bpf_link *eg, *in;

	if (tt_probe_cgroup2(path, sizeof(path))) {
		limit(c, "no cgroup v2 mount: UDP is not counted");
		return;
	}
	c->cgroup_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c->cgroup_fd < 0) {
		limit(c, "open %s: %s: UDP is not counted", path, strerror(errno));
		return;
	}
	eg = bpf_program__attach_cgroup(c->skel->progs.tt_skb_egress, c->cgroup_fd);
	in = eg ? bpf_program__attach_cgroup(c->skel->progs.tt_skb_ingress, c->cgroup_fd) : NULL;
	if (!eg || !in) {
		limit(c, "cgroup_skb attach on %s: %s (needs CAP_NET_ADMIN): UDP is not counted",
		      path, strerror(errno));
		bpf_link__destroy(eg);
		return;
	}
	c->links[c->nlinks++] = eg;
	c->links[c->nlinks++] = in;
	c->udp_counted = 1;
}

/* Whether the kernel's BTF knows tracepoint tp (what tp_btf attaches by). */
static int has_btf_tracepoint(const struct btf *vmlinux, const char *tp)
{
	char name[128];

	snprintf(name, sizeof(name), "btf_trace_%s", tp);
	return btf__find_by_name_kind(vmlinux, name, BTF_KIND_TYPEDEF) > 0;
}

/*
 * Tracepoints the kernel may lack are probed before load and left out
 * (set_autoload false) instead of failing the whole object; what they would
 * have counted stays at zero, said once.
 */
static void probe_optional(struct tt_collector *c)
{
	static const struct {
		const char *tp;
		const char *what;
	} opt[] = {
		{ "tcp_send_reset", "resets sent" },
		{ "tcp_receive_reset", "resets received" },
		{ "tcp_retransmit_skb", "retransmit events (tcp_sock totals still count)" },
	};
	struct bpf_program *progs[] = { c->skel->progs.tt_send_reset,
					c->skel->progs.tt_receive_reset,
					c->skel->progs.tt_retransmit };
	struct btf *vmlinux = btf__load_vmlinux_btf();
	size_t i;

	if (!vmlinux)
		return; /* the load will say what is wrong */
	for (i = 0; i < sizeof(opt) / sizeof(opt[0]); i++) {
		if (has_btf_tracepoint(vmlinux, opt[i].tp))
			continue;
		bpf_program__set_autoload(progs[i], false);
		limit(c, "kernel has no tracepoint %s: %s are not counted", opt[i].tp, opt[i].what);
	}
	btf__free(vmlinux);
}

int tt_collector_open(const struct tt_collector_opts *o, struct tt_collector **out, char *why,
		      size_t why_len)
{
	struct tt_collector *c;
	struct bpf_program *core[2], *extra[3];
	int err, i;

	*out = NULL;
	err = tt_probe_privileges(why, why_len);
	if (err)
		return err;
	err = tt_probe_kernel(why, why_len);
	if (err)
		return err;

	c = calloc(1, sizeof(*c));
	if (!c || !(c->index = tt_idmap_new()) || !(c->uindex = tt_idmap_new()) ||
	    !(c->nsnames = tt_idmap_new()) || !(c->wbuf = malloc(WALK_BUF))) {
		if (c) {
			tt_idmap_free(c->index);
			tt_idmap_free(c->uindex);
			tt_idmap_free(c->nsnames);
		}
		free(c);
		snprintf(why, why_len, "out of memory");
		return -ENOMEM;
	}
	c->opts = *o;
	c->cgroup_fd = -1;
	c->self_netns = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	c->src.next = collector_next;
	c->src.errmsg = collector_errmsg;
	g_log = o->log;
	g_log_ctx = o->log_ctx;
	libbpf_set_print(libbpf_log);

	c->skel = capture_bpf__open();
	if (!c->skel) {
		err = -errno;
		snprintf(why, why_len, "opening BPF object: %s", strerror(-err));
		goto fail;
	}
	bpf_map__set_max_entries(c->skel->maps.socks, o->socks_max);
	bpf_map__set_max_entries(c->skel->maps.flows, o->peers_max);
	bpf_map__set_max_entries(c->skel->maps.events, o->ringbuf_bytes);
	c->skel->rodata->rb_wake_bytes = o->ringbuf_bytes / 8;
	probe_optional(c);
	err = capture_bpf__load(c->skel);
	if (err) {
		snprintf(why, why_len,
			 "loading BPF programs: %s (run with --verbose for the verifier log)",
			 strerror(-err));
		err = err == -EPERM ? -EPERM : -ENOTSUP;
		goto fail;
	}

	/* lifecycle first, discovery second: nothing falls between the two */
	core[0] = c->skel->progs.tt_state;
	core[1] = c->skel->progs.tt_destroy;
	extra[0] = c->skel->progs.tt_send_reset;
	extra[1] = c->skel->progs.tt_receive_reset;
	extra[2] = c->skel->progs.tt_retransmit;
	for (i = 0; i < 2; i++)
		if ((err = attach_tp(c, core[i], 1, why, why_len)))
			goto fail;
	for (i = 0; i < 3; i++)
		if (bpf_program__autoload(extra[i]))
			attach_tp(c, extra[i], 0, why, why_len);
	attach_cgroup(c);

	c->rb = ring_buffer__new(bpf_map__fd(c->skel->maps.events), on_kevent, c, NULL);
	if (!c->rb) {
		err = -errno;
		snprintf(why, why_len, "ring buffer: %s", strerror(-err));
		goto fail;
	}
	c->files_walk = bpf_program__attach_iter(c->skel->progs.tt_iter_files, NULL);
	c->tcp_walk = bpf_program__attach_iter(c->skel->progs.tt_iter_tcp, NULL);
	c->udp_walk = bpf_program__attach_iter(c->skel->progs.tt_iter_udp, NULL);
	if (!c->files_walk || !c->tcp_walk || !c->udp_walk) {
		err = -errno;
		snprintf(why, why_len, "socket iterators (iter/task_file, iter/tcp, iter/udp): %s",
			 strerror(-err));
		err = -ENOTSUP;
		goto fail;
	}
	/*
	 * Start-up: cookies for every connection already there, in our namespace
	 * and then in each namespace where a process holds one without, and a
	 * walk that meets them all (partial: their counts start now). What it
	 * queues goes out with the first tick.
	 */
	c->mono_to_wall =
		(int64_t)tt_clock_ns(CLOCK_REALTIME) - (int64_t)tt_clock_ns(CLOCK_MONOTONIC);
	c->tick_start_ns = tt_clock_ns(CLOCK_MONOTONIC);
	c->tickno = 1;
	c->starting = 1;
	c->skel->bss->walk_mode = TT_WALK_DISCOVER;
	err = walk(c, c->tcp_walk, NULL, 0);
	c->skel->bss->walk_mode = TT_WALK_TICK;
	if (!err)
		err = walk(c, c->udp_walk, NULL, 0);
	if (!err && c->self_netns >= 0) {
		err = walk(c, c->files_walk, on_file_discover, 0);
		discover(c);
	}
	if (!err)
		err = walk(c, c->files_walk, on_file, c->tick_start_ns);
	if (!err)
		err = walk(c, c->tcp_walk, on_orphan, c->tick_start_ns);
	if (err) {
		snprintf(why, why_len, "socket walk: %s", strerror(-err));
		err = -ENOTSUP;
		goto fail;
	}
	apply_holders(c, c->tick_start_ns);
	c->starting = 0;
	c->deadline_ns = c->tick_start_ns + o->interval_ns;
	*out = c;
	return 0;
fail:
	tt_collector_close(c);
	return err;
}

struct tt_source *tt_collector_source(struct tt_collector *c)
{
	return &c->src;
}

int64_t tt_collector_mono_to_wall(const struct tt_collector *c)
{
	return c->mono_to_wall;
}

const char *tt_collector_limits(const struct tt_collector *c)
{
	return c->limits;
}

void tt_collector_end_discovery(struct tt_collector *c)
{
	c->no_discovery = 1;
	limit(c,
	      "no discovery walks after the start (privileges given up): connections from "
	      "before the start in a namespace first met later are found when they change state");
}

void tt_collector_health(const struct tt_collector *c, struct tt_collector_health *h)
{
	size_t i;

	memset(h, 0, sizeof(*h));
	for (i = 0; i < c->ncs; i++)
		if (!c->cs[i].is_flow)
			h->tcp_tracked++;
	h->socks_max = c->opts.socks_max;
	h->flows = c->flows_read;
	h->flows_max = c->opts.peers_max;
}

int tt_collector_udp_peers(const struct tt_collector *c)
{
	return c->udp_counted;
}

void tt_collector_close(struct tt_collector *c)
{
	int i;

	if (!c)
		return;
	ring_buffer__free(c->rb);
	bpf_link__destroy(c->files_walk);
	bpf_link__destroy(c->tcp_walk);
	bpf_link__destroy(c->udp_walk);
	for (i = 0; i < c->nlinks; i++)
		bpf_link__destroy(c->links[i]);
	if (c->cgroup_fd >= 0)
		close(c->cgroup_fd);
	if (c->self_netns >= 0)
		close(c->self_netns);
	capture_bpf__destroy(c->skel);
	tt_idmap_free(c->index);
	tt_idmap_free(c->uindex);
	tt_idmap_free(c->nsnames);
	free(c->cs);
	free(c->us);
	free(c->q);
	free(c->wbuf);
	free(c);
}
