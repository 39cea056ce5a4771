/*
 * ship.h: a store's recordings into ClickHouse (docs/FLEET.md), and the
 * fleet's answers back out of it.
 *
 * The client speaks ClickHouse's HTTP interface through libcurl: statements
 * in POST bodies, inserts as JSONEachRow. ClickHouse 18.16 (Debian 12) is the
 * oldest server it targets. A URL is http://[user:password@]host:port/ with an
 * optional ?database=NAME; its tables are schema/clickhouse/NNNN_*.sql.
 *
 * Exports are incremental and resumable: every row has a deterministic key
 * (the recording's key, a time, the connection), the tables are
 * ReplacingMergeTree on that key and every query reads them FINAL, so a row
 * sent twice (a batch resent after a kill) counts once. Per destination and
 * recording, index.db's export_cursors (schema/0003) remember what went
 * through: the ticks up to ticks_ns, the lifetimes, losses and recording row
 * as of meta_ns. lib/ never prints: errors come back as a negative errno and
 * a message.
 */
#ifndef TT_SHIP_H
#define TT_SHIP_H

#include <stddef.h>
#include <stdint.h>

#include "indexer.h"

struct tt_ch;

/*
 * A client for url. retries: attempts after the first for a request that
 * could not reach the server or got a 5xx without a ClickHouse error (a
 * refusal is never retried); backoff_ms: the first wait, doubled each time up
 * to 10 s. NULL with why on failure.
 */
struct tt_ch *tt_ch_new(const char *url, int retries, unsigned backoff_ms, char *why,
			size_t why_len);
void tt_ch_free(struct tt_ch *ch);

/* The last error, one line. */
const char *tt_ch_errmsg(const struct tt_ch *ch);

/* The URL without its password: what names the destination in export_cursors. */
const char *tt_ch_dest(const struct tt_ch *ch);

/*
 * Run one statement; the response (TabSeparated unless sql says otherwise)
 * into *out if out is not NULL (NUL-terminated). 0, or -ECONNREFUSED (could
 * not reach it, after the retries), -EACCES (refused: ClickHouse's message in
 * the error), -ENOMEM, -E2BIG (the answer passed TT_BUF_MAX).
 */
struct tt_buf;
int tt_ch_exec(struct tt_ch *ch, const char *sql, struct tt_buf *out);

/* Create or upgrade the tables (schema/clickhouse). 0 or as tt_ch_exec. */
int tt_ch_migrate(struct tt_ch *ch);

/* ---- export -------------------------------------------------------------- */

struct tt_ship_opts {
	size_t batch_rows; /* rows per INSERT at most (plus one tick's rows); 0: 20000 */
	/* Progress: blocks read of those to read, ticks and rows sent. May be NULL. */
	void (*on_progress)(void *ctx, uint64_t done, uint64_t total);
	void *ctx;
	int only_if_new; /* send nothing, not even the recording row, without a new block */
};

struct tt_ship_stats {
	uint64_t recordings;
	uint64_t ticks; /* tick rows sent (a connection active in a tick) */
	uint64_t events;
	uint64_t conns; /* connection lifetime rows */
	uint64_t losses;
	uint64_t batches;
};

/*
 * Send what store dir holds that the destination has not got yet (by
 * export_cursors), and move the cursors as each batch is acknowledged. A
 * store in use by a recorder is read as it stands. 0, or a negative errno with
 * why (tt_ch_exec's codes, -EPROTO for a store without export_cursors, the
 * store's own errors).
 */
int tt_ship_store(struct tt_ch *ch, const char *dir, const struct tt_ship_opts *o,
		  struct tt_ship_stats *st, char *why, size_t why_len);

/* ---- live shipping (tcptop-record --ship) ------------------------------- */

struct tt_shipper;

/*
 * A thread that ships store dir to url: a pass (tt_ship_store) every
 * period_ns (0: 1 s), which sends the blocks sealed since the last one
 * (nothing when there are none). A pass that fails (server down, refused) is tried again
 * with a backoff from 1 s doubling to 30 s; the store is the buffer, so
 * nothing is lost meanwhile. 0, or a negative errno with why.
 */
int tt_shipper_start(const char *url, const char *dir, uint64_t period_ns, struct tt_shipper **out,
		     char *why, size_t why_len);

