/*
 * tcptop-analyze: questions about a recording, one subcommand each.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"

static const struct cmd cmds[] = {
	{ "info", cmd_info, "recordings, time span, hosts, segments, size, compression, losses" },
	{ "verify", cmd_verify, "check every frame's checksum and the index against the segments" },
	{ "reindex", cmd_reindex, "rebuild the index from the segment files" },
	{ "top", cmd_top, "top-N of a window by bytes, rate, RTT...; grouped by conn, process, host..." },
	{ "events", cmd_events, "connects, accepts, closes, resets, retransmits, state changes, losses" },
	{ "timeline", cmd_timeline, "time-bucketed totals: bytes, rates, connections, retransmits" },
	{ "report", cmd_report, "a self-contained HTML post-mortem report of a window" },
	{ "diff", cmd_diff, "what changed between a baseline window and the incident window" },
	{ "extract", cmd_extract, "write a window as a new, self-contained store" },
	{ "sql", cmd_sql, "run one read-only SQL statement on the index" },
	{ "replay", cmd_replay, "the recording again, tick by tick, as text or JSON, at any speed" },
};

void cmd_err(const char *fmt, ...)
{
	va_list ap;

	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void usage(FILE *f)
{
	size_t i;

	fputs("Usage: tcptop-analyze COMMAND [OPTIONS] DIR\n"
	      "       tcptop-analyze COMMAND --help\n\nCommands:\n",
	      f);
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %-10s %s\n", cmds[i].name, cmds[i].summary);
	fputs("\nDIR is a store written by tcptop-record -o DIR. The index is plain SQLite:\n"
	      "sqlite3 DIR/index.db works too (docs/SCHEMA.md).\n",
	      f);
}

int main(int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		cmd_err("a command is needed (see --help)");
		return 2;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version")) {
		printf(PROG " " TT_VERSION "\n");
		return 0;
	}
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].fn(argc - 1, argv + 1);
	cmd_err("unknown command '%s' (see --help)", argv[1]);
	return 2;
}
