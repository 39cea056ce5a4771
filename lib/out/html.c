/*
 * html.c: see html.h.
 *
 * Charts are drawn on a fixed 1000-unit-wide SVG canvas that CSS scales to the
 * page, so their text stays about 12 px on screen and on paper. Axis labels are
 * thinned, never shrunk: the time axis takes the smallest "round" step (1 s,
 * 5 s, 1 m, 15 m, 1 h ...) that leaves at least LABEL_PX per label; the value
 * axis has 4-5 gridlines at 1-2-2.5-5 steps in one binary unit. Every user
 * string (hosts, process names, paths) goes through tt_html_text.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "escape.h"
#include "format.h"
#include "html.h"

#define CANVAS_W 1000.0
#define LABEL_PX 110.0 /* room for one time label, "2026-11-27" on a second line included */
#define NS	 UINT64_C(1000000000)

/* d3's category10: distinct for the 10 top connections, readable as thin lines */
static const char *const palette[TT_HTML_CONNS_MAX] = {
	"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
	"#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
};

#define C_OTHERS "#9aa1ad" /* everything not drawn on its own */
#define C_FAIL	 "#9467bd"
#define C_IN	 "#1f77b4"
#define C_OUT	 "#ff7f0e"
#define C_NEW	 "#1f77b4"
#define C_RST	 "#d62728"

/* ---- text ------------------------------------------------------------------ */

void tt_html_text(struct tt_buf *b, const char *s, size_t n)
{
	tt_esc_html(b, s, n);
}

static void text(struct tt_buf *b, const char *s)
{
	tt_html_text(b, s ? s : "", s ? strlen(s) : 0);
}

/* A fixed-size, maybe unterminated process name; "?" when unknown, as top prints it. */
static void comm_text(struct tt_buf *b, const char *comm)
{
	size_t n = strnlen(comm, TT_COMM_MAX);

	if (!n)
		tt_buf_add(b, "?", 1);
	else
		tt_html_text(b, comm, n);
}

/* format(strftime): gcc checks the callers' formats, which leaves the pass-through below */
static char *fmt_when(char *buf, size_t len, uint64_t ns, int utc, const char *fmt)
	__attribute__((format(strftime, 5, 0)));

static char *fmt_when(char *buf, size_t len, uint64_t ns, int utc, const char *fmt)
{
	time_t s = (time_t)(ns / NS);
	struct tm tm;

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	if (!strftime(buf, len, fmt, utc ? gmtime_r(&s, &tm) : localtime_r(&s, &tm)))
		snprintf(buf, len, "?");
#pragma GCC diagnostic pop
	return buf;
}

/* "HH:MM:SS.mmm", for the exact moments in tooltips. */
static char *fmt_clock_ms(char *buf, size_t len, uint64_t ns, int utc)
{
	size_t n;

	fmt_when(buf, len, ns, utc, "%H:%M:%S");
	n = strlen(buf);
	snprintf(buf + n, len - n, ".%03u", (unsigned)(ns % NS / 1000000));
	return buf;
}

/* "HH:MM:SS.s", for labels a tenth of a second or more apart. */
static void fmt_tenths(char *buf, size_t len, uint64_t ns, int utc)
{
	size_t n = strlen(fmt_when(buf, len, ns, utc, "%H:%M:%S"));

	snprintf(buf + n, len - n, ".%u", (unsigned)(ns % NS / 100000000));
}

static char *fmt_usec(char *buf, size_t len, uint64_t us)
{
	if (us >= 1000)
		snprintf(buf, len, "%.2f ms", (double)us / 1000.0);
	else
		snprintf(buf, len, "%" PRIu64 " \xc2\xb5s", us);
	return buf;
}

/* "tcp 10.0.0.1:443 → 10.0.0.9:51234" (raw text: escape it when writing). */
static char *fmt_conn(char *buf, size_t len, const struct tt_ev_conn *c)
{
	char l[64], r[64];

	snprintf(buf, len, "%s %s \xe2\x86\x92 %s", tt_proto_name(c->proto),
		 tt_fmt_endpoint(l, sizeof(l), c->laddr, c->lport, c->family),
		 tt_fmt_endpoint(r, sizeof(r), c->raddr, c->rport, c->family));
	return buf;
}

/* ---- scales ---------------------------------------------------------------- */

enum yunit { Y_RATE, Y_USEC, Y_COUNT };

struct yscale {
	double unit; /* data units per displayed unit: 1024 for KiB/s, 1000 for us -> ms */
	const char *name; /* "KiB/s", "ms", "" */
	double step; /* between gridlines, in displayed units */
	int n; /* gridlines above zero */
	int dec; /* decimals the labels need */
	int log; /* a log axis (rates only) from lo to hi, data units */
	double lo, hi;
};

static const char *const rate_units[] = { "B/s", "KiB/s", "MiB/s", "GiB/s", "TiB/s" };

/*
 * The log axis' gridlines: 1, 10 and 100 of each binary unit (1 KiB/s, 10
 * KiB/s, 100 KiB/s, 1 MiB/s ...), so every label is a round number. Value i of
 * 15, and its label.
 */
static double log_grid(int i, char *label, size_t len)
{
	static const double m[3] = { 1, 10, 100 };
	double v = m[i % 3] * pow(1024, i / 3);

	if (label)
		snprintf(label, len, "%.0f %s", m[i % 3], rate_units[i / 3]);
	return v;
}

#define LOG_GRID_N 15

/* A log rate axis wide enough for [minpos, max], on log_grid's lines. */
static void yscale_log(struct yscale *y, double minpos, double max)
{
	int i, a = 0, b = LOG_GRID_N - 1;

	for (i = 0; i < LOG_GRID_N; i++)
		if (log_grid(i, NULL, 0) <= minpos)
			a = i;
	for (i = LOG_GRID_N - 1; i >= 0; i--)
		if (log_grid(i, NULL, 0) >= max)
			b = i;
	if (b <= a) {
		if (a + 1 < LOG_GRID_N)
			b = a + 1;
		else
			a = b - 1;
	}
	y->log = 1;
	y->lo = log_grid(a, NULL, 0);
	y->hi = log_grid(b, NULL, 0);
	y->unit = 1;
	y->name = "";
	y->n = b - a;
	y->step = 1;
	y->dec = 0;
}

/* The smallest 1, 2, 2.5 or 5 times a power of ten at least x (counts: no 2.5). */
static double nice(double x, int counts)
{
	static const double m[] = { 1, 2, 2.5, 5, 10 };
	double p = pow(10, floor(log10(x)));
	size_t i;

	for (i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		if (counts && m[i] == 2.5)
			continue;
		if (x <= m[i] * p * (1 + 1e-9))
			return m[i] * p;
	}
	return 10 * p;
}

static void yscale_make(struct yscale *y, double max, enum yunit u)
{
	unsigned ui = 0;
	double m;

	y->log = 0;
	if (!(max > 0))
		max = 0;
	y->unit = u == Y_USEC ? 1000 : 1;
	y->name = u == Y_RATE ? rate_units[0] : u == Y_USEC ? "ms" : "";
	for (;;) {
		m = max / y->unit;
		if (m <= 0)
			m = u == Y_COUNT ? 4 : 1; /* an empty chart still gets an axis */
		y->step = nice(m / 4, u == Y_COUNT);
		if (u == Y_COUNT && y->step < 1)
			y->step = 1;
		y->n = (int)ceil(m / y->step - 1e-9);
		if (y->n < 1)
			y->n = 1;
		/* "1250 KiB/s" reads worse than "1.25 MiB/s": move up a unit */
		if (u != Y_RATE || y->n * y->step < 1024 || ui + 1 >= 5)
			break;
		y->unit *= 1024;
		y->name = rate_units[++ui];
	}
	for (y->dec = 0; y->dec < 6; y->dec++) {
		double v = y->step * pow(10, y->dec);

		if (fabs(v - round(v)) < 1e-6 * v)
			break;
	}
}

/* The plot area of a chart and what its edges mean. */
struct frame {
	double x0, y0, w, h; /* plot area, canvas units */
	double height; /* the whole canvas */
	uint64_t t0, t1; /* the time at the left and right edges, Unix ns */
	struct yscale ys;
};

static double fx(const struct frame *f, uint64_t t)
{
	uint64_t span = f->t1 > f->t0 ? f->t1 - f->t0 : 1;

	if (t < f->t0)
		t = f->t0;
	if (t > f->t1)
		t = f->t1;
	return f->x0 + (double)(t - f->t0) / (double)span * f->w;
}

static double fy(const struct frame *f, double v)
{
	double top = f->ys.n * f->ys.step * f->ys.unit;
	double y;

	if (f->ys.log) /* zero and what is below the axis sit on its floor */
		y = f->y0 + f->h -
		    (v > f->ys.lo
			     ? (log10(v) - log10(f->ys.lo)) / (log10(f->ys.hi) - log10(f->ys.lo))
			     : 0) *
			    f->h;
	else
		y = f->y0 + f->h - (top > 0 ? v / top : 0) * f->h;
	return y < f->y0 ? f->y0 : y;
}

