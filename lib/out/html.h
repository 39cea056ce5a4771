/*
 * html.h: the post-mortem report of a window as one self-contained HTML page:
 * a summary, charts as inline SVG and the top-N tables. Nothing is fetched when
 * it is opened (no scripts, fonts, images or style sheets from elsewhere), so it
 * can be attached to a ticket and read or printed years later.
 *
 * Pure: the caller (analyze/cmd_report.c) replays the window and hands over the
 * numbers; this writes text into a tt_buf. The only outside input is the time
 * zone (TZ) for local times, as everywhere in the analyzer.
 *
 * Workload: once per report; a few hundred time buckets, at most
 * TT_HTML_CONNS_MAX lines per chart and the tables' rows.
 */
#ifndef TT_HTML_H
#define TT_HTML_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "event.h"
#include "report.h"

/* More lines than this in one chart cannot be told apart by colour. */
#define TT_HTML_CONNS_MAX 10

/* Lines a chart of connections draws; the rest is one "others" line. */
#define TT_HTML_TOP 5

/*
 * One of the top connections: a line in the time charts and a bar in the
 * lifetimes. A local connection (both ends recorded on this host: loopback, or
 * two namespaces of it) is one line: its ends moved the same bytes.
 */
struct tt_html_conn {
	const struct tt_group *g; /* its group in the by-connection ranking */
	const struct tt_group *peer; /* the other end of a local connection; NULL */
	uint64_t open_ns; /* Unix ns it opened (first sight for a partial one); 0: unknown */
	uint64_t close_ns; /* Unix ns it closed; 0: not within the window */
	const double
		*rate; /* [nbuckets] bytes/s in + out (of one end); NAN: no tick of its recording */
	const double *rtt_us; /* [nbuckets] average smoothed RTT; NAN: no sample */
	const double *retrans; /* [nbuckets] segments retransmitted (both ends); NAN: not seen */
};

/* One ranked table (the groups as tt_top_rank gave them). */
struct tt_html_table {
	const char *id; /* the table's element id, e.g. "table-conn" */
	const char *title;
	const char *metric; /* what it is ranked by, as --by names it */
	const struct tt_groupby *by;
	const struct tt_group *const *rows;
	size_t nrows; /* shown: the caller cuts to its -n */
	size_t ngroups; /* in all, for "10 of 245" */
	const struct tt_html_conn *colors; /* rows that are lines of these get their colour */
	size_t ncolors;
};

/* Failed connects to one destination with one errno. */
struct tt_html_fail {
	struct tt_ev_conn dest; /* proto, family, raddr, rport; comm: the first process */
	char host[65]; /* recording host */
	uint16_t err; /* errno */
	uint64_t count; /* connection lifetimes that failed so */
	uint64_t first_ns, last_ns; /* Unix ns of the first and last */
	uint32_t nprocs; /* distinct processes (by name) that tried */
};

/* Resets on connections with one peer at one service port. */
struct tt_html_reset {
	struct tt_ev_conn peer; /* proto, family, raddr */
	uint16_t service_port; /* tt_service_port */
	char host[65];
	uint64_t resets; /* sent + received */
	uint64_t conns; /* connection lifetimes (ends) that had one */
};

struct tt_html_report {
	/* summary; strings are shown as given (escaped), "" when unknown */
	const char *hosts; /* "web1, web2" */
	const char *kernels; /* "6.1.0-18-amd64" */
	const char *stores; /* the store directories */
	const char *filters; /* the filter options as typed; "" for none */
	const char *command; /* a `tcptop-analyze top` command line giving the same tables */
	const char *warning; /* skipped damage; "" for none */
	const char *metric; /* what the tables are ranked by: "bytes", ... */
	uint64_t from_ns, to_ns; /* the window, Unix ns */
	uint64_t generated_ns; /* when the report was made, Unix ns */
	int utc; /* times in UTC rather than local time */
	int host_col; /* several hosts: a host column in the tables */
	uint64_t tick_ns; /* the recorder's interval, as the first tick measured it */
	uint64_t ticks; /* in the window */
	uint64_t conns; /* connection lifetimes seen in the window */
	uint64_t bytes_in, bytes_out;
	double peak_in, peak_out; /* the highest per-tick sum over all connections, bytes/s */
	uint64_t opened, closed, resets, retrans;
	uint64_t failed; /* failed connects */
	struct tt_ev_loss loss; /* the recorder's own losses during the window */

	/*
	 * Time series: nbuckets buckets of bucket_ns from bucket0_ns (at most
	 * from_ns, so bucket edges can fall between ticks; the last bucket may end
	 * past to_ns). A tick goes whole into the bucket its end falls in.
	 */
	size_t nbuckets;
	uint64_t bucket_ns;
	uint64_t bucket0_ns;
	const double *rate_in, *rate_out; /* [nbuckets] bytes/s; NAN: no tick */
	const uint64_t *opened_b, *resets_b; /* [nbuckets] */
	const uint64_t *failed_b; /* [nbuckets] failed connects */
	const struct tt_html_conn *conns_top; /* the top connections, best first */
	size_t nconns_top; /* at most TT_HTML_TOP */
	const double *rate_others; /* [nbuckets] bytes/s of every other connection; NULL: none */
	const struct tt_html_conn *retr_top; /* the top retransmitters, most first */
	size_t nretr_top; /* at most TT_HTML_TOP */
	const double *retr_others; /* [nbuckets] retransmits of all the others; NULL: none */

	const struct tt_html_table *tables;
	size_t ntables;

	/* failed connects by errno and destination, resets by peer and port: most first */
	const struct tt_html_fail *fails;
	size_t nfails, nfails_all; /* shown, in all */
	const struct tt_html_reset *rsts;
	size_t nrsts, nrsts_all;

	/* --baseline: what `diff` shows; baseline NULL: no such section */
	const char *baseline; /* FROM..TO as typed */
	uint64_t base_from_ns, base_to_ns;
	const char *diff_command; /* the `tcptop-analyze diff` command line giving the same rows */
	const struct tt_groupby *diff_by;
	const struct tt_change *changes;
	size_t nchanges, nchanges_all; /* shown, in all */
};

/*
 * Append the report to out. 0; -EINVAL for inconsistent input (a window that
 * ends before it starts, too many top connections, buckets without a length
 * or starting after the window, a missing series);
 * otherwise out->err (memory, or the buffer's cap).
 */
int tt_html_report(const struct tt_html_report *r, struct tt_buf *out);

/*
 * Append n bytes of s as HTML text, safe inside an element or a quoted
 * attribute: & < > " ' as entities; control bytes and bytes that are not valid
 * UTF-8 (a process name is whatever bytes the process set) as a visible "\xNN":
 * tt_esc_html, the policy of escape.h.
 */
void tt_html_text(struct tt_buf *b, const char *s, size_t n);

#endif /* TT_HTML_H */
