/*
 * record_opts.h: tcptop-record's command line. Parsing never prints or exits:
 * it returns an error code and a message for main to print.
 */
#ifndef TT_RECORD_OPTS_H
#define TT_RECORD_OPTS_H

#include <stddef.h>
#include <stdint.h>

#include "aggregator.h"
#include "filter.h"

enum rec_output {
	REC_OUT_AUTO = 0, /* live view on a terminal, text tables otherwise */
	REC_OUT_LIVE,
	REC_OUT_TEXT,
	REC_OUT_JSON,
	REC_OUT_NONE, /* record only: a service writes nothing to stdout */
};

/* Every store is bounded unless told otherwise (--retain-size 0): a recorder left running fills no
 * disk. */
#define REC_DEFAULT_RETAIN_BYTES (1ull << 30)

struct rec_opts {
	uint64_t interval_ns;
	uint64_t duration_ns; /* 0 = until a signal */
	uint64_t udp_idle_ns;
	uint32_t socks_max;
	uint32_t peers_max;
	uint32_t ring_bytes; /* lifecycle ring buffer, a power of two >= 4K */
	enum rec_output output;
	enum tt_sort_key sort;
	unsigned top; /* 0 = all that fit */
	int events; /* JSON: also one line per state change, reset and close */
	int utc;
	int verbose;
	int help; /* --help: print usage, exit 0 */
	int version;
	struct tt_filter filter;
	/* the store (tcptop-record -o DIR) */
	const char *store_dir; /* NULL with --no-store */
	uint64_t flush_ns;
	uint64_t keyframe_ns; /* a keyframe block this often: a multiple of flush_ns */
	uint64_t segment_ns;
	uint64_t segment_bytes;
	uint64_t retain_ns;
	uint64_t retain_bytes; /* 0: no size limit */
	uint64_t bucket_ns;
	const char *group; /* share the store with this group (0750/0640), NULL: private */
	const char *ship_url; /* --ship: ClickHouse URL to ship the store to, NULL: none */
	const char *metrics_file; /* --metrics-file: health in OpenMetrics each tick, NULL: none */
	const char *user; /* --user: run as this user once attached, NULL: stay as started */
};

/* Parse argv into o (defaults first). 0 on success; 2 (usage) with msg set otherwise. */
int rec_opts_parse(int argc, char **argv, struct rec_opts *o, char *msg, size_t msg_len);

/* The --help text. */
const char *rec_opts_usage(void);

#endif /* TT_RECORD_OPTS_H */
