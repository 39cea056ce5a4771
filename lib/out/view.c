/*
 * view.c: see view.h. Hand-written ECMA-48 escapes, not ncurses: the screen
 * is one buffer a unit test can read (docs/architecture.md, "The view").
 *
 * A screen is built in three steps: the table's rows are filtered and sorted
 * (or summed into groups and sorted), the rows that fit are turned into cells,
 * and the columns are chosen and sized for the width: bytes and rates always,
 * then the others in order of use while they fit at their narrowest, then the
 * extra width goes to the text columns up to their natural width. A cell
 * wider than its column is abbreviated with '~' in the cell itself, never
 * cut by the terminal.
 */
#define _GNU_SOURCE /* qsort_r */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "escape.h"
#include "format.h"
#include "mem.h"
#include "report.h"
#include "view.h"

/* ---- text helpers ---- */

/*
 * Every process name and host string drawn goes through here: the shared
 * terminal escaping (escape.h: control and invalid bytes as \xNN), up to the
 * first NUL of the n bytes.
 */
static void view_escape(char *dst, size_t len, const char *src, size_t n)
{
	tt_esc_cstr(dst, len, src, strnlen(src, n));
}

/* Cells a string takes: UTF-8 continuation bytes take none. */
static size_t dwidth(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		w += ((unsigned char)*s & 0xc0) != 0x80;
	return w;
}

/* Bytes of the longest prefix of s that takes at most w cells. */
static size_t prefix_bytes(const char *s, size_t w)
{
	size_t i = 0, cells = 0;

	while (s[i]) {
		size_t j = i + 1;

		while (s[j] && ((unsigned char)s[j] & 0xc0) == 0x80)
			j++;
		if (cells + 1 > w)
			break;
		cells++;
		i = j;
	}
	return i;
}

static void spaces(struct tt_buf *b, size_t n)
{
	static const char sp[] = "                                ";

	while (n) {
		size_t k = n < sizeof(sp) - 1 ? n : sizeof(sp) - 1;

		tt_buf_add(b, sp, k);
		n -= k;
	}
}

/*
 * s in exactly w cells: padded, or abbreviated with '~' (at the end, or in the
 * middle when middle is set: an address keeps its port, a path its end).
 */
static void put_fit(struct tt_buf *b, const char *s, size_t w, int right, int middle)
{
	size_t dw = dwidth(s);

	if (dw <= w) {
		if (right)
			spaces(b, w - dw);
		tt_buf_add(b, s, strlen(s));
		if (!right)
			spaces(b, w - dw);
		return;
	}
	if (!w)
		return;
	if (middle && w >= 3) {
		size_t head = (w - 1) / 2, tail = w - 1 - head;
		const char *t = s + prefix_bytes(s, dw - tail);

		tt_buf_add(b, s, prefix_bytes(s, head));
		tt_buf_add(b, "~", 1);
		tt_buf_add(b, t, strlen(t));
	} else {
		tt_buf_add(b, s, prefix_bytes(s, w - 1));
		tt_buf_add(b, "~", 1);
	}
}

/* ---- lines: what a row of the screen shows ---- */

#define L_CLOSED  0x01
#define L_PARTIAL 0x02
#define L_RETRANS 0x04 /* retransmitted during the tick */
#define L_PEER	  0x08
#define L_NEW	  0x10

struct line {
	const struct tt_row *r; /* the connection; NULL for a group */
	char key[64]; /* the group's name */
	uint32_t conns;
	double rate_in, rate_out;
	uint64_t bytes_in, bytes_out, packets;
	uint64_t retrans;
	uint32_t srtt_us; /* the largest */
	uint64_t age_ns; /* the oldest */
	unsigned flags; /* L_*, any connection's */
};

static void line_add(struct line *l, const struct tt_row *r, uint64_t now)
{
	uint64_t age = tt_row_age_ns(r, now);

	l->conns++;
	l->rate_in += r->rate_in;
	l->rate_out += r->rate_out;
	l->bytes_in += r->tot.bytes_in;
	l->bytes_out += r->tot.bytes_out;
	l->packets += r->tot.packets_in + r->tot.packets_out;
	l->retrans += r->tot.retrans;
	l->srtt_us = r->tot.srtt_us > l->srtt_us ? r->tot.srtt_us : l->srtt_us;
	l->age_ns = age > l->age_ns ? age : l->age_ns;
	l->flags |= ((r->flags & TT_ROW_CLOSED) ? L_CLOSED : 0) |
		    ((r->flags & TT_ROW_NEW) ? L_NEW : 0) |
		    ((r->conn.flags & TT_CF_PARTIAL) ? L_PARTIAL : 0) |
		    ((r->conn.flags & TT_CF_UDP_PEER) ? L_PEER : 0) |
		    (r->d_retrans ? L_RETRANS : 0);
}

static void group_key(char *k, size_t len, const struct tt_row *r, enum tt_view_group g)
{
	char comm[TT_COMM_MAX + 1];

	switch (g) {
	case TT_VIEW_PROCESS:
		memcpy(comm, r->conn.comm, TT_COMM_MAX);
		comm[TT_COMM_MAX] = '\0';
		view_escape(k, len, comm[0] ? comm : "?", sizeof(comm));
		break;
	case TT_VIEW_HOST: {
		char a[64];

		tt_fmt_addr(a, sizeof(a), r->conn.raddr, r->conn.family);
		view_escape(k, len, a, sizeof(a));
		break;
	}
	default:
		snprintf(k, len, "%s/%u", tt_proto_name(r->conn.proto), tt_service_port(&r->conn));
		break;
	}
}

