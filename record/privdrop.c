/*
 * privdrop.c: see privdrop.h. Raw capset/prctl, no libcap: the only
 * capabilities that matter here are a handful of bits.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "privdrop.h"
#include "probe.h"

int tt_priv_lookup(const char *name, struct tt_priv_user *u, char *why, size_t why_len)
{
	struct passwd *pw;

	errno = 0;
	pw = getpwnam(name);
	if (!pw) {
		snprintf(why, why_len, "--user: no user '%s'%s%s", name, errno ? ": " : "",
			 errno ? strerror(errno) : "");
		return -ENOENT;
	}
	if (strlen(name) >= sizeof(u->name)) {
		snprintf(why, why_len, "--user: name too long");
		return -EINVAL;
	}
	u->uid = pw->pw_uid;
	u->gid = pw->pw_gid;
	memcpy(u->name, name, strlen(name) + 1);
	return 0;
}

int tt_priv_prepare_dir(const struct tt_priv_user *u, const char *dir, char *why, size_t why_len)
{
	if (geteuid() != 0)
		return 0;
	if (mkdir(dir, 0700) < 0) {
		if (errno == EEXIST)
			return 0; /* an existing store keeps its owner: the writer says if u cannot
				     write */
		snprintf(why, why_len, "%s: creating the store: %s", dir, strerror(errno));
		return -errno;
	}
	if (chown(dir, u->uid, u->gid) < 0) {
		int err = errno;

		snprintf(why, why_len, "%s: giving it to user %s: %s", dir, u->name, strerror(err));
		return -err;
	}
	return 0;
}

static int capset_mask(uint64_t eff, uint64_t perm)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];

	memset(d, 0, sizeof(d));
	d[0].effective = (uint32_t)eff;
	d[1].effective = (uint32_t)(eff >> 32);
	d[0].permitted = (uint32_t)perm;
	d[1].permitted = (uint32_t)(perm >> 32);
	return (int)syscall(SYS_capset, &h, d);
}

int tt_priv_drop(const struct tt_priv_user *u, uint64_t keep, char *why, size_t why_len)
{
	uint64_t eff = 0;
	int cap, err;

	if (getuid() != u->uid || geteuid() != u->uid) {
		if (geteuid() != 0) {
			snprintf(why, why_len,
				 "--user %s: running as uid %u, only root can switch users",
				 u->name, (unsigned)geteuid());
			return -EPERM;
		}
		/* the capabilities we keep must survive the change of uid */
		if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
			goto fail;
		/* the bounding set needs CAP_SETPCAP, which root has and a service user not */
		for (cap = 0; cap <= 63; cap++)
			if (!(keep & (1ull << cap)) && prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1)
				prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
		if (initgroups(u->name, u->gid) < 0 || setresgid(u->gid, u->gid, u->gid) < 0 ||
		    setresuid(u->uid, u->uid, u->uid) < 0)
			goto fail;
		prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		goto fail;
	if (capset_mask(keep, keep) < 0)
		goto fail;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		goto fail;
	/* trust, but verify: no way back to root, no capability beyond keep */
	if (u->uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
		snprintf(why, why_len,
			 "--user %s: could still become root after dropping privileges", u->name);
		return -EPERM;
	}
	if ((err = tt_probe_effective_caps(&eff)) || (eff & ~keep)) {
		snprintf(why, why_len, "--user %s: capabilities %#" PRIx64 " remain after the drop",
			 u->name, eff);
		return -EPERM;
	}
	return 0;
fail:
	err = errno;
	snprintf(why, why_len, "--user %s: dropping privileges: %s", u->name, strerror(err));
	return -err;
}

static const char *const cap_names[] = {
	[CAP_DAC_READ_SEARCH] = "cap_dac_read_search",
	[CAP_NET_ADMIN] = "cap_net_admin",
	[CAP_SYS_PTRACE] = "cap_sys_ptrace",
	[CAP_SYS_ADMIN] = "cap_sys_admin",
	[CAP_PERFMON] = "cap_perfmon",
	[CAP_BPF] = "cap_bpf",
};

void tt_priv_caps_str(uint64_t mask, char *buf, size_t len)
{
	size_t n = 0;
	int cap;

	buf[0] = '\0';
	for (cap = 0; cap <= 63 && n < len; cap++) {
		const char *name;

		if (!(mask & (1ull << cap)))
			continue;
		name = cap < (int)(sizeof(cap_names) / sizeof(cap_names[0])) ? cap_names[cap]
									     : NULL;
		if (name)
			n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? "," : "", name);
		else
			n += (size_t)snprintf(buf + n, len - n, "%scap_%d", n ? "," : "", cap);
	}
	if (!mask)
		snprintf(buf, len, "none");
}
