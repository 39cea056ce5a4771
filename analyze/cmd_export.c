/*
 * export DIR... --clickhouse URL: send what each store holds and the
 * destination has not got yet (lib/ship.h), with a progress bar on a terminal,
 * and one line per store with what went.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "progress.h"
#include "ship.h"
#include "store.h"

static void on_progress(void *ctx, uint64_t done, uint64_t total)
{
	progress_update(ctx, done, total);
}

/*
 * Export cursors live in schema 3: migrate a store no recorder holds (a writer's
 * open does it); one a recorder holds was migrated by it.
 */
static int migrate(const char *dir, char *why, size_t why_len)
{
	struct tt_store *s;
	int err = tt_store_open(dir, TT_STORE_READ, 0, 0, &s, why, why_len);

	if (err)
		return err;
	if (tt_store_schema_version(s) >= 3) {
		tt_store_close(s);
		return 0;
	}
	tt_store_close(s);
	err = tt_store_open(dir, TT_STORE_WRITE, 0700, 0600, &s, why, why_len);
	if (!err)
		tt_store_close(s);
	return err == -EBUSY ? 0 : err; /* its recorder is older: tt_ship_store says so */
}

int cmd_export(int argc, char **argv)
{
	const char *url = NULL, *dirs[64];
	struct tt_ship_opts o = { .on_progress = on_progress };
	struct tt_ch *ch;
	struct progress pg;
	char why[1024];
	int i, nd = 0, retries = 5, rc = 0, err;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		char *end;

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			printf("Usage: tcptop-analyze export DIR... --clickhouse URL [--batch ROWS] [--retries N]\n"
			       "Send what each store holds and URL has not received yet to ClickHouse\n"
			       "(18.16 or later): recordings, per-tick connection rows, connection\n"
			       "lifetimes, events and losses (docs/FLEET.md). Incremental: the store\n"
			       "remembers per URL what was acknowledged, batch by batch, so a rerun sends\n"
			       "only what is new, and after a kill resends at most one batch, which\n"
			       "ClickHouse's tables collapse (exactly one copy of every row).\n"
			       "URL: http://[USER:PASSWORD@]HOST:8123/[?database=NAME]; the tables are\n"
			       "created if missing. --batch: rows per INSERT (default 20000);\n"
			       "--retries: attempts after a failure to reach the server, with backoff\n"
			       "from 0.2 s (default 5); a refusal is never retried.\n");
			return 0;
		}
		if (!strcmp(a, "--clickhouse") || !strcmp(a, "--batch") ||
		    !strcmp(a, "--retries")) {
			long x;

			if (!v) {
				cmd_err("export: option '%s' needs a value", a);
				return 2;
			}
			i++;
			if (!strcmp(a, "--clickhouse")) {
				url = v;
				continue;
			}
			x = strtol(v, &end, 10);
			if (*end || !*v || x < (a[2] == 'b' ? 1 : 0) || x > 10000000) {
				cmd_err("export: %s: '%s' is not a number %s", a, v,
					a[2] == 'b' ? "of rows (1 or more)"
						    : "of retries (0 or more)");
				return 2;
			}
			if (a[2] == 'b')
				o.batch_rows = (size_t)x;
			else
				retries = (int)x;
			continue;
		}
		if (!strcmp(a, "--") && i + 1 < argc) {
			for (i++; i < argc && nd < 64; i++)
				dirs[nd++] = argv[i];
			break;
		}
		if (a[0] == '-') {
			cmd_err("export: unknown option '%s' (see export --help)", a);
			return 2;
		}
		if (nd == 64) {
			cmd_err("export: at most 64 stores at once");
			return 2;
		}
		dirs[nd++] = a;
	}
	if (!url) {
		cmd_err("export: needs --clickhouse URL (see export --help)");
		return 2;
	}
	if (!nd) {
		cmd_err("export: needs a store directory (see export --help)");
		return 2;
	}
	ch = tt_ch_new(url, retries, 200, why, sizeof(why));
	if (!ch) {
		cmd_err("export: --clickhouse: %s", why);
		return 2;
	}
	if ((err = tt_ch_migrate(ch))) {
		cmd_err("export: %s", tt_ch_errmsg(ch));
		tt_ch_free(ch);
		return 1;
	}
	for (i = 0; i < nd; i++) {
		struct tt_ship_stats st = { 0 };

		if ((err = migrate(dirs[i], why, sizeof(why)))) {
			cmd_err("export: %s", why);
			rc = 1;
			break;
		}
		progress_init(&pg);
		o.ctx = &pg;
		err = tt_ship_store(ch, dirs[i], &o, &st, why, sizeof(why));
		progress_done(&pg);
		if (err) {
			cmd_err("export: %s: %s", dirs[i], why);
			rc = 1;
			break;
		}
		printf("%s: %" PRIu64 " recordings, %" PRIu64 " connection-ticks, %" PRIu64
		       " events, %" PRIu64 " connections, %" PRIu64 " loss blocks in %" PRIu64
		       " inserts to %s\n",
		       dirs[i], st.recordings, st.ticks, st.events, st.conns, st.losses, st.batches,
		       tt_ch_dest(ch));
		fflush(stdout);
	}
	tt_ch_free(ch);
	return rc;
}
