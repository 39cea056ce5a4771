/*
 * idxcheck.c: see idxcheck.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "idxcheck.h"
#include "segment.h"
#include "store_int.h"

#define NS	      1000000000ll
#define DAY_NS	      (86400 * NS)
#define TCP_STATE_MAX 13 /* TCP_BOUND_INACTIVE, the last of Linux's enum */
#define TCP_LISTEN    10

/* 0: an integer in [lo, hi]; 1: NULL and null_ok; -1: anything else. */
static int col_int(sqlite3_stmt *q, int col, int64_t lo, int64_t hi, int null_ok, int64_t *v)
{
	int type = sqlite3_column_type(q, col);

	*v = sqlite3_column_int64(q, col);
	if (type == SQLITE_NULL)
		return null_ok ? 1 : -1;
	return type == SQLITE_INTEGER && *v >= lo && *v <= hi ? 0 : -1;
}

/* A rate: NULL, or a finite number in [0, TT_IX_COUNT_MAX]. */
static int col_rate(sqlite3_stmt *q, int col)
{
	int type = sqlite3_column_type(q, col);
	double v = sqlite3_column_double(q, col);

	if (type == SQLITE_NULL)
		return 1;
	if (type != SQLITE_INTEGER && type != SQLITE_FLOAT)
		return -1;
	return isfinite(v) && v >= 0 && v <= (double)TT_IX_COUNT_MAX ? 0 : -1;
}

/* An address of family fam as the index stores it: NULL, an IPv4 integer, IPv6 text. */
static int col_addr(sqlite3_stmt *q, int col, int64_t fam)
{
	static const uint8_t zero[16];
	int type = sqlite3_column_type(q, col);
	uint8_t a[16];
	const char *t;

	if (type == SQLITE_NULL)
		return 1;
	if (fam == 4)
		return type == SQLITE_INTEGER && sqlite3_column_int64(q, col) > 0 &&
				       sqlite3_column_int64(q, col) <= UINT32_MAX
			       ? 0
			       : -1;
	t = (const char *)sqlite3_column_text(q, col);
	return type == SQLITE_TEXT && t && inet_pton(AF_INET6, t, a) == 1 && memcmp(a, zero, 16)
		       ? 0
		       : -1;
}

static const struct {
	int col, null_ok;
	int64_t lo, hi; /* hi 0: the period's length in ns */
	const char *name;
} piece_cols[] = {
	{ TT_PQ_T, 0, 1, TT_TIME_MAX / NS, "t" },
	{ TT_PQ_PART, 0, 0, UINT32_MAX, "part" },
	{ TT_PQ_TICKS, 0, 0, UINT32_MAX, "ticks" },
	{ TT_PQ_FIRST_NS, 1, 0, 0, "first_ns" },
	{ TT_PQ_LAST_NS, 1, 0, 0, "last_ns" },
	{ TT_PQ_AGE_NS, 1, 0, TT_TIME_MAX, "age_ns" },
	{ TT_PQ_STATE, 0, 0, TCP_STATE_MAX, "state" },
	{ TT_PQ_CLOSED, 0, 0, 1, "closed" },
	{ TT_PQ_BYTES_IN, 0, 0, TT_IX_COUNT_MAX, "bytes_in" },
	{ TT_PQ_BYTES_OUT, 0, 0, TT_IX_COUNT_MAX, "bytes_out" },
	{ TT_PQ_PACKETS_IN, 0, 0, TT_IX_COUNT_MAX, "packets_in" },
	{ TT_PQ_PACKETS_OUT, 0, 0, TT_IX_COUNT_MAX, "packets_out" },
	{ TT_PQ_RETRANS, 0, 0, UINT32_MAX, "retrans" },
	{ TT_PQ_RESETS, 0, 0, UINT32_MAX, "resets" },
	{ TT_PQ_RTT_SUM, 0, 0, TT_IX_COUNT_MAX, "rtt_sum_us" },
	{ TT_PQ_RTT_N, 0, 0, UINT32_MAX, "rtt_n" },
	{ TT_PQ_RTT_MIN, 1, 0, UINT32_MAX, "rtt_min_us" },
	{ TT_PQ_RTT_MAX, 1, 0, UINT32_MAX, "rtt_max_us" },
	{ TT_PQ_CGROUP, 0, INT64_MIN, INT64_MAX, "cgroup" },
	{ TT_PQ_PROCESS_ID, 0, INT64_MIN, INT64_MAX, "process_id" },
	{ TT_PQ_CONN, 0, INT64_MIN, INT64_MAX, "conn" },
};

