/*
 * replay DIR: the recording again, tick by tick, through the recorder's own
 * aggregator and printers, paced at --speed (max: as fast as it decodes).
 * Streams text tables or JSON lines (the recorder's keys), so
 * `tcptop-analyze replay --speed max --format json DIR | jq` extracts data.
 */
#include <errno.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "aggregator.h"
#include "buf.h"
#include "cmd.h"
#include "format.h"
#include "replay.h"
#include "store.h"
#include "view.h"

struct replay_args {
	const char *dir;
	double speed; /* 0: max */
	int json;
	int events;
	int utc;
	int64_t recording; /* 0: every recording, in order */
	enum tt_sort_key sort;
	unsigned top;
};

static int parse_args(int argc, char **argv, struct replay_args *a)
{
	int i;

	memset(a, 0, sizeof(*a));
	a->speed = 1.0;
	for (i = 1; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		char *end;

		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			puts("Usage: tcptop-analyze replay [--speed X|max] [--format text|json] [--events]\n"
			     "                             [--recording N] [--sort KEY] [-n N] [--utc] DIR\n"
			     "The recording tick by tick as the recorder showed it, paced at --speed\n"
			     "(1 = real time, 10 = ten times faster, max = no pauses).");
			return 1;
		}
		if (!strcmp(argv[i], "--utc")) {
			a->utc = 1;
			continue;
		}
		if (!strcmp(argv[i], "--events")) {
			a->events = 1;
			continue;
		}
		if (argv[i][0] != '-') {
			if (a->dir) {
				cmd_err("replay: one store directory at a time");
				return 2;
			}
			a->dir = argv[i];
			continue;
		}
		if (!v) {
			cmd_err("replay: option '%s' needs a value", argv[i]);
			return 2;
		}
		i++;
		if (!strcmp(argv[i - 1], "--speed")) {
			if (!strcmp(v, "max")) {
				a->speed = 0;
			} else {
				a->speed = strtod(v, &end);
				if (*end || !(a->speed > 0 && a->speed <= 1e6)) {
					cmd_err("replay: --speed: '%s' is not a positive number or max", v);
					return 2;
				}
			}
		} else if (!strcmp(argv[i - 1], "--format")) {
			if (!strcmp(v, "json")) {
				a->json = 1;
			} else if (strcmp(v, "text")) {
				cmd_err("replay: --format: '%s' is not text or json", v);
				return 2;
			}
		} else if (!strcmp(argv[i - 1], "--recording")) {
			a->recording = strtoll(v, &end, 10);
			if (*end || a->recording <= 0) {
				cmd_err("replay: --recording: '%s' is not a recording id (see info)", v);
				return 2;
			}
		} else if (!strcmp(argv[i - 1], "--sort")) {
			int k = tt_sort_key_parse(v);

			if (k < 0) {
				cmd_err("replay: --sort: '%s' is not rate, bytes, packets, rtt, retrans or duration", v);
				return 2;
			}
			a->sort = (enum tt_sort_key)k;
		} else if (!strcmp(argv[i - 1], "-n") || !strcmp(argv[i - 1], "--top")) {
			long n = strtol(v, &end, 10);

			if (*end || n <= 0 || n > 1000000) {
				cmd_err("replay: --top: '%s' is not a positive number", v);
				return 2;
			}
			a->top = (unsigned)n;
		} else {
			cmd_err("replay: unknown option '%s' (see replay --help)", argv[i - 1]);
			return 2;
		}
	}
	if (!a->dir) {
		cmd_err("replay: needs a store directory (see replay --help)");
		return 2;
	}
	return 0;
}

