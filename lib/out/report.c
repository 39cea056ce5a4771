/*
 * report.c: see report.h.
 *
 * A group is found by its key, a byte string built from the fields the keys
 * name; the key's FNV-1a hash indexes an idmap, and a collision moves on to the
 * next hash value, so two keys never share a group.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgroup.h"
#include "format.h"
#include "idmap.h"
#include "mem.h"
#include "report.h"

#define KEY_MAX 96

struct slot {
	struct tt_group g;
	unsigned char key[KEY_MAX];
	size_t klen;
};

struct tt_top {
	struct tt_groupby by;
	struct tt_idmap *index; /* key hash -> slot */
	struct tt_idmap *lives; /* connection lifetime -> slot + 1 it last counted in */
	struct slot *slots;
	size_t n, cap;
	const struct tt_group **ranked;
	size_t ranked_cap;
};

static const char *const key_names[TT_G_MAX] = {
	[TT_G_CONN] = "conn",	       [TT_G_PID] = "pid",	   [TT_G_PROCESS] = "process",
	[TT_G_RHOST] = "remote-host",  [TT_G_RNET] = "remote-net", [TT_G_RPORT] = "remote-port",
	[TT_G_LPORT] = "local-port",   [TT_G_CGROUP] = "cgroup",   [TT_G_HOST] = "host",
	[TT_G_SPORT] = "service-port",
};

uint16_t tt_service_port(const struct tt_ev_conn *c)
{
	if (c->flags & TT_CF_UDP_PEER) /* an unconnected socket's peer flow: a server's */
		return c->lport;
	if (c->flags & TT_CF_PASSIVE)
		return c->lport;
	if (c->flags & TT_CF_ACTIVE)
		return c->rport;
	if ((c->lport < 32768) != (c->rport < 32768))
		return c->lport < 32768 ? c->lport : c->rport;
	return c->lport < c->rport ? c->lport : c->rport;
}

int tt_groupby_parse(const char *s, struct tt_groupby *g, char *why, size_t why_len)
{
	char buf[256], *tok, *save = NULL;

	memset(g, 0, sizeof(*g));
	g->net_bits = 24;
	if (strlen(s) >= sizeof(buf) || !*s) {
		snprintf(why, why_len, "--group-by: empty or too long");
		return -EINVAL;
	}
	memcpy(buf, s, strlen(s) + 1);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		int k, found = -1;

		for (k = 0; k < TT_G_MAX; k++)
			if (!strcmp(tok, key_names[k]) ||
			    (k == TT_G_RNET && !strncmp(tok, "remote-net/", 11)))
				found = k;
		if (found < 0) {
			snprintf(why, why_len,
				 "--group-by: '%s' is not conn, pid, process, remote-host, remote-net/N, "
				 "remote-port, local-port, service-port, cgroup or host",
				 tok);
			return -EINVAL;
		}
		if (found == TT_G_RNET) {
			char *end;
			long bits = tok[10] == '/' ? strtol(tok + 11, &end, 10) : -1;

			if (tok[10] != '/' || *end || bits < 0 || bits > 128) {
				snprintf(why, why_len,
					 "--group-by: '%s': remote-net needs a prefix length, e.g. remote-net/24",
					 tok);
				return -EINVAL;
			}
			g->net_bits = (int)bits;
		}
		for (k = 0; k < g->n; k++)
			if (g->keys[k] == (enum tt_group_key)found) {
				snprintf(why, why_len, "--group-by: '%s' given twice",
					 key_names[found]);
				return -EINVAL;
			}
		if (g->n == TT_GROUP_KEYS_MAX) {
			snprintf(why, why_len, "--group-by: at most %d keys", TT_GROUP_KEYS_MAX);
			return -EINVAL;
		}
		g->keys[g->n++] = (enum tt_group_key)found;
	}
	return 0;
}

int tt_metric_parse(const char *s)
{
	static const char *const names[TT_BY_MAX] = {
		[TT_BY_BYTES] = "bytes",     [TT_BY_TX] = "tx",
		[TT_BY_RX] = "rx",	     [TT_BY_RATE] = "rate",
		[TT_BY_PACKETS] = "packets", [TT_BY_RTT] = "rtt",
		[TT_BY_RETRANS] = "retrans", [TT_BY_DURATION] = "duration",
		[TT_BY_CONNS] = "conns",     [TT_BY_FAILURES] = "failures",
	};
	int i;

	for (i = 0; i < TT_BY_MAX; i++)
		if (!strcmp(s, names[i]))
			return i;
	return -1;
}