static const struct {
	int col, null_ok;
	int64_t lo, hi;
	const char *name;
} conn_cols[] = {
	{ TT_PQ_CONN_ID, 0, INT64_MIN, TT_IX_COUNT_MAX, "conn_id" },
	{ TT_PQ_FAMILY, 0, 4, 6, "family" },
	{ TT_PQ_PROTO, 0, 6, 17, "proto" },
	{ TT_PQ_LPORT, 0, 0, 65535, "lport" },
	{ TT_PQ_RPORT, 0, 0, 65535, "rport" },
	{ TT_PQ_TID, 0, 0, UINT32_MAX, "tid" },
	{ TT_PQ_NETNS, 0, 0, UINT32_MAX, "netns" },
	{ TT_PQ_FLAGS, 0, 0, 15, "flags" },
	{ TT_PQ_OPEN_NS, 0, 1, TT_TIME_MAX, "open_ns" },
	{ TT_PQ_CLOSE_REASON, 1, 0, TT_CLOSE_IDLE, "close_reason" },
	{ TT_PQ_CLOSE_ERRNO, 1, 0, 4095, "close_errno" },
	{ TT_PQ_C_REC, 0, INT64_MIN, INT64_MAX, "recording_id" },
};

static void piece_why(sqlite3_stmt *q, const char *dir, uint64_t res_s, const char *what, char *why,
		      size_t why_len)
{
	snprintf(why, why_len,
		 "%s: index: rollups row (res %" PRIu64 ", t %" PRId64 ", conn %" PRId64
		 ", part %" PRId64 "): %s",
		 dir, res_s, (int64_t)sqlite3_column_int64(q, TT_PQ_T),
		 (int64_t)sqlite3_column_int64(q, TT_PQ_CONN),
		 (int64_t)sqlite3_column_int64(q, TT_PQ_PART), what);
}

static void conn_why(sqlite3_stmt *q, const char *dir, const char *what, char *why, size_t why_len)
{
	snprintf(why, why_len, "%s: index: conns row %" PRId64 ": %s", dir,
		 (int64_t)sqlite3_column_int64(q, TT_PQ_CONN), what);
}

/* The conns row of a piece: in range, its addresses its family's, itself consistent. */
static int check_conn(sqlite3_stmt *q, const struct tt_ix_span *rec, const char *dir, char *why,
		      size_t why_len)
{
	char what[128];
	int64_t v, fam, proto, cid, flags, open_ns, lport, rport;
	int la, ra;
	size_t i;

	for (i = 0; i < sizeof(conn_cols) / sizeof(conn_cols[0]); i++) {
		if (col_int(q, conn_cols[i].col, conn_cols[i].lo, conn_cols[i].hi,
			    conn_cols[i].null_ok, &v) >= 0)
			continue;
		snprintf(what, sizeof(what), "%s is out of range", conn_cols[i].name);
		conn_why(q, dir, what, why, why_len);
		return -EBADMSG;
	}
	if (sqlite3_column_int64(q, TT_PQ_C_REC) != rec->rec_id) {
		snprintf(what, sizeof(what), "recording_id %" PRId64 " names no recording",
			 (int64_t)sqlite3_column_int64(q, TT_PQ_C_REC));
		conn_why(q, dir, what, why, why_len);
		return -EBADMSG;
	}
	fam = sqlite3_column_int64(q, TT_PQ_FAMILY);
	proto = sqlite3_column_int64(q, TT_PQ_PROTO);
	cid = sqlite3_column_int64(q, TT_PQ_CONN_ID);
	flags = sqlite3_column_int64(q, TT_PQ_FLAGS);
	open_ns = sqlite3_column_int64(q, TT_PQ_OPEN_NS);
	lport = sqlite3_column_int64(q, TT_PQ_LPORT);
	rport = sqlite3_column_int64(q, TT_PQ_RPORT);
	if (fam == 5 || (proto != 6 && proto != 17)) {
		conn_why(q, dir, fam == 5 ? "family is not 4 or 6" : "proto is not 6 or 17", why,
			 why_len);
		return -EBADMSG;
	}
	if ((la = col_addr(q, TT_PQ_LADDR, fam)) < 0 || (ra = col_addr(q, TT_PQ_RADDR, fam)) < 0) {
		conn_why(q, dir,
			 la < 0 ? "laddr is not an address of its family"
				: "raddr is not an address of its family",
			 why, why_len);
		return -EBADMSG;
	}
	/*
	 * a socket cookie is never 0; ids with bit 63 set are UDP flows counted
	 * per packet (lib/capture/collector.c), and an unconnected socket's peer
	 * flow is always one (a connected socket's flow is one without flag 2)
	 */
	if (!cid || (cid < 0 && proto != 17) || ((flags & 2) && cid >= 0)) {
		conn_why(q, dir, "conn_id does not fit its flags and protocol", why, why_len);
		return -EBADMSG;
	}
	/*
	 * a remote is an address with a port. A local port: a UDP row always has
	 * one (a connected socket is bound by connect(), a flow is counted from
	 * datagrams, which carry it); a TCP one once it moved data (the kernel
	 * enters SYN-SENT before it picks the port, so a connect the recorder saw
	 * that soon, then lost to a crash or to a failure, keeps port 0 and no byte)
	 */
	if ((ra == 1) != (rport == 0) || (ra == 0 && la == 1) ||
	    (!lport && (proto != 6 || sqlite3_column_int64(q, TT_PQ_BYTES_IN) ||
			sqlite3_column_int64(q, TT_PQ_BYTES_OUT)))) {
		conn_why(q, dir, "its addresses and ports do not fit together", why, why_len);
		return -EBADMSG;
	}
	if (open_ns < (int64_t)rec->start_ns - DAY_NS || open_ns > (int64_t)rec->end_ns + DAY_NS) {
		conn_why(q, dir, "open_ns is outside its recording", why, why_len);
		return -EBADMSG;
	}
	return 0;
}

