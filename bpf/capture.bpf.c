// SPDX-License-Identifier: GPL-2.0
/*
 * capture.bpf.c: the kernel half of tcptop.
 *
 * Nothing here runs per TCP message. TCP bytes come from the kernel's own
 * counters in struct tcp_sock, read once per tick by the socket walks and at
 * every state change by the lifecycle hooks:
 *
 *   iter/task_file   every open file of every task, in every network
 *                    namespace: each TCP/UDP socket with the process holding it
 *   iter/tcp         sockets of our namespace no process holds (orphans after
 *                    close()), every 5th tick; at start, cookies for the
 *                    sockets already there
 *   tp_btf hooks     state changes, resets, retransmits, destroy: snapshots on
 *                    the ring buffer, so a connection born and gone between two
 *                    ticks is exact too
 *   cgroup_skb       UDP, per packet (the kernel keeps no UDP byte counters),
 *                    per (socket, remote peer); everything else returns at once
 *
 * No kprobes or fentry on the target kernels: tp_btf, cgroup_skb and iterators only.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_tracing.h>
#include "tcptop_abi.h"

#define AF_INET	   2
#define AF_INET6   10
#define ETH_P_IP   0x0800
#define ETH_P_IPV6 0x86DD
#define ENOMEM	   12
#define E2BIG	   7

/* Linux TCP states (include/net/tcp_states.h) */
#define TCP_ESTABLISHED	 1
#define TCP_SYN_SENT	 2
#define TCP_SYN_RECV	 3
#define TCP_FIN_WAIT1	 4
#define TCP_FIN_WAIT2	 5
#define TCP_TIME_WAIT	 6
#define TCP_CLOSE	 7
#define TCP_CLOSE_WAIT	 8
#define TCP_LAST_ACK	 9
#define TCP_LISTEN	 10
#define TCP_CLOSING	 11
#define TCP_NEW_SYN_RECV 12

char LICENSE[] SEC("license") = "GPL";

/* A read-only view of a socket as struct tcp_sock; works on the untrusted
 * socket pointers the task_file walk has, where bpf_skc_to_tcp_sock does not. */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;

/*
 * Wake the reader only once this much is queued (set before load; 0: every
 * event). The reader drains the ring at every tick anyway, so under churn a
 * wake-up per connect or close is pure cost; a backlog still wakes it early.
 */
const volatile __u32 rb_wake_bytes = 0;

/* TT_WALK_*: what the next iterator run is for (written by user space). */
__u32 walk_mode = TT_WALK_TICK;

/* Sizes are set by user space before load (bpf_map__set_max_entries). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct tt_sk);
} socks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct tt_flow_key);
	__type(value, struct tt_flow_val);
} flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TT_H_MAX);
	__type(key, __u32);
	__type(value, __u64);
} health SEC(".maps");

static __always_inline void health_inc(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&health, &idx);

	if (v)
		*v += 1; /* per-CPU: no atomic needed */
}

static __always_inline void addr_v4mapped(__u8 *dst, __u32 v4)
{
	__builtin_memset(dst, 0, 10);
	dst[10] = 0xff;
	dst[11] = 0xff;
	__builtin_memcpy(dst + 12, &v4, 4);
}

static __always_inline int is_v4mapped(const __u8 *a)
{
	const __u32 *w = (const __u32 *)a;

	return w[0] == 0 && w[1] == 0 && w[2] == bpf_htonl(0xffff);
}

/*
 * Every read below is a plain load: on the walk's untrusted socket pointers
 * the verifier turns them into fault-tolerant loads, in the hooks they are
 * direct. CO-RE relocates each field (vmlinux.h carries preserve_access_index).
 */