struct tt_top *tt_top_new(const struct tt_groupby *g)
{
	struct tt_top *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->by = *g;
	t->index = tt_idmap_new();
	t->lives = tt_idmap_new();
	if (!t->index || !t->lives) {
		tt_top_free(t);
		return NULL;
	}
	return t;
}

void tt_top_free(struct tt_top *t)
{
	if (!t)
		return;
	tt_idmap_free(t->index);
	tt_idmap_free(t->lives);
	free(t->slots);
	free(t->ranked);
	free(t);
}

void tt_top_reset(struct tt_top *t)
{
	struct tt_idmap *a = tt_idmap_new(), *b = tt_idmap_new();

	/* idmap has no clear: replace both (a reset is once per interval) */
	if (a && b) {
		tt_idmap_free(t->index);
		tt_idmap_free(t->lives);
		t->index = a;
		t->lives = b;
		t->n = 0;
	} else {
		tt_idmap_free(a);
		tt_idmap_free(b);
	}
}

static int rnet_bits(const struct tt_groupby *g, int family)
{
	if (family == 4)
		return 96 + (g->net_bits > 32 ? 32 : g->net_bits);
	return g->net_bits > 32 ? g->net_bits : 64;
}

char *tt_groupby_fmt_net(char *buf, size_t len, const struct tt_groupby *g, const uint8_t addr[16],
			 int family)
{
	char a[INET6_ADDRSTRLEN];

	/* a prefix is never "*": ::1 under a /64 is ::/64, and 10.0.0.0/0 is 0.0.0.0/0 */
	if (!inet_ntop(family == 4 ? AF_INET : AF_INET6, family == 4 ? addr + 12 : addr, a,
		       sizeof(a)))
		snprintf(a, sizeof(a), "?");
	snprintf(buf, len, "%s/%d", a, family == 4 ? rnet_bits(g, 4) - 96 : rnet_bits(g, 6));
	return buf;
}

/* The key bytes and the displayed fields of the group a row belongs to. */
static size_t make_key(const struct tt_groupby *by, const struct tt_row *r, const char *host,
		       unsigned char *key, struct tt_group *shown)
{
	const struct tt_ev_conn *c = &r->conn;
	/* shown is NULL when only the key is wanted (an existing group) */
	struct tt_group dummy, *sh = shown ? shown : &dummy;
	size_t len = 0;
	int i;

	if (shown)
		memset(shown, 0, sizeof(*shown));
#define PUT(p, n)                                                                                  \
	do {                                                                                       \
		if (len + (n) <= KEY_MAX) {                                                        \
			memcpy(key + len, (p), (n));                                               \
			len += (n);                                                                \
		}                                                                                  \
	} while (0)
	for (i = 0; i < by->n; i++) {
		unsigned char k = (unsigned char)by->keys[i];

		PUT(&k, 1);
		switch (by->keys[i]) {
		case TT_G_CONN:
			PUT(&c->id, 8);
			PUT(&r->open_ns, 8);
			sh->conn = *c;
			sh->state = r->tot.state;
			break;
		case TT_G_PID:
			PUT(&c->tgid, 4);
			PUT(c->comm, TT_COMM_MAX);
			sh->conn.tgid = c->tgid;
			sh->conn.pid = c->tgid;
			memcpy(sh->conn.comm, c->comm, TT_COMM_MAX);
			break;
		case TT_G_PROCESS:
			PUT(c->comm, TT_COMM_MAX);
			memcpy(sh->conn.comm, c->comm, TT_COMM_MAX);
			break;
		case TT_G_RHOST:
			PUT(c->raddr, 16);
			memcpy(sh->conn.raddr, c->raddr, 16);
			sh->conn.family = c->family;
			break;
		case TT_G_RNET: {
			uint8_t a[16];

			memcpy(a, c->raddr, 16);
			tt_addr_mask(a, rnet_bits(by, c->family));
			PUT(a, 16);
			memcpy(sh->conn.raddr, a, 16);
			sh->conn.family = c->family;
			break;
		}
		case TT_G_RPORT:
			PUT(&c->rport, 2);
			PUT(&c->proto, 1);
			sh->conn.rport = c->rport;
			sh->conn.proto = c->proto;
			break;
		case TT_G_LPORT:
			PUT(&c->lport, 2);
			PUT(&c->proto, 1);
			sh->conn.lport = c->lport;
			sh->conn.proto = c->proto;
			break;
		case TT_G_SPORT:
			sh->service_port = tt_service_port(c);
			PUT(&sh->service_port, 2);
			PUT(&c->proto, 1);
			sh->conn.proto = c->proto;
			break;
		case TT_G_CGROUP:
			PUT(&c->cgroup, 8);
			sh->conn.cgroup = c->cgroup;
			break;
		case TT_G_HOST:
			PUT(host, strnlen(host, 64));
			break;
		default:
			break;
		}
	}
#undef PUT
	return len;
}

