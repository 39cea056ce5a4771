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
};

/* A filter that matches everything. */
void tt_filter_init(struct tt_filter *f);

/* 1 if the connection passes every set criterion. */
int tt_filter_match(const struct tt_filter *f, const struct tt_ev_conn *c);

/* "tcp" or "udp" into *proto; 0, or -EINVAL. */
int tt_filter_parse_proto(const char *s, int *proto);

#endif /* TT_FILTER_H */