/* Horizontal gridlines and value labels (with their unit) left of the plot. */
static void value_axis(struct tt_buf *b, const struct frame *f)
{
	int i;

	tt_buf_printf(b, "<g class=\"axis y%s\">", f->ys.log ? " log" : "");
	for (i = 0; f->ys.log && i < LOG_GRID_N; i++) {
		char lab[32];
		double v = log_grid(i, lab, sizeof(lab)), y;

		if (v < f->ys.lo * (1 - 1e-9) || v > f->ys.hi * (1 + 1e-9))
			continue;
		y = fy(f, v);
		tt_buf_printf(b,
			      "<line class=\"%s\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" "
			      "y2=\"%.1f\"/>",
			      v > f->ys.lo * (1 + 1e-9) ? "gl" : "base", f->x0, f->x0 + f->w, y, y);
		tt_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>",
			      f->x0 - 6, y + 4, lab);
	}
	for (i = 0; !f->ys.log && i <= f->ys.n; i++) {
		double v = i * f->ys.step, y = f->y0 + f->h - f->h * i / f->ys.n;

		tt_buf_printf(b,
			      "<line class=\"%s\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" "
			      "y2=\"%.1f\"/>",
			      i ? "gl" : "base", f->x0, f->x0 + f->w, y, y);
		tt_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.*f%s%s</text>",
			      f->x0 - 6, y + 4, f->ys.dec, v, f->ys.name[0] ? " " : "", f->ys.name);
	}
	tt_buf_printf(b, "</g>");
}

/*
 * Vertical gridlines and time labels below the plot, on round local (or UTC)
 * times, few enough that none overlap; a second line with the date where it
 * changes when the window spans several days.
 */
static void time_axis(struct tt_buf *b, const struct frame *f, int utc)
{
	static const uint64_t steps[] = {
		NS / 10,    NS / 5,	NS / 2,	    NS,		 2 * NS,      5 * NS,
		10 * NS,    15 * NS,	30 * NS,    60 * NS,	 120 * NS,    300 * NS,
		600 * NS,   900 * NS,	1800 * NS,  3600 * NS,	 7200 * NS,   10800 * NS,
		21600 * NS, 43200 * NS, 86400 * NS, 172800 * NS, 604800 * NS,
	};
	uint64_t span = f->t1 > f->t0 ? f->t1 - f->t0 : 1, step = 0, t;
	int max_labels = (int)(f->w / LABEL_PX), multi_day, last_yday = -1, last_year = -1;
	char d0[16], d1[16], lab[32], date[16];
	const char *anchor;
	double half;
	time_t s0 = (time_t)(f->t0 / NS);
	struct tm tm;
	int64_t off;
	size_t i;

	if (max_labels < 2)
		max_labels = 2;
	for (i = 0; i < sizeof(steps) / sizeof(steps[0]) && !step; i++)
		if (span / steps[i] < (uint64_t)max_labels)
			step = steps[i];
	if (!step) /* weeks: whole days */
		step = (span / (uint64_t)max_labels / (86400 * NS) + 1) * 86400 * NS;
	/* round in local time: a label at "14:00" means 14:00 on the reader's clock */
	if (utc)
		gmtime_r(&s0, &tm);
	else
		localtime_r(&s0, &tm);
	off = (int64_t)tm.tm_gmtoff * (int64_t)NS;
	multi_day = strcmp(fmt_when(d0, sizeof(d0), f->t0, utc, "%Y-%m-%d"),
			   fmt_when(d1, sizeof(d1), f->t1, utc, "%Y-%m-%d")) != 0;
	tt_buf_printf(b, "<g class=\"axis x\">");
	/* in unsigned arithmetic: a window's times may be anything up to 2554 */
	t = off >= 0 ? f->t0 + (uint64_t)off
		     : (f->t0 > (uint64_t)-off ? f->t0 - (uint64_t)-off : 0);
	t = (t / step + 1) * step - (uint64_t)off;
	if (t - step >= f->t0 && t >= step)
		t -= step;
	for (; t <= f->t1 && t >= f->t0; t += step) { /* t < t0: it wrapped */
		double x = fx(f, t);
		time_t s = (time_t)(t / NS);

		if (utc)
			gmtime_r(&s, &tm);
		else
			localtime_r(&s, &tm);
		if (step >= 86400 * NS)
			fmt_when(lab, sizeof(lab), t, utc, "%Y-%m-%d");
		else if (step >= 60 * NS)
			fmt_when(lab, sizeof(lab), t, utc, "%H:%M");
		else if (step >= NS)
			fmt_when(lab, sizeof(lab), t, utc, "%H:%M:%S");
		else /* sub-second steps are whole tenths */
			fmt_tenths(lab, sizeof(lab), t, utc);
		date[0] = '\0';
		if (multi_day && step < 86400 * NS &&
		    (tm.tm_yday != last_yday || tm.tm_year != last_year))
			fmt_when(date, sizeof(date), t, utc, "%Y-%m-%d");
		/* half the label's width (12 px digits are about 7 wide): keep it on the canvas */
		half = 3.6 * (double)(strlen(date) > strlen(lab) ? strlen(date) : strlen(lab));
		tt_buf_printf(b,
			      "<line class=\"gl\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" "
			      "y2=\"%.1f\"/>",
			      x, x, f->y0, f->y0 + f->h + 4);
		anchor = x + half > CANVAS_W - 2 ? "end" : x - half < 2 ? "start" : "middle";
		tt_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\">%s", x,
			      f->y0 + f->h + 18, anchor, lab);
		if (date[0])
			tt_buf_printf(b, "<tspan x=\"%.1f\" dy=\"14\">%s</tspan>", x, date);
		tt_buf_printf(b, "</text>");
		last_yday = tm.tm_yday;
		last_year = tm.tm_year;
	}
	tt_buf_printf(b, "</g>");
}

/* ---- charts ---------------------------------------------------------------- */

struct series {
	char label[192]; /* raw text */
	const char *color;
	const double *v; /* [nbuckets], NAN: no point */
	int dash; /* dashed: in and out on loopback are the same line, both must show */
};

/* The middle of bucket k's part of the window. */
static uint64_t bucket_mid(const struct tt_html_report *r, size_t k)
{
	uint64_t s = r->bucket0_ns + k * r->bucket_ns, e = s + r->bucket_ns;

	if (s < r->from_ns)
		s = r->from_ns;
	if (e > r->to_ns)
		e = r->to_ns;
	if (s > e)
		s = e;
	return s + (e - s) / 2;
}

static void svg_open(struct tt_buf *b, const char *id, const char *kind, const struct frame *f,
		     const char *label)
{
	tt_buf_printf(b,
		      "<svg id=\"%s\" class=\"chart %s\" viewBox=\"0 0 %.0f %.0f\" "
		      "preserveAspectRatio=\"xMidYMid meet\" role=\"img\" aria-label=\"",
		      id, kind, CANVAS_W, f->height);
	text(b, label);
	tt_buf_printf(b, "\">");
}

static void no_data(struct tt_buf *b, const struct frame *f, const char *why)
{
	tt_buf_printf(b, "<text class=\"nodata\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">",
		      f->x0 + f->w / 2, f->y0 + f->h / 2);
	text(b, why);
	tt_buf_printf(b, "</text>");
}

static void legend(struct tt_buf *b, const struct series *s, size_t n, const char *shape)
{
	size_t i;

	tt_buf_printf(b, "<ul class=\"legend\">");
	for (i = 0; i < n; i++) {
		if (s[i].dash)
			tt_buf_printf(b,
				      "<li><span class=\"sw %s dash\" style=\"color:%s\"></span>",
				      shape, s[i].color);
		else
			tt_buf_printf(b,
				      "<li><span class=\"sw %s\" style=\"background:%s\"></span>",
				      shape, s[i].color);
		text(b, s[i].label);
		tt_buf_printf(b, "</li>");
	}
	tt_buf_printf(b, "</ul>");
}

static void figure_open(struct tt_buf *b, const char *title, const char *note)
{
	tt_buf_printf(b, "<figure class=\"chart\"><figcaption>");
	text(b, title);
	if (note && *note) {
		tt_buf_printf(b, " <span class=\"note\">");
		text(b, note);
		tt_buf_printf(b, "</span>");
	}
	tt_buf_printf(b, "</figcaption>");
}

/*
 * Lines over the buckets: one polyline per run of buckets that have a value (a
 * gap where the recorder was not running), a dot for a run of one. Rates whose
 * lines peak orders of magnitude apart (a lossy 2 MiB/s flow beside a 1 GiB/s
 * one) get a log axis, so the small one is not a flat line at zero.
 */
