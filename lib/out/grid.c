/*
 * grid.c: see grid.h. Cells live in one array, row-major; strings are owned.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "escape.h"
#include "format.h"
#include "grid.h"
#include "mem.h"

struct cell {
	int set; /* 0: null (empty in tables and CSV, null in JSON) */
	union {
		char *s;
		int64_t i;
		uint64_t u;
		double d;
	};
};

struct tt_grid {
	struct tt_col *cols; /* a copy; the strings it points to are the caller's */
	size_t ncols;
	size_t *show; /* --fields: the columns printed, in order (NULL: all, as added) */
	size_t nshow;
	struct cell *cells;
	size_t nrows, cap; /* cap in cells */
	int err;
};

struct tt_grid *tt_grid_new(const struct tt_col *cols, size_t ncols)
{
	struct tt_grid *g = calloc(1, sizeof(*g));

	if (!g)
		return NULL;
	g->cols = malloc(ncols * sizeof(*cols));
	if (!g->cols) {
		free(g);
		return NULL;
	}
	memcpy(g->cols, cols, ncols * sizeof(*cols));
	g->ncols = ncols;
	return g;
}

void tt_grid_clear(struct tt_grid *g)
{
	size_t i;

	for (i = 0; i < g->nrows * g->ncols; i++)
		if (g->cells[i].set && g->cols[i % g->ncols].type == TT_COL_STR)
			free(g->cells[i].s);
	g->nrows = 0;
	g->err = 0;
}

void tt_grid_free(struct tt_grid *g)
{
	if (!g)
		return;
	tt_grid_clear(g);
	free(g->cells);
	free(g->cols);
	free(g->show);
	free(g);
}

int tt_grid_add_row(struct tt_grid *g)
{
	int err =
		tt_grow((void **)&g->cells, &g->cap, (g->nrows + 1) * g->ncols, sizeof(*g->cells));

	if (err)
		return g->err = err;
	memset(&g->cells[g->nrows * g->ncols], 0, g->ncols * sizeof(*g->cells));
	g->nrows++;
	return 0;
}

size_t tt_grid_rows(const struct tt_grid *g)
{
	return g->nrows;
}

static struct cell *last(struct tt_grid *g, size_t col)
{
	if (!g->nrows || col >= g->ncols) {
		g->err = -EINVAL;
		return NULL;
	}
	return &g->cells[(g->nrows - 1) * g->ncols + col];
}

void tt_grid_str(struct tt_grid *g, size_t col, const char *s)
{
	struct cell *c = last(g, col);

	if (!c || !s)
		return;
	if (c->set)
		free(c->s);
	c->s = strdup(s);
	c->set = !!c->s;
	if (!c->s)
		g->err = -ENOMEM;
}

void tt_grid_int(struct tt_grid *g, size_t col, int64_t v)
{
	struct cell *c = last(g, col);

	if (c) {
		c->i = v;
		c->set = 1;
	}
}

void tt_grid_uint(struct tt_grid *g, size_t col, uint64_t v)
{
	struct cell *c = last(g, col);

	if (c) {
		c->u = v;
		c->set = 1;
	}
}

void tt_grid_real(struct tt_grid *g, size_t col, double v)
{
	struct cell *c = last(g, col);

	if (c) {
		c->d = v;
		c->set = 1;
	}
}

int tt_grid_fmt_parse(const char *s, enum tt_grid_fmt *fmt)
{
	if (!strcmp(s, "table") || !strcmp(s, "text"))
		*fmt = TT_GRID_TABLE;
	else if (!strcmp(s, "csv"))
		*fmt = TT_GRID_CSV;
	else if (!strcmp(s, "json"))
		*fmt = TT_GRID_JSON;
	else
		return -EINVAL;
	return 0;
}