static double line_value(const struct line *l, enum tt_sort_key k)
{
	switch (k) {
	case TT_SORT_RATE:
		return l->rate_in + l->rate_out;
	case TT_SORT_BYTES:
		return (double)l->bytes_in + (double)l->bytes_out;
	case TT_SORT_PACKETS:
		return (double)l->packets;
	case TT_SORT_RTT:
		return l->srtt_us;
	case TT_SORT_RETRANS:
		return (double)l->retrans;
	case TT_SORT_DURATION:
		return (double)l->age_ns;
	default:
		return 0;
	}
}

static int cmp_line_key(const void *pa, const void *pb)
{
	return strcmp(((const struct line *)pa)->key, ((const struct line *)pb)->key);
}

static int cmp_line(const void *pa, const void *pb, void *arg)
{
	const struct line *a = pa, *b = pb;
	double va = line_value(a, *(const enum tt_sort_key *)arg);
	double vb = line_value(b, *(const enum tt_sort_key *)arg);

	if (va != vb)
		return va < vb ? 1 : -1;
	return strcmp(a->key, b->key);
}

/* The screen's lines, the rows they come from, and the memory for both. */
struct lines {
	struct tt_row *rows; /* filtered copy of the table's rows */
	size_t rcap, nrows; /* nrows: connections that matched */
	struct line *l;
	size_t lcap, n;
};

static int match(const struct tt_filter *a, const struct tt_filter *b, const struct tt_row *r)
{
	return (!a || tt_filter_match_row(a, r)) && (!b || tt_filter_match_row(b, r));
}

/* Filter, sort (and group) t into ls. 0 or -ENOMEM. */
static int build(struct lines *ls, const struct tt_table *t, const struct tt_filter *f1,
		 const struct tt_filter *f2, enum tt_sort_key sort, enum tt_view_group g)
{
	size_t i, n = 0;
	int err = tt_grow((void **)&ls->rows, &ls->rcap, t->n ? t->n : 1, sizeof(*ls->rows));

	if (!err)
		err = tt_grow((void **)&ls->l, &ls->lcap, t->n ? t->n : 1, sizeof(*ls->l));
	if (err)
		return err;
	for (i = 0; i < t->n; i++)
		if (match(f1, f2, &t->rows[i]))
			ls->rows[n++] = t->rows[i];
	ls->nrows = n;
	if (g == TT_VIEW_CONN) {
		tt_rows_sort(ls->rows, n, sort, t->ts_ns);
		for (i = 0; i < n; i++) {
			memset(&ls->l[i], 0, sizeof(ls->l[i]));
			ls->l[i].r = &ls->rows[i];
			line_add(&ls->l[i], &ls->rows[i], t->ts_ns);
		}
		ls->n = n;
		return 0;
	}
	/* one line per connection with its key, sorted by key, then merged */
	for (i = 0; i < n; i++) {
		memset(&ls->l[i], 0, sizeof(ls->l[i]));
		group_key(ls->l[i].key, sizeof(ls->l[i].key), &ls->rows[i], g);
		line_add(&ls->l[i], &ls->rows[i], t->ts_ns);
	}
	qsort(ls->l, n, sizeof(*ls->l), cmp_line_key);
	ls->n = 0;
	for (i = 0; i < n; i++) {
		struct line *d = ls->n ? &ls->l[ls->n - 1] : NULL;
		const struct line *s = &ls->l[i];

		if (d && !strcmp(d->key, s->key)) {
			d->conns += s->conns;
			d->rate_in += s->rate_in;
			d->rate_out += s->rate_out;
			d->bytes_in += s->bytes_in;
			d->bytes_out += s->bytes_out;
			d->packets += s->packets;
			d->retrans += s->retrans;
			d->srtt_us = s->srtt_us > d->srtt_us ? s->srtt_us : d->srtt_us;
			d->age_ns = s->age_ns > d->age_ns ? s->age_ns : d->age_ns;
			d->flags |= s->flags;
		} else {
			ls->l[ls->n++] = *s;
		}
	}
	qsort_r(ls->l, ls->n, sizeof(*ls->l), cmp_line, &sort);
	return 0;
}

static void lines_free(struct lines *ls)
{
	free(ls->rows);
	free(ls->l);
	memset(ls, 0, sizeof(*ls));
}

/* ---- columns ---- */

enum col {
	C_PID,
	C_COMM,
	C_KEY,
	C_CONNS,
	C_PROT,
	C_LOCAL,
	C_REMOTE,
	C_STATE,
	C_RXS,
	C_TXS,
	C_RX,
	C_TX,
	C_RTT,
	C_RETR,
	C_AGE,
	C_FLAGS,
	NCOL
};

struct coldef {
	const char *head;
	unsigned char right; /* right-aligned (numbers) */
	unsigned char middle; /* abbreviated in the middle (addresses) */
	unsigned char minw; /* narrowest it is shown at; 0: its natural width (numbers) */
	unsigned char prio; /* 0: always shown; then lower first */
	unsigned char group; /* 1: connections only, 2: groups only, 0: both */
};

static const struct coldef cols[NCOL] = {
	[C_PID] = { "PID", 1, 0, 0, 5, 1 },	   [C_COMM] = { "COMM", 0, 0, 6, 1, 1 },
	[C_KEY] = { "", 0, 1, 10, 0, 2 },	   [C_CONNS] = { "CONNS", 1, 0, 0, 1, 2 },
	[C_PROT] = { "PROT", 0, 0, 0, 10, 1 },	   [C_LOCAL] = { "LOCAL", 0, 1, 12, 7, 1 },
	[C_REMOTE] = { "REMOTE", 0, 1, 12, 2, 1 }, [C_STATE] = { "STATE", 0, 0, 0, 8, 1 },
	[C_RXS] = { "RX/s", 1, 0, 0, 0, 0 },	   [C_TXS] = { "TX/s", 1, 0, 0, 0, 0 },
	[C_RX] = { "RX", 1, 0, 0, 0, 0 },	   [C_TX] = { "TX", 1, 0, 0, 0, 0 },
	[C_RTT] = { "RTT", 1, 0, 0, 6, 0 },	   [C_RETR] = { "RETR", 1, 0, 0, 4, 0 },
	[C_AGE] = { "AGE", 1, 0, 0, 9, 0 },	   [C_FLAGS] = { "FLAGS", 0, 0, 5, 3, 0 },
};

