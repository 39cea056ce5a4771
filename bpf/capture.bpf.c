// SPDX-License-Identifier: GPL-2.0
/*
 * capture.bpf.c: the kernel half of tcptop.
 *
 * Hot path (every send and receive, TCP and UDP): one cookie, one hash lookup,
 * a few atomic adds into `socks`. Cost does not depend on the number of sockets.
 * Lifecycle (state changes, resets, destroy) goes to the ring buffer; it is rare
 * next to I/O. Unconnected UDP sockets are split per remote peer by the
 * cgroup_skb programs, which see the addresses that sendmsg/recvmsg hide.
 * iter/tcp and iter/udp run once at start to find sockets that already existed.
 *
 * No kprobes or fentry on the target kernels: tp_btf, cgroup_skb and iterators only.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_tracing.h>
#include "tcptop_abi.h"

#define AF_INET 2
#define AF_INET6 10
#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define MSG_PEEK 2
#define ENOMEM 12
#define E2BIG 7

/* Linux TCP states (include/net/tcp_states.h) */
#define TCP_ESTABLISHED 1
#define TCP_SYN_SENT 2
#define TCP_SYN_RECV 3
#define TCP_TIME_WAIT 6
#define TCP_CLOSE 7
#define TCP_LISTEN 10
#define TCP_NEW_SYN_RECV 12

char LICENSE[] SEC("license") = "GPL";

/*
 * Wake the reader only once this much is queued (set before load; 0: every
 * event). The reader drains the ring at every tick anyway, so under churn a
 * wake-up per connect or close is pure cost; a backlog still wakes it early.
 */
const volatile __u32 rb_wake_bytes = 0;

/* Sizes are set by user space before load (bpf_map__set_max_entries). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct tt_sock_val);
} socks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct tt_peer_key);
	__type(value, struct tt_peer_val);
} peers SEC(".maps");

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

/* Scratch for building a new entry: keeps 160 bytes off the BPF stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tt_sock_val);
} scratch SEC(".maps");

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

static __always_inline void fill_tuple(const struct sock *sk, struct tt_tuple *t)
{
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);

	if (family == AF_INET) {
		addr_v4mapped(t->saddr, BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr));
		addr_v4mapped(t->daddr, BPF_CORE_READ(sk, __sk_common.skc_daddr));
		t->family = 4;
	} else {
		BPF_CORE_READ_INTO(&t->saddr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(&t->daddr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
		/* a v4-mapped v6 socket talks IPv4 on the wire: show it as v4 */
		t->family = (is_v4mapped(t->daddr) && is_v4mapped(t->saddr)) ? 4 : 6;
	}
	t->sport = BPF_CORE_READ(sk, __sk_common.skc_num);
	t->dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	t->proto = BPF_CORE_READ(sk, sk_protocol);
}

/*
 * The tuple is complete only once the source port is picked, which connect()
 * does after the SYN_SENT state change, and the port is released before the
 * CLOSE state change fires. So a refused connect shows its port only to the
 * reset and retransmit hooks: every rare hook takes the tuple when the port is
 * there, and none overwrites a known port with zero.
 */
static __always_inline void refresh_tuple(const struct sock *sk, struct tt_sock_val *v)
{
	struct tt_tuple t = {};

	fill_tuple(sk, &t);
	if (t.sport)
		v->tuple = t;
}

static __always_inline int sk_is_inet_tcp_udp(const struct sock *sk)
{
	__u16 family = sk->__sk_common.skc_family;
	__u16 proto;

	if (family != AF_INET && family != AF_INET6)
		return 0;
	proto = sk->sk_protocol;
	return proto == IPPROTO_TCP || proto == IPPROTO_UDP;
}

static __always_inline void tcp_snapshot(struct sock *sk, struct tt_sock_val *v)
{
	struct tcp_sock *tp = bpf_skc_to_tcp_sock(sk);

	if (!tp)
		return;
	v->state = sk->__sk_common.skc_state;
	/* tcp_disconnect() (close with SO_LINGER 0, connect(AF_UNSPEC)) zeroes the
	 * counters and the RTT just after the move to CLOSE: keep the last real
	 * ones, or the final row of an aborted connection says it sent nothing */
	if (v->state == TCP_CLOSE && (tp->segs_in < v->segs_in || tp->segs_out < v->segs_out))
		return;
	v->segs_in = tp->segs_in;
	v->segs_out = tp->segs_out;
	v->total_retrans = tp->total_retrans;
	v->srtt_us = tp->srtt_us >> 3;
	v->rttvar_us = tp->mdev_us >> 2;
}

static __always_inline void set_owner(struct tt_sock_val *v, __u64 pid_tgid)
{
	v->pid = (__u32)pid_tgid;
	v->tgid = pid_tgid >> 32;
	bpf_get_current_comm(v->comm, sizeof(v->comm));
}