/* A cell for people: human units, local or UTC time. */
static void human(char *buf, size_t len, const struct tt_col *col, const struct cell *c, int utc)
{
	if (!c->set) {
		snprintf(buf, len, "-");
		return;
	}
	switch (col->type) {
	case TT_COL_STR: /* a cut at 255 bytes stays whole characters */
		tt_esc_cstr(buf, len, c->s, strlen(c->s));
		break;
	case TT_COL_INT:
		snprintf(buf, len, "%" PRId64, c->i);
		break;
	case TT_COL_UINT:
		snprintf(buf, len, "%" PRIu64, c->u);
		break;
	case TT_COL_REAL:
		snprintf(buf, len, "%.1f", c->d);
		break;
	case TT_COL_BYTES:
		tt_fmt_bytes(buf, len, c->u);
		break;
	case TT_COL_RATE: /* a difference of rates may be negative */
		if (c->d < 0 && len > 1) {
			buf[0] = '-';
			tt_fmt_rate(buf + 1, len - 1, -c->d);
		} else {
			tt_fmt_rate(buf, len, c->d);
		}
		break;
	case TT_COL_TIME:
		tt_fmt_time(buf, len, c->u, utc,
			    TT_TIME_MS | TT_TIME_ZONE); /* per cell: DST moves */
		break;
	case TT_COL_DURATION:
		tt_fmt_duration(buf, len, c->u);
		break;
	case TT_COL_USEC:
		if (c->u >= 1000)
			snprintf(buf, len, "%.2fms", (double)c->u / 1000.0);
		else
			snprintf(buf, len, "%" PRIu64 "us", c->u);
		break;
	}
}

/* A cell for machines: raw numbers; times and durations in seconds. */
static void raw(struct tt_buf *b, const struct tt_col *col, const struct cell *c, int json)
{
	if (!c->set) {
		if (json)
			tt_buf_add(b, "null", 4);
		return;
	}
	switch (col->type) {
	case TT_COL_STR:
		if (json)
			tt_esc_json(b, c->s, strlen(c->s));
		else
			tt_esc_csv(b, c->s, strlen(c->s));
		break;
	case TT_COL_INT:
		tt_buf_printf(b, "%" PRId64, c->i);
		break;
	case TT_COL_UINT:
	case TT_COL_BYTES:
	case TT_COL_USEC:
		tt_buf_printf(b, "%" PRIu64, c->u);
		break;
	case TT_COL_REAL: /* machines get every digit */
		tt_buf_printf(b, "%.17g", c->d);
		break;
	case TT_COL_RATE: /* bytes/s: a tenth of a byte is noise */
		tt_buf_printf(b, "%.1f", c->d);
		break;
	case TT_COL_TIME:
	case TT_COL_DURATION:
		tt_buf_printf(b, "%" PRIu64 ".%03u", c->u / UINT64_C(1000000000),
			      (unsigned)(c->u % 1000000000ull / 1000000ull));
		break;
	}
}

/* The columns printed: --fields' choice, or all in the order they were added. */
static size_t nshown(const struct tt_grid *g)
{
	return g->show ? g->nshow : g->ncols;
}

static size_t col_at(const struct tt_grid *g, size_t k)
{
	return g->show ? g->show[k] : k;
}

static int left_aligned(enum tt_col_type t)
{
	return t == TT_COL_STR || t == TT_COL_TIME;
}

/* Text and numbers line up on their own side; the last column has no trailing blanks. */
static void cell_out(struct tt_buf *b, const struct tt_grid *g, const size_t *w, size_t k, size_t c,
		     const char *text)
{
	size_t tw = tt_esc_width(text, strlen(text)), pad = w[k] > tw ? w[k] - tw : 0;

	if (k)
		tt_buf_add(b, "  ", 2);
	if (!left_aligned(g->cols[c].type))
		tt_buf_printf(b, "%*s", (int)pad, "");
	tt_buf_add(b, text, strlen(text));
	if (left_aligned(g->cols[c].type) && k + 1 < nshown(g))
		tt_buf_printf(b, "%*s", (int)pad, "");
}