#define CELL 64

/* The cells of one line; flags in full words and in letters. */
struct cells {
	char c[NCOL][CELL];
	char letters[8];
};

static void flag_words(char *w, size_t wl, char *letters, unsigned f)
{
	static const struct {
		unsigned bit;
		const char *word;
		char letter;
	} fl[] = { { L_CLOSED, "closed", 'C' },
		   { L_NEW, "new", 'N' },
		   { L_RETRANS, "retrans", 'R' },
		   { L_PARTIAL, "partial", 'P' },
		   { L_PEER, "peer", 'U' } };
	size_t i, n = 0, k = 0;

	w[0] = '\0';
	for (i = 0; i < sizeof(fl) / sizeof(fl[0]); i++) {
		if (!(f & fl[i].bit))
			continue;
		n += (size_t)snprintf(w + n, n < wl ? wl - n : 0, "%s%s", n ? "," : "", fl[i].word);
		letters[k++] = fl[i].letter;
	}
	letters[k] = '\0';
}

static void make_cells(struct cells *c, const struct line *l, uint64_t now, enum tt_view_group g)
{
	char tmp[CELL];

	memset(c, 0, sizeof(*c));
	if (l->r) {
		const struct tt_row *r = l->r;
		char comm[TT_COMM_MAX + 1];

		snprintf(c->c[C_PID], CELL, "%u", r->conn.tgid);
		memcpy(comm, r->conn.comm, TT_COMM_MAX);
		comm[TT_COMM_MAX] = '\0';
		view_escape(c->c[C_COMM], CELL, comm[0] ? comm : "?", sizeof(comm));
		snprintf(c->c[C_PROT], CELL, "%s", tt_proto_name(r->conn.proto));
		tt_fmt_endpoint(tmp, sizeof(tmp), r->conn.laddr, r->conn.lport, r->conn.family);
		view_escape(c->c[C_LOCAL], CELL, tmp, sizeof(tmp));
		tt_fmt_endpoint(tmp, sizeof(tmp), r->conn.raddr, r->conn.rport, r->conn.family);
		view_escape(c->c[C_REMOTE], CELL, tmp, sizeof(tmp));
		snprintf(c->c[C_STATE], CELL, "%s", tt_tcp_state_name(r->tot.state));
		tt_fmt_duration(c->c[C_AGE], CELL, tt_row_age_ns(r, now));
	} else {
		(void)g;
		snprintf(c->c[C_KEY], CELL, "%s", l->key);
		snprintf(c->c[C_CONNS], CELL, "%u", l->conns);
		tt_fmt_duration(c->c[C_AGE], CELL, l->age_ns);
	}
	/* rates under a "/s" header: the unit once, not in every cell */
	tt_fmt_bytes(c->c[C_RXS], CELL, l->rate_in < 0 ? 0 : (uint64_t)(l->rate_in + 0.5));
	tt_fmt_bytes(c->c[C_TXS], CELL, l->rate_out < 0 ? 0 : (uint64_t)(l->rate_out + 0.5));
	tt_fmt_bytes(c->c[C_RX], CELL, l->bytes_in);
	tt_fmt_bytes(c->c[C_TX], CELL, l->bytes_out);
	if (l->srtt_us)
		snprintf(c->c[C_RTT], CELL, "%.2fms", l->srtt_us / 1000.0);
	else
		snprintf(c->c[C_RTT], CELL, "-");
	snprintf(c->c[C_RETR], CELL, "%" PRIu64, l->retrans);
	flag_words(c->c[C_FLAGS], CELL, c->letters, l->flags);
}

/* nat: the widest header or cell of each column so far, c one more line (NULL: the headers). */
static void measure(unsigned nat[NCOL], const struct cells *c, const char *keyhead)
{
	unsigned k;

	for (k = 0; k < NCOL; k++) {
		size_t d = dwidth(c ? c->c[k] : k == C_KEY ? keyhead : cols[k].head);

		if (!c)
			nat[k] = 0;
		nat[k] = d > nat[k] ? (unsigned)d : nat[k];
	}
}

/* Widths for the columns shown (0: not shown) at width W (0: all, natural), from measure. */
static void fit(unsigned w[NCOL], const unsigned measured[NCOL], enum tt_view_group g, unsigned W)
{
	unsigned nat[NCOL], minw[NCOL], used = 0, prio, k;

	for (k = 0; k < NCOL; k++) {
		nat[k] = measured[k];
		minw[k] = cols[k].minw && cols[k].minw < nat[k] ? cols[k].minw : nat[k];
		w[k] = 0;
		if ((cols[k].group == 1 && g != TT_VIEW_CONN) ||
		    (cols[k].group == 2 && g == TT_VIEW_CONN))
			nat[k] = minw[k] = 0; /* not in this mode */
	}
	if (!W) {
		for (k = 0; k < NCOL; k++)
			w[k] = nat[k];
		return;
	}
	for (prio = 0; prio <= 10; prio++)
		for (k = 0; k < NCOL; k++) {
			unsigned need;

			if (cols[k].prio != prio || !nat[k])
				continue;
			/* whole if it fits, else at its narrowest if that fits */
			need = nat[k] + (used ? 1 : 0);
			if (prio && used + need > W)
				need = minw[k] + (used ? 1 : 0);
			if (prio == 0 || used + need <= W) {
				w[k] = need - (used ? 1 : 0);
				used += need;
			}
		}
	/* what is left widens the abbreviated columns, in the same order */
	for (prio = 0; prio <= 10 && used < W; prio++)
		for (k = 0; k < NCOL; k++) {
			unsigned more;

			if (cols[k].prio != prio || !w[k] || w[k] >= nat[k])
				continue;
			more = nat[k] - w[k] < W - used ? nat[k] - w[k] : W - used;
			w[k] += more;
			used += more;
		}
}

