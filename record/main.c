/*
 * tcptop-record: capture every TCP and UDP connection and show or stream it.
 * The loop is the pipeline of docs/architecture.md: source -> aggregator -> output.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "aggregator.h"
#include "buf.h"
#include "clock.h"
#include "collector.h"
#include "privdrop.h"
#include "probe.h"
#include "store.h"
#include "format.h"
#include "metrics.h"
#include "record_opts.h"
#include "rowjson.h"
#include "ship.h"
#include "version.h"
#include "view.h"
#include "writer.h"

#define PROG "tcptop-record"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void log_stderr(int level, const char *msg, void *ctx)
{
	int verbose = *(const int *)ctx;

	if (level == 0 || verbose >= level)
		fprintf(stderr, PROG ": %s\n", msg);
}

/*
 * The live view (lib/view.h) owns the terminal while the recorder runs. Keys
 * are read between ticks, inside the collector's wait (its wake callback), so
 * poking at the view never delays a tick nor what the store gets; q stops the
 * recorder as SIGINT does, after a last tick.
 */
struct live {
	struct tt_view *v;
	struct tt_buf b;
	int keys; /* stdin is a terminal: keys are read */
	char warning[512]; /* the last one, said again on the main screen at the end */
};

static struct live live;

static void live_draw(void)
{
	if (live.v && tt_view_term_draw(live.v, &live.b) == -ENOMEM)
		tt_view_say(live.v, "out of memory drawing the view (recording goes on)");
}

static void live_wake(void *ctx)
{
	unsigned char k[64];
	ssize_t n;
	size_t at = 0, used;
	int redraw = tt_view_term_resized();

	(void)ctx;
	if (!live.v)
		return;
	n = live.keys ? read(STDIN_FILENO, k, sizeof(k)) : 0;
	while (n > 0 && at < (size_t)n) {
		if (tt_view_key(live.v, k + at, (size_t)n - at, &used) == TT_VIEW_QUIT)
			stop = 1;
		at += used;
		redraw = 1;
	}
	if (redraw && !stop)
		live_draw();
}

/* A warning while recording: on the live screen (stderr would be drawn over), else on stderr. */
static void warn_line(const char *warn)
{
	if (!live.v) {
		fprintf(stderr, PROG ": warning: %s\n", warn);
		return;
	}
	snprintf(live.warning, sizeof(live.warning), "warning: %s", warn);
	tt_view_say(live.v, live.warning);
}

/* One tick into the live view; kept back while the user has it paused. */
static int live_tick(const struct tt_table *t, int64_t m2w)
{
	if (!tt_view_paused(live.v)) {
		int err = tt_view_set_table(live.v, t, m2w);

		if (err)
			return err;
	}
	live_draw();
	return 0;
}

/* Append one tick to b according to the chosen output, and write b out. 0, or a negative errno. */
static int output_tick(const struct rec_opts *o, const struct tt_table *t, int64_t m2w,
		       struct tt_buf *b, struct tt_row **scratch, size_t *cap, const char *title)
{
	size_t i;
	int err;

	if (o->output == REC_OUT_NONE)
		return 0;
	if (o->output == REC_OUT_JSON) {
		for (i = 0; i < t->n; i++)
			if (tt_filter_match(&o->filter, &t->rows[i].conn))
				tt_row_json(b, &t->rows[i], t, m2w);
	} else if (o->output == REC_OUT_LIVE) {
		return live_tick(t, m2w);
	} else {
		struct tt_view_opts vo = {
			.sort = o->sort,
			.top = o->top,
			.mono_to_wall_ns = m2w,
			.utc = o->utc,
			.filter = &o->filter,
			.title = title,
		};

		err = tt_view_render(b, t, &vo, scratch, cap);
		if (err)
			return err;
		if (o->output == REC_OUT_TEXT)
			tt_buf_add(b, "\n", 1);
	}
	if (b->err)
		return b->err;
	return tt_write_all(STDOUT_FILENO, b->p ? b->p : "", b->len);
}

/*
 * Where the recorder writes and how much it keeps, in one line: a recorder
 * left running must never fill a disk by surprise.
 */