int tt_check_piece(sqlite3_stmt *q, const struct tt_ix_span *rec, uint64_t res_s, const char *dir,
		   char *why, size_t why_len)
{
	char what[160];
	int64_t v, t, ticks, first, last, age, n, sum, mn, mx, open_ns, end;
	int fn, ln, an, mnn, mxn, err;
	size_t i;

	if (sqlite3_column_type(q, TT_PQ_C_ID) == SQLITE_NULL) {
		snprintf(what, sizeof(what), "conn %" PRId64 " names no conns row",
			 (int64_t)sqlite3_column_int64(q, TT_PQ_CONN));
		piece_why(q, dir, res_s, what, why, why_len);
		return -EBADMSG;
	}
	if (sqlite3_column_type(q, TT_PQ_P_ID) == SQLITE_NULL) {
		snprintf(what, sizeof(what), "process_id %" PRId64 " names no processes row",
			 (int64_t)sqlite3_column_int64(q, TT_PQ_PROCESS_ID));
		piece_why(q, dir, res_s, what, why, why_len);
		return -EBADMSG;
	}
	for (i = 0; i < sizeof(piece_cols) / sizeof(piece_cols[0]); i++) {
		int64_t hi = piece_cols[i].hi ? piece_cols[i].hi : (int64_t)res_s * NS;

		if (col_int(q, piece_cols[i].col, piece_cols[i].lo, hi, piece_cols[i].null_ok,
			    &v) >= 0)
			continue;
		snprintf(what, sizeof(what), "%s is out of range", piece_cols[i].name);
		piece_why(q, dir, res_s, what, why, why_len);
		return -EBADMSG;
	}
	if (col_rate(q, TT_PQ_PEAK_IN) < 0 || col_rate(q, TT_PQ_PEAK_OUT) < 0) {
		piece_why(q, dir, res_s,
			  col_rate(q, TT_PQ_PEAK_IN) < 0 ? "peak_rate_in is out of range"
							 : "peak_rate_out is out of range",
			  why, why_len);
		return -EBADMSG;
	}
	if (col_int(q, TT_PQ_PID, 0, UINT32_MAX, 0, &v) < 0) {
		snprintf(why, why_len, "%s: index: processes row %" PRId64 ": pid is out of range",
			 dir, (int64_t)sqlite3_column_int64(q, TT_PQ_PROCESS_ID));
		return -EBADMSG;
	}
	if ((err = check_conn(q, rec, dir, why, why_len)))
		return err;

	/* the period: a multiple of its length, inside the recording */
	t = sqlite3_column_int64(q, TT_PQ_T);
	if (t % (int64_t)res_s || (t + (int64_t)res_s) * NS <= (int64_t)rec->start_ns - DAY_NS ||
	    t * NS > (int64_t)rec->end_ns + DAY_NS) {
		piece_why(q, dir, res_s, "t is not a period of its recording", why, why_len);
		return -EBADMSG;
	}
	/* the row against itself */
	ticks = sqlite3_column_int64(q, TT_PQ_TICKS);
	fn = col_int(q, TT_PQ_FIRST_NS, 0, INT64_MAX, 1, &first);
	ln = col_int(q, TT_PQ_LAST_NS, 0, INT64_MAX, 1, &last);
	an = col_int(q, TT_PQ_AGE_NS, 0, INT64_MAX, 1, &age);
	n = sqlite3_column_int64(q, TT_PQ_RTT_N);
	sum = sqlite3_column_int64(q, TT_PQ_RTT_SUM);
	mnn = col_int(q, TT_PQ_RTT_MIN, 0, INT64_MAX, 1, &mn);
	mxn = col_int(q, TT_PQ_RTT_MAX, 0, INT64_MAX, 1, &mx);
	open_ns = sqlite3_column_int64(q, TT_PQ_OPEN_NS);
	end = (t + (int64_t)res_s) * NS;
	what[0] = '\0';
	if (!fn && (an || mnn != mxn || (n > 0) == (mnn == 1) ||
		    sqlite3_column_type(q, TT_PQ_PEAK_IN) == SQLITE_NULL ||
		    sqlite3_column_type(q, TT_PQ_PEAK_OUT) == SQLITE_NULL))
		/* only a row migrated from schema 1 (first_ns NULL) lacks these */
		snprintf(what, sizeof(what), "a column is NULL that only a migrated row leaves so");
	else if (fn == 1 &&
		 (ln != 1 || an != 1 || sqlite3_column_type(q, TT_PQ_PEAK_IN) != SQLITE_NULL ||
		  sqlite3_column_type(q, TT_PQ_PEAK_OUT) != SQLITE_NULL))
		/* a migrated row lacks them all: a row that lacks one only lies */
		snprintf(what, sizeof(what),
			 "first_ns is NULL, but not the other columns a "
			 "migrated row lacks");
	else if (!fn && !ln && first > last)
		snprintf(what, sizeof(what), "first_ns is after last_ns");
	else if (!an && open_ns < end && age > end - open_ns + DAY_NS)
		snprintf(what, sizeof(what), "age_ns is older than its connection");
	else if ((ticks && n > ticks) || (!n && sum))
		snprintf(what, sizeof(what), "rtt_n and rtt_sum_us do not fit its ticks");
	else if (n && !mnn && !mxn &&
		 (mn > mx || (uint64_t)sum < (uint64_t)n * (uint64_t)mn ||
		  (uint64_t)sum > (uint64_t)n * (uint64_t)mx))
		snprintf(what, sizeof(what),
			 "rtt_sum_us is not between rtt_n times its min and max");
	for (i = 0; !what[0] && i < 2; i++) {
		int64_t bytes = sqlite3_column_int64(q, i ? TT_PQ_BYTES_OUT : TT_PQ_BYTES_IN);
		int pc = i ? TT_PQ_PEAK_OUT : TT_PQ_PEAK_IN;

		/*
		 * a rate seen means bytes moved (not the other way round: bytes
		 * of a tick without a rate, the first one of a connection, count)
		 */
		if (!bytes && sqlite3_column_double(q, pc) > 0)
			snprintf(what, sizeof(what), "bytes_%s is 0, but peak_rate_%s is not",
				 i ? "out" : "in", i ? "out" : "in");
	}
	if (what[0]) {
		piece_why(q, dir, res_s, what, why, why_len);
		return -EBADMSG;
	}
	return 0;
}

