/*
 * cgroup.h: cgroup v2 ids as paths. The recorder stores the numeric id (the
 * kernel's cgroup id, the inode number of the cgroup's directory); a path is
 * what a person recognises. The index has no column for paths, so they are
 * resolved where the analyzer runs, from /sys/fs/cgroup, and only for
 * recordings made on this machine in this boot (ids are unique within a boot,
 * not across boots or machines). A cgroup removed since has no path.
 */
#ifndef TT_CGROUP_H
#define TT_CGROUP_H

#include <stddef.h>
#include <stdint.h>

struct tt_cgroups;

/*
 * Every cgroup directory under root (NULL: the cgroup v2 hierarchy, at
 * /sys/fs/cgroup or /sys/fs/cgroup/unified), by id. 0, or a
 * negative errno (-ENOENT: no cgroup v2 hierarchy there). At most 1M cgroups.
 */
int tt_cgroups_load(const char *root, struct tt_cgroups **out);

void tt_cgroups_free(struct tt_cgroups *c);

/* The path of id below the root ("/system.slice/nginx.service", "/" for the root); NULL if unknown.
 */
const char *tt_cgroups_path(const struct tt_cgroups *c, uint64_t id);

/*
 * The container a cgroup path names: the 64-hex-digit id docker, containerd,
 * CRI-O and podman put in it (".../docker-<id>.scope", "/docker/<id>",
 * "cri-containerd-<id>.scope", "crio-<id>.scope", "libpod-<id>.scope"), its
 * first 12 digits as `docker ps` shows them, into buf (>= 13 bytes); returns
 * buf, or NULL if the path holds none.
 */
const char *tt_cgroup_container(const char *path, char *buf, size_t len);

/*
 * 1 if a recording's cgroup ids can be resolved here and now: boot_id (the
 * recording's, /proc/sys/kernel/random/boot_id when it started) is this
 * machine's current boot. 0 otherwise.
 */
int tt_cgroups_here(const char *boot_id);

#endif /* TT_CGROUP_H */