static int render_table(const struct tt_grid *g, const struct tt_grid_opts *o, struct tt_buf *b)
{
	size_t n = nshown(g), *w = calloc(n ? n : 1, sizeof(*w)), r, k, c;
	char cellbuf[256];

	if (!w)
		return -ENOMEM;
	for (k = 0; k < n; k++) {
		const char *t = g->cols[col_at(g, k)].title;

		tt_esc_cstr(cellbuf, sizeof(cellbuf), t, strlen(t));
		w[k] = o->header ? tt_esc_width(cellbuf, strlen(cellbuf)) : 0;
	}
	for (r = 0; r < g->nrows; r++)
		for (k = 0; k < n; k++) {
			c = col_at(g, k);
			human(cellbuf, sizeof(cellbuf), &g->cols[c], &g->cells[r * g->ncols + c],
			      o->utc);
			if (tt_esc_width(cellbuf, strlen(cellbuf)) > w[k])
				w[k] = tt_esc_width(cellbuf, strlen(cellbuf));
		}
	if (o->header) {
		for (k = 0; k < n; k++) {
			const char *t = g->cols[col_at(g, k)].title;

			cell_out(b, g, w, k, col_at(g, k),
				 tt_esc_cstr(cellbuf, sizeof(cellbuf), t, strlen(t)));
		}
		tt_buf_add(b, "\n", 1);
	}
	for (r = 0; r < g->nrows; r++) {
		for (k = 0; k < n; k++) {
			c = col_at(g, k);
			human(cellbuf, sizeof(cellbuf), &g->cols[c], &g->cells[r * g->ncols + c],
			      o->utc);
			cell_out(b, g, w, k, c, cellbuf);
		}
		tt_buf_add(b, "\n", 1);
	}
	free(w);
	return b->err;
}

int tt_grid_render(const struct tt_grid *g, const struct tt_grid_opts *o, struct tt_buf *b)
{
	size_t r, k, c, n = nshown(g);

	if (g->err)
		return g->err;
	if (o->fmt == TT_GRID_TABLE)
		return render_table(g, o, b);
	if (o->fmt == TT_GRID_CSV && o->header) {
		for (k = 0; k < n;
		     k++) { /* sql's keys are the statement's column names: any text */
			if (k)
				tt_buf_add(b, ",", 1);
			tt_esc_csv(b, g->cols[col_at(g, k)].key, strlen(g->cols[col_at(g, k)].key));
		}
		tt_buf_add(b, "\n", 1);
	}
	for (r = 0; r < g->nrows; r++) {
		if (o->fmt == TT_GRID_JSON)
			tt_buf_add(b, "{", 1);
		for (k = 0; k < n; k++) {
			c = col_at(g, k);
			if (o->fmt == TT_GRID_JSON) {
				if (k)
					tt_buf_add(b, ",", 1);
				tt_esc_json(b, g->cols[c].key, strlen(g->cols[c].key));
				tt_buf_add(b, ":", 1);
			} else if (k)
				tt_buf_add(b, ",", 1);
			raw(b, &g->cols[c], &g->cells[r * g->ncols + c], o->fmt == TT_GRID_JSON);
		}
		tt_buf_add(b, o->fmt == TT_GRID_JSON ? "}\n" : "\n",
			   o->fmt == TT_GRID_JSON ? 2 : 1);
	}
	return b->err;
}

int tt_grid_fields(struct tt_grid *g, const char *fields, char *why, size_t why_len)
{
	size_t n = 1, k = 0, c, len;
	const char *p, *e;
	size_t *show;

	if (!fields)
		return 0;
	for (p = fields; *p; p++)
		n += *p == ',';
	show = calloc(n, sizeof(*show));
	if (!show) {
		snprintf(why, why_len, "out of memory");
		return -ENOMEM;
	}
	for (p = fields;; p = e + 1) {
		e = strchr(p, ',');
		len = e ? (size_t)(e - p) : strlen(p);
		for (c = 0; c < g->ncols; c++)
			if (strlen(g->cols[c].key) == len && !strncmp(g->cols[c].key, p, len))
				break;
		if (c == g->ncols) {
			struct tt_buf m = { 0 };

			tt_buf_printf(&m, "--fields: '%.*s' is not a field here; the fields: ",
				      (int)len, p);
			for (c = 0; c < g->ncols; c++)
				tt_buf_printf(&m, "%s%s", c ? "," : "", g->cols[c].key);
			snprintf(why, why_len, "%s", m.p ? m.p : "");
			tt_buf_free(&m);
			free(show);
			return -EINVAL;
		}
		show[k++] = c;
		if (!e)
			break;
	}
	free(g->show);
	g->show = show;
	g->nshow = k;
	return 0;
}
