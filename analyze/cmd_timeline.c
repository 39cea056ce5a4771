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
	struct tt_grid *g;
	struct tt_buf out;
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

static const char timeline_help[] =
	"Usage: tcptop-analyze timeline [--bucket DUR] [OPTIONS] DIR...\n"
	"       tcptop-analyze timeline [--bucket DUR] [OPTIONS] --clickhouse URL\n"
	"                               [--hostname NAME[,NAME...]]\n"
	"Time-bucketed totals (default 10s buckets): bytes and rates in and out,\n"
	"packets, connections (most at once), active ones (moving data), new,\n"
	"closed, retransmits, resets. A tick goes into the bucket its end is in.\n"
	"With --clickhouse URL instead of DIRs, the same from the recordings\n"
	"exported there (docs/FLEET.md); --hostname keeps those hosts'.\n\n";

static int timeline_opt(void *run, int argc, char **argv, int *i)
{
	struct tl_run *r = run;

	if (strcmp(argv[*i], "--bucket"))
		return 0;
	if (*i + 1 >= argc || tt_parse_duration(argv[*i + 1], &r->bucket_ns) ||
	    r->bucket_ns < 1000000000ull) {
		cmd_err("timeline: --bucket: '%s' is not a duration of at least 1s",
			*i + 1 < argc ? argv[*i + 1] : "");
		return 2;
	}
	(*i)++;
	return 1;
}

static int timeline_plan(void *run, struct qscan *s)
{
	struct tl_run *r = run;
	const struct qargs *q = r->q;

	if (tt_buckets_init(&r->grid, tt_time_align(q->from_ns, r->bucket_ns, q->utc), q->from_ns,
			    q->to_ns, r->bucket_ns)) {
		cmd_err("timeline: the window ends before it starts");
		return 1;
	}
	r->nb = r->grid.n;
	if (r->nb > 10000000) {
		cmd_err("timeline: %zu buckets is too many: use a larger --bucket", r->nb);
		return 2;
	}
	r->b = calloc(r->nb, sizeof(*r->b));
	if (!r->b) {
		cmd_err("timeline: out of memory");
		return 1;
	}
	s->cb.on_table = on_table;
	return 0;
}

static int timeline_fleet(void *run)
{
	struct tl_run *r = run;
	const struct qargs *q = r->q;

	return tt_fleet_tables(q->ch, q->hostnames, q->from_ns, q->to_ns, &r->grid, on_fleet_table,
			       r);
}

static int timeline_print(void *run, const struct tt_scan_stats *st)
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
	struct tl_run *r = run;
	const struct qargs *q = r->q;
	struct tt_grid_opts go = { .header = 1, .fmt = q->fmt, .utc = q->utc };
	struct tt_grid *g;
	size_t k;

	/* before the answer, where timeline has always said it (top and events: after) */
	qargs_print_stats(q, st);
	if (!r->matched) {
		qargs_nothing(q, st, 0);
		return 0;
	}
	g = r->g = tt_grid_new(cols, sizeof(cols) / sizeof(cols[0]));
	if (!g)
		goto oom;
	for (k = 0; k < r->nb; k++) {
		const struct bucket *b = &r->b[k];
		/* on the clock, cut to the window: the first starts at the window's start */
		uint64_t start = k ? tt_bucket_start(&r->grid, k) : q->from_ns;
		uint64_t end = tt_bucket_start(&r->grid, k + 1) < q->to_ns
				       ? tt_bucket_start(&r->grid, k + 1)
				       : q->to_ns;
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
	if (tt_grid_render(g, &go, &r->out))
		goto oom;
	return qargs_flush(&r->out);
oom:
	cmd_err("timeline: out of memory");
	return 1;
}

static void timeline_done(void *run, int rc)
{
	struct tl_run *r = run;

	(void)rc;
	tt_grid_free(r->g);
	free(r->b);
	tt_buf_free(&r->out);
}

static const struct qcmd timeline_cmd = {
	.name = "timeline",
	.help = timeline_help,
	.opt = timeline_opt,
	.plan = timeline_plan,
	.fleet = timeline_fleet,
	.print = timeline_print,
	.done = timeline_done,
};

int cmd_timeline(int argc, char **argv)
{
	struct qargs q;
	struct tl_run r = { .q = &q, .bucket_ns = 10000000000ull };

	return qargs_main(&timeline_cmd, &q, &r, argc, argv);
}
