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

int cmd_diff(int argc, char **argv)
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
	struct tt_scan_cb cb = { .on_table = on_table };
	struct tt_grid_opts go = { .header = 1 };
	struct tt_col cols[TT_TOP_KEY_COLS_MAX + 12];
	struct tt_change *ch = NULL;
	struct tt_buf out = { 0 };
	struct tt_grid *grid = NULL;
	struct tt_groupby by;
	struct diff_run r;
	struct qargs q;
	const char *group = "remote-host,process";
	char why[512];
	size_t nk, nc, k, i2;
	long nch;
	unsigned n = 20;
	int rc = 1, a, i;

	qargs_init(&q, "diff");
	q.fleet_ok = 1;
	memset(&r, 0, sizeof(r));
	r.q = &q;
	for (a = 1; a < argc; a++) {
		const char *o = argv[a], *v = a + 1 < argc ? argv[a + 1] : NULL;

		if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
			printf("Usage: tcptop-analyze diff --baseline FROM..TO --window FROM..TO\n"
			       "                           [--group-by KEYS] [-n N] [OPTIONS] DIR...\n"
			       "What changed between a quiet window and the incident: new talkers,\n"
			       "vanished ones, the largest changes in rate (bytes/s of each window),\n"
			       "with RTT and retransmits. KEYS as for top (default remote-host,process).\n"
			       "With --clickhouse URL [--hostname NAME,...] instead of DIRs, the same\n"
			       "from what tcptop-analyze export sent there (docs/FLEET.md).\n\n%s",
			       qargs_help);
			return 0;
		}
		if (!strcmp(o, "--baseline") || !strcmp(o, "--window") || !strcmp(o, "--group-by") ||
		    !strcmp(o, "-n")) {
			if (!v) {
				cmd_err("diff: option '%s' needs a value", o);
				return 2;
			}
			a++;
			if (!strcmp(o, "--baseline")) {
				r.w[0].spec = v;
			} else if (!strcmp(o, "--window")) {
				r.w[1].spec = v;
			} else if (!strcmp(o, "--group-by")) {
				group = v;
			} else {
				char *end;
				long x = strtol(v, &end, 10);

				if (*end || !*v || x <= 0 || x > 1000000) {
					cmd_err("diff: -n: '%s' is not a positive number", v);
					return 2;
				}
				n = (unsigned)x;
			}
			continue;
		}
		if (!strcmp(o, "--from") || !strcmp(o, "--to") || !strcmp(o, "--last")) {
			cmd_err("diff: use --baseline FROM..TO and --window FROM..TO, not %s", o);
			return 2;
		}
		if (qargs_opt(&q, argc, argv, &a) == 2)
			return 2;
	}
	if (!r.w[0].spec || !r.w[1].spec) {
		cmd_err("diff: needs --baseline FROM..TO and --window FROM..TO");
		return 2;
	}
	if (tt_groupby_parse(group, &by, why, sizeof(why))) {
		cmd_err("diff: %s", why);
		return 2;
	}
	if ((rc = qargs_open(&q)) ||
	    (rc = qargs_range(&q, "--baseline", r.w[0].spec, &r.w[0].from_ns, &r.w[0].to_ns)) ||
	    (rc = qargs_range(&q, "--window", r.w[1].spec, &r.w[1].from_ns, &r.w[1].to_ns)))
		goto out;
	rc = 1;
	r.w[0].top = tt_top_new(&by);
	r.w[1].top = tt_top_new(&by);
	if (!r.w[0].top || !r.w[1].top)
		goto oom;
	if (q.ch) {
		/* each window summed by ClickHouse; per tick where a state is asked */
		for (i = 0; i < 2; i++) {
			struct fleet_win fw = { .top = r.w[i].top, .f = &q.filter };
			int err = tt_fleet_pieces(q.ch, q.hostnames, r.w[i].from_ns, r.w[i].to_ns,
						  q.filter.state >= 0 || q.filter.pid,
						  on_fleet_piece, &fw);

			if (err == -ENOMEM)
				goto oom;
			if (err) {
				cmd_err("diff: %s", tt_ch_errmsg(q.ch));
				goto out;
			}
		}
	} else if (qargs_scan(&q, r.w[0].from_ns < r.w[1].from_ns ? r.w[0].from_ns : r.w[1].from_ns,
		       r.w[0].to_ns > r.w[1].to_ns ? r.w[0].to_ns : r.w[1].to_ns, &cb, &r, NULL))
		goto out;
	nch = tt_top_diff(r.w[0].top, r.w[0].to_ns - r.w[0].from_ns, r.w[1].top,
			  r.w[1].to_ns - r.w[1].from_ns, &ch);
	if (nch < 0)
		goto oom;
	if (!nch) {
		qargs_nothing(&q, NULL, 0);
		rc = 0;
		goto out;
	}

	nk = tt_top_key_cols(&by, q.ndirs > 1 || q.fleet_nhosts > 1, cols);
	nc = nk;
	for (k = 0; k < sizeof(metric_cols) / sizeof(metric_cols[0]); k++)
		cols[nc++] = metric_cols[k];
	grid = tt_grid_new(cols, nc);
	if (!grid)
		goto oom;
	for (i2 = 0; i2 < (size_t)nch && i2 < n; i2++) {
		const struct tt_change *c = &ch[i2];
		double rb = c->rate_base, rw = c->rate_win;
		size_t col = nk;

		if (tt_grid_add_row(grid))
			goto oom;
		tt_top_key_cells(grid, &by, cols, 0, nk, c->win ? c->win : c->base);
		tt_grid_str(grid, col++, !c->base ? "new" : !c->win ? "gone" : rw >= rb ? "up" : "down");
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
	go.fmt = q.fmt;
	go.utc = q.utc;
	if (q.fmt == TT_GRID_TABLE)
		tt_buf_printf(&out, "baseline %s  vs  window %s  (rates per second of each window)\n",
			      r.w[0].spec, r.w[1].spec);
	if (tt_grid_render(grid, &go, &out))
		goto oom;
	if (qargs_flush(&out))
		goto out;
	rc = 0;
	goto out;
oom:
	cmd_err("diff: out of memory");
	rc = 1;
out:
	free(ch);
	tt_grid_free(grid);
	tt_top_free(r.w[0].top);
	tt_top_free(r.w[1].top);
	tt_buf_free(&out);
	qargs_close(&q);
	return rc;
}
