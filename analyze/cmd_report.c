/*
 * report DIR... -o FILE: the post-mortem of a window as one self-contained HTML
 * file (drawn by lib/html.c) to attach to a ticket.
 *
 * Two passes over the window. The first builds the top-N tables exactly as
 * `top` does (lib/report.c: same grouping, same metrics, same ranking), the
 * summary and the host's time series. Which connections are the top ones is
 * known only once the whole window is ranked, so a second pass, over just the
 * span those connections were seen in, follows them bucket by bucket; keeping
 * every connection's series through the first pass instead would cost memory
 * in proportion to the connections of the window.
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
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "cmd.h"
#include "html.h"
#include "progress.h"
#include "qargs.h"
#include "report.h"
#include "scan.h"

#define POINTS 150 /* buckets per chart: smooth lines, still a few pixels each */
#define NTABLES 3
#define GIGA UINT64_C(1000000000)

/* One of the top connections, followed through the second pass. */
struct track {
	const struct tt_group *g;
	uint64_t id, open_mono; /* its lifetime's key, as report.c groups by conn */
	double *bytes; /* [nb] in + out */
	double *rtt_sum;
	uint32_t *rtt_n;
	uint8_t *seen; /* [nb] it was in a tick of the bucket */
	double *rate, *rtt; /* [nb] what the charts draw: bytes/s, average RTT (NAN: none) */
	uint64_t open_ns, close_ns; /* Unix ns */
};

struct rp_run {
	struct qargs *q;
	struct tt_store *st; /* the store being scanned */
	int pass;
	struct tt_top *tops[NTABLES];
	struct tt_groupby gb[NTABLES];
	struct progress prog;
	uint64_t rec_serial; /* recordings scanned so far, to tell them apart */
	char hosts[512], kernels[512];
	int nhosts;
	/* summary */
	uint64_t ticks, opened, closed, resets, retrans;
	double peak_in, peak_out;
	struct tt_ev_loss loss; /* during the window, summed over recordings */
	struct tt_ev_loss loss_prev; /* the recording's losses before its current tick */
	int rec_in_window; /* the recording has had a tick in the window */
	uint64_t tick_ns;
	/* buckets, set up at the first tick in the window */
	uint64_t bucket_ns, bucket0_ns; /* the first starts at or before the window */
	size_t nb;
	double *in, *out; /* bytes, then bytes/s */
	uint64_t *cov; /* ns of ticks in the bucket, the most any one recording had */
	uint64_t *cov_acc, *cov_rec; /* the current recording's sum, and which recording */
	uint64_t *opened_b, *resets_b;
	/* second pass */
	struct track tr[TT_HTML_CONNS_MAX];
	size_t ntr;
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
	size_t off = 0;

