/*
 * qargs.c: see qargs.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <inttypes.h>

#include "buf.h"
#include "clock.h"
#include "cmd.h"
#include "format.h"
#include "progress.h"
#include "qargs.h"
#include "repair.h"
#include "ship.h"
#include "scan.h"
#include "timeparse.h"

const char qargs_help[] =
	"Window (ISO 8601 with or without zone, 14:05, -10m, now-1h, end-30s, @unix):\n"
	"  --from TIME  --to TIME     default: the whole recording\n"
	"  --last DUR                 the last DUR of the recording (e.g. 15m)\n"
	"Filters (combine):\n"
	"  --proto tcp|udp  --port N  --pid N  --comm GLOB  --host ADDR[/BITS]  --state STATE\n"
	"Output:\n"
	"  --format table|csv|json    aligned table (default), CSV, JSON lines\n"
	"  --utc                      times in UTC (default: local time)\n"
	"  --stats                    blocks, events and rollup pieces read, on stderr\n";

void qargs_init(struct qargs *a, const char *cmd)
{
	memset(a, 0, sizeof(*a));
	a->cmd = cmd;
	tt_filter_init(&a->filter);
}

static int need_value(const struct qargs *a, int argc, char **argv, int i)
{
	if (i + 1 < argc)
		return 0;
	cmd_err("%s: option '%s' needs a value", a->cmd, argv[i]);
	return 2;
}

int qargs_opt(struct qargs *a, int argc, char **argv, int *i)
{
	const char *o = argv[*i], *v = *i + 1 < argc ? argv[*i + 1] : NULL;
	char *end;
	long n;

	if (o[0] != '-' || !o[1]) {
		if (a->ndirs == QARGS_STORES_MAX) {
			cmd_err("%s: at most %d stores at once", a->cmd, QARGS_STORES_MAX);
			return 2;
		}
		a->dirs[a->ndirs++] = o;
		return 1;
	}
	if (!strcmp(o, "--utc")) {
		a->utc = 1;
		return 1;
	}
	if (!strcmp(o, "--stats")) {
		a->stats = 1;
		return 1;
	}
	if (!strcmp(o, "--clickhouse") || !strcmp(o, "--hostname")) {
		if (need_value(a, argc, argv, *i))
			return 2;
		(*i)++;
		if (!strcmp(o, "--clickhouse"))
			a->clickhouse = v;
		else
			a->hostnames = v;
		return 1;
	}
	if (strcmp(o, "--from") && strcmp(o, "--to") && strcmp(o, "--last") &&
	    strcmp(o, "--proto") && strcmp(o, "--port") && strcmp(o, "--pid") &&
	    strcmp(o, "--comm") && strcmp(o, "--host") && strcmp(o, "--state") &&
	    strcmp(o, "--format")) {
		cmd_err("%s: unknown option '%s' (see %s --help)", a->cmd, o, a->cmd);
		return 2;
	}
	if (need_value(a, argc, argv, *i))
		return 2;
	(*i)++;
	if (!strcmp(o, "--from")) {
		a->from = v;
	} else if (!strcmp(o, "--to")) {
		a->to = v;
	} else if (!strcmp(o, "--last")) {
		a->last = v;
	} else if (!strcmp(o, "--proto")) {
		if (tt_filter_parse_proto(v, &a->filter.proto)) {
			cmd_err("%s: --proto: '%s' is not tcp or udp", a->cmd, v);
			return 2;
		}
	} else if (!strcmp(o, "--port")) {
		n = strtol(v, &end, 10);
		if (*end || !*v || n < 0 || n > 65535) {
			cmd_err("%s: --port: '%s' is not a port (0-65535)", a->cmd, v);
			return 2;
		}
		a->filter.port = (int)n;
	} else if (!strcmp(o, "--pid")) {
		n = strtol(v, &end, 10);
		if (*end || !*v || n <= 0 || n > 0x7fffffffL) {
			cmd_err("%s: --pid: '%s' is not a process id", a->cmd, v);
			return 2;
		}
		a->filter.pid = (uint32_t)n;
	} else if (!strcmp(o, "--comm")) {
		if (!*v || strlen(v) >= sizeof(a->filter.comm)) {
			cmd_err("%s: --comm: pattern empty or too long", a->cmd);
			return 2;
		}
		memcpy(a->filter.comm, v, strlen(v) + 1);
	} else if (!strcmp(o, "--host")) {
		if (tt_filter_parse_host(v, &a->filter)) {
			cmd_err("%s: --host: '%s' is not an address or CIDR (10.0.0.0/8, 2001:db8::/32)",
				a->cmd, v);
			return 2;
		}
	} else if (!strcmp(o, "--state")) {
		a->filter.state = tt_tcp_state_parse(v);
		if (a->filter.state < 0) {
			cmd_err("%s: --state: '%s' is not a TCP state (ESTAB, SYN-SENT, CLOSE-WAIT, ...)",
				a->cmd, v);
			return 2;
		}
	} else if (tt_grid_fmt_parse(v, &a->fmt)) {
		cmd_err("%s: --format: '%s' is not table, csv or json", a->cmd, v);
		return 2;
	}
	return 1;
}

static void adopt_finding(void *ctx, enum tt_finding_level level, const char *what, const char *msg)
{
	const struct qargs *a = ctx;

	if (level != TT_FINDING_NOTE)
		cmd_err("%s: warning: %s: %s", a->cmd, what, msg);
}

/*
 * Blocks a recorder wrote but did not index before it died are adopted by the
 * first reader that can write the store (the index is rebuilt to name them);
 * one that cannot says how many its answer is missing. While a recorder holds
 * the store, it indexes its own blocks: nothing to say.
 */
