/*
 * cmd.h: tcptop-analyze's subcommands. Each takes the arguments after its name
 * and returns the exit code: 0, 1 (runtime: damage found, I/O), 2 (usage).
 * Errors print one line: "tcptop-analyze: <what>: <why>".
 */
#ifndef TT_ANALYZE_CMD_H
#define TT_ANALYZE_CMD_H

#include <stdio.h>

#define PROG "tcptop-analyze"

struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

int cmd_info(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_reindex(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_top(int argc, char **argv);
int cmd_events(int argc, char **argv);
int cmd_timeline(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_diff(int argc, char **argv);
int cmd_extract(int argc, char **argv);
int cmd_sql(int argc, char **argv);
int cmd_export(int argc, char **argv);

/* Print "tcptop-analyze: " + the formatted message + newline on stderr. */
void cmd_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* TT_ANALYZE_CMD_H */
