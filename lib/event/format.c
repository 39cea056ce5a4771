/*
 * format.c: see format.h.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "escape.h"
#include "format.h"

char *tt_fmt_bytes(char *buf, size_t len, uint64_t bytes)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	double v = (double)bytes;
	unsigned u = 0;

	if (bytes < 1024) {
		snprintf(buf, len, "%" PRIu64 " B", bytes);
		return buf;
	}
	while (v >= 1024 && u < 6) {
		v /= 1024;
		u++;
	}
	/* 3 significant digits, as top and ss do */
	snprintf(buf, len, v < 10 ? "%.2f %s" : v < 100 ? "%.1f %s" : "%.0f %s", v, units[u]);
	return buf;
}

char *tt_fmt_rate(char *buf, size_t len, double bps)
{
	size_t n;

	tt_fmt_bytes(buf, len, bps < 0 ? 0 : (uint64_t)(bps + 0.5));
	n = strlen(buf);
	snprintf(buf + n, len > n ? len - n : 0, "/s");
	return buf;
}

char *tt_fmt_time(char *buf, size_t len, uint64_t unix_ns, int utc, unsigned flags)
{
	time_t s = (time_t)(unix_ns / UINT64_C(1000000000));
	struct tm tm;
	size_t n;

	if (utc)
		gmtime_r(&s, &tm);
	else
		localtime_r(&s, &tm);
	n = strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
	if ((flags & TT_TIME_MS) && n < len)
		n += (size_t)snprintf(buf + n, len - n, ".%03u",
				      (unsigned)(unix_ns % UINT64_C(1000000000) /
						 UINT64_C(1000000)));
	if ((flags & TT_TIME_ZONE) && n < len)
		strftime(buf + n, len - n, utc ? " UTC" : " %Z", &tm);
	return buf;
}

char *tt_fmt_duration(char *buf, size_t len, uint64_t ns)
{
	uint64_t s = ns / UINT64_C(1000000000);

	if (ns < 1000000000ull)
		snprintf(buf, len, "%" PRIu64 "ms", ns / UINT64_C(1000000));
	else if (s < 60)
		snprintf(buf, len, "%.1fs", (double)ns / 1e9);
	else if (s < 3600)
		snprintf(buf, len, "%" PRIu64 "m%02" PRIu64 "s", s / 60, s % 60);
	else
		snprintf(buf, len, "%" PRIu64 "h%02" PRIu64 "m", s / 3600, (s / 60) % 60);
	return buf;
}

char *tt_fmt_addr(char *buf, size_t len, const uint8_t addr[16], int family)
{
	static const uint8_t zero[16];

	if (!memcmp(addr, zero, 16) ||
	    (family == 4 && !memcmp(addr + 12, zero, 4) && addr[10] == 0xff)) {
		snprintf(buf, len, "*");
		return buf;
	}
	if (family == 4) {
		if (!inet_ntop(AF_INET, addr + 12, buf, (socklen_t)len))
			snprintf(buf, len, "?");
	} else if (!inet_ntop(AF_INET6, addr, buf, (socklen_t)len)) {
		snprintf(buf, len, "?");
	}
	return buf;
}

char *tt_fmt_endpoint(char *buf, size_t len, const uint8_t addr[16], uint16_t port, int family)
{
	char a[INET6_ADDRSTRLEN];

	tt_fmt_addr(a, sizeof(a), addr, family);
	snprintf(buf, len, strchr(a, ':') ? "[%s]:%u" : "%s:%u", a, port);
	return buf;
}

const char *tt_proto_name(int proto)
{
	return proto == IPPROTO_TCP ? "tcp" : proto == IPPROTO_UDP ? "udp" : "?";
}

void tt_json_str(struct tt_buf *b, const char *s)
{
	tt_esc_json(b, s, strlen(s));
}

void tt_json_ts(struct tt_buf *b, const char *key, uint64_t mono_ns, int64_t m2w)
{
	int64_t wall = (int64_t)tt_wall_ns(mono_ns, m2w);

	tt_buf_printf(b, "\"%s\":%" PRId64 ".%03" PRId64, key, wall / 1000000000,
		      (wall % 1000000000) / 1000000);
}

void tt_json_conn(struct tt_buf *b, const struct tt_ev_conn *c)
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

const char *tt_close_reason_name(unsigned r)
{
	static const char *const why[] = { "normal", "failed", "reset", "idle" };

	return r < sizeof(why) / sizeof(why[0]) ? why[r] : "?";
}

void tt_event_json(struct tt_buf *b, const struct tt_event *ev, const struct tt_ev_conn *conn,
		   int64_t mono_to_wall_ns)
{
	if (ev->type == TT_EV_LOSS) {
		if (!ev->loss.ring_drops && !ev->loss.socks_full && !ev->loss.peers_full)
			return;
		tt_buf_printf(b, "{\"event\":\"loss\",");
		tt_json_ts(b, "ts", ev->ts_ns, mono_to_wall_ns);
		tt_buf_printf(b,
			      ",\"ring_drops\":%" PRIu64 ",\"socks_full\":%" PRIu64
			      ",\"peers_full\":%" PRIu64 "}\n",
			      ev->loss.ring_drops, ev->loss.socks_full, ev->loss.peers_full);
		return;
	}
	if (ev->type != TT_EV_STATE && ev->type != TT_EV_RESET && ev->type != TT_EV_CLOSE)
		return;
	tt_buf_printf(b, "{\"event\":\"%s\",", tt_event_type_name(ev->type));
	tt_json_ts(b, "ts", ev->ts_ns, mono_to_wall_ns);
	if (conn)
		tt_json_conn(b, conn);
	switch (ev->type) {
	case TT_EV_STATE:
		tt_buf_printf(b, ",\"old_state\":\"%s\",", tt_tcp_state_name(ev->state.old_state));
		tt_buf_printf(b, "\"state\":\"%s\",\"error\":%u",
			      tt_tcp_state_name(ev->state.new_state), ev->state.err);
		break;
	case TT_EV_RESET:
		tt_buf_printf(b, ",\"direction\":\"%s\"", ev->reset.received ? "received" : "sent");
		break;
	default:
		tt_buf_printf(b, ",\"close_reason\":\"%s\",\"error\":%u,",
			      tt_close_reason_name(ev->close.reason), ev->close.err);
		tt_buf_printf(b, "\"bytes_in\":%" PRIu64 ",\"bytes_out\":%" PRIu64,
			      ev->close.c.bytes_in, ev->close.c.bytes_out);
		break;
	}
	tt_buf_add(b, "}\n", 2);
}