	while (off < b->len) {
		ssize_t w = write(fd, b->p + off, b->len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			cmd_err("report: %s: write: %s", tmp_path, strerror(errno));
			goto fail;
		}
		off += (size_t)w;
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

static int on_recording(void *ctx, const struct tt_scan_rec *rec)
{
	struct rp_run *r = ctx;
	sqlite3_stmt *q = NULL;

	r->rec_serial++;
	memset(&r->loss_prev, 0, sizeof(r->loss_prev));
	r->rec_in_window = 0;
	if (r->pass != 1)
		return 0;
	add_name(r->hosts, sizeof(r->hosts), rec->host && *rec->host ? rec->host : "?",
		 &r->nhosts);
	if (!sqlite3_prepare_v2(tt_store_db(r->st), "SELECT kernel FROM recordings WHERE id = ?",
				-1, &q, NULL)) {
		sqlite3_bind_int64(q, 1, rec->id);
		if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_text(q, 0))
			add_name(r->kernels, sizeof(r->kernels),
				 (const char *)sqlite3_column_text(q, 0), NULL);
	}
	sqlite3_finalize(q);
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
 * The bucket grid, from the first tick in the window (ending at ts): about
 * POINTS buckets of whole ticks, with edges half a tick away from where ticks
 * end, so a tick's jitter never moves it to the next bucket (which would
 * leave one bucket empty and its neighbour double).
 */
static int buckets_setup(struct rp_run *r, const struct tt_table *t, uint64_t ts)
{
	uint64_t win = r->q->to_ns - r->q->from_ns, m;

	r->tick_ns = t->ts_ns > t->start_ns ? t->ts_ns - t->start_ns : GIGA;
	m = (uint64_t)llround((double)win / POINTS / (double)r->tick_ns);
	r->bucket_ns = (m ? m : 1) * r->tick_ns;
	r->bucket0_ns = ts - r->tick_ns / 2;
	if (r->bucket0_ns > r->q->from_ns)
		r->bucket0_ns -= (r->bucket0_ns - r->q->from_ns + r->bucket_ns - 1) / r->bucket_ns *
				 r->bucket_ns;
	r->nb = (size_t)((r->q->to_ns - r->bucket0_ns) / r->bucket_ns + 1);
	r->in = calloc(r->nb, sizeof(*r->in));
	r->out = calloc(r->nb, sizeof(*r->out));
	r->cov = calloc(r->nb, sizeof(*r->cov));
	r->cov_acc = calloc(r->nb, sizeof(*r->cov_acc));
	r->cov_rec = calloc(r->nb, sizeof(*r->cov_rec));
	r->opened_b = calloc(r->nb, sizeof(*r->opened_b));
	r->resets_b = calloc(r->nb, sizeof(*r->resets_b));
	if (!r->in || !r->out || !r->cov || !r->cov_acc || !r->cov_rec || !r->opened_b ||
	    !r->resets_b)
		return -ENOMEM;
	return 0;
}

/* The bucket a tick ending at ts (Unix ns, inside the window) goes into. */
static size_t bucket_of(const struct rp_run *r, uint64_t ts)
{
	size_t k = (size_t)((ts - r->bucket0_ns) / r->bucket_ns);

	return k < r->nb ? k : r->nb - 1;
}

static int pass1_table(struct rp_run *r, const struct tt_scan_rec *rec, const struct tt_table *t,
		       uint64_t ts)
{
	const char *host = rec->host ? rec->host : "";
	double tick_in = 0, tick_out = 0;
	size_t i, k;
	int err;

	if (!r->nb && (err = buckets_setup(r, t, ts)))
		return err;
	k = bucket_of(r, ts);
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
	for (i = 0; i < NTABLES; i++)
		if ((err = tt_top_add(r->tops[i], t, rec->mono_to_wall_ns, host, &r->q->filter)))
			return err;
	for (i = 0; i < t->n; i++) {
		const struct tt_row *row = &t->rows[i];

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
		r->resets += row->d_resets;
		r->resets_b[k] += row->d_resets;
		r->retrans += row->d_retrans;
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
	size_t i, j, k = bucket_of(r, ts);

	if (ts <= r->from2 || ts > r->to2)
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
	struct tt_scan_cb cb = { .on_recording = on_recording, .on_event = on_event,
				 .on_table = on_table, .on_progress = on_progress };
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
	static const char *const f[] = { "--proto", "--port", "--pid",
					 "--comm",  "--host", "--state" };
	size_t i;

	for (i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		if (!strcmp(o, f[i]))
			return 1;
	return 0;
}

static const char *const metric_names[TT_BY_MAX] = {
	[TT_BY_BYTES] = "bytes",     [TT_BY_TX] = "tx",		[TT_BY_RX] = "rx",
	[TT_BY_RATE] = "rate",	     [TT_BY_PACKETS] = "packets", [TT_BY_RTT] = "rtt",
	[TT_BY_RETRANS] = "retrans", [TT_BY_DURATION] = "duration", [TT_BY_CONNS] = "conns",
};

static const char help[] =
	"Usage: tcptop-analyze report -o FILE [--force] [-n N] [--by METRIC] [OPTIONS] DIR...\n"
	"A post-mortem of a window as one self-contained HTML file (no scripts, nothing\n"
	"fetched): a summary (hosts, kernel, totals, connections opened and closed, resets,\n"
	"retransmits, the recorder's own losses), charts of the bandwidth, the top 10\n"
	"connections' rates, RTT and lifetimes, new connections and resets, and the top-N\n"
	"tables by connection, process and remote host: the numbers `top` gives for the\n"
	"same window.\n"
	"  -o, --output FILE  write here (- for stdout); an existing FILE needs --force\n"
	"  -n N               rows per table (default 10)\n"
	"  --by METRIC        rank by bytes (default), tx, rx, rate, packets, rtt, retrans,\n"
	"                     duration, conns\n\n";

struct rp_opts {
	const char *path; /* -o */
	int force;
	unsigned n; /* rows per table */
	enum tt_metric by;
	char filters[1024]; /* the filter options as typed, shell-quoted */
};

/* The command line into o and q. -1 to go on, or the exit code (after printing why). */
static int parse_opts(int argc, char **argv, struct rp_opts *o, struct qargs *q)
{
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		char *end;
		long x;

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			printf("%s%s", help, qargs_help);
			return 0;
		}
		if (!strcmp(a, "--force")) {
			o->force = 1;
			continue;
		}
		if (strcmp(a, "-o") && strcmp(a, "--output") && strcmp(a, "-n") &&
		    strcmp(a, "--by")) {
			if (is_filter(a) && v) {
				shell_word(o->filters, sizeof(o->filters), a);
				shell_word(o->filters, sizeof(o->filters), v);
			}
			if (qargs_opt(q, argc, argv, &i) == 2)
				return 2;
			continue;
		}
		if (!v) {
			cmd_err("report: option '%s' needs a value", a);
			return 2;
		}
		i++;
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
					"rtt, retrans, duration or conns", v);
				return 2;
			}
			o->by = (enum tt_metric)x;
		} else if (!*v) {
			cmd_err("report: -o: an empty file name");
			return 2;
		} else {
			o->path = v;
		}
	}
	if (!o->path) {
		cmd_err("report: needs -o FILE (see report --help)");
		return 2;
	}
	if (q->fmt != TT_GRID_TABLE) {
		cmd_err("report: --format does not apply: the report is HTML");
		return 2;
	}
	if (strcmp(o->path, "-") && !o->force && !access(o->path, F_OK)) {
		cmd_err("report: %s exists (--force to overwrite)", o->path);
		return 1;
	}
	return -1;
}

