/*
 * event.h: the event vocabulary. One stream of these records is what the live
 * collector produces, what the segment writer stores and what the aggregator
 * consumes, so a recording replays into exactly the tables the recorder saw.
 *
 * Records are fixed-layout; the stored encoding is defined by the segment codec,
 * this header is the in-memory form. Any change of meaning bumps TT_EVENT_VERSION.
 */
#ifndef TT_EVENT_H
#define TT_EVENT_H

#include <stdint.h>

#define TT_EVENT_VERSION 1
#define TT_COMM_MAX	 16

enum tt_ev_type {
	TT_EV_CONN = 1, /* a connection (or UDP flow) is seen: identity and owner */
	TT_EV_SAMPLE = 2, /* its counters changed: new totals */
	TT_EV_STATE = 3, /* TCP state change */
	TT_EV_RESET = 4, /* TCP reset sent or received */
	TT_EV_CLOSE = 5, /* the connection ended: final totals */
	TT_EV_TICK = 6, /* end of a tick: the aggregator emits its table */
	TT_EV_LOSS = 7, /* the recorder's own losses, cumulative since start */
	TT_EV_TYPE_MAX
};

/* tt_ev_conn.flags */
#define TT_CF_PARTIAL  0x01 /* existed before the recorder: counts start at the start */
#define TT_CF_UDP_PEER 0x02 /* one remote peer of an unconnected UDP socket */
#define TT_CF_ACTIVE   0x04 /* TCP opened here by connect(): the remote port is the service's */
#define TT_CF_PASSIVE  0x08 /* TCP accepted from a listener: the local port is the service's */

/* tt_ev_close.reason */
enum tt_close_reason {
	TT_CLOSE_NORMAL = 0, /* socket destroyed after a normal life */
	TT_CLOSE_FAILED = 1, /* connect failed: err says why (ECONNREFUSED, ETIMEDOUT) */
	TT_CLOSE_RESET = 2, /* ended by a reset */
	TT_CLOSE_IDLE = 3, /* UDP flow idle for the idle timeout */
};

/* Totals since the connection was first seen (partial: since the recorder started). */
struct tt_counters {
	uint64_t bytes_in;
	uint64_t bytes_out;
	uint64_t packets_in; /* TCP segments or UDP datagrams */
	uint64_t packets_out;
	uint32_t srtt_us; /* TCP smoothed RTT, 0 when unknown or UDP */
	uint32_t rttvar_us;
	uint32_t retrans; /* retransmitted segments */
	uint32_t rst_sent;
	uint32_t rst_recv;
	uint8_t state; /* TCP state, linux numbering; 0 for UDP */
	uint8_t pad[3];
};

struct tt_ev_conn {
	uint64_t id; /* socket cookie; UDP peer flows get ids with bit 63 set */
	uint8_t laddr[16]; /* v4-mapped for IPv4 */
	uint8_t raddr[16];
	uint16_t lport;
	uint16_t rport;
	uint8_t family; /* 4 or 6 */
	uint8_t proto; /* IPPROTO_TCP / IPPROTO_UDP */
	uint8_t flags; /* TT_CF_* */
	uint8_t pad;
	uint32_t pid; /* 0: not known yet */
	uint32_t tgid;
	uint32_t netns;
	uint64_t cgroup;
	uint64_t open_ns; /* when it opened, or was first seen if partial */
	char comm[TT_COMM_MAX];
};

struct tt_ev_sample {
	uint64_t id;
	struct tt_counters c;
};

struct tt_ev_state {
	uint64_t id;
	uint8_t old_state;
	uint8_t new_state;
	uint16_t err; /* sk_err at the change, e.g. ECONNREFUSED */
};

struct tt_ev_reset {
	uint64_t id;
	uint8_t received; /* 1: received, 0: sent */
};

struct tt_ev_close {
	uint64_t id;
	struct tt_counters c; /* final totals */
	uint8_t reason; /* enum tt_close_reason */
	uint8_t pad;
	uint16_t err;
};

struct tt_ev_tick {
	uint64_t start_ns; /* the tick covers (start_ns, ts_ns] */
};

struct tt_ev_loss {
	uint64_t ring_drops; /* lifecycle events the kernel could not queue */
	uint64_t socks_full; /* sockets not counted: map full */
	uint64_t peers_full; /* UDP peers not counted: map full */
};

/* tt_event.flags */
#define TT_EVF_KEYFRAME                                                                            \
	0x0001 /* restates state at a block start (CONN, SAMPLE, LOSS):                            \
		* a reader that has the state already sees no change,                              \
		* one that starts here gets all of it, with no deltas */

struct tt_event {
	uint64_t ts_ns; /* CLOCK_MONOTONIC */
	uint16_t type; /* enum tt_ev_type */
	uint16_t flags; /* TT_EVF_* */
	union {
		struct tt_ev_conn conn;
		struct tt_ev_sample sample;
		struct tt_ev_state state;
		struct tt_ev_reset reset;
		struct tt_ev_close close;
		struct tt_ev_tick tick;
		struct tt_ev_loss loss;
	};
};

/* Name of an event type ("conn", "sample", ...), "?" if unknown. */
const char *tt_event_type_name(unsigned type);

/*
 * The connection id an event names; 0 for TICK and LOSS, which name none.
 * Inline: the segment encoder asks it of every event.
 */
static inline uint64_t tt_event_id(const struct tt_event *ev)
{
	switch (ev->type) {
	case TT_EV_CONN:
		return ev->conn.id;
	case TT_EV_SAMPLE:
		return ev->sample.id;
	case TT_EV_STATE:
		return ev->state.id;
	case TT_EV_RESET:
		return ev->reset.id;
	case TT_EV_CLOSE:
		return ev->close.id;
	default:
		return 0;
	}
}

/* TCP state name as ss prints it ("ESTAB", "SYN-SENT", ...); "UNCONN" for 0 (UDP). */
const char *tt_tcp_state_name(unsigned state);

/* Parse a state name (case-insensitive, ss or kernel spelling); -1 if unknown. */
int tt_tcp_state_parse(const char *name);

#define TT_TCP_ESTABLISHED 1
#define TT_TCP_SYN_SENT	   2
#define TT_TCP_SYN_RECV	   3
#define TT_TCP_CLOSE	   7
#define TT_TCP_LISTEN	   10

/*
 * Times a reader accepts from a store (Unix ns, and |mono_to_wall_ns|): up to
 * 2^62 ns (year 2116), so sums and differences of two of them never overflow
 * an int64. Anything else in an index row is a lie (docs/SCHEMA.md).
 */
#define TT_TIME_MAX (1ll << 62)

/*
 * CLOCK_MONOTONIC ns + mono_to_wall_ns = Unix ns, in unsigned arithmetic: a
 * time read from a file may be anything, and wraps instead of overflowing.
 */
static inline uint64_t tt_wall_ns(uint64_t mono_ns, int64_t m2w)
{
	return mono_ns + (uint64_t)m2w;
}

#endif /* TT_EVENT_H */
