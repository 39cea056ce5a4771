/*
 * Unit tests of timeparse's points in time and windows. Expected values are
 * computed here without the C library's time functions: days_from_civil()
 * (Howard Hinnant's algorithm) plus offsets read off the POSIX TZ rules by
 * hand, so a bug shared with timegm()/mktime() use cannot hide.
 */
#define _DEFAULT_SOURCE /* setenv, tzset */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "timeparse.h"

#define S 1000000000ull

/* Central European Time with EU summer time, no tzdata needed. */
#define TZ_BERLIN "CET-1CEST,M3.5.0,M10.5.0/3"
/* US Eastern: a zone west of Greenwich, summer time from the 2nd Sunday of March. */
#define TZ_NEW_YORK "EST5EDT,M3.2.0,M11.1.0"

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

/* UTC wall time into Unix ns, minus east_s seconds of zone offset. */
static uint64_t utc_ns(int y, int mo, int d, int h, int mi, int s, int64_t east_s)
{
	int64_t t = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + s;

	return (uint64_t)(t - east_s) * S;
}

static void set_tz(const char *tz)
{
	assert_int_equal(setenv("TZ", tz, 1), 0);
	tzset();
}

/* The fixed context most tests use: a recording of 2026-11-27 13:00-14:00Z, now 15:30Z. */
static struct tt_time_ctx ctx_fixed(int utc)
{
	struct tt_time_ctx c = {
		.now_ns = utc_ns(2026, 11, 27, 15, 30, 0, 0),
		.start_ns = utc_ns(2026, 11, 27, 13, 0, 0, 0),
		.end_ns = utc_ns(2026, 11, 27, 14, 0, 0, 0),
		.utc = utc,
	};
	return c;
}

static void expect_time(const char *s, const struct tt_time_ctx *c, uint64_t want)
{
	uint64_t got = 0;
	int rc = tt_parse_time(s, c, &got);

	if (rc || got != want)
		fail_msg("'%s': rc %d, got %llu, want %llu (diff %lld s)", s, rc,
			 (unsigned long long)got, (unsigned long long)want,
			 (long long)((int64_t)(got - want) / (int64_t)S));
}

static void expect_bad(const char *s, const struct tt_time_ctx *c)
{
	uint64_t got = 12345;
	int rc = tt_parse_time(s, c, &got);

	if (rc != -EINVAL || got != 12345)
		fail_msg("'%s': rc %d, got %llu, want -EINVAL and untouched", s, rc,
			 (unsigned long long)got);
}

static void test_iso_utc_forms(void **state)
{
	struct tt_time_ctx c = ctx_fixed(0);
	uint64_t t = utc_ns(2026, 11, 27, 14, 5, 0, 0);

	(void)state;
	set_tz(TZ_BERLIN); /* an explicit zone must not care */
	expect_time("2026-11-27T14:05:00Z", &c, t);
	expect_time("2026-11-27 14:05:00Z", &c, t);
	expect_time("2026-11-27t14:05:00z", &c, t);
	expect_time("2026-11-27T14:05Z", &c, t);
	expect_time("2026-11-27T14:05:00.123Z", &c, t + 123000000);
	expect_time("2026-11-27T14:05:00.5Z", &c, t + 500000000);
	expect_time("2026-11-27T14:05:00.000000001Z", &c, t + 1);
	expect_time("2026-11-27T14:05:00.123456789Z", &c, t + 123456789);
	expect_time("2026-11-27T14:05:07Z", &c, t + 7 * S);
	expect_time("1970-01-01T00:00:00Z", &c, 0);
	expect_time("2000-02-29T12:00:00Z", &c, utc_ns(2000, 2, 29, 12, 0, 0, 0));
	expect_time("2024-02-29T00:00:00Z", &c, utc_ns(2024, 2, 29, 0, 0, 0, 0));
	expect_time("2026-12-31T23:59:59Z", &c, utc_ns(2026, 12, 31, 23, 59, 59, 0));
	/* A leap second is the first second of the next minute. */
	expect_time("2016-12-31T23:59:60Z", &c, utc_ns(2017, 1, 1, 0, 0, 0, 0));
	expect_time("2554-07-21T23:34:33Z", &c, utc_ns(2554, 7, 21, 23, 34, 33, 0));
}

