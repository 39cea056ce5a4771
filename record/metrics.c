/*
 * metrics.c: see metrics.h. One small file a tick: written whole into a buffer
 * first, so the temporary file gets one write.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "metrics.h"

static void family(struct tt_buf *b, const char *name, const char *type, const char *unit,
		   const char *help)
{
	tt_buf_printf(b, "# TYPE %s %s\n", name, type);
	if (unit)
		tt_buf_printf(b, "# UNIT %s %s\n", name, unit);
	tt_buf_printf(b, "# HELP %s %s\n", name, help);
}

static void counter(struct tt_buf *b, const char *name, const char *help, uint64_t v)
{
	family(b, name, "counter", NULL, help);
	tt_buf_printf(b, "%s_total %" PRIu64 "\n", name, v);
}

static void gauge(struct tt_buf *b, const char *name, const char *help, uint64_t v)
{
	family(b, name, "gauge", NULL, help);
	tt_buf_printf(b, "%s %" PRIu64 "\n", name, v);
}

static void render(struct tt_buf *b, const struct rec_metrics *m)
{
	counter(b, "tcptop_ticks", "Ticks recorded since the start.", m->ticks);
	gauge(b, "tcptop_connections", "Connections in the last tick's table.", m->connections);
	gauge(b, "tcptop_kernel_sockets", "TCP connections in the in-kernel socket table.",
	      m->tcp_tracked);
	gauge(b, "tcptop_kernel_sockets_max", "Size of the in-kernel socket table (--max-sockets).",
	      m->socks_max);
	gauge(b, "tcptop_kernel_peers", "UDP flows in the in-kernel peer table.", m->flows);
	gauge(b, "tcptop_kernel_peers_max", "Size of the in-kernel peer table (--max-peers).",
	      m->flows_max);
	counter(b, "tcptop_ring_drops", "Lifecycle records the kernel could not queue.",
		m->ring_drops);
	counter(b, "tcptop_socket_table_full", "Sockets not tracked: the socket table was full.",
		m->socks_full);
	counter(b, "tcptop_peer_table_full", "UDP flows not tracked: the peer table was full.",
		m->peers_full);
	family(b, "tcptop_cpu_seconds", "counter", "seconds",
	       "CPU time of the recorder, user and system.");
	tt_buf_printf(b, "tcptop_cpu_seconds_total %.3f\n", m->cpu_seconds);
	family(b, "tcptop_start_time_seconds", "gauge", "seconds",
	       "When the recorder started, Unix time.");
	tt_buf_printf(b, "tcptop_start_time_seconds %.3f\n", m->start_time);
	if (m->have_store) {
		family(b, "tcptop_store_bytes", "gauge", "bytes", "Size of the store's files.");
		tt_buf_printf(b, "tcptop_store_bytes %" PRIu64 "\n", m->store_bytes);
		counter(b, "tcptop_blocks_written", "Blocks written to the store.", m->blocks);
		counter(b, "tcptop_unshipped_segments_removed",
			"Segments retention removed before every export destination had them.",
			m->unshipped);
		family(b, "tcptop_last_flush_timestamp_seconds", "gauge", "seconds",
		       "When the last block was written and indexed, Unix time (0: none yet).");
		tt_buf_printf(b, "tcptop_last_flush_timestamp_seconds %.3f\n", m->last_flush);
	}
	tt_buf_printf(b, "# EOF\n");
}

int rec_metrics_write(const char *path, const struct rec_metrics *m, char *why, size_t why_len)
{
	struct tt_buf b = { 0 };
	char tmp[4096];
	int fd = -1, err = 0;
	ssize_t w;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
		snprintf(why, why_len, "--metrics-file: path too long");
		return -ENAMETOOLONG;
	}
	render(&b, m);
	if (b.err) {
		err = b.err;
		snprintf(why, why_len, "--metrics-file: %s", strerror(-err));
		goto out;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	/* node_exporter runs as another user: the health is no secret */
	if (fd < 0 || fchmod(fd, 0644) < 0) {
		err = -errno;
		snprintf(why, why_len, "--metrics-file: %s: %s", tmp, strerror(errno));
		goto out;
	}
	w = write(fd, b.p, b.len);
	if (w < 0 || (size_t)w != b.len) {
		err = w < 0 ? -errno : -EIO;
		snprintf(why, why_len, "--metrics-file: writing %s: %s", tmp, strerror(-err));
		goto out;
	}
	if (close(fd) < 0) {
		fd = -1;
		err = -errno;
		snprintf(why, why_len, "--metrics-file: %s: %s", tmp, strerror(errno));
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		err = -errno;
		snprintf(why, why_len, "--metrics-file: rename to %s: %s", path, strerror(errno));
	}
out:
	if (fd >= 0)
		close(fd);
	if (err)
		unlink(tmp);
	tt_buf_free(&b);
	return err;
}

uint64_t rec_dir_bytes(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	uint64_t sum = 0;

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		struct stat st;

		if (!fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) && S_ISREG(st.st_mode))
			sum += (uint64_t)st.st_size;
	}
	closedir(d);
	return sum;
}