static void put_row(struct tt_buf *b, const struct cells *c, const unsigned w[NCOL], int head,
		    const char *keyhead)
{
	unsigned k, first = 1;

	for (k = 0; k < NCOL; k++) {
		const char *s;

		if (!w[k])
			continue;
		if (!first)
			tt_buf_add(b, " ", 1);
		first = 0;
		if (head)
			s = k == C_KEY ? keyhead : cols[k].head;
		else if (k == C_FLAGS && dwidth(c->c[k]) > w[k])
			s = c->letters; /* C N R P U: the help says which is which */
		else
			s = c->c[k];
		put_fit(b, s, w[k], cols[k].right, cols[k].middle);
	}
}

static const char *const group_names[TT_VIEW_GROUP_MAX] = { "connection", "process", "remote host",
							    "service port" };
static const char *const group_heads[TT_VIEW_GROUP_MAX] = { "", "PROCESS", "REMOTE HOST",
							    "SERVICE" };

/* ---- the header ---- */

static void totals_line(struct tt_buf *b, const struct tt_table *t, size_t shown_from,
			size_t shown_to, size_t nlines, size_t matched, enum tt_view_group g)
{
	char rin[32], rout[32], bin[32], bout[32];

	tt_buf_printf(b, "conns %zu", t->n);
	if (matched != t->n)
		tt_buf_printf(b, " (%zu match)", matched);
	if (g != TT_VIEW_CONN)
		tt_buf_printf(b, "  %zu %s%s", nlines, group_names[g],
			      nlines == 1 ? "" : (g == TT_VIEW_PROCESS ? "es" : "s"));
	if (shown_to < nlines || shown_from)
		tt_buf_printf(b, "  rows %zu-%zu of %zu", nlines ? shown_from + 1 : 0, shown_to,
			      nlines);
	tt_buf_printf(b, "  new %u  closed %u  in %s (%s)  out %s (%s)", t->opened, t->closed,
		      tt_fmt_rate(rin, sizeof(rin), t->rate_in),
		      tt_fmt_bytes(bin, sizeof(bin), t->bytes_in),
		      tt_fmt_rate(rout, sizeof(rout), t->rate_out),
		      tt_fmt_bytes(bout, sizeof(bout), t->bytes_out));
}

static int lossy(const struct tt_table *t)
{
	return t->loss.ring_drops || t->loss.socks_full || t->loss.peers_full;
}

static void losses_line(struct tt_buf *b, const struct tt_table *t)
{
	if (!lossy(t)) {
		tt_buf_printf(b, "losses: none");
		return;
	}
	tt_buf_printf(b,
		      "losses: ring %" PRIu64 "  socket-map-full %" PRIu64
		      "  peer-map-full %" PRIu64 "  (SOME CONNECTIONS OR EVENTS WERE NOT RECORDED)",
		      t->loss.ring_drops, t->loss.socks_full, t->loss.peers_full);
}

/* ---- plain text ---- */

int tt_view_render(struct tt_buf *b, const struct tt_table *t, const struct tt_view_opts *o,
		   struct tt_row **scratch, size_t *cap)
{
	struct lines ls = { .rows = *scratch, .rcap = *cap };
	struct cells c;
	size_t i, shown;
	unsigned w[NCOL], nat[NCOL];
	char when[64];
	int err;

	err = build(&ls, t, o->filter, NULL, o->sort, o->group);
	*scratch = ls.rows;
	*cap = ls.rcap;
	if (err)
		goto out;
	shown = o->top && o->top < ls.n ? o->top : ls.n;
	/* the cells twice (measured, then printed) rather than a kilobyte per row kept */
	measure(nat, NULL, group_heads[o->group]);
	for (i = 0; i < shown; i++) {
		make_cells(&c, &ls.l[i], t->ts_ns, o->group);
		measure(nat, &c, NULL);
	}
	fit(w, nat, o->group, o->width);

	/* milliseconds: ticks can be shorter than a second, and a replay steps by ticks */
	tt_fmt_time(when, sizeof(when), tt_wall_ns(t->ts_ns, o->mono_to_wall_ns), o->utc,
		    TT_TIME_MS | TT_TIME_ZONE);
	tt_buf_printf(b, "%s  %s  ", o->title ? o->title : "tcptop", when);
	if (!o->hide_seq)
		tt_buf_printf(b, "tick %" PRIu64 " ", t->seq);
	tt_buf_printf(b, "(%.2fs)\n", (double)(t->ts_ns - t->start_ns) / 1e9);
	totals_line(b, t, 0, shown, ls.n, ls.nrows, o->group);
	tt_buf_add(b, "\n", 1);
	losses_line(b, t);
	tt_buf_printf(b, "  sort: %s\n\n", tt_sort_key_name(o->sort));
	put_row(b, NULL, w, 1, group_heads[o->group]);
	tt_buf_add(b, "\n", 1);
	for (i = 0; i < shown; i++) {
		make_cells(&c, &ls.l[i], t->ts_ns, o->group);
		put_row(b, &c, w, 0, NULL);
		tt_buf_add(b, "\n", 1);
	}
	err = b->err;
out:
	free(ls.l);
	return err;
}

/* ---- interactive ---- */