static void line_chart(struct tt_buf *b, const struct tt_html_report *r, const char *id,
		       const char *label, const struct series *s, size_t ns, enum yunit u,
		       const char *empty)
{
	struct frame f = { .x0 = 92, .y0 = 10, .w = CANVAS_W - 92 - 24, .h = 200, .height = 250 };
	double max = 0, minpeak = 0, minpos = 0;
	size_t i, k;

	f.t0 = r->from_ns;
	f.t1 = r->to_ns;
	for (i = 0; i < ns; i++) {
		double peak = 0;

		for (k = 0; k < r->nbuckets; k++) {
			double v = s[i].v[k];

			if (isnan(v) || !(v > 0))
				continue;
			if (v > peak)
				peak = v;
			if (!minpos || v < minpos)
				minpos = v;
		}
		if (peak > max)
			max = peak;
		if (peak > 0 && (!minpeak || peak < minpeak))
			minpeak = peak;
	}
	if (u == Y_RATE && minpeak > 0 && max / minpeak >= 100)
		/* the floor: the lowest point, but at most five decades down */
		yscale_log(&f.ys, minpos > max / 1e5 ? minpos : max / 1e5, max);
	else
		yscale_make(&f.ys, max, u);
	svg_open(b, id, f.ys.log ? "line log" : "line", &f, label);
	value_axis(b, &f);
	time_axis(b, &f, r->utc);
	if (f.ys.log)
		tt_buf_printf(b, "<text class=\"scale\" x=\"%.1f\" y=\"%.1f\">log scale</text>",
			      f.x0 + 6, f.y0 + 12);
	if (!ns || !r->nbuckets) {
		no_data(b, &f, empty);
		tt_buf_printf(b, "</svg>");
		return;
	}
	for (i = 0; i < ns; i++) {
		tt_buf_printf(b,
			      "<g class=\"series%s\" data-series=\"%zu\" stroke=\"%s\" "
			      "fill=\"%s\"><title>",
			      s[i].dash ? " dash" : "", i, s[i].color, s[i].color);
		text(b, s[i].label);
		tt_buf_printf(b, "</title>");
		for (k = 0; k < r->nbuckets;) {
			size_t e = k, j;

			if (isnan(s[i].v[k])) {
				k++;
				continue;
			}
			while (e < r->nbuckets && !isnan(s[i].v[e]))
				e++;
			if (e - k == 1) {
				tt_buf_printf(b, "<circle r=\"2.5\" cx=\"%.1f\" cy=\"%.1f\"/>",
					      fx(&f, bucket_mid(r, k)), fy(&f, s[i].v[k]));
			} else {
				tt_buf_printf(b, "<polyline fill=\"none\" points=\"");
				for (j = k; j < e; j++)
					tt_buf_printf(b, "%s%.1f,%.1f", j > k ? " " : "",
						      fx(&f, bucket_mid(r, j)), fy(&f, s[i].v[j]));
				tt_buf_printf(b, "\"/>");
			}
			k = e;
		}
		tt_buf_printf(b, "</g>");
	}
	tt_buf_printf(b, "</svg>");
}

/*
 * New connections, failed connects and resets per bucket: panels over one
 * time axis, each with its own scale, since failures are often a hundred
 * times rarer than new connections.
 */
#define PANELS 3

static void bars_chart(struct tt_buf *b, const struct tt_html_report *r)
{
	static const char *const cls[PANELS] = { "new", "failed", "reset" };
	static const char *const col[PANELS] = { C_NEW, C_FAIL, C_RST };
	static const char *const name[PANELS] = { "new", "failed", "resets" };
	static const char *const what[PANELS] = { "new connections", "failed connects", "resets" };
	const uint64_t *v[PANELS] = { r->opened_b, r->failed_b, r->resets_b };
	struct frame all = { .x0 = 92, .y0 = 10, .w = CANVAS_W - 92 - 24 };
	struct frame f[PANELS];
	size_t k;
	int j;

	all.h = 126.0 * PANELS - 26;
	all.height = all.h + 50;
	all.t0 = r->from_ns;
	all.t1 = r->to_ns;
	yscale_make(&all.ys, 0, Y_COUNT);
	svg_open(b, "chart-new-resets", "bars", &all,
		 "new connections, failed connects and resets per bucket");
	time_axis(b, &all, r->utc);
	for (j = 0; j < PANELS; j++) {
		uint64_t max = 0;

		f[j] = all;
		f[j].h = 100;
		f[j].y0 = all.y0 + j * 126;
		for (k = 0; k < r->nbuckets; k++)
			if (v[j][k] > max)
				max = v[j][k];
		yscale_make(&f[j].ys, (double)max, Y_COUNT);
		value_axis(b, &f[j]);
		tt_buf_printf(b,
			      "<text class=\"panel\" transform=\"translate(14 %.1f) rotate(-90)\" "
			      "text-anchor=\"middle\">%s</text>",
			      f[j].y0 + f[j].h / 2, name[j]);
		if (!r->nbuckets) {
			no_data(b, &f[j], "no tick in this window");
			continue;
		}
		tt_buf_printf(b, "<g class=\"series %s\" fill=\"%s\">", cls[j], col[j]);
		for (k = 0; k < r->nbuckets; k++) {
			uint64_t s = r->bucket0_ns + k * r->bucket_ns;
			double x0, x1, w, y;

			if (!v[j][k])
				continue;
			x0 = fx(&f[j], s);
			x1 = fx(&f[j], s + r->bucket_ns);
			/* a gap between buckets, and never thinner than a pixel */
			w = (x1 - x0) * 0.7 < 1 ? 1 : (x1 - x0) * 0.7;
			y = fy(&f[j], (double)v[j][k]);
			tt_buf_printf(b,
				      "<rect class=\"bar\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
				      "height=\"%.1f\" data-v=\"%" PRIu64 "\"><title>%" PRIu64
				      " %s</title></rect>",
				      (x0 + x1 - w) / 2, y, w, f[j].y0 + f[j].h - y, v[j][k],
				      v[j][k], what[j]);
		}
		tt_buf_printf(b, "</g>");
	}
	tt_buf_printf(b, "</svg>");
}

/*
 * Horizontal bars, one per labelled count, longest first (the caller sorts):
 * who failed most at a glance, beside the table with the details.
 */
static void hbars_chart(struct tt_buf *b, const char *id, const char *label,
			const char *const *labels, const uint64_t *v, size_t n, const char *color,
			const char *empty)
{
	struct frame f = { .x0 = 330, .y0 = 6, .w = CANVAS_W - 330 - 90 };
	uint64_t max = 1;
	size_t i;

	f.h = 22.0 * (double)(n ? n : 1);
	f.height = f.y0 + f.h + 6;
	yscale_make(&f.ys, 0, Y_COUNT);
	svg_open(b, id, "hbars", &f, label);
	if (!n)
		no_data(b, &f, empty);
	for (i = 0; i < n; i++)
		if (v[i] > max)
			max = v[i];
	tt_buf_printf(b, "<g class=\"series bars\" fill=\"%s\">", color);
	for (i = 0; i < n; i++) {
		double y = f.y0 + 22.0 * (double)i + 4, w = f.w * (double)v[i] / (double)max;

		if (w < 2)
			w = 2;
		tt_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">", f.x0 - 8,
			      y + 11);
		text(b, labels[i]);
		tt_buf_printf(b,
			      "</text><rect class=\"bar\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
			      "height=\"14\" rx=\"2\" data-v=\"%" PRIu64 "\"><title>",
			      f.x0, y, w, v[i]);
		text(b, labels[i]);
		tt_buf_printf(b,
			      ": %" PRIu64 "</title></rect><text x=\"%.1f\" y=\"%.1f\">%" PRIu64
			      "</text>",
			      v[i], f.x0 + w + 6, y + 11, v[i]);
	}
	tt_buf_printf(b, "</g></svg>");
}

/*
 * The colour of line i of a set of connections (the top ones or the top
 * retransmitters): one connection keeps its colour in every chart and table.
 */
static const char *conn_color(const struct tt_html_report *r, const struct tt_html_conn *set,
			      size_t i)
{
	const struct tt_html_conn *c = &set[i];
	size_t j;

	if (set == r->conns_top)
		return palette[i % TT_HTML_CONNS_MAX];
	for (j = 0; j < r->nconns_top; j++)
		if (r->conns_top[j].g == c->g || r->conns_top[j].peer == c->g)
			return palette[j];
	return palette[(TT_HTML_TOP + i) % TT_HTML_CONNS_MAX];
}

