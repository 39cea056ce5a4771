/*
 * tcptop-analyze: questions about a recording, one subcommand each.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd.h"
#include "gitversion.h"
#include "optab.h"

static int cmd_help(int argc, char **argv);

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
	{ "help", cmd_help, "this list, or help CMD: a command's own help" },
};

#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

/* Where a store usually is, for commands given no DIR (see tcptop-analyze(1)). */
#define SERVICE_STORE "/var/lib/tcptop"
#define DEFAULT_STORE "tcptop-data"

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

	fputs("Usage: tcptop-analyze COMMAND [OPTIONS] [DIR]\n"
	      "       tcptop-analyze help COMMAND\n\nCommands:\n",
	      f);
	for (i = 0; i < NCMDS; i++)
		fprintf(f, "  %-10s %s\n", cmds[i].name, cmds[i].summary);
	fputs("\nDIR is a store written by tcptop-record -o DIR. Without DIR: $TCPTOP_STORE,\n"
	      "else " SERVICE_STORE " (the service's), else ./" DEFAULT_STORE ". The index is\n"
	      "plain SQLite: sqlite3 DIR/index.db works too (tcptop-store(5)).\n",
	      f);
}

static const struct cmd *find_cmd(const char *name)
{
	size_t i;

	for (i = 0; i < NCMDS; i++)
		if (!strcmp(name, cmds[i].name))
			return &cmds[i];
	return NULL;
}

static int unknown_cmd(const char *name)
{
	const char *words[NCMDS + 1];
	const char *sug;
	size_t i;

	for (i = 0; i < NCMDS; i++)
		words[i] = cmds[i].name;
	words[NCMDS] = NULL;
	sug = optab_closest(name, words);
	if (sug)
		cmd_err("unknown command '%s' (did you mean %s?)", name, sug);
	else
		cmd_err("unknown command '%s' (see --help)", name);
	return 2;
}

/* help, help CMD (CMD --help), help --options CMD (the option table, for tests and completion) */
static int cmd_help(int argc, char **argv)
{
	const struct cmd *c;
	char *hargv[3];

	if (argc < 2) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--options") && argc == 3) {
		if (!optab_find(argv[2]))
			return unknown_cmd(argv[2]);
		optab_print(stdout, argv[2]);
		return 0;
	}
	if (argc > 2) {
		cmd_err("help: one command at a time (see help)");
		return 2;
	}
	c = find_cmd(argv[1]);
	if (!c)
		return unknown_cmd(argv[1]);
	if (c->fn == cmd_help) {
		usage(stdout);
		return 0;
	}
	hargv[0] = argv[1];
	hargv[1] = "--help";
	hargv[2] = NULL;
	return c->fn(2, hargv);
}

/*
 * The arguments of a command, seen through its option table: which are
 * positional (*npos), and an unknown option that is close to a known one
 * (its error, with the suggestion, printed here: 2). Anything else is left
 * to the command's own parser.
 */
static int scan_args(const char *cmd, int argc, char **argv, int *npos)
{
	const struct optab_opt *tab = optab_find(cmd), *o;
	int i;

	*npos = 0;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--")) {
			*npos += argc - i - 1;
			break;
		}
		if (a[0] != '-' || !a[1]) {
			(*npos)++;
			continue;
		}
		for (o = tab; o && o->name && strcmp(o->name, a); o++)
			;
		if (o && o->name) {
			i += o->arg;
			continue;
		}
		if (a[1] == '-' && optab_suggest(cmd, a)) {
			cmd_err("%s: unknown option '%s' (did you mean %s?)", cmd, a,
				optab_suggest(cmd, a));
			return 2;
		}
	}
	return 0;
}

static int is_dir(const char *path)
{
	struct stat st;

	return !stat(path, &st) && S_ISDIR(st.st_mode);
}

/*
 * A store this user may not read: say who can (its group, or its owner only)
 * rather than let SQLite say "unable to open database file". 1 after printing.
 */
