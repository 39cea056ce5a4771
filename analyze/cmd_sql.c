/*
 * sql DIR "SELECT ...": one read-only statement on DIR/index.db, printed the
 * way every other command prints rows (aligned table, CSV, JSON lines). The
 * lockdown (what may run, on which connection, within which limits) lives in
 * lib/query.c; this file parses options, keeps a backstop timer and prints.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "buf.h"
#include "cmd.h"
#include "grid.h"
#include "qargs.h"
#include "query.h"
#include "timeparse.h"

/*
 * The progress handler cannot stop one long SQL function call (instr() over
 * two 16 MiB values runs for hours between two VM steps): a timer this much
 * after --timeout ends the process with the same message.
 */
#define BACKSTOP_GRACE_S 2

static char backstop_msg[128];
static size_t backstop_len;

static void backstop(int sig)
{
	ssize_t n;

	(void)sig;
	n = write(STDERR_FILENO, backstop_msg, backstop_len);
	(void)n;
	_exit(1);
}

static int arm_backstop(uint64_t timeout_ns)
{
	struct itimerval it = { 0 };
	struct sigaction sa = { 0 };
	uint64_t s = timeout_ns / 1000000000ull + BACKSTOP_GRACE_S;
	int n;

	n = snprintf(backstop_msg, sizeof(backstop_msg),
		     PROG ": sql: stopped after %g s (--timeout)\n", (double)timeout_ns / 1e9);
	backstop_len = n > 0 && (size_t)n < sizeof(backstop_msg) ? (size_t)n : 0;
	sa.sa_handler = backstop;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGALRM, &sa, NULL))
		return -errno;
	it.it_value.tv_sec = (time_t)s;
	return setitimer(ITIMER_REAL, &it, NULL) ? -errno : 0;
}

static void disarm_backstop(void)
{
	struct itimerval it = { 0 };

	setitimer(ITIMER_REAL, &it, NULL);
	signal(SIGALRM, SIG_DFL);
}

static const char usage[] =
	"Usage: tcptop-analyze sql [--format table|csv|json] [--no-header] [--timeout DUR]\n"
	"                          [--max-rows N] [--max-memory SIZE] [--fields KEYS]\n"
	"                          DIR \"SELECT ...\"\n"
	"One read-only SQL statement on DIR/index.db (tables and views: docs/SCHEMA.md),\n"
	"printed as an aligned table, CSV or JSON lines. Only queries run: SELECT, WITH,\n"
	"VALUES, EXPLAIN and PRAGMA table_info & co.; no ATTACH, no writes, no other\n"
	"PRAGMA, no load_extension(). Limits: --timeout (default 10s), --max-rows\n"
	"(default 1000000), --max-memory (default 256M: SQLite's heap, and the result).\n"
	"--fields KEYS: of the result's columns, these in this order (comma-separated).\n"
	"An SQL text that starts with '-' goes after '--'.\n";

/* An argument that starts with '-' but holds blanks is SQL (a leading comment), not an option. */
static int is_option(const char *s)
{
	return s[0] == '-' && s[1] && !strpbrk(s, " \t\n\r");
}

