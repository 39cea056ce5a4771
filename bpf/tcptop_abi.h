/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The only contract between bpf/capture.bpf.c and user space (lib/collector.c).
 *
 * Every structure here crosses the kernel/user boundary through a map, the
 * ring buffer or an iterator's output, so fields are fixed-width, padding is
 * explicit and sizes are asserted. Change a layout: bump TT_ABI_VERSION.
 */
#ifndef TCPTOP_ABI_H
#define TCPTOP_ABI_H

#ifdef __BPF__
/* vmlinux.h provides __u8..__u64 */
#else
#include <linux/types.h>
#endif

#define TT_ABI_VERSION 3
#define TT_COMM_LEN    16

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

/* tt_sk.flags: what the lifecycle hooks learnt about a TCP socket */
#define TT_SKF_OPEN_SEEN 0x01 /* we saw its connect or its birth as a child: counts from open */
#define TT_SKF_ACTIVE	 0x02 /* opened by connect(): its SYN is in write_seq */
#define TT_SKF_FIN_OUT	 0x04 /* the application shut down sending: a FIN is in write_seq */
#define TT_SKF_HELD_CLOSE                                                                          \
	0x08 /* reached CLOSE while a file still held it: its destroy                              \
	      * comes from the holder's close(), in its context */

/*
 * Per-TCP-socket state kept by the kernel side, map `socks`, key = socket
 * cookie. Created by the first lifecycle hook that meets the socket (state
 * change, reset, retransmit, start-up discovery) and deleted at destroy, so its
 * presence says the kernel still has the socket. Never touched per message.
 */
struct tt_sk {
	__u64 first_ns; /* CLOCK_MONOTONIC when the entry was created */
	__u64 cgroup_id; /* identity, kept so the per-tick walk need not chase */
	__u64 netns_cookie; /* pointers for it: a socket's namespace and cgroup */
	__u32 netns; /* never change */
	__u32 rst_sent;
	__u32 rst_recv;
	__u32 retrans_events; /* successful tcp_retransmit_skb calls */
	__u8 flags; /* TT_SKF_* */
	__u8 pad[7];
};
_Static_assert(sizeof(struct tt_sk) == 48, "tt_sk layout");

/* tt_snap.flags */
#define TT_SNF_HELD   0x01 /* from the task_file walk: pid/tgid/comm hold the socket */
#define TT_SNF_TASK   0x02 /* pid/tgid/comm: the task that called connect(), close(), shutdown() */
#define TT_SNF_ORPHAN 0x04 /* from iter/tcp: no process holds it any more */
#define TT_SNF_ZEROED                                                                              \
	0x08 /* tcp_disconnect() zeroed the kernel counters: bytes,                                \
	      * packets and RTT are not valid, keep the last ones */
#define TT_SNF_KNOWN 0x10 /* the socket has a `socks` entry (flags, resets below) */

/*
 * One socket's counters at one moment: a record of the per-tick walks (read
 * from the iterators' output) and the body of every ring-buffer event.
 * TCP bytes are what the application wrote and read, computed from struct
 * tcp_sock (docs/architecture.md, "TCP bytes"); UDP sockets carry no counters
 * here (they are counted per packet into `flows`), only identity and holder.
 */
struct tt_snap {
	__u64 cookie; /* socket cookie; 0 when the kernel has not assigned one yet */
	__u64 bytes_out; /* TCP: bytes the application wrote (SYN and FIN excluded) */
	__u64 bytes_in; /* TCP: bytes the application read (FIN excluded, MSG_PEEK not counted) */
	__u64 cgroup_id; /* cgroup v2 id of the socket */
	__u64 first_ns; /* tt_sk.first_ns, 0 without an entry */
	struct tt_tuple tuple;
	__u32 segs_in; /* TCP: tcp_sock.segs_in */
	__u32 segs_out;
	__u32 total_retrans; /* TCP: retransmitted segments */
	__u32 retrans_events;
	__u32 srtt_us; /* smoothed RTT, microseconds */
	__u32 rttvar_us; /* RTT mean deviation, microseconds */
	__u32 rst_sent;
	__u32 rst_recv;
	__u32 pid; /* see flags: holder, connecting task, or 0 */
	__u32 tgid;
	__u32 netns; /* network namespace inode */
	__u32 pad3;
	__u8 state; /* TCP state (linux/tcp_states.h numbering); UDP: 1 connected, 7 not */
	__u8 flags; /* TT_SNF_* */
	__u8 sk_flags; /* tt_sk.flags */
	__u8 pad;
	char comm[TT_COMM_LEN];
	__u32 pad2;
	__u64 netns_cookie; /* the namespace's cookie, to name the namespace of UDP flows */
};
_Static_assert(sizeof(struct tt_snap) == 160, "tt_snap layout");

