/*
 * timeparse.c: see timeparse.h. Called a handful of times per command line,
 * so clarity wins over speed; the only library state touched is the time zone
 * (tzset/mktime/localtime_r), which the process owns.
 */
#define _DEFAULT_SOURCE /* timegm */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "timeparse.h"

#define NS_PER_S 1000000000ull

struct unit {
	const char *name; /* what follows the number, "" for none */
	double mult;
};

/* A non-negative number and one of units, scaled and rounded; -EINVAL otherwise. */
static int parse_scaled(const char *s, const struct unit *units, size_t n, uint64_t *out)
{
	char *end;
	double v;
	size_t i;

	if (!s || !*s || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || !isfinite(v) || v < 0)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (strcmp(end, units[i].name))
			continue;
		v *= units[i].mult;
		if (v >= 1.8e19) /* past what uint64_t holds */
			return -EINVAL;
		*out = (uint64_t)(v + 0.5);
		return 0;
	}
	return -EINVAL;
}

int tt_parse_duration(const char *s, uint64_t *ns)
{
	static const struct unit units[] = {
		{ "", 1e9 },   { "s", 1e9 },	{ "ms", 1e6 },	 { "us", 1e3 },
		{ "m", 60e9 }, { "min", 60e9 }, { "h", 3600e9 }, { "d", 86400e9 },
	};

	return parse_scaled(s, units, sizeof(units) / sizeof(units[0]), ns);
}

int tt_parse_size(const char *s, uint64_t *bytes)
{
	static const struct unit units[] = {
		{ "", 1 },
		{ "B", 1 },
		{ "K", 1024.0 },
		{ "KB", 1024.0 },
		{ "KiB", 1024.0 },
		{ "M", 1048576.0 },
		{ "MB", 1048576.0 },
		{ "MiB", 1048576.0 },
		{ "G", 1073741824.0 },
		{ "GB", 1073741824.0 },
		{ "GiB", 1073741824.0 },
		{ "T", 1099511627776.0 },
		{ "TB", 1099511627776.0 },
		{ "TiB", 1099511627776.0 },
	};

	return parse_scaled(s, units, sizeof(units) / sizeof(units[0]), bytes);
}

/* A wall-clock reading as typed, before any zone is applied. */
struct wall {
	int year; /* 0000-9999 */
	int mon; /* 1-12 */
	int day; /* 1-28..31 */
	int hour; /* 0-23 */
	int min; /* 0-59 */
	int sec; /* 0-60 (60: a leap second) */
	uint32_t frac_ns; /* 0-999999999 */
};

/* ASCII only: the C library's ctype follows the locale. */
static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int is_lower(char c)
{
	return c >= 'a' && c <= 'z';
}

/* Exactly n digits at *p into *v; advances *p. Stops at the NUL, never reads past it. */
static int take_digits(const char **p, int n, int *v)
{
	int i, x = 0;

	for (i = 0; i < n; i++) {
		if (!is_digit((*p)[i]))
			return -EINVAL;
		x = x * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*v = x;
	return 0;
}

/* ".d" to ".ddddddddd" (1-9 digits) at *p, if there, into nanoseconds. */
static int take_fraction(const char **p, uint32_t *ns)
{
	uint32_t v = 0;
	int n = 0;

	*ns = 0;
	if (**p != '.')
		return 0;
	(*p)++;
	while (is_digit(**p)) {
		if (++n > 9)
			return -EINVAL;
		v = v * 10 + (uint32_t)(**p - '0');
		(*p)++;
	}
	if (!n)
		return -EINVAL;
	while (n++ < 9)
		v *= 10;
	*ns = v;
	return 0;
}

static int days_in_month(int year, int mon)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	return days[mon - 1] + (mon == 2 && leap);
}

