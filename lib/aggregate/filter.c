/*
 * filter.c: see filter.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <fnmatch.h>
#include <netinet/in.h>
#include <string.h>
#include <strings.h>

#include "aggregator.h"
#include "filter.h"

void tt_filter_init(struct tt_filter *f)
{
	memset(f, 0, sizeof(*f));
	f->port = -1;
	f->host_bits = -1;
	f->state = -1;
}

void tt_addr_mask(uint8_t a[16], int bits)
{
	int i;

	for (i = 0; i < 16; i++) {
		int keep = bits - i * 8;

		if (keep <= 0)
			a[i] = 0;
		else if (keep < 8)
			a[i] &= (uint8_t)(0xff << (8 - keep));
	}
}

static int in_prefix(const uint8_t *addr, const uint8_t *net, int bits)
{
	uint8_t a[16];

	memcpy(a, addr, 16);
	tt_addr_mask(a, bits);
	return !memcmp(a, net, 16);
}

int tt_filter_match(const struct tt_filter *f, const struct tt_ev_conn *c)
{
	char comm[TT_COMM_MAX + 1];

	if (f->proto && c->proto != f->proto)
		return 0;
	if (f->pid && c->tgid != f->pid && c->pid != f->pid)
		return 0;
	if (f->port >= 0 && c->lport != f->port && c->rport != f->port)
		return 0;
	if (f->host_bits >= 0 && !in_prefix(c->raddr, f->host, f->host_bits) &&
	    !in_prefix(c->laddr, f->host, f->host_bits))
		return 0;
	if (f->comm[0]) {
		memcpy(comm, c->comm, TT_COMM_MAX);
		comm[TT_COMM_MAX] = '\0';
		if (fnmatch(f->comm, comm, 0))
			return 0;
	}
	return 1;
}

int tt_filter_match_row(const struct tt_filter *f, const struct tt_row *r)
{
	if (f->state >= 0 && r->tot.state != f->state)
		return 0;
	return tt_filter_match(f, &r->conn);
}

int tt_filter_parse_host(const char *s, struct tt_filter *f)
{
	char addr[INET6_ADDRSTRLEN + 1], *end;
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	uint8_t a[16] = { 0 };
	long bits = -1;
	int v4;

	if (!n || n >= sizeof(addr))
		return -EINVAL;
	memcpy(addr, s, n);
	addr[n] = '\0';
	if (inet_pton(AF_INET, addr, a + 12) == 1) {
		a[10] = a[11] = 0xff;
		v4 = 1;
	} else if (inet_pton(AF_INET6, addr, a) == 1) {
		v4 = 0;
	} else {
		return -EINVAL;
	}
	if (slash) {
		if (!slash[1])
			return -EINVAL;
		bits = strtol(slash + 1, &end, 10);
		if (*end || bits < 0 || bits > (v4 ? 32 : 128))
			return -EINVAL;
	} else {
		bits = v4 ? 32 : 128;
	}
	f->host_bits = (int)(v4 ? bits + 96 : bits);
	memcpy(f->host, a, 16);
	tt_addr_mask(f->host, f->host_bits);
	return 0;
}

int tt_filter_parse_proto(const char *s, int *proto)
{
	if (!strcasecmp(s, "tcp"))
		*proto = IPPROTO_TCP;
	else if (!strcasecmp(s, "udp"))
		*proto = IPPROTO_UDP;
	else
		return -EINVAL;
	return 0;
}