/*
 * What changed since the last call, for the recorder to print: "shipping to
 * URL failed: ..." once when passes start failing, "shipping to URL caught
 * up after N failed passes" once when one succeeds again. 1 with msg filled,
 * 0 when there is nothing new.
 */
int tt_shipper_take_note(struct tt_shipper *s, char *msg, size_t len);

/*
 * Stop: one last pass, tried for at most drain_ns (0: none; a request in
 * flight is cut at that deadline too), then end the thread and free. 0 when everything stored was
 * shipped; else a negative errno and why (what is left stays in the store, sent by the next
 * tcptop-analyze export or --ship to the same URL).
 */
int tt_shipper_stop(struct tt_shipper *s, uint64_t drain_ns, char *why, size_t why_len);

/* Passes that failed, in all. */
uint64_t tt_shipper_failures(struct tt_shipper *s);

/* ---- queries ------------------------------------------------------------- */

/* The hosts filter: comma-separated host names, or NULL for every host. */

/*
 * The span of the recordings (Unix ns) and their hosts (comma-separated, sorted,
 * into hosts). -ENODATA when none.
 */
int tt_fleet_span(struct tt_ch *ch, const char *hostnames, uint64_t *start_ns, uint64_t *end_ns,
		  char *hosts, size_t hosts_len, int *nhosts);

/*
 * The active ticks ending in (from_ns, to_ns] of the hosts, summed per
 * connection lifetime and owner (per tick as well if per_tick), as pieces,
 * handed to fn in the order a local scan of the hosts' stores would give them
 * (host by host, then by time). Stops at fn's first non-zero and returns it.
 */
int tt_fleet_pieces(struct tt_ch *ch, const char *hostnames, uint64_t from_ns, uint64_t to_ns,
		    int per_tick, int (*fn)(void *ctx, const char *host, const struct tt_piece *p),
		    void *ctx);

/* One lifecycle event, or one connection's retransmits in one tick, of the fleet. */
struct tt_fleet_event {
	uint64_t ts; /* Unix ns */
	const char *host;
	int retransmit; /* 1: retransmits of one tick (d_retrans, tot_retrans); 0: ev */
	struct tt_event ev; /* STATE, RESET, CLOSE (totals: bytes only), LOSS (the increase) */
	int known; /* conn holds the connection as the recorder knew it then */
	struct tt_ev_conn conn;
	uint32_t d_retrans, tot_retrans;
};

/*
 * The events with ts in [from_ns, to_ns] of the hosts, and the ticks in that
 * range in which a connection retransmitted, to fn in time order, then by host,
 * recording and place in the recording's stream (what a stable sort by time of
 * a local scan of the hosts' stores gives). Stops at fn's first non-zero.
 */
int tt_fleet_events(struct tt_ch *ch, const char *hostnames, uint64_t from_ns, uint64_t to_ns,
		    int (*fn)(void *ctx, const struct tt_fleet_event *e), void *ctx);

/*
 * The tables of the hosts' recordings for timeline, rebuilt from tt_ticks
 * (which holds only active rows) and handed to fn host by host, recording by
 * recording, in time order; t->ts_ns is Unix ns, t->start_ns 0. A
 * connection is in its recording's tables from the tick it was first seen in
 * to the tick it closed in, or the recording's end; in a tick in which it is
 * idle it is its last active row (owner, state) without deltas or flags. fn
 * gets the tables of the ticks ending in (from_ns, to_ns] that had an active
 * row, and of the idle ticks between them (placed from the rows' tick_start,
 * the recording's end and the tick length) one per bucket of grid
 * (lib/bucket.h): what a bucket's sums and maxima need. The rows are read a
 * page at a time. Stops at fn's first non-zero and returns it; else 0 or as
 * tt_ch_exec, -EPROTO for an answer it cannot read, -E2BIG for a tick of more
 * than 400,000 active connections.
 */
struct tt_buckets;
struct tt_table;
int tt_fleet_tables(struct tt_ch *ch, const char *hostnames, uint64_t from_ns, uint64_t to_ns,
		    const struct tt_buckets *grid,
		    int (*fn)(void *ctx, const char *host, const struct tt_table *t), void *ctx);

#endif /* TT_SHIP_H */