struct tt_view {
	struct tt_view_ui_opts o;
	char *title, *where;
	char status[160];
	char msg[160];
	struct tt_table t; /* a copy; rows below */
	struct tt_row *rows;
	size_t rows_cap;
	int have_table;
	int64_t m2w;
	struct lines ls;
	struct cells *cells;
	size_t cells_cap;
	struct tt_filter filter; /* typed at the / prompt */
	char filter_text[64];
	enum tt_view_group group;
	size_t scroll; /* first line shown */
	size_t body; /* lines the last draw had for rows */
	int paused;
	int help;
	char prompt; /* '/' or 'g' while typing, else 0 */
	char input[64];
	size_t input_len;
	char goto_text[64];
};

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

struct tt_view *tt_view_new(const struct tt_view_ui_opts *o)
{
	struct tt_view *v = calloc(1, sizeof(*v));

	if (!v)
		return NULL;
	v->o = *o;
	v->title = dup_or_null(o->title ? o->title : "tcptop");
	v->where = dup_or_null(o->where);
	if (!v->title || (o->where && !v->where)) {
		tt_view_free(v);
		return NULL;
	}
	tt_filter_init(&v->filter);
	return v;
}

void tt_view_free(struct tt_view *v)
{
	if (!v)
		return;
	free(v->title);
	free(v->where);
	free(v->rows);
	free(v->cells);
	lines_free(&v->ls);
	free(v);
}

int tt_view_set_table(struct tt_view *v, const struct tt_table *t, int64_t m2w)
{
	int err = tt_grow((void **)&v->rows, &v->rows_cap, t->n ? t->n : 1, sizeof(*v->rows));

	if (err)
		return err;
	if (t->n)
		memcpy(v->rows, t->rows, t->n * sizeof(*v->rows));
	v->t = *t;
	v->t.rows = v->rows;
	v->m2w = m2w;
	v->have_table = 1;
	return 0;
}

void tt_view_set_status(struct tt_view *v, const char *status)
{
	snprintf(v->status, sizeof(v->status), "%s", status ? status : "");
}

void tt_view_say(struct tt_view *v, const char *msg)
{
	snprintf(v->msg, sizeof(v->msg), "%s", msg ? msg : "");
}

int tt_view_paused(const struct tt_view *v)
{
	return v->paused;
}

const char *tt_view_goto_text(const struct tt_view *v)
{
	return v->goto_text;
}

/* The / prompt's text: a port, a pid, an address or network, else a process name. */
static void set_filter(struct tt_view *v, const char *text)
{
	char *end;
	long n;

	while (*text == ' ')
		text++;
	tt_filter_init(&v->filter);
	snprintf(v->filter_text, sizeof(v->filter_text), "%s", text);
	if (!*text)
		return;
	if (!strncmp(text, "port ", 5) || *text == ':') {
		n = strtol(text + (*text == ':' ? 1 : 5), &end, 10);
		if (!*end && n > 0 && n < 65536) {
			v->filter.port = (int)n;
			return;
		}
	}
	if (!strncmp(text, "pid ", 4)) {
		n = strtol(text + 4, &end, 10);
		if (!*end && n > 0 && n <= 0x7fffffff) {
			v->filter.pid = (uint32_t)n;
			return;
		}
	}
	n = strtol(text, &end, 10);
	if (!*end && n > 0 && n < 65536) { /* a bare number: a port */
		v->filter.port = (int)n;
		return;
	}
	if (!tt_filter_parse_host(text, &v->filter))
		return;
	/* a glob as it is; a plain word matches anywhere in the name */
	if (strpbrk(text, "*?["))
		snprintf(v->filter.comm, sizeof(v->filter.comm), "%s", text);
	else
		snprintf(v->filter.comm, sizeof(v->filter.comm), "*%.*s*",
			 (int)sizeof(v->filter.comm) - 3, text);
}

/* Length of the key at in[0..n): an escape sequence whole, else one byte. */
static size_t key_len(const unsigned char *in, size_t n)
{
	size_t i;

	if (in[0] != 27 || n < 2 || (in[1] != '[' && in[1] != 'O'))
		return 1;
	/* CSI: parameters then one final byte in 0x40..0x7e */
	for (i = 2; i < n; i++)
		if (in[i] >= 0x40 && in[i] <= 0x7e)
			return i + 1;
	return n;
}

static int replay_only(struct tt_view *v, int action)
{
	if (v->o.replay)
		return action;
	tt_view_say(v, "that key moves in a replay (tcptop-analyze replay); ? for the keys here");
	return TT_VIEW_NONE;
}

static int prompt_key(struct tt_view *v, const unsigned char *k, size_t len)
{
	if (k[0] == '\r' || k[0] == '\n') {
		char p = v->prompt;

		v->input[v->input_len] = '\0';
		v->prompt = 0;
		if (p == '/') {
			set_filter(v, v->input);
			v->scroll = 0;
			return TT_VIEW_NONE;
		}
		snprintf(v->goto_text, sizeof(v->goto_text), "%s", v->input);
		return TT_VIEW_GOTO;
	}
	if (k[0] == 27 && len == 1) { /* escape: cancel */
		v->prompt = 0;
	} else if ((k[0] == 127 || k[0] == 8) && v->input_len) {
		/* a whole UTF-8 character: its continuation bytes, then its first */
		while (v->input_len > 1 &&
		       ((unsigned char)v->input[v->input_len - 1] & 0xc0) == 0x80)
			v->input_len--;
		v->input_len--;
	} else if (k[0] == 21) { /* ^U */
		v->input_len = 0;
	} else if (len == 1 && k[0] >= 32 && k[0] != 127 && v->input_len + 1 < sizeof(v->input)) {
		v->input[v->input_len++] = (char)k[0]; /* UTF-8 names too: bytes >= 0x80 */
	}
	v->input[v->input_len] = '\0';
	return TT_VIEW_NONE;
}

static void open_prompt(struct tt_view *v, char which)
{
	v->prompt = which;
	v->input_len = 0; /* prompts open empty */
	v->input[0] = '\0';
}