static struct slot *find_or_add(struct tt_top *t, const unsigned char *key, size_t klen,
				const struct tt_row *r, const char *host, int *err)
{
	uint64_t h = tt_fnv1a(key, klen, TT_FNV1A_INIT);
	uint32_t idx;
	struct slot *s;

	while (tt_idmap_get(t->index, h, &idx)) {
		s = &t->slots[idx];
		if (s->klen == klen && !memcmp(s->key, key, klen))
			return s;
		h++; /* a collision: the next hash value */
	}
	if ((*err = tt_grow((void **)&t->slots, &t->cap, t->n + 1, sizeof(*t->slots))) ||
	    (*err = tt_idmap_put(t->index, h, (uint32_t)t->n)))
		return NULL;
	s = &t->slots[t->n++];
	memset(s, 0, sizeof(*s));
	memcpy(s->key, key, klen);
	s->klen = klen;
	make_key(&t->by, r, host ? host : "", s->key, &s->g);
	snprintf(s->g.host, sizeof(s->g.host), "%s", host ? host : "");
	return s;
}

/*
 * What one connection adds to its group: one active tick of a table, or a
 * rollup piece (several active ticks of one period). Everything a group holds
 * is a sum, a maximum, or the last value, so both give the same group.
 */
struct contrib {
	const struct tt_row *r; /* identity, open_ns, state and close (for make_key too) */
	uint64_t first_ns, last_ns; /* Unix ns of its first and last tick */
	uint64_t age_ns; /* at the last */
	uint64_t bytes_in, bytes_out, packets_in, packets_out, retrans, resets;
	double peak_in, peak_out;
	uint64_t rtt_sum_us, rtt_n;
	uint32_t rtt_max_us;
};

/*
 * Distinct lifetimes per group: a lifetime is counted once in each group it
 * went to, whatever the order of its ticks. The set holds a 64-bit mix of
 * (lifetime, group); two pairs meeting on one value would undercount by one.
 */
static uint64_t life_in_group(const struct tt_row *r, size_t slot)
{
	uint64_t h = (r->conn.id * 0x9E3779B97F4A7C15ull) ^ r->open_ns;

	h ^= (uint64_t)(slot + 1) * 0xC2B2AE3D27D4EB4Full;
	h ^= h >> 29;
	return h * 0xBF58476D1CE4E5B9ull;
}

