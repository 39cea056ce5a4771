/*
 * tcptop-analyze: questions about a recording, one subcommand each.
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "cmd.h"
#include "escape.h"
#include "gitversion.h"
#include "optab.h"

static int cmd_help(int argc, char **argv);

static const struct cmd cmds[] = {
	{ "info", cmd_info, "recordings, time span, hosts, segments, size, compression, losses" },
	{ "verify", cmd_verify, "check every frame's checksum and the index against the segments" },
	{ "reindex", cmd_reindex, "rebuild the index from the segment files" },
	{ "top", cmd_top,
	  "top-N of a window by bytes, rate, RTT...; grouped by conn, process, host..." },
	{ "events", cmd_events,
	  "connects, accepts, closes, resets, retransmits, state changes, losses" },
	{ "timeline", cmd_timeline,
	  "time-bucketed totals: bytes, rates, connections, retransmits" },
	{ "report", cmd_report, "a self-contained HTML post-mortem report of a window" },
	{ "diff", cmd_diff, "what changed between a baseline window and the incident window" },
	{ "extract", cmd_extract, "write a window as a new, self-contained store" },
	{ "sql", cmd_sql, "run one read-only SQL statement on the index" },
	{ "export", cmd_export, "send stores to ClickHouse, incrementally (docs/FLEET.md)" },
	{ "replay", cmd_replay,
	  "the recording again, tick by tick, as text or JSON, at any speed" },
	{ "help", cmd_help, "this list, or help CMD: a command's own help" },
};

#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

/* Where a store usually is, for commands given no DIR (see tcptop-analyze(1)). */
#define SERVICE_STORE "/var/lib/tcptop"
#define DEFAULT_STORE "tcptop-data"

