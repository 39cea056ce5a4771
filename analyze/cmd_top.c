/*
 * top DIR...: the top-N of a window, by a metric, grouped by one or more keys,
 * for the whole window or per interval. Every number comes from replaying the
 * stored event stream through the recorder's aggregator; a tick counts in the
 * window when it ends inside it.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "cgroup.h"
#include "cmd.h"
#include "escape.h"
#include "format.h"
#include "qargs.h"
#include "report.h"
#include "scan.h"
#include "ship.h"
#include "timeparse.h"

struct top_run {
	struct qargs *q;
	struct tt_groupby by;
	uint64_t interval_ns; /* 0: one table for the window */
	uint64_t origin_ns; /* intervals: the clock boundary at or before the window's start */
	struct tt_top **tops; /* one per interval (or one) */
	size_t ntops;
	char hosts[256];
	int nhosts;
	const char *fields; /* --fields, or NULL */
	int cg_foreign; /* a recording of another machine or boot: its cgroup ids mean nothing here */
	const char *group; /* --group-by, as typed */
	enum tt_metric metric; /* --by */
	unsigned n; /* -n */
	int no_rollups;
	struct tt_cgroups *cg; /* the cgroup paths, when they are this machine's */
	struct tt_buf out;
};

/* Does the --fields list name key? (a column --fields asks for is always there) */
static int lists(const char *fields, const char *key)
{
	size_t n = strlen(key);
	const char *p;

	for (p = fields; p && (p = strstr(p, key)); p += n)
		if ((p == fields || p[-1] == ',') && (!p[n] || p[n] == ','))
			return 1;
	return 0;
}

/* The grid of a table, with the columns --fields chose. NULL after printing the error. */
static struct tt_grid *top_grid(const struct top_run *r, const struct tt_group *const *rows,
				size_t nr, unsigned n, uint64_t window_ns, uint64_t from)
{
	int table = r->q->fmt == TT_GRID_TABLE;
	struct tt_grid *g;
	char why[1024];

	/* machines get the interval as a column rather than a heading */
	g = tt_top_grid(&r->by, rows, nr, n, window_ns,
			r->nhosts > 1 || r->q->ndirs > 1 || lists(r->fields, "host"),
			r->interval_ns && (!table || lists(r->fields, "interval_start")) ? from
											 : 0);
	if (!g) {
		cmd_err("top: out of memory");
		return NULL;
	}
	if (tt_grid_fields(g, r->fields, why, sizeof(why))) {
		cmd_err("top: %s", why);
		tt_grid_free(g);
		return NULL;
	}
	return g;
}

static struct tt_top *top_for(struct top_run *r, uint64_t ts)
{
	size_t k = r->interval_ns ? (size_t)((ts - r->origin_ns - 1) / r->interval_ns) : 0;

	if (k >= r->ntops) {
		size_t n = k + 1, i;
		struct tt_top **p = realloc(r->tops, n * sizeof(*p));

		if (!p)
			return NULL;
		for (i = r->ntops; i < n; i++)
			p[i] = NULL;
		r->tops = p;
		r->ntops = n;
	}
	if (!r->tops[k])
		r->tops[k] = tt_top_new(&r->by);
	return r->tops[k];
}

static int on_recording(void *ctx, const struct tt_scan_rec *rec)
{
	struct top_run *r = ctx;
	size_t l = strlen(r->hosts);

	if (!tt_cgroups_here(rec->boot_id))
		r->cg_foreign = 1;

	char host[128];

	/* the index is data: a host name prints escaped like any name (escape.h) */
	tt_esc_cstr(host, sizeof(host), rec->host ? rec->host : "",
		    rec->host ? strlen(rec->host) : 0);
	if (rec->host && !strstr(r->hosts, host) && l + strlen(host) + 3 < sizeof(r->hosts)) {
		snprintf(r->hosts + l, sizeof(r->hosts) - l, "%s%s", l ? ", " : "", host);
		r->nhosts++;
	}
	return 0;
}

static int on_table(void *ctx, const struct tt_scan_rec *rec, const struct tt_table *t,
		    const struct tt_agg *agg)
{
	struct top_run *r = ctx;
	uint64_t ts = tt_wall_ns(t->ts_ns, rec->mono_to_wall_ns);
	struct tt_top *top;

	(void)agg;
	if (ts <= r->q->from_ns || ts > r->q->to_ns)
		return 0; /* the tick ends outside the window */
	top = top_for(r, ts);
	if (!top)
		return -ENOMEM;
	return tt_top_add(top, t, rec->mono_to_wall_ns, rec->host ? rec->host : "", &r->q->filter);
}

static int on_piece(void *ctx, const struct tt_scan_rec *rec, const struct tt_piece *p)
{
	struct top_run *r = ctx;
	struct tt_top *top = top_for(r, p->sum.last_ns);

	if (!top)
		return -ENOMEM;
	return tt_top_add_piece(top, p, rec->host ? rec->host : "", &r->q->filter);
}