static void describe_store(const struct rec_opts *o, char *buf, size_t len)
{
	char abs[PATH_MAX], size[32], age[32];
	const char *dir = realpath(o->store_dir, abs) ? abs : o->store_dir;

	if (o->retain_bytes)
		tt_fmt_bytes(size, sizeof(size), o->retain_bytes);
	if (o->retain_ns)
		tt_fmt_duration(age, sizeof(age), o->retain_ns);
	if (snprintf(buf, len, "recording into %s, keeping %s%s%s%s", dir,
		     o->retain_bytes ? "at most " : "all of it (--retain-size 0)",
		     o->retain_bytes ? size : "", o->retain_ns ? ", nothing older than " : "",
		     o->retain_ns ? age : "") >= (int)len)
		memcpy(buf + len - 4, "...", 4); /* a path that long still says where */
}

static double cpu_seconds(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru))
		return 0;
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
	       ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
}

/* After a tick: the health file, if asked for. A failure is said once and never stops recording. */
static void write_metrics(const struct rec_opts *o, struct tt_collector *col, struct tt_writer *wr,
			  const struct tt_table *t, struct rec_metrics *m)
{
	static int said;
	struct tt_collector_health h;
	char why[512];
	uint64_t blocks = wr ? tt_writer_blocks(wr) : 0;

	m->ticks++;
	m->connections = t->n;
	tt_collector_health(col, &h);
	m->tcp_tracked = h.tcp_tracked;
	m->socks_max = h.socks_max;
	m->flows = h.flows;
	m->flows_max = h.flows_max;
	m->cpu_seconds = cpu_seconds();
	m->have_store = wr != NULL;
	if (wr && (blocks != m->blocks || m->ticks == 1)) {
		if (blocks != m->blocks)
			m->last_flush = (double)tt_clock_ns(CLOCK_REALTIME) / 1e9;
		m->blocks = blocks;
		m->store_bytes = rec_dir_bytes(o->store_dir);
		m->unshipped = tt_writer_unshipped(wr);
	}
	if (rec_metrics_write(o->metrics_file, m, why, sizeof(why)) && !said) {
		snprintf(why + strlen(why), sizeof(why) - strlen(why), " (recording goes on)");
		warn_line(why);
		said = 1;
	}
}

/* The command line as one string, for the recording's metadata. */
static void join_args(int argc, char **argv, struct tt_buf *b)
{
	int i;

	for (i = 0; i < argc; i++)
		tt_buf_printf(b, "%s%s", i ? " " : "", argv[i]);
}

static int open_writer(const struct rec_opts *o, struct tt_collector *col, int argc, char **argv,
		       struct tt_writer **w, char *why, size_t why_len)
{
	struct tt_writer_opts wo;
	struct tt_host_info host;
	struct tt_buf args = { 0 };
	int err;

	tt_writer_opts_default(&wo);
	wo.dir = o->store_dir;
	if (o->group) {
		if ((err = tt_store_share_with_group(o->store_dir, o->group, why, why_len)))
			return err;
		wo.dir_mode = 02750;
		wo.file_mode = 0640;
	}
	tt_probe_host(&host);
	join_args(argc, argv, &args);
	/* a recording that saw less says so where its options are kept */
	if (*tt_collector_limits(col))
		tt_buf_printf(&args, " [capture limits: %s]", tt_collector_limits(col));
	wo.flush_ns = o->flush_ns;
	wo.keyframe_ns = o->keyframe_ns;
	wo.segment_ns = o->segment_ns;
	wo.segment_bytes = o->segment_bytes;
	wo.retain_ns = o->retain_ns;
	wo.retain_bytes = o->retain_bytes;
	wo.bucket_ns = o->bucket_ns;
	wo.rec.host = host.host;
	wo.rec.kernel = host.kernel;
	wo.rec.boot_id = host.boot_id;
	wo.rec.options = args.p ? args.p : "";
	wo.rec.tool_version = TT_VERSION;
	wo.rec.start_ns = tt_clock_ns(CLOCK_REALTIME);
	wo.rec.mono_to_wall_ns = tt_collector_mono_to_wall(col);
	err = tt_writer_open(&wo, w, why, why_len);
	tt_buf_free(&args);
	return err;
}

