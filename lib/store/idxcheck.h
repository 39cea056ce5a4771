/*
 * idxcheck.h: is what index.db says something the recorder could have written?
 *
 * The index is a cache of the segments, and a reader checks each value it
 * takes from it before use (docs/architecture.md, "An index that lies"):
 * counters are integers in [0, TT_IX_COUNT_MAX], rates finite and >= 0, codes
 * inside their enum, ids name a row that is there, times inside the
 * recording's span. A value out of range is an error naming its row; a
 * plausible value that disagrees with what the index says elsewhere (a minor
 * period against its hour, a block row against its frame header) is a
 * warning naming the rows. Every function returns 0 or -EBADMSG with why
 * filled (-EIO when the index cannot be read); nothing here prints.
 */
#ifndef TT_IDXCHECK_H
#define TT_IDXCHECK_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* The largest counter believed (bytes, packets, RTT sums): 64 PiB. */
#define TT_IX_COUNT_MAX (1ll << 56)

/*
 * Columns of a rollup piece statement, in this order (lib/scan.c's scan_pieces
 * selects them so): the rollups row o, its conns row c and processes row p, both
 * LEFT JOINed so that a missing one is seen rather than skipped.
 */
enum tt_pq_col {
	TT_PQ_T,
	TT_PQ_PART,
	TT_PQ_TICKS,
	TT_PQ_FIRST_NS,
	TT_PQ_LAST_NS,
	TT_PQ_AGE_NS,
	TT_PQ_STATE,
	TT_PQ_CLOSED,
	TT_PQ_BYTES_IN,
	TT_PQ_BYTES_OUT,
	TT_PQ_PACKETS_IN,
	TT_PQ_PACKETS_OUT,
	TT_PQ_RETRANS,
	TT_PQ_RESETS,
	TT_PQ_PEAK_IN,
	TT_PQ_PEAK_OUT,
	TT_PQ_RTT_SUM,
	TT_PQ_RTT_N,
	TT_PQ_RTT_MIN,
	TT_PQ_RTT_MAX,
	TT_PQ_CGROUP,
	TT_PQ_PID,
	TT_PQ_COMM,
	TT_PQ_CONN_ID,
	TT_PQ_FAMILY,
	TT_PQ_PROTO,
	TT_PQ_LADDR,
	TT_PQ_LPORT,
	TT_PQ_RADDR,
	TT_PQ_RPORT,
	TT_PQ_TID,
	TT_PQ_NETNS,
	TT_PQ_FLAGS,
	TT_PQ_OPEN_NS,
	TT_PQ_CLOSE_REASON,
	TT_PQ_CLOSE_ERRNO,
	TT_PQ_CONN,
	TT_PQ_PROCESS_ID,
	TT_PQ_P_ID,
	TT_PQ_C_ID,
	TT_PQ_C_REC,
};

/* The recording a piece belongs to: its id and span (Unix ns). */
struct tt_ix_span {
	int64_t rec_id;
	uint64_t start_ns, end_ns;
};

/*
 * One row of a piece statement (columns enum tt_pq_col) of rollup length res_s:
 * every column in range, the references there, the row consistent with itself
 * (RTT sum between n * min and n * max, bytes moved exactly when a rate was seen).
 */
int tt_check_piece(sqlite3_stmt *q, const struct tt_ix_span *rec, uint64_t res_s, const char *dir,
		   char *why, size_t why_len);

/*
 * The keys of the rollups table: every res a length that divides an hour, every
 * t inside the recordings' span. A row with another key is never selected, so
 * it would be left out silently. Index lookups only. 0, -EBADMSG with why (the
 * scan warns: the rest is answered), or -EIO.
 */
int tt_check_rollup_keys(struct tt_store *st, char *why, size_t why_len);

/*
 * The minor periods of hour hour_s (Unix s) of recording rec against the
 * hour's own rows: per connection, the sums and extremes must agree. Nothing
 * is compared when the index holds no row of the hour (not written yet).
 */
int tt_check_hour(struct tt_store *st, int64_t rec, uint64_t minor_s, uint64_t hour_s, char *why,
		  size_t why_len);

/*
 * What info prints, checked: recordings, segments, blocks and conns rows in
 * range and referring to rows that are there, and (with frames) every block
 * row against its frame header in the segment (one pread per block).
 */
int tt_check_store_rows(struct tt_store *st, int frames, char *why, size_t why_len);

#endif /* TT_IDXCHECK_H */
