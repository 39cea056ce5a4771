// SPDX-License-Identifier: GPL-2.0
/*
 * churn.c: many short TCP connections on loopback at a paced rate, counted
 * exactly, for tests/bench/bench_churn.sh (does the recorder see every
 * connection that opens and closes between two ticks?).
 *
 * One cycle: connect, accept, the client writes BYTES, the server reads them and
 * writes BYTES back, the client reads them and closes, the server reads the EOF
 * and closes. A cycle is "completed" only when every step moved exactly what it
 * should; anything else is "failed", by step.
 *
 * Every connection has its own 4-tuple within a run, so that a recording can
 * count distinct connections by address: connection i (from 0) goes from
 * 127.1.X.Y:(10000 + i % 50000), X.Y = 1 + i / 50000, to 127.2.0.1 (one
 * listening port per thread, chosen by the kernel). Thread t of T runs
 * connections t, t + T, t + 2T ... at RATE / T per second.
 *
 * Prints one JSON object on stdout at the end (also after SIGINT/SIGTERM, for
 * what was done until then), with the process's own CPU: the kernel's work for
 * the connections, BPF programs on their hooks included, is mostly in it. Exit 0 when the run
 * ended, 1 on a setup failure, 2 on bad usage.
 */
#define _GNU_SOURCE /* accept4 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PROG	       "churn"
#define PORT_BASE      10000
#define PORTS_PER_ADDR 50000
#define MAX_THREADS    16
#define MAX_BYTES      65536

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

enum step {
	S_SOCKET,
	S_BIND,
	S_CONNECT,
	S_ACCEPT,
	S_CWRITE,
	S_SREAD,
	S_SWRITE,
	S_CREAD,
	S_EOF,
	S_NSTEPS
};

static const char *const step_names[S_NSTEPS] = {
	[S_SOCKET] = "socket",	     [S_BIND] = "bind",		  [S_CONNECT] = "connect",
	[S_ACCEPT] = "accept",	     [S_CWRITE] = "client_write", [S_SREAD] = "server_read",
	[S_SWRITE] = "server_write", [S_CREAD] = "client_read",	  [S_EOF] = "server_eof",
};

struct opts {
	double rate; /* connections per second, all threads together */
	double seconds;
	unsigned bytes; /* each way */
	unsigned threads;
};

struct worker {
	const struct opts *o;
	unsigned idx;
	int lfd;
	struct sockaddr_in srv;
	pthread_t tid;
	/* results */
	uint64_t attempted, completed;
	uint64_t failed[S_NSTEPS];
	int first_errno[S_NSTEPS];
	uint64_t bytes_c2s, bytes_s2c; /* moved by completed and failed cycles alike */
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_s(double s)
{
	struct timespec ts = { .tv_sec = (time_t)s,
			       .tv_nsec = (long)((s - (double)(time_t)s) * 1e9) };

	nanosleep(&ts, NULL);
}

/* Read exactly n bytes unless EOF or an error comes first; the count read. */
static ssize_t read_full(int fd, char *p, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, p + got, n - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return got ? (ssize_t)got : r;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

static ssize_t write_full(int fd, const char *p, size_t n)
{
	size_t done = 0;

	while (done < n) {
		ssize_t w = write(fd, p + done, n - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return done ? (ssize_t)done : w;
		done += (size_t)w;
	}
	return (ssize_t)done;
}

static void fail(struct worker *w, enum step s, int e)
{
	if (!w->failed[s])
		w->first_errno[s] = e;
	w->failed[s]++;
}

/* One connection's whole life; 0 when completed. */
static int cycle(struct worker *w, uint64_t i, char *buf)
{
	const struct timeval tmo = { .tv_sec = 2 };
	struct sockaddr_in from = { .sin_family = AF_INET };
	uint64_t a = 1 + i / PORTS_PER_ADDR;
	int one = 1, c, s = -1, ret = -1;
	size_t n = w->o->bytes;
	ssize_t r;

	from.sin_addr.s_addr = htonl((127u << 24) | (1u << 16) | (uint32_t)(a & 0xffff));
	from.sin_port = htons((uint16_t)(PORT_BASE + i % PORTS_PER_ADDR));
	c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c < 0) {
		fail(w, S_SOCKET, errno);
		return -1;
	}
	/* a TIME_WAIT left on this address and port by an earlier run must not stop us */
	setsockopt(c, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo));
	setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tmo, sizeof(tmo));
	if (bind(c, (struct sockaddr *)&from, sizeof(from))) {
		fail(w, S_BIND, errno);
		goto out;
	}
	if (connect(c, (struct sockaddr *)&w->srv, sizeof(w->srv))) {
		fail(w, S_CONNECT, errno);
		goto out;
	}
	s = accept4(w->lfd, NULL, NULL, SOCK_CLOEXEC);
	if (s < 0) {
		fail(w, S_ACCEPT, errno);
		goto out;
	}
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo));
	setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tmo, sizeof(tmo));
	if (n) {
		r = write_full(c, buf, n);
		if (r > 0)
			w->bytes_c2s += (uint64_t)r;
		if (r != (ssize_t)n) {
			fail(w, S_CWRITE, r < 0 ? errno : 0);
			goto out;
		}
		r = read_full(s, buf, n);
		if (r != (ssize_t)n) {
			fail(w, S_SREAD, r < 0 ? errno : 0);
			goto out;
		}
		r = write_full(s, buf, n);
		if (r > 0)
			w->bytes_s2c += (uint64_t)r;
		if (r != (ssize_t)n) {
			fail(w, S_SWRITE, r < 0 ? errno : 0);
			goto out;
		}
		r = read_full(c, buf, n);
		if (r != (ssize_t)n) {
			fail(w, S_CREAD, r < 0 ? errno : 0);
			goto out;
		}
	}
	close(c);
	c = -1;
	/* the server closes after the client's FIN: the ordinary active/passive close */
	r = read(s, buf, 1);
	if (r != 0) {
		fail(w, S_EOF, r < 0 ? errno : 0);
		goto out;
	}
	ret = 0;