int cmd_sql(int argc, char **argv)
{
	struct tt_query_limits lim = { 0 };
	struct tt_grid_opts go = { .fmt = TT_GRID_TABLE, .header = 1 };
	const char *dir = NULL, *sql = NULL, *fields = NULL;
	struct tt_query *q = NULL;
	struct tt_grid *g = NULL;
	struct tt_buf out = { 0 };
	char path[4096], why[768];
	int i, rc = 1, err, opts = 1;
	struct stat st;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		uint64_t n;
		char *end;

		if (opts && !strcmp(a, "--")) {
			opts = 0;
			continue;
		}
		if (!opts || !is_option(a)) {
			if (!dir) {
				dir = a;
			} else if (!sql) {
				sql = a;
			} else {
				cmd_err("sql: one directory and one statement (quote the SQL)");
				return 2;
			}
			continue;
		}
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			fputs(usage, stdout);
			return 0;
		}
		if (!strcmp(a, "--no-header")) {
			go.header = 0;
			continue;
		}
		if (strcmp(a, "--format") && strcmp(a, "--timeout") && strcmp(a, "--max-rows") &&
		    strcmp(a, "--max-memory") && strcmp(a, "--fields")) {
			cmd_err("sql: unknown option '%s' (see sql --help)", a);
			return 2;
		}
		if (!v) {
			cmd_err("sql: option '%s' needs a value", a);
			return 2;
		}
		i++;
		if (!strcmp(a, "--fields")) {
			fields = v;
		} else if (!strcmp(a, "--format")) {
			if (tt_grid_fmt_parse(v, &go.fmt)) {
				cmd_err("sql: --format: '%s' is not table, csv or json", v);
				return 2;
			}
		} else if (!strcmp(a, "--timeout")) {
			/* a day at most: the backstop timer counts whole seconds in a time_t */
			if (tt_parse_duration(v, &n) || !n || n > 86400ull * 1000000000ull) {
				cmd_err("sql: --timeout: '%s' is not a duration between 1ms and 1d",
					v);
				return 2;
			}
			lim.timeout_ns = n;
		} else if (!strcmp(a, "--max-rows")) {
			errno = 0;
			n = strtoull(v, &end, 10);
			if (errno || end == v || *end || v[0] == '-' || !n || n > SIZE_MAX / 2) {
				cmd_err("sql: --max-rows: '%s' is not a positive number", v);
				return 2;
			}
			lim.max_rows = (size_t)n;
		} else {
			/* SQLite needs a few MiB for itself before it reads a page */
			if (tt_parse_size(v, &n) || n < (4ull << 20) || n > (INT64_MAX >> 1)) {
				cmd_err("sql: --max-memory: '%s' is not a size of at least 4M", v);
				return 2;
			}
			lim.max_memory = n;
		}
	}
	if (!dir || !sql) {
		cmd_err("sql: needs a store directory and one SQL statement (see sql --help)");
		return 2;
	}
	if (stat(dir, &st)) {
		cmd_err("sql: %s: %s", dir, strerror(errno));
		return 1;
	}
	if (!S_ISDIR(st.st_mode)) {
		cmd_err("sql: %s is not a directory", dir);
		return 1;
	}
	if ((size_t)snprintf(path, sizeof(path), "%s/index.db", dir) >= sizeof(path)) {
		cmd_err("sql: %s: path too long", dir);
		return 1;
	}

	if ((err = arm_backstop(lim.timeout_ns ? lim.timeout_ns : TT_QUERY_TIMEOUT_NS))) {
		cmd_err("sql: cannot set the --timeout timer: %s", strerror(-err));
		return 1;
	}
	err = tt_query_run(path, sql, &lim, &q, why, sizeof(why));
	disarm_backstop();
	if (err == -ENOENT) {
		cmd_err("sql: %s is not a tcptop store (no index.db)", dir);
		goto out;
	}
	if (err) {
		cmd_err("sql: %s", why);
		goto out;
	}
	g = tt_query_grid(q);
	/* the columns are the statement's: known only once it ran */
	if (g && (err = tt_grid_fields(g, fields, why, sizeof(why)))) {
		cmd_err("sql: %s", why);
		rc = err == -EINVAL ? 2 : 1;
		goto out;
	}
	if (!g || tt_grid_render(g, &go, &out)) {
		cmd_err("sql: %s", g && out.err == -E2BIG ? "output larger than 64 MiB: add a LIMIT"
							  : "out of memory");
		goto out;
	}
	if (qargs_flush(&out))
		goto out;
	rc = 0;
out:
	tt_buf_free(&out);
	tt_grid_free(g);
	tt_query_free(q);
	return rc;
}