static void adopt(const struct qargs *a, const char *dir)
{
	/* ctx is void * in the callback API; adopt_finding only reads it */
	struct tt_repair_cb cb = { .on_finding = adopt_finding, .ctx = (void *)(uintptr_t)a };
	struct tt_reindex_result res;
	uint64_t n = 0;
	char why[512];
	int err;

	err = tt_repair_adopt(dir, &cb, &n, &res, why, sizeof(why));
	if (!n || err == -EBUSY)
		return;
	if (err)
		cmd_err("%s: warning: %s: %" PRIu64
			" blocks not indexed (written before a recorder "
			"stopped uncleanly) are not in this answer; run tcptop-analyze reindex %s as "
			"a user who can write it (%s)",
			a->cmd, dir, n, dir, why);
	else
		cmd_err("%s: %s: %" PRIu64 " blocks written before a recorder stopped uncleanly "
			"but not indexed were adopted (the index was rebuilt from the segments)",
			a->cmd, dir, n);
}

int qargs_open(struct qargs *a)
{
	struct tt_time_ctx tc = { .now_ns = tt_clock_ns(CLOCK_REALTIME), .utc = a->utc };
	char why[512];
	int i;

	if (a->clickhouse && a->ndirs) {
		cmd_err("%s: give store directories or --clickhouse, not both", a->cmd);
		return 2;
	}
	if (a->hostnames && !a->clickhouse) {
		cmd_err("%s: --hostname selects hosts of --clickhouse (a store is one host)",
			a->cmd);
		return 2;
	}
	if (a->clickhouse && !a->fleet_ok) {
		cmd_err("%s: --clickhouse: not answered from ClickHouse yet (top is): export and "
			"query the stores, or use clickhouse-client (docs/FLEET.md)",
			a->cmd);
		return 2;
	}
	if (a->clickhouse) {
		int err;

		a->ch = tt_ch_new(a->clickhouse, 2, 200, why, sizeof(why));
		if (!a->ch) {
			cmd_err("%s: --clickhouse: %s", a->cmd, why);
			return 2;
		}
		err = tt_fleet_span(a->ch, a->hostnames, &a->span_start_ns, &a->span_end_ns,
				    a->fleet_hosts, sizeof(a->fleet_hosts), &a->fleet_nhosts);
		if (err == -ENODATA) {
			cmd_err("%s: %s holds no recording%s yet", a->cmd, tt_ch_dest(a->ch),
				a->hostnames ? " of those hosts" : "");
			return 1;
		}
		if (err) {
			cmd_err("%s: %s", a->cmd, tt_ch_errmsg(a->ch));
			return 1;
		}
	} else if (!a->ndirs) {
		cmd_err("%s: needs a store directory (see %s --help)", a->cmd, a->cmd);
		return 2;
	}
	for (i = 0; i < a->ndirs; i++) {
		uint64_t s, e;
		int err;

		adopt(a, a->dirs[i]);
		if (tt_store_open(a->dirs[i], TT_STORE_READ, 0, 0, &a->stores[i], why,
				  sizeof(why))) {
			cmd_err("%s: %s", a->cmd, why);
			return 1;
		}
		if (tt_store_warning(a->stores[i]))
			cmd_err("%s: warning: %s", a->cmd, tt_store_warning(a->stores[i]));
		err = tt_scan_span(a->stores[i], &s, &e);
		if (err == -EBADMSG) {
			cmd_err("%s: %s: index: recordings: a start_ns is not a time, or not one of its "
				"blocks (the index is damaged: verify, then reindex)",
				a->cmd, a->dirs[i]);
			return 1;
		}
		if (err)
			continue;
		if (!a->span_start_ns || s < a->span_start_ns)
			a->span_start_ns = s;
		if (e > a->span_end_ns)
			a->span_end_ns = e;
	}
	if (!a->span_end_ns) {
		cmd_err("%s: %s holds no recording yet", a->cmd,
			a->ndirs == 1 ? a->dirs[0] : "these stores");
		return 1;
	}
	tc.start_ns = a->span_start_ns;
	tc.end_ns = a->span_end_ns;
	if (tt_parse_window(a->from, a->to, a->last, &tc, &a->from_ns, &a->to_ns, why,
			    sizeof(why))) {
		cmd_err("%s: %s", a->cmd, why);
		return 2;
	}
	if (a->to_ns < a->span_start_ns || a->from_ns > a->span_end_ns || a->from_ns > a->to_ns) {
		char x[64], y[64];

		cmd_err("%s: the window is outside the recording (%s to %s)", a->cmd,
			tt_fmt_time(x, sizeof(x), a->span_start_ns, a->utc, 0),
			tt_fmt_time(y, sizeof(y), a->span_end_ns, a->utc, TT_TIME_ZONE));
		return 1;
	}
	/* a window reaching past the data is the data: rates divide by time recorded */
	if (a->from_ns < a->span_start_ns)
		a->from_ns = a->span_start_ns;
	if (a->to_ns > a->span_end_ns)
		a->to_ns = a->span_end_ns;
	return 0;
}

