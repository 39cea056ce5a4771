/*
 * optab.h: every option of every tcptop-analyze command, in one table. The
 * commands parse their own arguments; main uses the table before handing them
 * over (which arguments are store directories, "did you mean"), and
 * `tcptop-analyze help --options CMD` prints it so that tests can hold the
 * help texts, the man page and the completion scripts against it.
 */
#ifndef TT_ANALYZE_OPTAB_H
#define TT_ANALYZE_OPTAB_H

#include <stdio.h>

struct optab_opt {
	const char *name; /* "--by", "-n" */
	int arg; /* 1: takes a value (the next argument) */
};

/* The options of command cmd, ending with a NULL name; NULL for an unknown command. */
const struct optab_opt *optab_find(const char *cmd);

/* Whether cmd reads the common window, filter and output options. */
int optab_common(const char *cmd);

/* The option of cmd closest to a mistyped one, or NULL if none is close. */
const char *optab_suggest(const char *cmd, const char *typed);

/* The word of words (NULL-terminated) closest to typed, or NULL if none is close. */
const char *optab_closest(const char *typed, const char *const *words);

/* One option per line, "--by=" for those that take a value (for tests and completion). */
void optab_print(FILE *f, const char *cmd);

#endif /* TT_ANALYZE_OPTAB_H */