/* One bar per top connection from open to close, clipped to the window; arrows where it goes on. */
static void lifetimes_chart(struct tt_buf *b, const struct tt_html_report *r)
{
	struct frame f = { .x0 = 170, .y0 = 8, .w = CANVAS_W - 170 - 24 };
	size_t i;

	f.h = 22.0 * (double)(r->nconns_top ? r->nconns_top : 2);
	f.height = f.y0 + f.h + 36;
	f.t0 = r->from_ns;
	f.t1 = r->to_ns;
	yscale_make(&f.ys, 0, Y_COUNT);
	svg_open(b, "chart-lifetimes", "lifetimes", &f, "lifetimes of the top connections");
	tt_buf_printf(b, "<line class=\"base\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>",
		      f.x0, f.x0 + f.w, f.y0 + f.h, f.y0 + f.h);
	time_axis(b, &f, r->utc);
	if (!r->nconns_top)
		no_data(b, &f, "no connection in this window");
	for (i = 0; i < r->nconns_top; i++) {
		const struct tt_html_conn *c = &r->conns_top[i];
		uint64_t a = c->open_ns && c->open_ns > r->from_ns ? c->open_ns : r->from_ns;
		uint64_t z = c->close_ns && c->close_ns < r->to_ns ? c->close_ns : r->to_ns;
		double y = f.y0 + 22.0 * (double)i + 5, x0 = fx(&f, a), x1 = fx(&f, z);
		char t1[32], t2[32], d[32], cn[160];

		if (x1 - x0 < 2)
			x1 = x0 + 2; /* a connection of a moment still shows */
		tt_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">#%zu ", f.x0 - 8,
			      y + 10, i + 1);
		comm_text(b, c->g->conn.comm);
		tt_buf_printf(b, "</text><g class=\"life\" fill=\"%s\"><title>", palette[i]);
		comm_text(b, c->g->conn.comm);
		tt_buf_printf(b, " ");
		text(b, fmt_conn(cn, sizeof(cn), &c->g->conn));
		if (c->open_ns)
			fmt_clock_ms(t1, sizeof(t1), c->open_ns, r->utc);
		fmt_clock_ms(t2, sizeof(t2), c->close_ns ? c->close_ns : r->to_ns, r->utc);
		tt_buf_printf(b, ": %s %s, %s %s (%s in the window)",
			      c->open_ns ? "open" : "open before",
			      c->open_ns ? t1 : "the recording",
			      c->close_ns ? "closed" : "still open at", t2,
			      tt_fmt_duration(d, sizeof(d), z > a ? z - a : 0));
		if (c->peer)
			tt_buf_printf(b, " (both ends recorded here)");
		tt_buf_printf(b,
			      "</title><rect class=\"bar\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
			      "height=\"12\" rx=\"2\"/>",
			      x0, y, x1 - x0);
		/* it began before the window, or before the recording (partial) */
		if (c->open_ns < r->from_ns || (c->g->conn.flags & TT_CF_PARTIAL))
			tt_buf_printf(b, "<path class=\"more\" d=\"M%.1f %.1fl-7 6l7 6z\"/>", x0,
				      y);
		if (!c->close_ns || c->close_ns > r->to_ns) /* it goes on after the window */
			tt_buf_printf(b, "<path class=\"more\" d=\"M%.1f %.1fl7 6l-7 6z\"/>", x1,
				      y);
		tt_buf_printf(b, "</g>");
	}
	tt_buf_printf(b, "</svg>");
}

/* "#1 iperf3  tcp 10.0.0.1:5201 → 10.0.0.2:40312  (1.2 GiB)"; ⇄ and "both ends" for a local one */
static void conn_series_label(char *buf, size_t len, size_t i, const struct tt_html_conn *c,
			      uint64_t v, int count)
{
	const struct tt_ev_conn *k = &c->g->conn;
	char comm[TT_COMM_MAX + 1], l[64], rm[64], by[40];

	memcpy(comm, k->comm, TT_COMM_MAX);
	comm[TT_COMM_MAX] = '\0';
	if (count)
		snprintf(by, sizeof(by), "%" PRIu64 " retransmitted", v);
	else
		tt_fmt_bytes(by, sizeof(by), v);
	snprintf(buf, len, "#%zu %s  %s %s %s %s  (%s%s)", i + 1, comm[0] ? comm : "?",
		 tt_proto_name(k->proto),
		 tt_fmt_endpoint(l, sizeof(l), k->laddr, k->lport, k->family),
		 c->peer ? "\xe2\x87\x84" : "\xe2\x86\x92",
		 tt_fmt_endpoint(rm, sizeof(rm), k->raddr, k->rport, k->family), by,
		 c->peer ? ", both ends" : "");
}

/* Lines for the top connections (colours by rank), then "others" in grey. */
static size_t conn_series(const struct tt_html_report *r, struct series *s,
			  const struct tt_html_conn *c, size_t n, const double *others, int retrans)
{
	size_t i;

	memset(s, 0, sizeof(*s) * (TT_HTML_TOP + 1));
	for (i = 0; i < n; i++) {
		const struct tt_group *g = c[i].g;
		uint64_t v = retrans ? g->retrans + (c[i].peer ? c[i].peer->retrans : 0)
				     : g->bytes_in + g->bytes_out;

		conn_series_label(s[i].label, sizeof(s[i].label), i, &c[i], v, retrans);
		s[i].color = conn_color(r, c, i);
		s[i].v = retrans ? c[i].retrans : c[i].rate;
	}
	if (others) {
		snprintf(s[n].label, sizeof(s[n].label), "others (every other connection)");
		s[n].color = C_OTHERS;
		s[n].v = others;
		s[n].dash = 1;
		n++;
	}
	return n;
}

static void charts(struct tt_buf *b, const struct tt_html_report *r)
{
	struct series s[TT_HTML_TOP + 1];
	char note[200], bk[32], tk[32], tz[16];
	size_t i, n;

	fmt_when(tz, sizeof(tz), r->from_ns, r->utc, r->utc ? "UTC" : "%Z");
	/* "per 10s bucket"; nothing to say about buckets when there are none */
	snprintf(bk, sizeof(bk), "per ");
	tt_fmt_duration(bk + 4, sizeof(bk) - 4, r->bucket_ns);
	snprintf(bk + strlen(bk), sizeof(bk) - strlen(bk), " bucket");
	if (!r->nbuckets)
		snprintf(bk, sizeof(bk), "no tick");
	snprintf(note, sizeof(note), "average %s; times %s %s", bk, r->utc ? "in" : "local,", tz);
	tt_buf_printf(b, "<section id=\"charts\"><h2>Over time</h2>");

	figure_open(b, "Bandwidth in and out", note);
	memset(s, 0, sizeof(s));
	snprintf(s[0].label, sizeof(s[0].label), "in (received)");
	s[0].color = C_IN;
	s[0].v = r->rate_in;
	snprintf(s[1].label, sizeof(s[1].label), "out (sent)");
	s[1].color = C_OUT;
	s[1].v = r->rate_out;
	s[1].dash = 1;
	line_chart(b, r, "chart-bandwidth", "bandwidth in and out", s, r->nbuckets ? 2 : 0, Y_RATE,
		   "no tick in this window");
	legend(b, s, 2, "line");
	tt_buf_printf(b, "</figure>");

	n = conn_series(r, s, r->conns_top, r->nconns_top, r->rate_others, 0);
	snprintf(note, sizeof(note),
		 "in + out, average %s; the tables' peaks are per %s tick; a local connection's "
		 "two ends are one line; log scale when rates are orders of magnitude apart",
		 bk, tt_fmt_duration(tk, sizeof(tk), r->tick_ns));
	figure_open(b, "Top connections: rate", note);
	line_chart(b, r, "chart-conn-rates", "rate of the top connections", s, n, Y_RATE,
		   "no connection in this window");
	legend(b, s, n, "line");
	tt_buf_printf(b, "</figure>");

	/* RTT: only connections that have a sample (TCP); colours stay those of the rates */
	for (i = n = 0; i < r->nconns_top; i++) {
		size_t k;

		for (k = 0; k < r->nbuckets && isnan(r->conns_top[i].rtt_us[k]); k++)
			;
		if (k == r->nbuckets)
			continue;
		s[n] = s[i];
		s[n].v = r->conns_top[i].rtt_us;
		n++;
	}
	figure_open(b, "Top connections: smoothed RTT", "the kernel's srtt, averaged per bucket");
	line_chart(b, r, "chart-rtt", "RTT of the top connections", s, n, Y_USEC,
		   "no RTT sample (no TCP connection among the top ones)");
	legend(b, s, n, "line");
	tt_buf_printf(b, "</figure>");

	n = conn_series(r, s, r->retr_top, r->nretr_top, r->retr_others, 1);
	snprintf(note, sizeof(note),
		 "retransmitted segments %s, the top retransmitters and "
		 "the rest",
		 bk);
	figure_open(b, "Retransmits", note);
	line_chart(b, r, "chart-retrans", "retransmits of the top retransmitters", s, n, Y_COUNT,
		   r->nbuckets ? "no retransmit in this window" : "no tick in this window");
	legend(b, s, n, "line");
	tt_buf_printf(b, "</figure>");

	snprintf(note, sizeof(note), "%s", bk);
	figure_open(b, "New connections, failed connects and resets", note);
	bars_chart(b, r);
	memset(s, 0, 3 * sizeof(s[0]));
	snprintf(s[0].label, sizeof(s[0].label), "new connections");
	s[0].color = C_NEW;
	snprintf(s[1].label, sizeof(s[1].label), "failed connects");
	s[1].color = C_FAIL;
	snprintf(s[2].label, sizeof(s[2].label), "resets (sent + received)");
	s[2].color = C_RST;
	legend(b, s, 3, "box");
	tt_buf_printf(b, "</figure>");

	figure_open(b, "Top connections: lifetimes",
		    "open to close, clipped to the window; an arrow: it goes on beyond");
	lifetimes_chart(b, r);
	tt_buf_printf(b, "</figure></section>");
}

