/*
 * replay_tty.c: tcptop-analyze replay on a terminal. The recording plays in
 * the recorder's live view (lib/view.h: the same screen, keys and help), with
 * the replay's own keys to change speed, step, jump and seek.
 *
 * Seeking never replays from the start: to show the tick ending at T, the
 * replay reopens at the block that holds T (the index knows), whose keyframe
 * gives the whole state, and reads forward to T. Stepping back one tick is a
 * seek to the current tick's start, which is the previous tick's end.
 *
 * A seek to or past the end shows the last tick: the index's end of a
 * recording can lie after its last tick, and a replay opened after the last
 * block has no tick at all, so the cursor steps back until it finds one.
 *
 * The terminal is put back (cooked mode, main screen, cursor) on every exit:
 * the normal one, errors, and SIGINT/SIGTERM/SIGHUP, which only set a flag
 * the loop sees within its poll.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "aggregator.h"
#include "buf.h"
#include "clock.h"
#include "cmd.h"
#include "format.h"
#include "replay.h"
#include "replay_tty.h"
#include "timeparse.h"
#include "view.h"

static const double speeds[] = { 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 0 /* max */ };
#define NSPEEDS (sizeof(speeds) / sizeof(speeds[0]))

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	got_signal = sig;
}

/* Where the replay is: a reader and an aggregator positioned after one tick. */
struct cursor {
	struct tt_store *st;
	int64_t rec;
	uint64_t rec_start, rec_end; /* Unix ns */
	struct tt_replay *rp;
	struct tt_agg *agg;
	int64_t m2w;
	const struct tt_table *t; /* the tick shown, NULL before the first */
	int at_end;
	char why[512];
};

static void cursor_close(struct cursor *c)
{
	tt_replay_close(c->rp);
	tt_agg_free(c->agg);
	c->rp = NULL;
	c->agg = NULL;
	c->t = NULL;
}

/* The next tick of the stream: 1, 0 at the end, <0 on error. */
static int cursor_next(struct cursor *c)
{
	struct tt_source *src = tt_replay_source(c->rp);
	struct tt_event ev;
	int err;

	while ((err = tt_source_next(src, &ev)) > 0) {
		err = tt_agg_feed(c->agg, &ev);
		if (err < 0)
			return err;
		if (err == 1) {
			c->t = tt_agg_table(c->agg);
			return 1;
		}
	}
	if (err < 0)
		snprintf(c->why, sizeof(c->why), "%s", src->errmsg(src));
	c->at_end = 1;
	return err;
}

/* Reopen the replay at wall time from, with a fresh aggregator and no tick yet. */
static int cursor_open(struct cursor *c, uint64_t from)
{
	struct tt_replay_opts ro = { .recording_id = c->rec, .from_ns = from };
	int err;

	cursor_close(c);
	c->at_end = 0;
	c->agg = tt_agg_new();
	if (!c->agg)
		return -ENOMEM;
	err = tt_replay_open(c->st, &ro, &c->rp, c->why, sizeof(c->why));
	if (err)
		return err;
	c->m2w = tt_replay_mono_to_wall(c->rp);
	return 0;
}

static uint64_t tick_wall(const struct cursor *c)
{
	return tt_wall_ns(c->t->ts_ns, c->m2w);
}

/*
 * Show the first tick ending at or after wall time target (clamped to the
 * recording), or the last tick when none does. 1 or 0 (at the end), <0 on error.
 */
static int cursor_seek(struct cursor *c, uint64_t target)
{
	uint64_t back, from;
	int err;

	if (target < c->rec_start)
		target = c->rec_start;
	if (target > c->rec_end)
		target = c->rec_end;
	if ((err = cursor_open(c, target)))
		return err;
	while ((err = cursor_next(c)) > 0)
		if (tick_wall(c) >= target)
			return 1;
	if (err < 0 || c->t)
		return err; /* at the end, showing the last tick */
	/* nothing at or after target: step back, doubling, until a tick shows up */
	for (back = 1000000000ull;; back *= 2) {
		from = target - c->rec_start > back ? target - back : c->rec_start;
		if ((err = cursor_open(c, from)))
			return err;
		while ((err = cursor_next(c)) > 0)
			;
		if (err < 0 || c->t || from == c->rec_start)
			return err;
	}
}

static void show(const struct cursor *c, struct tt_view *v, unsigned speed_idx)
{
	char status[160], sp[16], pos[32], len[32];

	if (speeds[speed_idx])
		snprintf(sp, sizeof(sp), "%gx", speeds[speed_idx]);
	else
		snprintf(sp, sizeof(sp), "max");
	tt_fmt_duration(len, sizeof(len), c->rec_end - c->rec_start);
	if (c->t) {
		uint64_t at = tick_wall(c) > c->rec_start ? tick_wall(c) - c->rec_start : 0;

		tt_fmt_duration(pos, sizeof(pos), at);
		snprintf(status, sizeof(status), "%s  %s/%s%s", sp, pos, len,
			 c->at_end ? "  END" : "");
		if (tt_view_set_table(v, c->t, c->m2w))
			tt_view_say(v, "out of memory");
	} else {
		snprintf(status, sizeof(status), "%s  no tick in this recording (%s)", sp, len);
	}
	tt_view_set_status(v, status);
}