void qargs_close(struct qargs *a)
{
	int i;

	for (i = 0; i < a->ndirs; i++)
		tt_store_close(a->stores[i]);
	memset(a->stores, 0, sizeof(a->stores));
	tt_ch_free(a->ch);
	a->ch = NULL;
}

static void on_progress(void *ctx, uint64_t done, uint64_t total)
{
	progress_update(ctx, done, total);
}

int qargs_scan(struct qargs *a, uint64_t from_ns, uint64_t to_ns, const struct tt_scan_cb *cb,
	       void *ctx, struct tt_scan_stats *st)
{
	struct tt_scan_cb c = *cb;
	struct tt_scan_stats local = { 0 };
	struct progress prog;
	char why[512], warn[512] = "";
	int i, err = 0;

	if (!st)
		st = &local;
	progress_init(&prog);
	c.on_progress = on_progress;
	c.progress_ctx = &prog;
	for (i = 0; i < a->ndirs && !err; i++)
		err = tt_scan(a->stores[i], from_ns, to_ns, &c, ctx, st, warn, sizeof(warn), why,
			      sizeof(why));
	progress_done(&prog);
	if (err) {
		if (err == -ENOMEM)
			cmd_err("%s: out of memory", a->cmd);
		else if (err != -EIO || why[0])
			cmd_err("%s: %s", a->cmd, why[0] ? why : strerror(-err));
		return 1;
	}
	if (warn[0])
		cmd_err("%s: warning: %s; the rest is answered", a->cmd, warn);
	if (st->lost.ring_drops || st->lost.socks_full || st->lost.peers_full)
		cmd_err("%s: warning: the recorder lost %" PRIu64
			" lifecycle records and left %" PRIu64 " sockets and %" PRIu64
			" UDP flows uncounted here: some numbers are short",
			a->cmd, st->lost.ring_drops, st->lost.socks_full, st->lost.peers_full);
	return 0;
}

void qargs_print_stats(const struct qargs *a, const struct tt_scan_stats *st)
{
	if (!a->stats)
		return;
	fprintf(stderr,
		"stats: recordings %" PRIu64 ", blocks read %" PRIu64 " of %" PRIu64
		" (selected %" PRIu64 ", damaged %" PRIu64 ", skipped after damage %" PRIu64
		"), warm-up blocks %" PRIu64 ", events %" PRIu64 ", ticks %" PRIu64
		", rollup pieces %" PRIu64 "%s",
		st->recordings, st->blocks_read, st->blocks_total, st->blocks_selected,
		st->blocks_damaged, st->blocks_unsynced, st->blocks_warmup, st->events, st->ticks,
		st->pieces, st->headers_damaged ? "" : "\n");
	/* only when there are some: the line stays as it was for intact stores */
	if (st->headers_damaged)
		fprintf(stderr, ", damaged file headers %" PRIu64 " (their blocks read)\n",
			st->headers_damaged);
}

