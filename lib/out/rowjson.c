/*
 * rowjson.c: see rowjson.h.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <string.h>

#include "format.h"
#include "rowjson.h"

static void json_ts(struct tt_buf *b, const char *key, uint64_t mono_ns, int64_t m2w)
{
	int64_t wall = (int64_t)tt_wall_ns(mono_ns, m2w);

	tt_buf_printf(b, "\"%s\":%" PRId64 ".%03" PRId64, key, wall / 1000000000,
		      (wall % 1000000000) / 1000000);
}

/* The keys that say which connection: shared by rows and events. */
static void json_conn(struct tt_buf *b, const struct tt_ev_conn *c)
{
	char la[INET6_ADDRSTRLEN], ra[INET6_ADDRSTRLEN], comm[TT_COMM_MAX + 1];

	memcpy(comm, c->comm, TT_COMM_MAX);
	comm[TT_COMM_MAX] = '\0';
	tt_buf_printf(b, ",\"proto\":\"%s\",\"family\":%u,", tt_proto_name(c->proto), c->family);
	tt_buf_printf(b, "\"laddr\":\"%s\",\"lport\":%u,\"raddr\":\"%s\",\"rport\":%u,",
		      tt_fmt_addr(la, sizeof(la), c->laddr, c->family), c->lport,
		      tt_fmt_addr(ra, sizeof(ra), c->raddr, c->family), c->rport);
	tt_buf_printf(b, "\"pid\":%u,\"tid\":%u,\"comm\":", c->tgid, c->pid);
	tt_json_str(b, comm);
	tt_buf_printf(b, ",\"cgroup\":%" PRIu64 ",\"netns\":%u,\"partial\":%s,\"udp_peer\":%s",
		      c->cgroup, c->netns, (c->flags & TT_CF_PARTIAL) ? "true" : "false",
		      (c->flags & TT_CF_UDP_PEER) ? "true" : "false");
}

static const char *close_reason_name(unsigned r)
{
	static const char *const why[] = { "normal", "failed", "reset", "idle" };

	return r < sizeof(why) / sizeof(why[0]) ? why[r] : "?";
}

void tt_row_json(struct tt_buf *b, const struct tt_row *r, const struct tt_table *t,
		 int64_t mono_to_wall_ns)
{
	uint64_t ts_ns = t->ts_ns;

	tt_buf_add(b, "{", 1);
	json_ts(b, "ts", ts_ns, mono_to_wall_ns);
	/* the measured tick: rate * tick_us / 1e6 gives the tick's bytes back */
	tt_buf_printf(b, ",\"tick_us\":%" PRIu64, (t->ts_ns - t->start_ns) / 1000);
	json_conn(b, &r->conn);
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
		      r->d_bytes_in, r->d_bytes_out, r->d_packets_in, r->d_packets_out, r->d_retrans,
		      r->d_resets);
	tt_buf_printf(b, "\"closed\":%s,\"age_ms\":%" PRIu64 ",",
		      (r->flags & TT_ROW_CLOSED) ? "true" : "false",
		      tt_row_age_ns(r, ts_ns) / 1000000);
	json_ts(b, "open_ts", r->open_ns, mono_to_wall_ns);
	if (r->flags & TT_ROW_CLOSED) {
		tt_buf_add(b, ",", 1);
		json_ts(b, "close_ts", r->close_ns, mono_to_wall_ns);
		tt_buf_printf(b, ",\"close_reason\":\"%s\",\"error\":%u,\"lifetime_ms\":%" PRIu64,
			      close_reason_name(r->close_reason), r->err,
			      tt_row_age_ns(r, ts_ns) / 1000000);
	}
	tt_buf_add(b, "}\n", 2);
}

void tt_event_json(struct tt_buf *b, const struct tt_event *ev, const struct tt_ev_conn *conn,
		   int64_t mono_to_wall_ns)
{
	if (ev->type == TT_EV_LOSS) {
		if (!ev->loss.ring_drops && !ev->loss.socks_full && !ev->loss.peers_full)
			return;
		tt_buf_printf(b, "{\"event\":\"loss\",");
		json_ts(b, "ts", ev->ts_ns, mono_to_wall_ns);
		tt_buf_printf(b,
			      ",\"ring_drops\":%" PRIu64 ",\"socks_full\":%" PRIu64
			      ",\"peers_full\":%" PRIu64 "}\n",
			      ev->loss.ring_drops, ev->loss.socks_full, ev->loss.peers_full);
		return;
	}
	if (ev->type != TT_EV_STATE && ev->type != TT_EV_RESET && ev->type != TT_EV_CLOSE)
		return;
	tt_buf_printf(b, "{\"event\":\"%s\",", tt_event_type_name(ev->type));
	json_ts(b, "ts", ev->ts_ns, mono_to_wall_ns);
	if (conn)
		json_conn(b, conn);
	switch (ev->type) {
	case TT_EV_STATE:
		tt_buf_printf(b, ",\"old_state\":\"%s\",", tt_tcp_state_name(ev->state.old_state));
		tt_buf_printf(b, "\"state\":\"%s\",\"error\":%u", tt_tcp_state_name(ev->state.new_state),
			      ev->state.err);
		break;
	case TT_EV_RESET:
		tt_buf_printf(b, ",\"direction\":\"%s\"", ev->reset.received ? "received" : "sent");
		break;
	default:
		tt_buf_printf(b, ",\"close_reason\":\"%s\",\"error\":%u,", close_reason_name(ev->close.reason),
			      ev->close.err);
		tt_buf_printf(b, "\"bytes_in\":%" PRIu64 ",\"bytes_out\":%" PRIu64, ev->close.c.bytes_in,
			      ev->close.c.bytes_out);
		break;
	}
	tt_buf_add(b, "}\n", 2);
}