static __always_inline void fill_tuple(struct sock *sk, struct tt_tuple *t)
{
	if (sk->__sk_common.skc_family == AF_INET) {
		addr_v4mapped(t->saddr, sk->__sk_common.skc_rcv_saddr);
		addr_v4mapped(t->daddr, sk->__sk_common.skc_daddr);
		t->family = 4;
	} else {
		BPF_CORE_READ_INTO(&t->saddr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(&t->daddr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
		/* a v4-mapped v6 socket talks IPv4 on the wire: show it as v4 */
		t->family = (is_v4mapped(t->daddr) && is_v4mapped(t->saddr)) ? 4 : 6;
	}
	t->sport = sk->__sk_common.skc_num;
	if (!t->sport) { /* a socket moving to CLOSE has put its port back: the
			  * source port of its packets is still in inet_sport */
		struct inet_sock *inet =
			bpf_rdonly_cast(sk, bpf_core_type_id_kernel(struct inet_sock));

		t->sport = bpf_ntohs(inet->inet_sport);
	}
	t->dport = bpf_ntohs(sk->__sk_common.skc_dport);
	t->proto = sk->sk_protocol;
}

static __always_inline int sk_is_inet(struct sock *sk, __u8 proto)
{
	__u16 family = sk->__sk_common.skc_family;

	return (family == AF_INET || family == AF_INET6) && sk->sk_protocol == proto;
}

static __always_inline __u32 sk_netns(struct sock *sk)
{
	return BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
}

static __always_inline __u64 sk_cgroup(struct sock *sk)
{
	return BPF_CORE_READ(sk, sk_cgrp_data.cgroup, kn, id);
}

/*
 * The bytes the application wrote and read, from the kernel's counters
 * (64-bit totals plus 32-bit queue lengths; subtract in u32, then widen):
 *
 *   written = bytes_acked + (write_seq - snd_una)  - 1 for the SYN of connect()
 *                                                  - 1 once a FIN is queued
 *   read    = bytes_received - (rcv_nxt - copied_seq) - 1 once the FIN is consumed
 *
 * A FIN is queued in FIN_WAIT1, FIN_WAIT2, CLOSING and LAST_ACK, and stays
 * counted when a socket whose FIN went out moves on to CLOSE (the FIN_OUT flag
 * remembers it: a socket that shut down writing still reads after the peer's
 * FIN takes it to CLOSE). The peer's FIN sets SOCK_DONE and is consumed when
 * copied_seq passes it, i.e. reaches rcv_nxt. tcp_disconnect() (SO_LINGER 0,
 * connect(AF_UNSPEC)) zeroes everything just after the move to CLOSE: such a
 * snapshot is flagged, the previous one (taken at the move) is the truth.
 */
static __always_inline void snap_tcp(struct sock *sk, struct tt_snap *s, __u8 skf)
{
	struct tcp_sock *tp = bpf_rdonly_cast(sk, bpf_core_type_id_kernel(struct tcp_sock));
	__u8 st = sk->__sk_common.skc_state;
	__u64 written, read;
	__u32 copied, rcv_nxt;
	int fin_out;

	if (!tp)
		return;
	s->state = st;
	s->segs_in = tp->segs_in;
	s->segs_out = tp->segs_out;
	s->total_retrans = tp->total_retrans;
	s->srtt_us = tp->srtt_us >> 3;
	s->rttvar_us = tp->mdev_us >> 2;
	if (st == TCP_CLOSE && !tp->bytes_acked && !tp->bytes_received && !tp->segs_out) {
		s->flags |= TT_SNF_ZEROED;
		return;
	}
	/*
	 * connect() moves to SYN_SENT before it picks the initial sequence
	 * number and only then sets snd_una to it (tcp_connect_init): an
	 * unlocked walk can see write_seq = ISN with snd_una = 0, a random
	 * 32-bit "written". Nothing is written or read before the handshake
	 * (fast-open data is counted once the SYN is acknowledged).
	 */
	if (st == TCP_SYN_SENT)
		return;
	written = tp->bytes_acked + (__u32)(tp->write_seq - tp->snd_una);
	if ((skf & TT_SKF_ACTIVE) && written)
		written--;
	fin_out = st == TCP_FIN_WAIT1 || st == TCP_FIN_WAIT2 || st == TCP_CLOSING ||
		  st == TCP_LAST_ACK || ((skf & TT_SKF_FIN_OUT) && st == TCP_CLOSE);
	if (fin_out && written)
		written--;
	copied = tp->copied_seq;
	rcv_nxt = tp->rcv_nxt;
	read = tp->bytes_received - (__u32)(rcv_nxt - copied);
	if ((sk->__sk_common.skc_flags &
	     (1ul << bpf_core_enum_value(enum sock_flags, SOCK_DONE))) &&
	    copied == rcv_nxt && read)
		read--;
	s->bytes_out = written;
	s->bytes_in = read;
}

/* The identity part of a snapshot, and the lifecycle state kept in `socks`. */
static __always_inline void snap_fill(struct sock *sk, __u64 cookie, const struct tt_sk *e,
				      struct tt_snap *s)
{
	__u8 skf = 0;

	s->cookie = cookie;
	fill_tuple(sk, &s->tuple);
	if (e && e->netns) { /* kept at the entry's birth: no pointer chase per tick */
		s->cgroup_id = e->cgroup_id;
		s->netns = e->netns;
		s->netns_cookie = e->netns_cookie;
	} else {
		s->cgroup_id = sk_cgroup(sk);
		s->netns = sk_netns(sk);
		s->netns_cookie = BPF_CORE_READ(sk, __sk_common.skc_net.net, net_cookie);
	}
	if (e) {
		skf = e->flags;
		s->first_ns = e->first_ns;
		s->rst_sent = e->rst_sent;
		s->rst_recv = e->rst_recv;
		s->retrans_events = e->retrans_events;
		s->sk_flags = skf;
		s->flags |= TT_SNF_KNOWN;
	}
	if (s->tuple.proto == IPPROTO_TCP)
		snap_tcp(sk, s, skf);
	else
		s->state = s->tuple.dport ? TCP_ESTABLISHED : TCP_CLOSE;
}

static __always_inline struct tt_sk *sk_entry_create(struct sock *sk, __u64 cookie, __u8 flags)
{
	struct tt_sk nv = { .first_ns = bpf_ktime_get_ns(), .flags = flags };
	__u8 st = sk->__sk_common.skc_state;
	long err;

	/* met after its FIN went out (a socket from before us, shut down or
	 * closing): the FIN stays in write_seq when it moves on to CLOSE */
	if (st == TCP_FIN_WAIT1 || st == TCP_FIN_WAIT2 || st == TCP_CLOSING || st == TCP_LAST_ACK)
		nv.flags |= TT_SKF_FIN_OUT;

	nv.cgroup_id = sk_cgroup(sk);
	nv.netns = sk_netns(sk);
	nv.netns_cookie = BPF_CORE_READ(sk, __sk_common.skc_net.net, net_cookie);
	err = bpf_map_update_elem(&socks, &cookie, &nv, BPF_NOEXIST);

	if (err == -E2BIG || err == -ENOMEM) {
		health_inc(TT_H_SOCKS_FULL);
		return NULL;
	}
	return bpf_map_lookup_elem(&socks, &cookie);
}

static __always_inline void submit(struct tt_kevent *e)
{
	bpf_ringbuf_submit(e, rb_wake_bytes && bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) <
						       rb_wake_bytes
				      ? BPF_RB_NO_WAKEUP
				      : 0);
}

static __always_inline struct tt_kevent *reserve(__u32 type, struct sock *sk, __u64 cookie,
						 const struct tt_sk *e)
{
	struct tt_kevent *k = bpf_ringbuf_reserve(&events, sizeof(*k), 0);

	if (!k) {
		health_inc(TT_H_RB_DROPS);
		return NULL;
	}
	__builtin_memset(k, 0, sizeof(*k));
	k->ts_ns = bpf_ktime_get_ns();
	k->type = type;
	k->sk_err = sk->sk_err;
	k->sk_err_soft = sk->sk_err_soft;
	snap_fill(sk, cookie, e, &k->snap);
	return k;
}

/* The current task into a snapshot: only where it is known to hold the socket. */
static __always_inline void set_task(struct tt_snap *s)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();

	s->pid = (__u32)pid_tgid;
	s->tgid = pid_tgid >> 32;
	bpf_get_current_comm(s->comm, sizeof(s->comm));
	s->flags |= TT_SNF_TASK;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(tt_state, struct sock *sk, int oldstate, int newstate)
{
	struct tt_kevent *k;
	struct tt_sk *e;
	__u64 cookie;

	if (sk->sk_protocol != IPPROTO_TCP)
		return 0;
	if (newstate == TCP_LISTEN)
		return 0; /* listeners are not connections */
	cookie = bpf_get_socket_cookie(sk);
	if (oldstate == TCP_LISTEN) {
		/* a child is cloned from its listener and born in SYN_RECV (a fast-open
		 * one with data): its entry says it counts from open; it is reported
		 * from its next change, the accept (SYN_RECV -> ESTABLISHED) */
		if (newstate == TCP_SYN_RECV)
			sk_entry_create(sk, cookie, TT_SKF_OPEN_SEEN);
		return 0;
	}
	e = bpf_map_lookup_elem(&socks, &cookie);
	if (!e) {
		if (newstate == TCP_SYN_SENT) /* connect() */
			e = sk_entry_create(sk, cookie, TT_SKF_OPEN_SEEN | TT_SKF_ACTIVE);
		else if (oldstate == TCP_SYN_RECV) /* a child whose birth we missed */
			e = sk_entry_create(sk, cookie, TT_SKF_OPEN_SEEN);
		else /* a socket that was there before us, or a map-full retry */
			e = sk_entry_create(sk, cookie, 0);
	}
	/* the snapshot is taken in the old state: the FIN of the new one is not queued yet */
	k = reserve(TT_KEV_STATE, sk, cookie, e);
	if (e && (newstate == TCP_FIN_WAIT1 || newstate == TCP_LAST_ACK))
		e->flags |= TT_SKF_FIN_OUT;
	if (e && newstate == TCP_CLOSE && sk->sk_socket)
		e->flags |= TT_SKF_HELD_CLOSE;
	if (!k)
		return 0;
	k->old_state = oldstate;
	k->new_state = newstate;
	k->snap.state = newstate;
	/*
	 * connect(), close() and shutdown() run in the caller's context: whoever
	 * calls them holds the socket (a connection accepted and closed between
	 * two walks is named by its close). A move to CLOSE without an error from
	 * ESTABLISHED, CLOSE_WAIT or SYN_SENT is close() too (unread data, SO_LINGER
	 * 0, a connect given up): the softirq paths there (reset, timeout) set sk_err.
	 */
	if (newstate == TCP_SYN_SENT || newstate == TCP_FIN_WAIT1 || newstate == TCP_LAST_ACK ||
	    (newstate == TCP_CLOSE && !k->sk_err &&
	     (oldstate == TCP_ESTABLISHED || oldstate == TCP_CLOSE_WAIT ||
	      oldstate == TCP_SYN_SENT))) {
		set_task(&k->snap);
	}
	submit(k);
	return 0;
}

SEC("tp_btf/tcp_destroy_sock")
int BPF_PROG(tt_destroy, struct sock *sk)
{
	__u64 cookie = bpf_get_socket_cookie(sk);
	struct tt_sk *e = bpf_map_lookup_elem(&socks, &cookie);
	struct tt_kevent *k;

	/* every socket we report passed a state hook, which made its entry */
	if (!e)
		return 0;
	k = reserve(TT_KEV_DESTROY, sk, cookie, e);
	if (k) {
		if (e->flags & TT_SKF_HELD_CLOSE) /* the last holder's close() */
			set_task(&k->snap);
		submit(k);
	}
	/*
	 * After the record: a reader that finds the entry gone and no record has
	 * lost it (counted), never raced it. The entry goes even then, so a lost
	 * record never keeps a connection open: user space closes what the
	 * kernel no longer has.
	 */
	bpf_map_delete_elem(&socks, &cookie);
	return 0;
}

static __always_inline int is_fullsock(struct sock *sk)
{
	__u8 st = sk->__sk_common.skc_state;

	return st != TCP_TIME_WAIT && st != TCP_NEW_SYN_RECV;
}

/*
 * Resets and retransmits of a socket we never met make its entry, unless the
 * socket is already closed: then its entry has been reported and deleted, and
 * a new one would be a phantom connection.
 */
static __always_inline struct tt_sk *softirq_entry(struct sock *sk, __u64 cookie)
{
	struct tt_sk *e = bpf_map_lookup_elem(&socks, &cookie);
	__u8 st = sk->__sk_common.skc_state;

	if (e || st == TCP_CLOSE || st == TCP_LISTEN)
		return e;
	return sk_entry_create(sk, cookie, 0);
}

static __always_inline void on_reset(struct sock *sk, __u8 dir)
{
	struct tt_kevent *k;
	struct tt_sk *e;
	__u64 cookie;

	if (!sk || !is_fullsock(sk) || sk->sk_protocol != IPPROTO_TCP)
		return;
	cookie = bpf_get_socket_cookie(sk);
	e = softirq_entry(sk, cookie);
	if (!e)
		return;
	if (dir)
		__sync_fetch_and_add(&e->rst_recv, 1);
	else
		__sync_fetch_and_add(&e->rst_sent, 1);
	k = reserve(TT_KEV_RESET, sk, cookie, e);
	if (!k)
		return;
	k->rst_dir = dir;
	submit(k);
}

SEC("tp_btf/tcp_send_reset")
int BPF_PROG(tt_send_reset, struct sock *sk, struct sk_buff *skb, int reason)
{
	on_reset(sk, 0);
	return 0;
}

SEC("tp_btf/tcp_receive_reset")
int BPF_PROG(tt_receive_reset, struct sock *sk)
{
	on_reset(sk, 1);
	return 0;
}

SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(tt_retransmit, struct sock *sk, struct sk_buff *skb, int err)
{
	struct tt_sk *e;
	__u64 cookie;

	if (err || !sk || !is_fullsock(sk))
		return 0;
	cookie = bpf_get_socket_cookie(sk);
	e = softirq_entry(sk, cookie);
	if (e)
		__sync_fetch_and_add(&e->retrans_events, 1);
	return 0;
}

/*
 * cgroup_skb: UDP bytes and datagrams per (socket, remote peer). A TCP packet
 * returns at the protocol test, before the packet is touched.
 */
static __always_inline void account_udp(struct __sk_buff *skb, int out)
{
	struct bpf_sock *sk = skb->sk;
	struct tt_flow_key key = {};
	struct tt_flow_val *fv;
	__u32 l4_off, segs;
	__u64 now, payload;
	__u8 l4proto;
	__u8 laddr[16];
	__u16 lport;

	if (!sk)
		return;
	sk = bpf_sk_fullsock(sk);
	if (!sk || sk->protocol != IPPROTO_UDP)
		return;

	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		struct iphdr iph;

		if (bpf_skb_load_bytes(skb, 0, &iph, sizeof(iph)))
			return;
		l4proto = iph.protocol;
		l4_off = (iph.ihl & 0xf) * 4;
		addr_v4mapped(key.addr, out ? iph.daddr : iph.saddr);
		addr_v4mapped(laddr, out ? iph.saddr : iph.daddr);
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr ip6h;

		if (bpf_skb_load_bytes(skb, 0, &ip6h, sizeof(ip6h)))
			return;
		l4proto = ip6h.nexthdr; /* extension headers: not followed, not counted */
		l4_off = sizeof(ip6h);
		__builtin_memcpy(key.addr, out ? &ip6h.daddr : &ip6h.saddr, 16);
		__builtin_memcpy(laddr, out ? &ip6h.saddr : &ip6h.daddr, 16);
	} else {
		return;
	}
	if (l4proto != IPPROTO_UDP)
		return;

	struct udphdr uh;

	if (bpf_skb_load_bytes(skb, l4_off, &uh, sizeof(uh)))
		return;
	/* a GSO send (UDP_SEGMENT) or a GRO receive is one packet here with one
	 * header, carrying gso_segs datagrams on the wire */
	if (skb->len < l4_off + sizeof(uh))
		return;
	payload = skb->len - l4_off - sizeof(uh);
	segs = skb->gso_segs ? skb->gso_segs : 1;
	key.port = bpf_ntohs(out ? uh.dest : uh.source);
	lport = bpf_ntohs(out ? uh.source : uh.dest);
	key.lport = lport;
	key.cookie = bpf_get_socket_cookie(skb);
	now = bpf_ktime_get_ns();

	fv = bpf_map_lookup_elem(&flows, &key);
	if (!fv) {
		struct tt_flow_val nv = { .first_ns = now };
		long err;

		__builtin_memcpy(nv.laddr, laddr, 16);
		nv.lport = lport;
		nv.connected = sk->dst_port != 0;
		nv.cgroup_id = bpf_sk_cgroup_id(sk);
		nv.netns_cookie = bpf_get_netns_cookie(skb);
		if (out) { /* sends run in the sender's context, receives in softirq */
			nv.tgid = bpf_get_current_pid_tgid() >> 32;
			bpf_get_current_comm(nv.comm, sizeof(nv.comm));
		}
		err = bpf_map_update_elem(&flows, &key, &nv, BPF_NOEXIST);
		if (err == -E2BIG || err == -ENOMEM) {
			health_inc(TT_H_PEERS_FULL);
			return;
		}
		fv = bpf_map_lookup_elem(&flows, &key);
		if (!fv)
			return;
	}
	fv->last_ns = now;
	if (out && !fv->tgid) { /* first met on a receive: the first send names the sender */
		fv->tgid = bpf_get_current_pid_tgid() >> 32;
		bpf_get_current_comm(fv->comm, sizeof(fv->comm));
	}
	if (out) {
		__sync_fetch_and_add(&fv->bytes_out, payload);
		__sync_fetch_and_add(&fv->dgrams_out, segs);
	} else {
		__sync_fetch_and_add(&fv->bytes_in, payload);
		__sync_fetch_and_add(&fv->dgrams_in, segs);
	}
}

