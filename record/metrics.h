/*
 * metrics.h: tcptop-record --metrics-file: the recorder's health in the
 * OpenMetrics text format, for node_exporter's textfile collector. Never
 * prints or exits.
 */
#ifndef TT_RECORD_METRICS_H
#define TT_RECORD_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct rec_metrics {
	uint64_t ticks; /* since the start */
	uint64_t connections; /* in the last tick's table */
	uint64_t tcp_tracked, socks_max; /* the kernel's socket table: used, size */
	uint64_t flows, flows_max; /* the kernel's UDP peer table */
	uint64_t ring_drops, socks_full, peers_full; /* losses, cumulative */
	double cpu_seconds; /* user + system, this process */
	int have_store;
	uint64_t store_bytes; /* the store's files */
	uint64_t blocks; /* blocks written */
	uint64_t unshipped; /* segments retention removed before export got them */
	double last_flush; /* Unix time of the last block written, 0: none yet */
	double start_time; /* Unix time the recorder started */
};

/*
 * Write m to path: to a temporary file in the same directory, then renamed
 * over path, so a reader sees the old file or the new one, never half of one.
 * 0 or a negative errno with the reason in why.
 */
int rec_metrics_write(const char *path, const struct rec_metrics *m, char *why, size_t why_len);

/* The size of the regular files in dir (a store), 0 if unreadable. */
uint64_t rec_dir_bytes(const char *dir);

#endif /* TT_RECORD_METRICS_H */
