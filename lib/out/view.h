/*
 * view.h: one tick's table as a top-like screen. The recorder's live view
 * (tcptop-record on a terminal) and the analyzer's replay (tcptop-analyze
 * replay on a terminal) are this one module, driven the same way (atop, htop
 * and below are the models): s or a column key sorts, / filters, v groups,
 * space or p pauses, arrows and PgUp/PgDn scroll, ? helps, q quits.
 *
 * Three layers, so all but the last run without a terminal (tests/unit/test_view.c):
 *  - tt_view_render: a table into a buffer as plain text, no escapes (the
 *    recorder's --format text and replay --no-tty);
 *  - struct tt_view: the interactive state (sort, group, filter, scroll,
 *    pause, prompt, help). tt_view_key parses key bytes and changes that state;
 *    tt_view_draw renders a whole screen of cols x rows into a buffer, with
 *    cursor and color escapes, fitting the columns to the width;
 *  - tt_view_term_*: the terminal itself.
 *
 * The boundary with "lib/ never prints": only tt_view_term_open, _draw and
 * _close write, and only to the descriptor the CLI handed to tt_view_term_open
 * (its stdout, a terminal it owns for the run). Nothing else here prints, exits
 * or installs handlers, except tt_view_term_open's SIGWINCH and SIGTSTP
 * handlers, which tt_view_term_close removes.
 */
#ifndef TT_VIEW_H
#define TT_VIEW_H

#include <stddef.h>
#include <stdint.h>

#include "aggregator.h"
#include "buf.h"
#include "filter.h"

/* How rows are grouped: one per connection, or summed per key. */
enum tt_view_group {
	TT_VIEW_CONN = 0,
	TT_VIEW_PROCESS, /* process name */
	TT_VIEW_HOST, /* remote address */
	TT_VIEW_SERVICE, /* the listening side's port (tt_service_port, report.h) */
	TT_VIEW_GROUP_MAX
};

struct tt_view_opts {
	enum tt_sort_key sort;
	unsigned top; /* rows at most; 0 = all */
	unsigned width; /* columns; 0 = every column at its natural width */
	int64_t mono_to_wall_ns; /* for the clock in the header */
	int utc; /* header time in UTC instead of local time */
	const struct tt_filter *filter; /* may be NULL */
	const char *title; /* e.g. "tcptop-record", shown first */
	int hide_seq; /* leave out the tick number (a replay that seeks has none that means much) */
	enum tt_view_group group;
};

/*
 * Render t into b as plain text: a header (time, totals, losses) and the
 * sorted rows. Sorts scratch (a copy of the rows, grown as needed); *scratch
 * and *cap are the caller's, reused across ticks. 0, or -ENOMEM.
 */
int tt_view_render(struct tt_buf *b, const struct tt_table *t, const struct tt_view_opts *o,
		   struct tt_row **scratch, size_t *cap);

/* ---- interactive ---- */

struct tt_view;

struct tt_view_ui_opts {
	const char *title; /* first word of the header: "tcptop-record" */
	const char *where; /* what is recorded where, e.g. the store and its retention; NULL: none */
	enum tt_sort_key sort;
	int utc;
	int replay; /* the replay's keys (+ - left right [ ] g) and help */
	int color; /* 1: colors (see tt_view_want_color) */
	const struct tt_filter *filter; /* the command line's filter, always applied; may be NULL */
	unsigned top; /* rows at most (--top); 0 = all */
};

/* A new view, or NULL when out of memory. Copies the strings. */
struct tt_view *tt_view_new(const struct tt_view_ui_opts *o);

/* Free; NULL is a no-op. */
void tt_view_free(struct tt_view *v);

/*
 * The table to show from now on: copied, so t may go away. m2w turns its
 * CLOCK_MONOTONIC times into wall-clock ones. 0, or -ENOMEM (the view keeps
 * the table it had).
 */
int tt_view_set_table(struct tt_view *v, const struct tt_table *t, int64_t m2w);

/* A line the header always shows after the time (the replay: speed and position); NULL: none. */
void tt_view_set_status(struct tt_view *v, const char *status);

/* A one-line notice in the footer until the next key; NULL clears it. */
void tt_view_say(struct tt_view *v, const char *msg);

/* Whether the user paused (space or p). */
int tt_view_paused(const struct tt_view *v);

/* What a key asks of the caller, beyond what the view does itself. */
enum tt_view_action {
	TT_VIEW_NONE = 0, /* handled in the view (or ignored); redraw */
	TT_VIEW_QUIT, /* q */
	TT_VIEW_STEP_FWD, /* right: one tick forward (replay) */
	TT_VIEW_STEP_BACK, /* left */
	TT_VIEW_MIN_FWD, /* ]: a minute */
	TT_VIEW_MIN_BACK, /* [ */
	TT_VIEW_FASTER, /* + */
	TT_VIEW_SLOWER, /* - */
	TT_VIEW_GOTO, /* g, then a time typed and Enter: tt_view_goto_text */
	TT_VIEW_PAUSE, /* space or p toggled the pause (tt_view_paused) */
};

/*
 * Parse one key from in[0..n) (a byte, or an escape sequence such as an arrow)
 * and apply it. *used is how many bytes it took (at least 1 when n > 0).
 * Returns an enum tt_view_action; keys of the replay in a live view are
 * answered with a notice and TT_VIEW_NONE.
 */
int tt_view_key(struct tt_view *v, const unsigned char *in, size_t n, size_t *used);

/* The text typed at the g prompt, after TT_VIEW_GOTO. */
const char *tt_view_goto_text(const struct tt_view *v);

/*
 * The whole screen, cols x rows, into b (appended): cursor home, each line
 * cleared, never more than cols cells on a line nor more than rows lines, so
 * the terminal neither wraps nor scrolls. 0 or -ENOMEM.
 */
int tt_view_draw(struct tt_view *v, struct tt_buf *b, unsigned cols, unsigned rows);

/* Colors unless NO_COLOR is set (any value, no-color.org) or TERM says the terminal has none. */
int tt_view_want_color(void);

/* ---- the terminal (the only part that writes) ---- */

/*
 * Take the terminal: in_fd (keys; raw mode when it is a terminal, else no
 * keys) and out_fd (alternate screen, cursor hidden), a SIGWINCH handler, and
 * a SIGTSTP one (Ctrl-Z gives the terminal back before stopping, fg takes it
 * again). 0, or a negative errno with nothing changed.
 */
int tt_view_term_open(int in_fd, int out_fd);

/* 1 once after the terminal was resized (SIGWINCH), else 0. */
int tt_view_term_resized(void);

/* Draw v at the terminal's current size; b is scratch. 0 or a negative errno. */
int tt_view_term_draw(struct tt_view *v, struct tt_buf *b);

/* Give the terminal back as it was (also safe when not open, and at exit). */
void tt_view_term_close(void);

#endif /* TT_VIEW_H */
