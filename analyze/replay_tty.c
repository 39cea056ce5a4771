/*
 * replay_tty.c: tcptop-analyze replay on a terminal. The recording plays as
 * the recorder's live view showed it (lib/view.c), with keys to pause, change
 * speed, step, jump, seek, sort and filter.
 *
 * Seeking never replays from the start: to show the tick ending at T, the
 * replay reopens at the block that holds T (the index knows), whose keyframe
 * gives the whole state, and reads forward to T. Stepping back one tick is a
 * seek to the current tick's start, which is the previous tick's end.
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
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "aggregator.h"
#include "buf.h"
#include "cmd.h"
#include "filter.h"
#include "replay.h"
#include "replay_tty.h"
#include "timeparse.h"
#include "view.h"

static const double speeds[] = { 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 0 /* max */ };
#define NSPEEDS (sizeof(speeds) / sizeof(speeds[0]))

static struct termios saved_tio;
static int tio_saved;
static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	got_signal = sig;
}

static void term_write(const char *s)
{
	ssize_t n = write(STDOUT_FILENO, s, strlen(s));

	(void)n;
}

static void term_restore(void)
{
	if (!tio_saved)
		return;
	/* main screen back, cursor shown, cooked mode */
	term_write("\033[?25h\033[?1049l");
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tio);
	tio_saved = 0;
}

static int term_raw(void)
{
	struct termios t;

	if (tcgetattr(STDIN_FILENO, &saved_tio))
		return -errno;
	t = saved_tio;
	t.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
	t.c_cc[VMIN] = 0;
	t.c_cc[VTIME] = 0;
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &t))
		return -errno;
	tio_saved = 1;
	atexit(term_restore);
	term_write("\033[?1049h\033[?25l");
	return 0;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
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

/* Show the first tick ending at or after wall time target (clamped to the recording). */
static int cursor_seek(struct cursor *c, uint64_t target)
{
	struct tt_replay_opts ro = { .recording_id = c->rec };
	int err;

	if (target < c->rec_start)
		target = c->rec_start;
	if (target > c->rec_end)
		target = c->rec_end;
	cursor_close(c);
	c->at_end = 0;
	ro.from_ns = target;
	c->agg = tt_agg_new();
	if (!c->agg)
		return -ENOMEM;
	err = tt_replay_open(c->st, &ro, &c->rp, c->why, sizeof(c->why));
	if (err)
		return err;
	c->m2w = tt_replay_mono_to_wall(c->rp);
	while ((err = cursor_next(c)) > 0)
		if (tt_wall_ns(c->t->ts_ns, c->m2w) >= target)
			return 1;
	return err;
}

struct ui {
	struct tt_view_opts vo;
	struct tt_filter filter;
	char filter_text[64];
	unsigned speed_idx;
	int paused;
	char prompt[80]; /* "g " or "/ " while typing, "" otherwise */
	char input[64];
	size_t input_len;
	char msg[160]; /* one-line notice under the table */
};

static void draw(const struct cursor *c, struct ui *u, struct tt_buf *b, struct tt_row **scratch,
		 size_t *cap)
{
	struct winsize ws = { 0 };
	char title[160], sp[16];

	if (!c->t)
		return;
	ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws);
	if (speeds[u->speed_idx])
		snprintf(sp, sizeof(sp), "%gx", speeds[u->speed_idx]);
	else
		snprintf(sp, sizeof(sp), "max");
	snprintf(title, sizeof(title), "tcptop-analyze replay  [%s%s]%s%s",
		 u->paused ? "PAUSED " : "", sp, u->filter_text[0] ? "  filter: " : "",
		 u->filter_text);
	u->vo.title = title;
	u->vo.width = ws.ws_col;
	/* 5 header lines and 4 below the rows; the last line ends without a newline
	 * so the screen never scrolls */
	u->vo.top = ws.ws_row > 10 ? ws.ws_row - 10 : 1;
	u->vo.mono_to_wall_ns = c->m2w;
	u->vo.filter = &u->filter;
	tt_buf_reset(b);
	tt_buf_printf(b, "\033[H\033[2J");
	if (tt_view_render(b, c->t, &u->vo, scratch, cap))
		return;
	tt_buf_printf(b, "\n%s%s%s", u->prompt, u->prompt[0] ? u->input : "", u->prompt[0] ? "" : "\n");
	if (!u->prompt[0])
		tt_buf_printf(b, "%s\nspace pause  +/- speed  <-/-> step  [/] minute  g goto  s sort  "
				 "/ filter  q quit%s",
			      u->msg, c->at_end ? "   (end of recording)" : "");
	if (!b->err)
		term_write(b->p);
}