SEC("cgroup_skb/egress")
int tt_skb_egress(struct __sk_buff *skb)
{
	account_udp(skb, 1);
	return 1; /* observe only: never drop */
}

SEC("cgroup_skb/ingress")
int tt_skb_ingress(struct __sk_buff *skb)
{
	account_udp(skb, 0);
	return 1;
}

/*
 * Every tick: one record per (process, socket) for every TCP and UDP socket
 * any process holds, in every network namespace. A TCP socket without a
 * cookie (it existed before us and has not changed state since, in a
 * namespace the start-up discovery did not walk) is reported with cookie 0,
 * so user space can walk its namespace once to assign one.
 */
SEC("iter/task_file")
int tt_iter_files(struct bpf_iter__task_file *ctx)
{
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;
	struct tt_snap s = {};
	struct tt_sk *e = NULL;
	struct socket *sock;
	struct sock *sk;
	__u8 st;

	if (!task || !file)
		return 0;
	sock = bpf_sock_from_file(file);
	if (!sock)
		return 0;
	sk = sock->sk;
	if (!sk)
		return 0;
	if (!sk_is_inet(sk, IPPROTO_TCP) && !sk_is_inet(sk, IPPROTO_UDP))
		return 0;
	s.cookie = sk->__sk_common.skc_cookie.counter;
	if (sk->sk_protocol == IPPROTO_TCP) {
		st = sk->__sk_common.skc_state;
		if (st == TCP_LISTEN)
			return 0;
		if (s.cookie)
			e = bpf_map_lookup_elem(&socks, &s.cookie);
		/* a socket that has not connected yet, or is done and known no more */
		if (st == TCP_CLOSE && !e)
			return 0;
	} else if (!s.cookie) {
		return 0; /* a UDP socket gets its cookie with its first datagram */
	}
	snap_fill(sk, s.cookie, e, &s);
	s.flags |= TT_SNF_HELD;
	s.tgid = task->tgid;
	s.pid = task->tgid;
	__builtin_memcpy(s.comm, task->comm, sizeof(s.comm));
	bpf_seq_write(ctx->meta->seq, &s, sizeof(s));
	return 0;
}

