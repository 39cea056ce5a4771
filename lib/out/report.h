/*
 * report.h: top-N over a window. Tables of ticks go in (each tick counts when
 * it ends inside the window); groups come out, ranked by a metric. Grouping
 * keys combine (process,remote-port). Pure: no I/O, no clock.
 *
 * A connection counts only in the ticks in which it was active (tt_row_active:
 * it moved data, was retransmitted or reset, opened or closed). What a group
 * holds, over those ticks of its connections:
 *   bytes/packets in and out, retransmits, resets: sums of the ticks' deltas;
 *   peak rates: the highest per-tick rate of one of its connections (bytes/s);
 *   rtt: average and maximum of the smoothed RTT over the ticks that had one;
 *   conns: distinct connection lifetimes; duration: the longest age at a tick.
 * All are sums, maxima or last values, so a group built from the index's
 * rollups (tt_top_add_piece, a period's active ticks summed) is the group the
 * ticks themselves build. The window's average rate is bytes / window length,
 * computed when ranking.
 */
#ifndef TT_REPORT_H
#define TT_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "aggregator.h"
#include "filter.h"
#include "grid.h"
#include "indexer.h"

struct tt_cgroups;

enum tt_group_key {
	TT_G_CONN = 0, /* one connection lifetime */
	TT_G_PID, /* process id (and its name) */
	TT_G_PROCESS, /* process name */
	TT_G_RHOST, /* remote address */
	TT_G_RNET, /* remote address folded to a prefix (remote-net/N) */
	TT_G_RPORT,
	TT_G_LPORT,
	TT_G_CGROUP,
	TT_G_HOST, /* the recording host (several stores at once) */
	TT_G_SPORT, /* the service's port: tt_service_port */
	TT_G_MAX
};

#define TT_GROUP_KEYS_MAX 6

struct tt_groupby {
	enum tt_group_key keys[TT_GROUP_KEYS_MAX];
	int n;
	int net_bits; /* remote-net/N: IPv4 prefix; IPv6 addresses fold to /64 unless N > 32 */
	const struct tt_cgroups *cgroups; /* cgroup: ids to paths (cgroup.h); NULL: none known */
};

/*
 * The service port of a connection: the listening side's port, so both ends
 * of a connection name the same port. An unconnected UDP socket's peer flow
 * is a server's (its own port); otherwise the side the capture saw open it
 * (TT_CF_PASSIVE: local, TT_CF_ACTIVE: remote); without that (open before the
 * recorder, an older store) the port below 32768 when only one is, else the
 * lower. The one definition (the service-port key, the view's grouping, the
 * report's by-service-port and resets tables).
 */
uint16_t tt_service_port(const struct tt_ev_conn *c);

/* "conn", "process,remote-port", "remote-net/24" ... into g; 0, or -EINVAL with why. */
int tt_groupby_parse(const char *s, struct tt_groupby *g, char *why, size_t why_len);

enum tt_metric {
	TT_BY_BYTES = 0, /* in + out */
	TT_BY_TX, /* out */
	TT_BY_RX, /* in */
	TT_BY_RATE, /* peak per-tick rate, in + out */
	TT_BY_PACKETS,
	TT_BY_RTT, /* average */
	TT_BY_RETRANS,
	TT_BY_DURATION,
	TT_BY_CONNS,
	TT_BY_FAILURES, /* failed connects + resets */
	TT_BY_MAX
};

/* remote-net/N as shown: "10.1.2.0/24", "2001:db8:1::/64", "::/64" into buf; returns buf. */
char *tt_groupby_fmt_net(char *buf, size_t len, const struct tt_groupby *g, const uint8_t addr[16],
			 int family);

/* "bytes", "tx", ... ; -1 if unknown. */
int tt_metric_parse(const char *s);

