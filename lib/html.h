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

/* One of the top connections: a line in the time charts and a bar in the lifetimes. */
struct tt_html_conn {
	const struct tt_group *g; /* its group in the by-connection ranking */
	uint64_t open_ns; /* Unix ns it opened (first sight for a partial one); 0: unknown */
	uint64_t close_ns; /* Unix ns it closed; 0: not within the window */
	const double *rate; /* [nbuckets] bytes/s in + out; NAN: no tick of its recording */
	const double *rtt_us; /* [nbuckets] average smoothed RTT; NAN: no sample */
};

/* One ranked table (the groups as tt_top_rank gave them). */
struct tt_html_table {
	const char *id; /* the table's element id, e.g. "table-conn" */
	const char *title;
	const struct tt_groupby *by;
	const struct tt_group *const *rows;
	size_t nrows; /* shown: the caller cuts to its -n */
	size_t ngroups; /* in all, for "10 of 245" */
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
	const struct tt_html_conn *conns_top; /* the top connections, best first */
	size_t nconns_top; /* at most TT_HTML_CONNS_MAX */

	const struct tt_html_table *tables;
	size_t ntables;
};

/*
 * Append the report to out. 0; -EINVAL for inconsistent input (a window that
 * ends before it starts, too many top connections, buckets without a length
 * or starting after the window);
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
