/*
 * indexer.h: what the index says about connections, computed from the
 * aggregator's tables. Pure (no I/O, no clock): the recorder feeds it live
 * tables, reindex feeds it replayed ones, and both get the same rows.
 *
 * A connection counts only in the ticks in which it was active
 * (tt_row_active: it moved data, was retransmitted or reset, opened or
 * closed): an idle connection costs nothing per tick, and its rows do not
 * change. For each connection lifetime it keeps a summary (identity, first
 * seen, last active, open and close, totals, peak per-tick rates, RTT
 * min/avg/max over active ticks, retransmits, resets); and rollups: for each
 * connection and period (TT_IX_RES_MINOR long, by default 5 minutes, and an
 * hour), what its active ticks in that period add up to, in the shape
 * lib/report.c needs to answer top over whole periods exactly as a replay of
 * the ticks would. A tick goes whole into the period that holds its end:
 * since a tick covers (start, end], period [T, T + res) takes the ticks
 * ending in (T, T + res]. A new part of a period starts when the
 * connection's owner (process, cgroup) changes in it.
 * tt_store_block drains what changed since the last drain.
 */
#ifndef TT_INDEXER_H
#define TT_INDEXER_H

#include <stddef.h>
#include <stdint.h>

#include "aggregator.h"

struct tt_indexer;

/* One connection lifetime, as the conns table holds it. Times are Unix ns. */
struct tt_ix_conn {
	struct tt_ev_conn conn; /* identity and owner as last reported */
	int64_t rowid; /* conns.id once stored (tt_indexer_stored), 0 before */
	uint64_t first_seen_ns; /* first tick it appeared in */
	uint64_t last_seen_ns; /* last tick in which it was active */
	uint64_t open_ns;
	uint64_t close_ns; /* 0 while open */
	uint8_t close_reason;
	uint8_t closed;
	uint16_t err;
	struct tt_counters tot; /* totals at last_seen */
	double peak_rate_in; /* highest per-tick rate, bytes/s */
	double peak_rate_out;
	uint32_t rtt_min_us; /* over active ticks with an RTT sample; 0 if none */
	uint32_t rtt_max_us;
	uint64_t rtt_sum_us; /* rtt_avg = rtt_sum_us / rtt_n */
	uint32_t rtt_n;
	uint32_t resets; /* reset events seen (sent + received) */
};

/* The two rollup lengths, in seconds: TT_IX_RES_MINOR is the default minor one. */
#define TT_IX_RES_MINOR 300u
#define TT_IX_RES_MAJOR 3600u

/* One connection's active ticks in one part of one period: a rollups row. */
struct tt_ix_piece {
	size_t conn_key; /* index into the drain's conns: see tt_indexer_drain */
	uint32_t res_s; /* period length, s */
	uint32_t part; /* from 0; the next one starts when the owner changes */
	uint64_t t_s; /* period start, Unix s, a multiple of res_s */
	uint32_t tgid; /* owner in this part */
	char comm[TT_COMM_MAX];
	uint64_t cgroup;
	uint32_t ticks; /* active ticks */
	uint64_t first_ns; /* Unix ns of the first and last active tick's end */
	uint64_t last_ns;
	uint64_t age_ns; /* the connection's greatest age at one of them (tt_row_age_ns) */
	uint8_t state; /* at the last one */
	uint8_t closed; /* it closed in this part */
	uint64_t bytes_in; /* sums of the ticks' deltas */
	uint64_t bytes_out;
	uint64_t packets_in;
	uint64_t packets_out;
	uint32_t retrans;
	uint32_t resets;
	double peak_rate_in; /* highest per-tick rate */
	double peak_rate_out;
	uint64_t rtt_sum_us; /* over ticks with an RTT sample */
	uint32_t rtt_n;
	uint32_t rtt_min_us;
	uint32_t rtt_max_us;
};

/* A piece read back from the index with its connection: what reports consume. */
struct tt_piece {
	struct tt_ev_conn conn; /* identity; tgid, comm, cgroup of this part; open_ns
				 * CLOCK_MONOTONIC, as in the tables */
	struct tt_ix_piece sum; /* first_ns and last_ns in Unix ns; conn_key unused */
	uint8_t close_reason; /* when sum.closed */
	uint16_t err;
	uint8_t migrated; /* a row migrated from schema 1: no first_ns, age_ns or peak rates */
};

/*
 * minor_ns: the minor rollup length (0: TT_IX_RES_MINOR s); a whole number of
 * seconds that divides an hour, or NULL is returned; m2w: CLOCK_MONOTONIC ->
 * Unix ns. NULL also when out of memory.
 */
struct tt_indexer *tt_indexer_new(uint64_t minor_ns, int64_t mono_to_wall_ns);

/* 1 if minor_ns can be a minor rollup length (see tt_indexer_new). */
int tt_indexer_minor_ok(uint64_t minor_ns);

/* Free; NULL is a no-op. */
void tt_indexer_free(struct tt_indexer *ix);

/* Account one tick's table. 0, or -ENOMEM (the table may then be partly accounted). */
int tt_indexer_add(struct tt_indexer *ix, const struct tt_table *t);

/* The minor rollup length in ns. */
uint64_t tt_indexer_minor_ns(const struct tt_indexer *ix);

/*
 * What changed since the last drain: every connection lifetime touched (its
 * full current summary: an insert when rowid is 0, else an update of that
 * row), and every rollup part touched (its full current sums, for an upsert
 * keyed by (res_s, t_s, connection, part)); a piece's conn_key is the index of
 * its connection in *conns. Arrays stay owned by the indexer and valid until
 * the next call. Closed connections are forgotten after they are drained.
 */
void tt_indexer_drain(struct tt_indexer *ix, const struct tt_ix_conn **conns, size_t *nconns,
		      const struct tt_ix_piece **pieces, size_t *npieces);

/*
 * The lifetime drained as (*conns)[i] is stored as row rowid: later drains
 * update it. Forgotten again by tt_indexer_rewind.
 */
void tt_indexer_stored(struct tt_indexer *ix, size_t i, int64_t rowid);

/*
 * The last drain could not be stored (the transaction failed): forget that it
 * happened, so the next drain reports everything since the drain before it
 * again, closed connections, finished pieces and row ids included.
 * tt_store_block calls this itself when its transaction fails; a no-op when
 * nothing is outstanding.
 */
void tt_indexer_rewind(struct tt_indexer *ix);

#endif /* TT_INDEXER_H */
