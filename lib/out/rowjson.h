/*
 * rowjson.h: the aggregator's rows as JSON lines, with the recorder's key
 * names (see docs/architecture.md): tcptop-record's JSON output and
 * tcptop-analyze replay print the same lines. Values, connections and
 * lifecycle events are spelt by format.h (event layer).
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

#endif /* TT_ROWJSON_H */
