/*
 * view.c: see view.h. Plain text only; where it is drawn is the caller's business.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "escape.h"
#include "format.h"
#include "mem.h"
#include "view.h"

static void header(struct tt_buf *b, const struct tt_table *t, const struct tt_view_opts *o,
		   size_t shown, size_t matched)
{
	char when[64], rin[32], rout[32], bin[32], bout[32];

	/* milliseconds: ticks can be shorter than a second, and a replay steps by ticks */
	tt_fmt_time(when, sizeof(when), tt_wall_ns(t->ts_ns, o->mono_to_wall_ns), o->utc,
		    TT_TIME_MS | TT_TIME_ZONE);
	tt_buf_printf(b, "%s  %s  ", o->title ? o->title : "tcptop", when);
	if (!o->hide_seq)
		tt_buf_printf(b, "tick %" PRIu64 " ", t->seq);
	tt_buf_printf(b, "(%.2fs)\n", (double)(t->ts_ns - t->start_ns) / 1e9);
	tt_buf_printf(b, "conns %zu (shown %zu of %zu matching)  new %u  closed %u  "
			 "in %s (%s)  out %s (%s)\n",
		      t->n, shown, matched, t->opened, t->closed,
		      tt_fmt_rate(rin, sizeof(rin), t->rate_in), tt_fmt_bytes(bin, sizeof(bin), t->bytes_in),
		      tt_fmt_rate(rout, sizeof(rout), t->rate_out),
		      tt_fmt_bytes(bout, sizeof(bout), t->bytes_out));
	tt_buf_printf(b, "losses: ring %" PRIu64 "  socket-map-full %" PRIu64
			 "  peer-map-full %" PRIu64 "%s  sort: %s\n\n",
		      t->loss.ring_drops, t->loss.socks_full, t->loss.peers_full,
		      (t->loss.ring_drops || t->loss.socks_full || t->loss.peers_full) ?
			      "  (SOME CONNECTIONS OR EVENTS WERE NOT RECORDED)" :
			      "",
		      tt_sort_key_name(o->sort));
}

int tt_view_render(struct tt_buf *b, const struct tt_table *t, const struct tt_view_opts *o,
		   struct tt_row **scratch, size_t *cap)
{
	size_t i, n = 0, shown, laddr_w = 21, raddr_w = 21;
	int err = tt_grow((void **)scratch, cap, t->n ? t->n : 1, sizeof(**scratch));

	if (err)
		return err;
	for (i = 0; i < t->n; i++)
		if (!o->filter || tt_filter_match(o->filter, &t->rows[i].conn))
			(*scratch)[n++] = t->rows[i];
	tt_rows_sort(*scratch, n, o->sort, t->ts_ns);
	shown = o->top && o->top < n ? o->top : n;

	/* widen address columns to fit what is shown (IPv6 is long) */
	for (i = 0; i < shown; i++) {
		const struct tt_row *r = &(*scratch)[i];
		char ep[64];
		size_t l;

		tt_fmt_endpoint(ep, sizeof(ep), r->conn.laddr, r->conn.lport, r->conn.family);
		l = strlen(ep);
		laddr_w = l > laddr_w ? l : laddr_w;
		tt_fmt_endpoint(ep, sizeof(ep), r->conn.raddr, r->conn.rport, r->conn.family);
		l = strlen(ep);
		raddr_w = l > raddr_w ? l : raddr_w;
	}

	header(b, t, o, shown, n);
	tt_buf_printf(b, "%7s %-15s %-4s %-*s %-*s %-11s %11s %11s %9s %9s %8s %5s %8s %s\n", "PID",
		      "COMM", "PROT", (int)laddr_w, "LOCAL", (int)raddr_w, "REMOTE", "STATE",
		      "RX/s", "TX/s", "RX", "TX", "RTT", "RETR", "AGE", "FLAGS");
	for (i = 0; i < shown; i++) {
		const struct tt_row *r = &(*scratch)[i];
		char comm[4 * TT_COMM_MAX + 1], l[64], rm[64], rin[32], rout[32], bin[32], bout[32],
			rtt[16], age[16];
		size_t start = b->len;

		/* a process names itself: never its bytes raw on a terminal (escape.h) */
		tt_esc_cstr(comm, sizeof(comm), r->conn.comm, strnlen(r->conn.comm, TT_COMM_MAX));
		tt_fmt_endpoint(l, sizeof(l), r->conn.laddr, r->conn.lport, r->conn.family);
		tt_fmt_endpoint(rm, sizeof(rm), r->conn.raddr, r->conn.rport, r->conn.family);
		if (r->tot.srtt_us)
			snprintf(rtt, sizeof(rtt), "%.2fms", r->tot.srtt_us / 1000.0);
		else
			snprintf(rtt, sizeof(rtt), "-");
		tt_buf_printf(b, "%7u %-15s %-4s %-*s %-*s %-11s %11s %11s %9s %9s %8s %5u %8s %s%s%s\n",
			      r->conn.tgid, comm[0] ? comm : "?", tt_proto_name(r->conn.proto),
			      (int)laddr_w, l, (int)raddr_w, rm, tt_tcp_state_name(r->tot.state),
			      tt_fmt_rate(rin, sizeof(rin), r->rate_in),
			      tt_fmt_rate(rout, sizeof(rout), r->rate_out),
			      tt_fmt_bytes(bin, sizeof(bin), r->tot.bytes_in),
			      tt_fmt_bytes(bout, sizeof(bout), r->tot.bytes_out), rtt, r->tot.retrans,
			      tt_fmt_duration(age, sizeof(age),
					      tt_row_age_ns(r, t->ts_ns)),
			      (r->flags & TT_ROW_CLOSED) ? "[CLOSED]" : "",
			      (r->conn.flags & TT_CF_PARTIAL) ? "[PARTIAL]" : "",
			      (r->conn.flags & TT_CF_UDP_PEER) ? "[PEER]" : "");
		/* cut to the terminal's width rather than wrap */
		if (o->width && b->len - start > o->width + 1 && !b->err) {
			b->len = start + o->width;
			tt_buf_add(b, "\n", 1);
		}
	}
	return b->err;
}
