/*
 * timeline DIR...: the window cut into buckets (--bucket, default 10s), each
 * with the host's (or the filter's) bytes in and out, rates, connections,
 * new and closed connections, retransmits and resets. For plotting or reading.
 * A tick goes whole into the bucket its end falls in. Buckets start on the
 * clock (tt_time_align): the first and last are cut to the window.
 * With --clickhouse URL, the same from the fleet's tt_ticks: lib/ship.c
 * rebuilds each recording's tables (tt_fleet_tables) and they are added up
 * here as a store's are.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "bucket.h"
#include "buf.h"
#include "cmd.h"
#include "qargs.h"
#include "scan.h"
#include "ship.h"
#include "timeparse.h"

struct bucket {
	uint64_t bytes_in, bytes_out;
	uint64_t packets_in, packets_out;
	uint64_t opened, closed;
	uint64_t retrans, resets;
	uint32_t conns_peak; /* most connections in one tick of the bucket */
	uint32_t active_peak; /* most connections that moved data in one tick */
};

struct tl_run {
	struct qargs *q;
	uint64_t bucket_ns;
	struct tt_buckets grid; /* on the clock; the rule the report's charts use too */
	struct bucket *b;
	size_t nb;
	uint64_t matched; /* rows that passed the filter */
};

/* One table of one recording, its tick ending at ts (Unix ns), into its bucket. */
static int add_table(struct tl_run *r, uint64_t ts, const struct tt_table *t)
{
	uint32_t conns = 0, active = 0;
	struct bucket *b;
	size_t i, k;

	if (ts <= r->q->from_ns || ts > r->q->to_ns)
		return 0;
	k = tt_bucket_of(&r->grid, ts);
	if (k >= r->nb)
		return 0;
	b = &r->b[k];
	for (i = 0; i < t->n; i++) {
		const struct tt_row *row = &t->rows[i];

		if (!tt_filter_match_row(&r->q->filter, row))
			continue;
		r->matched++;
		conns++;
		active += row->d_bytes_in || row->d_bytes_out;
		b->bytes_in += row->d_bytes_in;
		b->bytes_out += row->d_bytes_out;
		b->packets_in += row->d_packets_in;
		b->packets_out += row->d_packets_out;
		b->opened += !!(row->flags & TT_ROW_NEW);
		b->closed += !!(row->flags & TT_ROW_CLOSED);
		b->retrans += row->d_retrans;
		b->resets += row->d_resets;
	}
	if (conns > b->conns_peak)
		b->conns_peak = conns;
	if (active > b->active_peak)
		b->active_peak = active;
	return 0;
}

static int on_table(void *ctx, const struct tt_scan_rec *rec, const struct tt_table *t,
		    const struct tt_agg *agg)
{
	(void)agg;
	return add_table(ctx, tt_wall_ns(t->ts_ns, rec->mono_to_wall_ns), t);
}

/* A table of the fleet (tt_fleet_tables): its time is Unix ns already. */
static int on_fleet_table(void *ctx, const char *host, const struct tt_table *t)
{
	(void)host;
	return add_table(ctx, t->ts_ns, t);
}