static void set_sort(struct tt_view *v, enum tt_sort_key k)
{
	v->o.sort = k;
	v->scroll = 0;
}

int tt_view_key(struct tt_view *v, const unsigned char *in, size_t n, size_t *used)
{
	size_t len;
	size_t page = v->body > 1 ? v->body - 1 : 1;

	*used = 0;
	if (!n)
		return TT_VIEW_NONE;
	len = key_len(in, n);
	*used = len;
	if (v->prompt)
		return prompt_key(v, in, len);
	v->msg[0] = '\0';
	if (v->help) { /* any key closes the help; q and space do nothing else */
		v->help = 0;
		if (in[0] == 'q' || in[0] == '?' || in[0] == 27 || in[0] == ' ')
			return TT_VIEW_NONE;
	}
	if (len > 1) {
		char fin = (char)in[len - 1];

		if (fin == 'A')
			v->scroll = v->scroll ? v->scroll - 1 : 0;
		else if (fin == 'B')
			v->scroll++;
		else if (fin == 'C')
			return replay_only(v, TT_VIEW_STEP_FWD);
		else if (fin == 'D')
			return replay_only(v, TT_VIEW_STEP_BACK);
		else if (fin == 'H' || (fin == '~' && (in[2] == '1' || in[2] == '7')))
			v->scroll = 0;
		else if (fin == 'F' || (fin == '~' && (in[2] == '4' || in[2] == '8')))
			v->scroll = (size_t)-1 / 2; /* clamped at the draw */
		else if (fin == '~' && in[2] == '5')
			v->scroll = v->scroll > page ? v->scroll - page : 0;
		else if (fin == '~' && in[2] == '6')
			v->scroll += page;
		return TT_VIEW_NONE;
	}
	switch (in[0]) {
	case 'q':
	case 'Q':
		return TT_VIEW_QUIT;
	case ' ':
	case 'p':
	case 'P':
		v->paused = !v->paused;
		return TT_VIEW_PAUSE;
	case '?':
	case 'h':
		v->help = 1;
		break;
	case 's':
	case 'S':
		set_sort(v, (enum tt_sort_key)((v->o.sort + 1) % TT_SORT_MAX));
		break;
	case 'r':
		set_sort(v, TT_SORT_RATE);
		break;
	case 'b':
		set_sort(v, TT_SORT_BYTES);
		break;
	case 'k':
		set_sort(v, TT_SORT_PACKETS);
		break;
	case 't':
		set_sort(v, TT_SORT_RTT);
		break;
	case 'x':
		set_sort(v, TT_SORT_RETRANS);
		break;
	case 'd':
		set_sort(v, TT_SORT_DURATION);
		break;
	case 'v':
	case 'V':
		v->group = (enum tt_view_group)((v->group + 1) % TT_VIEW_GROUP_MAX);
		v->scroll = 0;
		break;
	case '/':
		open_prompt(v, '/');
		break;
	case 'g':
	case 'G':
		if (!v->o.replay)
			return replay_only(v, TT_VIEW_NONE);
		open_prompt(v, 'g');
		break;
	case '+':
	case '=':
		return replay_only(v, TT_VIEW_FASTER);
	case '-':
		return replay_only(v, TT_VIEW_SLOWER);
	case '[':
		return replay_only(v, TT_VIEW_MIN_BACK);
	case ']':
		return replay_only(v, TT_VIEW_MIN_FWD);
	default:
		break;
	}
	return TT_VIEW_NONE;
}

/* ---- drawing ---- */

#define SGR_RESET   "\033[0m"
#define SGR_HEAD    "\033[7m" /* reverse: the column header */
#define SGR_CLOSED  "\033[2m" /* dim: gone at the end of this tick */
#define SGR_RETRANS "\033[31m" /* red: retransmitted during the tick */
#define SGR_PARTIAL "\033[33m" /* yellow: open before the recorder, counts start late */
#define SGR_ALERT   "\033[1;31m" /* bold red: losses */
#define SGR_PAUSED  "\033[1;33m"

static const char *const help_text[] = {
	"Keys",
	"  q            quit",
	"  ? h          this help (any key closes it)",
	"  space p      pause / resume the screen (a live recorder goes on recording)",
	"  s            next sort key; or by column: r rate, b bytes, k packets,",
	"               t RTT, x retransmits, d age",
	"  v            group rows: connection, process, remote host, service port",
	"  /            filter: a process name (or glob), an address or CIDR, a",
	"               port (80, :80, port 80), pid N; an empty line clears it",
	"  up/down PgUp/PgDn Home/End   scroll",
	"",
	"Replay",
	"  left/right   one tick back / forward   [ ]  one minute back / forward",
	"  + -          faster / slower           g    go to a time (14:05:30, -5m,",
	"                                              start+1m, end)",
	"",
	"Columns: RX/s TX/s bytes per second in the last tick; RX TX bytes since the",
	"connection was first seen; RETR retransmitted segments; FLAGS C closed,",
	"N new, R retransmitting, P partial (open before the recorder: counts start",
	"late), U one peer of an unconnected UDP socket.",
	"Colors: red retransmitting, dim closed, yellow partial; NO_COLOR turns them off.",
};

/* One screen line: position, clear, then the text cut to width cells; none at or past limit. */
static void screen_line(struct tt_buf *b, unsigned y, unsigned limit, unsigned width, const char *s,
			int middle, const char *sgr)
{
	if (y >= limit)
		return;
	tt_buf_printf(b, "\033[%u;1H\033[2K", y + 1);
	if (sgr)
		tt_buf_printf(b, "%s", sgr);
	if (dwidth(s) > width)
		put_fit(b, s, width, 0, middle);
	else
		tt_buf_add(b, s, strlen(s));
	if (sgr)
		tt_buf_printf(b, SGR_RESET);
}

