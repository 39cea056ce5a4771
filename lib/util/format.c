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
				      (unsigned)(unix_ns % UINT64_C(1000000000) / UINT64_C(1000000)));
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