int main(int argc, char **argv)
{
	struct tt_collector_opts co;
	struct tt_collector *col = NULL;
	struct tt_agg *agg = NULL;
	struct tt_writer *wr = NULL;
	const char *failed = NULL; /* message of the stage that stopped the loop */
	const char *warn;
	struct tt_source *src;
	struct rec_opts o;
	struct tt_buf out = { 0 };
	struct tt_row *scratch = NULL;
	size_t scratch_cap = 0;
	struct sigaction sa;
	struct tt_priv_user user;
	struct rec_metrics metrics = { 0 };
	struct tt_event ev;
	uint64_t first_ts = 0;
	struct tt_shipper *ship = NULL;
	char why[512], desc[PATH_MAX + 128], title[PATH_MAX + 160] = PROG;
	int err, ret = 1;

	err = rec_opts_parse(argc, argv, &o, why, sizeof(why));
	if (err) {
		fprintf(stderr, PROG ": %s\n", why);
		return 2;
	}
	if (o.help) {
		fputs(rec_opts_usage(), stdout);
		return 0;
	}
	if (o.version) {
		rec_print_version(stdout, PROG);
		return 0;
	}
	if (o.output == REC_OUT_AUTO)
		o.output = isatty(STDOUT_FILENO) ? REC_OUT_LIVE : REC_OUT_TEXT;
	if (o.user && tt_priv_lookup(o.user, &user, why, sizeof(why))) {
		fprintf(stderr, PROG ": %s\n", why);
		return 2;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal; /* no SA_RESTART: poll returns at once */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	/* a closed terminal or ssh session: stop as cleanly as on SIGTERM, losing nothing */
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	tt_collector_opts_default(&co);
	co.interval_ns = o.interval_ns;
	co.udp_idle_ns = o.udp_idle_ns;
	co.socks_max = o.socks_max;
	co.peers_max = o.peers_max;
	co.ringbuf_bytes = o.ring_bytes;
	co.stop = &stop;
	co.log = log_stderr;
	co.log_ctx = &o.verbose;
	if (o.output == REC_OUT_LIVE) {
		live.keys = isatty(STDIN_FILENO);
		co.wake = live_wake;
		co.wake_fd = live.keys ? STDIN_FILENO : -1;
	}
	err = tt_collector_open(&co, &col, why, sizeof(why));
	if (err) {
		fprintf(stderr, PROG ": %s\n", why);
		return (err == -EPERM || err == -ENOTSUP) ? 77 : 1;
	}
	if (o.user) {
		/*
		 * Loaded, attached, namespaces discovered: the rest is reading
		 * through descriptors we hold (iterator links, maps, the ring),
		 * which needs no capability (tests/integration/test_privdrop.py).
		 * Only later discovery walks would (setns), so they end here.
		 */
		const uint64_t keep = 0;

		if (o.store_dir &&
		    (err = tt_priv_prepare_dir(&user, o.store_dir, why, sizeof(why))))
			goto fail_why;
		tt_collector_end_discovery(col);
		if ((err = tt_priv_drop(&user, keep, why, sizeof(why))))
			goto fail_why;
	}
	/* opened by whoever runs from here on: the store belongs to --user */
	if (o.store_dir) {
		err = open_writer(&o, col, argc, argv, &wr, why, sizeof(why));
		if (err) {
			fprintf(stderr, PROG ": %s\n", why);
			goto out;
		}
		if ((warn = tt_writer_take_warning(wr)))
			warn_line(warn);
		/* a thread sends what the writer seals; the store is its buffer */
		if (o.ship_url &&
		    (err = tt_shipper_start(o.ship_url, o.store_dir, 0, &ship, why, sizeof(why)))) {
			fprintf(stderr, PROG ": --ship: %s\n", why);
			goto out;
		}
		describe_store(&o, desc, sizeof(desc));
		if (o.output != REC_OUT_LIVE)
			fprintf(stderr, PROG ": %s\n", desc);
	}
	if (o.output == REC_OUT_LIVE) {
		struct tt_view_ui_opts vo = { .title = PROG,
					      .where = o.store_dir ? desc : NULL,
					      .sort = o.sort,
					      .utc = o.utc,
					      .filter = &o.filter,
					      .top = o.top,
					      .color = tt_view_want_color() };

		live.v = tt_view_new(&vo);
		if (!live.v) {
			fprintf(stderr, PROG ": out of memory\n");
			goto out;
		}
		if ((err = tt_view_term_open(STDIN_FILENO, STDOUT_FILENO))) {
			fprintf(stderr, PROG ": cannot set up the terminal: %s\n", strerror(-err));
			goto out;
		}
		live_draw();
	}
	metrics.start_time = (double)tt_clock_ns(CLOCK_REALTIME) / 1e9;
	agg = tt_agg_new();
	if (!agg) {
		fprintf(stderr, PROG ": out of memory\n");
		goto out;
	}
	src = tt_collector_source(col);
	while ((err = tt_source_next(src, &ev)) > 0) {
		/* the store gets the stream itself: a replay is this same loop */
		if (wr && (err = tt_writer_event(wr, &ev))) {
			failed = tt_writer_errmsg(wr);
			break;
		}
		err = tt_agg_feed(agg, &ev);
		if (err < 0)
			break;
		if (ev.type == TT_EV_LOSS) {
			metrics.ring_drops = ev.loss.ring_drops;
			metrics.socks_full = ev.loss.socks_full;
			metrics.peers_full = ev.loss.peers_full;
		}
		if (err == 0) {
			/* events print after being applied: a CLOSE's connection
			 * is still known until the tick that reports it */
			if (ev.type == TT_EV_LOSS && o.output == REC_OUT_JSON) {
				/* a stream whose numbers are short says so, asked or not */
				tt_event_json(&out, &ev, NULL, tt_collector_mono_to_wall(col));
			} else if (o.events) {
				const struct tt_ev_conn *c = tt_agg_conn(agg, ev.sample.id);

				if (c && tt_filter_match(&o.filter, c))
					tt_event_json(&out, &ev, c, tt_collector_mono_to_wall(col));
			}
			continue;
		}
		if (wr && (err = tt_writer_tick(wr, agg, tt_agg_table(agg)))) {
			failed = tt_writer_errmsg(wr);
			break;
		}
		if (wr && (warn = tt_writer_take_warning(wr)))
			warn_line(warn);
		if (ship && tt_shipper_take_note(ship, why, sizeof(why))) {
			if (live.v)
				tt_view_say(live.v, why);
			else
				fprintf(stderr, PROG ": %s\n", why);
		}
		if (o.metrics_file)
			write_metrics(&o, col, wr, tt_agg_table(agg), &metrics);
		err = output_tick(&o, tt_agg_table(agg), tt_collector_mono_to_wall(col), &out,
				  &scratch, &scratch_cap, title);
		tt_buf_reset(&out);
		if (err == -EPIPE) { /* reader went away: a normal end for a pipe */
			err = 0;
			break;
		}
		if (err)
			break;
		if (!first_ts)
			first_ts = tt_agg_table(agg)->start_ns;
		if (o.duration_ns && ev.ts_ns - first_ts >= o.duration_ns) {
			err = 0;
			break;
		}
	}
	tt_view_term_close(); /* what follows is said on the main screen, where it stays */
	if (live.warning[0])
		fprintf(stderr, PROG ": %s\n", live.warning);
	if (err < 0) {
		if (!failed)
			failed = err == -ENOMEM ? "out of memory" : src->errmsg(src);
		fprintf(stderr, PROG ": %s\n", failed);
		goto out;
	}
	if (wr && tt_writer_finish(wr, tt_clock_ns(CLOCK_REALTIME))) {
		fprintf(stderr, PROG ": %s\n", tt_writer_errmsg(wr));
		goto out;
	}
	/* the last blocks, for up to 10 s; what is left stays in the store */
	if (ship && tt_shipper_stop(ship, 10000000000ull, why, sizeof(why)))
		fprintf(stderr,
			PROG
			": warning: --ship: the end of the recording is not shipped yet "
			"(it stays in the store; tcptop-analyze export or --ship sends it): %s\n",
			why);
	ship = NULL;
	ret = 0;
	goto out;
fail_why:
	fprintf(stderr, PROG ": %s\n", why);
out:
	if (ship)
		tt_shipper_stop(ship, 0, why, sizeof(why));
	tt_view_term_close();
	tt_view_free(live.v);
	tt_buf_free(&live.b);
	tt_writer_free(wr);
	tt_agg_free(agg);
	tt_collector_close(col);
	tt_buf_free(&out);
	free(scratch);
	return ret;
}
