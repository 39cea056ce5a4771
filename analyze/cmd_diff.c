/*
 * diff DIR --baseline FROM..TO --window FROM..TO: what changed between a quiet
 * window and the incident. Both windows are grouped the same way (default
 * remote-host,process); rates are per second of each window, so windows of
 * different lengths compare. Rows: new talkers, vanished ones, and the largest
 * changes, ranked by how much the rate moved.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "cmd.h"
#include "qargs.h"
#include "report.h"
#include "scan.h"
#include "ship.h"
#include "timeparse.h"

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
	uint64_t ts = (uint64_t)((int64_t)t->ts_ns + rec->mono_to_wall_ns);
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

static int parse_range(struct qargs *q, const char *name, struct win *w)
{
	struct tt_time_ctx tc = { .utc = q->utc, .start_ns = q->span_start_ns,
				  .end_ns = q->span_end_ns };
	const char *dots = strstr(w->spec, "..");
	char from[128];
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	tc.now_ns = (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
	if (!dots || (size_t)(dots - w->spec) >= sizeof(from)) {
		cmd_err("diff: %s: '%s' is not FROM..TO (e.g. 14:00..14:10, -1h..-50m)", name, w->spec);
		return 2;
	}
	memcpy(from, w->spec, (size_t)(dots - w->spec));
	from[dots - w->spec] = '\0';
	if (tt_parse_time(from, &tc, &w->from_ns) || tt_parse_time(dots + 2, &tc, &w->to_ns)) {
		cmd_err("diff: %s: '%s': a time is malformed (e.g. 14:00..14:10, -1h..-50m)", name,
			w->spec);
		return 2;
	}
	if (w->from_ns >= w->to_ns) {
		cmd_err("diff: %s: '%s' ends before it starts", name, w->spec);
		return 2;
	}
	if (w->to_ns <= q->span_start_ns || w->from_ns >= q->span_end_ns) {
		cmd_err("diff: %s: '%s' is outside the recording", name, w->spec);
		return 1;
	}
	return 0;
}

static double rate(const struct tt_group *g, const struct win *w)
{
	return g ? ((double)g->bytes_in + (double)g->bytes_out) * 1e9 / (double)(w->to_ns - w->from_ns)
		 : 0;
}

struct change {
	const struct tt_group *base, *win; /* either may be NULL */
	double score;
};

static int cmp_change(const void *pa, const void *pb)
{
	const struct change *a = pa, *b = pb;

	if (a->score != b->score)
		return a->score < b->score ? 1 : -1;
	return 0;
}

int cmd_diff(int argc, char **argv)
{
	static const struct tt_col metric_cols[] = {
		{ "change", "CHANGE", TT_COL_STR },
		{ "rate_base", "RATE BEFORE", TT_COL_RATE },
		{ "rate_window", "RATE NOW", TT_COL_RATE },
		{ "rate_delta", "DELTA/s", TT_COL_REAL },
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
	const struct tt_group **g0 = NULL, **g1 = NULL;
	struct change *ch = NULL;
	struct tt_buf out = { 0 };
	struct tt_grid *grid = NULL;
	struct tt_groupby by;
	struct diff_run r;
	struct qargs q;
	const char *group = "remote-host,process";
	char why[512];
	size_t nch = 0, nk, nc, k, i2;
	long n0, n1, i;
	unsigned n = 20;
	int rc = 1, a;

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
	if ((rc = qargs_open(&q)) || (rc = parse_range(&q, "--baseline", &r.w[0])) ||
	    (rc = parse_range(&q, "--window", &r.w[1])))
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
	n0 = tt_top_rank(r.w[0].top, TT_BY_BYTES, &g0);
	n1 = tt_top_rank(r.w[1].top, TT_BY_BYTES, &g1);
	if (n0 < 0 || n1 < 0 || !(ch = calloc((size_t)(n0 + n1) + 1, sizeof(*ch))))
		goto oom;
	for (i = 0; i < n1; i++) {
		const struct tt_group *b = tt_top_lookup(r.w[0].top, g1[i]);

		ch[nch].win = g1[i];
		ch[nch].base = b;
		ch[nch].score = fabs(rate(g1[i], &r.w[1]) - rate(b, &r.w[0]));
		nch++;
	}
	for (i = 0; i < n0; i++) {
		if (tt_top_lookup(r.w[1].top, g0[i]))
			continue; /* already paired above */
		ch[nch].base = g0[i];
		ch[nch].score = rate(g0[i], &r.w[0]);
		nch++;
	}
	qsort(ch, nch, sizeof(*ch), cmp_change);

	nk = tt_top_key_cols(&by, q.ndirs > 1 || q.fleet_nhosts > 1, cols);
	nc = nk;
	for (k = 0; k < sizeof(metric_cols) / sizeof(metric_cols[0]); k++)
		cols[nc++] = metric_cols[k];
	grid = tt_grid_new(cols, nc);
	if (!grid)
		goto oom;
	for (i2 = 0; i2 < nch && i2 < n; i2++) {
		const struct change *c = &ch[i2];
		double rb = rate(c->base, &r.w[0]), rw = rate(c->win, &r.w[1]);
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
