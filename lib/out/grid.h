/*
 * grid.h: a result set (columns, rows of typed cells) and its three printings:
 * an aligned table with human units for people, CSV and JSON lines with raw
 * numbers for machines. Every analyzer command that prints rows prints a grid,
 * so they all look and parse alike; JSON and CSV keys are the recorder's names
 * wherever a field means the same thing. Text cells go through escape.h: no
 * control byte reaches a terminal, JSON carries the real characters.
 */
#ifndef TT_GRID_H
#define TT_GRID_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

enum tt_col_type {
	TT_COL_STR = 0, /* text, left-aligned */
	TT_COL_INT, /* signed integer */
	TT_COL_UINT, /* unsigned integer */
	TT_COL_REAL, /* double, 1 decimal in tables */
	TT_COL_BYTES, /* uint: "1.20 MiB" in tables, raw in CSV/JSON */
	TT_COL_RATE, /* double bytes/s: "340 KiB/s" ("-1.2 MiB/s") in tables, raw in CSV/JSON */
	TT_COL_TIME, /* uint Unix ns: local or UTC time with its zone in tables, Unix seconds (ms)
			otherwise */
	TT_COL_DURATION, /* uint ns: "4m05s" in tables, seconds (ms) otherwise */
	TT_COL_USEC, /* uint microseconds: "1.25ms" in tables, raw otherwise */
};

struct tt_col {
	const char *key; /* CSV header / JSON key */
	const char *title; /* table header */
	enum tt_col_type type;
};

enum tt_grid_fmt {
	TT_GRID_TABLE = 0,
	TT_GRID_CSV,
	TT_GRID_JSON, /* one object per line */
};

struct tt_grid;

/* A grid with these columns (the array is copied; its strings must outlive the grid). NULL: no
 * memory. */
struct tt_grid *tt_grid_new(const struct tt_col *cols, size_t ncols);

void tt_grid_free(struct tt_grid *g);

/* Drop the rows, keep the columns and the memory. */
void tt_grid_clear(struct tt_grid *g);

/* Start a new row; its cells are empty (null) until set. 0 or -ENOMEM. */
int tt_grid_add_row(struct tt_grid *g);

/* Set a cell of the last row. Strings are copied. Errors are sticky (tt_grid_render reports). */
void tt_grid_str(struct tt_grid *g, size_t col, const char *s);
void tt_grid_int(struct tt_grid *g, size_t col, int64_t v);
void tt_grid_uint(struct tt_grid *g, size_t col, uint64_t v);
void tt_grid_real(struct tt_grid *g, size_t col, double v);

size_t tt_grid_rows(const struct tt_grid *g);

/*
 * --fields: print only the columns whose keys fields lists ("comm,bytes_in"),
 * in that order, in every format (NULL: all, as added). 0, or -EINVAL with why
 * naming the unknown field and listing the valid keys (-ENOMEM: no memory).
 */
int tt_grid_fields(struct tt_grid *g, const char *fields, char *why, size_t why_len);

struct tt_grid_opts {
	enum tt_grid_fmt fmt;
	int utc; /* times in UTC rather than local time (tables) */
	int header; /* print the header line (table, CSV) */
};

/* Append the grid to b. 0, or a negative errno (memory, or a cell that failed). */
int tt_grid_render(const struct tt_grid *g, const struct tt_grid_opts *o, struct tt_buf *b);

/* "table" / "csv" / "json" into *fmt; 0, or -EINVAL. */
int tt_grid_fmt_parse(const char *s, enum tt_grid_fmt *fmt);

#endif /* TT_GRID_H */
