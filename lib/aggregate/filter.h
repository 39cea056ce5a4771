/*
 * filter.h: which connections a user asked to see. The same filter serves the
 * recorder's outputs and the analyzer's queries.
 */
#ifndef TT_FILTER_H
#define TT_FILTER_H

#include <stdint.h>

#include "event.h"

struct tt_filter {
	int proto; /* IPPROTO_TCP / IPPROTO_UDP, 0 = any */
	uint32_t pid; /* process or thread id, 0 = any */
	int port; /* local or remote port, -1 = any */
	char comm[64]; /* fnmatch glob on the process name, "" = any */
	uint8_t host[16]; /* either endpoint in host/host_bits (v4-mapped for IPv4) */
	int host_bits; /* prefix length over the 16 bytes; -1 = any host */
	int state; /* TCP state of the row (rows only), -1 = any */
};

/* A filter that matches everything. */
void tt_filter_init(struct tt_filter *f);

/* 1 if the connection passes every set criterion. */
int tt_filter_match(const struct tt_filter *f, const struct tt_ev_conn *c);

/* 1 if the row passes: the connection's criteria and the row's state. */
struct tt_row;
int tt_filter_match_row(const struct tt_filter *f, const struct tt_row *r);

/* "10.1.2.3", "10.0.0.0/8", "::1", "2001:db8::/32" into f->host; 0, or -EINVAL. */
int tt_filter_parse_host(const char *s, struct tt_filter *f);

/* Address a (16 bytes, v4-mapped for IPv4) with all but the first bits bits cleared. */
void tt_addr_mask(uint8_t a[16], int bits);

/* "tcp" or "udp" into *proto; 0, or -EINVAL. */
int tt_filter_parse_proto(const char *s, int *proto);

#endif /* TT_FILTER_H */