void cmd_err(const char *fmt, ...)
{
	char msg[2048];
	struct tt_buf b = { 0 };
	va_list ap;

	/* a message may quote a store's data (a file name, a host): one line, nothing raw */
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	tt_esc_text(&b, msg, strlen(msg));
	fprintf(stderr, PROG ": %s\n", b.p ? b.p : "");
	tt_buf_free(&b);
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
 * getopt_long over the command's option table, so that --opt=value, -n5,
 * unique prefixes of long options and "--" mean what they mean to
 * tcptop-record. The command gets its arguments back in one spelling: each
 * option by its full name with its value as the next argument, then the
 * positional ones, after "--" when one of them starts with '-' (sql's
 * statement may). *out (argc + 1 spare slots) is freed by the caller; *npos
 * counts the positional arguments, "--" not included. 0, or 2 after printing
 * a usage error.
 */
static int normalize(const char *cmd, int argc, char **argv, char ***out, int *outc, int *npos)
{
	const struct optab_opt *tab = optab_find(cmd), *t;
	struct option lo[64];
	char shorts[64] = ":";
	char **nv;
	int n = 0, nl = 0, ns = 1, ch, li, i, dash = 0;

	nv = calloc((size_t)argc * 2 + 3, sizeof(*nv));
	if (!nv) {
		cmd_err("out of memory");
		return 1;
	}
	for (t = tab; t && t->name && nl < 63 && ns < 60; t++) {
		if (t->name[1] == '-') {
			lo[nl].name = t->name + 2;
			lo[nl].has_arg = t->arg ? required_argument : no_argument;
			lo[nl].flag = NULL;
			lo[nl].val = 256 + (int)(t - tab);
			nl++;
		} else {
			shorts[ns++] = t->name[1];
			if (t->arg)
				shorts[ns++] = ':';
		}
	}
	memset(&lo[nl], 0, sizeof(lo[nl]));
	shorts[ns] = '\0';

	nv[n++] = argv[0];
	optind = 0; /* a fresh scan, permuting: options may follow the stores */
	opterr = 0;
	while ((ch = getopt_long(argc, argv, shorts, lo, &li)) != -1) {
		const char *typed = argv[optind - 1];

		if (ch == '?' || ch == ':') {
			char name[64];
			const char *sug;
			size_t len = strcspn(typed, "=");
			int amb = 0;

			if (ch == ':') {
				cmd_err("%s: option '%s' needs a value", cmd, typed);
				goto usage;
			}
			if (typed[0] != '-' || typed[1] != '-' || len >= sizeof(name)) {
				cmd_err("%s: unknown option '-%c' (see %s --help)", cmd, optopt,
					cmd);
				goto usage;
			}
			memcpy(name, typed, len);
			name[len] = '\0';
			for (t = tab; t->name; t++)
				amb += !strncmp(t->name, name, len) && t->name[1] == '-';
			if (amb > 1) {
				cmd_err("%s: option '%s' is ambiguous (see %s --help)", cmd, name,
					cmd);
				goto usage;
			}
			sug = optab_suggest(cmd, name);
			if (sug)
				cmd_err("%s: unknown option '%s' (did you mean %s?)", cmd, name,
					sug);
			else
				cmd_err("%s: unknown option '%s' (see %s --help)", cmd, name, cmd);
			goto usage;
		}
		if (ch >= 256) {
			t = &tab[ch - 256];
		} else {
			for (t = tab; t->name && t->name[1] != ch; t++)
				;
		}
		/* argv is char ** by convention; no command writes through it */
		nv[n++] = (char *)(uintptr_t)t->name;
		if (t->arg)
			nv[n++] = optarg;
	}
	*npos = argc - optind;
	for (i = optind; i < argc; i++)
		dash |= argv[i][0] == '-' && argv[i][1];
	if (dash)
		nv[n++] = "--";
	for (i = optind; i < argc; i++)
		nv[n++] = argv[i];
	*out = nv;
	*outc = n;
	return 0;
usage:
	free(nv);
	return 2;
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

/* Run cmd over its arguments in one spelling, the default store put in when no DIR is given. */
static int run(const struct cmd *c, int argc, char **argv)
{
	int need = !strcmp(c->name, "sql") ? 2 : 1, err, i, n, npos, p0;
	const char *from = NULL;
	char *store = NULL, **nv;

	if ((err = normalize(c->name, argc, argv, &nv, &n, &npos)))
		return err;
	p0 = n - npos; /* the first positional argument (or "--" before it) */
	if (p0 > 0 && !strcmp(nv[p0 - 1], "--"))
		p0--;
	for (i = 1; i < p0; i++)
		if (!strcmp(nv[i], "-h") || !strcmp(nv[i], "--help") ||
		    (!strcmp(nv[i], "--clickhouse") && c->fn != cmd_export))
			goto call; /* a fleet query needs no store */
	if (npos >= need) {
		/* the positional arguments that are stores: all, but sql's statement */
		for (i = n - npos; i < n - (need == 2 ? npos - 1 : 0); i++)
			if (unreadable_store(c->name, nv[i])) {
				err = 1;
				goto out;
			}
		goto call;
	}
	if (npos != need - 1)
		goto call;
	if ((store = getenv("TCPTOP_STORE")) && *store)
		from = "TCPTOP_STORE";
	else if (is_dir(SERVICE_STORE))
		store = SERVICE_STORE, from = "the service's store";
	else if (is_dir(DEFAULT_STORE))
		store = DEFAULT_STORE, from = "tcptop-record's default store";
	if (!from) {
		cmd_err("%s: which store? Give DIR, or set TCPTOP_STORE (there is no " SERVICE_STORE
			" and no ./" DEFAULT_STORE ")",
			c->name);
		err = 2;
		goto out;
	}
	if (unreadable_store(c->name, store)) {
		err = 1;
		goto out;
	}
	if (isatty(STDERR_FILENO))
		fprintf(stderr, PROG ": reading %s (%s)\n", store, from);
	/* before the positional ones (and their "--"): the store comes first */
	memmove(nv + p0 + 1, nv + p0, (size_t)(n - p0) * sizeof(*nv));
	nv[p0] = store;
	n++;
	if (p0 + 1 < n && !strcmp(nv[p0 + 1], "--")) {
		/* "--" STORE ...: the store must not look like what "--" protects */
		nv[p0] = "--";
		nv[p0 + 1] = store;
	}
call:
	err = c->fn(n, nv);
out:
	free(nv);
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
