/*
 * view.h: one tick's table as a top-like screen of text. The recorder's live
 * view draws it now; the analyzer's replay draws the same thing later.
 */
#ifndef TT_VIEW_H
#define TT_VIEW_H

#include <stddef.h>
#include <stdint.h>

#include "aggregator.h"
#include "buf.h"
#include "filter.h"

struct tt_view_opts {
	enum tt_sort_key sort;
	unsigned top; /* rows at most; 0 = all */
	unsigned width; /* terminal columns; 0 = no truncation */
	int64_t mono_to_wall_ns; /* for the clock in the header */
	int utc; /* header time in UTC instead of local time */
	const struct tt_filter *filter; /* may be NULL */
	const char *title; /* e.g. "tcptop-record", shown first */
	int hide_seq; /* leave out the tick number (a replay that seeks has none that means much) */
};

/*
 * Render t into b: a header (time, totals, losses) and the sorted rows.
 * Sorts scratch (a copy of the rows, grown as needed); *scratch and *cap are
 * the caller's, reused across ticks. 0, or -ENOMEM.
 */
int tt_view_render(struct tt_buf *b, const struct tt_table *t, const struct tt_view_opts *o,
		   struct tt_row **scratch, size_t *cap);

#endif /* TT_VIEW_H */
