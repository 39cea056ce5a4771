// SPDX-License-Identifier: GPL-2.0
/*
 * floor.c: load floor.bpf.c, attach every program, wait for SIGINT or SIGTERM.
 *
 * The "floor" variant of tests/bench/bench_overhead.sh: the cost of the hooks
 * tcptop-record uses, with nothing behind them. Prints one line, "attached N",
 * once every program is attached (the benchmark waits for it), and nothing else
 * unless something fails.
 *
 * Exit 0 after a signal, 1 on a runtime error, 2 on bad usage, 77 without the
 * privileges to load or attach.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "floor.skel.h"

#define PROG	     "bench_floor"
#define CGROUP2_ROOT "/sys/fs/cgroup/unified"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static int exit_code(int err)
{
	return (err == -EPERM || err == -EACCES) ? 77 : 1;
}

int main(int argc, char **argv)
{
	const char *cgroup = CGROUP2_ROOT;
	struct floor_bpf *skel = NULL;
	struct bpf_link *skb_in = NULL, *skb_out = NULL;
	struct sigaction sa;
	sigset_t block, old;
	int cg_fd = -1, ret = 1, err;

	if (argc > 2 || (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")))) {
		fprintf(argc == 2 ? stdout : stderr,
			"Usage: %s [CGROUP2_DIR]\n"
			"Attach empty programs on tcptop-record's hooks (cgroup_skb ingress and\n"
			"egress on CGROUP2_DIR, default " CGROUP2_ROOT ", and five tp_btf\n"
			"tracepoints) until SIGINT or SIGTERM.\n",
			argv[0]);
		return argc == 2 ? 0 : 2;
	}
	if (argc == 2)
		cgroup = argv[1];

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	/* blocked until sigsuspend: a signal between the check and the wait is not lost */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &old);

	libbpf_set_print(libbpf_log);
	skel = floor_bpf__open_and_load();
	if (!skel) {
		err = -errno;
		fprintf(stderr, PROG ": load: %s\n", strerror(-err));
		ret = exit_code(err);
		goto out;
	}
	cg_fd = open(cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cg_fd < 0) {
		fprintf(stderr, PROG ": %s: %s\n", cgroup, strerror(errno));
		goto out;
	}
	skb_in = bpf_program__attach_cgroup(skel->progs.floor_skb_ingress, cg_fd);
	if (!skb_in) {
		err = -errno;
		fprintf(stderr, PROG ": attach cgroup_skb/ingress on %s: %s\n", cgroup,
			strerror(-err));
		ret = exit_code(err);
		goto out;
	}
	skb_out = bpf_program__attach_cgroup(skel->progs.floor_skb_egress, cg_fd);
	if (!skb_out) {
		err = -errno;
		fprintf(stderr, PROG ": attach cgroup_skb/egress on %s: %s\n", cgroup,
			strerror(-err));
		ret = exit_code(err);
		goto out;
	}
	/* the five tp_btf programs: the skeleton attaches by section name */
	err = floor_bpf__attach(skel);
	if (err) {
		fprintf(stderr, PROG ": attach tp_btf: %s\n", strerror(-err));
		ret = exit_code(err);
		goto out;
	}
	printf("attached 7\n");
	fflush(stdout);

	while (!stop)
		sigsuspend(&old);
	ret = 0;
out:
	bpf_link__destroy(skb_out);
	bpf_link__destroy(skb_in);
	if (cg_fd >= 0)
		close(cg_fd);
	floor_bpf__destroy(skel);
	return ret;
}