out:
	if (c >= 0)
		close(c);
	if (s >= 0)
		close(s);
	return ret;
}

static void *run(void *arg)
{
	struct worker *w = arg;
	const struct opts *o = w->o;
	double rate = o->rate / o->threads, t0, el;
	uint64_t k = 0, total = (uint64_t)(o->rate * o->seconds);
	char buf[MAX_BYTES];

	memset(buf, 'x', sizeof(buf));
	t0 = now_s();
	while (!stop) {
		uint64_t i = (uint64_t)k * o->threads + w->idx;

		if (i >= total)
			break;
		el = now_s() - t0;
		/* paced: connection k of this thread starts no earlier than k / rate */
		if ((double)k > el * rate) {
			sleep_s((double)k / rate - el);
			continue;
		}
		w->attempted++;
		if (!cycle(w, i, buf))
			w->completed++;
		k++;
	}
	return NULL;
}

/* The ports, written under a temporary name and renamed: a reader sees all or nothing. */
static int write_ports(const char *path, const struct worker *w, unsigned n)
{
	char tmp[4096];
	unsigned t;
	FILE *f;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	f = fopen(tmp, "w");
	if (!f)
		return -1;
	for (t = 0; t < n; t++)
		fprintf(f, "%s%u", t ? " " : "", ntohs(w[t].srv.sin_port));
	fprintf(f, "\n");
	if (fclose(f))
		return -1;
	return rename(tmp, path);
}

static int parse_num(const char *s, double lo, double hi, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= lo && v <= hi))
		return -EINVAL;
	*out = v;
	return 0;
}

static void usage(FILE *f, const char *argv0)
{
	fprintf(f,
		"Usage: %s [-r RATE] [-d SECONDS] [-b BYTES] [-j THREADS] [-P FILE]\n"
		"Open, use and close RATE TCP connections per second (default 10000) on\n"
		"loopback for SECONDS (default 30), BYTES each way (default 100), from\n"
		"THREADS threads (default 1). Prints one JSON object with exact counts.\n"
		"-P FILE: write the listening ports there (one line, space-separated)\n"
		"before the first connection.\n",
		argv0);
}