static uint64_t wall_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * GIGA + (uint64_t)ts.tv_nsec;
}

/* Ready the second pass: the top connections and the span they were seen in. 0 or -ENOMEM. */
static int tracks_setup(struct rp_run *r, const struct tt_group *const *conns, size_t n)
{
	size_t k;

	r->ntr = r->nb ? (n < TT_HTML_CONNS_MAX ? n : TT_HTML_CONNS_MAX) : 0;
	r->from2 = r->q->to_ns;
	r->to2 = r->q->from_ns;
	for (k = 0; k < r->ntr; k++) {
		struct track *c = &r->tr[k];

		c->g = conns[k];
		c->id = c->g->conn.id;
		c->open_mono = c->g->conn.open_ns;
		c->bytes = calloc(r->nb, sizeof(*c->bytes));
		c->rtt_sum = calloc(r->nb, sizeof(*c->rtt_sum));
		c->rtt_n = calloc(r->nb, sizeof(*c->rtt_n));
		c->seen = calloc(r->nb, 1);
		c->rate = calloc(r->nb, sizeof(*c->rate));
		c->rtt = calloc(r->nb, sizeof(*c->rtt));
		if (!c->bytes || !c->rtt_sum || !c->rtt_n || !c->seen || !c->rate || !c->rtt)
			return -ENOMEM;
		if (c->g->first_ns - 1 < r->from2)
			r->from2 = c->g->first_ns - 1;
		if (c->g->last_ns > r->to2)
			r->to2 = c->g->last_ns;
	}
	return 0;
}