int tt_check_rollup_keys(struct tt_store *st, char *why, size_t why_len)
{
	sqlite3 *db = tt_store_sqlite(st);
	sqlite3_stmt *q = NULL;
	int err = 0, rc;

	/*
	 * The lowest and highest res and, per res the recordings have, the first
	 * and last t: each an index lookup. A res or t out of place sorts first or
	 * last (text after every number). A res is any length that divides an hour
	 * (what the indexer accepts), not only the lengths of the recordings still
	 * there: retention removes a recording before the rollups it left.
	 */
	if (sqlite3_prepare_v2(
		    db,
		    "WITH k(res) AS (SELECT DISTINCT rollup_ns / 1000000000 FROM recordings WHERE"
		    " rollup_ns > 0 UNION SELECT 3600 UNION SELECT bucket_ns / 1000000000 FROM"
		    " recordings WHERE rollup_ns = 0),"
		    " span(a, b) AS (SELECT min(start_ns) / 1000000000 - 86400, max(coalesce(end_ns,"
		    " start_ns)) / 1000000000 + 86400 FROM recordings)"
		    " SELECT 'res', (SELECT res FROM rollups ORDER BY res LIMIT 1) AS v WHERE"
		    " typeof(v) <> 'integer' OR v <= 0 OR 3600 % v <> 0 UNION ALL"
		    " SELECT 'res', (SELECT res FROM rollups ORDER BY res DESC LIMIT 1) AS v WHERE"
		    " typeof(v) <> 'integer' OR v <= 0 OR 3600 % v <> 0 UNION ALL"
		    " SELECT 't', (SELECT t FROM rollups WHERE res = k.res ORDER BY t LIMIT 1) AS v"
		    " FROM k, span WHERE v < span.a UNION ALL"
		    " SELECT 't', (SELECT t FROM rollups WHERE res = k.res ORDER BY t DESC LIMIT 1)"
		    " AS v FROM k, span WHERE v IS NOT NULL AND (typeof(v) <> 'integer' OR v > max(span.b,"
		    " (SELECT max(t_end_ns) FROM segments) / 1000000000 + 86400)) LIMIT 1",
		    -1, &q, NULL)) {
		snprintf(why, why_len, "%s: index: %s", tt_store_dir(st), sqlite3_errmsg(db));
		return -EIO;
	}
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		const char *v = (const char *)sqlite3_column_text(q, 1);

		snprintf(why, why_len,
			 "%s: index: rollups: a row has %s %s, which is no %s of any"
			 " recording: it is left out (run verify)",
			 tt_store_dir(st), sqlite3_column_text(q, 0), v ? v : "NULL",
			 sqlite3_column_text(q, 0)[0] == 'r' ? "rollup length" : "period");
		err = -EBADMSG;
	} else if (rc != SQLITE_DONE) {
		snprintf(why, why_len, "%s: index: %s", tt_store_dir(st), sqlite3_errmsg(db));
		err = -EIO;
	}
	sqlite3_finalize(q);
	return err;
}

