/*
 * events DIR...: what happened to connections in a window, in time order:
 * connects, accepts, closes (with why), resets, retransmits (per tick), other
 * TCP state changes, and the recorder's own losses.
 *
 * Rows are printed as the scan goes, not gathered first: a busy window has
 * millions of them, more than one output buffer (TT_BUF_MAX) holds. The scan
 * hands out a recording's events in time order but for a tick's worth (a
 * lifecycle event reaches the stream with the tick after its kernel time): so
 * rows wait one tick, sorted, and go out in chunks of CHUNK rows (a table is
 * aligned per chunk). Several stores are merged by time, so then every row
 * waits for the end.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cmd.h"
#include "format.h"
#include "mem.h"
#include "qargs.h"
#include "scan.h"
#include "ship.h"

enum ev_kind { K_CONNECT = 0, K_ACCEPT, K_CLOSE, K_RESET, K_RETRANSMIT, K_STATE, K_LOSS, K_MAX };

static const char *const kind_names[K_MAX] = {
	"connect", "accept", "close", "reset", "retransmit", "state", "loss",
};

struct item {
	uint64_t ts; /* Unix ns */
	enum ev_kind kind;
	struct tt_ev_conn conn;
	char host[65];
	char detail[96];
	uint64_t bytes_in, bytes_out; /* close: the connection's totals */
	int has_bytes;
};

#define CHUNK 4096 /* rows rendered and written at once */

struct ev_run {
	struct qargs *q;
	unsigned kinds; /* bit per enum ev_kind */
	struct item *items; /* waiting to be printed */
	size_t n, cap;
	struct tt_ev_loss loss; /* last loss seen in the recording */
	int oom;
	int stream; /* print as the scan goes (one store) */
	uint64_t prev_tick; /* Unix ns of the tick before the last: rows up to it are final */
	struct tt_grid *g; /* rows of the chunk being printed */
	struct tt_grid_opts go;
	struct tt_buf out;
	int failed; /* output failed, the error printed */
	uint64_t rows; /* rows printed or waiting in g */
	const char *fields; /* --fields, or NULL */
};

static const char *errno_name(unsigned e)
{
	switch (e) {
	case 0:
		return "";
	case 111:
		return "ECONNREFUSED";
	case 110:
		return "ETIMEDOUT";
	case 104:
		return "ECONNRESET";
	case 113:
		return "EHOSTUNREACH";
	case 101:
		return "ENETUNREACH";
	case 32:
		return "EPIPE";
	default:
		return "errno";
	}
}

static struct item *add(struct ev_run *r, uint64_t ts, enum ev_kind k, const struct tt_ev_conn *c,
			const char *host)
{
	struct item *it;

	if (!(r->kinds & (1u << k)) || ts < r->q->from_ns || ts > r->q->to_ns)
		return NULL;
	if (c && !tt_filter_match(&r->q->filter, c))
		return NULL;
	if (tt_grow((void **)&r->items, &r->cap, r->n + 1, sizeof(*r->items))) {
		r->oom = 1;
		return NULL;
	}
	it = &r->items[r->n++];
	memset(it, 0, sizeof(*it));
	it->ts = ts;
	it->kind = k;
	if (c)
		it->conn = *c;
	snprintf(it->host, sizeof(it->host), "%s", host ? host : "");
	return it;
}

static int cmp_items(const void *pa, const void *pb)
{
	const struct item *a = pa, *b = pb;

	if (a->ts != b->ts)
		return a->ts < b->ts ? -1 : 1;
	return (int)a->kind - (int)b->kind;
}

/* Render the chunk and write it. 0, or -EIO after printing the error. */
static int print_chunk(struct ev_run *r)
{
	int err = tt_grid_render(r->g, &r->go, &r->out);

	if (err) {
		cmd_err("events: out of memory");
		r->failed = 1;
		return -EIO;
	}
	tt_grid_clear(r->g);
	r->go.header = 0; /* once, at the top */
	if (qargs_flush(&r->out)) {
		r->failed = 1;
		return -EIO;
	}
	return 0;
}

/*
 * Print the waiting rows up to ts (all of them: UINT64_MAX), in time order. The
 * rest wait. 0, or -EIO after printing the error.
 */
