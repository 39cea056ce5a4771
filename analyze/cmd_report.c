/*
 * report DIR... -o FILE: the post-mortem of a window as one self-contained HTML
 * file (drawn by lib/html.c) to attach to a ticket.
 *
 * Two passes over the window (three with --baseline). The first builds the
 * tables exactly as `top` does (lib/report.c: same grouping, same metrics,
 * same ranking), the summary and the host's time series, bucketed by the rule
 * `timeline` uses (lib/bucket.c). Which connections are the top ones is known
 * only once the whole window is ranked, so a second pass, over just the span
 * those connections were seen in, follows them bucket by bucket; keeping
 * every connection's series through the first pass instead would cost memory
 * in proportion to the connections of the window. --baseline scans its own
 * window into a table grouped as `diff` groups, and compares the two with
 * diff's own computation (tt_top_diff).
 *
 * The file is written to a temporary name in the same directory and renamed
 * into place, so an interrupted or failed run never leaves half a report.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bucket.h"
#include "buf.h"
#include "clock.h"
#include "cmd.h"
#include "html.h"
#include "progress.h"
#include "qargs.h"
#include "report.h"
#include "scan.h"

#define POINTS	150 /* buckets per chart: smooth lines, still a few pixels each */
#define GIGA	UINT64_C(1000000000)
#define NTRACKS (4 * TT_HTML_TOP) /* two charts of TT_HTML_TOP lines, two ends each */

/* The groupings the report keeps, one tt_top each. */
enum { T_CONN, T_PROC, T_RHOST, T_SPORT, T_RST, T_DIFF, NTOPS };
static const char *const top_group[NTOPS] = {
	[T_CONN] = "conn",
	[T_PROC] = "process",
	[T_RHOST] = "remote-host",
	[T_SPORT] = "service-port",
	[T_RST] = "remote-host,service-port",
	[T_DIFF] = "remote-host,process", /* diff's default */
};

/* The tables, in the page's order: which grouping, ranked by what. */
#define NTABLES 8
static const struct {
	const char *id, *title;
	int top; /* T_* */
	int by; /* a metric; -1: the --by one */
	int positive; /* only groups with some of it */
} tables[NTABLES] = {
	{ "table-conn", "By connection", T_CONN, -1, 0 },
	{ "table-process", "By process", T_PROC, -1, 0 },
	{ "table-rhost", "By remote host", T_RHOST, -1, 0 },
	{ "table-sport", "By service port", T_SPORT, -1, 0 },
	{ "table-conn-retrans", "Top retransmitters: connections", T_CONN, TT_BY_RETRANS, 1 },
	{ "table-rhost-retrans", "Top retransmitters: remote hosts", T_RHOST, TT_BY_RETRANS, 1 },
	{ "table-process-failures", "Failures by process", T_PROC, TT_BY_FAILURES, 1 },
	{ "table-rhost-failures", "Failures by remote host", T_RHOST, TT_BY_FAILURES, 1 },
};

/* One connection end followed through the second pass. */
struct track {
	const struct tt_group *g;
	uint64_t id, open_mono; /* its lifetime's key, as report.c groups by conn */
	double *bytes; /* [nb] in + out */
	double *retr; /* [nb] retransmitted segments */
	double *rtt_sum;
	uint32_t *rtt_n;
	uint8_t *seen; /* [nb] it was in a tick of the bucket */
	uint64_t open_ns, close_ns; /* Unix ns */
};

/* A line of a chart: one connection, one or two ends (a local connection). */
struct line {
	int a, b; /* tracks; b -1 when the other end is not recorded here */
	double *rate, *rtt, *retr; /* [nb] what the charts draw (NAN: none) */
};

struct rp_run {
	struct qargs *q;
	struct tt_store *st; /* the store being scanned */
	int pass; /* 1 the window, 2 the top connections, 3 the baseline */
	struct tt_top *tops[NTOPS];
	struct tt_groupby gb[NTOPS];
	struct tt_top *base; /* --baseline, grouped as tops[T_DIFF] */
	uint64_t base_from, base_to;
	struct progress prog;
	uint64_t rec_serial; /* recordings scanned so far, to tell them apart */
	char hosts[512], kernels[512];
	int nhosts;
	/* summary */
	uint64_t ticks, opened, closed, resets, retrans, failed;
	double peak_in, peak_out;
	struct tt_ev_loss loss; /* during the window, summed over recordings */
	struct tt_ev_loss loss_prev; /* the recording's losses before its current tick */
	int rec_in_window; /* the recording has had a tick in the window */
	uint64_t tick_ns;
	/* buckets, set up at the first tick in the window */
	struct tt_buckets grid;
	size_t nb;
	double *in, *out; /* bytes, then bytes/s */
	uint64_t *cov; /* ns of ticks in the bucket, the most any one recording had */
	uint64_t *cov_acc, *cov_rec; /* the current recording's sum, and which recording */
	uint64_t *opened_b, *resets_b, *failed_b, *retrans_b;
	double *others, *retr_others; /* [nb] */
	/* second pass */
	struct track tr[NTRACKS];
	size_t ntr;
	struct line lines[2][TT_HTML_TOP]; /* by the --by metric, by retransmits */
	size_t nlines[2];
	int others_any[2]; /* connections beyond the lines had some */
	uint64_t from2, to2;
};

/* ---- a report that is never half written ---------------------------------- */

static char tmp_path[4096]; /* the temporary file while it exists: the signal handler removes it */