/*
 * Connections an hour is compared for, about: beyond it, one in k (?4) by a
 * hash of conns.id. Comparing all of them costs a scan and a grouping of every
 * minor row of the hour: 1.5 s for an hour of 20,000 connections, five times
 * the query it checks; a lie in every row is still caught, one in a single row
 * is caught by 1 hour check in k.
 */
#define HOUR_CONNS 512
#define SAMPLE(c)  "(" c " * 2654435761) % ?4 = 0"

/* Columns compared between an hour and its minor periods: sums, then extremes. */
#define SUMS(s)                                                                                    \
	"sum(" s "ticks), sum(" s "bytes_in), sum(" s "bytes_out), sum(" s "packets_in), sum(" s   \
	"packets_out), sum(" s "retrans), sum(" s "resets), sum(" s "rtt_sum_us), sum(" s          \
	"rtt_n), sum(" s "closed)"

int tt_check_hour(struct tt_store *st, int64_t rec, uint64_t minor_s, uint64_t hour_s, char *why,
		  size_t why_len)
{
	static const char *const names[] = {
		"ticks",
		"bytes_in",
		"bytes_out",
		"packets_in",
		"packets_out",
		"retrans",
		"resets",
		"rtt_sum_us",
		"rtt_n",
		"closed",
		"age_ns",
		"peak_rate_in",
		"peak_rate_out",
		"rtt_max_us",
		"rtt_min_us",
		"rows",
		"last state, process or cgroup",
	};
	sqlite3 *db = tt_store_sqlite(st);
	sqlite3_stmt *q = NULL;
	int64_t k = 1;
	int err = 0, rc, i;

	/* the hour's rows (an index range): beyond HOUR_CONNS, 1 connection in k */
	if (sqlite3_prepare_v2(db, "SELECT count(*) FROM rollups WHERE res = 3600 AND t = ?1", -1,
			       &q, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(q, 1, (int64_t)hour_s);
		if (sqlite3_step(q) == SQLITE_ROW)
			k = sqlite3_column_int64(q, 0) / HOUR_CONNS + 1;
	}
	sqlite3_finalize(q);
	q = NULL;

	if (sqlite3_prepare_v2(
		    db,
		    "SELECT x.conn, " SUMS(
			    "x.s * x.") ","
					" max(CASE x.s WHEN 1 THEN x.age_ns END) IS NOT max(CASE x.s WHEN -1 THEN"
					"  x.age_ns END),"
					" max(CASE x.s WHEN 1 THEN x.peak_rate_in END) IS NOT max(CASE x.s WHEN -1 THEN"
					"  x.peak_rate_in END),"
					" max(CASE x.s WHEN 1 THEN x.peak_rate_out END) IS NOT max(CASE x.s WHEN -1 THEN"
					"  x.peak_rate_out END),"
					" max(CASE x.s WHEN 1 THEN x.rtt_max_us END) IS NOT max(CASE x.s WHEN -1 THEN"
					"  x.rtt_max_us END),"
					" min(CASE x.s WHEN 1 THEN x.rtt_min_us END) IS NOT min(CASE x.s WHEN -1 THEN"
					"  x.rtt_min_us END),"
					" sum(x.s = 1) = 0 OR sum(x.s = -1) = 0,"
					" max(lm.v) IS NOT max(lh.v)"
					" FROM (SELECT 1 AS s, o.* FROM rollups o JOIN conns c ON c.id = o.conn"
					"  WHERE o.res = ?2 AND o.t >= ?3 AND o.t < ?3 + 3600 AND c.recording_id = ?1"
					"  AND " SAMPLE(
						"o.conn") " UNION ALL SELECT -1 AS s, o.* FROM rollups o JOIN"
							  "  conns c ON c.id = o.conn WHERE o.res = 3600 AND o.t = ?3 AND"
							  "  c.recording_id = ?1 AND " SAMPLE(
								  "o.conn") ") x"
									    /* the last part's owner
									     * and state on each
									     * side: SQLite takes a
									     * bare column from the
									     * row of the one max()
									     * (one pass, not one
									     * per conn) */
									    " LEFT JOIN (SELECT conn, state || ',' || process_id || ',' || cgroup AS v,"
									    "  max(t * 4096 + part) FROM rollups WHERE res = ?2 AND t >= ?3 AND"
									    "  t < ?3 + 3600 AND " SAMPLE(
										    "conn") " GROUP BY conn) lm ON lm.conn = x.conn"
											    " LEFT JOIN (SELECT conn, state || ',' || process_id || ',' || cgroup AS v,"
											    "  max(part) FROM rollups WHERE res = 3600 AND t = ?3 AND " SAMPLE(
												    "conn") "  GROUP BY conn) lh"
													    "  ON lh.conn = x.conn"
													    " WHERE EXISTS (SELECT 1 FROM rollups h JOIN conns c ON c.id = h.conn WHERE"
													    "  h.res = 3600 AND h.t = ?3 AND c.recording_id = ?1)"
													    " GROUP BY x.conn",
		    -1, &q, NULL)) {
		snprintf(why, why_len, "%s: index: %s", tt_store_dir(st), sqlite3_errmsg(db));
		return -EIO;
	}
	sqlite3_bind_int64(q, 1, rec);
	sqlite3_bind_int64(q, 2, (int64_t)minor_s);
	sqlite3_bind_int64(q, 3, (int64_t)hour_s);
	sqlite3_bind_int64(q, 4, k);
	while (!err && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		for (i = 1; i <= 17; i++) {
			if (!sqlite3_column_int64(q, i))
				continue;
			snprintf(why, why_len,
				 "%s: index: rollups: conn %" PRId64 ", hour %" PRIu64
				 ": the minor periods' %s differ from the hour's (the index disagrees"
				 " with itself: run tcptop-analyze verify)",
				 tt_store_dir(st), (int64_t)sqlite3_column_int64(q, 0), hour_s,
				 names[i - 1]);
			err = -EBADMSG;
			break;
		}
	}
	if (!err && rc != SQLITE_DONE) {
		/* a sum that overflows: no intact index holds such counts */
		snprintf(why, why_len,
			 "%s: index: rollups: hour %" PRIu64 ": %s (the index disagrees"
			 " with itself: run tcptop-analyze verify)",
			 tt_store_dir(st), hour_s, sqlite3_errmsg(db));
		err = -EBADMSG;
	}
	sqlite3_finalize(q);
	return err;
}

/* Every block row of the store against the header of its frame. */
static int check_frames(struct tt_store *st, char *why, size_t why_len)
{
	sqlite3 *db = tt_store_sqlite(st);
	sqlite3_stmt *q = NULL;
	struct tt_segr *r = NULL;
	int64_t seg = -1;
	int err = 0;

	if (sqlite3_prepare_v2(db,
			       "SELECT b.segment_id, s.file, b.id, b.offset, b.length, b.raw_length,"
			       " b.t_start_ns, b.t_end_ns, b.events, b.checksum, r.mono_to_wall_ns,"
			       " s.seq = (SELECT max(n.seq) FROM segments n WHERE n.recording_id ="
			       " s.recording_id), r.clean_stop IS 1 AND r.end_ns IS NOT NULL, r.id"
			       " FROM blocks b JOIN segments s ON s.id = b.segment_id JOIN recordings r"
			       " ON r.id = s.recording_id ORDER BY b.segment_id, b.offset",
			       -1, &q, NULL))
		return 0; /* a schema without these columns: nothing to compare */
	while (!err && sqlite3_step(q) == SQLITE_ROW) {
		struct tt_block_info bi;
		int64_t m2w = sqlite3_column_int64(q, 10), off = sqlite3_column_int64(q, 3);
		const char *what = NULL;
		char path[4096], w[64];

		if (sqlite3_column_int64(q, 0) != seg) {
			const char *file = (const char *)sqlite3_column_text(q, 1);

			tt_segr_close(r);
			r = NULL;
			seg = sqlite3_column_int64(q, 0);
			snprintf(path, sizeof(path), "%s/%s", tt_store_dir(st), file ? file : "");
			/* a file that cannot be read is verify's to report, not info's */
			if (!file || strchr(file, '/') ||
			    tt_segr_openf(path, TT_SEGR_SALVAGE, &r, w, sizeof(w)))
				r = NULL;
			/* the last segment of a recording that stopped cleanly says so itself */
			if (r && tt_segr_meta(r) && (tt_segr_meta(r)->flags & TT_SEG_CLEAN_END) &&
			    sqlite3_column_int(q, 11) == 1 && sqlite3_column_int(q, 12) != 1) {
				snprintf(why, why_len,
					 "%s: index: recordings row %" PRId64
					 ": no clean stop, but its last segment %s says it stopped"
					 " cleanly (the index disagrees with the segments: run"
					 " tcptop-analyze verify)",
					 tt_store_dir(st), (int64_t)sqlite3_column_int64(q, 13),
					 file);
				err = -EBADMSG;
				break;
			}
		}
		if (!r || off < 0 || tt_segr_peek_block(r, (uint64_t)off, &bi) != 1)
			continue;
		if (sqlite3_column_int64(q, 4) != (int64_t)bi.length)
			what = "length";
		else if (sqlite3_column_int64(q, 5) != (int64_t)bi.raw_len)
			what = "raw_length";
		else if ((uint64_t)sqlite3_column_int64(q, 6) != tt_wall_ns(bi.t_start, m2w))
			what = "t_start_ns";
		else if ((uint64_t)sqlite3_column_int64(q, 7) != tt_wall_ns(bi.t_end, m2w))
			what = "t_end_ns";
		else if (sqlite3_column_int64(q, 8) != (int64_t)bi.n_events)
			what = "events";
		else if (sqlite3_column_int64(q, 9) != (int64_t)bi.checksum)
			what = "checksum";
		if (what) {
			snprintf(why, why_len,
				 "%s: index: blocks row %" PRId64 ": %s differs from its"
				 " frame in the segment (the index disagrees with itself: run"
				 " tcptop-analyze verify)",
				 tt_store_dir(st), (int64_t)sqlite3_column_int64(q, 2), what);
			err = -EBADMSG;
		}
	}
	tt_segr_close(r);
	sqlite3_finalize(q);
	return err;
}

int tt_check_store_rows(struct tt_store *st, int frames, char *why, size_t why_len)
{
	sqlite3 *db = tt_store_sqlite(st);
	sqlite3_stmt *q = NULL;
	int err = 0;

	/* the first row that is out of range or names what is not there; all cheap scans */
	if (sqlite3_prepare_v2(
		    db,
		    "SELECT 'segments row ' || id || ': recording_id ' || recording_id ||"
		    "  ' names no recording' FROM segments WHERE recording_id NOT IN"
		    "  (SELECT id FROM recordings)"
		    " UNION ALL SELECT 'conns row ' || id || ': ' || CASE WHEN recording_id NOT IN"
		    "  (SELECT id FROM recordings) THEN 'recording_id ' || recording_id ||"
		    "  ' names no recording' ELSE 'process_id ' || process_id ||"
		    "  ' names no process' END FROM conns WHERE recording_id NOT IN (SELECT id FROM"
		    "  recordings) OR process_id NOT IN (SELECT id FROM processes)"
		    " UNION ALL SELECT 'recordings row ' || r.id || ': ' || CASE WHEN typeof(r.id) <>"
		    "  'integer' OR r.id < 1 THEN 'id is out of range' WHEN typeof(r.clean_stop) <>"
		    "  'integer' OR r.clean_stop NOT IN (0, 1) THEN 'clean_stop is out of range'"
		    "  WHEN r.clean_stop AND EXISTS (SELECT 1 FROM segments s WHERE s.recording_id ="
		    "  r.id AND s.sealed IS NOT 1) THEN 'clean_stop is 1, but a segment of it is"
		    " not sealed' ELSE 'end_ns is not a time after its start and blocks' END"
		    "  FROM recordings r WHERE typeof(r.id) <> 'integer' OR r.id < 1 OR"
		    "  typeof(r.clean_stop) <> 'integer' OR r.clean_stop NOT IN (0, 1) OR"
		    "  (r.clean_stop AND EXISTS (SELECT 1 FROM segments s WHERE s.recording_id = r.id"
		    "  AND s.sealed IS NOT 1)) OR (r.end_ns IS NOT NULL AND (typeof(r.end_ns) <>"
		    "  'integer' OR r.end_ns < 1 OR r.end_ns > 4611686018427387904 OR r.end_ns <"
		    "  r.start_ns OR r.end_ns > (SELECT max(s.t_end_ns) FROM segments s WHERE"
		    "  s.recording_id = r.id) + 86400000000000))"
		    " UNION ALL SELECT 'segments row ' || s.id || ': sealed ' || CASE WHEN"
		    "  typeof(s.sealed) <> 'integer' OR s.sealed NOT IN (0, 1) THEN 'is out of range'"
		    "  ELSE 'is 0, but a later segment of its recording follows it' END FROM"
		    "  segments s WHERE typeof(s.sealed) <> 'integer' OR s.sealed NOT IN (0, 1) OR"
		    "  (s.sealed = 0 AND EXISTS (SELECT 1 FROM segments n WHERE n.recording_id ="
		    "  s.recording_id AND n.seq > s.seq))"
		    " UNION ALL SELECT 'blocks row ' || id || ': a loss counter or length is out of range'"
		    "  FROM blocks WHERE NOT (typeof(ring_drops) = 'integer' AND ring_drops BETWEEN 0"
		    "  AND 72057594037927936 AND typeof(socks_full) = 'integer' AND socks_full"
		    "  BETWEEN 0 AND 72057594037927936 AND typeof(peers_full) = 'integer' AND"
		    "  peers_full BETWEEN 0 AND 72057594037927936 AND typeof(length) = 'integer'"
		    "  AND length BETWEEN 1 AND 4294967295 AND typeof(raw_length) = 'integer' AND"
		    "  raw_length BETWEEN 0 AND 4294967295)"
		    " LIMIT 1",
		    -1, &q, NULL)) {
		snprintf(why, why_len, "%s: index: %s", tt_store_dir(st), sqlite3_errmsg(db));
		return -EIO;
	}
	if (sqlite3_step(q) == SQLITE_ROW) {
		snprintf(why, why_len,
			 "%s: index: %s (the index disagrees with itself: run"
			 " tcptop-analyze verify)",
			 tt_store_dir(st), sqlite3_column_text(q, 0));
		err = -EBADMSG;
	}
	sqlite3_finalize(q);
	if (!err && frames)
		err = check_frames(st, why, why_len);
	return err;
}
