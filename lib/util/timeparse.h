/*
 * timeparse.h: durations, sizes and points in time as people type them.
 *
 * Everything here is pure parsing: no global state of its own, no printing, no
 * allocation. The only outside input is the process's time zone (TZ), read
 * through mktime()/localtime_r() for times written without a zone.
 * docs/TIME.md has the same forms with more examples.
 */
#ifndef TT_TIMEPARSE_H
#define TT_TIMEPARSE_H

#include <stddef.h>
#include <stdint.h>

/*
 * "1.5", "250ms", "10s", "5m", "2h", "1d" (a bare number is seconds) into
 * nanoseconds. 0, or -EINVAL for anything else (empty, negative, junk after
 * the unit, overflow).
 */
int tt_parse_duration(const char *s, uint64_t *ns);

/*
 * "4096", "512K", "256M", "1.5G", "2T" (powers of 1024; "KiB"/"MiB"/"GiB"/"TiB"
 * and a trailing "B" accepted) into bytes. 0, or -EINVAL.
 */
int tt_parse_size(const char *s, uint64_t *bytes);

/* What the words in a time mean: the caller's clock and the data at hand. */
struct tt_time_ctx {
	uint64_t now_ns; /* Unix ns: "now", and the day a clock time ("14:05") falls on */
	uint64_t start_ns; /* Unix ns: the recording's (or the stores') start: "start" */
	uint64_t end_ns; /* Unix ns: its end: "end" and a bare "-10m" */
	int utc; /* nonzero: zone-less dates and clock times are UTC, not local time */
};

/*
 * One point in time into Unix nanoseconds. The accepted forms, all of them
 * whole-string (no leading or trailing blanks, nothing after the form):
 *
 *   ISO 8601 / RFC 3339 date and time
 *     2026-11-27T14:05:00          local time (UTC if ctx->utc)
 *     2026-11-27 14:05:00          a space instead of the T (also a lowercase t)
 *     2026-11-27T14:05             seconds may be left out
 *     2026-11-27T14:05:00.123      1 to 9 fractional digits after the seconds
 *     2026-11-27T14:05:00Z         with a zone: Z (or z), +01:00, +0100, +01,
 *     2026-11-27T14:05:00-05:30    -05:00, -0530 ... (hours 00-23, minutes 00-59)
 *     2026-11-27                   a date alone is midnight starting it (local
 *                                  or UTC as above; no zone after a bare date)
 *   Clock time today
 *     14:05, 14:05:30, 14:05:30.5  on the day ctx->now_ns falls on, in local time
 *                                  (UTC if ctx->utc); no zone suffix
 *   Relative
 *     now, end, start              ctx->now_ns, ctx->end_ns, ctx->start_ns
 *     now-1h, end-30s, start+5m    the anchor plus or minus a duration
 *     -10m                         end minus 10 minutes (a bare "+10m" is refused:
 *                                  write start+10m or now+10m)
 *   Unix time
 *     @1764252300                  seconds since 1970-01-01T00:00:00Z
 *     @1764252300.5                with 1 to 9 fractional digits
 *
 * A duration after an anchor (and in --last) is what tt_parse_duration reads
 * ("90m", "1.5h", "250ms", "45" = seconds) or several of those with units run
 * together and added up: "1h30m", "1d2h", "2m30s".
 *
 * Ranges are checked, never normalised: month 01-12, a day the month has
 * (leap years included), hour 00-23, minute 00-59, second 00-60; second 60 (a
 * leap second) is the first second of the next minute, as POSIX time has no
 * leap seconds. Years have exactly four digits.
 *
 * A local wall time that a clock change makes ambiguous (the repeated hour in
 * autumn) is its first occurrence; one the change skips (02:30 on a spring-
 * forward night) is read with the offset in force before it, so 02:30 in
 * Berlin on 2026-03-29 is 01:30Z (shown as 03:30 CEST).
 *
 * 0 and *unix_ns set, or -EINVAL (*unix_ns untouched) for NULL arguments,
 * anything malformed, out of range, a result before 1970 or past what
 * uint64_t nanoseconds hold (2554-07-21), or arithmetic that overflows.
 */
int tt_parse_time(const char *s, const struct tt_time_ctx *ctx, uint64_t *unix_ns);

/*
 * --from / --to / --last into an inclusive window [*from_ns, *to_ns] (Unix ns).
 * Any of the three strings may be NULL: from defaults to ctx->start_ns, to to
 * ctx->end_ns; last (a positive duration as above, e.g. "15m") makes the window
 * [to - last, to] and cannot be combined with from. from == to is allowed.
 *
 * 0 with both outputs set, or -EINVAL (outputs untouched) with a one-line
 * reason in why (naming the option, no trailing newline, truncated to why_len;
 * why may be NULL): an option that does not parse, from after to, last with
 * from, last reaching before 1970.
 */
int tt_parse_window(const char *from, const char *to, const char *last,
		    const struct tt_time_ctx *ctx, uint64_t *from_ns, uint64_t *to_ns, char *why,
		    size_t why_len);

/*
 * The clock boundary at or before unix_ns for buckets of step_ns: a multiple of
 * step_ns counted from midnight, 1970-01-01, local time (UTC with utc), so
 * 1m buckets start on the minute, 1h on the hour and 1d at midnight (PCP's -A).
 * step_ns 0: unix_ns.
 */
uint64_t tt_time_align(uint64_t unix_ns, uint64_t step_ns, int utc);

#endif /* TT_TIMEPARSE_H */