/* "HH:MM[:SS[.fff]]" at *p into the time fields of w; advances *p. */
static int take_clock(const char **p, struct wall *w)
{
	w->sec = 0;
	w->frac_ns = 0;
	if (take_digits(p, 2, &w->hour) || **p != ':')
		return -EINVAL;
	(*p)++;
	if (take_digits(p, 2, &w->min))
		return -EINVAL;
	if (**p == ':') {
		(*p)++;
		if (take_digits(p, 2, &w->sec) || take_fraction(p, &w->frac_ns))
			return -EINVAL;
	}
	if (w->hour > 23 || w->min > 59 || w->sec > 60)
		return -EINVAL;
	return 0;
}

/* "Z", "+HH", "+HH:MM", "+HHMM" (or "-") at *p into seconds east of UTC. */
static int take_zone(const char **p, long *east)
{
	int sign, h, m = 0;

	if (**p == 'Z' || **p == 'z') {
		(*p)++;
		*east = 0;
		return 0;
	}
	if (**p != '+' && **p != '-')
		return -EINVAL;
	sign = **p == '-' ? -1 : 1;
	(*p)++;
	if (take_digits(p, 2, &h))
		return -EINVAL;
	if (**p == ':') {
		(*p)++;
		if (take_digits(p, 2, &m))
			return -EINVAL;
	} else if (is_digit(**p) && take_digits(p, 2, &m)) {
		return -EINVAL;
	}
	if (h > 23 || m > 59)
		return -EINVAL;
	*east = sign * (h * 3600L + m * 60L);
	return 0;
}

static void wall_to_tm(const struct wall *w, struct tm *tm)
{
	memset(tm, 0, sizeof(*tm));
	tm->tm_year = w->year - 1900;
	tm->tm_mon = w->mon - 1;
	tm->tm_mday = w->day;
	tm->tm_hour = w->hour;
	tm->tm_min = w->min;
	tm->tm_sec = w->sec;
}

static int same_wall(const struct tm *a, const struct tm *b)
{
	return a->tm_year == b->tm_year && a->tm_mon == b->tm_mon && a->tm_mday == b->tm_mday &&
	       a->tm_hour == b->tm_hour && a->tm_min == b->tm_min && a->tm_sec == b->tm_sec;
}

/*
 * A local wall time into Unix seconds. mktime() with tm_isdst = -1 leaves the
 * repeated autumn hour to glibc's internal guess (which depends on earlier
 * calls), so both readings are tried and kept only if localtime_r() gives the
 * same wall time back: two survivors mean an ambiguous time (the earlier one
 * wins), none a skipped one (read as standard time, the offset before a
 * spring-forward change).
 */
static int local_to_unix(const struct tm *want, int64_t *t)
{
	struct tm tm, back;
	int found = 0, isdst;
	time_t r;

	tzset();
	for (isdst = 0; isdst <= 1; isdst++) {
		tm = *want;
		tm.tm_isdst = isdst;
		r = mktime(&tm);
		if (r == (time_t)-1 || !localtime_r(&r, &back) || !same_wall(want, &back))
			continue;
		if (!found || (int64_t)r < *t)
			*t = r;
		found = 1;
	}
	if (found)
		return 0;
	tm = *want;
	tm.tm_isdst = 0;
	r = mktime(&tm);
	if (r == (time_t)-1)
		return -EINVAL;
	*t = r;
	return 0;
}

/* w in the zone east seconds ahead of UTC, or local time if !has_zone. */
static int wall_to_unix(const struct wall *w, int has_zone, long east, uint64_t *out)
{
	struct tm tm;
	int64_t t;
	time_t r;
	int leap;

	if (w->mon < 1 || w->mon > 12 || w->day < 1 || w->day > days_in_month(w->year, w->mon) ||
	    w->hour > 23 || w->min > 59 || w->sec > 60)
		return -EINVAL;
	/* POSIX time has no leap seconds: 23:59:60 is 00:00:00 next day. */
	leap = w->sec == 60;
	wall_to_tm(w, &tm);
	tm.tm_sec -= leap;
	if (has_zone) {
		r = timegm(&tm);
		if (r == (time_t)-1)
			return -EINVAL;
		t = (int64_t)r - east;
	} else if (local_to_unix(&tm, &t)) {
		return -EINVAL;
	}
	t += leap;
	if (t < 0 || (uint64_t)t > (UINT64_MAX - w->frac_ns) / NS_PER_S)
		return -EINVAL;
	*out = (uint64_t)t * NS_PER_S + w->frac_ns;
	return 0;
}

