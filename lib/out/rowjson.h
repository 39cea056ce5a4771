/*
 * rowjson.h: the aggregator's rows and lifecycle events as JSON lines, with the
 * recorder's key names (see docs/architecture.md): tcptop-record --format json
 * and tcptop-analyze replay --json print the same lines. Values are spelt by
 * format.h.
 */
#ifndef TT_ROWJSON_H
#define TT_ROWJSON_H

#include <stdint.h>

#include "aggregator.h"
#include "buf.h"

/*
 * One row as one JSON object and a newline, with the recorder's key names (see
 * docs/architecture.md). mono_to_wall_ns converts CLOCK_MONOTONIC to Unix time.
 */
void tt_row_json(struct tt_buf *b, const struct tt_row *r, const struct tt_table *t,
		 int64_t mono_to_wall_ns);

/*
 * A lifecycle event (STATE, RESET, CLOSE) as one JSON line: "event" names it,
 * conn (may be NULL) supplies the endpoint and owner keys. A LOSS that counts
 * anything (cumulative: ring_drops, socks_full, peers_full) is a line too, so
 * a stream says when its numbers are short. Other types: nothing.
 */
void tt_event_json(struct tt_buf *b, const struct tt_event *ev, const struct tt_ev_conn *conn,
		   int64_t mono_to_wall_ns);

#endif /* TT_ROWJSON_H */