/*
 * Create the entry for a socket seen for the first time. flags tells how we met
 * it; without TT_SF_OPEN_SEEN the socket predates us (or its open was missed), so
 * TCP counters are based at the current snapshot: we never report what happened
 * before we were watching.
 */
static __always_inline struct tt_sock_val *sock_entry_create(struct sock *sk, __u64 cookie,
							     __u8 flags, int task_ctx)
{
	__u32 zero = 0;
	struct tt_sock_val *v = bpf_map_lookup_elem(&scratch, &zero);
	long err;

	if (!v)
		return NULL;
	__builtin_memset(v, 0, sizeof(*v));
	fill_tuple(sk, &v->tuple);
	v->first_ns = bpf_ktime_get_ns();
	v->cgroup_id = BPF_CORE_READ(sk, sk_cgrp_data.cgroup, kn, id);
	v->netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	v->ino = BPF_CORE_READ(sk, sk_socket, file, f_inode, i_ino);
	v->state = BPF_CORE_READ(sk, __sk_common.skc_state);
	v->flags = flags;
	if (v->tuple.proto == IPPROTO_TCP) {
		tcp_snapshot(sk, v);
		if (!(flags & TT_SF_OPEN_SEEN)) {
			v->segs_in_base = v->segs_in;
			v->segs_out_base = v->segs_out;
			v->retrans_base = v->total_retrans;
		}
	} else if (v->tuple.dport == 0) {
		v->flags |= TT_SF_UNCONNECTED;
	}
	if (task_ctx)
		set_owner(v, bpf_get_current_pid_tgid());
	err = bpf_map_update_elem(&socks, &cookie, v, BPF_NOEXIST);
	if (err == -E2BIG || err == -ENOMEM) {
		health_inc(TT_H_SOCKS_FULL);
		return NULL;
	}
	return bpf_map_lookup_elem(&socks, &cookie);
}

static __always_inline struct tt_sock_val *sock_entry(struct sock *sk, __u64 cookie, int task_ctx)
{
	struct tt_sock_val *v = bpf_map_lookup_elem(&socks, &cookie);
	__u8 flags = 0;

	if (v)
		return v;
	/*
	 * A TCP socket passes SYN_SENT or SYN_RECV before its first I/O (a
	 * fast-open child may do I/O in SYN_RECV), so one first met here
	 * predates us: its first I/O fell between our attach and the socket
	 * walk, or it lives in a netns the walk does not see.
	 */
	if (sk->sk_protocol == IPPROTO_TCP && sk->__sk_common.skc_state != TCP_SYN_RECV)
		flags = TT_SF_PARTIAL;
	return sock_entry_create(sk, cookie, flags, task_ctx);
}

/*
 * The owner and the tcp_sock snapshot are refreshed at a socket's first I/O and
 * whenever its bytes in that direction cross a 64 KiB boundary, not at every
 * call: two helper calls saved on the hottest path (measured: 87 % -> 91 % of
 * untraced throughput for 64-byte writes). Between refreshes the per-tick
 * socket walk (iter/tcp) keeps segments and RTT current for the recorder's
 * namespace; state changes, resets, retransmits and destroy refresh too.
 */
#define TT_REFRESH_SHIFT 16

