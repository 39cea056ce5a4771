/*
 * probe.c: see probe.h. Reads /proc/self/status and /proc/mounts; no libcap.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "probe.h"

#define CAP_NET_ADMIN 12
#define CAP_SYS_ADMIN 21
#define CAP_PERFMON   38
#define CAP_BPF	      39

int tt_probe_effective_caps(uint64_t *caps)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "r");
	int found = 0;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %" SCNx64, caps) == 1) {
			found = 1;
			break;
		}
	fclose(f);
	return found ? 0 : -ENOENT;
}

int tt_probe_privileges(char *why, size_t len)
{
	uint64_t caps = 0;
	int has_bpf, has_perfmon, has_sys;

	if (tt_probe_effective_caps(&caps)) {
		snprintf(why, len, "cannot read capabilities from /proc/self/status");
		return -EPERM;
	}
	has_sys = !!(caps & (1ull << CAP_SYS_ADMIN));
	has_bpf = !!(caps & (1ull << CAP_BPF)) || has_sys;
	has_perfmon = !!(caps & (1ull << CAP_PERFMON)) || has_sys;
	if (has_bpf && has_perfmon)
		return 0;
	snprintf(why, len, "needs root or CAP_BPF and CAP_PERFMON (missing:%s%s)",
		 has_bpf ? "" : " CAP_BPF", has_perfmon ? "" : " CAP_PERFMON");
	return -EPERM;
}

int tt_probe_kernel(char *why, size_t len)
{
	if (access("/sys/kernel/btf/vmlinux", R_OK)) {
		snprintf(why, len,
			 "kernel has no BTF (/sys/kernel/btf/vmlinux): CO-RE and tp_btf need CONFIG_DEBUG_INFO_BTF=y");
		return -ENOTSUP;
	}
	return 0;
}

int tt_probe_cgroup2(char *buf, size_t len)
{
	char dev[256], dir[512], type[64];
	FILE *f = fopen("/proc/mounts", "r");
	int err = -ENOENT;

	if (!f)
		return -errno;
	while (fscanf(f, "%255s %511s %63s %*[^\n]", dev, dir, type) == 3) {
		if (!strcmp(type, "cgroup2") && strlen(dir) < len) {
			memcpy(buf, dir, strlen(dir) + 1);
			err = 0;
			break;
		}
	}
	fclose(f);
	return err;
}

void tt_probe_host(struct tt_host_info *h)
{
	struct utsname u;
	FILE *f;

	memset(h, 0, sizeof(*h));
	if (!uname(&u)) {
		snprintf(h->host, sizeof(h->host), "%s", u.nodename);
		snprintf(h->kernel, sizeof(h->kernel), "%s", u.release);
	}
	f = fopen("/proc/sys/kernel/random/boot_id", "r");
	if (f) {
		if (fgets(h->boot_id, sizeof(h->boot_id), f))
			h->boot_id[strcspn(h->boot_id, "\n")] = '\0';
		fclose(f);
	}
}