static int add_contrib(struct tt_top *t, const struct contrib *c, const char *host,
		       const struct tt_filter *f)
{
	const struct tt_row *r = c->r;
	unsigned char key[KEY_MAX];
	struct slot *s;
	struct tt_group *g;
	uint64_t life;
	uint32_t seen;
	int err = 0;
	size_t klen;

	if (f && !tt_filter_match_row(f, r))
		return 0;
	klen = make_key(&t->by, r, host ? host : "", key, NULL);
	s = find_or_add(t, key, klen, r, host, &err);
	if (!s)
		return err;
	g = &s->g;
	life = life_in_group(r, (size_t)(s - t->slots));
	if (!tt_idmap_get(t->lives, life, &seen)) {
		g->conns++;
		if ((err = tt_idmap_put(t->lives, life, 1)))
			return err;
	}
	if (!g->first_ns || c->first_ns < g->first_ns)
		g->first_ns = c->first_ns;
	if (c->last_ns > g->last_ns)
		g->last_ns = c->last_ns;
	if (t->by.keys[0] == TT_G_CONN && t->by.n == 1)
		g->conn = r->conn; /* the owner may have become known */
	g->bytes_in += c->bytes_in;
	g->bytes_out += c->bytes_out;
	g->packets_in += c->packets_in;
	g->packets_out += c->packets_out;
	g->retrans += c->retrans;
	g->resets += c->resets;
	if (c->peak_in > g->peak_rate_in)
		g->peak_rate_in = c->peak_in;
	if (c->peak_out > g->peak_rate_out)
		g->peak_rate_out = c->peak_out;
	g->rtt_sum_us += c->rtt_sum_us;
	g->rtt_n += c->rtt_n;
	if (c->rtt_max_us > g->rtt_max_us)
		g->rtt_max_us = c->rtt_max_us;
	if (c->age_ns > g->duration_ns)
		g->duration_ns = c->age_ns;
	g->state = r->tot.state;
	if (r->flags & TT_ROW_CLOSED) {
		g->failed += r->close_reason == TT_CLOSE_FAILED;
		g->closed = 1;
		g->close_reason = r->close_reason;
		g->err = r->err;
	}
	return 0;
}

int tt_top_add(struct tt_top *t, const struct tt_table *tab, int64_t m2w, const char *host,
	       const struct tt_filter *f)
{
	uint64_t ts = tt_wall_ns(tab->ts_ns, m2w);
	size_t i;
	int err;

	for (i = 0; i < tab->n; i++) {
		const struct tt_row *r = &tab->rows[i];
		uint32_t rtt = r->tot.srtt_us;
		struct contrib c = {
			.r = r,
			.first_ns = ts,
			.last_ns = ts,
			.age_ns = tt_row_age_ns(r, tab->ts_ns),
			.bytes_in = r->d_bytes_in,
			.bytes_out = r->d_bytes_out,
			.packets_in = r->d_packets_in,
			.packets_out = r->d_packets_out,
			.retrans = r->d_retrans,
			.resets = r->d_resets,
			.peak_in = r->rate_in,
			.peak_out = r->rate_out,
			.rtt_sum_us = rtt,
			.rtt_n = rtt ? 1 : 0,
			.rtt_max_us = rtt,
		};

		if (!tt_row_active(r))
			continue;
		if ((err = add_contrib(t, &c, host, f)))
			return err;
	}
	return 0;
}

int tt_top_add_piece(struct tt_top *t, const struct tt_piece *p, const char *host,
		     const struct tt_filter *f)
{
	const struct tt_ix_piece *s = &p->sum;
	struct tt_row r = { .conn = p->conn, .open_ns = p->conn.open_ns };
	struct contrib c = {
		.r = &r,
		.first_ns = s->first_ns,
		.last_ns = s->last_ns,
		.age_ns = s->age_ns,
		.bytes_in = s->bytes_in,
		.bytes_out = s->bytes_out,
		.packets_in = s->packets_in,
		.packets_out = s->packets_out,
		.retrans = s->retrans,
		.resets = s->resets,
		.peak_in = s->peak_rate_in,
		.peak_out = s->peak_rate_out,
		.rtt_sum_us = s->rtt_sum_us,
		.rtt_n = s->rtt_n,
		.rtt_max_us = s->rtt_max_us,
	};

	r.tot.state = s->state;
	if (s->closed) {
		r.flags = TT_ROW_CLOSED;
		r.close_reason = p->close_reason;
		r.err = p->err;
	}
	return add_contrib(t, &c, host, f);
}

const struct tt_group *tt_top_lookup(const struct tt_top *t, const struct tt_group *g)
{
	const struct slot *o = (const struct slot *)g; /* g is the first member of its slot */
	uint64_t h = tt_fnv1a(o->key, o->klen, TT_FNV1A_INIT);
	uint32_t idx;

	while (tt_idmap_get(t->index, h, &idx)) {
		const struct slot *s = &t->slots[idx];

		if (s->klen == o->klen && !memcmp(s->key, o->key, o->klen))
			return &s->g;
		h++;
	}
	return NULL;
}

static double window_rate(const struct tt_group *g, uint64_t ns)
{
	return g && ns ? ((double)g->bytes_in + (double)g->bytes_out) * 1e9 / (double)ns : 0;
}