static __always_inline void account_io(struct sock *sk, int ret, int out)
{
	struct tt_sock_val *v;
	__u64 cookie, pid_tgid, before, *ctr;

	if (ret <= 0 || !sk_is_inet_tcp_udp(sk))
		return;
	cookie = bpf_get_socket_cookie(sk);
	v = sock_entry(sk, cookie, 1);
	if (!v)
		return;
	ctr = out ? &v->bytes_out : &v->bytes_in;
	before = *ctr; /* racy, and only used to decide on a refresh */
	__sync_fetch_and_add(ctr, ret);
	if (!v->pid || (before >> TT_REFRESH_SHIFT) != ((before + ret) >> TT_REFRESH_SHIFT)) {
		pid_tgid = bpf_get_current_pid_tgid();
		if ((__u32)pid_tgid != v->pid)
			set_owner(v, pid_tgid);
		if (sk->sk_protocol == IPPROTO_TCP)
			tcp_snapshot(sk, v);
	}
	if (sk->sk_protocol != IPPROTO_TCP) {
		if (out)
			__sync_fetch_and_add(&v->dgrams_out, 1);
		else
			__sync_fetch_and_add(&v->dgrams_in, 1);
	}
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(tt_send, struct sock *sk, int ret, int flags)
{
	account_io(sk, ret, 1);
	return 0;
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(tt_recv, struct sock *sk, int ret, int flags)
{
	/* MSG_PEEK leaves the data queued: it will be counted when really read */
	if (flags & MSG_PEEK)
		return 0;
	account_io(sk, ret, 0);
	return 0;
}

static __always_inline void emit(__u32 type, __u64 cookie, const struct tt_sock_val *v,
				 __u8 old_state, __u8 new_state, __u8 rst_dir, __u32 sk_err)
{
	struct tt_kevent *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e) {
		health_inc(TT_H_RB_DROPS);
		return;
	}
	e->ts_ns = bpf_ktime_get_ns();
	e->cookie = cookie;
	e->type = type;
	e->old_state = old_state;
	e->new_state = new_state;
	e->rst_dir = rst_dir;
	e->pad = 0;
	e->sk_err = sk_err;
	e->pad2 = 0;
	__builtin_memcpy(&e->val, v, sizeof(*v));
	bpf_ringbuf_submit(e, rb_wake_bytes && bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) <
					       rb_wake_bytes ?
				      BPF_RB_NO_WAKEUP :
				      0);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(tt_state, struct sock *sk, int oldstate, int newstate)
{
	struct tt_sock_val *v;
	__u64 cookie;

	if (sk->sk_protocol != IPPROTO_TCP)
		return 0;
	/* listeners are not connections; their children are created in SYN_RECV */
	if (newstate == TCP_LISTEN || oldstate == TCP_LISTEN)
		return 0;
	cookie = bpf_get_socket_cookie(sk);
	v = bpf_map_lookup_elem(&socks, &cookie);
	if (!v) {
		if (newstate == TCP_SYN_SENT) /* connect(): the caller owns it */
			v = sock_entry_create(sk, cookie, TT_SF_OPEN_SEEN, 1);
		else if (newstate == TCP_SYN_RECV) /* a child, born in softirq */
			v = sock_entry_create(sk, cookie, TT_SF_OPEN_SEEN, 0);
		else if (oldstate == TCP_SYN_RECV) /* the child, leaving SYN_RECV */
			v = sock_entry_create(sk, cookie, 0, 0);
		else /* a socket that was there before us */
			v = sock_entry_create(sk, cookie, TT_SF_PARTIAL, 0);
		if (!v)
			return 0;
	}
	tcp_snapshot(sk, v);
	refresh_tuple(sk, v);
	v->state = newstate;
	emit(TT_KEV_STATE, cookie, v, oldstate, newstate, 0, BPF_CORE_READ(sk, sk_err));
	return 0;
}

SEC("tp_btf/tcp_destroy_sock")
int BPF_PROG(tt_destroy, struct sock *sk)
{
	__u64 cookie = bpf_get_socket_cookie(sk);
	struct tt_sock_val *v = bpf_map_lookup_elem(&socks, &cookie);

	if (!v)
		return 0;
	tcp_snapshot(sk, v);
	emit(TT_KEV_DESTROY, cookie, v, 0, 0, 0, BPF_CORE_READ(sk, sk_err));
	/* the socket is gone: nothing can count into this entry any more */
	bpf_map_delete_elem(&socks, &cookie);
	return 0;
}

static __always_inline int is_fullsock(const struct sock *sk)
{
	__u8 st = sk->__sk_common.skc_state;

	return st != TCP_TIME_WAIT && st != TCP_NEW_SYN_RECV;
}

/*
 * Resets and retransmits of a socket we never met are counted from a fresh
 * (partial) entry, unless the socket is already closed: then its entry has been
 * reported and deleted, and a new one would be a phantom connection.
 */
static __always_inline struct tt_sock_val *softirq_entry(struct sock *sk, __u64 cookie)
{
	struct tt_sock_val *v = bpf_map_lookup_elem(&socks, &cookie);
	__u8 st = sk->__sk_common.skc_state;

	if (v || st == TCP_CLOSE || st == TCP_LISTEN)
		return v;
	return sock_entry_create(sk, cookie, 0, 0);
}

static __always_inline void on_reset(struct sock *sk, __u8 dir)
{
	struct tt_sock_val *v;
	__u64 cookie;

	if (!sk || !is_fullsock(sk))
		return;
	cookie = bpf_get_socket_cookie(sk);
	v = softirq_entry(sk, cookie);
	if (!v)
		return;
	refresh_tuple(sk, v);
	if (dir)
		__sync_fetch_and_add(&v->rst_recv, 1);
	else
		__sync_fetch_and_add(&v->rst_sent, 1);
	tcp_snapshot(sk, v);
	emit(TT_KEV_RESET, cookie, v, 0, 0, dir, 0);
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
	struct tt_sock_val *v;
	__u64 cookie;

	if (err || !sk || !is_fullsock(sk))
		return 0;
	cookie = bpf_get_socket_cookie(sk);
	v = softirq_entry(sk, cookie);
	if (!v)
		return 0;
	refresh_tuple(sk, v);
	__sync_fetch_and_add(&v->retrans_events, 1);
	tcp_snapshot(sk, v);
	return 0;
}

/*
 * cgroup_skb: per-peer counters for unconnected UDP sockets only. Everything
 * else returns at the first test on the socket, before touching the packet.
 */
static __always_inline void account_peer(struct __sk_buff *skb, int out)
{
	struct bpf_sock *sk = skb->sk;
	struct tt_peer_key key = {};
	struct tt_peer_val *pv;
	__u32 l4_off, v4;
	__u16 udp_len;
	__u8 l4proto;

	if (!sk)
		return;
	sk = bpf_sk_fullsock(sk);
	if (!sk || sk->protocol != IPPROTO_UDP || sk->dst_port != 0)
		return;

	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		struct iphdr iph;

		if (bpf_skb_load_bytes(skb, 0, &iph, sizeof(iph)))
			return;
		l4proto = iph.protocol;
		l4_off = (iph.ihl & 0xf) * 4;
		v4 = out ? iph.daddr : iph.saddr;
		addr_v4mapped(key.addr, v4);
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr ip6h;

		if (bpf_skb_load_bytes(skb, 0, &ip6h, sizeof(ip6h)))
			return;
		l4proto = ip6h.nexthdr; /* extension headers: not followed, not counted */
		l4_off = sizeof(ip6h);
		__builtin_memcpy(key.addr, out ? &ip6h.daddr : &ip6h.saddr, 16);
	} else {
		return;
	}
	if (l4proto != IPPROTO_UDP)
		return;

	struct udphdr uh;

	if (bpf_skb_load_bytes(skb, l4_off, &uh, sizeof(uh)))
		return;
	udp_len = bpf_ntohs(uh.len);
	if (udp_len < sizeof(uh))
		return;
	key.port = bpf_ntohs(out ? uh.dest : uh.source);
	key.cookie = bpf_get_socket_cookie(skb);

	pv = bpf_map_lookup_elem(&peers, &key);
	if (!pv) {
		struct tt_peer_val nv = { .first_ns = bpf_ktime_get_ns() };
		long err = bpf_map_update_elem(&peers, &key, &nv, BPF_NOEXIST);

		if (err == -E2BIG || err == -ENOMEM) {
			health_inc(TT_H_PEERS_FULL);
			return;
		}
		pv = bpf_map_lookup_elem(&peers, &key);
		if (!pv)
			return;
	}
	if (out) {
		__sync_fetch_and_add(&pv->bytes_out, udp_len - sizeof(uh));
		__sync_fetch_and_add(&pv->dgrams_out, 1);
	} else {
		__sync_fetch_and_add(&pv->bytes_in, udp_len - sizeof(uh));
		__sync_fetch_and_add(&pv->dgrams_in, 1);
	}
}