/* ---- tables ---------------------------------------------------------------- */

static void th(struct tt_buf *b, const char *title, int num)
{
	tt_buf_printf(b, "<th%s>%s</th>", num ? " class=\"n\"" : "", title);
}

/* data-k and data-v carry the JSON key and raw value of `top --format json`. */
static void td_uint(struct tt_buf *b, const char *k, uint64_t v)
{
	tt_buf_printf(b, "<td class=\"n\" data-k=\"%s\" data-v=\"%" PRIu64 "\">%" PRIu64 "</td>", k,
		      v, v);
}

static void td_bytes(struct tt_buf *b, const char *k, uint64_t v)
{
	char h[32];

	tt_buf_printf(b,
		      "<td class=\"n\" data-k=\"%s\" data-v=\"%" PRIu64 "\" title=\"%" PRIu64
		      " bytes\">%s</td>",
		      k, v, v, tt_fmt_bytes(h, sizeof(h), v));
}

static void td_rate(struct tt_buf *b, const char *k, double v)
{
	char h[32];

	tt_buf_printf(b, "<td class=\"n\" data-k=\"%s\" data-v=\"%.1f\">%s</td>", k, v,
		      tt_fmt_rate(h, sizeof(h), v));
}

static void td_usec(struct tt_buf *b, const char *k, int has, uint64_t v)
{
	char h[32];

	if (!has) /* no sample: empty, not zero, as top's null */
		tt_buf_printf(b, "<td class=\"n\" data-k=\"%s\"></td>", k);
	else
		tt_buf_printf(b, "<td class=\"n\" data-k=\"%s\" data-v=\"%" PRIu64 "\">%s</td>", k,
			      v, fmt_usec(h, sizeof(h), v));
}

static void key_heads(struct tt_buf *b, const struct tt_groupby *by, int host_col)
{
	int i;

	if (host_col)
		th(b, "Host", 0);
	for (i = 0; i < by->n; i++) {
		switch (by->keys[i]) {
		case TT_G_CONN:
			th(b, "Proto", 0);
			th(b, "Local", 0);
			th(b, "Remote", 0);
			th(b, "PID", 1);
			th(b, "Process", 0);
			th(b, "State", 0);
			break;
		case TT_G_PID:
			th(b, "PID", 1);
			th(b, "Process", 0);
			break;
		case TT_G_PROCESS:
			th(b, "Process", 0);
			break;
		case TT_G_RHOST:
			th(b, "Remote host", 0);
			break;
		case TT_G_RNET:
			th(b, "Remote net", 0);
			break;
		case TT_G_RPORT:
			th(b, "Remote port", 1);
			break;
		case TT_G_LPORT:
			th(b, "Local port", 1);
			break;
		case TT_G_CGROUP:
			th(b, "cgroup", 1);
			break;
		case TT_G_SPORT:
			th(b, "Service port", 1);
			break;
		case TT_G_HOST:
			if (!host_col)
				th(b, "Host", 0);
			break;
		default:
			break;
		}
	}
}

static void comm_attr(struct tt_buf *b, const char *comm)
{
	tt_buf_printf(b, " data-comm=\"");
	comm_text(b, comm);
	tt_buf_printf(b, "\"");
}

/* The row's key fields as data attributes, named as top's JSON keys. */
static void key_attrs(struct tt_buf *b, const struct tt_groupby *by, const struct tt_group *g)
{
	const struct tt_ev_conn *c = &g->conn;
	char a[64];
	int i;

	for (i = 0; i < by->n; i++) {
		switch (by->keys[i]) {
		case TT_G_CONN:
			tt_buf_printf(b, " data-proto=\"%s\" data-laddr=\"%s\" data-lport=\"%u\"",
				      tt_proto_name(c->proto),
				      tt_fmt_addr(a, sizeof(a), c->laddr, c->family), c->lport);
			tt_buf_printf(b, " data-raddr=\"%s\" data-rport=\"%u\" data-pid=\"%u\"",
				      tt_fmt_addr(a, sizeof(a), c->raddr, c->family), c->rport,
				      c->tgid);
			comm_attr(b, c->comm);
			break;
		case TT_G_PID:
			tt_buf_printf(b, " data-pid=\"%u\"", c->tgid);
			comm_attr(b, c->comm);
			break;
		case TT_G_PROCESS:
			comm_attr(b, c->comm);
			break;
		case TT_G_RHOST:
			tt_buf_printf(b, " data-raddr=\"%s\"",
				      tt_fmt_addr(a, sizeof(a), c->raddr, c->family));
			break;
		case TT_G_SPORT:
			tt_buf_printf(b, " data-proto=\"%s\" data-service_port=\"%u\"",
				      tt_proto_name(c->proto), g->service_port);
			break;
		default:
			break;
		}
	}
}

static void key_cells(struct tt_buf *b, const struct tt_groupby *by, int host_col,
		      const struct tt_group *g)
{
	const struct tt_ev_conn *c = &g->conn;
	char a[80];
	int i;

	if (host_col) {
		tt_buf_printf(b, "<td>");
		text(b, g->host);
		tt_buf_printf(b, "</td>");
	}
	for (i = 0; i < by->n; i++) {
		switch (by->keys[i]) {
		case TT_G_CONN:
			tt_buf_printf(b, "<td>%s</td><td>%s</td>", tt_proto_name(c->proto),
				      tt_fmt_endpoint(a, sizeof(a), c->laddr, c->lport, c->family));
			tt_buf_printf(b, "<td>%s</td><td class=\"n\">%u</td><td class=\"comm\">",
				      tt_fmt_endpoint(a, sizeof(a), c->raddr, c->rport, c->family),
				      c->tgid);
			comm_text(b, c->comm);
			tt_buf_printf(b, "</td><td>%s</td>",
				      g->closed ? "CLOSED" : tt_tcp_state_name(g->state));
			break;
		case TT_G_PID:
			tt_buf_printf(b, "<td class=\"n\">%u</td>", c->tgid);
			__attribute__((fallthrough)); /* and the name */
		case TT_G_PROCESS:
			tt_buf_printf(b, "<td class=\"comm\">");
			comm_text(b, c->comm);
			tt_buf_printf(b, "</td>");
			break;
		case TT_G_RHOST:
			tt_buf_printf(b, "<td>%s</td>",
				      tt_fmt_addr(a, sizeof(a), c->raddr, c->family));
			break;
		case TT_G_RNET:
			tt_buf_printf(b, "<td>%s</td>",
				      tt_groupby_fmt_net(a, sizeof(a), by, c->raddr, c->family));
			break;
		case TT_G_RPORT:
			tt_buf_printf(b, "<td class=\"n\">%u</td>", c->rport);
			break;
		case TT_G_LPORT:
			tt_buf_printf(b, "<td class=\"n\">%u</td>", c->lport);
			break;
		case TT_G_CGROUP:
			tt_buf_printf(b, "<td class=\"n\">%" PRIu64 "</td>", c->cgroup);
			break;
		case TT_G_SPORT:
			tt_buf_printf(b, "<td class=\"n\">%s %u</td>", tt_proto_name(c->proto),
				      g->service_port);
			break;
		case TT_G_HOST:
			if (!host_col) {
				tt_buf_printf(b, "<td>");
				text(b, g->host);
				tt_buf_printf(b, "</td>");
			}
			break;
		default:
			break;
		}
	}
}