static int cmp_change(const void *pa, const void *pb)
{
	const struct tt_change *a = pa, *b = pb;

	if (a->score != b->score)
		return a->score < b->score ? 1 : -1;
	return 0;
}

long tt_top_diff(struct tt_top *base, uint64_t base_ns, struct tt_top *win, uint64_t win_ns,
		 struct tt_change **out)
{
	const struct tt_group **g0 = NULL, **g1 = NULL;
	struct tt_change *ch;
	long n0, n1, i;
	size_t n = 0;

	*out = NULL;
	n0 = tt_top_rank(base, TT_BY_BYTES, &g0);
	n1 = tt_top_rank(win, TT_BY_BYTES, &g1);
	if (n0 < 0 || n1 < 0 || !(ch = calloc((size_t)(n0 + n1) + 1, sizeof(*ch))))
		return -ENOMEM;
	for (i = 0; i < n1; i++) {
		ch[n].win = g1[i];
		ch[n].base = tt_top_lookup(base, g1[i]);
		n++;
	}
	for (i = 0; i < n0; i++)
		if (!tt_top_lookup(win, g0[i])) /* the others are paired above */
			ch[n++].base = g0[i];
	for (i = 0; i < (long)n; i++) {
		ch[i].rate_base = window_rate(ch[i].base, base_ns);
		ch[i].rate_win = window_rate(ch[i].win, win_ns);
		ch[i].score = fabs(ch[i].rate_win - ch[i].rate_base);
	}
	qsort(ch, n, sizeof(*ch), cmp_change);
	*out = ch;
	return (long)n;
}

uint64_t tt_group_rtt_us(const struct tt_group *g)
{
	return g->rtt_n ? g->rtt_sum_us / g->rtt_n : 0;
}

static double metric(const struct tt_group *g, enum tt_metric by)
{
	switch (by) {
	case TT_BY_BYTES:
		return (double)g->bytes_in + (double)g->bytes_out;
	case TT_BY_TX:
		return (double)g->bytes_out;
	case TT_BY_RX:
		return (double)g->bytes_in;
	case TT_BY_RATE:
		return g->peak_rate_in + g->peak_rate_out;
	case TT_BY_PACKETS:
		return (double)g->packets_in + (double)g->packets_out;
	case TT_BY_RTT:
		return g->rtt_n ? (double)g->rtt_sum_us / (double)g->rtt_n : 0;
	case TT_BY_RETRANS:
		return (double)g->retrans;
	case TT_BY_DURATION:
		return (double)g->duration_ns;
	case TT_BY_CONNS:
		return (double)g->conns;
	case TT_BY_FAILURES:
		return (double)g->failed + (double)g->resets;
	default:
		return 0;
	}
}

struct rank_ctx {
	enum tt_metric by;
	const struct tt_top *t;
};

static int cmp_groups(const void *pa, const void *pb, void *arg)
{
	const struct rank_ctx *rc = arg;
	const struct tt_group *a = *(const struct tt_group *const *)pa;
	const struct tt_group *b = *(const struct tt_group *const *)pb;
	const struct slot *sa = (const struct slot *)a, *sb = (const struct slot *)b;
	double va = metric(a, rc->by), vb = metric(b, rc->by);
	size_t n;
	int c;

	if (va != vb)
		return va < vb ? 1 : -1;
	/* equal: by key, so the order never depends on the input's */
	n = sa->klen < sb->klen ? sa->klen : sb->klen;
	c = memcmp(sa->key, sb->key, n);
	return c ? c : (sa->klen > sb->klen) - (sa->klen < sb->klen);
}

long tt_top_rank(struct tt_top *t, enum tt_metric by, const struct tt_group ***out)
{
	struct rank_ctx rc = { .by = by, .t = t };
	size_t i;

	if (tt_grow((void **)&t->ranked, &t->ranked_cap, t->n ? t->n : 1, sizeof(*t->ranked)))
		return -ENOMEM;
	for (i = 0; i < t->n; i++)
		t->ranked[i] = &t->slots[i].g; /* g is the first member of a slot */
	qsort_r(t->ranked, t->n, sizeof(*t->ranked), cmp_groups, &rc);
	*out = t->ranked;
	return (long)t->n;
}