SEC("cgroup_skb/egress")
int tt_skb_egress(struct __sk_buff *skb)
{
	account_peer(skb, 1);
	return 1; /* observe only: never drop */
}

SEC("cgroup_skb/ingress")
int tt_skb_ingress(struct __sk_buff *skb)
{
	account_peer(skb, 0);
	return 1;
}

/*
 * Run at start: sockets that exist before we attach are entered as partial.
 * Run every tick after that: the snapshot of every known TCP socket is
 * refreshed (the hot path refreshes only now and then).
 */
SEC("iter/tcp")
int tt_iter_tcp(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct tt_sock_val *v;
	struct tcp_sock *tp;
	struct sock *sk;
	__u64 cookie;

	if (!skc)
		return 0;
	tp = bpf_skc_to_tcp_sock(skc);
	if (!tp)
		return 0; /* time-wait and request sockets have no counters to base */
	sk = (struct sock *)tp;
	if (sk->__sk_common.skc_state == TCP_LISTEN)
		return 0;
	cookie = bpf_get_socket_cookie(sk);
	v = bpf_map_lookup_elem(&socks, &cookie);
	if (v)
		tcp_snapshot(sk, v); /* every tick: segments and RTT current */
	else
		sock_entry_create(sk, cookie, TT_SF_PARTIAL, 0);
	return 0;
}

SEC("iter/udp")
int tt_iter_udp(struct bpf_iter__udp *ctx)
{
	struct udp_sock *udp = ctx->udp_sk;
	struct sock *sk;
	__u64 cookie;

	if (!udp)
		return 0;
	sk = (struct sock *)udp;
	cookie = bpf_get_socket_cookie(sk);
	if (!bpf_map_lookup_elem(&socks, &cookie))
		sock_entry_create(sk, cookie, TT_SF_PARTIAL, 0);
	return 0;
}
