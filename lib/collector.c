/*
 * collector.c: see collector.h.
 *
 * The kernel keeps monotonic per-socket totals; this file remembers, per
 * connection, the totals it last reported, and emits a SAMPLE only when they
 * moved. Ids: a TCP or connected-UDP connection is its socket cookie; one
 * remote peer of an unconnected UDP socket is a hash of (cookie, peer) with bit
 * 63 set (cookies are a per-boot counter and never reach it).
 */
#define _GNU_SOURCE
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "capture.skel.h"
#include "collector.h"
#include "idmap.h"
#include "mem.h"
#include "probe.h"
#include "tcptop_abi.h"

#define BATCH 256
#define OWNER_TRIES 3 /* /proc scans for a socket whose owner never did I/O */
#define PEER_ID_BIT (1ull << 63)

/* What the collector remembers about one connection, UDP flow or hidden socket. */
struct cstate {
	struct tt_ev_conn conn; /* as last emitted */
	struct tt_counters last; /* totals as last emitted */
	struct tt_counters base; /* totals of kernel entries already deleted (UDP GC) */
	uint64_t cookie; /* the socket; for a peer flow, the owning socket */
	uint64_t last_change_ns; /* when bytes or packets last moved */
	uint32_t ino; /* socket inode, for the /proc owner lookup */
	uint8_t hidden; /* unconnected UDP socket: reported through its peers */
	uint8_t ever_established;
	uint8_t owner_tries;
	uint8_t from_open; /* TT_SF_OPEN_SEEN: we saw connect/accept */
	uint8_t syn_failed; /* went from SYN_SENT straight to CLOSE: a failed connect,
			     * even one that started before the recorder */
	uint16_t close_err; /* sk_err when the state went to CLOSE (the application
			     * may clear sk_err by reading it before destroy) */
};

struct tt_collector {
	struct tt_source src; /* first: tt_source* <-> tt_collector* */
	struct tt_collector_opts opts;
	struct capture_bpf *skel;
	struct ring_buffer *rb;
	struct bpf_link *links[16];
	int nlinks;
	struct bpf_link *tcp_walk; /* iter/tcp, walked every tick to refresh snapshots */
	int cgroup_fd;
	int udp_peers; /* cgroup_skb attached */
	int64_t mono_to_wall;

	struct tt_idmap *index; /* id -> slot in cs */
	struct cstate *cs;
	size_t ncs, cap_cs;

	struct tt_event *q; /* events of the current tick, in order */
	size_t qn, qhead, qcap;
	int qerr; /* a push failed (ENOMEM) inside a callback */

	uint64_t tick_start_ns;
	uint64_t deadline_ns;
	int ended;
	struct tt_ev_loss loss;
	int loss_sent;
	char err[256];
};

static tt_log_fn g_log; /* libbpf's print hook is process-wide */
static void *g_log_ctx;

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