/* A fleet piece (lib/ship.h): as a rollup piece of a local store. */
static int on_fleet_piece(void *ctx, const char *host, const struct tt_piece *p)
{
	struct top_run *r = ctx;
	struct tt_top *top = top_for(r, p->sum.last_ns);

	if (!top)
		return -ENOMEM;
	return tt_top_add_piece(top, p, host, &r->q->filter);
}

/* One table: header line (tables only), then the ranked groups. */
static int print_top(struct top_run *r, struct tt_top *top, enum tt_metric by, unsigned n,
		     uint64_t from, uint64_t to, const char *title, struct tt_buf *out)
{
	struct tt_grid_opts go = { .fmt = r->q->fmt, .utc = r->q->utc, .header = 1 };
	const struct tt_group **rows = NULL;
	long nr = top ? tt_top_rank(top, by, &rows) : 0;
	struct tt_grid *g;
	uint64_t in = 0, o = 0;
	long i;
	int err;

	if (nr < 0)
		return -ENOMEM;
	for (i = 0; i < nr; i++) {
		in += rows[i]->bytes_in;
		o += rows[i]->bytes_out;
	}
	if (r->q->fmt == TT_GRID_TABLE) {
		char a[64], b[64], d[32], bi[32], bo[32];

		tt_buf_printf(out, "%s%s -> %s (%s)  host %s  groups %ld  in %s  out %s\n", title,
			      tt_fmt_time(a, sizeof(a), from, r->q->utc, TT_TIME_ZONE),
			      tt_fmt_time(b, sizeof(b), to, r->q->utc, TT_TIME_ZONE),
			      tt_fmt_duration(d, sizeof(d), to - from),
			      r->hosts[0] ? r->hosts : "?", nr, tt_fmt_bytes(bi, sizeof(bi), in),
			      tt_fmt_bytes(bo, sizeof(bo), o));
	}
	g = top_grid(r, rows, (size_t)nr, n, to - from, from);
	if (!g)
		return -EIO;
	go.header = r->q->fmt != TT_GRID_CSV || !r->interval_ns || from == r->q->from_ns;
	err = tt_grid_render(g, &go, out);
	tt_grid_free(g);
	if (r->q->fmt == TT_GRID_TABLE && r->interval_ns)
		tt_buf_add(out, "\n", 1);
	return err;
}

static const char top_help[] =
	"Usage: tcptop-analyze top [-n N] [--by METRIC] [--group-by KEYS]\n"
	"                          [--per-interval DUR] [--no-rollups] [--fields KEYS]\n"
	"                          [OPTIONS] DIR...\n"
	"       tcptop-analyze top [...] --clickhouse URL [--hostname NAME[,NAME...]]\n"
	"Top-N of a window. METRIC: bytes (default), tx, rx, rate (peak per-tick),\n"
	"packets, rtt, retrans, duration, conns, failures (failed connects +\n"
	"resets). KEYS, comma-separated: conn (default), pid, process,\n"
	"remote-host, remote-net/N, remote-port, local-port, service-port (the\n"
	"listening side's port), cgroup (with its path and container id when\n"
	"recorded on this machine in this boot), host. Several DIRs are merged,\n"
	"with a host column.\n"
	"Rates: RX/s and TX/s are the window's bytes over its length; PEAK is the\n"
	"highest per-tick rate of one connection. A connection counts in the ticks\n"
	"in which it was active (moved data, retransmitted, reset, opened, closed)\n"
	"that end inside the window. Whole rollup periods (5 minutes unless the\n"
	"recording chose another length) and hours are read from the index's\n"
	"rollups, the same numbers as their ticks; --no-rollups replays every\n"
	"tick instead. --fields KEYS: these columns in this order (the JSON keys;\n"
	"a wrong one lists those of the grouping). With --clickhouse URL instead\n"
	"of DIRs, the same table from what tcptop-analyze export sent there\n"
	"(docs/FLEET.md), summed there; --hostname keeps those recording hosts.\n\n";

static int top_opt(void *run, int argc, char **argv, int *i)
{
	struct top_run *r = run;
	const char *o = argv[*i], *v;
	char *end;

	if (!strcmp(o, "--no-rollups")) {
		r->no_rollups = 1;
		return 1;
	}
	if (strcmp(o, "-n") && strcmp(o, "--by") && strcmp(o, "--group-by") &&
	    strcmp(o, "--per-interval") && strcmp(o, "--fields"))
		return 0;
	if (!(v = qargs_value(r->q, argc, argv, i)))
		return 2;
	if (!strcmp(o, "-n")) {
		long x = strtol(v, &end, 10);

		if (*end || !*v || x <= 0 || x > 1000000) {
			cmd_err("top: -n: '%s' is not a positive number", v);
			return 2;
		}
		r->n = (unsigned)x;
	} else if (!strcmp(o, "--by")) {
		int m = tt_metric_parse(v);

		if (m < 0) {
			cmd_err("top: --by: '%s' is not bytes, tx, rx, rate, packets, rtt, retrans, duration, conns or failures",
				v);
			return 2;
		}
		r->metric = (enum tt_metric)m;
	} else if (!strcmp(o, "--group-by")) {
		r->group = v;
	} else if (!strcmp(o, "--fields")) {
		r->fields = v;
	} else if (tt_parse_duration(v, &r->interval_ns) || r->interval_ns < 1000000000ull) {
		cmd_err("top: --per-interval: '%s' is not a duration of at least 1s", v);
		return 2;
	}
	return 1;
}