/* The date (local, or UTC if utc) that Unix ns falls on. */
static int today(uint64_t ns, int utc, struct wall *w)
{
	time_t t = (time_t)(ns / NS_PER_S);
	struct tm tm;

	if (utc) {
		if (!gmtime_r(&t, &tm))
			return -EINVAL;
	} else {
		tzset();
		if (!localtime_r(&t, &tm))
			return -EINVAL;
	}
	w->year = tm.tm_year + 1900;
	w->mon = tm.tm_mon + 1;
	w->day = tm.tm_mday;
	return 0;
}

/*
 * A duration after an anchor or in --last: "90m", "1.5h", "45" (seconds) or
 * components with units run together, "1h30m", each read by tt_parse_duration.
 * Spelled out here (digits, one optional '.', lowercase unit) so strtod's
 * extras ("1e3", "0x10", "inf") are not let in through the back door.
 */
static int parse_offset(const char *s, uint64_t *ns)
{
	uint64_t sum = 0, part;
	const char *p = s;
	char one[24];
	int parts = 0;

	if (!*p)
		return -EINVAL;
	while (*p) {
		const char *b = p;
		size_t len;

		if (!is_digit(*p))
			return -EINVAL;
		while (is_digit(*p))
			p++;
		if (*p == '.') {
			p++;
			if (!is_digit(*p))
				return -EINVAL;
			while (is_digit(*p))
				p++;
		}
		while (is_lower(*p))
			p++;
		len = (size_t)(p - b);
		if (len >= sizeof(one))
			return -EINVAL;
		memcpy(one, b, len);
		one[len] = '\0';
		/* A unit-less number is seconds only when it stands alone: "1h30" is a typo. */
		if (!is_lower(one[len - 1]) && (parts || *p))
			return -EINVAL;
		if (tt_parse_duration(one, &part) || part > UINT64_MAX - sum)
			return -EINVAL;
		sum += part;
		parts++;
	}
	*ns = sum;
	return 0;
}

/* anchor, then nothing, or '+'/'-' and a duration. */
static int relative(uint64_t anchor, const char *rest, uint64_t *out)
{
	uint64_t d;

	if (!*rest) {
		*out = anchor;
		return 0;
	}
	if ((*rest != '+' && *rest != '-') || parse_offset(rest + 1, &d))
		return -EINVAL;
	if (*rest == '+') {
		if (d > UINT64_MAX - anchor)
			return -EINVAL;
		*out = anchor + d;
	} else {
		if (d > anchor)
			return -EINVAL;
		*out = anchor - d;
	}
	return 0;
}

/* "@SECONDS[.fff]" after the '@'. */
static int unix_time(const char *p, uint64_t *out)
{
	uint64_t sec = 0;
	uint32_t frac;

	if (!is_digit(*p))
		return -EINVAL;
	for (; is_digit(*p); p++) {
		if (sec > (UINT64_MAX - 9) / 10)
			return -EINVAL;
		sec = sec * 10 + (uint64_t)(*p - '0');
	}
	if (take_fraction(&p, &frac) || *p)
		return -EINVAL;
	if (sec > (UINT64_MAX - frac) / NS_PER_S)
		return -EINVAL;
	*out = sec * NS_PER_S + frac;
	return 0;
}