static uint64_t now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void tt_collector_opts_default(struct tt_collector_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->interval_ns = 1000000000ull;
	o->udp_idle_ns = 5000000000ull;
	o->socks_max = 65536;
	o->peers_max = 16384;
	o->ringbuf_bytes = 4u << 20;
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

static uint32_t sat_sub32(uint32_t a, uint32_t b)
{
	return a >= b ? a - b : 0;
}

static void counters_from_sock(const struct tt_sock_val *v, const struct tt_counters *base,
			       struct tt_counters *o)
{
	memset(o, 0, sizeof(*o));
	o->bytes_in = base->bytes_in + v->bytes_in;
	o->bytes_out = base->bytes_out + v->bytes_out;
	o->rst_sent = v->rst_sent;
	o->rst_recv = v->rst_recv;
	if (v->tuple.proto == IPPROTO_TCP) {
		uint32_t rt = sat_sub32(v->total_retrans, v->retrans_base);

		o->packets_in = sat_sub32(v->segs_in, v->segs_in_base);
		o->packets_out = sat_sub32(v->segs_out, v->segs_out_base);
		o->srtt_us = v->srtt_us;
		o->rttvar_us = v->rttvar_us;
		o->retrans = rt > v->retrans_events ? rt : v->retrans_events;
		o->state = v->state;
	} else {
		o->packets_in = base->packets_in + v->dgrams_in;
		o->packets_out = base->packets_out + v->dgrams_out;
		o->state = v->state == TT_TCP_ESTABLISHED ? TT_TCP_ESTABLISHED : 0;
	}
}

static void counters_from_peer(const struct tt_peer_val *v, const struct tt_counters *base,
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

static void conn_from_sock(struct tt_ev_conn *ci, uint64_t id, const struct tt_sock_val *v)
{
	memset(ci, 0, sizeof(*ci));
	ci->id = id;
	memcpy(ci->laddr, v->tuple.saddr, 16);
	memcpy(ci->raddr, v->tuple.daddr, 16);
	ci->lport = v->tuple.sport;
	ci->rport = v->tuple.dport;
	ci->family = v->tuple.family;
	ci->proto = v->tuple.proto;
	ci->flags = (v->flags & TT_SF_PARTIAL) ? TT_CF_PARTIAL : 0;
	ci->pid = v->pid;
	ci->tgid = v->tgid;
	ci->netns = v->netns;
	ci->cgroup = v->cgroup_id;
	ci->open_ns = v->first_ns;
	memcpy(ci->comm, v->comm, TT_COMM_MAX);
}

static void emit_conn(struct tt_collector *c, const struct cstate *s, uint64_t ts)
{
	struct tt_event ev = { .ts_ns = ts, .type = TT_EV_CONN };

	ev.conn = s->conn;
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

/* Identity or owner changed (tuple completed after connect, another pid did I/O). */
static int conn_changed(const struct tt_ev_conn *a, const struct tt_ev_conn *b)
{
	return a->pid != b->pid || a->lport != b->lport || a->rport != b->rport ||
	       memcmp(a->laddr, b->laddr, 16) || memcmp(a->raddr, b->raddr, 16);
}

/* The cstate for a socket entry, created (and announced) on first sight. */
static struct cstate *sock_state(struct tt_collector *c, uint64_t cookie,
				 const struct tt_sock_val *v, uint64_t ts)
{
	struct cstate *s = cs_find(c, cookie);
	struct tt_ev_conn ci;

	conn_from_sock(&ci, cookie, v);
	if (s) {
		if (!ci.lport && s->conn.lport) /* a closed socket has given its port back */
			return s;
		if (!s->hidden && conn_changed(&s->conn, &ci) && (ci.pid || !s->conn.pid)) {
			ci.open_ns = s->conn.open_ns;
			ci.flags = s->conn.flags;
			if (!ci.pid) { /* keep an owner found in /proc */
				ci.pid = s->conn.pid;
				ci.tgid = s->conn.tgid;
				memcpy(ci.comm, s->conn.comm, TT_COMM_MAX);
			}
			s->conn = ci;
			emit_conn(c, s, ts);
		}
		if (v->ino)
			s->ino = v->ino;
		return s;
	}
	s = cs_add(c, cookie);
	if (!s)
		return NULL;
	s->conn = ci;
	s->cookie = cookie;
	s->ino = v->ino;
	s->last_change_ns = ts;
	s->from_open = !!(v->flags & TT_SF_OPEN_SEEN);
	s->hidden = v->tuple.proto == IPPROTO_UDP && (v->flags & TT_SF_UNCONNECTED) && c->udp_peers;
	if (!s->hidden)
		emit_conn(c, s, ts);
	return s;
}

static enum tt_close_reason close_reason(const struct cstate *s, const struct tt_kevent *k)
{
	if ((s->syn_failed || (s->from_open && !s->ever_established)) &&
	    (s->close_err || k->sk_err))
		return TT_CLOSE_FAILED;
	if (k->val.rst_recv || k->val.rst_sent)
		return TT_CLOSE_RESET;
	return TT_CLOSE_NORMAL;
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
	s = sock_state(c, k->cookie, &k->val, k->ts_ns);
	if (!s)
		return 0;
	counters_from_sock(&k->val, &s->base, &nc);
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
		ev.type = TT_EV_CLOSE;
		ev.close.id = s->conn.id;
		ev.close.c = nc;
		ev.close.reason = close_reason(s, k);
		ev.close.err = k->sk_err ? (uint16_t)k->sk_err : s->close_err;
		push(c, &ev);
		cs_del(c, k->cookie);
		break;
	default:
		break;
	}
	return 0;
}

/* Walk a hash map in batches; fn(c, key, val, ts) for every entry. */
static int read_map(struct tt_collector *c, int fd, size_t ksz, size_t vsz,
		    void (*fn)(struct tt_collector *, const void *, const void *, uint64_t),
		    uint64_t ts)
{
	static __thread unsigned char keys[BATCH * 32], vals[BATCH * sizeof(struct tt_sock_val)];
	LIBBPF_OPTS(bpf_map_batch_opts, bo);
	__u64 token = 0;
	int first = 1;

	for (;;) {
		__u32 n = BATCH, i;
		int err = bpf_map_lookup_batch(fd, first ? NULL : &token, &token, keys, vals, &n,
					       &bo);

		for (i = 0; i < n; i++)
			fn(c, keys + i * ksz, vals + i * vsz, ts);
		if (err) {
			if (errno == ENOENT)
				return 0;
			return -errno;
		}
		first = 0;
	}
}

static void on_sock_entry(struct tt_collector *c, const void *key, const void *val, uint64_t ts)
{
	const struct tt_sock_val *v = val;
	struct tt_counters nc;
	struct cstate *s = sock_state(c, *(const __u64 *)key, v, ts);

	if (!s)
		return;
	counters_from_sock(v, &s->base, &nc);
	if (s->hidden) {
		if (moved(&nc, &s->last))
			s->last_change_ns = ts;
		s->last = nc;
		s->conn.pid = v->pid ? v->pid : s->conn.pid;
		return;
	}
	emit_sample(c, s, &nc, ts);
}

static const unsigned char v4mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

static uint64_t peer_id(const struct tt_peer_key *k)
{
	/* FNV-1a over the key; 63 bits of hash, bit 63 marks a peer flow */
	const unsigned char *p = (const unsigned char *)k;
	uint64_t h = 0xcbf29ce484222325ull;
	size_t i;

	for (i = 0; i < offsetof(struct tt_peer_key, pad); i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h | PEER_ID_BIT;
}

static void on_peer_entry(struct tt_collector *c, const void *key, const void *val, uint64_t ts)
{
	const struct tt_peer_key *k = key;
	const struct tt_peer_val *pv = val;
	uint64_t id = peer_id(k);
	struct cstate *s = cs_find(c, id);
	struct tt_counters nc;

	if (!s) {
		struct cstate *owner = cs_find(c, k->cookie);
		struct tt_sock_val sv;

		s = cs_add(c, id);
		if (!s)
			return;
		if (owner) {
			s->conn = owner->conn;
		} else if (!bpf_map_lookup_elem(bpf_map__fd(c->skel->maps.socks), &k->cookie, &sv)) {
			conn_from_sock(&s->conn, id, &sv);
		} else {
			s->conn.proto = IPPROTO_UDP;
		}
		s->conn.id = id;
		memcpy(s->conn.raddr, k->addr, 16);
		s->conn.rport = k->port;
		/* the BPF side stores IPv4 peers v4-mapped, as it does for sockets */
		s->conn.family = !memcmp(k->addr, v4mapped_prefix, 12) ? 4 : 6;
		s->conn.flags = (s->conn.flags & TT_CF_PARTIAL) | TT_CF_UDP_PEER;
		/* the flow began at its first datagram, up to a tick before we read it */
		s->conn.open_ns = pv->first_ns ? pv->first_ns : ts;
		s->cookie = k->cookie;
		s->last_change_ns = ts;
		emit_conn(c, s, ts);
	}
	counters_from_peer(pv, &s->base, &nc);
	emit_sample(c, s, &nc, ts);
}

/*
 * UDP has no close: a flow idle for udp_idle_ns ends here, with an explicit
 * CLOSE so a replay needs no policy of its own. Its kernel entry is removed with
 * lookup-and-delete; if it moved since the read above, the flow is alive after
 * all and what the entry held is kept as base for the entry that replaces it.
 */
static void expire_udp(struct tt_collector *c, uint64_t ts)
{
	int socks_fd = bpf_map__fd(c->skel->maps.socks);
	int peers_fd = bpf_map__fd(c->skel->maps.peers);
	size_t i;

	for (i = c->ncs; i-- > 0;) {
		struct cstate *s = &c->cs[i];
		struct tt_counters nc;
		struct tt_event ev = { .ts_ns = ts, .type = TT_EV_CLOSE };
		int gone;

		if (s->conn.proto != IPPROTO_UDP || ts - s->last_change_ns < c->opts.udp_idle_ns)
			continue;
		if (s->conn.flags & TT_CF_UDP_PEER) {
			struct tt_peer_key k = { .cookie = s->cookie, .port = s->conn.rport };
			struct tt_peer_val pv;

			memcpy(k.addr, s->conn.raddr, 16);
			gone = bpf_map_lookup_and_delete_elem(peers_fd, &k, &pv);
			if (!gone)
				counters_from_peer(&pv, &s->base, &nc);
		} else {
			struct tt_sock_val sv;

			gone = bpf_map_lookup_and_delete_elem(socks_fd, &s->cookie, &sv);
			if (!gone)
				counters_from_sock(&sv, &s->base, &nc);
		}
		if (!gone && moved(&nc, &s->last)) {
			if (!s->hidden)
				emit_sample(c, s, &nc, ts);
			s->last = nc;
			s->base = nc;
			s->last_change_ns = ts;
			continue;
		}
		if (!s->hidden) {
			ev.close.id = s->conn.id;
			ev.close.c = s->last;
			ev.close.reason = TT_CLOSE_IDLE;
			push(c, &ev);
		}
		cs_del(c, s->conn.id);
	}
}

/* The process name of pid into comm (TT_COMM_MAX bytes); empty if it is gone. */
static void read_comm(long pid, char *comm)
{
	char path[64];
	FILE *f;

	comm[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
	f = fopen(path, "r");
	if (!f)
		return;
	if (fgets(comm, TT_COMM_MAX, f))
		comm[strcspn(comm, "\n")] = '\0';
	fclose(f);
}

/*
 * Socket inode -> owning process, for sockets whose owner never did I/O (an
 * accepted socket nobody read yet, one found by the start-up walk). One walk
 * of /proc/PID/fd for all of them, a few tries each, only when some are unknown.
 */
static void resolve_owners(struct tt_collector *c, uint64_t ts)
{
	struct tt_idmap *wanted = tt_idmap_new(); /* inode -> cstate slot */
	DIR *proc = NULL, *fds;
	struct dirent *pe, *fe;
	size_t i;

	if (!wanted)
		return;
	for (i = 0; i < c->ncs; i++) {
		struct cstate *s = &c->cs[i];

		if (!s->conn.pid && s->ino && s->owner_tries < OWNER_TRIES) {
			s->owner_tries++;
			if (tt_idmap_put(wanted, s->ino, (uint32_t)i))
				break;
		}
	}
	if (tt_idmap_count(wanted))
		proc = opendir("/proc");
	while (proc && tt_idmap_count(wanted) && (pe = readdir(proc))) {
		char path[300], link[64];
		char *end;
		long pid = strtol(pe->d_name, &end, 10);

		if (pid <= 0 || *end)
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/fd", pid);
		fds = opendir(path);
		if (!fds)
			continue;
		while (tt_idmap_count(wanted) && (fe = readdir(fds))) {
			unsigned long ino;
			uint32_t slot;
			struct cstate *s;
			ssize_t n;

			snprintf(path, sizeof(path), "/proc/%ld/fd/%s", pid, fe->d_name);
			n = readlink(path, link, sizeof(link) - 1);
			if (n <= 0)
				continue;
			link[n] = '\0';
			if (sscanf(link, "socket:[%lu]", &ino) != 1 || !tt_idmap_get(wanted, ino, &slot))
				continue;
			tt_idmap_del(wanted, ino);
			s = &c->cs[slot];
			s->conn.pid = s->conn.tgid = (uint32_t)pid;
			read_comm(pid, s->conn.comm);
			if (!s->hidden)
				emit_conn(c, s, ts);
		}
		closedir(fds);
	}
	if (proc)
		closedir(proc);
	tt_idmap_free(wanted);
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

/* One walk of an iterator link: its program sees every socket once. */
static int walk(struct bpf_link *l)
{
	char buf[4096];
	ssize_t n;
	int fd = bpf_iter_create(bpf_link__fd(l)), err = 0;

	if (fd < 0)
		return -errno;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		;
	if (n < 0)
		err = -errno;
	close(fd);
	return err;
}

/* Close the tick ending at ts: drain, read the maps, expire, then TICK. */
static int collect(struct tt_collector *c, uint64_t ts)
{
	struct tt_event tick = { .ts_ns = ts, .type = TT_EV_TICK };
	int err;

	ring_buffer__consume(c->rb);
	/* the hot path refreshes segments and RTT only now and then: bring every
	 * TCP socket of this namespace up to date before reading them */
	if (c->tcp_walk && (err = walk(c->tcp_walk))) {
		logf_(c, 0, "iter/tcp: %s: segments and RTT refresh only with traffic now",
		      strerror(-err));
		bpf_link__destroy(c->tcp_walk);
		c->tcp_walk = NULL;
	}
	err = read_map(c, bpf_map__fd(c->skel->maps.socks), sizeof(__u64),
		       sizeof(struct tt_sock_val), on_sock_entry, ts);
	if (!err && c->udp_peers)
		err = read_map(c, bpf_map__fd(c->skel->maps.peers), sizeof(struct tt_peer_key),
			       sizeof(struct tt_peer_val), on_peer_entry, ts);
	if (err) {
		snprintf(c->err, sizeof(c->err), "reading counter maps: %s", strerror(-err));
		return err;
	}
	expire_udp(c, ts);
	resolve_owners(c, ts);
	read_loss(c, ts);
	tick.tick.start_ns = c->tick_start_ns;
	push(c, &tick);
	c->tick_start_ns = ts;
	return c->qerr;
}

static int collector_next(struct tt_source *src, struct tt_event *ev)
{
	struct tt_collector *c = (struct tt_collector *)src;

	for (;;) {
		uint64_t now;
		int err;

		if (c->qhead < c->qn) {
			*ev = c->q[c->qhead++];
			return 1;
		}
		c->qhead = c->qn = 0;
		if (c->ended)
			return 0;
		now = now_ns(CLOCK_MONOTONIC);
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
			err = ring_buffer__poll(c->rb, (int)(wait_ms < 100 ? wait_ms : 100));
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
			logf_(c, 0, "%s: attach failed (%s); its counters stay at zero",
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
		logf_(c, 0, "no cgroup v2 mount: unconnected UDP sockets are reported per socket, not per peer");
		return;
	}
	c->cgroup_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c->cgroup_fd < 0) {
		logf_(c, 0, "open %s: %s: UDP per-peer split disabled", path, strerror(errno));
		return;
	}
	eg = bpf_program__attach_cgroup(c->skel->progs.tt_skb_egress, c->cgroup_fd);
	in = eg ? bpf_program__attach_cgroup(c->skel->progs.tt_skb_ingress, c->cgroup_fd) : NULL;
	if (!eg || !in) {
		logf_(c, 0, "cgroup_skb attach on %s: %s: UDP per-peer split disabled", path,
		      strerror(errno));
		bpf_link__destroy(eg);
		return;
	}
	c->links[c->nlinks++] = eg;
	c->links[c->nlinks++] = in;
	c->udp_peers = 1;
}

/*
 * Attach an iterator and walk it once (start-up discovery: its program enters
 * each socket as partial). The link is returned to keep, or NULL after a
 * warning when the kernel refused.
 */
static struct bpf_link *start_iter(struct tt_collector *c, struct bpf_program *p)
{
	struct bpf_link *l = bpf_program__attach_iter(p, NULL);
	int err = l ? walk(l) : -errno;

	if (err) {
		logf_(c, 0, "%s: %s: connections open before the start may be missed",
		      bpf_program__name(p), strerror(-err));
		bpf_link__destroy(l);
		return NULL;
	}
	return l;
}

int tt_collector_open(const struct tt_collector_opts *o, struct tt_collector **out, char *why,
		      size_t why_len)
{
	struct tt_collector *c;
	struct bpf_program *core[4], *extra[3];
	int err, i;

	*out = NULL;
	err = tt_probe_privileges(why, why_len);
	if (err)
		return err;
	err = tt_probe_kernel(why, why_len);
	if (err)
		return err;

	c = calloc(1, sizeof(*c));
	if (!c || !(c->index = tt_idmap_new())) {
		free(c);
		snprintf(why, why_len, "out of memory");
		return -ENOMEM;
	}
	c->opts = *o;
	c->cgroup_fd = -1;
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
	bpf_map__set_max_entries(c->skel->maps.peers, o->peers_max);
	bpf_map__set_max_entries(c->skel->maps.events, o->ringbuf_bytes);
	c->skel->rodata->rb_wake_bytes = o->ringbuf_bytes / 8;
	err = capture_bpf__load(c->skel);
	if (err) {
		snprintf(why, why_len, "loading BPF programs: %s (run with --verbose for the verifier log)",
			 strerror(-err));
		err = err == -EPERM ? -EPERM : -ENOTSUP;
		goto fail;
	}

	/* counting first, discovery second: nothing falls between the two */
	core[0] = c->skel->progs.tt_send;
	core[1] = c->skel->progs.tt_recv;
	core[2] = c->skel->progs.tt_state;
	core[3] = c->skel->progs.tt_destroy;
	extra[0] = c->skel->progs.tt_send_reset;
	extra[1] = c->skel->progs.tt_receive_reset;
	extra[2] = c->skel->progs.tt_retransmit;
	for (i = 0; i < 4; i++)
		if ((err = attach_tp(c, core[i], 1, why, why_len)))
			goto fail;
	for (i = 0; i < 3; i++)
		attach_tp(c, extra[i], 0, why, why_len);
	attach_cgroup(c);

	c->rb = ring_buffer__new(bpf_map__fd(c->skel->maps.events), on_kevent, c, NULL);
	if (!c->rb) {
		err = -errno;
		snprintf(why, why_len, "ring buffer: %s", strerror(-err));
		goto fail;
	}
	c->tcp_walk = start_iter(c, c->skel->progs.tt_iter_tcp);
	bpf_link__destroy(start_iter(c, c->skel->progs.tt_iter_udp));

	c->mono_to_wall = (int64_t)now_ns(CLOCK_REALTIME) - (int64_t)now_ns(CLOCK_MONOTONIC);
	c->tick_start_ns = now_ns(CLOCK_MONOTONIC);
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

int tt_collector_udp_peers(const struct tt_collector *c)
{
	return c->udp_peers;
}

void tt_collector_close(struct tt_collector *c)
{
	int i;

	if (!c)
		return;
	ring_buffer__free(c->rb);
	bpf_link__destroy(c->tcp_walk);
	for (i = 0; i < c->nlinks; i++)
		bpf_link__destroy(c->links[i]);
	if (c->cgroup_fd >= 0)
		close(c->cgroup_fd);
	capture_bpf__destroy(c->skel);
	tt_idmap_free(c->index);
	free(c->cs);
	free(c->q);
	free(c);
}