size_t tt_top_key_cols(const struct tt_groupby *g, int host_col, struct tt_col *cols)
{
	static const struct tt_col conn_cols[] = {
		{ "proto", "PROTO", TT_COL_STR },  { "laddr", "LOCAL", TT_COL_STR },
		{ "lport", "LPORT", TT_COL_UINT }, { "raddr", "REMOTE", TT_COL_STR },
		{ "rport", "RPORT", TT_COL_UINT }, { "pid", "PID", TT_COL_UINT },
		{ "comm", "COMM", TT_COL_STR },	   { "state", "STATE", TT_COL_STR },
	};
	size_t nc = 0, i;
	int k;

	if (host_col)
		cols[nc++] = (struct tt_col){ "host", "HOST", TT_COL_STR };
	for (k = 0; k < g->n; k++) {
		switch (g->keys[k]) {
		case TT_G_CONN:
			for (i = 0; i < sizeof(conn_cols) / sizeof(conn_cols[0]); i++)
				cols[nc++] = conn_cols[i];
			break;
		case TT_G_PID:
			cols[nc++] = (struct tt_col){ "pid", "PID", TT_COL_UINT };
			cols[nc++] = (struct tt_col){ "comm", "COMM", TT_COL_STR };
			break;
		case TT_G_PROCESS:
			cols[nc++] = (struct tt_col){ "comm", "COMM", TT_COL_STR };
			break;
		case TT_G_RHOST:
			cols[nc++] = (struct tt_col){ "raddr", "REMOTE", TT_COL_STR };
			break;
		case TT_G_RNET:
			cols[nc++] = (struct tt_col){ "rnet", "REMOTE NET", TT_COL_STR };
			break;
		case TT_G_RPORT:
			cols[nc++] = (struct tt_col){ "rport", "RPORT", TT_COL_UINT };
			break;
		case TT_G_LPORT:
			cols[nc++] = (struct tt_col){ "lport", "LPORT", TT_COL_UINT };
			break;
		case TT_G_SPORT: /* tcp 443 and udp 443 are two services */
			cols[nc++] = (struct tt_col){ "proto", "PROTO", TT_COL_STR };
			cols[nc++] = (struct tt_col){ "service_port", "SERVICE", TT_COL_UINT };
			break;
		case TT_G_CGROUP:
			cols[nc++] = (struct tt_col){ "cgroup", "CGROUP", TT_COL_UINT };
			cols[nc++] = (struct tt_col){ "cgroup_path", "CGROUP PATH", TT_COL_STR };
			cols[nc++] = (struct tt_col){ "container", "CONTAINER", TT_COL_STR };
			break;
		case TT_G_HOST:
			if (!host_col)
				cols[nc++] = (struct tt_col){ "host", "HOST", TT_COL_STR };
			break;
		default:
			break;
		}
	}
	return nc;
}

void tt_top_key_cells(struct tt_grid *grid, const struct tt_groupby *g, const struct tt_col *cols,
		      size_t first, size_t n, const struct tt_group *r)
{
	const struct tt_ev_conn *cn = &r->conn;
	char a[INET6_ADDRSTRLEN + 8], comm[TT_COMM_MAX + 1];
	size_t c;

	memcpy(comm, cn->comm, TT_COMM_MAX);
	comm[TT_COMM_MAX] = '\0';
	for (c = first; c < first + n; c++) {
		const char *key = cols[c].key;

		if (!strcmp(key, "host"))
			tt_grid_str(grid, c, r->host);
		else if (!strcmp(key, "proto"))
			tt_grid_str(grid, c, tt_proto_name(cn->proto));
		else if (!strcmp(key, "laddr"))
			tt_grid_str(grid, c, tt_fmt_addr(a, sizeof(a), cn->laddr, cn->family));
		else if (!strcmp(key, "lport"))
			tt_grid_uint(grid, c, cn->lport);
		else if (!strcmp(key, "raddr"))
			tt_grid_str(grid, c, tt_fmt_addr(a, sizeof(a), cn->raddr, cn->family));
		else if (!strcmp(key, "rport"))
			tt_grid_uint(grid, c, cn->rport);
		else if (!strcmp(key, "pid"))
			tt_grid_uint(grid, c, cn->tgid);
		else if (!strcmp(key, "comm"))
			tt_grid_str(grid, c, comm[0] ? comm : "?");
		else if (!strcmp(key, "state"))
			tt_grid_str(grid, c, r->closed ? "CLOSED" : tt_tcp_state_name(r->state));
		else if (!strcmp(key, "cgroup"))
			tt_grid_uint(grid, c, cn->cgroup);
		else if (!strcmp(key, "cgroup_path"))
			tt_grid_str(grid, c,
				    tt_cgroups_path(g->cgroups, cn->cgroup)); /* NULL: null */
		else if (!strcmp(key, "container"))
			tt_grid_str(grid, c,
				    tt_cgroup_container(tt_cgroups_path(g->cgroups, cn->cgroup), a,
							sizeof(a)));
		else if (!strcmp(key, "service_port"))
			tt_grid_uint(grid, c, r->service_port);
		else if (!strcmp(key, "rnet"))
			tt_grid_str(grid, c,
				    tt_groupby_fmt_net(a, sizeof(a), g, cn->raddr, cn->family));
	}
}