static int emit(struct ev_run *r, uint64_t upto)
{
	size_t k, n;

	if (!r->n) /* an empty list has no array at all: qsort wants one */
		return 0;
	qsort(r->items, r->n, sizeof(*r->items), cmp_items);
	for (n = 0; n < r->n && r->items[n].ts <= upto; n++) {
		const struct item *it = &r->items[n];
		const struct tt_ev_conn *c = &it->conn;
		char a[64], comm[TT_COMM_MAX + 1];

		if (tt_grid_add_row(r->g)) {
			cmd_err("events: out of memory");
			r->failed = 1;
			return -EIO;
		}
		r->rows++;
		memcpy(comm, c->comm, TT_COMM_MAX);
		comm[TT_COMM_MAX] = '\0';
		tt_grid_uint(r->g, 0, it->ts);
		tt_grid_str(r->g, 1, it->host);
		tt_grid_str(r->g, 2, kind_names[it->kind]);
		if (c->proto) {
			tt_grid_str(r->g, 3, tt_proto_name(c->proto));
			tt_grid_str(r->g, 4, tt_fmt_addr(a, sizeof(a), c->laddr, c->family));
			tt_grid_uint(r->g, 5, c->lport);
			tt_grid_str(r->g, 6, tt_fmt_addr(a, sizeof(a), c->raddr, c->family));
			tt_grid_uint(r->g, 7, c->rport);
			tt_grid_uint(r->g, 8, c->tgid);
			tt_grid_str(r->g, 9, comm[0] ? comm : "?");
		}
		tt_grid_str(r->g, 10, it->detail);
		if (it->has_bytes) {
			tt_grid_uint(r->g, 11, it->bytes_in);
			tt_grid_uint(r->g, 12, it->bytes_out);
		}
		if (tt_grid_rows(r->g) >= CHUNK && print_chunk(r))
			return -EIO;
	}
	for (k = n; k < r->n; k++)
		r->items[k - n] = r->items[k];
	r->n -= n;
	return 0;
}

static int on_recording(void *ctx, const struct tt_scan_rec *rec)
{
	struct ev_run *r = ctx;

	(void)rec;
	memset(&r->loss, 0, sizeof(r->loss));
	r->prev_tick = 0;
	/* recordings of a store follow each other: the last one's rows are final */
	return r->stream ? emit(r, UINT64_MAX) : 0;
}

/*
 * One event as an item: c is its connection as the aggregator knew it (NULL:
 * unknown), d for LOSS the increase since the last one. Local and fleet alike.
 */
static void add_event(struct ev_run *r, uint64_t ts, const struct tt_event *ev,
		      const struct tt_ev_conn *c, const struct tt_ev_loss *d, const char *host)
{
	struct item *it = NULL;

	switch (ev->type) {
	case TT_EV_STATE:
		if (ev->state.new_state == TT_TCP_SYN_SENT) {
			add(r, ts, K_CONNECT, c, host);
		} else if (ev->state.old_state == TT_TCP_SYN_RECV &&
			   ev->state.new_state == TT_TCP_ESTABLISHED) {
			add(r, ts, K_ACCEPT, c, host);
		} else if ((it = add(r, ts, K_STATE, c, host))) {
			snprintf(it->detail, sizeof(it->detail), "%s -> %s%s%s",
				 tt_tcp_state_name(ev->state.old_state),
				 tt_tcp_state_name(ev->state.new_state), ev->state.err ? " " : "",
				 errno_name(ev->state.err));
		}
		break;
	case TT_EV_CLOSE: {
		static const char *const why[] = { "normal", "failed", "reset", "idle" };

		if ((it = add(r, ts, K_CLOSE, c, host))) {
			snprintf(it->detail, sizeof(it->detail), "%s%s%s",
				 ev->close.reason < 4 ? why[ev->close.reason] : "?",
				 ev->close.err ? " " : "", errno_name(ev->close.err));
			if (ev->close.err && !strcmp(errno_name(ev->close.err), "errno"))
				snprintf(it->detail, sizeof(it->detail), "%s errno %u",
					 ev->close.reason < 4 ? why[ev->close.reason] : "?",
					 ev->close.err);
			it->bytes_in = ev->close.c.bytes_in;
			it->bytes_out = ev->close.c.bytes_out;
			it->has_bytes = 1;
		}
		break;
	}
	case TT_EV_RESET:
		if ((it = add(r, ts, K_RESET, c, host)))
			snprintf(it->detail, sizeof(it->detail), "%s",
				 ev->reset.received ? "received" : "sent");
		break;
	case TT_EV_LOSS:
		if ((it = add(r, ts, K_LOSS, NULL, host)))
			snprintf(it->detail, sizeof(it->detail),
				 "ring drops +%" PRIu64 ", socket map full +%" PRIu64
				 ", peer map full +%" PRIu64,
				 d->ring_drops, d->socks_full, d->peers_full);
		break;
	default:
		break;
	}
}