static void test_iso_zones(void **state)
{
	struct tt_time_ctx c = ctx_fixed(0);

	(void)state;
	set_tz(TZ_NEW_YORK);
	expect_time("2026-11-27T14:05:00+01:00", &c, utc_ns(2026, 11, 27, 13, 5, 0, 0));
	expect_time("2026-11-27T14:05:00+0100", &c, utc_ns(2026, 11, 27, 13, 5, 0, 0));
	expect_time("2026-11-27T14:05:00+01", &c, utc_ns(2026, 11, 27, 13, 5, 0, 0));
	expect_time("2026-11-27T14:05:00-05:00", &c, utc_ns(2026, 11, 27, 19, 5, 0, 0));
	expect_time("2026-11-27T14:05:00-05:30", &c, utc_ns(2026, 11, 27, 19, 35, 0, 0));
	expect_time("2026-11-27T14:05:00-0530", &c, utc_ns(2026, 11, 27, 19, 35, 0, 0));
	expect_time("2026-11-27T14:05:00+05:45", &c, utc_ns(2026, 11, 27, 8, 20, 0, 0));
	expect_time("2026-11-27T14:05:00-00:00", &c, utc_ns(2026, 11, 27, 14, 5, 0, 0));
	expect_time("2026-11-27T14:05:00+00:00", &c, utc_ns(2026, 11, 27, 14, 5, 0, 0));
	expect_time("2026-11-27 14:05+01:00", &c, utc_ns(2026, 11, 27, 13, 5, 0, 0));
	expect_time("2026-11-27T14:05:00.25+01:00", &c, utc_ns(2026, 11, 27, 13, 5, 0, 0) + S / 4);
	/* Crossing midnight and the year both ways. */
	expect_time("2027-01-01T00:30:00+01:00", &c, utc_ns(2026, 12, 31, 23, 30, 0, 0));
	expect_time("2026-12-31T23:30:00-01:00", &c, utc_ns(2027, 1, 1, 0, 30, 0, 0));
	expect_time("1970-01-01T00:00:00-01:00", &c, 3600 * S);
}

static void test_zone_less_under_utc(void **state)
{
	struct tt_time_ctx local = ctx_fixed(0), utc = ctx_fixed(1);
	uint64_t t = utc_ns(2026, 11, 27, 14, 5, 0, 0);

	(void)state;
	/* TZ=UTC: local time is UTC. */
	set_tz("UTC");
	expect_time("2026-11-27T14:05:00", &local, t);
	expect_time("2026-11-27 14:05", &local, t);
	expect_time("2026-11-27T14:05:00.75", &local, t + 750000000);
	expect_time("2026-11-27", &local, utc_ns(2026, 11, 27, 0, 0, 0, 0));
	expect_time("2016-12-31T23:59:60", &local, utc_ns(2017, 1, 1, 0, 0, 0, 0));
	/* ctx->utc: zone-less is UTC whatever TZ says. */
	set_tz(TZ_BERLIN);
	expect_time("2026-11-27T14:05:00", &utc, t);
	expect_time("2026-07-01T14:05:00", &utc, utc_ns(2026, 7, 1, 14, 5, 0, 0));
	expect_time("2026-11-27", &utc, utc_ns(2026, 11, 27, 0, 0, 0, 0));
	/* An explicit zone beats ctx->utc. */
	expect_time("2026-11-27T14:05:00+01:00", &utc, t - 3600 * S);
}