int main(int argc, char **argv)
{
	struct opts o = { .rate = 10000, .seconds = 30, .bytes = 100, .threads = 1 };
	struct worker w[MAX_THREADS];
	struct sigaction sa;
	uint64_t att = 0, done = 0, c2s = 0, s2c = 0, failed[S_NSTEPS] = { 0 };
	int first_errno[S_NSTEPS] = { 0 };
	const char *ports_file = NULL;
	struct rusage ru;
	double t0, el, v;
	unsigned t, s;
	int ch, nfail;

	while ((ch = getopt(argc, argv, "r:d:b:j:P:h")) != -1) {
		switch (ch) {
		case 'r':
			if (parse_num(optarg, 1, 1e6, &o.rate))
				goto bad;
			break;
		case 'd':
			if (parse_num(optarg, 0.1, 86400, &o.seconds))
				goto bad;
			break;
		case 'b':
			if (parse_num(optarg, 0, MAX_BYTES, &v))
				goto bad;
			o.bytes = (unsigned)v;
			break;
		case 'j':
			if (parse_num(optarg, 1, MAX_THREADS, &v))
				goto bad;
			o.threads = (unsigned)v;
			break;
		case 'P':
			ports_file = optarg;
			break;
		case 'h':
			usage(stdout, argv[0]);
			return 0;
		default:
			goto bad;
		}
	}
	if (optind != argc)
		goto bad;
	/* 65,535 client addresses of 50,000 ports each */
	if (o.rate * o.seconds > 65535.0 * PORTS_PER_ADDR) {
		fprintf(stderr,
			PROG ": RATE * SECONDS: too many connections for unique 4-tuples\n");
		return 2;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	memset(w, 0, sizeof(w));
	for (t = 0; t < o.threads; t++) {
		socklen_t len = sizeof(w[t].srv);

		w[t].o = &o;
		w[t].idx = t;
		w[t].srv.sin_family = AF_INET;
		w[t].srv.sin_addr.s_addr = htonl((127u << 24) | (2u << 16) | 1u);
		w[t].lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (w[t].lfd < 0 ||
		    bind(w[t].lfd, (struct sockaddr *)&w[t].srv, sizeof(w[t].srv)) ||
		    listen(w[t].lfd, 4096) ||
		    getsockname(w[t].lfd, (struct sockaddr *)&w[t].srv, &len)) {
			fprintf(stderr, PROG ": listener on 127.2.0.1: %s\n", strerror(errno));
			return 1;
		}
	}
	if (ports_file && write_ports(ports_file, w, o.threads)) {
		fprintf(stderr, PROG ": %s: %s\n", ports_file, strerror(errno));
		return 1;
	}
	t0 = now_s();
	for (t = 0; t < o.threads; t++)
		if (pthread_create(&w[t].tid, NULL, run, &w[t])) {
			fprintf(stderr, PROG ": pthread_create failed\n");
			stop = 1;
			o.threads = t;
			break;
		}
	for (t = 0; t < o.threads; t++)
		pthread_join(w[t].tid, NULL);
	el = now_s() - t0;

	for (t = 0; t < o.threads; t++) {
		att += w[t].attempted;
		done += w[t].completed;
		c2s += w[t].bytes_c2s;
		s2c += w[t].bytes_s2c;
		for (s = 0; s < S_NSTEPS; s++) {
			if (w[t].failed[s] && !failed[s])
				first_errno[s] = w[t].first_errno[s];
			failed[s] += w[t].failed[s];
		}
	}
	printf("{\"target_rate\":%.0f,\"target_seconds\":%.1f,\"threads\":%u,\"bytes_each_way\":%u,"
	       "\"attempted\":%llu,\"completed\":%llu,\"failed\":%llu,"
	       "\"bytes_client_to_server\":%llu,\"bytes_server_to_client\":%llu,"
	       "\"elapsed_s\":%.3f,\"rate\":%.1f,\"interrupted\":%s,"
	       "\"client_addrs\":\"127.1.0.1-127.1.%llu.%llu\",\"server_addr\":\"127.2.0.1\","
	       "\"server_ports\":[",
	       o.rate, o.seconds, o.threads, o.bytes, (unsigned long long)att,
	       (unsigned long long)done, (unsigned long long)(att - done), (unsigned long long)c2s,
	       (unsigned long long)s2c, el, el > 0 ? (double)done / el : 0.0,
	       stop ? "true" : "false",
	       (unsigned long long)((1 + (att ? att - 1 : 0) / PORTS_PER_ADDR) >> 8),
	       (unsigned long long)((1 + (att ? att - 1 : 0) / PORTS_PER_ADDR) & 0xff));
	for (t = 0; t < o.threads; t++)
		printf("%s%u", t ? "," : "", ntohs(w[t].srv.sin_port));
	printf("],\"failed_by_step\":{");
	for (s = 0, nfail = 0; s < S_NSTEPS; s++)
		if (failed[s])
			printf("%s\"%s\":{\"count\":%llu,\"first_error\":\"%s\"}",
			       nfail++ ? "," : "", step_names[s], (unsigned long long)failed[s],
			       first_errno[s] ? strerror(first_errno[s])
					      : "short transfer or no EOF");
	getrusage(RUSAGE_SELF, &ru);
	printf("},\"cpu_user_s\":%.3f,\"cpu_sys_s\":%.3f}\n",
	       (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6,
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6);
	return 0;
bad:
	usage(stderr, argv[0]);
	return 2;
}