static void table(struct tt_buf *b, const struct tt_html_report *r, const struct tt_html_table *t)
{
	int conn = t->by->n == 1 && t->by->keys[0] == TT_G_CONN;
	size_t i;

	tt_buf_printf(b, "<section class=\"tbl\"><h3>");
	text(b, t->title);
	tt_buf_printf(b, " <span class=\"note\">%zu of %zu, by ", t->nrows, t->ngroups);
	text(b, t->metric ? t->metric : r->metric);
	tt_buf_printf(b, "</span></h3><div class=\"scroll\"><table id=\"");
	text(b, t->id);
	tt_buf_printf(b, "\" class=\"top\"><thead><tr>");
	th(b, "#", 1);
	key_heads(b, t->by, r->host_col);
	if (!conn)
		th(b, "Conns", 1);
	th(b, "RX", 1);
	th(b, "TX", 1);
	th(b, "Peak RX/s", 1);
	th(b, "Peak TX/s", 1);
	th(b, "RTT", 1);
	th(b, "RTT max", 1);
	th(b, "Retr", 1);
	th(b, "RST", 1);
	th(b, "Failed", 1);
	th(b, conn ? "Duration" : "Longest", 1);
	tt_buf_printf(b, "</tr></thead><tbody>");
	for (i = 0; i < t->nrows; i++) {
		const struct tt_group *g = t->rows[i];
		char d[32];
		size_t j;

		tt_buf_printf(b, "<tr data-rank=\"%zu\"", i + 1);
		key_attrs(b, t->by, g);
		tt_buf_printf(b, "><td class=\"n\">");
		for (j = 0; j < t->ncolors && j < TT_HTML_TOP; j++) /* the colour of its line */
			if (t->colors[j].g == g || t->colors[j].peer == g)
				tt_buf_printf(b,
					      "<span class=\"sw box\" style=\"background:%s\">"
					      "</span>",
					      conn_color(r, t->colors, j));
		tt_buf_printf(b, "%zu</td>", i + 1);
		key_cells(b, t->by, r->host_col, g);
		if (!conn)
			td_uint(b, "conns", g->conns);
		td_bytes(b, "bytes_in", g->bytes_in);
		td_bytes(b, "bytes_out", g->bytes_out);
		td_rate(b, "peak_rate_in", g->peak_rate_in);
		td_rate(b, "peak_rate_out", g->peak_rate_out);
		td_usec(b, "rtt_us", g->rtt_n != 0, tt_group_rtt_us(g));
		td_usec(b, "rtt_max_us", g->rtt_n != 0, g->rtt_max_us);
		td_uint(b, "retransmits", g->retrans);
		td_uint(b, "resets", g->resets);
		td_uint(b, "failed", g->failed);
		tt_buf_printf(b,
			      "<td class=\"n\" data-k=\"duration\" data-v=\"%" PRIu64
			      ".%03u\">%s</td>",
			      g->duration_ns / NS, (unsigned)(g->duration_ns % NS / 1000000),
			      tt_fmt_duration(d, sizeof(d), g->duration_ns));
		tt_buf_printf(b, "</tr>");
	}
	if (!t->nrows)
		tt_buf_printf(b, "<tr><td colspan=\"20\" class=\"empty\">nothing in this window"
				 "</td></tr>");
	tt_buf_printf(b, "</tbody></table></div></section>");
}

/* ---- failures and the baseline -------------------------------------------- */

/* "ECONNREFUSED"; "errno 99" for one without a name */
static const char *err_name(char *buf, size_t len, unsigned err)
{
	const char *n = err ? strerrorname_np((int)err) : NULL;

	if (n)
		snprintf(buf, len, "%s", n);
	else
		snprintf(buf, len, "errno %u", err);
	return buf;
}

static void section_note(struct tt_buf *b, const char *title, size_t shown, size_t all,
			 const char *note)
{
	tt_buf_printf(b, "<h3>");
	text(b, title);
	tt_buf_printf(b, " <span class=\"note\">%zu of %zu", shown, all);
	if (note && *note) {
		tt_buf_printf(b, "; ");
		text(b, note);
	}
	tt_buf_printf(b, "</span></h3>");
}

static void failures(struct tt_buf *b, const struct tt_html_report *r)
{
	const char *lab[64];
	char labs[64][160], e[48], a[80], t1[32], t2[32];
	uint64_t v[64];
	size_t i, n;

	tt_buf_printf(b, "<section id=\"failures\"><h2>Failures</h2>");
	section_note(b, "Failed connects by errno and destination", r->nfails, r->nfails_all,
		     "connections whose connect() failed, as events lists their closes");
	n = r->nfails < 64 ? r->nfails : 64;
	for (i = 0; i < n; i++) {
		const struct tt_html_fail *f = &r->fails[i];

		snprintf(labs[i], sizeof(labs[i]), "%s %s %s", err_name(e, sizeof(e), f->err),
			 tt_proto_name(f->dest.proto),
			 tt_fmt_endpoint(a, sizeof(a), f->dest.raddr, f->dest.rport,
					 f->dest.family));
		lab[i] = labs[i];
		v[i] = f->count;
	}
	hbars_chart(b, "chart-failed", "failed connects by errno and destination", lab, v, n,
		    C_FAIL, "no failed connect in this window");
	tt_buf_printf(b, "<div class=\"scroll\"><table id=\"table-failed\" class=\"top\">"
			 "<thead><tr>");
	th(b, "#", 1);
	if (r->host_col)
		th(b, "Host", 0);
	th(b, "Errno", 0);
	th(b, "Proto", 0);
	th(b, "Destination", 0);
	th(b, "Failed", 1);
	th(b, "Processes", 0);
	th(b, "First", 0);
	th(b, "Last", 0);
	tt_buf_printf(b, "</tr></thead><tbody>");
	for (i = 0; i < r->nfails; i++) {
		const struct tt_html_fail *f = &r->fails[i];

		tt_buf_printf(b,
			      "<tr data-rank=\"%zu\" data-err=\"%u\" data-proto=\"%s\" "
			      "data-raddr=\"%s\" data-rport=\"%u\"><td class=\"n\">%zu</td>",
			      i + 1, f->err, tt_proto_name(f->dest.proto),
			      tt_fmt_addr(a, sizeof(a), f->dest.raddr, f->dest.family),
			      f->dest.rport, i + 1);
		if (r->host_col) {
			tt_buf_printf(b, "<td>");
			text(b, f->host);
			tt_buf_printf(b, "</td>");
		}
		tt_buf_printf(b, "<td>%s</td><td>%s</td><td>%s</td>",
			      err_name(e, sizeof(e), f->err), tt_proto_name(f->dest.proto),
			      tt_fmt_endpoint(a, sizeof(a), f->dest.raddr, f->dest.rport,
					      f->dest.family));
		td_uint(b, "count", f->count);
		tt_buf_printf(b, "<td class=\"comm\">");
		comm_text(b, f->dest.comm);
		if (f->nprocs > 1)
			tt_buf_printf(b, " +%u", f->nprocs - 1);
		tt_buf_printf(b, "</td><td>%s</td><td>%s</td></tr>",
			      fmt_clock_ms(t1, sizeof(t1), f->first_ns, r->utc),
			      fmt_clock_ms(t2, sizeof(t2), f->last_ns, r->utc));
	}
	if (!r->nfails)
		tt_buf_printf(b, "<tr><td colspan=\"20\" class=\"empty\">no failed connect in "
				 "this window</td></tr>");
	tt_buf_printf(b, "</tbody></table></div>");

	section_note(b, "Resets by peer and service port", r->nrsts, r->nrsts_all,
		     "sent + received; the service port is the listening side's");
	n = r->nrsts < 64 ? r->nrsts : 64;
	for (i = 0; i < n; i++) {
		const struct tt_html_reset *x = &r->rsts[i];

		snprintf(labs[i], sizeof(labs[i]), "%s %s port %u",
			 tt_fmt_addr(a, sizeof(a), x->peer.raddr, x->peer.family),
			 tt_proto_name(x->peer.proto), x->service_port);
		lab[i] = labs[i];
		v[i] = x->resets;
	}
	hbars_chart(b, "chart-resets", "resets by peer and service port", lab, v, n, C_RST,
		    "no reset in this window");
	tt_buf_printf(b, "<div class=\"scroll\"><table id=\"table-resets\" class=\"top\">"
			 "<thead><tr>");
	th(b, "#", 1);
	if (r->host_col)
		th(b, "Host", 0);
	th(b, "Peer", 0);
	th(b, "Proto", 0);
	th(b, "Service port", 1);
	th(b, "RST", 1);
	th(b, "Conns", 1);
	tt_buf_printf(b, "</tr></thead><tbody>");
	for (i = 0; i < r->nrsts; i++) {
		const struct tt_html_reset *x = &r->rsts[i];

		tt_buf_printf(b,
			      "<tr data-rank=\"%zu\" data-raddr=\"%s\" data-proto=\"%s\" "
			      "data-service_port=\"%u\"><td class=\"n\">%zu</td>",
			      i + 1, tt_fmt_addr(a, sizeof(a), x->peer.raddr, x->peer.family),
			      tt_proto_name(x->peer.proto), x->service_port, i + 1);
		if (r->host_col) {
			tt_buf_printf(b, "<td>");
			text(b, x->host);
			tt_buf_printf(b, "</td>");
		}
		tt_buf_printf(b, "<td>%s</td><td>%s</td><td class=\"n\">%u</td>",
			      tt_fmt_addr(a, sizeof(a), x->peer.raddr, x->peer.family),
			      tt_proto_name(x->peer.proto), x->service_port);
		td_uint(b, "resets", x->resets);
		td_uint(b, "conns", x->conns);
		tt_buf_printf(b, "</tr>");
	}
	if (!r->nrsts)
		tt_buf_printf(b, "<tr><td colspan=\"20\" class=\"empty\">no reset in this window"
				 "</td></tr>");
	tt_buf_printf(b, "</tbody></table></div></section>");
}

static void td_real(struct tt_buf *b, const char *k, double v, const char *shown)
{
	tt_buf_printf(b, "<td class=\"n\" data-k=\"%s\" data-v=\"%.1f\">", k, v);
	text(b, shown);
	tt_buf_printf(b, "</td>");
}