int tt_parse_time(const char *s, const struct tt_time_ctx *ctx, uint64_t *unix_ns)
{
	struct wall w;
	const char *p = s;
	long east = 0;
	int has_zone;

	if (!s || !ctx || !unix_ns)
		return -EINVAL;
	if (*p == '@')
		return unix_time(p + 1, unix_ns);
	if (*p == '-')
		return relative(ctx->end_ns, p, unix_ns);
	if (!strncmp(p, "now", 3))
		return relative(ctx->now_ns, p + 3, unix_ns);
	if (!strncmp(p, "end", 3))
		return relative(ctx->end_ns, p + 3, unix_ns);
	if (!strncmp(p, "start", 5))
		return relative(ctx->start_ns, p + 5, unix_ns);

	/* Clock time today: "HH:" starts it (p[2] is readable once p[0], p[1] are digits). */
	if (is_digit(p[0]) && is_digit(p[1]) && p[2] == ':') {
		if (today(ctx->now_ns, ctx->utc, &w) || take_clock(&p, &w) || *p)
			return -EINVAL;
		return wall_to_unix(&w, ctx->utc, 0, unix_ns);
	}

	/* ISO 8601: YYYY-MM-DD, then nothing or [T ]HH:MM[:SS[.fff]][zone]. */
	if (take_digits(&p, 4, &w.year) || *p++ != '-' || take_digits(&p, 2, &w.mon) ||
	    *p++ != '-' || take_digits(&p, 2, &w.day))
		return -EINVAL;
	w.hour = w.min = w.sec = 0;
	w.frac_ns = 0;
	has_zone = ctx->utc;
	if (*p) {
		if (*p != 'T' && *p != 't' && *p != ' ')
			return -EINVAL;
		p++;
		if (take_clock(&p, &w))
			return -EINVAL;
		if (*p) {
			if (take_zone(&p, &east) || *p)
				return -EINVAL;
			has_zone = 1;
		}
	}
	return wall_to_unix(&w, has_zone, east, unix_ns);
}

static int why_fail(char *why, size_t why_len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int why_fail(char *why, size_t why_len, const char *fmt, ...)
{
	va_list ap;

	if (why && why_len) {
		va_start(ap, fmt);
		vsnprintf(why, why_len, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

int tt_parse_window(const char *from, const char *to, const char *last,
		    const struct tt_time_ctx *ctx, uint64_t *from_ns, uint64_t *to_ns, char *why,
		    size_t why_len)
{
	static const char examples[] = "(e.g. 2026-11-27T14:05, 14:05, -10m, now-1h, @1764252300)";
	uint64_t f = 0, t = 0, d;

	if (!ctx || !from_ns || !to_ns)
		return why_fail(why, why_len, "no time context");
	if (last && from)
		return why_fail(why, why_len, "--last cannot be combined with --from");
	if (from && tt_parse_time(from, ctx, &f))
		return why_fail(why, why_len, "--from: '%s' is not a time %s", from, examples);
	if (to && tt_parse_time(to, ctx, &t))
		return why_fail(why, why_len, "--to: '%s' is not a time %s", to, examples);
	if (!to)
		t = ctx->end_ns;
	if (last) {
		if (parse_offset(last, &d) || !d)
			return why_fail(why, why_len,
					"--last: '%s' is not a positive duration (e.g. 15m, 1h30m)",
					last);
		if (d > t)
			return why_fail(why, why_len, "--last: '%s' reaches back before 1970",
					last);
		f = t - d;
	} else if (!from) {
		f = ctx->start_ns;
	}
	if (f > t) {
		if (from && to)
			return why_fail(why, why_len, "--from '%s' is after --to '%s'", from, to);
		if (from)
			return why_fail(why, why_len, "--from '%s' is after the end of the data",
					from);
		if (to)
			return why_fail(why, why_len, "--to '%s' is before the start of the data",
					to);
		return why_fail(why, why_len, "the data's start is after its end");
	}
	*from_ns = f;
	*to_ns = t;
	return 0;
}

uint64_t tt_time_align(uint64_t unix_ns, uint64_t step_ns, int utc)
{
	time_t s = (time_t)(unix_ns / 1000000000ull);
	struct tm tm;
	int64_t off = 0, local;

	if (!step_ns)
		return unix_ns;
	if (!utc && localtime_r(&s, &tm))
		off = (int64_t)tm.tm_gmtoff * 1000000000;
	local = (int64_t)unix_ns + off;
	if (local < 0)
		return unix_ns;
	return (uint64_t)(local - local % (int64_t)step_ns - off);
}
