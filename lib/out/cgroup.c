/*
 * cgroup.c: see cgroup.h. One walk of the hierarchy (openat, no symlinks
 * followed, directories only) into a sorted array; lookups are binary searches.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "cgroup.h"
#include "mem.h"

#define CGROUP2_MAGIC 0x63677270
#define CGROUPS_MAX   (1u << 20)
#define DEPTH_MAX     64

struct ent {
	uint64_t id;
	char *path;
};

struct tt_cgroups {
	struct ent *e;
	size_t n, cap;
};

static int add(struct tt_cgroups *c, uint64_t id, const char *path)
{
	int err;

	if (c->n >= CGROUPS_MAX)
		return -E2BIG;
	if ((err = tt_grow((void **)&c->e, &c->cap, c->n + 1, sizeof(*c->e))))
		return err;
	c->e[c->n].id = id;
	c->e[c->n].path = strdup(path);
	if (!c->e[c->n].path)
		return -ENOMEM;
	c->n++;
	return 0;
}

/* dirfd is the directory of path (owned: closed here). */
static int walk(struct tt_cgroups *c, int dirfd, char *path, size_t len, int depth)
{
	DIR *d = fdopendir(dirfd);
	struct dirent *de;
	int err = 0;

	if (!d) {
		close(dirfd);
		return 0; /* gone meanwhile, or not readable: fewer paths, not an error */
	}
	while (!err && (de = readdir(d))) {
		struct stat st;
		size_t n = strlen(de->d_name);
		int fd;

		if (de->d_type != DT_DIR || !strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (depth >= DEPTH_MAX || len + 1 + n >= PATH_MAX)
			continue;
		fd = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (fstat(fd, &st)) {
			close(fd);
			continue;
		}
		path[len] = '/';
		memcpy(path + len + 1, de->d_name, n + 1);
		err = add(c, (uint64_t)st.st_ino, path);
		if (!err)
			err = walk(c, fd, path, len + 1 + n, depth + 1);
		else
			close(fd);
		path[len] = '\0';
	}
	closedir(d);
	return err;
}

static int cmp_ent(const void *a, const void *b)
{
	uint64_t x = ((const struct ent *)a)->id, y = ((const struct ent *)b)->id;

	return x < y ? -1 : x > y;
}

/* The cgroup v2 hierarchy: /sys/fs/cgroup, or its "unified" part on a hybrid v1/v2 system. */
static int open_root(const char *root)
{
	static const char *const where[] = { "/sys/fs/cgroup", "/sys/fs/cgroup/unified" };
	struct statfs sf;
	size_t i;
	int fd;

	if (root)
		return open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	for (i = 0; i < sizeof(where) / sizeof(where[0]); i++) {
		fd = open(where[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd >= 0 && !fstatfs(fd, &sf) && sf.f_type == CGROUP2_MAGIC)
			return fd;
		if (fd >= 0)
			close(fd);
	}
	errno = ENOENT;
	return -1;
}

int tt_cgroups_load(const char *root, struct tt_cgroups **out)
{
	struct tt_cgroups *c = calloc(1, sizeof(*c));
	char *path = malloc(PATH_MAX);
	struct stat st;
	int fd, err;

	*out = NULL;
	if (!c || !path) {
		free(c);
		free(path);
		return -ENOMEM;
	}
	fd = open_root(root);
	if (fd < 0 || fstat(fd, &st)) {
		err = -errno;
		if (fd >= 0)
			close(fd);
		goto fail;
	}
	path[0] = '\0';
	err = add(c, (uint64_t)st.st_ino, "/");
	if (!err)
		err = walk(c, fd, path, 0, 0);
	else
		close(fd);
	if (err)
		goto fail;
	qsort(c->e, c->n, sizeof(*c->e), cmp_ent);
	free(path);
	*out = c;
	return 0;
fail:
	free(path);
	tt_cgroups_free(c);
	return err;
}

void tt_cgroups_free(struct tt_cgroups *c)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; i < c->n; i++)
		free(c->e[i].path);
	free(c->e);
	free(c);
}

const char *tt_cgroups_path(const struct tt_cgroups *c, uint64_t id)
{
	struct ent key = { .id = id }, *e;

	if (!c || !c->n)
		return NULL;
	e = bsearch(&key, c->e, c->n, sizeof(*c->e), cmp_ent);
	return e ? e->path : NULL;
}

const char *tt_cgroup_container(const char *path, char *buf, size_t len)
{
	const char *p, *found = NULL;

	if (!path || len < 13)
		return NULL;
	/* the last run of exactly 64 hex digits that starts a component or follows a '-' */
	for (p = path; *p; p++) {
		size_t n = strspn(p, "0123456789abcdef");

		if (n == 64 && (p == path || p[-1] == '/' || p[-1] == '-') &&
		    (!p[64] || p[64] == '/' || p[64] == '.'))
			found = p;
		if (n)
			p += n - 1;
	}
	if (!found)
		return NULL;
	memcpy(buf, found, 12);
	buf[12] = '\0';
	return buf;
}

int tt_cgroups_here(const char *boot_id)
{
	char me[64] = "";
	FILE *f;

	if (!boot_id || !*boot_id)
		return 0;
	f = fopen("/proc/sys/kernel/random/boot_id", "re");
	if (!f)
		return 0;
	if (!fgets(me, sizeof(me), f))
		me[0] = '\0';
	fclose(f);
	me[strcspn(me, "\n")] = '\0';
	return !strcmp(me, boot_id);
}