static void pace(double speed, uint64_t gap_ns)
{
	struct timespec ts;
	double ns;

	if (!speed || !gap_ns)
		return;
	ns = (double)gap_ns / speed;
	ts.tv_sec = (time_t)(ns / 1e9);
	ts.tv_nsec = (long)(ns - (double)ts.tv_sec * 1e9);
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static int write_out(struct tt_buf *b)
{
	if (b->err)
		return b->err;
	if (b->len && fwrite(b->p, 1, b->len, stdout) != b->len)
		return -EIO;
	fflush(stdout);
	tt_buf_reset(b);
	return 0;
}

/* One recording, start to end. 0, or 1 after printing the error. */
static int replay_recording(struct tt_store *st, const struct replay_args *a, int64_t rec)
{
	struct tt_replay_opts ro = { .recording_id = rec };
	struct tt_replay *rp = NULL;
	struct tt_agg *agg = tt_agg_new();
	struct tt_buf out = { 0 };
	struct tt_row *scratch = NULL;
	size_t scap = 0;
	struct tt_event ev;
	uint64_t last_tick = 0;
	char why[512];
	int rc = 1, err;

	if (!agg || tt_replay_open(st, &ro, &rp, why, sizeof(why))) {
		cmd_err("replay: %s", agg ? why : "out of memory");
		goto out;
	}
	struct tt_source *src = tt_replay_source(rp);
	int64_t m2w = tt_replay_mono_to_wall(rp);

	while ((err = tt_source_next(src, &ev)) > 0) {
		err = tt_agg_feed(agg, &ev);
		if (err < 0)
			break;
		if (err == 0) {
			if (a->events && a->json) {
				const struct tt_ev_conn *c = tt_agg_conn(agg, ev.sample.id);

				if (c)
					tt_event_json(&out, &ev, c, m2w);
			}
			continue;
		}
		const struct tt_table *t = tt_agg_table(agg);

		pace(a->speed, last_tick ? t->ts_ns - last_tick : 0);
		last_tick = t->ts_ns;
		if (a->json) {
			size_t i;

			for (i = 0; i < t->n; i++)
				tt_row_json(&out, &t->rows[i], t->ts_ns, m2w);
		} else {
			struct tt_view_opts vo = { .sort = a->sort,
						   .top = a->top,
						   .mono_to_wall_ns = m2w,
						   .utc = a->utc,
						   .title = "tcptop-analyze replay" };

			if ((err = tt_view_render(&out, t, &vo, &scratch, &scap)))
				break;
			tt_buf_add(&out, "\n", 1);
		}
		if ((err = write_out(&out)))
			break;
	}
	if (err < 0) {
		cmd_err("replay: %s", err == -ENOMEM ? "out of memory" : src->errmsg(src));
		goto out;
	}
	write_out(&out);
	if (tt_replay_warning(rp))
		cmd_err("replay: warning: %s (damaged blocks skipped: %" PRIu64 ")",
			tt_replay_warning(rp), tt_replay_stats(rp)->blocks_damaged);
	rc = 0;
out:
	tt_replay_close(rp);
	tt_agg_free(agg);
	tt_buf_free(&out);
	free(scratch);
	return rc;
}

int cmd_replay(int argc, char **argv)
{
	struct replay_args a;
	struct tt_store *st;
	sqlite3_stmt *q = NULL;
	char why[512];
	int rc = parse_args(argc, argv, &a);

	if (rc)
		return rc == 1 ? 0 : rc;
	if (tt_store_open(a.dir, TT_STORE_READ, 0, 0, &st, why, sizeof(why))) {
		cmd_err("replay: %s", why);
		return 1;
	}
	if (a.recording) {
		rc = replay_recording(st, &a, a.recording);
	} else if (sqlite3_prepare_v2(tt_store_db(st), "SELECT id FROM recordings ORDER BY id", -1,
				      &q, NULL)) {
		cmd_err("replay: %s: index: %s", a.dir, sqlite3_errmsg(tt_store_db(st)));
		rc = 1;
	} else {
		while (!rc && sqlite3_step(q) == SQLITE_ROW)
			rc = replay_recording(st, &a, sqlite3_column_int64(q, 0));
	}
	sqlite3_finalize(q);
	tt_store_close(st);
	return rc;
}