/* Bytes into rates, over the time the bucket's ticks covered; NAN where nothing was. */
static void to_rates(struct rp_run *r)
{
	size_t k, j;

	for (k = 0; k < r->nb; k++) {
		double s = (double)r->cov[k] / 1e9;

		r->in[k] = s > 0 ? r->in[k] / s : NAN;
		r->out[k] = s > 0 ? r->out[k] / s : NAN;
		for (j = 0; j < r->ntr; j++) {
			struct track *c = &r->tr[j];

			c->rate[k] = c->seen[k] && s > 0 ? c->bytes[k] / s : NAN;
			c->rtt[k] = c->rtt_n[k] ? c->rtt_sum[k] / c->rtt_n[k] : NAN;
		}
	}
}

/* What the page shows, pointing into r; strings into the caller's buffers. */
struct page {
	struct tt_html_report h;
	struct tt_html_conn hc[TT_HTML_CONNS_MAX];
	struct tt_html_table tabs[NTABLES];
	char command[4096], stores[2048];
};

static void page_fill(struct page *p, const struct rp_run *r, const struct rp_opts *o,
		      const struct tt_group **const *ranked, const long *nranked, const char *warn)
{
	static const char *const ids[NTABLES] = { "table-conn", "table-process", "table-rhost" };
	static const char *const titles[NTABLES] = { "By connection", "By process",
						     "By remote host" };
	const struct qargs *q = r->q;
	struct tt_html_report *h = &p->h;
	size_t k;
	int i;

	memset(p, 0, sizeof(*p));
	for (i = 0; i < q->ndirs; i++)
		shell_word(p->stores, sizeof(p->stores), q->dirs[i]);
	snprintf(p->command, sizeof(p->command),
		 "tcptop-analyze top -n %u --by %s --from @%" PRIu64 ".%09" PRIu64
		 " --to @%" PRIu64 ".%09" PRIu64 "%s%s %s",
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
	h->generated_ns = wall_now();
	h->utc = q->utc;
	h->host_col = r->nhosts > 1 || q->ndirs > 1; /* as top decides it */
	h->tick_ns = r->tick_ns;
	h->ticks = r->ticks;
	/* totals as top's heading sums them: over the connection groups */
	h->conns = (uint64_t)nranked[0];
	for (i = 0; i < nranked[0]; i++) {
		h->bytes_in += ranked[0][i]->bytes_in;
		h->bytes_out += ranked[0][i]->bytes_out;
	}
	h->peak_in = r->peak_in;
	h->peak_out = r->peak_out;
	h->opened = r->opened;
	h->closed = r->closed;
	h->resets = r->resets;
	h->retrans = r->retrans;
	h->loss = r->loss;
	h->nbuckets = r->nb;
	h->bucket_ns = r->bucket_ns;
	h->bucket0_ns = r->bucket0_ns;
	h->rate_in = r->in;
	h->rate_out = r->out;
	h->opened_b = r->opened_b;
	h->resets_b = r->resets_b;
	for (k = 0; k < r->ntr; k++) {
		p->hc[k].g = r->tr[k].g;
		p->hc[k].open_ns = r->tr[k].open_ns;
		p->hc[k].close_ns = r->tr[k].close_ns;
		p->hc[k].rate = r->tr[k].rate;
		p->hc[k].rtt_us = r->tr[k].rtt;
	}
	h->conns_top = p->hc;
	h->nconns_top = r->ntr;
	for (k = 0; k < NTABLES; k++) {
		p->tabs[k].id = ids[k];
		p->tabs[k].title = titles[k];
		p->tabs[k].by = &r->gb[k];
		p->tabs[k].rows = ranked[k];
		p->tabs[k].ngroups = (size_t)nranked[k];
		p->tabs[k].nrows = (size_t)nranked[k] < o->n ? (size_t)nranked[k] : o->n;
	}
	h->tables = p->tabs;
	h->ntables = NTABLES;
}

static void free_run(struct rp_run *r)
{
	size_t i;

	for (i = 0; i < NTABLES; i++)
		tt_top_free(r->tops[i]);
	for (i = 0; i < TT_HTML_CONNS_MAX; i++) {
		free(r->tr[i].bytes);
		free(r->tr[i].rtt_sum);
		free(r->tr[i].rtt_n);
		free(r->tr[i].seen);
		free(r->tr[i].rate);
		free(r->tr[i].rtt);
	}
	free(r->in);
	free(r->out);
	free(r->cov);
	free(r->cov_acc);
	free(r->cov_rec);
	free(r->opened_b);
	free(r->resets_b);
}

int cmd_report(int argc, char **argv)
{
	static const char *const group[NTABLES] = { "conn", "process", "remote-host" };
	const struct tt_group **ranked[NTABLES] = { NULL };
	long nranked[NTABLES] = { 0 };
	struct rp_opts o = { .n = 10, .by = TT_BY_BYTES };
	struct tt_scan_stats st = { 0 };
	struct tt_buf out = { 0 };
	struct page *page = NULL;
	struct rp_run r;
	struct qargs q;
	char why[512], warn[512] = "";
	int rc, err, fd = -1;
	size_t k;

	qargs_init(&q, "report");
	memset(&r, 0, sizeof(r));
	r.q = &q;
	r.pass = 1;
	if ((rc = parse_opts(argc, argv, &o, &q)) >= 0)
		return rc;
	if ((rc = qargs_open(&q)))
		goto out;
	rc = 1;
	/* the file first: a directory that cannot take it fails before a long scan */
	if (strcmp(o.path, "-") && (fd = tmp_create(o.path)) < 0)
		goto out;
	for (k = 0; k < NTABLES; k++)
		if (tt_groupby_parse(group[k], &r.gb[k], why, sizeof(why)) ||
		    !(r.tops[k] = tt_top_new(&r.gb[k])))
			goto oom;
	if (scan_all(&r, q.from_ns, q.to_ns, &st, warn, sizeof(warn)))
		goto out;
	for (k = 0; k < NTABLES; k++)
		if ((nranked[k] = tt_top_rank(r.tops[k], o.by, &ranked[k])) < 0)
			goto oom;
	if (tracks_setup(&r, ranked[0], (size_t)nranked[0]))
		goto oom;
	if (r.ntr) {
		r.pass = 2;
		if (scan_all(&r, r.from2, r.to2, NULL, warn, sizeof(warn)))
			goto out;
	}
	if (warn[0])
		cmd_err("report: warning: %s; the rest is answered", warn);
	to_rates(&r);
	page = malloc(sizeof(*page));
	if (!page)
		goto oom;
	page_fill(page, &r, &o, ranked, nranked, warn);
	err = tt_html_report(&page->h, &out);
	if (err) {
		cmd_err("report: %s", err == -ENOMEM ? "out of memory"
				      : err == -E2BIG ? "the report would be too large (use -n)"
						      : "inconsistent data");
		goto out;
	}
	if (fd < 0) {
		if (qargs_flush(&out))
			goto out;
	} else {
		err = tmp_commit(fd, &out, o.path, o.force);
		fd = -1;
		if (err)
			goto out;
	}
	if (q.stats)
		fprintf(stderr,
			"stats: recordings %" PRIu64 ", blocks read %" PRIu64 " of %" PRIu64
			" (selected %" PRIu64 ", damaged %" PRIu64 "), events %" PRIu64
			", ticks %" PRIu64 " (first pass)\n",
			st.recordings, st.blocks_read, st.blocks_total, st.blocks_selected,
			st.blocks_damaged, st.events, st.ticks);
	rc = 0;
	goto out;
oom:
	cmd_err("report: out of memory");
out:
	if (fd >= 0)
		tmp_discard(fd);
	free(page);
	free_run(&r);
	tt_buf_free(&out);
	qargs_close(&q);
	return rc;
}