struct tt_grid *tt_top_grid(const struct tt_groupby *g, const struct tt_group *const *rows,
			    size_t nrows, size_t n, uint64_t window_ns, int host_col,
			    uint64_t interval_ns)
{
	static const struct tt_col metric_cols[] = {
		{ "conns", "CONNS", TT_COL_UINT },
		{ "bytes_in", "RX", TT_COL_BYTES },
		{ "bytes_out", "TX", TT_COL_BYTES },
		{ "rate_in", "RX/s", TT_COL_RATE },
		{ "rate_out", "TX/s", TT_COL_RATE },
		{ "peak_rate_in", "PEAK RX/s", TT_COL_RATE },
		{ "peak_rate_out", "PEAK TX/s", TT_COL_RATE },
		{ "packets_in", "PKT IN", TT_COL_UINT },
		{ "packets_out", "PKT OUT", TT_COL_UINT },
		{ "rtt_us", "RTT", TT_COL_USEC },
		{ "rtt_max_us", "RTT MAX", TT_COL_USEC },
		{ "retransmits", "RETR", TT_COL_UINT },
		{ "resets", "RST", TT_COL_UINT },
		{ "duration", "DURATION", TT_COL_DURATION },
	};
	struct tt_col cols[TT_TOP_KEY_COLS_MAX + 1 + 14];
	double secs = window_ns ? (double)window_ns / 1e9 : 0;
	size_t nc = 0, nk, i, c;
	struct tt_grid *grid;

	if (interval_ns)
		cols[nc++] = (struct tt_col){ "interval_start", "INTERVAL", TT_COL_TIME };
	nk = tt_top_key_cols(g, host_col, cols + nc);
	nc += nk;
	for (i = 0; i < sizeof(metric_cols) / sizeof(metric_cols[0]); i++)
		cols[nc++] = metric_cols[i];
	grid = tt_grid_new(cols, nc);
	if (!grid)
		return NULL;
	if (n && n < nrows)
		nrows = n;
	for (i = 0; i < nrows; i++) {
		const struct tt_group *r = rows[i];

		if (tt_grid_add_row(grid))
			break;
		c = 0;
		if (interval_ns)
			tt_grid_uint(grid, c++, interval_ns);
		tt_top_key_cells(grid, g, cols, c, nk, r);
		c += nk;
		tt_grid_uint(grid, c++, r->conns);
		tt_grid_uint(grid, c++, r->bytes_in);
		tt_grid_uint(grid, c++, r->bytes_out);
		tt_grid_real(grid, c++, secs ? (double)r->bytes_in / secs : 0);
		tt_grid_real(grid, c++, secs ? (double)r->bytes_out / secs : 0);
		tt_grid_real(grid, c++, r->peak_rate_in);
		tt_grid_real(grid, c++, r->peak_rate_out);
		tt_grid_uint(grid, c++, r->packets_in);
		tt_grid_uint(grid, c++, r->packets_out);
		if (r->rtt_n) {
			tt_grid_uint(grid, c++, r->rtt_sum_us / r->rtt_n);
			tt_grid_uint(grid, c++, r->rtt_max_us);
		} else {
			c += 2; /* no RTT sample: null, not zero */
		}
		tt_grid_uint(grid, c++, r->retrans);
		tt_grid_uint(grid, c++, r->resets);
		tt_grid_uint(grid, c++, r->duration_ns);
	}
	return grid;
}