/* One result row. */
struct tt_group {
	struct tt_ev_conn conn; /* the fields the keys name (others zero); all of them for conn */
	char host[65]; /* recording host */
	uint64_t conns;
	uint64_t bytes_in, bytes_out, packets_in, packets_out;
	uint64_t retrans, resets;
	uint64_t failed; /* connection lifetimes that ended in a failed connect */
	double peak_rate_in, peak_rate_out;
	uint64_t rtt_sum_us, rtt_n;
	uint32_t rtt_max_us;
	uint64_t duration_ns;
	uint64_t first_ns, last_ns; /* Unix ns of the first and last tick it was active in */
	uint8_t state; /* conn: last TCP state */
	uint8_t closed; /* conn: closed within the window */
	uint8_t close_reason;
	uint16_t err;
	uint16_t service_port; /* service-port: the key's port */
};

struct tt_top;

struct tt_top *tt_top_new(const struct tt_groupby *g);
void tt_top_free(struct tt_top *t);

/* Forget every group (for --per-interval), keep the memory. */
void tt_top_reset(struct tt_top *t);

/*
 * Account one tick: every row passing f (may be NULL) goes to its group.
 * m2w converts the table's times to Unix ns; host names the recording.
 * 0 or -ENOMEM.
 */
int tt_top_add(struct tt_top *t, const struct tt_table *tab, int64_t m2w, const char *host,
	       const struct tt_filter *f);

/*
 * Account one piece: the same as the active ticks it sums, passed to
 * tt_top_add one by one, would do. 0 or -ENOMEM.
 */
int tt_top_add_piece(struct tt_top *t, const struct tt_piece *p, const char *host,
		     const struct tt_filter *f);

/*
 * The groups ranked by by, descending, ties by key. *out points into t, valid
 * until the next add or reset. Returns the number of groups, or -ENOMEM.
 */
long tt_top_rank(struct tt_top *t, enum tt_metric by, const struct tt_group ***out);

/*
 * The group of t with the same key as g, a group of another tt_top grouped the
 * same way (for comparing two windows); NULL if t has none.
 */
const struct tt_group *tt_top_lookup(const struct tt_top *t, const struct tt_group *g);

/* One row of a comparison of two windows grouped the same way (tt_top_diff). */
struct tt_change {
	const struct tt_group *base,
		*win; /* the group in the baseline, in the window; either NULL */
	double rate_base, rate_win; /* bytes in + out per second of each window */
	double score; /* how much the rate moved: the rows come largest first */
};

/*
 * What changed between a baseline (grouped in base, base_ns long) and a window
 * (win, win_ns long), grouped the same way: every group of either, paired by
 * key (new talkers have no base, vanished ones no win), ranked by how much
 * their rate moved. *out (free() it) holds the number returned, or -ENOMEM.
 * Ranks both tops by bytes (their earlier rankings are gone).
 */
long tt_top_diff(struct tt_top *base, uint64_t base_ns, struct tt_top *win, uint64_t win_ns,
		 struct tt_change **out);

/* The average RTT of a group in microseconds, 0 without a sample. */
uint64_t tt_group_rtt_us(const struct tt_group *g);

/* Most key columns tt_top_key_cols can write (conn: 8, plus the others and host). */
#define TT_TOP_KEY_COLS_MAX 24

/* The key columns of g (and a host column first if host_col) into cols; their number. */
size_t tt_top_key_cols(const struct tt_groupby *g, int host_col, struct tt_col *cols);

/* Fill the key cells cols[first .. first + n) of grid's last row from group r. */
void tt_top_key_cells(struct tt_grid *grid, const struct tt_groupby *g, const struct tt_col *cols,
		      size_t first, size_t n, const struct tt_group *r);

/*
 * The groups as a grid: the key columns of g, then the metrics; window_ns is
 * the window's length for the average rates; host_col adds the host column;
 * interval_ns (Unix ns, 0: none) adds a first column "interval_start".
 * At most n rows (0: all). NULL when out of memory. Free with tt_grid_free.
 */
struct tt_grid *tt_top_grid(const struct tt_groupby *g, const struct tt_group *const *rows,
			    size_t nrows, size_t n, uint64_t window_ns, int host_col,
			    uint64_t interval_ns);

#endif /* TT_REPORT_H */