/*
 * Per (UDP socket, remote peer) counters, map `flows`, filled by the cgroup_skb
 * programs for every UDP socket, connected or not: a socket that connects late,
 * reconnects or disconnects is followed peer by peer.
 */
struct tt_flow_key {
	__u64 cookie; /* the socket */
	__u8 addr[16]; /* the remote peer, v4-mapped for IPv4 */
	__u16 port; /* remote port, host order */
	__u16 lport; /* local port: a socket that disconnects may send from a new one */
	__u16 pad[2];
};
_Static_assert(sizeof(struct tt_flow_key) == 32, "tt_flow_key layout");

struct tt_flow_val {
	__u64 bytes_in; /* UDP payload bytes (headers excluded) */
	__u64 bytes_out;
	__u64 dgrams_in; /* datagrams on the wire: a GSO/GRO packet counts its segments */
	__u64 dgrams_out;
	__u64 first_ns; /* first datagram, CLOCK_MONOTONIC */
	__u64 last_ns; /* last datagram */
	__u8 laddr[16]; /* local address of the first datagram, v4-mapped */
	__u16 lport; /* local port */
	__u8 connected; /* the socket was connected to this peer at the first datagram */
	__u8 pad;
	__u32 tgid; /* the task that sent the first datagram, 0 if it was received */
	__u64 cgroup_id; /* cgroup v2 id of the socket */
	__u64 netns_cookie; /* the socket's network namespace (bpf_get_netns_cookie) */
	char comm[TT_COMM_LEN]; /* the task that sent the first datagram */
};
_Static_assert(sizeof(struct tt_flow_val) == 104, "tt_flow_val layout");

/* Ring buffer records: lifecycle only, never per send or receive. */
enum tt_kev_type {
	TT_KEV_STATE = 1, /* inet_sock_set_state */
	TT_KEV_RESET = 2, /* tcp_send_reset / tcp_receive_reset */
	TT_KEV_DESTROY = 3, /* tcp_destroy_sock: final counters, entry removed */
};

struct tt_kevent {
	__u64 ts_ns; /* CLOCK_MONOTONIC */
	__u32 type; /* enum tt_kev_type */
	__u8 old_state; /* STATE */
	__u8 new_state; /* STATE */
	__u8 rst_dir; /* RESET: 0 sent, 1 received */
	__u8 pad;
	__u32 sk_err; /* sk->sk_err at the event: ECONNREFUSED, ETIMEDOUT, ... */
	__u32 sk_err_soft; /* sk->sk_err_soft: why SYNs went unanswered (EHOSTUNREACH...) */
	struct tt_snap snap; /* taken before the event was applied; state = new state */
};
_Static_assert(sizeof(struct tt_kevent) == 24 + sizeof(struct tt_snap), "tt_kevent layout");

/* Loss and health counters, per-CPU array `health`, summed by user space. */
enum tt_health_idx {
	TT_H_RB_DROPS = 0, /* ring buffer reserve failed: event lost */
	TT_H_SOCKS_FULL, /* socks map full: a TCP socket's lifecycle state went unkept */
	TT_H_PEERS_FULL, /* flows map full: a UDP flow went uncounted */
	TT_H_MAX,
};

/* Values of the `walk_mode` global the iterators read. */
#define TT_WALK_TICK	 0 /* emit records */
#define TT_WALK_DISCOVER 1 /* iter/tcp: assign cookies and entries, emit nothing */

#endif /* TCPTOP_ABI_H */
