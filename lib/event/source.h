/*
 * source.h: the one "next event" interface. The live collector implements it
 * now; the segment reader implements it for replay. Whoever consumes events
 * (aggregator, segment writer, printers) never knows which one it reads.
 */
#ifndef TT_SOURCE_H
#define TT_SOURCE_H

#include "event.h"

struct tt_source {
	/* Next event into *ev: 1 when one was produced, 0 at the end of the
	 * stream, a negative errno on failure (see errmsg). */
	int (*next)(struct tt_source *s, struct tt_event *ev);
	/* Last failure, one line, never NULL. */
	const char *(*errmsg)(const struct tt_source *s);
};

static inline int tt_source_next(struct tt_source *s, struct tt_event *ev)
{
	return s->next(s, ev);
}

#endif /* TT_SOURCE_H */