static void on_signal(int sig)
{
	if (tmp_path[0])
		unlink(tmp_path);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Create the temporary file next to path; its fd, or -1 after printing why. */
static int tmp_create(const char *path)
{
	const char *slash = strrchr(path, '/');
	int n, fd;
	mode_t um;

	if (slash)
		n = snprintf(tmp_path, sizeof(tmp_path), "%.*s/.%s.XXXXXX", (int)(slash - path),
			     path, slash + 1);
	else
		n = snprintf(tmp_path, sizeof(tmp_path), ".%s.XXXXXX", path);
	if (n < 0 || (size_t)n >= sizeof(tmp_path)) {
		tmp_path[0] = '\0';
		cmd_err("report: %s: path too long", path);
		return -1;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	fd = mkstemp(tmp_path);
	if (fd < 0) {
		cmd_err("report: cannot create a file next to %s: %s", path, strerror(errno));
		tmp_path[0] = '\0';
		return -1;
	}
	/* a report is made to be shared: the mode any new file of the user's gets */
	um = umask(0);
	umask(um);
	if (fchmod(fd, 0666 & ~um))
		cmd_err("report: warning: %s: chmod: %s", tmp_path, strerror(errno));
	return fd;
}

static void tmp_discard(int fd)
{
	if (fd >= 0)
		close(fd);
	if (tmp_path[0])
		unlink(tmp_path);
	tmp_path[0] = '\0';
}

/* Write b to fd, fsync, close and move into place. 0, or 1 after printing why. */
static int tmp_commit(int fd, const struct tt_buf *b, const char *path, int force)
{
	int err = tt_write_all(fd, b->p, b->len);

	if (err) {
		cmd_err("report: %s: write: %s", tmp_path, strerror(-err));
		goto fail;
	}
	if (fsync(fd)) {
		cmd_err("report: %s: fsync: %s", tmp_path, strerror(errno));
		goto fail;
	}
	if (close(fd)) {
		fd = -1;
		cmd_err("report: %s: close: %s", tmp_path, strerror(errno));
		goto fail;
	}
	fd = -1;
	if (force) {
		if (rename(tmp_path, path)) {
			cmd_err("report: %s: %s", path, strerror(errno));
			goto fail;
		}
	} else if (renameat2(AT_FDCWD, tmp_path, AT_FDCWD, path, RENAME_NOREPLACE)) {
		/* no RENAME_NOREPLACE on this file system: link() refuses to replace too */
		if ((errno != EINVAL && errno != ENOSYS) || link(tmp_path, path)) {
			cmd_err("report: %s: %s%s", path, strerror(errno),
				errno == EEXIST ? " (--force to overwrite)" : "");
			goto fail;
		}
		unlink(tmp_path);
	}
	tmp_path[0] = '\0';
	return 0;
fail:
	tmp_discard(fd);
	return 1;
}

/* ---- the scan -------------------------------------------------------------- */
/* ---- the scan -------------------------------------------------------------- */

static void add_name(char *list, size_t len, const char *name, int *count)
{
	size_t l = strlen(list), n = strlen(name);
	const char *p;

	for (p = strstr(list, name); p; p = strstr(p + 1, name))
		if ((p == list || p[-1] == ' ') && (p[n] == ',' || !p[n]))
			return; /* already listed */
	if (l + n + 3 >= len)
		return;
	snprintf(list + l, len - l, "%s%s", l ? ", " : "", name);
	if (count)
		(*count)++;
}

static int add_kernel(void *ctx, const struct tt_store_rec *rec)
{
	struct rp_run *r = ctx;

	if (rec->kernel)
		add_name(r->kernels, sizeof(r->kernels), rec->kernel, NULL);
	return 0;
}

static int on_recording(void *ctx, const struct tt_scan_rec *rec)
{
	struct rp_run *r = ctx;

	r->rec_serial++;
	memset(&r->loss_prev, 0, sizeof(r->loss_prev));
	r->rec_in_window = 0;
	if (r->pass != 1)
		return 0;
	add_name(r->hosts, sizeof(r->hosts), rec->host && *rec->host ? rec->host : "?", &r->nhosts);
	/* a recording the index cannot name a kernel for names none */
	tt_store_recording(r->st, rec->id, 0, add_kernel, r);
	return 0;
}

static int on_event(void *ctx, const struct tt_scan_rec *rec, const struct tt_event *ev,
		    const struct tt_agg *agg)
{
	struct rp_run *r = ctx;

	(void)rec;
	(void)agg;
	/* a block's keyframe states the losses so far: a baseline, not a loss in the window */
	if (ev->type == TT_EV_LOSS && (ev->flags & TT_EVF_KEYFRAME) && !r->rec_in_window)
		r->loss_prev = ev->loss;
	return 0;
}

static uint64_t grew(uint64_t now, uint64_t before)
{
	return now > before ? now - before : 0;
}

/*
 * The bucket grid, from the first tick in the window: about POINTS buckets of
 * whole ticks, cut by lib/bucket.c's rule, the one `timeline` uses.
 */
static int buckets_setup(struct rp_run *r, const struct tt_table *t)
{
	uint64_t win = r->q->to_ns - r->q->from_ns, m;

	r->tick_ns = t->ts_ns > t->start_ns ? t->ts_ns - t->start_ns : GIGA;
	m = (uint64_t)llround((double)win / POINTS / (double)r->tick_ns);
	if (tt_buckets_init(&r->grid, r->q->from_ns, r->q->from_ns, r->q->to_ns,
			    (m ? m : 1) * r->tick_ns))
		return -EINVAL;
	r->nb = r->grid.n;
	r->in = calloc(r->nb, sizeof(*r->in));
	r->out = calloc(r->nb, sizeof(*r->out));
	r->cov = calloc(r->nb, sizeof(*r->cov));
	r->cov_acc = calloc(r->nb, sizeof(*r->cov_acc));
	r->cov_rec = calloc(r->nb, sizeof(*r->cov_rec));
	r->opened_b = calloc(r->nb, sizeof(*r->opened_b));
	r->resets_b = calloc(r->nb, sizeof(*r->resets_b));
	r->failed_b = calloc(r->nb, sizeof(*r->failed_b));
	r->retrans_b = calloc(r->nb, sizeof(*r->retrans_b));
	r->others = calloc(r->nb, sizeof(*r->others));
	r->retr_others = calloc(r->nb, sizeof(*r->retr_others));
	if (!r->in || !r->out || !r->cov || !r->cov_acc || !r->cov_rec || !r->opened_b ||
	    !r->resets_b || !r->failed_b || !r->retrans_b || !r->others || !r->retr_others)
		return -ENOMEM;
	return 0;
}

static int pass1_table(struct rp_run *r, const struct tt_scan_rec *rec, const struct tt_table *t,
		       uint64_t ts)
{
	const char *host = rec->host ? rec->host : "";
	double tick_in = 0, tick_out = 0;
	size_t i, k;
	int err;

	if (!r->nb && (err = buckets_setup(r, t)))
		return err;
	k = tt_bucket_of(&r->grid, ts);
	if (k >= r->nb)
		return 0; /* not reached: the tick ends in the window */
	/*
	 * Rates divide by the time the ticks covered, not the bucket's length: a
	 * bucket the recording only partly covered (its start, its end, a gap)
	 * is not diluted, and several stores at once do not add up their time.
	 */
	if (r->cov_rec[k] != r->rec_serial) {
		r->cov_rec[k] = r->rec_serial;
		r->cov_acc[k] = 0;
	}
	r->cov_acc[k] += t->ts_ns > t->start_ns ? t->ts_ns - t->start_ns : 0;
	if (r->cov_acc[k] > r->cov[k])
		r->cov[k] = r->cov_acc[k];
	r->loss.ring_drops += grew(t->loss.ring_drops, r->loss_prev.ring_drops);
	r->loss.socks_full += grew(t->loss.socks_full, r->loss_prev.socks_full);
	r->loss.peers_full += grew(t->loss.peers_full, r->loss_prev.peers_full);
	r->loss_prev = t->loss;
	r->rec_in_window = 1;
	r->ticks++;
	for (i = 0; i < NTOPS; i++)
		if (r->tops[i] &&
		    (err = tt_top_add(r->tops[i], t, rec->mono_to_wall_ns, host, &r->q->filter)))
			return err;
	for (i = 0; i < t->n; i++) {
		const struct tt_row *row = &t->rows[i];
		int failed = (row->flags & TT_ROW_CLOSED) && row->close_reason == TT_CLOSE_FAILED;

		if (!tt_filter_match_row(&r->q->filter, row))
			continue;
		r->in[k] += (double)row->d_bytes_in;
		r->out[k] += (double)row->d_bytes_out;
		tick_in += row->rate_in;
		tick_out += row->rate_out;
		if (row->flags & TT_ROW_NEW) {
			r->opened++;
			r->opened_b[k]++;
		}
		r->closed += !!(row->flags & TT_ROW_CLOSED);
		r->failed += failed;
		r->failed_b[k] += failed;
		r->resets += row->d_resets;
		r->resets_b[k] += row->d_resets;
		r->retrans += row->d_retrans;
		r->retrans_b[k] += row->d_retrans;
	}
	if (tick_in > r->peak_in)
		r->peak_in = tick_in;
	if (tick_out > r->peak_out)
		r->peak_out = tick_out;
	return 0;
}

static int pass2_table(struct rp_run *r, const struct tt_scan_rec *rec, const struct tt_table *t,
		       uint64_t ts)
{
	const char *host = rec->host ? rec->host : "";
	int64_t m2w = rec->mono_to_wall_ns;
	size_t i, j, k = tt_bucket_of(&r->grid, ts);

	if (ts <= r->from2 || ts > r->to2 || k >= r->nb)
		return 0;
	for (i = 0; i < t->n; i++) {
		const struct tt_row *row = &t->rows[i];

		for (j = 0; j < r->ntr; j++) {
			struct track *c = &r->tr[j];

			if (row->conn.id != c->id || row->open_ns != c->open_mono ||
			    strcmp(host, c->g->host))
				continue;
			/* the same rows the table summed: a --state filter may drop some */
			if (!tt_filter_match_row(&r->q->filter, row))
				break;
			c->bytes[k] += (double)(row->d_bytes_in + row->d_bytes_out);
			c->retr[k] += row->d_retrans;
			c->seen[k] = 1;
			if (row->tot.srtt_us) {
				c->rtt_sum[k] += row->tot.srtt_us;
				c->rtt_n[k]++;
			}
			if (!c->open_ns)
				c->open_ns = tt_wall_ns(row->open_ns, m2w);
			if ((row->flags & TT_ROW_CLOSED) && row->close_ns)
				c->close_ns = tt_wall_ns(row->close_ns, m2w);
			break;
		}
	}
	return 0;
}

static int on_table(void *ctx, const struct tt_scan_rec *rec, const struct tt_table *t,
		    const struct tt_agg *agg)
{
	struct rp_run *r = ctx;
	uint64_t ts = tt_wall_ns(t->ts_ns, rec->mono_to_wall_ns);

	(void)agg;
	if (r->pass == 3) /* the baseline: what diff adds for its --baseline */
		return ts <= r->base_from || ts > r->base_to
			       ? 0
			       : tt_top_add(r->base, t, rec->mono_to_wall_ns,
					    rec->host ? rec->host : "", &r->q->filter);
	if (ts <= r->q->from_ns) {
		r->loss_prev = t->loss; /* losses before the window are not the window's */
		return 0;
	}
	if (ts > r->q->to_ns)
		return 0; /* the tick ends outside the window */
	return r->pass == 1 ? pass1_table(r, rec, t, ts) : pass2_table(r, rec, t, ts);
}

static void on_progress(void *ctx, uint64_t done, uint64_t total)
{
	progress_update(&((struct rp_run *)ctx)->prog, done, total);
}

static int scan_all(struct rp_run *r, uint64_t from, uint64_t to, struct tt_scan_stats *st,
		    char *warn, size_t warn_len)
{
	struct tt_scan_cb cb = { .on_recording = on_recording,
				 .on_event = on_event,
				 .on_table = on_table,
				 .on_progress = on_progress };
	char why[512];
	int i, err = 0;

	progress_init(&r->prog);
	for (i = 0; i < r->q->ndirs && !err; i++) {
		r->st = r->q->stores[i];
		err = tt_scan(r->st, from, to, &cb, r, st, warn, warn_len, why, sizeof(why));
		if (err)
			cmd_err("report: %s", err == -ENOMEM ? "out of memory" : why);
	}
	progress_done(&r->prog);
	return err;
}

/* ---- options and the command line shown in the report ---------------------- */

/* Append s to buf as one shell word. */
static void shell_word(char *buf, size_t len, const char *s)
{
	size_t l = strlen(buf);
	const char *p;

	if (l && l + 1 < len)
		buf[l++] = ' ';
	buf[l] = '\0';
	if (*s && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
			    "@%+=:,./_-") == strlen(s)) {
		snprintf(buf + l, len - l, "%s", s);
		return;
	}
	if (l + 1 < len)
		buf[l++] = '\'';
	for (p = s; *p && l + 5 < len; p++) {
		if (*p == '\'') {
			memcpy(buf + l, "'\\''", 4);
			l += 4;
		} else {
			buf[l++] = *p;
		}
	}
	if (l + 1 < len)
		buf[l++] = '\'';
	buf[l] = '\0';
}

static int is_filter(const char *o)
{
	static const char *const f[] = {
		"--proto", "--port", "--pid", "--comm", "--host", "--state"
	};
	size_t i;

	for (i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		if (!strcmp(o, f[i]))
			return 1;
	return 0;
}

static const char *const metric_names[TT_BY_MAX] = {
	[TT_BY_BYTES] = "bytes",     [TT_BY_TX] = "tx",
	[TT_BY_RX] = "rx",	     [TT_BY_RATE] = "rate",
	[TT_BY_PACKETS] = "packets", [TT_BY_RTT] = "rtt",
	[TT_BY_RETRANS] = "retrans", [TT_BY_DURATION] = "duration",
	[TT_BY_CONNS] = "conns",     [TT_BY_FAILURES] = "failures",
};

static const char help[] =
	"Usage: tcptop-analyze report -o FILE [--force] [-n N] [--by METRIC]\n"
	"                             [--baseline FROM..TO] [OPTIONS] DIR...\n"
	"A post-mortem of a window as one self-contained HTML file (no scripts, nothing\n"
	"fetched): a summary (hosts, kernel, totals, connections opened, closed and failed,\n"
	"resets, retransmits, the recorder's own losses); charts of the bandwidth, the top 5\n"
	"connections' rates (plus the others; a log axis when rates are orders of magnitude\n"
	"apart; a local connection's two ends as one line), RTT and lifetimes, retransmits\n"
	"of the top retransmitters, new connections, failed connects and resets; the top-N\n"
	"tables by connection, process, remote host and service port, the top\n"
	"retransmitters and failures: the numbers `top` gives for the same window; failed\n"
	"connects by errno and destination, resets by peer and service port.\n"
	"  -o, --output FILE     write here (- for stdout); an existing FILE needs --force\n"
	"  -n N                  rows per table (default 10)\n"
	"  --by METRIC           rank by bytes (default), tx, rx, rate, packets, rtt, retrans,\n"
	"                        duration, conns, failures\n"
	"  --baseline FROM..TO   add what `diff --baseline FROM..TO` shows for this window\n\n";

struct rp_opts {
	const char *path; /* -o */
	int force;
	unsigned n; /* rows per table */
	enum tt_metric by;
	const char *baseline; /* FROM..TO as typed; NULL: none */
	char filters[1024]; /* the filter options as typed, shell-quoted */
};

/* ---- the top connections' lines --------------------------------------------- */

static int same_addr_port(const uint8_t *a, uint16_t ap, const uint8_t *b, uint16_t bp)
{
	return ap == bp && !memcmp(a, b, 16);
}

/*
 * The other end of g when both ends were recorded here (loopback, or two
 * namespaces of this host): the mirrored tuple on the same host, alive at the
 * same time. NULL when there is none.
 */
static const struct tt_group *peer_of(const struct tt_group *g, const struct tt_group *const *all,
				      size_t n)
{
	const struct tt_ev_conn *c = &g->conn;
	size_t i;

	for (i = 0; i < n; i++) {
		const struct tt_group *p = all[i];
		const struct tt_ev_conn *d = &p->conn;

		if (p != g && d->proto == c->proto && d->family == c->family &&
		    same_addr_port(d->laddr, d->lport, c->raddr, c->rport) &&
		    same_addr_port(d->raddr, d->rport, c->laddr, c->lport) &&
		    !strcmp(p->host, g->host) && p->first_ns <= g->last_ns &&
		    g->first_ns <= p->last_ns)
			return p;
	}
	return NULL;
}

/* The track following g, added if new; -1 when out of room or memory. */
static int track_of(struct rp_run *r, const struct tt_group *g)
{
	struct track *c;
	size_t k;

	for (k = 0; k < r->ntr; k++)
		if (r->tr[k].g == g)
			return (int)k;
	if (r->ntr == NTRACKS)
		return -1;
	c = &r->tr[r->ntr];
	c->g = g;
	c->id = g->conn.id;
	c->open_mono = g->conn.open_ns;
	c->bytes = calloc(r->nb, sizeof(*c->bytes));
	c->retr = calloc(r->nb, sizeof(*c->retr));
	c->rtt_sum = calloc(r->nb, sizeof(*c->rtt_sum));
	c->rtt_n = calloc(r->nb, sizeof(*c->rtt_n));
	c->seen = calloc(r->nb, 1);
	r->ntr++; /* freed with the run, whole or not */
	if (!c->bytes || !c->retr || !c->rtt_sum || !c->rtt_n || !c->seen)
		return -1;
	if (g->first_ns - 1 < r->from2)
		r->from2 = g->first_ns - 1;
	if (g->last_ns > r->to2)
		r->to2 = g->last_ns;
	return (int)k;
}

/*
 * The lines of chart set (0: by the --by ranking, 1: by retransmits): walk
 * the ranked connections, the other end of a line already drawn is that line.
 * 0 or -ENOMEM.
 */
static int lines_setup(struct rp_run *r, int set, const struct tt_group *const *ranked,
		       size_t nranked, const struct tt_group *const *all, size_t nall)
{
	size_t i, j, ends = 0;

#define HAS_SOME(g) (set ? (g)->retrans > 0 : (g)->bytes_in + (g)->bytes_out > 0)
	for (i = 0; i < nranked && r->nlines[set] < TT_HTML_TOP; i++) {
		const struct tt_group *g = ranked[i], *p;
		struct line *l;
		int dup = !HAS_SOME(g); /* a line at zero says nothing */

		for (j = 0; j < r->nlines[set]; j++)
			dup |= r->tr[r->lines[set][j].a].g == g ||
			       (r->lines[set][j].b >= 0 && r->tr[r->lines[set][j].b].g == g);
		if (dup)
			continue;
		l = &r->lines[set][r->nlines[set]++];
		p = peer_of(g, all, nall);
		l->a = track_of(r, g);
		l->b = p ? track_of(r, p) : -1;
		l->rate = calloc(r->nb, sizeof(*l->rate));
		l->rtt = calloc(r->nb, sizeof(*l->rtt));
		l->retr = calloc(r->nb, sizeof(*l->retr));
		if (l->a < 0 || (p && l->b < 0) || !l->rate || !l->rtt || !l->retr)
			return -ENOMEM;
		ends += HAS_SOME(g) + (p && HAS_SOME(p));
	}
	/* others: more connection ends had some (bytes, or retransmits) than the lines hold */
	for (i = j = 0; i < nall; i++)
		j += HAS_SOME(all[i]);
#undef HAS_SOME
	r->others_any[set] = j > ends;
	return 0;
}

/* Bytes into rates, over the time the bucket's ticks covered; NAN where nothing was. */
static void to_rates(struct rp_run *r)
{
	size_t k, j, s;

	for (k = 0; k < r->nb; k++) {
		double secs = (double)r->cov[k] / 1e9, top = 0, topr = 0;

		for (s = 0; s < 2; s++)
			for (j = 0; j < r->nlines[s]; j++) {
				struct line *l = &r->lines[s][j];
				const struct track *a = &r->tr[l->a],
						   *b = l->b >= 0 ? &r->tr[l->b] : NULL;
				int seen = a->seen[k] || (b && b->seen[k]);

				/* one end's bytes: the other end moved the same ones */
				l->rate[k] = a->seen[k] && secs > 0 ? a->bytes[k] / secs : NAN;
				l->rtt[k] = a->rtt_n[k]	       ? a->rtt_sum[k] / a->rtt_n[k]
					    : b && b->rtt_n[k] ? b->rtt_sum[k] / b->rtt_n[k]
							       : NAN;
				l->retr[k] = seen ? a->retr[k] + (b ? b->retr[k] : 0) : NAN;
				if (s == 0)
					top += a->bytes[k] + (b ? b->bytes[k] : 0);
				else
					topr += a->retr[k] + (b ? b->retr[k] : 0);
			}
		/* others: the host's sums less the lines' (both ends of a local one) */
		r->others[k] = secs > 0 ? fmax(r->in[k] + r->out[k] - top, 0) / secs : NAN;
		r->retr_others[k] = secs > 0 ? fmax((double)r->retrans_b[k] - topr, 0) : NAN;
		r->in[k] = secs > 0 ? r->in[k] / secs : NAN;
		r->out[k] = secs > 0 ? r->out[k] / secs : NAN;
	}
}

/* ---- failed connects by errno and destination ------------------------------- */

static int cmp_fail_key(const void *pa, const void *pb)
{
	const struct tt_html_fail *a = pa, *b = pb;
	int c = strcmp(a->host, b->host);

	if (c)
		return c;
	if (a->err != b->err)
		return a->err < b->err ? -1 : 1;
	if (a->dest.proto != b->dest.proto)
		return a->dest.proto < b->dest.proto ? -1 : 1;
	if ((c = memcmp(a->dest.raddr, b->dest.raddr, 16)))
		return c;
	if (a->dest.rport != b->dest.rport)
		return a->dest.rport < b->dest.rport ? -1 : 1;
	return memcmp(a->dest.comm, b->dest.comm, TT_COMM_MAX);
}

static int cmp_fail_count(const void *pa, const void *pb)
{
	const struct tt_html_fail *a = pa, *b = pb;

	if (a->count != b->count)
		return a->count < b->count ? 1 : -1;
	return cmp_fail_key(pa, pb);
}

/*
 * The connections that failed to connect (from every by-connection group: the
 * lifetimes `top` lists and `events` closes as failed), summed by host, errno,
 * protocol and destination, most first. *out (free() it); their number or -ENOMEM.
 */
static long fails_make(const struct tt_group *const *all, size_t n, struct tt_html_fail **out)
{
	struct tt_html_fail *f;
	size_t i, m = 0, w;

	*out = NULL;
	f = calloc(n + 1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		const struct tt_group *g = all[i];
		struct tt_html_fail *x = &f[m];

		if (!g->failed)
			continue;
		x->dest.proto = g->conn.proto;
		x->dest.family = g->conn.family;
		memcpy(x->dest.raddr, g->conn.raddr, 16);
		x->dest.rport = g->conn.rport;
		memcpy(x->dest.comm, g->conn.comm, TT_COMM_MAX);
		snprintf(x->host, sizeof(x->host), "%s", g->host);
		x->err = g->err;
		x->count = g->failed;
		x->first_ns = x->last_ns = g->last_ns;
		x->nprocs = 1;
		m++;
	}
	if (m)
		qsort(f, m, sizeof(*f), cmp_fail_key);
	/* merge runs of one key; the sort put one process's tries together */
	for (i = 0, w = 0; i < m; i++) {
		struct tt_html_fail *x = &f[w - (w > 0)];
		int same = w && !strcmp(x->host, f[i].host) && x->err == f[i].err &&
			   x->dest.proto == f[i].dest.proto &&
			   !memcmp(x->dest.raddr, f[i].dest.raddr, 16) &&
			   x->dest.rport == f[i].dest.rport;

		if (!same) {
			f[w++] = f[i];
			continue;
		}
		x->nprocs += !!memcmp(f[i - 1].dest.comm, f[i].dest.comm, TT_COMM_MAX);
		x->count += f[i].count;
		if (f[i].first_ns < x->first_ns)
			x->first_ns = f[i].first_ns;
		if (f[i].last_ns > x->last_ns)
			x->last_ns = f[i].last_ns;
	}
	if (w)
		qsort(f, w, sizeof(*f), cmp_fail_count);
	*out = f;
	return (long)w;
}

/* ---- the page ------------------------------------------------------------------ */

/* A ranking of tops[top] by by, copied (a tt_top holds one ranking at a time). */
struct ranking {
	const struct tt_group **rows;
	size_t n; /* groups with some of the metric when positive */
	size_t all; /* groups in all */
};

static double amount(const struct tt_group *g, int by)
{
	return by == TT_BY_RETRANS    ? (double)g->retrans
	       : by == TT_BY_FAILURES ? (double)g->failed + (double)g->resets
				      : 1;
}

static int rank_copy(struct tt_top *t, int by, int positive, struct ranking *out)
{
	const struct tt_group **rows;
	long n = tt_top_rank(t, (enum tt_metric)by, &rows), i;

	if (n < 0 || !(out->rows = malloc(((size_t)n + 1) * sizeof(*rows))))
		return -ENOMEM;
	out->all = (size_t)n;
	out->n = 0;
	for (i = 0; i < n; i++)
		if (!positive || amount(rows[i], by) > 0)
			out->rows[out->n++] = rows[i];
	return 0;
}

/* What the page shows, pointing into r; strings into the caller's buffers. */
struct page {
	struct tt_html_report h;
	struct tt_html_conn hc[2][TT_HTML_TOP];
	struct tt_html_table tabs[NTABLES];
	char command[4096], diff_command[4096], stores[2048];
};

static void conn_of_line(struct tt_html_conn *hc, const struct rp_run *r, const struct line *l)
{
	const struct track *a = &r->tr[l->a];

	hc->g = a->g;
	hc->peer = l->b >= 0 ? r->tr[l->b].g : NULL;
	hc->open_ns = a->open_ns;
	hc->close_ns = a->close_ns;
	hc->rate = l->rate;
	hc->rtt_us = l->rtt;
	hc->retrans = l->retr;
}

static void page_fill(struct page *p, const struct rp_run *r, const struct rp_opts *o,
		      const struct ranking *rk, const struct ranking *conns, const char *warn)
{
	const struct qargs *q = r->q;
	struct tt_html_report *h = &p->h;
	size_t k, s;
	int i;

	for (i = 0; i < q->ndirs; i++)
		shell_word(p->stores, sizeof(p->stores), q->dirs[i]);
	snprintf(p->command, sizeof(p->command),
		 "tcptop-analyze top -n %u --by %s --from @%" PRIu64 ".%09" PRIu64 " --to @%" PRIu64
		 ".%09" PRIu64 "%s%s %s",
		 o->n, metric_names[o->by], q->from_ns / GIGA, q->from_ns % GIGA, q->to_ns / GIGA,
		 q->to_ns % GIGA, o->filters[0] ? " " : "", o->filters, p->stores);
	h->hosts = r->hosts;
	h->kernels = r->kernels;
	h->stores = p->stores;
	h->filters = o->filters;
	h->command = p->command;
	h->warning = warn;
	h->metric = metric_names[o->by];
	h->from_ns = q->from_ns;
	h->to_ns = q->to_ns;
	h->generated_ns = tt_clock_ns(CLOCK_REALTIME);
	h->utc = q->utc;
	h->host_col = r->nhosts > 1 || q->ndirs > 1; /* as top decides it */
	h->tick_ns = r->tick_ns;
	h->ticks = r->ticks;
	/* totals as top's heading sums them: over the connection groups */
	h->conns = (uint64_t)conns->all;
	for (k = 0; k < conns->all; k++) {
		h->bytes_in += conns->rows[k]->bytes_in;
		h->bytes_out += conns->rows[k]->bytes_out;
	}
	h->peak_in = r->peak_in;
	h->peak_out = r->peak_out;
	h->opened = r->opened;
	h->closed = r->closed;
	h->resets = r->resets;
	h->retrans = r->retrans;
	h->failed = r->failed;
	h->loss = r->loss;
	h->nbuckets = r->nb;
	h->bucket_ns = r->grid.width_ns;
	h->bucket0_ns = r->grid.t0_ns;
	h->rate_in = r->in;
	h->rate_out = r->out;
	h->opened_b = r->opened_b;
	h->resets_b = r->resets_b;
	h->failed_b = r->failed_b;
	for (s = 0; s < 2; s++)
		for (k = 0; k < r->nlines[s]; k++)
			conn_of_line(&p->hc[s][k], r, &r->lines[s][k]);
	h->conns_top = p->hc[0];
	h->nconns_top = r->nlines[0];
	h->rate_others = r->nb && r->others_any[0] ? r->others : NULL;
	h->retr_top = p->hc[1];
	h->nretr_top = r->nlines[1];
	h->retr_others = r->nb && r->others_any[1] ? r->retr_others : NULL;
	for (k = 0; k < NTABLES; k++) {
		struct tt_html_table *t = &p->tabs[k];

		t->id = tables[k].id;
		t->title = tables[k].title;
		t->metric = metric_names[tables[k].by < 0 ? (int)o->by : tables[k].by];
		t->by = &r->gb[tables[k].top];
		t->rows = rk[k].rows;
		t->ngroups = rk[k].n;
		t->nrows = rk[k].n < o->n ? rk[k].n : o->n;
		t->colors = tables[k].top == T_CONN
				    ? (tables[k].by == TT_BY_RETRANS ? p->hc[1] : p->hc[0])
				    : NULL;
		t->ncolors = tables[k].top == T_CONN
				     ? r->nlines[tables[k].by == TT_BY_RETRANS ? 1 : 0]
				     : 0;
	}
	h->tables = p->tabs;
	h->ntables = NTABLES;
}

static void free_run(struct rp_run *r)
{
	size_t i, s;

	for (i = 0; i < NTOPS; i++)
		tt_top_free(r->tops[i]);
	tt_top_free(r->base);
	for (i = 0; i < NTRACKS; i++) {
		free(r->tr[i].bytes);
		free(r->tr[i].retr);
		free(r->tr[i].rtt_sum);
		free(r->tr[i].rtt_n);
		free(r->tr[i].seen);
	}
	for (s = 0; s < 2; s++)
		for (i = 0; i < TT_HTML_TOP; i++) {
			free(r->lines[s][i].rate);
			free(r->lines[s][i].rtt);
			free(r->lines[s][i].retr);
		}
	free(r->in);
	free(r->out);
	free(r->cov);
	free(r->cov_acc);
	free(r->cov_rec);
	free(r->opened_b);
	free(r->resets_b);
	free(r->failed_b);
	free(r->retrans_b);
	free(r->others);
	free(r->retr_others);
}

/*
 * Resets by peer and service port: the remote-host,service-port groups (what
 * `top --group-by remote-host,service-port` lists) that had one, most first.
 */
static int cmp_rst(const void *pa, const void *pb)
{
	const struct tt_html_reset *a = pa, *b = pb;

	if (a->resets != b->resets)
		return a->resets < b->resets ? 1 : -1;
	return a->conns < b->conns ? 1 : a->conns > b->conns ? -1 : 0;
}

static long rsts_make(const struct ranking *rk, struct tt_html_reset **out)
{
	struct tt_html_reset *x = calloc(rk->n + 1, sizeof(*x));
	size_t i, n = 0;

	*out = x;
	if (!x)
		return -ENOMEM;
	for (i = 0; i < rk->n; i++) {
		const struct tt_group *g = rk->rows[i];

		if (!g->resets)
			continue;
		x[n].peer = g->conn; /* raddr, family, proto */
		x[n].service_port = g->service_port;
		snprintf(x[n].host, sizeof(x[n].host), "%s", g->host);
		x[n].resets = g->resets;
		x[n].conns = g->conns;
		n++;
	}
	if (n)
		qsort(x, n, sizeof(*x), cmp_rst);
	return (long)n;
}

/* What the report holds from the options to the end. */
struct report {
	struct rp_run r;
	struct rp_opts o;
	struct ranking rk[NTABLES]; /* the tables' rows */
	struct ranking conns, rsts_rk; /* every connection; by remote host and service port */
	struct tt_html_fail *fails;
	struct tt_html_reset *rsts;
	struct tt_change *changes;
	struct page *page;
	struct tt_buf out;
	int fd; /* the temporary file; -1: none (stdout, or not made yet) */
};

static int report_opt(void *run, int argc, char **argv, int *i)
{
	struct report *rep = run;
	struct rp_opts *o = &rep->o;
	const char *a = argv[*i], *v = *i + 1 < argc ? argv[*i + 1] : NULL;
	char *end;
	long x;

	if (!strcmp(a, "--force")) {
		o->force = 1;
		return 1;
	}
	if (strcmp(a, "-o") && strcmp(a, "--output") && strcmp(a, "-n") && strcmp(a, "--by") &&
	    strcmp(a, "--baseline")) {
		/* a shared option: the filters are kept to show the diff command line */
		if (is_filter(a) && v) {
			shell_word(o->filters, sizeof(o->filters), a);
			shell_word(o->filters, sizeof(o->filters), v);
		}
		return 0;
	}
	if (!(v = qargs_value(rep->r.q, argc, argv, i)))
		return 2;
	if (!strcmp(a, "-n")) {
		x = strtol(v, &end, 10);
		if (*end || !*v || x <= 0 || x > 100000) {
			cmd_err("report: -n: '%s' is not a number from 1 to 100000", v);
			return 2;
		}
		o->n = (unsigned)x;
	} else if (!strcmp(a, "--by")) {
		x = tt_metric_parse(v);
		if (x < 0) {
			cmd_err("report: --by: '%s' is not bytes, tx, rx, rate, packets, "
				"rtt, retrans, duration, conns or failures",
				v);
			return 2;
		}
		o->by = (enum tt_metric)x;
	} else if (!strcmp(a, "--baseline")) {
		o->baseline = v;
	} else if (!*v) {
		cmd_err("report: -o: an empty file name");
		return 2;
	} else {
		o->path = v;
	}
	return 1;
}

static int report_check(void *run)
{
	struct report *rep = run;
	const struct rp_opts *o = &rep->o;

	if (!o->path) {
		cmd_err("report: needs -o FILE (see report --help)");
		return 2;
	}
	if (rep->r.q->fmt != TT_GRID_TABLE) {
		cmd_err("report: --format does not apply: the report is HTML");
		return 2;
	}
	if (strcmp(o->path, "-") && !o->force && !access(o->path, F_OK)) {
		cmd_err("report: %s exists (--force to overwrite)", o->path);
		return 1;
	}
	return 0;
}

/* The file, and the groupings: no scan here, the report makes its own passes. */
static int report_plan(void *run, struct qscan *s)
{
	struct report *rep = run;
	struct rp_run *r = &rep->r;
	const struct rp_opts *o = &rep->o;
	char why[512];
	size_t k;
	int rc;

	(void)s;
	if (o->baseline &&
	    (rc = qargs_range(r->q, "--baseline", o->baseline, &r->base_from, &r->base_to)))
		return rc;
	/* the file first: a directory that cannot take it fails before a long scan */
	if (strcmp(o->path, "-") && (rep->fd = tmp_create(o->path)) < 0)
		return 1;
	for (k = 0; k < NTOPS; k++) {
		if (tt_groupby_parse(top_group[k], &r->gb[k], why, sizeof(why)))
			goto oom;
		if (k == T_DIFF && !o->baseline)
			continue;
		if (!(r->tops[k] = tt_top_new(&r->gb[k])))
			goto oom;
	}
	if (o->baseline && !(r->base = tt_top_new(&r->gb[T_DIFF])))
		goto oom;
	return 0;
oom:
	cmd_err("report: out of memory");
	return 1;
}

static int report_print(void *run, const struct tt_scan_stats *unused)
{
	struct report *rep = run;
	struct rp_run *r = &rep->r;
	const struct rp_opts *o = &rep->o;
	const struct qargs *q = r->q;
	struct tt_scan_stats st = { 0 };
	struct page *page;
	char warn[512] = "";
	long nfails, nrsts, nch = 0;
	size_t k;
	int err;

	(void)unused;
	if (scan_all(r, q->from_ns, q->to_ns, &st, warn, sizeof(warn)))
		return 1;
	/* every connection, for the totals, the other ends and the failures */
	if (rank_copy(r->tops[T_CONN], TT_BY_BYTES, 0, &rep->conns) ||
	    rank_copy(r->tops[T_RST], TT_BY_FAILURES, 1, &rep->rsts_rk))
		goto oom;
	for (k = 0; k < NTABLES; k++)
		if (rank_copy(r->tops[tables[k].top], tables[k].by < 0 ? (int)o->by : tables[k].by,
			      tables[k].positive, &rep->rk[k]))
			goto oom;
	if ((nfails = fails_make(rep->conns.rows, rep->conns.all, &rep->fails)) < 0 ||
	    (nrsts = rsts_make(&rep->rsts_rk, &rep->rsts)) < 0)
		goto oom;
	r->from2 = q->to_ns;
	r->to2 = q->from_ns;
	if (r->nb &&
	    (lines_setup(r, 0, rep->rk[0].rows, rep->rk[0].n, rep->conns.rows, rep->conns.all) ||
	     lines_setup(r, 1, rep->rk[4].rows, rep->rk[4].n, rep->conns.rows, rep->conns.all)))
		goto oom;
	if (r->ntr) {
		r->pass = 2;
		if (scan_all(r, r->from2, r->to2, NULL, warn, sizeof(warn)))
			return 1;
	}
	if (o->baseline) {
		r->pass = 3;
		if (scan_all(r, r->base_from, r->base_to, NULL, warn, sizeof(warn)))
			return 1;
		nch = tt_top_diff(r->base, r->base_to - r->base_from, r->tops[T_DIFF],
				  q->to_ns - q->from_ns, &rep->changes);
		if (nch < 0)
			goto oom;
	}
	if (warn[0])
		cmd_err("report: warning: %s; the rest is answered", warn);
	if (r->nb)
		to_rates(r);
	page = rep->page = calloc(1, sizeof(*page));
	if (!page)
		goto oom;
	page_fill(page, r, o, rep->rk, &rep->conns, warn);
	page->h.fails = rep->fails;
	page->h.nfails_all = (size_t)nfails;
	page->h.nfails = (size_t)nfails < o->n ? (size_t)nfails : o->n;
	page->h.rsts = rep->rsts;
	page->h.nrsts_all = (size_t)nrsts;
	page->h.nrsts = (size_t)nrsts < o->n ? (size_t)nrsts : o->n;
	if (o->baseline) {
		snprintf(page->diff_command, sizeof(page->diff_command),
			 "tcptop-analyze diff -n %u --baseline @%" PRIu64 ".%09" PRIu64
			 "..@%" PRIu64 ".%09" PRIu64 " --window @%" PRIu64 ".%09" PRIu64
			 "..@%" PRIu64 ".%09" PRIu64 "%s%s %s",
			 o->n, r->base_from / GIGA, r->base_from % GIGA, r->base_to / GIGA,
			 r->base_to % GIGA, q->from_ns / GIGA, q->from_ns % GIGA, q->to_ns / GIGA,
			 q->to_ns % GIGA, o->filters[0] ? " " : "", o->filters, page->stores);
		page->h.baseline = o->baseline;
		page->h.base_from_ns = r->base_from;
		page->h.base_to_ns = r->base_to;
		page->h.diff_command = page->diff_command;
		page->h.diff_by = &r->gb[T_DIFF];
		page->h.changes = rep->changes;
		page->h.nchanges_all = (size_t)nch;
		page->h.nchanges = (size_t)nch < o->n ? (size_t)nch : o->n;
	}
	err = tt_html_report(&page->h, &rep->out);
	if (err) {
		cmd_err("report: %s", err == -ENOMEM  ? "out of memory"
				      : err == -E2BIG ? "the report would be too large (use -n)"
						      : "inconsistent data");
		return 1;
	}
	if (rep->fd < 0) {
		if (qargs_flush(&rep->out))
			return 1;
	} else {
		err = tmp_commit(rep->fd, &rep->out, o->path, o->force);
		rep->fd = -1;
		if (err)
			return 1;
	}
	/* its own line: the shared one would count the other passes' blocks as this window's */
	if (q->stats)
		fprintf(stderr,
			"stats: recordings %" PRIu64 ", blocks read %" PRIu64 " of %" PRIu64
			" (selected %" PRIu64 ", damaged %" PRIu64 "), events %" PRIu64
			", ticks %" PRIu64 " (first pass)\n",
			st.recordings, st.blocks_read, st.blocks_total, st.blocks_selected,
			st.blocks_damaged, st.events, st.ticks);
	return 0;
oom:
	cmd_err("report: out of memory");
	return 1;
}

static void report_done(void *run, int rc)
{
	struct report *rep = run;
	size_t k;

	(void)rc;
	if (rep->fd >= 0)
		tmp_discard(rep->fd);
	for (k = 0; k < NTABLES; k++)
		free(rep->rk[k].rows);
	free(rep->conns.rows);
	free(rep->rsts_rk.rows);
	free(rep->fails);
	free(rep->rsts);
	free(rep->changes);
	free(rep->page);
	free_run(&rep->r);
	tt_buf_free(&rep->out);
}

static const struct qcmd report_cmd = {
	.name = "report",
	.help = help,
	.opt = report_opt,
	.check = report_check,
	.plan = report_plan,
	.print = report_print,
	.done = report_done,
};

int cmd_report(int argc, char **argv)
{
	struct qargs q;
	struct report rep = { .r = { .q = &q, .pass = 1 },
			      .o = { .n = 10, .by = TT_BY_BYTES },
			      .fd = -1 };

	return qargs_main(&report_cmd, &q, &rep, argc, argv);
}
