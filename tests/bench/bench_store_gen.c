// SPDX-License-Identifier: GPL-2.0
/*
 * bench_store_gen: loopback TCP workloads for tests/bench/bench_store.sh.
 * One process, one thread, one epoll loop: the listener, the server ends and
 * the client ends all live here, so its CPU time is the whole generator's.
 *
 *   bulk   N connections (default 4) streaming client -> server, each paced
 *          to RATE bytes/s (default 8 MiB/s) in CHUNK-byte writes
 *   idle   N connections (default 1000) held open; each sends SIZE bytes
 *          (default 100) every PERIOD seconds (default 10) at a random phase
 *   churn  RATE connections per second (default 300): connect, write SIZE
 *          bytes (default 300), close; the server reads to EOF and closes.
 *          At most 2000 in flight; what does not fit is counted as skipped.
 *
 * It listens on 127.0.0.1 (port 0: the kernel picks), sets up (idle and bulk:
 * all connections established), prints "ready port=P" on stdout and runs until
 * SIGINT/SIGTERM or -d SECONDS. At the end it prints one line of counters on
 * stdout. Churn clients bind to 127.0.1.1..127.0.1.64 with
 * IP_BIND_ADDRESS_NO_PORT, so ephemeral ports are never exhausted.
 *
 * Build: cc -O2 -o bench_store_gen bench_store_gen.c
 * Exit: 0 done, 1 runtime error, 2 bad usage.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

#define TICK_NS		   10000000ull /* pacing timer: 10 ms */
#define CHURN_MAX_INFLIGHT 2000
#define CHURN_SOURCES	   64

enum mode { M_BULK, M_IDLE, M_CHURN };
enum role { R_LISTEN = 1, R_TIMER, R_SERVER, R_CLIENT };

struct ep {
	int fd;
	int role;
	int connected;
	uint64_t next_ns; /* idle: next send */
	uint64_t credit; /* bulk: bytes allowed but not written yet */
	uint32_t sent; /* churn: bytes of the message written so far */
	struct ep *next_free;
};

static volatile sig_atomic_t stop;
static int epfd;
static enum mode mode;
static unsigned nconn, size_b, period_s;
static double rate;
static unsigned chunk = 65536;
static struct ep *free_eps;
static char *buf;
static size_t buflen;

static struct {
	uint64_t bytes_sent, bytes_recv, sends, opened, accepted, closed, skipped, errors;
	unsigned inflight;
} st;

static void on_sig(int s)
{
	(void)s;
	stop = 1;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "bench_store_gen: %s: %s\n", what, strerror(errno));
	exit(1);
}

static struct ep *ep_new(int fd, int role)
{
	struct ep *e = free_eps;

	if (e)
		free_eps = e->next_free;
	else if (!(e = malloc(sizeof(*e))))
		die("malloc");
	memset(e, 0, sizeof(*e));
	e->fd = fd;
	e->role = role;
	return e;
}

static void ep_add(struct ep *e, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = e };

	if (epoll_ctl(epfd, EPOLL_CTL_ADD, e->fd, &ev))
		die("epoll_ctl add");
}

static void ep_mod(struct ep *e, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = e };

	epoll_ctl(epfd, EPOLL_CTL_MOD, e->fd, &ev);
}

static void ep_close(struct ep *e)
{
	close(e->fd); /* also leaves the epoll set */
	e->fd = -1;
	e->next_free = free_eps;
	free_eps = e;
	st.closed++;
}

static int listen_on(unsigned short port, unsigned short *bound)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	socklen_t alen = sizeof(a);
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 4096))
		die("bind/listen on 127.0.0.1");
	if (getsockname(fd, (struct sockaddr *)&a, &alen))
		die("getsockname");
	*bound = ntohs(a.sin_port);
	return fd;
}

/* A non-blocking connect to 127.0.0.1:port; churn binds a rotating source address. */
static int connect_to(unsigned short port, int rotate)
{
	static unsigned src;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (rotate) {
		struct sockaddr_in s = { .sin_family = AF_INET };

		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
		s.sin_addr.s_addr = htonl(0x7f000101u + (src++ % CHURN_SOURCES)); /* 127.0.1.x */
		if (bind(fd, (struct sockaddr *)&s, sizeof(s))) {
			close(fd);
			return -1;
		}
	}
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) && errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	return fd;
}

static void accept_all(int lfd)
{
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				st.errors++;
			return;
		}
		ep_add(ep_new(fd, R_SERVER), EPOLLIN | EPOLLRDHUP);
		st.accepted++;
	}
}

/* Server end: drain; at EOF (churn: the client closed) close too. */
static void server_read(struct ep *e)
{
	for (;;) {
		ssize_t n = read(e->fd, buf, buflen);

		if (n > 0) {
			st.bytes_recv += (uint64_t)n;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n < 0)
			st.errors++;
		ep_close(e);
		return;
	}
}