static void set_filter(struct ui *u, const char *text)
{
	tt_filter_init(&u->filter);
	snprintf(u->filter_text, sizeof(u->filter_text), "%s", text);
	if (!*text)
		return;
	/* an address or network filters endpoints; anything else, process names */
	if (tt_filter_parse_host(text, &u->filter))
		snprintf(u->filter.comm, sizeof(u->filter.comm), "*%.*s*",
			 (int)sizeof(u->filter.comm) - 3, text);
}

/* A finished prompt line: g (goto a time) or / (filter). 0 or <0 on a replay error. */
static int submit(struct cursor *c, struct ui *u)
{
	int err = 0;

	u->input[u->input_len] = '\0';
	if (u->prompt[0] == 'g') {
		struct tt_time_ctx tc = { .start_ns = c->rec_start, .end_ns = c->rec_end,
					  .utc = u->vo.utc };
		struct timespec now;
		uint64_t target;

		clock_gettime(CLOCK_REALTIME, &now);
		tc.now_ns = (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
		if (tt_parse_time(u->input, &tc, &target))
			snprintf(u->msg, sizeof(u->msg), "not a time: '%s' (e.g. 14:05:30, -5m, start+1m)",
				 u->input);
		else
			err = cursor_seek(c, target);
	} else {
		set_filter(u, u->input);
	}
	u->prompt[0] = '\0';
	u->input_len = 0;
	return err < 0 ? err : 0;
}

/* One key. Returns 1 to quit, <0 on a replay error, 0 otherwise. */
static int key(struct cursor *c, struct ui *u, const unsigned char *k, size_t n)
{
	uint64_t now_wall = c->t ? tt_wall_ns(c->t->ts_ns, c->m2w) : c->rec_start;
	int err = 0;

	if (u->prompt[0]) {
		if (k[0] == '\r' || k[0] == '\n')
			return submit(c, u);
		if (k[0] == 27) { /* escape: cancel */
			u->prompt[0] = '\0';
			u->input_len = 0;
		} else if ((k[0] == 127 || k[0] == 8) && u->input_len) {
			u->input_len--;
		} else if (k[0] >= 32 && k[0] < 127 && u->input_len + 1 < sizeof(u->input)) {
			u->input[u->input_len++] = (char)k[0];
		}
		u->input[u->input_len] = '\0';
		return 0;
	}
	u->msg[0] = '\0';
	if (n >= 3 && k[0] == 27 && k[1] == '[') {
		if (k[2] == 'C') /* right: one tick forward */
			err = c->at_end ? 0 : cursor_next(c);
		else if (k[2] == 'D' && c->t) /* left: the tick that ended where this one began */
			err = cursor_seek(c, tt_wall_ns(c->t->start_ns, c->m2w));
		return err < 0 ? err : 0;
	}
	switch (k[0]) {
	case 'q':
	case 'Q':
		return 1;
	case ' ':
		u->paused = !u->paused;
		break;
	case '+':
	case '=':
		if (u->speed_idx + 1 < NSPEEDS)
			u->speed_idx++;
		break;
	case '-':
		if (u->speed_idx > 0)
			u->speed_idx--;
		break;
	case '[':
		err = cursor_seek(c, now_wall > 60000000000ull ? now_wall - 60000000000ull : 0);
		break;
	case ']':
		err = cursor_seek(c, now_wall + 60000000000ull);
		break;
	case 's':
	case 'S':
		u->vo.sort = (enum tt_sort_key)((u->vo.sort + 1) % TT_SORT_MAX);
		break;
	case 'g':
		snprintf(u->prompt, sizeof(u->prompt), "go to time (14:05:30, -5m, start+1m): ");
		break;
	case '/':
		snprintf(u->prompt, sizeof(u->prompt), "filter (process name or address/CIDR, empty: none): ");
		break;
	default:
		break;
	}
	return err < 0 ? err : 0;
}

int replay_tty(struct tt_store *st, int64_t rec, uint64_t rec_start, uint64_t rec_end,
	       uint64_t from_ns, double speed, enum tt_sort_key sort, int utc)
{
	struct cursor c = { .st = st, .rec = rec, .rec_start = rec_start, .rec_end = rec_end };
	struct ui u;
	struct tt_buf b = { 0 };
	struct tt_row *scratch = NULL;
	struct sigaction sa;
	size_t cap = 0, i;
	uint64_t due;
	int err, rc = 1;

	memset(&u, 0, sizeof(u));
	u.vo.sort = sort;
	u.vo.utc = utc;
	u.vo.hide_seq = 1; /* a seek restarts the count: the time says where we are */
	tt_filter_init(&u.filter);
	u.speed_idx = 2;
	for (i = 0; i < NSPEEDS; i++)
		if (speeds[i] == speed)
			u.speed_idx = (unsigned)i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal; /* no SA_RESTART: poll returns at once */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	if (term_raw()) {
		cmd_err("replay: cannot set up the terminal: %s", strerror(errno));
		return 1;
	}
	err = cursor_seek(&c, from_ns);
	if (err < 0)
		goto out;
	draw(&c, &u, &b, &scratch, &cap);
	due = mono_ns();
	while (!got_signal) {
		struct pollfd pfd = { .fd = STDIN_FILENO, .events = POLLIN };
		uint64_t now = mono_ns(), gap;
		int timeout = -1;

		if (!u.paused && !u.prompt[0] && !c.at_end && c.t) {
			/* the next tick is due one recorded tick length later, at speed */
			gap = speeds[u.speed_idx] ? (uint64_t)((double)(c.t->ts_ns - c.t->start_ns) /
							       speeds[u.speed_idx]) :
						    0;
			if (now >= due + gap) {
				err = cursor_next(&c);
				if (err < 0)
					goto out;
				due = now;
				draw(&c, &u, &b, &scratch, &cap);
				continue;
			}
			timeout = (int)((due + gap - now) / 1000000ull) + 1;
		}
		if (poll(&pfd, 1, timeout) > 0 && (pfd.revents & POLLIN)) {
			unsigned char k[64];
			ssize_t n = read(STDIN_FILENO, k, sizeof(k));
			size_t at = 0;

			if (n <= 0)
				continue;
			/* typed-ahead keys arrive together: one key (or arrow sequence) at a time */
			for (err = 0; at < (size_t)n && !err; ) {
				size_t len = (k[at] == 27 && at + 2 < (size_t)n && k[at + 1] == '[') ? 3 : 1;

				err = key(&c, &u, k + at, len);
				at += len;
			}
			if (err == 1)
				break;
			if (err < 0)
				goto out;
			due = mono_ns();
			draw(&c, &u, &b, &scratch, &cap);
		}
	}
	err = 0;
	rc = 0;
out:
	term_restore();
	if (err < 0)
		cmd_err("replay: %s", err == -ENOMEM ? "out of memory" : c.why);
	cursor_close(&c);
	tt_buf_free(&b);
	free(scratch);
	return rc;
}