int tt_view_draw(struct tt_view *v, struct tt_buf *b, unsigned ncols, unsigned nrows)
{
	struct tt_buf tmp = { 0 };
	const struct tt_table *t = &v->t;
	unsigned w[NCOL], nat[NCOL], y = 0;
	size_t i, shown = 0, hdr = 6;
	char when[64];
	int err, color = v->o.color;

	if (!ncols)
		ncols = 80;
	if (!nrows)
		nrows = 24;
	tt_buf_printf(b, "\033[H");

	/* 1: who, when, speed and position, paused */
	tt_buf_printf(&tmp, "%s", v->title);
	if (v->paused)
		tt_buf_printf(&tmp, "  PAUSED%s", v->o.replay ? "" : " (still recording)");
	if (v->status[0])
		tt_buf_printf(&tmp, "  %s", v->status);
	if (v->have_table) {
		tt_fmt_time(when, sizeof(when), (uint64_t)((int64_t)t->ts_ns + v->m2w), v->o.utc,
			    TT_TIME_MS | TT_TIME_ZONE);
		tt_buf_printf(&tmp, "  %s", when);
		if (!v->o.replay)
			tt_buf_printf(&tmp, "  tick %" PRIu64, t->seq);
	}
	screen_line(b, y++, nrows - 1, ncols, tmp.p ? tmp.p : "", 0,
		    v->paused && color ? SGR_PAUSED : NULL);
	/* 2: what is recorded where */
	tt_buf_reset(&tmp);
	if (v->where) {
		char esc[1024], *rest;

		view_escape(esc, sizeof(esc), v->where, strlen(v->where));
		rest = strstr(esc, ", ");
		if (rest && dwidth(esc) > ncols && dwidth(rest) + 12 <= ncols) {
			/* too long: the part before the first ", " (the path) is shortened,
			 * what follows (what is kept) stays whole */
			size_t rw = dwidth(rest);

			*rest = '\0';
			put_fit(&tmp, esc, ncols - rw, 0, 1);
			*rest = ',';
			tt_buf_add(&tmp, rest, strlen(rest));
			screen_line(b, y++, nrows - 1, ncols, tmp.p ? tmp.p : "", 0, NULL);
			tt_buf_reset(&tmp);
		} else {
			screen_line(b, y++, nrows - 1, ncols, esc, 1, NULL);
		}
	} else {
		screen_line(b, y++, nrows - 1, ncols,
			    v->o.replay ? "" : "not recording: no store (-o DIR keeps it)", 0,
			    NULL);
	}
	if (!v->have_table) {
		screen_line(b, y++, nrows - 1, ncols, "waiting for the first tick...", 0, NULL);
		goto footer;
	}
	err = build(&v->ls, t, v->o.filter, &v->filter, v->o.sort, v->group);
	if (err)
		goto fail;
	if (v->o.top && v->ls.n > v->o.top)
		v->ls.n = v->o.top;
	v->body = nrows > hdr + 1 ? nrows - hdr - 1 : 1;
	if (v->ls.n <= v->body)
		v->scroll = 0;
	else if (v->scroll > v->ls.n - v->body)
		v->scroll = v->ls.n - v->body;
	shown = v->ls.n - v->scroll < v->body ? v->ls.n - v->scroll : v->body;
	/* 3: totals */
	totals_line(&tmp, t, v->scroll, v->scroll + shown, v->ls.n, v->ls.nrows, v->group);
	screen_line(b, y++, nrows - 1, ncols, tmp.p ? tmp.p : "", 0, NULL);
	tt_buf_reset(&tmp);
	/* 4: losses */
	losses_line(&tmp, t);
	screen_line(b, y++, nrows - 1, ncols, tmp.p ? tmp.p : "", 0,
		    lossy(t) && color ? SGR_ALERT : NULL);
	tt_buf_reset(&tmp);
	/* 5: how the rows are chosen */
	{
		char f[128];

		view_escape(f, sizeof(f), v->filter_text, sizeof(v->filter_text));
		tt_buf_printf(&tmp, "sort: %s  group: %s  filter: %s", tt_sort_key_name(v->o.sort),
			      group_names[v->group], f[0] ? f : "none");
	}
	screen_line(b, y++, nrows - 1, ncols, tmp.p ? tmp.p : "", 0, NULL);
	tt_buf_reset(&tmp);
	if (v->help) {
		for (i = 0; i < sizeof(help_text) / sizeof(help_text[0]) && y + 1 < nrows; i++)
			screen_line(b, y++, nrows - 1, ncols, help_text[i], 0, NULL);
		goto footer;
	}
	err = tt_grow((void **)&v->cells, &v->cells_cap, shown ? shown : 1, sizeof(*v->cells));
	if (err)
		goto fail;
	measure(nat, NULL, group_heads[v->group]);
	for (i = 0; i < shown; i++) {
		make_cells(&v->cells[i], &v->ls.l[v->scroll + i], t->ts_ns, v->group);
		measure(nat, &v->cells[i], NULL);
	}
	fit(w, nat, v->group, ncols);
	/* 6: column header, then the rows */
	put_row(&tmp, NULL, w, 1, group_heads[v->group]);
	screen_line(b, y++, nrows - 1, ncols, tmp.p ? tmp.p : "", 0, color ? SGR_HEAD : NULL);
	tt_buf_reset(&tmp);
	for (i = 0; i < shown && y + 1 < nrows; i++) {
		const struct line *l = &v->ls.l[v->scroll + i];
		const char *sgr = NULL;

		if (color)
			sgr = (l->flags & L_RETRANS)   ? SGR_RETRANS
			      : (l->flags & L_CLOSED)  ? SGR_CLOSED
			      : (l->flags & L_PARTIAL) ? SGR_PARTIAL
						       : NULL;
		put_row(&tmp, &v->cells[i], w, 0, NULL);
		screen_line(b, y++, nrows - 1, ncols, tmp.p ? tmp.p : "", 0, sgr);
		tt_buf_reset(&tmp);
	}
	if (!v->ls.n)
		screen_line(b, y++, nrows - 1, ncols,
			    v->ls.nrows == t->n ? "(no connections in this tick)"
						: "(no connection matches the filter)",
			    0, NULL);
footer:
	/* everything between the rows and the last line, cleared */
	while (y + 1 < nrows)
		tt_buf_printf(b, "\033[%u;1H\033[2K", ++y);
	if (v->prompt)
		tt_buf_printf(&tmp, "%s%s_",
			      v->prompt == '/' ? "filter (name, address/CIDR, port; empty clears): "
					       : "go to (14:05:30, -5m, start+1m, end): ",
			      v->input);
	else if (v->msg[0])
		tt_buf_printf(&tmp, "%s", v->msg);
	else
		tt_buf_printf(
			&tmp, "%s",
			v->o.replay
				? "? help  q quit  space pause  +/- speed  <- -> step  [ ] minute  g go to"
				: "? help  q quit  s sort  / filter  v group  space pause  arrows scroll");
	screen_line(b, nrows - 1, nrows, ncols, tmp.p ? tmp.p : "", 0, NULL);
	tt_buf_free(&tmp);
	return b->err;
fail:
	tt_buf_free(&tmp);
	return err;
}