/* The time typed at the g prompt. 0, or <0 on a replay error. */
static int go_to(struct cursor *c, struct tt_view *v, int utc)
{
	struct tt_time_ctx tc = { .start_ns = c->rec_start, .end_ns = c->rec_end, .utc = utc };
	const char *text = tt_view_goto_text(v);
	uint64_t target;
	char msg[160];
	int err;

	if (!*text)
		return 0;
	tc.now_ns = tt_clock_ns(CLOCK_REALTIME);
	if (tt_parse_time(text, &tc, &target)) {
		snprintf(msg, sizeof(msg),
			 "not a time: '%.60s' (e.g. 14:05:30, -5m, start+1m, end)", text);
		tt_view_say(v, msg);
		return 0;
	}
	err = cursor_seek(c, target);
	return err < 0 ? err : 0;
}

/* One action of the view. 1 to quit, <0 on a replay error, 0 otherwise. */
static int act(struct cursor *c, struct tt_view *v, unsigned *speed_idx, int action, int utc)
{
	uint64_t now_wall = c->t ? tick_wall(c) : c->rec_start;
	int err = 0;

	switch (action) {
	case TT_VIEW_QUIT:
		return 1;
	case TT_VIEW_STEP_FWD:
		if (c->at_end)
			tt_view_say(v, "end of the recording: left, [ or g go back");
		else
			err = cursor_next(c);
		break;
	case TT_VIEW_STEP_BACK: /* the tick that ended where this one began */
		if (c->t)
			err = cursor_seek(c, tt_wall_ns(c->t->start_ns, c->m2w));
		break;
	case TT_VIEW_MIN_BACK:
		err = cursor_seek(c, now_wall > 60000000000ull ? now_wall - 60000000000ull : 0);
		break;
	case TT_VIEW_MIN_FWD:
		err = cursor_seek(c, now_wall + 60000000000ull);
		break;
	case TT_VIEW_FASTER:
		if (*speed_idx + 1 < NSPEEDS)
			(*speed_idx)++;
		break;
	case TT_VIEW_SLOWER:
		if (*speed_idx > 0)
			(*speed_idx)--;
		break;
	case TT_VIEW_GOTO:
		err = go_to(c, v, utc);
		break;
	default:
		break;
	}
	return err < 0 ? err : 0;
}

int replay_tty(struct tt_store *st, int64_t rec, uint64_t rec_start, uint64_t rec_end,
	       uint64_t from_ns, double speed, enum tt_sort_key sort, int utc, const char *where,
	       const struct tt_filter *filter, unsigned top)
{
	struct cursor c = { .st = st, .rec = rec, .rec_start = rec_start, .rec_end = rec_end };
	struct tt_view_ui_opts vo = { .title = "tcptop-analyze replay",
				      .sort = sort,
				      .utc = utc,
				      .replay = 1,
				      .color = tt_view_want_color(),
				      .where = where,
				      .filter = filter,
				      .top = top };
	struct tt_view *v;
	struct tt_buf b = { 0 };
	struct sigaction sa;
	unsigned speed_idx = 2;
	size_t i;
	uint64_t due;
	int err, rc = 1;

	for (i = 0; i < NSPEEDS; i++)
		if (speeds[i] == speed)
			speed_idx = (unsigned)i;
	v = tt_view_new(&vo);
	if (!v) {
		cmd_err("replay: out of memory");
		return 1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal; /* no SA_RESTART: poll returns at once */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	if ((err = tt_view_term_open(STDIN_FILENO, STDOUT_FILENO))) {
		cmd_err("replay: cannot set up the terminal: %s", strerror(-err));
		tt_view_free(v);
		return 1;
	}
	err = cursor_seek(&c, from_ns);
	if (err < 0)
		goto out;
	show(&c, v, speed_idx);
	tt_view_term_draw(v, &b);
	due = tt_clock_ns(CLOCK_MONOTONIC);
	while (!got_signal) {
		struct pollfd pfd = { .fd = STDIN_FILENO, .events = POLLIN };
		uint64_t now = tt_clock_ns(CLOCK_MONOTONIC), gap;
		int timeout = -1, n;

		if (!tt_view_paused(v) && !c.at_end && c.t) {
			/* the next tick is due one recorded tick length later, at speed */
			gap = speeds[speed_idx] ? (uint64_t)((double)(c.t->ts_ns - c.t->start_ns) /
							     speeds[speed_idx])
						: 0;
			if (now >= due + gap) {
				err = cursor_next(&c);
				if (err < 0)
					goto out;
				due = now;
				show(&c, v, speed_idx);
				tt_view_term_draw(v, &b);
				continue;
			}
			timeout = (int)((due + gap - now) / 1000000ull) + 1;
		}
		n = poll(&pfd, 1, timeout);
		if (tt_view_term_resized())
			tt_view_term_draw(v, &b);
		if (n > 0 && (pfd.revents & (POLLHUP | POLLERR | POLLNVAL)))
			break; /* the terminal went away */
		if (n > 0 && (pfd.revents & POLLIN)) {
			unsigned char k[64];
			ssize_t got = read(STDIN_FILENO, k, sizeof(k));
			size_t at = 0, used;

			if (got <= 0)
				continue;
			/* typed-ahead keys arrive together: one key (or escape sequence) at a time */
			for (err = 0; at < (size_t)got && !err; at += used)
				err = act(&c, v, &speed_idx,
					  tt_view_key(v, k + at, (size_t)got - at, &used), utc);
			if (err == 1)
				break;
			if (err < 0)
				goto out;
			due = tt_clock_ns(CLOCK_MONOTONIC);
			show(&c, v, speed_idx);
			tt_view_term_draw(v, &b);
		}
	}
	err = 0;
	rc = 0;
out:
	tt_view_term_close();
	if (err < 0)
		cmd_err("replay: %s", err == -ENOMEM ? "out of memory" : c.why);
	cursor_close(&c);
	tt_view_free(v);
	tt_buf_free(&b);
	return rc;
}
