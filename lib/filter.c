/*
 * filter.c: see filter.h.
 */
#include <errno.h>
#include <fnmatch.h>
#include <netinet/in.h>
#include <string.h>
#include <strings.h>

#include "filter.h"

void tt_filter_init(struct tt_filter *f)
{
	memset(f, 0, sizeof(*f));
	f->port = -1;
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
	if (f->comm[0]) {
		memcpy(comm, c->comm, TT_COMM_MAX);
		comm[TT_COMM_MAX] = '\0';
		if (fnmatch(f->comm, comm, 0))
			return 0;
	}
	return 1;
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
