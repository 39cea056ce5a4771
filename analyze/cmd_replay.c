/*
 * replay DIR: the recording again, tick by tick, through the recorder's own
 * aggregator and printers, paced at --speed (max: as fast as it decodes).
 * On a terminal: a full-screen, top-like view with keys (replay_tty.c). Not on
 * a terminal: text tables or JSON lines (the recorder's keys), so
 * `tcptop-analyze replay --speed max --format json DIR | jq` extracts data.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "aggregator.h"
#include "buf.h"
#include "cmd.h"
#include "format.h"
#include "qargs.h"
#include "replay_tty.h"
#include "rowjson.h"
#include "scan.h"
#include "view.h"

struct rp_run {
	struct qargs *q;
	double speed; /* 0: max */
	int events;
	int64_t recording; /* 0: every recording */
	enum tt_sort_key sort;
	unsigned top;
	uint64_t last_tick; /* CLOCK_MONOTONIC of the last tick printed, 0 at a recording's start */
	struct tt_buf out;
	struct tt_row *scratch;
	size_t scap;
	struct tt_scan_rec first; /* interactive: the recording to show */
	char first_host[128];
	int no_tty; /* --no-tty */
	int tty; /* the interactive view, not the scan */
};

static void pace(double speed, uint64_t gap_ns)
{
	struct timespec ts;
	double ns;

	if (!speed || !gap_ns)
		return;
	ns = (double)gap_ns / speed;
	ts.tv_sec = (time_t)(ns / 1e9);
	ts.tv_nsec = (long)(ns - (double)ts.tv_sec * 1e9);
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* Without --from/--to/--last everything plays, including what came before the
 * recording's start time (the capture attaches just before the store opens). */
static int in_window(const struct rp_run *r, const struct tt_scan_rec *rec, uint64_t mono)
{
	uint64_t ts = tt_wall_ns(mono, rec->mono_to_wall_ns);

	if (!r->q->from && !r->q->to && !r->q->last)
		return 1;
	return ts >= r->q->from_ns && ts <= r->q->to_ns;
}

static int on_recording(void *ctx, const struct tt_scan_rec *rec)
{
	struct rp_run *r = ctx;

	(void)rec;
	r->last_tick = 0;
	return 0;
}

static int on_event(void *ctx, const struct tt_scan_rec *rec, const struct tt_event *ev,
		    const struct tt_agg *agg)
{
	struct rp_run *r = ctx;
	const struct tt_ev_conn *c;

	if ((r->recording && rec->id != r->recording) || !in_window(r, rec, ev->ts_ns))
		return 0;
	if (ev->type == TT_EV_LOSS) { /* as the recorder's stream: asked or not */
		if (r->q->fmt == TT_GRID_JSON && !(ev->flags & TT_EVF_KEYFRAME))
			tt_event_json(&r->out, ev, NULL, rec->mono_to_wall_ns);
		return 0;
	}
	if (!r->events)
		return 0;
	c = tt_agg_conn(agg, ev->sample.id);
	if (c && tt_filter_match(&r->q->filter, c))
		tt_event_json(&r->out, ev, c, rec->mono_to_wall_ns);
	return 0;
}

static int on_table(void *ctx, const struct tt_scan_rec *rec, const struct tt_table *t,
		    const struct tt_agg *agg)
{
	struct rp_run *r = ctx;
	size_t i;
	int err;

	(void)agg;
	if ((r->recording && rec->id != r->recording) || !in_window(r, rec, t->ts_ns)) {
		tt_buf_reset(&r->out); /* events of ticks outside the window */
		return 0;
	}
	pace(r->speed, r->last_tick ? t->ts_ns - r->last_tick : 0);
	r->last_tick = t->ts_ns;
	if (r->q->fmt == TT_GRID_JSON) {
		for (i = 0; i < t->n; i++)
			if (tt_filter_match_row(&r->q->filter, &t->rows[i]))
				tt_row_json(&r->out, &t->rows[i], t, rec->mono_to_wall_ns);
	} else {
		struct tt_view_opts vo = { .sort = r->sort,
					   .top = r->top,
					   .mono_to_wall_ns = rec->mono_to_wall_ns,
					   .utc = r->q->utc,
					   .filter = &r->q->filter,
					   .title = "tcptop-analyze replay" };

		if ((err = tt_view_render(&r->out, t, &vo, &r->scratch, &r->scap)))
			return err;
		tt_buf_add(&r->out, "\n", 1);
	}
	return qargs_flush(&r->out) ? -EIO : 0;
}

/* Interactive: only find the recording, its span and where to start. */
static int find_first(void *ctx, const struct tt_scan_rec *rec)
{
	struct rp_run *r = ctx;

	if (r->recording && rec->id != r->recording)
		return 0;
	r->first = *rec;
	snprintf(r->first_host, sizeof(r->first_host), "%s", rec->host ? rec->host : "");
	r->first.host = r->first_host;
	return 1; /* stop the scan: nothing is read */
}

static const char replay_help[] =
	"Usage: tcptop-analyze replay [--speed X|max] [--events] [--recording N]\n"
	"                             [--sort KEY] [-n|--top N] [--no-tty] [OPTIONS] DIR\n"
	"The recording tick by tick as the recorder showed it, paced at --speed\n"
	"(0.25 .. 120, 1 = real time, max = no pauses; the default is 1 on a\n"
	"terminal, max when stdout is not one). On a terminal the recorder's\n"
	"live view and keys (? lists them), and + - speed, left/right step a\n"
	"tick, [ ] a minute, g go to a time. Otherwise (or\n"
	"with --no-tty) text tables, or JSON lines with --format json (the\n"
	"recorder's keys, with per-tick *_delta keys; --events adds state\n"
	"changes, resets and closes).\n\n";

static int replay_opt(void *run, int argc, char **argv, int *i)
{
	struct rp_run *r = run;
	const char *o = argv[*i], *v;
	char *end;

	if (!strcmp(o, "--events")) {
		r->events = 1;
		return 1;
	}
	if (!strcmp(o, "--no-tty")) {
		r->no_tty = 1;
		return 1;
	}
	if (strcmp(o, "--speed") && strcmp(o, "--recording") && strcmp(o, "--sort") &&
	    strcmp(o, "-n") && strcmp(o, "--top"))
		return 0;
	if (!(v = qargs_value(r->q, argc, argv, i)))
		return 2;
	if (!strcmp(o, "--speed")) {
		if (!strcmp(v, "max")) {
			r->speed = 0;
		} else {
			r->speed = strtod(v, &end);
			if (*end || !*v || !(r->speed > 0 && r->speed <= 1e6)) {
				cmd_err("replay: --speed: '%s' is not a positive number or max", v);
				return 2;
			}
		}
	} else if (!strcmp(o, "--recording")) {
		r->recording = strtoll(v, &end, 10);
		if (*end || !*v || r->recording <= 0) {
			cmd_err("replay: --recording: '%s' is not a recording id (see info)", v);
			return 2;
		}
	} else if (!strcmp(o, "--sort")) {
		int k = tt_sort_key_parse(v);

		if (k < 0) {
			cmd_err("replay: --sort: '%s' is not rate, bytes, packets, rtt, retrans or duration",
				v);
			return 2;
		}
		r->sort = (enum tt_sort_key)k;
	} else {
		long n = strtol(v, &end, 10);

		if (*end || !*v || n <= 0 || n > 1000000) {
			cmd_err("replay: --top: '%s' is not a positive number", v);
			return 2;
		}
		r->top = (unsigned)n;
	}
	return 1;
}

static int replay_check(void *run)
{
	struct rp_run *r = run;

	if (r->speed < 0)
		r->speed = isatty(STDOUT_FILENO) ? 1.0 : 0;
	if (r->q->ndirs > 1) {
		cmd_err("replay: one store at a time");
		return 2;
	}
	if (r->events && r->q->fmt != TT_GRID_JSON) {
		cmd_err("replay: --events needs --format json");
		return 2;
	}
	if (r->q->fmt == TT_GRID_CSV) {
		cmd_err("replay: --format: csv is not a replay format (table or json)");
		return 2;
	}
	return 0;
}

static int replay_plan(void *run, struct qscan *s)
{
	struct rp_run *r = run;

	r->tty = !r->no_tty && r->q->fmt == TT_GRID_TABLE && isatty(STDOUT_FILENO) &&
		 isatty(STDIN_FILENO);
	if (r->tty)
		return 0; /* no scan: replay_tty reads as the keys ask */
	s->cb.on_recording = on_recording;
	s->cb.on_event = on_event;
	s->cb.on_table = on_table;
	return 0;
}

/* Interactive: the view over the recording; otherwise the scan printed it all. */
static int replay_print(void *run, const struct tt_scan_stats *st)
{
	struct tt_scan_cb find = { .on_recording = find_first };
	struct rp_run *r = run;
	const struct qargs *q = r->q;
	char why[512], where[PATH_MAX + 256], t0[64], t1[64];
	int err;

	(void)st;
	if (!r->tty)
		return 0;
	err = tt_scan(q->stores[0], q->from_ns, q->to_ns, &find, r, NULL, NULL, 0, why,
		      sizeof(why));
	if (err < 0) {
		cmd_err("replay: %s", why);
		return 1;
	}
	if (!r->first.id) {
		cmd_err("replay: no recording %" PRId64 " in the window", r->recording);
		return 1;
	}
	tt_fmt_time(t0, sizeof(t0), r->first.start_ns, q->utc, TT_TIME_ZONE);
	tt_fmt_duration(t1, sizeof(t1), r->first.end_ns - r->first.start_ns);
	snprintf(where, sizeof(where), "replaying %s, recording #%" PRId64 " of %s from %s (%s)",
		 q->dirs[0], r->first.id, r->first_host[0] ? r->first_host : "?", t0, t1);
	return replay_tty(q->stores[0], r->first.id, r->first.start_ns, r->first.end_ns,
			  q->from_ns > r->first.start_ns ? q->from_ns : r->first.start_ns, r->speed,
			  r->sort, q->utc, where, &q->filter, r->top);
}

static void replay_done(void *run, int rc)
{
	struct rp_run *r = run;

	(void)rc;
	tt_buf_free(&r->out);
	free(r->scratch);
}

static const struct qcmd replay_cmd = {
	.name = "replay",
	.help = replay_help,
	.opt = replay_opt,
	.check = replay_check,
	.plan = replay_plan,
	.print = replay_print,
	.done = replay_done,
};

int cmd_replay(int argc, char **argv)
{
	struct qargs q;
	/* --speed not given: real time on a terminal, max into a pipe or a file */
	struct rp_run r = { .q = &q, .speed = -1 };

	return qargs_main(&replay_cmd, &q, &r, argc, argv);
}
