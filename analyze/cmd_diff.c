/*
 * diff DIR --baseline FROM..TO --window FROM..TO: what changed between a quiet
 * window and the incident. Both windows are grouped the same way (default
 * remote-host,process); rates are per second of each window, so windows of
 * different lengths compare. Rows: new talkers, vanished ones, and the largest
 * changes, ranked by how much the rate moved.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cmd.h"
#include "qargs.h"
#include "report.h"
#include "scan.h"
#include "ship.h"

struct win {
	const char *spec; /* FROM..TO as typed */
	uint64_t from_ns, to_ns;
	struct tt_top *top;
};

struct diff_run {
	struct qargs *q;
	struct win w[2]; /* baseline, window */
	const char *group; /* --group-by, as typed */
	struct tt_groupby by;
	unsigned n; /* -n */
	struct tt_change *ch;
	struct tt_grid *grid;
	struct tt_buf out;
};

static int on_table(void *ctx, const struct tt_scan_rec *rec, const struct tt_table *t,
		    const struct tt_agg *agg)
{
	struct diff_run *r = ctx;
	uint64_t ts = tt_wall_ns(t->ts_ns, rec->mono_to_wall_ns);
	int i, err;

	(void)agg;
	for (i = 0; i < 2; i++) {
		if (ts <= r->w[i].from_ns || ts > r->w[i].to_ns)
			continue;
		err = tt_top_add(r->w[i].top, t, rec->mono_to_wall_ns, rec->host ? rec->host : "",
				 &r->q->filter);
		if (err)
			return err;
	}
	return 0;
}

struct fleet_win {
	struct tt_top *top;
	const struct tt_filter *f;
};

/* A fleet piece (lib/ship.h) into one window's groups, as its ticks would go. */
static int on_fleet_piece(void *ctx, const char *host, const struct tt_piece *p)
{
	struct fleet_win *fw = ctx;

	return tt_top_add_piece(fw->top, p, host, fw->f);
}

static const char diff_help[] =
	"Usage: tcptop-analyze diff --baseline FROM..TO --window FROM..TO\n"
	"                           [--group-by KEYS] [-n N] [OPTIONS] DIR...\n"
	"What changed between a quiet window and the incident: new talkers,\n"
	"vanished ones, the largest changes in rate (bytes/s of each window),\n"
	"with RTT and retransmits. KEYS as for top (default remote-host,process).\n"
	"With --clickhouse URL [--hostname NAME,...] instead of DIRs, the same\n"
	"from what tcptop-analyze export sent there (docs/FLEET.md).\n\n";

static int diff_opt(void *run, int argc, char **argv, int *i)
{
	struct diff_run *r = run;
	const char *o = argv[*i], *v;

	if (!strcmp(o, "--from") || !strcmp(o, "--to") || !strcmp(o, "--last")) {
		cmd_err("diff: use --baseline FROM..TO and --window FROM..TO, not %s", o);
		return 2;
	}
	if (strcmp(o, "--baseline") && strcmp(o, "--window") && strcmp(o, "--group-by") &&
	    strcmp(o, "-n"))
		return 0;
	if (!(v = qargs_value(r->q, argc, argv, i)))
		return 2;
	if (!strcmp(o, "--baseline")) {
		r->w[0].spec = v;
	} else if (!strcmp(o, "--window")) {
		r->w[1].spec = v;
	} else if (!strcmp(o, "--group-by")) {
		r->group = v;
	} else {
		char *end;
		long x = strtol(v, &end, 10);

		if (*end || !*v || x <= 0 || x > 1000000) {
			cmd_err("diff: -n: '%s' is not a positive number", v);
			return 2;
		}
		r->n = (unsigned)x;
	}
	return 1;
}

static int diff_check(void *run)
{
	struct diff_run *r = run;
	char why[512];

	if (!r->w[0].spec || !r->w[1].spec) {
		cmd_err("diff: needs --baseline FROM..TO and --window FROM..TO");
		return 2;
	}
	if (tt_groupby_parse(r->group, &r->by, why, sizeof(why))) {
		cmd_err("diff: %s", why);
		return 2;
	}
	return 0;
}

static int diff_plan(void *run, struct qscan *s)
{
	struct diff_run *r = run;
	struct win *w = r->w;
	int rc;

	if ((rc = qargs_range(r->q, "--baseline", w[0].spec, &w[0].from_ns, &w[0].to_ns)) ||
	    (rc = qargs_range(r->q, "--window", w[1].spec, &w[1].from_ns, &w[1].to_ns)))
		return rc;
	w[0].top = tt_top_new(&r->by);
	w[1].top = tt_top_new(&r->by);
	if (!w[0].top || !w[1].top) {
		cmd_err("diff: out of memory");
		return 1;
	}
	s->cb.on_table = on_table;
	s->from_ns = w[0].from_ns < w[1].from_ns ? w[0].from_ns : w[1].from_ns;
	s->to_ns = w[0].to_ns > w[1].to_ns ? w[0].to_ns : w[1].to_ns;
	return 0;
}

