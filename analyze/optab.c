/*
 * optab.c: see optab.h.
 */
#include <string.h>

#include "optab.h"
#include "suggest.h"

#define COMMON                                                                                     \
	{ "--from", 1 }, { "--to", 1 }, { "--last", 1 }, { "--proto", 1 }, { "--port", 1 },        \
		{ "--pid", 1 }, { "--comm", 1 }, { "--host", 1 }, { "--state", 1 },                \
		{ "--format", 1 }, { "--utc", 0 },                                                 \
	{                                                                                          \
		"--stats", 0                                                                       \
	}
#define HELP                                                                                       \
	{ "-h", 0 },                                                                               \
	{                                                                                          \
		"--help", 0                                                                        \
	}
#define END                                                                                        \
	{                                                                                          \
		NULL, 0                                                                            \
	}

static const struct optab_opt o_info[] = { { "--utc", 0 }, { "--format", 1 }, HELP, END };
static const struct optab_opt o_none[] = { HELP, END };
static const struct optab_opt o_top[] = { { "-n", 1 },
					  { "--by", 1 },
					  { "--group-by", 1 },
					  { "--per-interval", 1 },
					  { "--no-rollups", 0 },
					  { "--fields", 1 },
					  { "--clickhouse", 1 },
					  { "--hostname", 1 },
					  COMMON,
					  HELP,
					  END };
static const struct optab_opt o_events[] = { { "--type", 1 },
					     { "--fields", 1 },
					     { "--clickhouse", 1 },
					     { "--hostname", 1 },
					     COMMON,
					     HELP,
					     END };
static const struct optab_opt o_timeline[] = {
	{ "--bucket", 1 }, { "--clickhouse", 1 }, { "--hostname", 1 }, COMMON, HELP, END
};
static const struct optab_opt o_diff[] = { { "--baseline", 1 },
					   { "--window", 1 },
					   { "--group-by", 1 },
					   { "-n", 1 },
					   { "--clickhouse", 1 },
					   { "--hostname", 1 },
					   COMMON,
					   HELP,
					   END };
static const struct optab_opt o_extract[] = { { "-o", 1 },
					      { "--output", 1 },
					      { "--from", 1 },
					      { "--to", 1 },
					      { "--last", 1 },
					      { "--utc", 0 },
					      HELP,
					      END };
static const struct optab_opt o_replay[] = { { "--speed", 1 },
					     { "--events", 0 },
					     { "--recording", 1 },
					     { "--sort", 1 },
					     { "-n", 1 },
					     { "--top", 1 },
					     { "--no-tty", 0 },
					     COMMON,
					     HELP,
					     END };
static const struct optab_opt o_report[] = { { "-o", 1 },
					     { "--output", 1 },
					     { "--force", 0 },
					     { "-n", 1 },
					     { "--by", 1 },
					     { "--baseline", 1 },
					     COMMON,
					     HELP,
					     END };
static const struct optab_opt o_export[] = { { "--clickhouse", 1 },
					     { "--batch", 1 },
					     { "--retries", 1 },
					     HELP,
					     END };
static const struct optab_opt o_sql[] = { { "--format", 1 },
					  { "--no-header", 0 },
					  { "--timeout", 1 },
					  { "--max-rows", 1 },
					  { "--max-memory", 1 },
					  { "--fields", 1 },
					  HELP,
					  END };

static const struct {
	const char *cmd;
	const struct optab_opt *opts;
	int common;
} table[] = {
	{ "info", o_info, 0 },	   { "verify", o_none, 0 },   { "reindex", o_none, 0 },
	{ "top", o_top, 1 },	   { "events", o_events, 1 }, { "timeline", o_timeline, 1 },
	{ "report", o_report, 1 }, { "diff", o_diff, 1 },     { "extract", o_extract, 0 },
	{ "sql", o_sql, 0 },	   { "replay", o_replay, 1 }, { "export", o_export, 0 },
};

const struct optab_opt *optab_find(const char *cmd)
{
	size_t i;

	for (i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (!strcmp(table[i].cmd, cmd))
			return table[i].opts;
	return NULL;
}

int optab_common(const char *cmd)
{
	size_t i;

	for (i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (!strcmp(table[i].cmd, cmd))
			return table[i].common;
	return 0;
}

const char *optab_closest(const char *typed, const char *const *words)
{
	size_t n = 0;

	while (words[n])
		n++;
	return tt_suggest(typed, words, n);
}

const char *optab_suggest(const char *cmd, const char *typed)
{
	const struct optab_opt *o = optab_find(cmd);
	const char *names[64];
	size_t n = 0;

	if (!o)
		return NULL;
	for (; o->name && n < 64; o++)
		if (o->name[1] == '-') /* a long option: "-x" is too short to guess from */
			names[n++] = o->name;
	return tt_suggest(typed, names, n);
}

void optab_print(FILE *f, const char *cmd)
{
	const struct optab_opt *o = optab_find(cmd);

	for (; o && o->name; o++)
		fprintf(f, "%s%s\n", o->name, o->arg ? "=" : "");
}
