/*
 * rowjson.c: see rowjson.h.
 */
#include <inttypes.h>

#include "format.h"
#include "rowjson.h"

void tt_row_json(struct tt_buf *b, const struct tt_row *r, const struct tt_table *t,
		 int64_t mono_to_wall_ns)
{
	uint64_t ts_ns = t->ts_ns;

	tt_buf_add(b, "{", 1);
	tt_json_ts(b, "ts", ts_ns, mono_to_wall_ns);
	/* the measured tick: rate * tick_us / 1e6 gives the tick's bytes back */
	tt_buf_printf(b, ",\"tick_us\":%" PRIu64, (t->ts_ns - t->start_ns) / 1000);
	tt_json_conn(b, &r->conn);
	tt_buf_printf(b, ",\"state\":\"%s\",", tt_tcp_state_name(r->tot.state));
	tt_buf_printf(b,
		      "\"bytes_in\":%" PRIu64 ",\"bytes_out\":%" PRIu64 ",\"packets_in\":%" PRIu64
		      ",\"packets_out\":%" PRIu64 ",",
		      r->tot.bytes_in, r->tot.bytes_out, r->tot.packets_in, r->tot.packets_out);
	tt_buf_printf(b, "\"rate_in\":%.1f,\"rate_out\":%.1f,\"rtt_us\":%u,\"rttvar_us\":%u,",
		      r->rate_in, r->rate_out, r->tot.srtt_us, r->tot.rttvar_us);
	tt_buf_printf(b, "\"retransmits\":%u,\"resets_sent\":%u,\"resets_received\":%u,",
		      r->tot.retrans, r->tot.rst_sent, r->tot.rst_recv);
	/* what this tick added: the totals above are running counts */
	tt_buf_printf(b,
		      "\"bytes_in_delta\":%" PRIu64 ",\"bytes_out_delta\":%" PRIu64
		      ",\"packets_in_delta\":%" PRIu64 ",\"packets_out_delta\":%" PRIu64
		      ",\"retransmits_delta\":%u,\"resets_delta\":%u,",
		      r->d_bytes_in, r->d_bytes_out, r->d_packets_in, r->d_packets_out,
		      r->d_retrans, r->d_resets);
	tt_buf_printf(b, "\"closed\":%s,\"age_ms\":%" PRIu64 ",",
		      (r->flags & TT_ROW_CLOSED) ? "true" : "false",
		      tt_row_age_ns(r, ts_ns) / 1000000);
	tt_json_ts(b, "open_ts", r->open_ns, mono_to_wall_ns);
	if (r->flags & TT_ROW_CLOSED) {
		tt_buf_add(b, ",", 1);
		tt_json_ts(b, "close_ts", r->close_ns, mono_to_wall_ns);
		tt_buf_printf(b, ",\"close_reason\":\"%s\",\"error\":%u,\"lifetime_ms\":%" PRIu64,
			      tt_close_reason_name(r->close_reason), r->err,
			      tt_row_age_ns(r, ts_ns) / 1000000);
	}
	tt_buf_add(b, "}\n", 2);
}