static int diff_fleet(void *run)
{
	struct diff_run *r = run;
	const struct qargs *q = r->q;
	int i, err = 0;

	/* each window summed by ClickHouse; per tick where a state is asked */
	for (i = 0; i < 2 && !err; i++) {
		struct fleet_win fw = { .top = r->w[i].top, .f = &q->filter };

		err = tt_fleet_pieces(q->ch, q->hostnames, r->w[i].from_ns, r->w[i].to_ns,
				      q->filter.state >= 0 || q->filter.pid, on_fleet_piece, &fw);
	}
	return err;
}

static int diff_print(void *run, const struct tt_scan_stats *st)
{
	static const struct tt_col metric_cols[] = {
		{ "change", "CHANGE", TT_COL_STR },
		{ "rate_base", "RATE BEFORE", TT_COL_RATE },
		{ "rate_window", "RATE NOW", TT_COL_RATE },
		{ "rate_delta", "DELTA/s", TT_COL_RATE },
		{ "bytes_base", "BYTES BEFORE", TT_COL_BYTES },
		{ "bytes_window", "BYTES NOW", TT_COL_BYTES },
		{ "conns_base", "CONNS BEFORE", TT_COL_UINT },
		{ "conns_window", "CONNS NOW", TT_COL_UINT },
		{ "rtt_us_base", "RTT BEFORE", TT_COL_USEC },
		{ "rtt_us_window", "RTT NOW", TT_COL_USEC },
		{ "retransmits_base", "RETR BEFORE", TT_COL_UINT },
		{ "retransmits_window", "RETR NOW", TT_COL_UINT },
	};
	struct diff_run *r = run;
	const struct qargs *q = r->q;
	struct tt_grid_opts go = { .header = 1, .fmt = q->fmt, .utc = q->utc };
	struct tt_col cols[TT_TOP_KEY_COLS_MAX + 12];
	struct tt_grid *grid;
	size_t nk, nc, k, i;
	long nch;

	(void)st; /* the windows' own: diff has no --stats line */
	nch = tt_top_diff(r->w[0].top, r->w[0].to_ns - r->w[0].from_ns, r->w[1].top,
			  r->w[1].to_ns - r->w[1].from_ns, &r->ch);
	if (nch < 0)
		goto oom;
	if (!nch) {
		qargs_nothing(q, NULL, 0);
		return 0;
	}
	nk = tt_top_key_cols(&r->by, q->ndirs > 1 || q->fleet_nhosts > 1, cols);
	nc = nk;
	for (k = 0; k < sizeof(metric_cols) / sizeof(metric_cols[0]); k++)
		cols[nc++] = metric_cols[k];
	grid = r->grid = tt_grid_new(cols, nc);
	if (!grid)
		goto oom;
	for (i = 0; i < (size_t)nch && i < r->n; i++) {
		const struct tt_change *c = &r->ch[i];
		double rb = c->rate_base, rw = c->rate_win;
		size_t col = nk;

		if (tt_grid_add_row(grid))
			goto oom;
		tt_top_key_cells(grid, &r->by, cols, 0, nk, c->win ? c->win : c->base);
		tt_grid_str(grid, col++,
			    !c->base   ? "new"
			    : !c->win  ? "gone"
			    : rw >= rb ? "up"
				       : "down");
		tt_grid_real(grid, col++, rb);
		tt_grid_real(grid, col++, rw);
		tt_grid_real(grid, col++, rw - rb);
		tt_grid_uint(grid, col++, c->base ? c->base->bytes_in + c->base->bytes_out : 0);
		tt_grid_uint(grid, col++, c->win ? c->win->bytes_in + c->win->bytes_out : 0);
		tt_grid_uint(grid, col++, c->base ? c->base->conns : 0);
		tt_grid_uint(grid, col++, c->win ? c->win->conns : 0);
		if (c->base && c->base->rtt_n)
			tt_grid_uint(grid, col, tt_group_rtt_us(c->base));
		col++;
		if (c->win && c->win->rtt_n)
			tt_grid_uint(grid, col, tt_group_rtt_us(c->win));
		col++;
		tt_grid_uint(grid, col++, c->base ? c->base->retrans : 0);
		tt_grid_uint(grid, col++, c->win ? c->win->retrans : 0);
	}
	if (q->fmt == TT_GRID_TABLE)
		tt_buf_printf(&r->out,
			      "baseline %s  vs  window %s  (rates per second of each window)\n",
			      r->w[0].spec, r->w[1].spec);
	if (tt_grid_render(grid, &go, &r->out))
		goto oom;
	return qargs_flush(&r->out);
oom:
	cmd_err("diff: out of memory");
	return 1;
}

static void diff_done(void *run, int rc)
{
	struct diff_run *r = run;

	(void)rc;
	free(r->ch);
	tt_grid_free(r->grid);
	tt_top_free(r->w[0].top);
	tt_top_free(r->w[1].top);
	tt_buf_free(&r->out);
}

static const struct qcmd diff_cmd = {
	.name = "diff",
	.help = diff_help,
	.opt = diff_opt,
	.check = diff_check,
	.plan = diff_plan,
	.fleet = diff_fleet,
	.print = diff_print,
	.done = diff_done,
};

int cmd_diff(int argc, char **argv)
{
	struct qargs q;
	struct diff_run r = { .q = &q, .group = "remote-host,process", .n = 20 };

	return qargs_main(&diff_cmd, &q, &r, argc, argv);
}