static int write_some(struct ep *e, size_t want)
{
	ssize_t n = write(e->fd, buf, want);

	if (n > 0) {
		st.bytes_sent += (uint64_t)n;
		st.sends++;
		return (int)n;
	}
	if (n < 0 && errno != EAGAIN && errno != EINTR)
		return -1;
	return 0;
}

/* bulk: write the credit, up to what the socket takes. */
static void bulk_write(struct ep *e)
{
	while (e->credit) {
		size_t want = e->credit < chunk ? e->credit : chunk;
		int n = write_some(e, want);

		if (n < 0) {
			st.errors++;
			return;
		}
		if (n == 0) {
			ep_mod(e, EPOLLOUT); /* full: wait for room */
			return;
		}
		e->credit -= (uint64_t)n;
	}
	ep_mod(e, 0);
}

/* churn: once connected, write the message and close. */
static void churn_client(struct ep *e, uint32_t events)
{
	if (events & (EPOLLERR | EPOLLHUP)) {
		st.errors++;
		goto done;
	}
	while (e->sent < size_b) {
		int n = write_some(e, size_b - e->sent);

		if (n < 0) {
			st.errors++;
			goto done;
		}
		if (n == 0)
			return;
		e->sent += (uint32_t)n;
	}
done:
	st.inflight--;
	ep_close(e);
}

