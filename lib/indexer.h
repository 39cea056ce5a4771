/*
 * indexer.h: what the index says about connections, computed from the
 * aggregator's tables. Pure (no I/O, no clock): the recorder feeds it live
 * tables, reindex feeds it replayed ones, and both get the same rows.
 *
 * For each connection lifetime it keeps a summary (identity, first and last
 * seen, open and close, totals, peak per-tick rates, RTT min/avg/max,
 * retransmits, resets); for each connection and time bucket (bucket_ns long,
 * aligned to Unix time) the bytes, packets, retransmits and average RTT of that
 * bucket. A tick's deltas go whole into the bucket that holds its end: since a
 * tick covers (start, end], bucket [B, B + bucket_ns) takes the ticks ending in
 * (B, B + bucket_ns]. A bucket in which a connection moved no data gets no row.
 * tt_store_block drains what changed since the last drain.
 */
#ifndef TT_INDEXER_H
#define TT_INDEXER_H

#include <stddef.h>
#include <stdint.h>

#include "aggregator.h"

struct tt_indexer;

/* One connection lifetime, as the connections table holds it. Times are Unix ns. */
struct tt_ix_conn {
	struct tt_ev_conn conn; /* identity and owner as last reported */
	uint64_t first_seen_ns; /* first tick it appeared in */
	uint64_t last_seen_ns; /* last tick it appeared in */
	uint64_t open_ns;
	uint64_t close_ns; /* 0 while open */
	uint8_t close_reason;
	uint8_t closed;
	uint16_t err;
	struct tt_counters tot; /* totals at last_seen */
	double peak_rate_in; /* highest per-tick rate, bytes/s */
	double peak_rate_out;
	uint32_t rtt_min_us; /* over ticks with an RTT sample; 0 if none */
	uint32_t rtt_max_us;
	uint64_t rtt_sum_us; /* rtt_avg = rtt_sum_us / rtt_n */
	uint32_t rtt_n;
	uint32_t resets; /* reset events seen (sent + received) */
};

/* One connection in one time bucket. */
struct tt_ix_bucket {
	uint64_t conn_key; /* index into the drain's conns: see tt_indexer_drain */
	uint64_t t_start_ns; /* Unix ns, a multiple of bucket_ns */
	uint64_t bytes_in; /* deltas inside the bucket */
	uint64_t bytes_out;
	uint64_t packets_in;
	uint64_t packets_out;
	uint32_t retrans;
	uint32_t rtt_avg_us; /* average of the ticks' srtt with a sample; 0 if none */
	uint64_t rtt_sum_us;
	uint32_t rtt_n;
};

/* The bucket length the recorder uses unless told otherwise. */
#define TT_IX_BUCKET_NS_DEFAULT 10000000000ull

/*
 * bucket_ns: length of a time bucket (e.g. 10 s; 0 means the default);
 * m2w: CLOCK_MONOTONIC -> Unix ns. NULL when out of memory.
 */
struct tt_indexer *tt_indexer_new(uint64_t bucket_ns, int64_t mono_to_wall_ns);

/* Free; NULL is a no-op. */
void tt_indexer_free(struct tt_indexer *ix);

/* Account one tick's table. 0, or -ENOMEM (the table may then be partly accounted). */
int tt_indexer_add(struct tt_indexer *ix, const struct tt_table *t);

/* The bucket length in ns. */
uint64_t tt_indexer_bucket_ns(const struct tt_indexer *ix);

/*
 * What changed since the last drain: every connection lifetime touched (its
 * full current summary, for an upsert keyed by (conn.id, open_ns)), and every
 * bucket touched (its full current sums, for an upsert keyed by (connection,
 * t_start_ns)); a bucket's conn_key is the index of its connection in *conns.
 * Arrays stay owned by the indexer and valid until the next call. Closed
 * connections are forgotten after they are drained.
 */
void tt_indexer_drain(struct tt_indexer *ix, const struct tt_ix_conn **conns, size_t *nconns,
		      const struct tt_ix_bucket **buckets, size_t *nbuckets);

/*
 * The last drain could not be stored (the transaction failed): forget that it
 * happened, so the next drain reports everything since the drain before it
 * again, closed connections and finished buckets included. tt_store_block calls
 * this itself when its transaction fails; a no-op when nothing is outstanding.
 */
void tt_indexer_rewind(struct tt_indexer *ix);

#endif /* TT_INDEXER_H */