int cmd_timeline(int argc, char **argv)
{
	static const struct tt_col cols[] = {
		{ "ts", "TIME", TT_COL_TIME },
		{ "bytes_in", "RX", TT_COL_BYTES },
		{ "bytes_out", "TX", TT_COL_BYTES },
		{ "rate_in", "RX/s", TT_COL_RATE },
		{ "rate_out", "TX/s", TT_COL_RATE },
		{ "packets_in", "PKT IN", TT_COL_UINT },
		{ "packets_out", "PKT OUT", TT_COL_UINT },
		{ "conns", "CONNS", TT_COL_UINT },
		{ "active", "ACTIVE", TT_COL_UINT },
		{ "new", "NEW", TT_COL_UINT },
		{ "closed", "CLOSED", TT_COL_UINT },
		{ "retransmits", "RETR", TT_COL_UINT },
		{ "resets", "RST", TT_COL_UINT },
	};
	struct tt_scan_cb cb = { .on_table = on_table };
	struct tt_scan_stats st = { 0 };
	struct tt_grid_opts go = { .header = 1 };
	struct tt_buf out = { 0 };
	struct tt_grid *g = NULL;
	struct tl_run r;
	struct qargs q;
	int i, rc = 1;
	size_t k;

	qargs_init(&q, "timeline");
	q.fleet_ok = 1;
	memset(&r, 0, sizeof(r));
	r.q = &q;
	r.bucket_ns = 10000000000ull;
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			printf("Usage: tcptop-analyze timeline [--bucket DUR] [OPTIONS] DIR...\n"
			       "       tcptop-analyze timeline [--bucket DUR] [OPTIONS] --clickhouse URL\n"
			       "                               [--hostname NAME[,NAME...]]\n"
			       "Time-bucketed totals (default 10s buckets): bytes and rates in and out,\n"
			       "packets, connections (most at once), active ones (moving data), new,\n"
			       "closed, retransmits, resets. A tick goes into the bucket its end is in.\n"
			       "With --clickhouse URL instead of DIRs, the same from the recordings\n"
			       "exported there (docs/FLEET.md); --hostname keeps those hosts'.\n\n%s",
			       qargs_help);
			return 0;
		}
		if (!strcmp(argv[i], "--bucket")) {
			if (i + 1 >= argc || tt_parse_duration(argv[i + 1], &r.bucket_ns) ||
			    r.bucket_ns < 1000000000ull) {
				cmd_err("timeline: --bucket: '%s' is not a duration of at least 1s",
					i + 1 < argc ? argv[i + 1] : "");
				return 2;
			}
			i++;
			continue;
		}
		if (qargs_opt(&q, argc, argv, &i) == 2)
			return 2;
	}
	if ((rc = qargs_open(&q)))
		goto out;
	rc = 1;
	if (tt_buckets_init(&r.grid, tt_time_align(q.from_ns, r.bucket_ns, q.utc), q.from_ns,
			    q.to_ns, r.bucket_ns)) {
		cmd_err("timeline: the window ends before it starts");
		goto out;
	}
	r.nb = r.grid.n;
	if (r.nb > 10000000) {
		cmd_err("timeline: %zu buckets is too many: use a larger --bucket", r.nb);
		rc = 2;
		goto out;
	}
	r.b = calloc(r.nb, sizeof(*r.b));
	if (!r.b)
		goto oom;
	if (q.ch) {
		int err = tt_fleet_tables(q.ch, q.hostnames, q.from_ns, q.to_ns, &r.grid,
					  on_fleet_table, &r);

		if (err == -ENOMEM)
			goto oom;
		if (err) {
			cmd_err("timeline: %s", tt_ch_errmsg(q.ch));
			goto out;
		}
	} else if (qargs_scan(&q, q.from_ns, q.to_ns, &cb, &r, &st)) {
		goto out;
	}
	qargs_print_stats(&q, &st);
	if (!r.matched) {
		qargs_nothing(&q, &st, 0);
		rc = 0;
		goto out;
	}
	g = tt_grid_new(cols, sizeof(cols) / sizeof(cols[0]));
	if (!g)
		goto oom;
	for (k = 0; k < r.nb; k++) {
		const struct bucket *b = &r.b[k];
		/* on the clock, cut to the window: the first starts at the window's start */
		uint64_t start = k ? tt_bucket_start(&r.grid, k) : q.from_ns;
		uint64_t end = tt_bucket_start(&r.grid, k + 1) < q.to_ns ?
				       tt_bucket_start(&r.grid, k + 1) :
				       q.to_ns;
		double secs = (double)(end - start) / 1e9;

		if (tt_grid_add_row(g))
			goto oom;
		tt_grid_uint(g, 0, start);
		tt_grid_uint(g, 1, b->bytes_in);
		tt_grid_uint(g, 2, b->bytes_out);
		tt_grid_real(g, 3, secs > 0 ? (double)b->bytes_in / secs : 0);
		tt_grid_real(g, 4, secs > 0 ? (double)b->bytes_out / secs : 0);
		tt_grid_uint(g, 5, b->packets_in);
		tt_grid_uint(g, 6, b->packets_out);
		tt_grid_uint(g, 7, b->conns_peak);
		tt_grid_uint(g, 8, b->active_peak);
		tt_grid_uint(g, 9, b->opened);
		tt_grid_uint(g, 10, b->closed);
		tt_grid_uint(g, 11, b->retrans);
		tt_grid_uint(g, 12, b->resets);
	}
	go.fmt = q.fmt;
	go.utc = q.utc;
	if (tt_grid_render(g, &go, &out))
		goto oom;
	if (qargs_flush(&out))
		goto out;
	rc = 0;
	goto out;
oom:
	cmd_err("timeline: out of memory");
out:
	tt_grid_free(g);
	free(r.b);
	tt_buf_free(&out);
	qargs_close(&q);
	return rc;
}