int main(int argc, char **argv)
{
	struct ep **conns = NULL;
	unsigned short port = 0;
	double duration = 0, churn_acc = 0;
	uint64_t t0, tend = 0, tlast;
	struct itimerspec its = { .it_interval = { 0, TICK_NS }, .it_value = { 0, TICK_NS } };
	struct epoll_event evs[256];
	struct sigaction sa = { .sa_handler = on_sig };
	struct rlimit rl;
	unsigned i, seed = 0;
	int opt, lfd, tfd;

	if (argc < 2)
		goto usage;
	if (!strcmp(argv[1], "bulk")) {
		mode = M_BULK;
		nconn = 4;
		rate = 8 << 20;
	} else if (!strcmp(argv[1], "idle")) {
		mode = M_IDLE;
		nconn = 1000;
		size_b = 100;
		period_s = 10;
	} else if (!strcmp(argv[1], "churn")) {
		mode = M_CHURN;
		rate = 300;
		size_b = 300;
	} else {
		goto usage;
	}
	optind = 2;
	while ((opt = getopt(argc, argv, "n:r:s:P:c:d:p:S:")) != -1) {
		switch (opt) {
		case 'n':
			nconn = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'r':
			rate = strtod(optarg, NULL);
			break;
		case 's':
			size_b = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'P':
			period_s = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'c':
			chunk = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'd':
			duration = strtod(optarg, NULL);
			break;
		case 'p':
			port = (unsigned short)strtoul(optarg, NULL, 10);
			break;
		case 'S':
			seed = (unsigned)strtoul(optarg, NULL, 10);
			break;
		default:
			goto usage;
		}
	}
	if ((mode != M_CHURN && (nconn < 1 || nconn > 100000)) || (mode != M_IDLE && rate <= 0) ||
	    chunk < 1 || chunk > (16u << 20) || (mode == M_IDLE && period_s < 1) ||
	    (mode != M_BULK && (size_b < 1 || size_b > (1u << 20))))
		goto usage;

	/* two fds per connection, and some room */
	if (!getrlimit(RLIMIT_NOFILE, &rl)) {
		rlim_t want = (rlim_t)(mode == M_CHURN ? 2 * CHURN_MAX_INFLIGHT : 2 * nconn) + 64;

		if (rl.rlim_cur < want) {
			rl.rlim_cur = want <= rl.rlim_max ? want : rl.rlim_max;
			setrlimit(RLIMIT_NOFILE, &rl);
			if (rl.rlim_cur < want) {
				fprintf(stderr,
					"bench_store_gen: need %lu open files, the limit is %lu\n",
					(unsigned long)want, (unsigned long)rl.rlim_cur);
				return 1;
			}
		}
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	srandom(seed ? seed : (unsigned)getpid());
	buflen = chunk > 65536 ? chunk : 65536;
	if (!(buf = malloc(buflen)))
		die("malloc");
	memset(buf, 'x', buflen);

	if ((epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
		die("epoll_create1");
	lfd = listen_on(port, &port);
	ep_add(ep_new(lfd, R_LISTEN), EPOLLIN);

	/* bulk and idle: open every connection and wait until all are accepted */
	if (mode != M_CHURN) {
		uint64_t deadline = now_ns() + 30000000000ull;

		if (!(conns = calloc(nconn, sizeof(*conns))))
			die("calloc");
		for (i = 0; i < nconn; i++) {
			int fd = connect_to(port, 0);

			if (fd < 0)
				die("connect");
			conns[i] = ep_new(fd, R_CLIENT);
			ep_add(conns[i], 0);
			st.opened++;
			if (i % 64 == 63)
				accept_all(lfd);
		}
		for (;;) {
			int n = epoll_wait(epfd, evs, 256, 100), k;

			for (k = 0; k < n; k++) {
				struct ep *e = evs[k].data.ptr;

				if (e->role == R_LISTEN)
					accept_all(lfd);
				else if (e->role == R_SERVER)
					server_read(e);
			}
			if (st.accepted >= nconn)
				break;
			if (now_ns() > deadline) {
				fprintf(stderr,
					"bench_store_gen: connections not established in 30 s\n");
				return 1;
			}
		}
		t0 = now_ns();
		for (i = 0; i < nconn; i++) {
			conns[i]->connected = 1;
			if (mode == M_IDLE)
				conns[i]->next_ns = t0 + (uint64_t)((double)random() / RAND_MAX *
								    period_s * 1e9);
		}
	}

	if ((tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)) < 0 ||
	    timerfd_settime(tfd, 0, &its, NULL))
		die("timerfd");
	ep_add(ep_new(tfd, R_TIMER), EPOLLIN);

	printf("ready port=%u\n", port);
	fflush(stdout);
	t0 = tlast = now_ns();
	if (duration > 0)
		tend = t0 + (uint64_t)(duration * 1e9);

	while (!stop) {
		int n = epoll_wait(epfd, evs, 256, 100), k;

		if (n < 0 && errno != EINTR)
			die("epoll_wait");
		for (k = 0; k < n; k++) {
			struct ep *e = evs[k].data.ptr;
			uint64_t exp, now;

			switch (e->role) {
			case R_LISTEN:
				accept_all(e->fd);
				break;
			case R_SERVER:
				server_read(e);
				break;
			case R_CLIENT:
				if (mode == M_BULK)
					bulk_write(e);
				else if (mode == M_CHURN)
					churn_client(e, evs[k].events);
				else
					ep_mod(e, 0);
				break;
			case R_TIMER:
				if (read(e->fd, &exp, sizeof(exp)) < 0)
					break;
				now = now_ns();
				if (mode == M_BULK) {
					uint64_t add =
						(uint64_t)(rate * (double)(now - tlast) / 1e9);

					for (i = 0; i < nconn; i++) {
						/* at most a second of backlog */
						if (conns[i]->credit < (uint64_t)rate)
							conns[i]->credit += add;
						bulk_write(conns[i]);
					}
				} else if (mode == M_IDLE) {
					for (i = 0; i < nconn; i++) {
						struct ep *c = conns[i];

						if (now < c->next_ns)
							continue;
						if (write_some(c, size_b) < (int)size_b)
							st.errors++;
						c->next_ns += (uint64_t)period_s * 1000000000ull;
					}
				} else {
					churn_acc += rate * (double)(now - tlast) / 1e9;
					while (churn_acc >= 1) {
						int fd;

						churn_acc -= 1;
						if (st.inflight >= CHURN_MAX_INFLIGHT) {
							st.skipped++;
							continue;
						}
						fd = connect_to(port, 1);
						if (fd < 0) {
							st.errors++;
							continue;
						}
						ep_add(ep_new(fd, R_CLIENT), EPOLLOUT);
						st.opened++;
						st.inflight++;
					}
				}
				tlast = now;
				if (tend && now >= tend)
					stop = 1;
				break;
			}
		}
	}
	printf("done mode=%s seconds=%.1f opened=%lu closed=%lu bytes_sent=%lu bytes_recv=%lu "
	       "accepted=%lu sends=%lu skipped=%lu errors=%lu\n",
	       argv[1], (double)(now_ns() - t0) / 1e9, (unsigned long)st.opened,
	       (unsigned long)st.closed, (unsigned long)st.bytes_sent, (unsigned long)st.bytes_recv,
	       (unsigned long)st.accepted, (unsigned long)st.sends, (unsigned long)st.skipped,
	       (unsigned long)st.errors);
	return 0;
usage:
	fprintf(stderr,
		"Usage: bench_store_gen bulk|idle|churn [-n CONNS] [-r RATE] [-s SIZE] [-P PERIOD_S]\n"
		"                       [-c CHUNK] [-d SECONDS] [-p PORT] [-S SEED]\n"
		"  bulk:  -n connections (4), -r bytes/s each (8388608), -c write size (65536)\n"
		"  idle:  -n connections (1000), -s bytes per message (100), -P period s (10)\n"
		"  churn: -r connections/s (300), -s bytes per connection (300)\n");
	return 2;
}
