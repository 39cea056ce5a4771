// SPDX-License-Identifier: GPL-2.0
/*
 * fdhold.c: open N idle TCP sockets on loopback and hold them until SIGINT or
 * SIGTERM, for tests/bench/bench_walk.sh (what one tick's walk of every open
 * file and every TCP socket costs the recorder).
 *
 * N sockets = N/2 established connections, both ends held by this process. A
 * client end is bound to no port (IP_BIND_ADDRESS_NO_PORT) and connects to one
 * of several listeners, at most PER_LISTENER connections each: the kernel may
 * reuse a local port for different remote ports, so 100,000 sockets fit in the
 * default ephemeral range (28,232 ports). Nothing is ever sent; at the end every
 * connection is reset, so that no TIME_WAIT is left behind.
 *
 * One process holds them all when it may raise RLIMIT_NOFILE that far. Where it
 * may not (no CAP_SYS_RESOURCE: the hard limit stays), or with -p, the sockets
 * are split over child processes of at most PER_PROCESS sockets each; for the
 * per-tick walk of every open file it is the number of files that counts.
 *
 * Prints "ready SOCKETS FDS PROCESSES" on stdout once every connection is
 * established (FDS counts the listeners too), then nothing more. Exit 0 after a
 * signal, 1 on a runtime error (with how far it got), 2 on bad usage.
 */
#define _GNU_SOURCE /* accept4 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define PROG	     "fdhold"
#define PER_LISTENER 20000
#define MAX_SOCKETS  2000000
#define MAX_PROCS    1000
#define FD_MARGIN    64 /* stdio, the pipe, listeners of a small share */

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int parse_count(const char *s, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (!*s || *s == '-')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < 2 || v > MAX_SOCKETS)
		return -EINVAL;
	*out = v;
	return 0;
}

/* Room for n descriptors and a margin: with CAP_SYS_RESOURCE, the hard limit too. */
static int raise_nofile(unsigned long n)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)n + FD_MARGIN;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return -errno;
	if (rl.rlim_cur >= want)
		return 0;
	rl.rlim_cur = want;
	if (rl.rlim_max < want)
		rl.rlim_max = want;
	if (setrlimit(RLIMIT_NOFILE, &rl))
		return -errno;
	return 0;
}

static int listener(const struct sockaddr_in *addr, struct sockaddr_in *bound)
{
	socklen_t len = sizeof(*bound);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (bind(fd, (const struct sockaddr *)addr, sizeof(*addr)) || listen(fd, 4096) ||
	    getsockname(fd, (struct sockaddr *)bound, &len)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/* One connection: the client end connects (loopback completes the handshake in the
 * call), the listener hands over the server end. Both descriptors stay open. */
static int one_pair(int lfd, const struct sockaddr_in *to, const struct sockaddr_in *from)
{
	int one = 1, c, s;

	c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c < 0)
		return -errno;
	if (setsockopt(c, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one)) ||
	    bind(c, (const struct sockaddr *)from, sizeof(*from)) ||
	    connect(c, (const struct sockaddr *)to, sizeof(*to))) {
		int err = -errno;

		close(c);
		return err;
	}
	s = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (s < 0)
		return -errno; /* c stays open: it counts in what is held */
	return 0;
}

/*
 * Reset every connection instead of closing it: an ordinary close of both ends
 * leaves one TIME_WAIT socket per connection for 60 s, which the next
 * measurement's iter/tcp walk would see. Non-sockets just fail the call.
 */