static int unreadable_store(const char *cmd, const char *dir)
{
	char path[4096];
	struct passwd *owner, *me;
	struct group *gr;
	struct stat st;

	if (stat(dir, &st) || !S_ISDIR(st.st_mode))
		return 0;
	if ((size_t)snprintf(path, sizeof(path), "%s/index.db", dir) >= sizeof(path))
		return 0;
	if (!access(path, R_OK) || errno != EACCES)
		return 0;
	gr = getgrgid(st.st_gid);
	owner = getpwuid(st.st_uid);
	me = getpwuid(getuid());
	if ((st.st_mode & S_IRGRP) && gr)
		cmd_err("%s: %s: permission denied: the store can be read by group %s "
			"(usermod -aG %s %s, then log in again)",
			cmd, dir, gr->gr_name, gr->gr_name, me ? me->pw_name : "USER");
	else
		cmd_err("%s: %s: permission denied: the store is private to user %s "
			"(tcptop-record --group NAME shares one)",
			cmd, dir, owner ? owner->pw_name : "?");
	return 1;
}

/* Run cmd over argv, after the checks above; the default store put in when no DIR is given. */
static int run(const struct cmd *c, int argc, char **argv)
{
	int npos, need = !strcmp(c->name, "sql") ? 2 : 1, err, i, seen = 0;
	const char *store = NULL, *from = NULL;
	char **nargv;

	if ((err = scan_args(c->name, argc, argv, &npos)))
		return err;
	for (i = 1; i < argc; i++)
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return c->fn(argc, argv);
	if (npos >= need) {
		/* the positional arguments that are stores: all of them, but sql's statement */
		for (i = 1; i < argc; i++) {
			const struct optab_opt *o = optab_find(c->name);

			if (!strcmp(argv[i], "--"))
				break;
			if (argv[i][0] == '-' && argv[i][1]) {
				for (; o && o->name && strcmp(o->name, argv[i]); o++)
					;
				if (o && o->name)
					i += o->arg;
				continue;
			}
			if (need == 2 && seen++)
				break;
			if (unreadable_store(c->name, argv[i]))
				return 1;
		}
		return c->fn(argc, argv);
	}
	if (npos != need - 1)
		return c->fn(argc, argv);
	if ((store = getenv("TCPTOP_STORE")) && *store)
		from = "TCPTOP_STORE";
	else if (is_dir(SERVICE_STORE))
		store = SERVICE_STORE, from = "the service's store";
	else if (is_dir(DEFAULT_STORE))
		store = DEFAULT_STORE, from = "tcptop-record's default store";
	if (!from) {
		cmd_err("%s: which store? Give DIR, or set TCPTOP_STORE (there is no " SERVICE_STORE
			" and no ./" DEFAULT_STORE ")", c->name);
		return 2;
	}
	if (unreadable_store(c->name, store))
		return 1;
	if (isatty(STDERR_FILENO))
		fprintf(stderr, PROG ": reading %s (%s)\n", store, from);
	nargv = calloc((size_t)argc + 2, sizeof(*nargv));
	if (!nargv) {
		cmd_err("out of memory");
		return 1;
	}
	nargv[0] = argv[0];
	nargv[1] = (char *)store;
	memcpy(nargv + 2, argv + 1, (size_t)(argc - 1) * sizeof(*nargv));
	err = c->fn(argc + 1, nargv);
	free(nargv);
	return err;
}

int main(int argc, char **argv)
{
	const struct cmd *c;

	if (argc < 2) {
		cmd_err("a command is needed: info, top, events, ... (see --help)");
		return 2;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version")) {
		printf(PROG " " TT_VERSION " (git " TT_GIT_COMMIT ")\n");
		return 0;
	}
	c = find_cmd(argv[1]);
	if (!c)
		return unknown_cmd(argv[1]);
	if (c->fn == cmd_help)
		return cmd_help(argc - 1, argv + 1);
	return run(c, argc - 1, argv + 1);
}
