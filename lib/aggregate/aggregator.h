/*
 * aggregator.h: turns the event stream into one table per tick.
 *
 * Pure and deterministic: no clock, no I/O. Its only inputs are events, so the
 * live recorder and a replay of the same stream build identical tables.
 * Workload: every event of a recording passes through tt_agg_feed once; a TICK
 * costs O(live connections).
 */
#ifndef TT_AGGREGATOR_H
#define TT_AGGREGATOR_H

#include <stddef.h>
#include <stdint.h>

#include "event.h"

struct tt_agg;

/* tt_row.flags */
#define TT_ROW_CLOSED 0x01 /* ended during this tick: shown once, then dropped */
#define TT_ROW_NEW    0x02 /* first seen during this tick */

/* One connection at the end of one tick. */
struct tt_row {
	struct tt_ev_conn conn; /* identity and owner, as last reported */
	struct tt_counters tot; /* totals since first seen */
	uint64_t d_bytes_in; /* during this tick */
	uint64_t d_bytes_out;
	uint64_t d_packets_in;
	uint64_t d_packets_out;
	uint32_t d_retrans;
	uint32_t d_resets; /* sent + received during this tick */
	double rate_in; /* bytes/s over the measured tick length */
	double rate_out;
	uint64_t open_ns; /* CLOCK_MONOTONIC of open (or first sight if partial) */
	uint64_t close_ns; /* 0 while open */
	uint64_t last_active_ns; /* last time a counter moved */
	uint8_t flags; /* TT_ROW_* */
	uint8_t close_reason; /* enum tt_close_reason, when closed */
	uint16_t err; /* errno of a failed connect or reset, when closed */
};

/* The table the aggregator emits at each TICK. */
struct tt_table {
	uint64_t start_ns; /* the tick covers (start_ns, ts_ns] */
	uint64_t ts_ns;
	uint64_t seq; /* ticks emitted so far, from 1 */
	size_t n; /* rows */
	struct tt_row *rows; /* owned by the aggregator, valid until the next TICK */
	uint64_t bytes_in; /* sums of the rows' deltas */
	uint64_t bytes_out;
	double rate_in;
	double rate_out;
	uint32_t opened; /* connections first seen during the tick */
	uint32_t closed; /* connections that ended during the tick */
	struct tt_ev_loss loss; /* the recorder's losses so far */
	uint64_t orphans; /* events for unknown ids, ignored (should stay 0) */
};

/*
 * New aggregator, NULL when out of memory. It has no options on purpose:
 * every decision (a UDP flow's idle expiry included) arrives as an event, so a
 * stream means the same thing whoever replays it.
 */
struct tt_agg *tt_agg_new(void);

/* Free; NULL is a no-op. */
void tt_agg_free(struct tt_agg *a);

/*
 * Consume one event. Returns 1 when the event was a TICK and a new table is
 * ready (tt_agg_table), 0 otherwise, -ENOMEM when memory ran out (the event was
 * not applied).
 */
int tt_agg_feed(struct tt_agg *a, const struct tt_event *ev);

/*
 * The aggregator's whole state as keyframe events (CONN and SAMPLE per live
 * connection, then LOSS), each flagged TT_EVF_KEYFRAME and stamped ts_ns, passed
 * to fn in order of connection id. Meant right after a TICK: feeding them to a fresh
 * aggregator gives it the same connections, totals and losses, so its next
 * table equals this one's next table. Stops at and returns fn's first non-zero.
 */
int tt_agg_keyframe(const struct tt_agg *a, uint64_t ts_ns,
		    int (*fn)(const struct tt_event *ev, void *ctx), void *ctx);

/* The connection with this id as last reported, NULL if unknown. Valid until
 * the next tt_agg_feed. */
const struct tt_ev_conn *tt_agg_conn(const struct tt_agg *a, uint64_t id);

/* The table built by the last TICK (empty before the first). */
const struct tt_table *tt_agg_table(const struct tt_agg *a);

/*
 * How long the connection of r has lived at now_ns (or lived, if closed). Never
 * negative: an open time stamped by the kernel a hair after the tick that first
 * carried it counts as zero, not as 2^64.
 */
static inline uint64_t tt_row_age_ns(const struct tt_row *r, uint64_t now_ns)
{
	uint64_t end = r->close_ns ? r->close_ns : now_ns;

	return end > r->open_ns ? end - r->open_ns : 0;
}

/*
 * Whether r did something in its tick: moved data, was retransmitted or reset,
 * opened or closed. Reports and the index count a connection only in such
 * ticks: an idle one adds nothing to any sum, average or lifetime, so a
 * summary over many ticks needs no row for the idle ones.
 */
static inline int tt_row_active(const struct tt_row *r)
{
	return r->d_bytes_in || r->d_bytes_out || r->d_packets_in || r->d_packets_out ||
	       r->d_retrans || r->d_resets || (r->flags & (TT_ROW_NEW | TT_ROW_CLOSED));
}

/* Sort keys for tt_rows_sort; all sort descending, ties broken by id. */
enum tt_sort_key {
	TT_SORT_RATE = 0, /* rate in + out */
	TT_SORT_BYTES, /* total bytes in + out */
	TT_SORT_PACKETS,
	TT_SORT_RTT,
	TT_SORT_RETRANS,
	TT_SORT_DURATION, /* age or lifetime */
	TT_SORT_MAX
};

/* "rate", "bytes", ...; tt_sort_key_parse returns -1 for an unknown name. */
const char *tt_sort_key_name(enum tt_sort_key k);
int tt_sort_key_parse(const char *name);

/* Sort rows in place; ts_ns is "now" for the duration of open connections. */
void tt_rows_sort(struct tt_row *rows, size_t n, enum tt_sort_key key, uint64_t ts_ns);

#endif /* TT_AGGREGATOR_H */