/*
 * iter/tcp walks the caller's network namespace. At start (TT_WALK_DISCOVER)
 * it assigns every connection a cookie and an entry, so the first task_file
 * walk knows them all; on the ticks it runs it reports only what no process holds.
 */
SEC("iter/tcp")
int tt_iter_tcp(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct tt_snap s = {};
	struct tcp_sock *tp;
	struct socket *sock;
	struct tt_sk *e;
	struct sock *sk;
	__u64 cookie;

	if (!skc)
		return 0;
	tp = bpf_skc_to_tcp_sock(skc);
	if (!tp)
		return 0; /* time-wait and request sockets have no counters */
	sk = (struct sock *)tp;
	if (sk->__sk_common.skc_state == TCP_LISTEN)
		return 0;
	cookie = bpf_get_socket_cookie(sk);
	e = bpf_map_lookup_elem(&socks, &cookie);
	if (walk_mode == TT_WALK_DISCOVER) {
		if (!e && sk->__sk_common.skc_state != TCP_CLOSE)
			sk_entry_create(sk, cookie, 0);
		return 0;
	}
	sock = sk->sk_socket;
	if (sock && sock->file)
		return 0; /* held: the task_file walk reports it with its holder */
	if (!e && sk->__sk_common.skc_state == TCP_CLOSE)
		return 0; /* never connected, or done and known no more */
	snap_fill(sk, cookie, e, &s);
	s.flags |= TT_SNF_ORPHAN;
	bpf_seq_write(ctx->meta->seq, &s, sizeof(s));
	return 0;
}

/* Start-up only: a cookie for every UDP socket of the walked namespace, so the
 * task_file walk can name the sockets that were there before us. */
SEC("iter/udp")
int tt_iter_udp(struct bpf_iter__udp *ctx)
{
	struct udp_sock *udp = ctx->udp_sk;

	if (udp)
		bpf_get_socket_cookie((struct sock *)udp);
	return 0;
}