static void test_local_berlin(void **state)
{
	struct tt_time_ctx c = ctx_fixed(0);

	(void)state;
	set_tz(TZ_BERLIN);
	/* Winter: CET, +01:00. Summer: CEST, +02:00. */
	expect_time("2026-11-27T14:05:00", &c, utc_ns(2026, 11, 27, 14, 5, 0, 3600));
	expect_time("2026-11-27", &c, utc_ns(2026, 11, 27, 0, 0, 0, 3600));
	expect_time("2026-07-01T12:00:00", &c, utc_ns(2026, 7, 1, 12, 0, 0, 7200));
	expect_time("2026-07-01", &c, utc_ns(2026, 7, 1, 0, 0, 0, 7200));
	expect_time("2026-07-01T12:00:00.5", &c, utc_ns(2026, 7, 1, 12, 0, 0, 7200) + S / 2);

	/* Spring forward, Sunday 2026-03-29 at 01:00Z: 02:00 CET becomes 03:00 CEST. */
	expect_time("2026-03-29T01:59:59", &c, utc_ns(2026, 3, 29, 0, 59, 59, 0));
	expect_time("2026-03-29T03:00:00", &c, utc_ns(2026, 3, 29, 1, 0, 0, 0));
	expect_time("2026-03-29T03:30:00", &c, utc_ns(2026, 3, 29, 1, 30, 0, 0));
	expect_time("2026-03-28T12:00:00", &c, utc_ns(2026, 3, 28, 12, 0, 0, 3600));
	expect_time("2026-03-30T12:00:00", &c, utc_ns(2026, 3, 30, 12, 0, 0, 7200));
	/* 02:30 does not exist that night: read with the offset before the change (CET). */
	expect_time("2026-03-29T02:30:00", &c, utc_ns(2026, 3, 29, 1, 30, 0, 0));

	/* Fall back, Sunday 2026-10-25 at 01:00Z: 03:00 CEST becomes 02:00 CET. */
	expect_time("2026-10-25T01:30:00", &c, utc_ns(2026, 10, 24, 23, 30, 0, 0));
	expect_time("2026-10-25T03:30:00", &c, utc_ns(2026, 10, 25, 2, 30, 0, 0));
	/* 02:30 happens twice: the first one (CEST), stable whatever was parsed before. */
	expect_time("2026-10-25T02:30:00", &c, utc_ns(2026, 10, 25, 0, 30, 0, 0));
	expect_time("2026-10-25T03:30:00", &c, utc_ns(2026, 10, 25, 2, 30, 0, 0));
	expect_time("2026-10-25T02:30:00", &c, utc_ns(2026, 10, 25, 0, 30, 0, 0));
	expect_time("2026-10-25T02:59:59", &c, utc_ns(2026, 10, 25, 0, 59, 59, 0));
}

static void test_local_new_york(void **state)
{
	struct tt_time_ctx c = ctx_fixed(0);

	(void)state;
	set_tz(TZ_NEW_YORK);
	expect_time("2026-11-27T14:05:00", &c, utc_ns(2026, 11, 27, 14, 5, 0, -5 * 3600));
	expect_time("2026-07-04T12:00", &c, utc_ns(2026, 7, 4, 12, 0, 0, -4 * 3600));
	/* Summer time starts Sunday 2026-03-08 at 02:00 EST (07:00Z). */
	expect_time("2026-03-08T01:59:59", &c, utc_ns(2026, 3, 8, 6, 59, 59, 0));
	expect_time("2026-03-08T03:00:00", &c, utc_ns(2026, 3, 8, 7, 0, 0, 0));
	expect_time("2026-03-07", &c, utc_ns(2026, 3, 7, 5, 0, 0, 0));
}

static void test_local_berlin_tzdata(void **state)
{
	struct tt_time_ctx c = ctx_fixed(0);

	(void)state;
	if (access("/usr/share/zoneinfo/Europe/Berlin", R_OK)) {
		skip();
		return;
	}
	set_tz("Europe/Berlin");
	expect_time("2026-11-27T14:05:00", &c, utc_ns(2026, 11, 27, 14, 5, 0, 3600));
	expect_time("2026-07-01T12:00:00", &c, utc_ns(2026, 7, 1, 12, 0, 0, 7200));
	expect_time("2026-03-29T03:30:00", &c, utc_ns(2026, 3, 29, 1, 30, 0, 0));
	expect_time("2026-10-25T02:30:00", &c, utc_ns(2026, 10, 25, 0, 30, 0, 0));
}