/* What `tcptop-analyze diff` prints for the same two windows, row for row. */
static void baseline(struct tt_buf *b, const struct tt_html_report *r)
{
	char x[64], y[64], z[32], h[48];
	size_t i;

	tt_buf_printf(b,
		      "<section id=\"baseline\"><h2>Compared with the baseline</h2>"
		      "<p class=\"note\" id=\"meta-baseline\" data-from-ns=\"%" PRIu64
		      "\" data-to-ns=\"%" PRIu64 "\">Baseline ",
		      r->base_from_ns, r->base_to_ns);
	text(b, r->baseline);
	tt_buf_printf(b,
		      " (%s \xe2\x86\x92 %s, %s): new talkers, vanished ones and the largest "
		      "changes of rate, per second of each window. The same rows: "
		      "<code id=\"meta-diff-command\">",
		      fmt_when(x, sizeof(x), r->base_from_ns, r->utc, "%Y-%m-%d %H:%M:%S"),
		      fmt_when(y, sizeof(y), r->base_to_ns, r->utc, "%Y-%m-%d %H:%M:%S"),
		      tt_fmt_duration(z, sizeof(z), r->base_to_ns - r->base_from_ns));
	text(b, r->diff_command);
	tt_buf_printf(b, "</code></p>");
	section_note(b, "Changes", r->nchanges, r->nchanges_all, "by how much the rate moved");
	tt_buf_printf(b, "<div class=\"scroll\"><table id=\"table-diff\" class=\"top\">"
			 "<thead><tr>");
	th(b, "#", 1);
	key_heads(b, r->diff_by, r->host_col);
	th(b, "Change", 0);
	th(b, "Rate before", 1);
	th(b, "Rate now", 1);
	th(b, "Delta/s", 1);
	th(b, "Bytes before", 1);
	th(b, "Bytes now", 1);
	th(b, "Conns before", 1);
	th(b, "Conns now", 1);
	th(b, "RTT before", 1);
	th(b, "RTT now", 1);
	th(b, "Retr before", 1);
	th(b, "Retr now", 1);
	tt_buf_printf(b, "</tr></thead><tbody>");
	for (i = 0; i < r->nchanges; i++) {
		const struct tt_change *c = &r->changes[i];
		const struct tt_group *g = c->win ? c->win : c->base;
		double d = c->rate_win - c->rate_base;
		const char *ch = !c->base ? "new" : !c->win ? "gone" : d >= 0 ? "up" : "down";

		tt_buf_printf(b, "<tr data-rank=\"%zu\" data-change=\"%s\"", i + 1, ch);
		key_attrs(b, r->diff_by, g);
		tt_buf_printf(b, "><td class=\"n\">%zu</td>", i + 1);
		key_cells(b, r->diff_by, r->host_col, g);
		tt_buf_printf(b, "<td class=\"%s\">%s</td>", ch, ch);
		td_rate(b, "rate_base", c->rate_base);
		td_rate(b, "rate_window", c->rate_win);
		snprintf(h, sizeof(h), "%s", d < 0 ? "-" : "+");
		tt_fmt_rate(h + 1, sizeof(h) - 1, fabs(d));
		td_real(b, "rate_delta", d, h);
		td_bytes(b, "bytes_base", c->base ? c->base->bytes_in + c->base->bytes_out : 0);
		td_bytes(b, "bytes_window", c->win ? c->win->bytes_in + c->win->bytes_out : 0);
		td_uint(b, "conns_base", c->base ? c->base->conns : 0);
		td_uint(b, "conns_window", c->win ? c->win->conns : 0);
		td_usec(b, "rtt_us_base", c->base && c->base->rtt_n,
			c->base ? tt_group_rtt_us(c->base) : 0);
		td_usec(b, "rtt_us_window", c->win && c->win->rtt_n,
			c->win ? tt_group_rtt_us(c->win) : 0);
		td_uint(b, "retransmits_base", c->base ? c->base->retrans : 0);
		td_uint(b, "retransmits_window", c->win ? c->win->retrans : 0);
		tt_buf_printf(b, "</tr>");
	}
	if (!r->nchanges)
		tt_buf_printf(b, "<tr><td colspan=\"20\" class=\"empty\">no traffic in either "
				 "window</td></tr>");
	tt_buf_printf(b, "</tbody></table></div></section>");
}

/* ---- the page -------------------------------------------------------------- */

static const char css[] =
	":root{color-scheme:light}"
	"body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif;"
	"color:#1d2330;background:#fff;margin:0 auto;padding:20px 28px;max-width:1320px}"
	"h1{font-size:22px;margin:0 0 2px}"
	"h2{font-size:17px;border-bottom:1px solid #d8dce5;padding-bottom:4px;margin:26px 0 12px}"
	"h3{font-size:15px;margin:18px 0 6px}"
	".sub{color:#5a6275;margin:0 0 14px}"
	".note{color:#5a6275;font-size:12px;font-weight:normal}"
	".cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(190px,1fr));gap:10px;"
	"margin:0 0 14px}"
	".card{border:1px solid #d8dce5;border-radius:6px;padding:8px 12px}"
	".card .v{font-size:20px;font-weight:600;font-variant-numeric:tabular-nums}"
	".card .k{color:#5a6275;font-size:12px}"
	".card .d{font-size:12px;color:#3a4152}"
	".card.bad{border-color:#d62728;background:#fff4f4}"
	".card.good .v{color:#2b7a2b}"
	".warn{border:1px solid #d62728;background:#fff4f4;border-radius:6px;padding:6px 12px;"
	"margin:0 0 12px}"
	"dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:3px 18px;margin:0}"
	"dl.meta dt{color:#5a6275}dl.meta dd{margin:0;overflow-wrap:anywhere}"
	"code{font:12.5px ui-monospace,'DejaVu Sans Mono',monospace;background:#f3f5f9;"
	"padding:1px 4px;border-radius:3px}"
	"figure.chart{margin:0 0 16px;border:1px solid #e3e6ee;border-radius:6px;padding:10px 12px}"
	"figcaption{font-weight:600;margin-bottom:4px}"
	"svg.chart{width:100%;height:auto;display:block}"
	"svg.chart text{font-size:12px;fill:#3a4152;font-family:inherit}"
	"svg.chart .gl{stroke:#e6e8ee;stroke-width:1}"
	"svg.chart .base{stroke:#8a91a3;stroke-width:1}"
	"svg.chart .nodata{fill:#8a91a3;font-size:14px}"
	"svg.chart .panel{font-weight:600}"
	"svg.line polyline{stroke-width:1.8;stroke-linejoin:round}"
	"svg.line circle{stroke:none}"
	"svg.line .dash polyline{stroke-dasharray:7 4}"
	"svg.lifetimes .more{opacity:.9}"
	"svg.chart text.scale{fill:#8a91a3;font-style:italic}"
	"table.top td.new,table.top td.up{color:#b03030}table.top td.gone,table.top td.down"
	"{color:#2b7a2b}"
	".legend{list-style:none;display:flex;flex-wrap:wrap;gap:3px 18px;padding:0;margin:6px 0 0;"
	"font-size:12.5px}"
	".legend li{white-space:nowrap}"
	".sw{display:inline-block;width:16px;margin-right:6px;vertical-align:middle}"
	".sw.line{height:3px}.sw.box{height:10px;width:10px;border-radius:2px}"
	".sw.line.dash{height:0;border-top:3px dashed}"
	".scroll{overflow-x:auto}"
	"table.top{border-collapse:collapse;width:100%;font-size:12.5px}"
	"table.top th,table.top td{padding:3px 7px;border-bottom:1px solid #e6e8ee;text-align:left;"
	"white-space:nowrap}"
	"table.top .n{text-align:right;font-variant-numeric:tabular-nums}"
	"table.top td .sw{margin-right:4px}"
	"table.top thead th{background:#f3f5f9;border-bottom:1px solid #c9cfdb}"
	"table.top tbody tr:nth-child(even){background:#fafbfd}"
	"table.top td.empty{color:#8a91a3;text-align:center}"
	"footer{margin-top:26px;color:#5a6275;font-size:12px}"
	"@page{margin:12mm}"
	"@media print{body{padding:0;max-width:none;font-size:11px;"
	"-webkit-print-color-adjust:exact;print-color-adjust:exact}"
	"figure.chart,table,tr,.cards,.card,dl.meta,section.tbl{page-break-inside:avoid;"
	"break-inside:avoid}"
	"h2,h3{page-break-after:avoid;break-after:avoid}"
	"table.top{font-size:9.5px}table.top th,table.top td{padding:2px 4px}"
	".scroll{overflow:visible}"
	"figure.chart{border-color:#ccc}}";