int qargs_flush(struct tt_buf *b)
{
	if (b->err) {
		cmd_err("output: %s", b->err == -ENOMEM ? "out of memory" : "too large");
		return 1;
	}
	if (b->len && fwrite(b->p, 1, b->len, stdout) != b->len) {
		cmd_err("output: write failed");
		return 1;
	}
	fflush(stdout);
	tt_buf_reset(b);
	return 0;
}

void qargs_nothing(const struct qargs *a, const struct tt_scan_stats *st, int filtered)
{
	const struct tt_filter *f = &a->filter;

	filtered |= f->proto || f->pid || f->port >= 0 || f->comm[0] || f->host_bits >= 0 ||
		    f->state >= 0;
	if (filtered)
		cmd_err("%s: nothing matched the filter in the window", a->cmd);
	else if (st && (st->blocks_damaged || st->blocks_unsynced))
		cmd_err("%s: nothing readable in the window: every block of it is damaged or "
			"follows damage (warned above)",
			a->cmd);
	else
		cmd_err("%s: nothing recorded in the window", a->cmd);
}

int qargs_range(struct qargs *q, const char *name, const char *spec, uint64_t *from_ns,
		uint64_t *to_ns)
{
	struct tt_time_ctx tc = { .utc = q->utc,
				  .start_ns = q->span_start_ns,
				  .end_ns = q->span_end_ns };
	const char *dots = strstr(spec, "..");
	char from[128];

	tc.now_ns = tt_clock_ns(CLOCK_REALTIME);
	if (!dots || (size_t)(dots - spec) >= sizeof(from)) {
		cmd_err("%s: %s: '%s' is not FROM..TO (e.g. 14:00..14:10, -1h..-50m)", q->cmd, name,
			spec);
		return 2;
	}
	memcpy(from, spec, (size_t)(dots - spec));
	from[dots - spec] = '\0';
	if (tt_parse_time(from, &tc, from_ns) || tt_parse_time(dots + 2, &tc, to_ns)) {
		cmd_err("%s: %s: '%s': a time is malformed (e.g. 14:00..14:10, -1h..-50m)", q->cmd,
			name, spec);
		return 2;
	}
	if (*from_ns >= *to_ns) {
		cmd_err("%s: %s: '%s' ends before it starts", q->cmd, name, spec);
		return 2;
	}
	if (*to_ns <= q->span_start_ns || *from_ns >= q->span_end_ns) {
		cmd_err("%s: %s: '%s' is outside the recording", q->cmd, name, spec);
		return 1;
	}
	return 0;
}

const char *qargs_value(const struct qargs *a, int argc, char **argv, int *i)
{
	if (need_value(a, argc, argv, *i))
		return NULL;
	return argv[++*i];
}

/* The options: 0 to go on, -1 after printing --help, 2 after a usage error. */
static int parse(const struct qcmd *c, struct qargs *q, void *run, int argc, char **argv)
{
	int i, taken;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			printf("%s%s", c->help, c->help_alone ? "" : qargs_help);
			return -1;
		}
		taken = c->opt ? c->opt(run, argc, argv, &i) : 0;
		if (!taken)
			taken = qargs_opt(q, argc, argv, &i);
		if (taken == 2)
			return 2;
	}
	return 0;
}

int qargs_main(const struct qcmd *c, struct qargs *q, void *run, int argc, char **argv)
{
	struct qscan s = { .cb = { 0 } };
	struct tt_scan_stats st = { 0 };
	int rc;

	/* what each step returns is the exit code already (0: on to the next) */
	qargs_init(q, c->name);
	q->fleet_ok = c->fleet != NULL;
	rc = parse(c, q, run, argc, argv);
	if (rc < 0) {
		rc = 0; /* --help */
		goto out;
	}
	if (rc || (c->check && (rc = c->check(run))) || (rc = qargs_open(q)))
		goto out;
	s.from_ns = q->from_ns;
	s.to_ns = q->to_ns;
	if (c->plan && (rc = c->plan(run, &s)))
		goto out;
	rc = 1;
	if (q->ch) {
		int err = c->fleet(run);

		if (err == -ENOMEM)
			cmd_err("%s: out of memory", c->name);
		else if (err)
			cmd_err("%s: %s", c->name, tt_ch_errmsg(q->ch));
		if (err)
			goto out;
	} else if ((s.cb.on_recording || s.cb.on_event || s.cb.on_table || s.cb.on_piece) &&
		   qargs_scan(q, s.from_ns, s.to_ns, &s.cb, run, &st)) {
		goto out;
	}
	rc = c->print ? c->print(run, &st) : 0;
	if (!rc && c->stats)
		qargs_print_stats(q, &st);
out:
	if (c->done)
		c->done(run, rc);
	qargs_close(q);
	return rc;
}
