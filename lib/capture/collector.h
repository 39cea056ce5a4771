/*
 * collector.h: the live event source. Loads bpf/capture.bpf.c, attaches it,
 * and turns ring-buffer lifecycle records and per-tick reads of the counter
 * maps into the event stream of event.h, ending each tick with TT_EV_TICK.
 *
 * Workload: one tick per interval; a tick costs one batched read of each
 * counter map (O(sockets)) plus whatever lifecycle events arrived.
 */
#ifndef TT_COLLECTOR_H
#define TT_COLLECTOR_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "source.h"

struct tt_collector;

/* Log sink for libbpf and for degraded-feature warnings; level 0 warn, 1 info, 2 debug. */
typedef void (*tt_log_fn)(int level, const char *msg, void *ctx);

struct tt_collector_opts {
	uint64_t interval_ns; /* tick length */
	uint64_t udp_idle_ns; /* a UDP flow idle this long is closed */
	uint32_t socks_max; /* counter map sizes */
	uint32_t peers_max;
	uint32_t ringbuf_bytes; /* power of two, >= page size */
	const volatile sig_atomic_t
		*stop; /* when it becomes non-zero, the stream ends after a last tick */
	tt_log_fn log; /* may be NULL */
	void *log_ctx;
	/*
	 * Optional: while waiting for the next tick, wake_fd (a terminal's keys)
	 * is polled with the ring buffer, and wake(wake_ctx) is called when it is
	 * readable or a signal interrupted the wait (SIGWINCH), so a live view
	 * answers at once without ever delaying a tick. wake runs inside
	 * tt_source_next, between ticks; it must not block. NULL: none.
	 */
	void (*wake)(void *ctx);
	void *wake_ctx;
	int wake_fd;
};

/* Defaults: 1 s ticks, 5 s UDP idle, 65536 sockets, 16384 peers, 32 MiB ring. */
void tt_collector_opts_default(struct tt_collector_opts *o);

/*
 * Load, attach and discover existing sockets. On success *out is the
 * collector and 0 is returned; on failure a negative errno and a one-line
 * reason in why (-EPERM: privileges, -ENOTSUP: kernel feature missing).
 */
int tt_collector_open(const struct tt_collector_opts *o, struct tt_collector **out, char *why,
		      size_t why_len);

/* The collector as an event source; owned by the collector. */
struct tt_source *tt_collector_source(struct tt_collector *c);

/* Wall-clock time (ns since the epoch) of CLOCK_MONOTONIC 0, measured at open. */
int64_t tt_collector_mono_to_wall(const struct tt_collector *c);

/*
 * What this capture runs without (a missing capability, hook or mount), as one
 * line of "; "-separated reasons, "" when nothing; owned by the collector.
 * Each was also passed to the log callback when it was found.
 */
const char *tt_collector_limits(const struct tt_collector *c);

/*
 * The caller is about to give up its privileges: from now on no walk steps
 * into another namespace (that needs CAP_SYS_ADMIN, and CAP_SYS_PTRACE to
 * open another user's /proc/PID/ns/net). Everything else a tick does works on
 * file descriptors opened at start and needs no capability. Recorded as a
 * capture limit.
 */
void tt_collector_end_discovery(struct tt_collector *c);

/* What the recorder's health metrics need to know of the capture. */
struct tt_collector_health {
	uint64_t tcp_tracked; /* TCP connections followed: one socket-table entry each */
	uint64_t socks_max; /* the socket table's size */
	uint64_t flows; /* UDP peer-table entries at the last read */
	uint64_t flows_max;
};

void tt_collector_health(const struct tt_collector *c, struct tt_collector_health *h);

/* Whether UDP is counted (cgroup_skb attached). */
int tt_collector_udp_peers(const struct tt_collector *c);

/* Detach and free; NULL is a no-op. */
void tt_collector_close(struct tt_collector *c);

#endif /* TT_COLLECTOR_H */
