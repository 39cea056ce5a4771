/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The only contract between bpf/capture.bpf.c and user space (lib/collector.c).
 *
 * Every structure here crosses the kernel/user boundary through a map or the
 * ring buffer, so fields are fixed-width, padding is explicit and sizes are
 * asserted. Change a layout: bump TT_ABI_VERSION.
 */
#ifndef TCPTOP_ABI_H
#define TCPTOP_ABI_H

#ifdef __BPF__
/* vmlinux.h provides __u8..__u64 */
#else
#include <linux/types.h>
#endif

#define TT_ABI_VERSION 1
#define TT_COMM_LEN 16

/* Addresses are always 16 bytes: IPv4 is stored v4-mapped (::ffff:a.b.c.d), so a
 * v4-mapped IPv6 socket and a plain IPv4 one look the same to user space. */
struct tt_tuple {
	__u8 saddr[16]; /* local address */
	__u8 daddr[16]; /* remote address; all zero for an unconnected UDP socket */
	__u16 sport; /* local port, host order */
	__u16 dport; /* remote port, host order; 0 when unconnected */
	__u8 family; /* 4 or 6, after v4-mapped addresses are folded to 4 */
	__u8 proto; /* IPPROTO_TCP or IPPROTO_UDP */
	__u16 pad;
};
_Static_assert(sizeof(struct tt_tuple) == 40, "tt_tuple layout");

/* tt_sock_val.flags */
#define TT_SF_OPEN_SEEN 0x01 /* entry created by connect/accept: counts start at open */
#define TT_SF_PARTIAL 0x02 /* socket existed before the recorder started */
#define TT_SF_UNCONNECTED 0x04 /* UDP socket without a fixed peer: see map peers */
#define TT_SF_LISTEN 0x08 /* a listening socket, not a connection */

/*
 * Per-socket counters, map `socks`, key = socket cookie (__u64).
 * Monotonic: BPF only adds; user space computes deltas. TCP fields are the
 * tcp_sock snapshot taken at the socket's most recent hook.
 */
struct tt_sock_val {
	__u64 bytes_in; /* payload bytes returned by recvmsg (MSG_PEEK excluded) */
	__u64 bytes_out; /* payload bytes accepted by sendmsg */
	__u64 dgrams_in; /* UDP: datagrams received */
	__u64 dgrams_out; /* UDP: datagrams sent */
	__u64 first_ns; /* CLOCK_MONOTONIC when the entry was created */
	__u64 cgroup_id; /* cgroup v2 id of the first task seen doing I/O */
	struct tt_tuple tuple;
	__u32 segs_in; /* TCP: tcp_sock.segs_in snapshot */
	__u32 segs_out; /* TCP: tcp_sock.segs_out snapshot */
	__u32 segs_in_base; /* segs_in when counting started (partial sockets) */
	__u32 segs_out_base;
	__u32 retrans_base; /* total_retrans when counting started */
	__u32 total_retrans; /* TCP: tcp_sock.total_retrans snapshot (segments) */
	__u32 retrans_events; /* tcp_retransmit_skb hits, successful only */
	__u32 srtt_us; /* smoothed RTT, microseconds (already >> 3) */
	__u32 rttvar_us; /* RTT mean deviation, microseconds (mdev_us >> 2) */
	__u32 rst_sent;
	__u32 rst_recv;
	__u32 pid; /* thread id of the last task that did I/O (0: none yet) */
	__u32 tgid; /* its process id */
	__u32 netns; /* network namespace inode */
	__u32 ino; /* socket inode when known, for owner lookup in /proc */
	__u8 state; /* TCP state (linux/tcp_states.h numbering); 7 (CLOSE) for UDP */
	__u8 flags; /* TT_SF_* */
	__u16 pad;
	char comm[TT_COMM_LEN];
};
_Static_assert(sizeof(struct tt_sock_val) == 168, "tt_sock_val layout");

/* Per-peer counters of unconnected UDP sockets, map `peers` (filled by cgroup_skb). */
struct tt_peer_key {
	__u64 cookie; /* the socket */
	__u8 addr[16]; /* the remote peer, v4-mapped for IPv4 */
	__u16 port; /* remote port, host order */
	__u16 pad[3];
};
_Static_assert(sizeof(struct tt_peer_key) == 32, "tt_peer_key layout");

struct tt_peer_val {
	__u64 bytes_in; /* UDP payload bytes (header excluded) */
	__u64 bytes_out;
	__u64 dgrams_in;
	__u64 dgrams_out;
	__u64 first_ns;
};
_Static_assert(sizeof(struct tt_peer_val) == 40, "tt_peer_val layout");

/* Ring buffer records: lifecycle only, never per send or receive. */
enum tt_kev_type {
	TT_KEV_STATE = 1, /* inet_sock_set_state */
	TT_KEV_RESET = 2, /* tcp_send_reset / tcp_receive_reset */
	TT_KEV_DESTROY = 3, /* tcp_destroy_sock: final counters, entry removed */
};

struct tt_kevent {
	__u64 ts_ns; /* CLOCK_MONOTONIC */
	__u64 cookie;
	__u32 type; /* enum tt_kev_type */
	__u8 old_state; /* STATE */
	__u8 new_state; /* STATE */
	__u8 rst_dir; /* RESET: 0 sent, 1 received */
	__u8 pad;
	__u32 sk_err; /* sk->sk_err at the event: ECONNREFUSED, ETIMEDOUT, ... */
	__u32 pad2;
	struct tt_sock_val val; /* snapshot after the event was applied */
};
_Static_assert(sizeof(struct tt_kevent) == 32 + sizeof(struct tt_sock_val), "tt_kevent layout");

/* Loss and health counters, per-CPU array `health`, summed by user space. */
enum tt_health_idx {
	TT_H_RB_DROPS = 0, /* ring buffer reserve failed: event lost */
	TT_H_SOCKS_FULL, /* socks map full: a socket went uncounted */
	TT_H_PEERS_FULL, /* peers map full: a UDP peer went uncounted */
	TT_H_MAX,
};

#endif /* TCPTOP_ABI_H */
