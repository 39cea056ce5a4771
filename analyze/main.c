/*
 * tcptop-analyze: questions about a recording. Subcommands arrive with the
 * store (segments and index); until then it knows only --help and --version.
 */
#include <stdio.h>
#include <string.h>

#define PROG "tcptop-analyze"

static void usage(FILE *f)
{
	fputs("Usage: tcptop-analyze [--help] [--version] COMMAND DIR ...\n"
	      "Subcommands (top, events, timeline, sql, info, verify, replay, report)\n"
	      "arrive with the recording store; this build has none yet.\n",
	      f);
}

int main(int argc, char **argv)
{
	if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		usage(stdout);
		return 0;
	}
	if (argc >= 2 && (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version"))) {
		printf(PROG " " TT_VERSION "\n");
		return 0;
	}
	fprintf(stderr, PROG ": %s (see --help)\n",
		argc >= 2 ? "no such command in this build" : "a command is needed");
	return 2;
}
