/*
 * qargs.h: what the query commands (top, events, timeline, diff, report,
 * replay, extract) share: the options (stores, the window --from/--to/--last,
 * filters, output format, --utc, --stats), the scan, and the driver that runs
 * each of them from its row (struct qcmd, qargs_main).
 */
#ifndef TT_ANALYZE_QARGS_H
#define TT_ANALYZE_QARGS_H

#include <stdint.h>

#include "filter.h"
#include "grid.h"
#include "scan.h"
#include "store.h"

#define QARGS_STORES_MAX 16

struct qargs {
	const char *cmd; /* for messages */
	const char *dirs[QARGS_STORES_MAX];
	int ndirs;
	const char *from, *to, *last; /* as typed; resolved by qargs_open */
	struct tt_filter filter;
	enum tt_grid_fmt fmt;
	int utc;
	int stats; /* --stats: blocks and events read, on stderr */
	const char *clickhouse; /* --clickhouse URL: the fleet's tables instead of DIRs */
	const char *hostnames; /* --hostname A,B: only these recording hosts (fleet) */
	int fleet_ok; /* set by commands that answer from --clickhouse */
	struct tt_ch *ch; /* resolved by qargs_open for --clickhouse */
	char fleet_hosts[256]; /* the fleet's hosts in the window's span, sorted */
	int fleet_nhosts;
	/* resolved by qargs_open */
	struct tt_store *stores[QARGS_STORES_MAX];
	uint64_t from_ns, to_ns; /* the window, Unix ns */
	uint64_t span_start_ns, span_end_ns; /* what the stores hold */
};

void qargs_init(struct qargs *a, const char *cmd);

/*
 * Take argv[*i] (and its value, argv[*i + 1]) as a shared option, after the
 * command tried its own: 1 if taken (*i moved past its value), 2 after
 * printing a usage error (an unknown option included). A non-option argument
 * is a store directory.
 */
int qargs_opt(struct qargs *a, int argc, char **argv, int *i);

/*
 * Open the stores and resolve the window against them. 0, or the exit code
 * (1 or 2) after printing the error. qargs_close releases the stores.
 */
int qargs_open(struct qargs *a);
void qargs_close(struct qargs *a);

/*
 * Scan every store over [from_ns, to_ns] with cb and ctx: a progress bar on a
 * terminal after a second, one error line on failure, one warning line when
 * damaged blocks were skipped (the rest is still answered). Stats add up into
 * *st (may be NULL). 0, or 1 after printing the error. A callback that fails
 * after printing its own error returns -EIO (nothing more is printed).
 */
struct tt_scan_stats;
int qargs_scan(struct qargs *a, uint64_t from_ns, uint64_t to_ns, const struct tt_scan_cb *cb,
	       void *ctx, struct tt_scan_stats *st);

/* --stats: what the scan read, one line on stderr (nothing without --stats). */
void qargs_print_stats(const struct qargs *a, const struct tt_scan_stats *st);

/* Write b to stdout; 0 or 1 after printing the error. Resets b. */
struct tt_buf;
int qargs_flush(struct tt_buf *b);

/*
 * An answer without a single row: one line on stderr, "nothing matched" (the
 * shared filter, or the command's own when filtered), "nothing readable" (st,
 * may be NULL, counts skipped damage) or "nothing recorded" in the window, and
 * no table: a zero-filled table would read as a measurement. The command exits 0.
 */
struct tt_scan_stats;
void qargs_nothing(const struct qargs *a, const struct tt_scan_stats *st, int filtered);

/*
 * A second window typed as FROM..TO (diff's --baseline and --window, report's
 * --baseline), resolved against the open stores as --from and --to are, into
 * *from_ns and *to_ns. 0, or the exit code (2 malformed, 1 outside the
 * recording) after printing the error; name is the option, for the message.
 */
int qargs_range(struct qargs *q, const char *name, const char *spec, uint64_t *from_ns,
		uint64_t *to_ns);

/* The --help lines for the shared options. */
extern const char qargs_help[];

/*
 * argv[*i]'s value for a command's own option: argv[*i + 1], *i moved past it;
 * NULL after printing "<cmd>: option '<o>' needs a value" (the usage error, 2).
 */
const char *qargs_value(const struct qargs *a, int argc, char **argv, int *i);

/* The scan qargs_main makes: its callbacks (ctx: the command's run) and span. */
struct qscan {
	struct tt_scan_cb cb;
	uint64_t from_ns, to_ns; /* the window unless plan changes them */
};

/*
 * A query command as a table row: what is its own. The rest, which every one
 * of them does the same way, is qargs_main's: -h/--help, the option loop
 * (the command's options first, then the shared ones), qargs_open, the scan
 * (or --clickhouse), --stats, the cleanup. run is the command's state, passed
 * to every callback; a callback left NULL is a step the command does not have.
 */
struct qcmd {
	const char *name;
	const char *help; /* --help: this, then qargs_help unless help_alone */
	int help_alone; /* the shared options are not listed (extract: few apply) */
	int stats; /* --stats: qargs_print_stats after an answer (exit 0) */
	/* argv[*i] as the command's own option: as qargs_opt, or 0 when not its own */
	int (*opt)(void *run, int argc, char **argv, int *i);
	/* every option in, nothing open: 0, or the exit code after printing why */
	int (*check)(void *run);
	/*
	 * The stores open and the window resolved: 0, or the exit code after
	 * printing why. Sets what qargs_main scans in *s (no callback set: no scan).
	 */
	int (*plan)(void *run, struct qscan *s);
	/*
	 * --clickhouse: the answer's data from there instead of the scan: 0 or a
	 * negative errno (qargs_main prints it). NULL: not answered from ClickHouse.
	 */
	int (*fleet)(void *run);
	/* After the scan: the answer. The exit code, after printing why (not 0). */
	int (*print)(void *run, const struct tt_scan_stats *st);
	/* Frees what run holds, whatever step it got to; rc is the exit code so far. */
	void (*done)(void *run, int rc);
};

/*
 * Run the command c on argv (argv[0] is its name). run is its state, q its
 * shared options (run points at q: the callbacks reach them there). The exit
 * code: 0, 1 (runtime) or 2 (usage).
 */
int qargs_main(const struct qcmd *c, struct qargs *q, void *run, int argc, char **argv);

#endif /* TT_ANALYZE_QARGS_H */