/* One connection's retransmits in one tick. */
static void add_retransmit(struct ev_run *r, uint64_t ts, const struct tt_ev_conn *c,
			   uint32_t d_retrans, uint32_t tot_retrans, const char *host)
{
	struct item *it = add(r, ts, K_RETRANSMIT, c, host);

	if (it)
		snprintf(it->detail, sizeof(it->detail), "%u segments this tick (%u in all)",
			 d_retrans, tot_retrans);
}

static int on_event(void *ctx, const struct tt_scan_rec *rec, const struct tt_event *ev,
		    const struct tt_agg *agg)
{
	struct ev_run *r = ctx;
	uint64_t ts = tt_wall_ns(ev->ts_ns, rec->mono_to_wall_ns);

	if (ev->flags & TT_EVF_KEYFRAME) {
		if (ev->type == TT_EV_LOSS)
			r->loss = ev->loss; /* a baseline, not a loss of this moment */
		return 0;
	}
	switch (ev->type) {
	case TT_EV_STATE:
		add_event(r, ts, ev, tt_agg_conn(agg, ev->state.id), NULL, rec->host);
		break;
	case TT_EV_CLOSE:
		add_event(r, ts, ev, tt_agg_conn(agg, ev->close.id), NULL, rec->host);
		break;
	case TT_EV_RESET:
		add_event(r, ts, ev, tt_agg_conn(agg, ev->reset.id), NULL, rec->host);
		break;
	case TT_EV_LOSS:
		if (memcmp(&ev->loss, &r->loss, sizeof(r->loss))) {
			struct tt_ev_loss d = {
				.ring_drops = ev->loss.ring_drops - r->loss.ring_drops,
				.socks_full = ev->loss.socks_full - r->loss.socks_full,
				.peers_full = ev->loss.peers_full - r->loss.peers_full,
			};

			add_event(r, ts, ev, NULL, &d, rec->host);
		}
		r->loss = ev->loss;
		break;
	default:
		break;
	}
	return r->oom ? -ENOMEM : 0;
}

static int on_table(void *ctx, const struct tt_scan_rec *rec, const struct tt_table *t,
		    const struct tt_agg *agg)
{
	struct ev_run *r = ctx;
	uint64_t ts = tt_wall_ns(t->ts_ns, rec->mono_to_wall_ns);
	size_t i;

	(void)agg;
	for (i = 0; i < t->n; i++) {
		const struct tt_row *row = &t->rows[i];

		if (row->d_retrans)
			add_retransmit(r, ts, &row->conn, row->d_retrans, row->tot.retrans,
				       rec->host);
	}
	if (r->oom)
		return -ENOMEM;
	/* what the tick before this one held is complete now */
	if (r->stream && r->prev_tick && emit(r, r->prev_tick))
		return -EIO;
	r->prev_tick = ts;
	return 0;
}

/* A fleet event (lib/ship.h), as the local scan would have added it. */
static int on_fleet_event(void *ctx, const struct tt_fleet_event *e)
{
	struct ev_run *r = ctx;
	const struct tt_ev_conn *c = e->known ? &e->conn : NULL;

	if (e->retransmit)
		add_retransmit(r, e->ts, c, e->d_retrans, e->tot_retrans, e->host);
	else
		add_event(r, e->ts, &e->ev, c, &e->ev.loss, e->host);
	return r->oom ? -ENOMEM : 0;
}

static int parse_kinds(const char *s, unsigned *kinds)
{
	char buf[128], *tok, *save = NULL;

	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, strlen(s) + 1);
	*kinds = 0;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		int k, found = 0;

		for (k = 0; k < K_MAX; k++)
			if (!strcmp(tok, kind_names[k])) {
				*kinds |= 1u << k;
				found = 1;
			}
		if (!found)
			return -EINVAL;
	}
	return *kinds ? 0 : -EINVAL;
}

