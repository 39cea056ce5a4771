/*
 * probe.h: can this process capture? Privileges and kernel features, checked
 * before anything is loaded so the recorder can say exactly what is missing.
 */
#ifndef TT_PROBE_H
#define TT_PROBE_H

#include <stddef.h>
#include <stdint.h>

/*
 * 0 when the process may load and attach the programs (root, or CAP_BPF and
 * CAP_PERFMON, plus CAP_NET_ADMIN for cgroup_skb); -EPERM otherwise, with what is
 * missing written to why.
 */
int tt_probe_privileges(char *why, size_t len);

/* This process's effective capabilities (CapEff of /proc/self/status); 0 or a negative errno. */
int tt_probe_effective_caps(uint64_t *caps);

/*
 * 0 when the kernel has what the capture cannot do without (BTF for CO-RE and
 * tp_btf); -ENOTSUP with the reason otherwise.
 */
int tt_probe_kernel(char *why, size_t len);

/* Path of a mounted cgroup v2 hierarchy into buf; 0, or -ENOENT if none. */
int tt_probe_cgroup2(char *buf, size_t len);

/* This machine, for the recording's metadata. */
struct tt_host_info {
	char host[65]; /* uname nodename */
	char kernel[65]; /* uname release */
	char boot_id[40]; /* /proc/sys/kernel/random/boot_id, "" if unreadable */
};

void tt_probe_host(struct tt_host_info *h);

#endif /* TT_PROBE_H */