static int top_check(void *run)
{
	struct top_run *r = run;
	char why[512];

	if (tt_groupby_parse(r->group, &r->by, why, sizeof(why))) {
		cmd_err("top: %s", why);
		return 2;
	}
	if (r->fields) { /* a field that is not there is a usage error, before any reading */
		struct tt_grid *g;

		r->nhosts = 2; /* the host column, and with intervals interval_start, are valid */
		g = top_grid(r, NULL, 0, 0, 1, 1);
		r->nhosts = 0;
		if (!g)
			return 2;
		tt_grid_free(g);
	}
	return 0;
}

static int top_plan(void *run, struct qscan *s)
{
	struct top_run *r = run;
	const struct qargs *q = r->q;

	r->origin_ns = tt_time_align(q->from_ns, r->interval_ns, q->utc);
	s->cb.on_recording = on_recording;
	s->cb.on_table = on_table;
	/*
	 * Whole rollup periods come from the index's rollups, which answer exactly
	 * what their ticks would, unless the question needs single ticks: a state
	 * filter (a tick's state), a thread id (rollups keep processes), intervals.
	 */
	if (!r->interval_ns && q->filter.state < 0 && !q->filter.pid && !r->no_rollups)
		s->cb.on_piece = on_piece;
	return 0;
}

static int top_fleet(void *run)
{
	struct top_run *r = run;
	const struct qargs *q = r->q;
	/* per tick where a local top would replay ticks (see top_plan) */
	int per_tick = r->interval_ns || q->filter.state >= 0 || q->filter.pid;

	snprintf(r->hosts, sizeof(r->hosts), "%s", q->fleet_hosts);
	r->nhosts = q->fleet_nhosts;
	r->cg_foreign = 1; /* other machines' cgroup ids */
	return tt_fleet_pieces(q->ch, q->hostnames, q->from_ns, q->to_ns, per_tick, on_fleet_piece,
			       r);
}

static int top_print(void *run, const struct tt_scan_stats *st)
{
	struct top_run *r = run;
	struct qargs *q = r->q;
	size_t k;
	int err;

	for (k = 0; k < (size_t)r->by.n; k++)
		if (r->by.keys[k] == TT_G_CGROUP && !r->cg_foreign && tt_cgroups_load(NULL, &r->cg))
			r->cg = NULL; /* no hierarchy to read: the ids alone */
	r->by.cgroups = r->cg;
	for (k = 0; k < r->ntops; k++) {
		const struct tt_group **rows;

		if (r->tops[k] && tt_top_rank(r->tops[k], r->metric, &rows) > 0)
			break;
	}
	if (k == r->ntops) {
		qargs_nothing(q, st, 0);
		return 0;
	}
	if (!r->interval_ns) {
		err = print_top(r, r->ntops ? r->tops[0] : NULL, r->metric, r->n, q->from_ns,
				q->to_ns, "", &r->out);
	} else {
		err = 0;
		/* on the clock (PCP's -A); the first and last are cut to the window */
		for (k = 0; !err && r->origin_ns + k * r->interval_ns < q->to_ns; k++) {
			uint64_t f = k ? r->origin_ns + k * r->interval_ns : q->from_ns;
			uint64_t e = r->origin_ns + (k + 1) * r->interval_ns;
			uint64_t t = e < q->to_ns ? e : q->to_ns;

			err = print_top(r, k < r->ntops ? r->tops[k] : NULL, r->metric, r->n, f, t,
					"interval ", &r->out);
			if (!err && qargs_flush(&r->out))
				return 1;
		}
	}
	if (err) {
		if (err != -EIO)
			cmd_err("top: out of memory");
		return 1;
	}
	return qargs_flush(&r->out);
}

static void top_done(void *run, int rc)
{
	struct top_run *r = run;
	size_t k;

	(void)rc;
	for (k = 0; k < r->ntops; k++)
		tt_top_free(r->tops[k]);
	free(r->tops);
	tt_cgroups_free(r->cg);
	tt_buf_free(&r->out);
}

static const struct qcmd top_cmd = {
	.name = "top",
	.help = top_help,
	.stats = 1,
	.opt = top_opt,
	.check = top_check,
	.plan = top_plan,
	.fleet = top_fleet,
	.print = top_print,
	.done = top_done,
};

int cmd_top(int argc, char **argv)
{
	struct qargs q;
	struct top_run r = { .q = &q, .group = "conn", .metric = TT_BY_BYTES, .n = 10 };

	return qargs_main(&top_cmd, &q, &r, argc, argv);
}