static const char events_help[] =
	"Usage: tcptop-analyze events [--type KINDS] [OPTIONS] DIR...\n"
	"Connection events of a window in time order. KINDS, comma-separated:\n"
	"connect, accept, close, reset, retransmit (per tick), state, loss\n"
	"(default: all). --fields KEYS: these columns in this order (ts, host,\n"
	"event, proto, laddr, lport, raddr, rport, pid, comm, detail, bytes_in,\n"
	"bytes_out). With --clickhouse URL [--hostname NAME,...] instead of\n"
	"DIRs, from what tcptop-analyze export sent there (docs/FLEET.md).\n\n";

static int events_opt(void *run, int argc, char **argv, int *i)
{
	struct ev_run *r = run;

	if (!strcmp(argv[*i], "--type")) {
		if (*i + 1 >= argc || parse_kinds(argv[*i + 1], &r->kinds)) {
			cmd_err("events: --type: '%s' is not a list of connect, accept, close, reset, retransmit, state, loss",
				*i + 1 < argc ? argv[*i + 1] : "");
			return 2;
		}
		(*i)++;
		return 1;
	}
	if (!strcmp(argv[*i], "--fields")) {
		r->fields = qargs_value(r->q, argc, argv, i);
		return r->fields ? 1 : 2;
	}
	return 0;
}

static int events_check(void *run)
{
	static const struct tt_col cols[] = {
		{ "ts", "TIME", TT_COL_TIME },	     { "host", "HOST", TT_COL_STR },
		{ "event", "EVENT", TT_COL_STR },    { "proto", "PROTO", TT_COL_STR },
		{ "laddr", "LOCAL", TT_COL_STR },    { "lport", "LPORT", TT_COL_UINT },
		{ "raddr", "REMOTE", TT_COL_STR },   { "rport", "RPORT", TT_COL_UINT },
		{ "pid", "PID", TT_COL_UINT },	     { "comm", "COMM", TT_COL_STR },
		{ "detail", "DETAIL", TT_COL_STR },  { "bytes_in", "RX", TT_COL_BYTES },
		{ "bytes_out", "TX", TT_COL_BYTES },
	};
	struct ev_run *r = run;
	char why[1024];

	r->g = tt_grid_new(cols, sizeof(cols) / sizeof(cols[0]));
	if (!r->g) {
		cmd_err("events: out of memory");
		return 1;
	}
	if (tt_grid_fields(r->g, r->fields, why, sizeof(why))) {
		cmd_err("events: %s", why);
		return 2;
	}
	return 0;
}

static int events_plan(void *run, struct qscan *s)
{
	struct ev_run *r = run;

	r->go.header = 1;
	r->go.fmt = r->q->fmt;
	r->go.utc = r->q->utc;
	r->stream = !r->q->ch && r->q->ndirs == 1;
	s->cb.on_recording = on_recording;
	s->cb.on_event = on_event;
	s->cb.on_table = on_table;
	return 0;
}

static int events_fleet(void *run)
{
	struct ev_run *r = run;
	const struct qargs *q = r->q;
	int err = tt_fleet_events(q->ch, q->hostnames, q->from_ns, q->to_ns, on_fleet_event, r);

	return r->oom ? -ENOMEM : err;
}

static int events_print(void *run, const struct tt_scan_stats *st)
{
	struct ev_run *r = run;

	/* a failed output printed its error: qargs_scan prints nothing more for -EIO */
	if (r->failed || emit(r, UINT64_MAX))
		return 1;
	if (!r->rows)
		qargs_nothing(r->q, st, r->kinds != (1u << K_MAX) - 1);
	else if (print_chunk(r))
		return 1;
	return 0;
}

static void events_done(void *run, int rc)
{
	struct ev_run *r = run;

	(void)rc;
	tt_grid_free(r->g);
	free(r->items);
	tt_buf_free(&r->out);
}

static const struct qcmd events_cmd = {
	.name = "events",
	.help = events_help,
	.stats = 1,
	.opt = events_opt,
	.check = events_check,
	.plan = events_plan,
	.fleet = events_fleet,
	.print = events_print,
	.done = events_done,
};

int cmd_events(int argc, char **argv)
{
	struct qargs q;
	struct ev_run r = { .q = &q, .kinds = (1u << K_MAX) - 1 };

	return qargs_main(&events_cmd, &q, &r, argc, argv);
}
