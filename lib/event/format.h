/*
 * format.h: numbers, times and addresses as people read them, and lifecycle
 * events as JSON lines (rows, which need the aggregator, are rowjson.h's).
 * Shared by tcptop-record's outputs and tcptop-analyze, so both spell a field
 * the same way.
 */
#ifndef TT_FORMAT_H
#define TT_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "event.h"

/* 1023 B, 1.2 KiB, 340 MiB ... into buf (>= 16 bytes); returns buf. */
char *tt_fmt_bytes(char *buf, size_t len, uint64_t bytes);

/* A rate in bytes/s: "0 B/s", "1.2 MiB/s"; returns buf. */
char *tt_fmt_rate(char *buf, size_t len, double bps);

/* tt_fmt_time flags */
#define TT_TIME_MS   0x1 /* ".123" after the seconds */
#define TT_TIME_ZONE 0x2 /* " UTC" or the local zone's name at the end */

/* Unix ns as "2026-11-27 14:05:00" in local time (UTC with utc), with flags; returns buf. */
char *tt_fmt_time(char *buf, size_t len, uint64_t unix_ns, int utc, unsigned flags);

/* A duration: "850ms", "12.3s", "4m05s", "2h03m"; returns buf. */
char *tt_fmt_duration(char *buf, size_t len, uint64_t ns);

/* An address: dotted IPv4 for family 4 (v4-mapped), IPv6 otherwise, "*" for all-zero. */
char *tt_fmt_addr(char *buf, size_t len, const uint8_t addr[16], int family);

/* "10.0.0.1:443", "[2001:db8::1]:443", "*:53" into buf (>= 64 bytes); returns buf. */
char *tt_fmt_endpoint(char *buf, size_t len, const uint8_t addr[16], uint16_t port, int family);

/* "tcp" / "udp" / "?" */
const char *tt_proto_name(int proto);

/* Append the C string s as a JSON string: tt_esc_json (escape.h). */
void tt_json_str(struct tt_buf *b, const char *s);

/* "key":<Unix s>.<ms> for a CLOCK_MONOTONIC time; mono_to_wall_ns converts it. */
void tt_json_ts(struct tt_buf *b, const char *key, uint64_t mono_ns, int64_t mono_to_wall_ns);

/*
 * The keys that say which connection (proto, addresses, ports, owner,
 * cgroup, netns, flags), each after a comma: shared by rows (rowjson.h) and
 * events, so both spell a connection alike.
 */
void tt_json_conn(struct tt_buf *b, const struct tt_ev_conn *c);

/* TT_CLOSE_* as "normal", "failed", "reset", "idle"; "?" otherwise. */
const char *tt_close_reason_name(unsigned reason);

/*
 * A lifecycle event (STATE, RESET, CLOSE) as one JSON line: "event" names it,
 * conn (may be NULL) supplies the endpoint and owner keys. A LOSS that counts
 * anything (cumulative: ring_drops, socks_full, peers_full) is a line too, so
 * a stream says when its numbers are short. Other types: nothing.
 */
void tt_event_json(struct tt_buf *b, const struct tt_event *ev, const struct tt_ev_conn *conn,
		   int64_t mono_to_wall_ns);

#endif /* TT_FORMAT_H */