static void card(struct tt_buf *b, const char *id, const char *cls, const char *key,
		 const char *value, uint64_t raw, const char *detail)
{
	tt_buf_printf(b,
		      "<div class=\"card%s%s\" id=\"%s\" data-v=\"%" PRIu64 "\">"
		      "<div class=\"k\">%s</div><div class=\"v\">",
		      cls[0] ? " " : "", cls, id, raw, key);
	text(b, value);
	tt_buf_printf(b, "</div><div class=\"d\">");
	text(b, detail);
	tt_buf_printf(b, "</div></div>");
}

static void summary(struct tt_buf *b, const struct tt_html_report *r)
{
	uint64_t win = r->to_ns - r->from_ns;
	double secs = win ? (double)win / 1e9 : 0;
	uint64_t lost = r->loss.ring_drops + r->loss.socks_full + r->loss.peers_full;
	char v[64], d[160], x[32], y[32], z[32];

	tt_buf_printf(b, "<section id=\"summary\"><h2>Summary</h2>");
	if (r->warning && *r->warning) {
		tt_buf_printf(b, "<p class=\"warn\">");
		text(b, r->warning);
		tt_buf_printf(b, "</p>");
	}
	tt_buf_printf(b, "<div class=\"cards\">");
	snprintf(d, sizeof(d), "avg %s, peak %s",
		 tt_fmt_rate(x, sizeof(x), secs ? (double)r->bytes_in / secs : 0),
		 tt_fmt_rate(y, sizeof(y), r->peak_in));
	card(b, "sum-bytes-in", "", "Received (in)", tt_fmt_bytes(v, sizeof(v), r->bytes_in),
	     r->bytes_in, d);
	snprintf(d, sizeof(d), "avg %s, peak %s",
		 tt_fmt_rate(x, sizeof(x), secs ? (double)r->bytes_out / secs : 0),
		 tt_fmt_rate(y, sizeof(y), r->peak_out));
	card(b, "sum-bytes-out", "", "Sent (out)", tt_fmt_bytes(v, sizeof(v), r->bytes_out),
	     r->bytes_out, d);
	snprintf(v, sizeof(v), "%" PRIu64, r->conns);
	snprintf(d, sizeof(d), "%" PRIu64 " opened, %" PRIu64 " closed in the window", r->opened,
		 r->closed);
	card(b, "sum-conns", "", "Connections", v, r->conns, d);
	snprintf(v, sizeof(v), "%" PRIu64, r->resets);
	card(b, "sum-resets", r->resets ? "bad" : "", "Resets", v, r->resets, "sent + received");
	snprintf(v, sizeof(v), "%" PRIu64, r->failed);
	card(b, "sum-failed", r->failed ? "bad" : "", "Failed connects", v, r->failed,
	     "connect() refused, timed out, unreachable");
	snprintf(v, sizeof(v), "%" PRIu64, r->retrans);
	card(b, "sum-retrans", r->retrans ? "bad" : "", "Retransmits", v, r->retrans,
	     "retransmitted segments");
	snprintf(v, sizeof(v), "%s", lost ? "LOSSES" : "none");
	snprintf(d, sizeof(d),
		 "ring drops %" PRIu64 ", socket map full %" PRIu64 ", peer map full %" PRIu64,
		 r->loss.ring_drops, r->loss.socks_full, r->loss.peers_full);
	card(b, "sum-losses", lost ? "bad" : "good", "Recorder losses", v, lost, d);
	tt_buf_printf(b, "</div><dl class=\"meta\">");

	tt_buf_printf(b, "<dt>Host</dt><dd id=\"meta-hosts\">");
	text(b, r->hosts && *r->hosts ? r->hosts : "?");
	tt_buf_printf(b, "</dd><dt>Kernel</dt><dd id=\"meta-kernels\">");
	text(b, r->kernels && *r->kernels ? r->kernels : "?");
	tt_buf_printf(b,
		      "</dd><dt>Window</dt><dd id=\"meta-window\" data-from-ns=\"%" PRIu64
		      "\" data-to-ns=\"%" PRIu64 "\">",
		      r->from_ns, r->to_ns);
	tt_buf_printf(b, "%s", fmt_when(v, sizeof(v), r->from_ns, r->utc, "%Y-%m-%d %H:%M:%S"));
	tt_buf_printf(b, " \xe2\x86\x92 %s %s (%s)",
		      fmt_when(x, sizeof(x), r->to_ns, r->utc, "%Y-%m-%d %H:%M:%S"),
		      fmt_when(y, sizeof(y), r->from_ns, r->utc, r->utc ? "UTC" : "%Z"),
		      tt_fmt_duration(z, sizeof(z), win));
	tt_buf_printf(b, "</dd><dt>Filters</dt><dd>");
	if (r->filters && *r->filters) {
		tt_buf_printf(b, "<code>");
		text(b, r->filters);
		tt_buf_printf(b, "</code>");
	} else {
		tt_buf_printf(b, "none: every connection");
	}
	if (r->ticks)
		tt_buf_printf(b,
			      "</dd><dt>Ticks</dt><dd>%" PRIu64 " of %s; charts average over %s "
			      "buckets</dd>",
			      r->ticks, tt_fmt_duration(x, sizeof(x), r->tick_ns),
			      tt_fmt_duration(y, sizeof(y), r->bucket_ns));
	else
		tt_buf_printf(b, "</dd><dt>Ticks</dt><dd>none ends in this window</dd>");
	tt_buf_printf(b, "<dt>Store</dt><dd><code>");
	text(b, r->stores);
	tt_buf_printf(b, "</code></dd><dt>Same tables</dt><dd><code id=\"meta-command\">");
	text(b, r->command);
	tt_buf_printf(b, "</code></dd></dl></section>");
}

int tt_html_report(const struct tt_html_report *r, struct tt_buf *out)
{
	char a[64], c[64], z[16];
	size_t i;

	if (r->to_ns < r->from_ns || r->nconns_top > TT_HTML_TOP || r->nretr_top > TT_HTML_TOP ||
	    (r->nbuckets && (!r->bucket_ns || r->bucket0_ns > r->from_ns || !r->rate_in ||
			     !r->rate_out || !r->opened_b || !r->resets_b || !r->failed_b)) ||
	    (r->nfails && !r->fails) || (r->nrsts && !r->rsts) ||
	    (r->baseline && (!r->diff_by || (r->nchanges && !r->changes))))
		return -EINVAL;
	for (i = 0; i < r->nconns_top; i++)
		if (!r->conns_top[i].g ||
		    (r->nbuckets && (!r->conns_top[i].rate || !r->conns_top[i].rtt_us)))
			return -EINVAL;
	for (i = 0; i < r->nretr_top; i++)
		if (!r->retr_top[i].g || (r->nbuckets && !r->retr_top[i].retrans))
			return -EINVAL;
	tt_buf_printf(out, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
			   "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
			   "<meta name=\"generator\" content=\"tcptop-analyze " TT_VERSION "\">"
			   "<title>tcptop report: ");
	text(out, r->hosts);
	tt_buf_printf(out, ", %s</title><style>%s</style></head>\n<body>",
		      fmt_when(a, sizeof(a), r->from_ns, r->utc, "%Y-%m-%d %H:%M"), css);
	tt_buf_printf(out, "<header><h1>Network post-mortem: ");
	text(out, r->hosts && *r->hosts ? r->hosts : "?");
	tt_buf_printf(out,
		      "</h1><p class=\"sub\">%s \xe2\x86\x92 %s %s, recorded by tcptop</p>"
		      "</header>\n",
		      fmt_when(a, sizeof(a), r->from_ns, r->utc, "%Y-%m-%d %H:%M:%S"),
		      fmt_when(c, sizeof(c), r->to_ns, r->utc, "%Y-%m-%d %H:%M:%S"),
		      fmt_when(z, sizeof(z), r->from_ns, r->utc, r->utc ? "UTC" : "%Z"));
	summary(out, r);
	tt_buf_add(out, "\n", 1);
	charts(out, r);
	tt_buf_add(out, "\n", 1);
	tt_buf_printf(out,
		      "<section id=\"tables\"><h2>Top talkers</h2>"
		      "<p class=\"note\">The window's bytes, the highest per-tick rate, the "
		      "average and highest smoothed RTT, retransmitted segments and resets: the "
		      "numbers <code>tcptop-analyze top</code> prints for the same window; Failed: "
		      "connections whose connect() failed, as <code>events</code> closes them.</p>");
	for (i = 0; i < r->ntables; i++)
		table(out, r, &r->tables[i]);
	tt_buf_printf(out, "</section>\n");
	failures(out, r);
	tt_buf_add(out, "\n", 1);
	if (r->baseline) {
		baseline(out, r);
		tt_buf_add(out, "\n", 1);
	}
	tt_buf_printf(out,
		      "<footer>Generated by tcptop-analyze " TT_VERSION " on %s. "
		      "Every number comes from replaying the recorder's stored event stream. "
		      "This file is self-contained: it loads nothing from anywhere.</footer>"
		      "\n</body></html>\n",
		      fmt_when(a, sizeof(a), r->generated_ns, r->utc, "%Y-%m-%d %H:%M:%S %Z"));
	return out->err;
}