static void abort_all(void)
{
	const struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	struct rlimit rl;
	rlim_t fd;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return;
	for (fd = 3; fd < rl.rlim_cur; fd++)
		setsockopt((int)fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}

/*
 * Open `pairs` connections, each with its own listeners, and leave every
 * descriptor open (the process's exit closes them). 0, or 1 after a message.
 */
static int hold(unsigned long pairs)
{
	struct sockaddr_in any = { .sin_family = AF_INET }, from = { .sin_family = AF_INET };
	unsigned long i, nl = (pairs + PER_LISTENER - 1) / PER_LISTENER;
	struct sockaddr_in *to; /* each listener's address */
	int *lfd, err;

	lfd = calloc(nl, sizeof(*lfd));
	to = calloc(nl, sizeof(*to));
	if (!lfd || !to) {
		fprintf(stderr, PROG ": out of memory\n");
		return 1;
	}
	any.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	from.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (i = 0; i < nl; i++) {
		lfd[i] = listener(&any, &to[i]);
		if (lfd[i] < 0) {
			fprintf(stderr, PROG ": listener %lu: %s\n", i, strerror(-lfd[i]));
			return 1;
		}
	}
	for (i = 0; i < pairs && !stop; i++) {
		err = one_pair(lfd[i / PER_LISTENER], &to[i / PER_LISTENER], &from);
		if (err) {
			fprintf(stderr, PROG ": connection %lu of %lu: %s%s\n", i + 1, pairs,
				strerror(-err),
				err == -EMFILE || err == -ENFILE
					? " (fd limits: fs.nr_open, fs.file-max)"
				: err == -EADDRNOTAVAIL
					? " (ephemeral ports: net.ipv4.ip_local_port_range)"
					: "");
			return 1;
		}
	}
	free(lfd);
	free(to);
	return 0;
}

static void usage(FILE *f, const char *argv0)
{
	fprintf(f,
		"Usage: %s [-p PER_PROCESS] SOCKETS\n"
		"Hold SOCKETS idle TCP sockets (SOCKETS/2 loopback connections, 2..%d)\n"
		"until SIGINT or SIGTERM, in child processes of at most PER_PROCESS sockets\n"
		"each when one process may not open them all. Prints \"ready SOCKETS FDS\n"
		"PROCESSES\" once they exist.\n",
		argv0, MAX_SOCKETS);
}

int main(int argc, char **argv)
{
	unsigned long sockets, pairs, per = 0, nproc, i, share, fds = 0;
	pid_t kids[MAX_PROCS];
	struct sigaction sa;
	struct rlimit rl;
	sigset_t block, old;
	int pfd[2], ch, ret = 1;
	char c;

	while ((ch = getopt(argc, argv, "p:h")) != -1) {
		switch (ch) {
		case 'p':
			if (parse_count(optarg, &per))
				goto bad;
			break;
		case 'h':
			usage(stdout, argv[0]);
			return 0;
		default:
			goto bad;
		}
	}
	if (optind != argc - 1 || parse_count(argv[optind], &sockets))
		goto bad;
	pairs = sockets / 2;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &old);

	if (!per && !raise_nofile(pairs * 2 + (pairs + PER_LISTENER - 1) / PER_LISTENER)) {
		if (hold(pairs))
			return 1;
		if (stop)
			return 0;
		printf("ready %lu %lu 1\n", pairs * 2,
		       pairs * 2 + (pairs + PER_LISTENER - 1) / PER_LISTENER);
		fflush(stdout);
		while (!stop)
			sigsuspend(&old);
		abort_all();
		return 0;
	}

	/* split: as many sockets per child as its hard limit allows */
	if (getrlimit(RLIMIT_NOFILE, &rl)) {
		fprintf(stderr, PROG ": getrlimit: %s\n", strerror(errno));
		return 1;
	}
	share = rl.rlim_max == RLIM_INFINITY ? 1000000 : (unsigned long)rl.rlim_max;
	share = share > 2 * FD_MARGIN ? (share - 2 * FD_MARGIN) / 2 : 1; /* pairs */
	if (per && per / 2 < share)
		share = per / 2 ? per / 2 : 1;
	nproc = (pairs + share - 1) / share;
	if (nproc > MAX_PROCS) {
		fprintf(stderr, PROG ": %lu sockets need %lu processes at %lu each (max %d)\n",
			sockets, nproc, share * 2, MAX_PROCS);
		return 1;
	}
	if (pipe(pfd)) {
		fprintf(stderr, PROG ": pipe: %s\n", strerror(errno));
		return 1;
	}
	for (i = 0; i < nproc; i++) {
		unsigned long mine = i + 1 < nproc ? share : pairs - share * i;

		kids[i] = fork();
		if (kids[i] < 0) {
			fprintf(stderr, PROG ": fork: %s\n", strerror(errno));
			nproc = i;
			goto reap;
		}
		if (!kids[i]) {
			/* a parent killed with SIGKILL must not leave its children behind */
			prctl(PR_SET_PDEATHSIG, SIGTERM);
			if (getppid() == 1)
				_exit(1);
			close(pfd[0]);
			if (raise_nofile(mine * 2 + (mine + PER_LISTENER - 1) / PER_LISTENER)) {
				fprintf(stderr, PROG ": RLIMIT_NOFILE: %s\n", strerror(errno));
				_exit(1);
			}
			if (hold(mine))
				_exit(1);
			c = 'r';
			if (write(pfd[1], &c, 1) != 1)
				_exit(1);
			close(pfd[1]);
			while (!stop)
				sigsuspend(&old);
			abort_all();
			_exit(0);
		}
		fds += mine * 2 + (mine + PER_LISTENER - 1) / PER_LISTENER;
	}
	close(pfd[1]);
	for (i = 0; i < nproc; i++) {
		ssize_t r = read(pfd[0], &c, 1);

		if (r == 1)
			continue;
		if (r < 0 && errno == EINTR && !stop) {
			i--;
			continue;
		}
		if (!stop)
			fprintf(stderr, PROG ": a child process failed (%lu of %lu ready)\n", i,
				nproc);
		goto reap;
	}
	printf("ready %lu %lu %lu\n", pairs * 2, fds, nproc);
	fflush(stdout);
	while (!stop)
		sigsuspend(&old);
	ret = 0;
reap:
	for (i = 0; i < nproc; i++)
		kill(kids[i], SIGTERM);
	for (i = 0; i < nproc; i++)
		waitpid(kids[i], NULL, 0);
	return ret;
bad:
	usage(stderr, argv[0]);
	return 2;
}