static void test_clock_today(void **state)
{
	struct tt_time_ctx c = ctx_fixed(0);

	(void)state;
	/* Now is 2026-11-27 23:30Z: still the 27th in UTC, already the 28th in Berlin. */
	c.now_ns = utc_ns(2026, 11, 27, 23, 30, 0, 0);
	c.utc = 1;
	set_tz(TZ_BERLIN);
	expect_time("14:05", &c, utc_ns(2026, 11, 27, 14, 5, 0, 0));
	expect_time("14:05:30", &c, utc_ns(2026, 11, 27, 14, 5, 30, 0));
	expect_time("14:05:30.25", &c, utc_ns(2026, 11, 27, 14, 5, 30, 0) + S / 4);
	expect_time("00:00", &c, utc_ns(2026, 11, 27, 0, 0, 0, 0));
	expect_time("23:59:59", &c, utc_ns(2026, 11, 27, 23, 59, 59, 0));
	/* Later than now is still today, not yesterday. */
	expect_time("23:45", &c, utc_ns(2026, 11, 27, 23, 45, 0, 0));

	c.utc = 0;
	expect_time("14:05", &c, utc_ns(2026, 11, 28, 14, 5, 0, 3600));
	expect_time("14:05:30", &c, utc_ns(2026, 11, 28, 14, 5, 30, 3600));
	expect_time("00:00", &c, utc_ns(2026, 11, 28, 0, 0, 0, 3600));

	/* Summer: CEST, +02:00. */
	c.now_ns = utc_ns(2026, 7, 1, 10, 0, 0, 0);
	expect_time("14:05", &c, utc_ns(2026, 7, 1, 14, 5, 0, 7200));
	/* On the spring-forward day, a clock time after the change gets CEST. */
	c.now_ns = utc_ns(2026, 3, 29, 0, 30, 0, 0); /* 01:30 CET */
	expect_time("01:00", &c, utc_ns(2026, 3, 29, 1, 0, 0, 3600));
	expect_time("12:00", &c, utc_ns(2026, 3, 29, 12, 0, 0, 7200));

	set_tz("UTC");
	c.now_ns = utc_ns(2026, 11, 27, 23, 30, 0, 0);
	expect_time("14:05", &c, utc_ns(2026, 11, 27, 14, 5, 0, 0));
}

static void test_relative(void **state)
{
	struct tt_time_ctx c = ctx_fixed(0);

	(void)state;
	set_tz(TZ_BERLIN);
	expect_time("now", &c, c.now_ns);
	expect_time("end", &c, c.end_ns);
	expect_time("start", &c, c.start_ns);
	expect_time("-10m", &c, c.end_ns - 600 * S);
	expect_time("-90", &c, c.end_ns - 90 * S);
	expect_time("-1.5h", &c, c.end_ns - 5400 * S);
	expect_time("-250ms", &c, c.end_ns - 250000000);
	expect_time("now-1h", &c, c.now_ns - 3600 * S);
	expect_time("now-90m", &c, c.now_ns - 5400 * S);
	expect_time("now-1h30m", &c, c.now_ns - 5400 * S);
	expect_time("now-1d2h", &c, c.now_ns - 26 * 3600 * S);
	expect_time("now-2m30s", &c, c.now_ns - 150 * S);
	expect_time("now-1m500ms", &c, c.now_ns - 60 * S - 500000000);
	expect_time("now+90s", &c, c.now_ns + 90 * S);
	expect_time("now-0s", &c, c.now_ns);
	expect_time("end-30s", &c, c.end_ns - 30 * S);
	expect_time("end+1min", &c, c.end_ns + 60 * S);
	expect_time("start+5m", &c, c.start_ns + 300 * S);
	expect_time("start-1h", &c, c.start_ns - 3600 * S);
	/* ctx->utc and TZ play no part. */
	c.utc = 1;
	expect_time("end-30s", &c, c.end_ns - 30 * S);
	/* Exactly down to zero is fine. */
	c.start_ns = 3600 * S;
	expect_time("start-1h", &c, 0);
}

static void test_unix(void **state)
{
	struct tt_time_ctx c = ctx_fixed(0);

	(void)state;
	expect_time("@1764252300", &c, 1764252300ull * S);
	expect_time("@1764252300.5", &c, 1764252300ull * S + S / 2);
	expect_time("@1764252300.123456789", &c, 1764252300ull * S + 123456789);
	expect_time("@0", &c, 0);
	expect_time("@0.000000001", &c, 1);
	expect_time("@18446744073", &c, 18446744073ull * S);
	expect_time("@18446744073.709551615", &c, UINT64_MAX);
	/* The same instant as the ISO form. */
	expect_time("@1764252300", &c, utc_ns(2025, 11, 27, 14, 5, 0, 0));
}