int tt_view_want_color(void)
{
	const char *nc = getenv("NO_COLOR"), *term = getenv("TERM");

	if (nc && *nc)
		return 0;
	if (!term || !*term || !strcmp(term, "dumb"))
		return 0;
	/* terminfo names of terminals without color: vt100, vt220, ... */
	if (!strncmp(term, "vt", 2) && !strstr(term, "color"))
		return 0;
	return 1;
}

/* ---- the terminal ---- */

static const char enter_seq[] = "\033[?1049h\033[?25l\033[H\033[2J";
static const char leave_seq[] = "\033[0m\033[?25h\033[?1049l";
static struct termios saved_tio, raw_tio;
static int tio_saved, term_in = -1, term_out = -1, tstp_ours;
static volatile sig_atomic_t resized;
static struct sigaction saved_winch, saved_tstp;

static void on_winch(int sig)
{
	(void)sig;
	resized = 1;
}

/*
 * Ctrl-Z: the terminal back as the shell left it, then stop; once continued
 * (fg), the view's terminal again and a redraw. Async-signal-safe calls only.
 */
static void on_tstp(int sig)
{
	struct sigaction dfl, ours;
	sigset_t set;
	int e = errno;

	(void)sig;
	tt_write_all(term_out, leave_seq, sizeof(leave_seq) - 1);
	if (tio_saved)
		tcsetattr(term_in, TCSAFLUSH, &saved_tio);
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigaction(SIGTSTP, &dfl, &ours);
	raise(SIGTSTP); /* pending while this handler blocks it */
	sigemptyset(&set);
	sigaddset(&set, SIGTSTP);
	sigprocmask(SIG_UNBLOCK, &set, NULL); /* stopped here until SIGCONT */
	sigaction(SIGTSTP, &ours, NULL);
	if (tio_saved)
		tcsetattr(term_in, TCSAFLUSH, &raw_tio);
	tt_write_all(term_out, enter_seq, sizeof(enter_seq) - 1);
	resized = 1;
	errno = e;
}

int tt_view_term_open(int in_fd, int out_fd)
{
	static int at_exit;
	struct sigaction sa;

	if (term_out >= 0)
		return -EBUSY;
	if (isatty(in_fd)) {
		struct termios t;

		if (tcgetattr(in_fd, &saved_tio))
			return -errno;
		t = saved_tio;
		t.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
		t.c_cc[VMIN] = 0;
		t.c_cc[VTIME] = 0;
		if (tcsetattr(in_fd, TCSAFLUSH, &t))
			return -errno;
		raw_tio = t;
		tio_saved = 1;
		term_in = in_fd;
	}
	term_out = out_fd;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_winch; /* no SA_RESTART: a poll returns at once to redraw */
	sigaction(SIGWINCH, &sa, &saved_winch);
	/* Ctrl-Z, unless whoever started us ignores it (no job control) */
	sigaction(SIGTSTP, NULL, &saved_tstp);
	tstp_ours = saved_tstp.sa_handler == SIG_DFL;
	if (tstp_ours) {
		sa.sa_handler = on_tstp;
		sigaction(SIGTSTP, &sa, NULL);
	}
	if (!at_exit) {
		atexit(tt_view_term_close);
		at_exit = 1;
	}
	tt_write_all(out_fd, enter_seq, sizeof(enter_seq) - 1);
	return 0;
}

int tt_view_term_resized(void)
{
	int r = resized;

	resized = 0;
	return r;
}

int tt_view_term_draw(struct tt_view *v, struct tt_buf *b)
{
	struct winsize ws = { 0 };
	int err;

	if (term_out < 0)
		return -EBADF;
	if (ioctl(term_out, TIOCGWINSZ, &ws))
		ws.ws_col = ws.ws_row = 0;
	tt_buf_reset(b);
	err = tt_view_draw(v, b, ws.ws_col, ws.ws_row);
	if (err)
		return err;
	tt_write_all(term_out, b->p ? b->p : "", b->len);
	return 0;
}

void tt_view_term_close(void)
{
	if (term_out < 0)
		return;
	if (tstp_ours)
		sigaction(SIGTSTP, &saved_tstp, NULL);
	tstp_ours = 0;
	tt_write_all(term_out, leave_seq, sizeof(leave_seq) - 1);
	if (tio_saved)
		tcsetattr(term_in, TCSAFLUSH, &saved_tio);
	tio_saved = 0;
	sigaction(SIGWINCH, &saved_winch, NULL);
	term_in = term_out = -1;
}