static void test_malformed(void **state)
{
	static const char *const bad[] = {
		/* empty and words */
		"",
		" ",
		"abc",
		"-",
		"+",
		"+10m",
		"now-",
		"now+",
		"end+",
		"end-",
		"start-",
		"nowx",
		"now-1h ",
		" now",
		"now -1h",
		"now-1hour",
		"now--1h",
		"now-+1h",
		"now-1h30",
		"now-1e3s",
		"now-0x10",
		"now-inf",
		"now-nan",
		"now-.5h",
		"now-1.h",
		"now-h",
		"NOW",
		"today",
		"ends",
		"start+5m!",
		"-10mm",
		"-1h-1m",
		"-10 m",
		/* dates */
		"2026-13-01",
		"2026-00-10",
		"2026-02-30",
		"2026-02-29",
		"2100-02-29",
		"2026-04-31",
		"2026-11-00",
		"2026-11-32",
		"2026-1-01",
		"2026-11-1",
		"26-11-27",
		"2026/11/27",
		"20261127",
		"2026-11",
		"2026",
		"2026-11-27T",
		"2026-11-27 ",
		"2026-11-27Z",
		"2026-11-27+01:00",
		"2026-11-27X14:05",
		"2026-11-27T14",
		"2026-11-27T1405",
		"2026-11-27T14:05:",
		"2026-11-27T14:5",
		"2026-11-27T25:00",
		"2026-11-27T24:00",
		"2026-11-27T14:60",
		"2026-11-27T14:05:61",
		"2026-11-27T14:05:00.",
		"2026-11-27T14:05:00.1234567890",
		"2026-11-27T14:05:00,5",
		"2026-11-27T14:05.5",
		"2026-11-27T14:05:00 ",
		"2026-11-27T14:05:00Zjunk",
		"2026-11-27T14:05:00ZZ",
		"2026-11-27  14:05",
		"x2026-11-27",
		/* zones */
		"2026-11-27T14:05:00+25:00",
		"2026-11-27T14:05:00+24:00",
		"2026-11-27T14:05:00+01:60",
		"2026-11-27T14:05:00+1",
		"2026-11-27T14:05:00+01:",
		"2026-11-27T14:05:00+01:0",
		"2026-11-27T14:05:00+010",
		"2026-11-27T14:05:00+01000",
		"2026-11-27T14:05:00+",
		"2026-11-27T14:05:00 +01:00",
		"2026-11-27T14:05:00UTC",
		"2026-11-27T14:05:00CET",
		/* clock times */
		"25:00",
		"24:00",
		"14:60",
		"14:05:61",
		"14",
		"14:",
		"14:5",
		"1:05",
		"14:05:",
		"14:05Z",
		"14:05+01:00",
		"14:05 ",
		"14:05:30.",
		"14:05pm",
		/* Unix time */
		"@",
		"@-5",
		"@+5",
		"@ 5",
		"@5.",
		"@5.1234567890",
		"@5x",
		"@0x10",
		"@1e9",
		"@18446744074",
		"@18446744073.709551616",
		"@99999999999999999999",
		"@184467440737095516160",
		/* huge or negative */
		"99999-01-01",
		"10000-01-01T00:00:00Z",
		"2554-07-21T23:34:34Z",
		"2600-01-01",
		"9999-12-31T23:59:59Z",
		"1969-12-31T23:59:59Z",
		"1970-01-01T00:00:00+01:00",
		"0000-01-01",
		"end+200000d",
		"now+1000000000d",
		"end-100000d",
		"-100000d",
		"start-1000000h",
	};
	struct tt_time_ctx c = ctx_fixed(0);
	uint64_t t;
	size_t i;

	(void)state;
	set_tz(TZ_BERLIN);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_bad(bad[i], &c);
	c.utc = 1;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_bad(bad[i], &c);
	assert_int_equal(tt_parse_time(NULL, &c, &t), -EINVAL);
	assert_int_equal(tt_parse_time("now", NULL, &t), -EINVAL);
	assert_int_equal(tt_parse_time("now", &c, NULL), -EINVAL);
}

/* The window and the reason; want_why is a substring the reason must hold. */
static void expect_window(const char *from, const char *to, const char *last,
			  const struct tt_time_ctx *c, uint64_t want_from, uint64_t want_to)
{
	uint64_t f = 1, t = 2;
	char why[256] = "";
	int rc = tt_parse_window(from, to, last, c, &f, &t, why, sizeof(why));

	if (rc || f != want_from || t != want_to)
		fail_msg("window %s/%s/%s: rc %d (%s), got [%llu, %llu], want [%llu, %llu]",
			 from ? from : "-", to ? to : "-", last ? last : "-", rc, why,
			 (unsigned long long)f, (unsigned long long)t,
			 (unsigned long long)want_from, (unsigned long long)want_to);
}

static void expect_window_bad(const char *from, const char *to, const char *last,
			      const struct tt_time_ctx *c, const char *want_why)
{
	uint64_t f = 1, t = 2;
	char why[256] = "";
	int rc = tt_parse_window(from, to, last, c, &f, &t, why, sizeof(why));

	if (rc != -EINVAL || f != 1 || t != 2 || !strstr(why, want_why) || strchr(why, '\n'))
		fail_msg("window %s/%s/%s: rc %d, why '%s', want -EINVAL and '%s'",
			 from ? from : "-", to ? to : "-", last ? last : "-", rc, why, want_why);
}

static void test_window(void **state)
{
	struct tt_time_ctx c = ctx_fixed(1);
	uint64_t f = 1, t = 2;
	char tiny[8];

	(void)state;
	set_tz(TZ_BERLIN);
	/* Defaults: the whole recording. */
	expect_window(NULL, NULL, NULL, &c, c.start_ns, c.end_ns);
	expect_window("start+5m", NULL, NULL, &c, c.start_ns + 300 * S, c.end_ns);
	expect_window(NULL, "-10m", NULL, &c, c.start_ns, c.end_ns - 600 * S);
	expect_window("2026-11-27T13:15", "2026-11-27 13:45:30", NULL, &c,
		      utc_ns(2026, 11, 27, 13, 15, 0, 0), utc_ns(2026, 11, 27, 13, 45, 30, 0));
	/* Beyond the data is the caller's business, not an error. */
	expect_window("2026-11-27T12:00Z", "now", NULL, &c, utc_ns(2026, 11, 27, 12, 0, 0, 0),
		      c.now_ns);
	/* An instant is a window. */
	expect_window("end", "end", NULL, &c, c.end_ns, c.end_ns);
	/* --last counts back from --to, or from the end. */
	expect_window(NULL, NULL, "15m", &c, c.end_ns - 900 * S, c.end_ns);
	expect_window(NULL, NULL, "1h30m", &c, c.end_ns - 5400 * S, c.end_ns);
	expect_window(NULL, "now", "15m", &c, c.now_ns - 900 * S, c.now_ns);
	expect_window(NULL, "@1764252300", "1d", &c, (1764252300ull - 86400) * S,
		      1764252300ull * S);

	/* Refusals name the option. */
	expect_window_bad("abc", NULL, NULL, &c, "--from: 'abc' is not a time");
	expect_window_bad(NULL, "2026-13-01", NULL, &c, "--to: '2026-13-01' is not a time");
	expect_window_bad("", NULL, NULL, &c, "--from");
	expect_window_bad(NULL, NULL, "abc", &c, "--last: 'abc' is not a positive duration");
	expect_window_bad(NULL, NULL, "0s", &c, "--last");
	expect_window_bad(NULL, NULL, "-5m", &c, "--last");
	expect_window_bad(NULL, NULL, "", &c, "--last");
	expect_window_bad(NULL, NULL, "100000d", &c, "--last: '100000d' reaches back before 1970");
	expect_window_bad("start", NULL, "15m", &c, "--last cannot be combined with --from");
	expect_window_bad("end", "start", NULL, &c, "--from 'end' is after --to 'start'");
	expect_window_bad("now", NULL, NULL, &c, "--from 'now' is after the end");
	expect_window_bad(NULL, "start-1s", NULL, &c, "--to 'start-1s' is before the start");
	c.start_ns = c.end_ns + 1;
	expect_window_bad(NULL, NULL, NULL, &c, "start is after its end");
	c = ctx_fixed(1);

	/* why may be NULL or short; outputs stay untouched on error. */
	assert_int_equal(tt_parse_window("x", NULL, NULL, &c, &f, &t, NULL, 0), -EINVAL);
	assert_int_equal(tt_parse_window("x", NULL, NULL, &c, &f, &t, tiny, sizeof(tiny)), -EINVAL);
	assert_int_equal(strlen(tiny), sizeof(tiny) - 1);
	assert_int_equal(f, 1);
	assert_int_equal(t, 2);
	assert_int_equal(tt_parse_window(NULL, NULL, NULL, NULL, &f, &t, NULL, 0), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_iso_utc_forms),
		cmocka_unit_test(test_iso_zones),
		cmocka_unit_test(test_zone_less_under_utc),
		cmocka_unit_test(test_local_berlin),
		cmocka_unit_test(test_local_new_york),
		cmocka_unit_test(test_local_berlin_tzdata),
		cmocka_unit_test(test_clock_today),
		cmocka_unit_test(test_relative),
		cmocka_unit_test(test_unix),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_window),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
