/*
 * extract DIR --from --to -o SMALLDIR: the window as a new, self-contained
 * store to attach to a post-mortem. The events of the blocks overlapping the
 * window are written again through the recorder's own writer (new blocks,
 * keyframes, index), so every tool reads the small store as it reads the big
 * one. The cut is at block boundaries of the source (at most --flush wider on
 * each side): a block cannot be cut without losing the state its keyframe
 * carries. SMALLDIR must not exist yet or be empty: nothing is overwritten.
 *
 * The copy is written beside SMALLDIR, in .NAME.extract in the same parent
 * directory, and renamed to SMALLDIR only when it is complete: a killed
 * extract leaves no SMALLDIR that looks like a store, and the next extract to
 * SMALLDIR removes what the killed one left (unless a live extract holds it:
 * the partial directory is flock()ed while it is written).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd.h"
#include "qargs.h"
#include "scan.h"
#include "writer.h"

struct ex_run {
	struct qargs *q;
	const char *out_dir; /* SMALLDIR, as given */
	char tmp_dir[4096]; /* where the copy is written until it is complete */
	uint64_t recordings; /* copied so far */
	struct tt_writer *w;
	int started; /* the first non-keyframe event of this recording was seen */
	uint64_t end_ns; /* Unix ns the copy of the current recording ends at */
	uint64_t ticks;
};

/* The source recording's metadata, for the copy's recordings row (buffers of len bytes). */
struct rec_meta {
	char *host, *kernel, *boot, *opts;
	size_t len;
};

static int copy_meta(void *ctx, const struct tt_store_rec *r)
{
	struct rec_meta *m = ctx;

	snprintf(m->host, m->len, "%s", r->host);
	snprintf(m->kernel, m->len, "%s", r->kernel);
	snprintf(m->boot, m->len, "%s", r->boot_id);
	snprintf(m->opts, m->len, "%s", r->options);
	return 0;
}

static int rec_info(struct tt_store *st, int64_t id, char *host, char *kernel, char *boot,
		    char *opts, size_t len)
{
	struct rec_meta m = { host, kernel, boot, opts, len };

	return tt_store_recording(st, id, 0, copy_meta, &m);
}

static struct tt_store *cur_store; /* the store being scanned, for rec_info */

static int close_writer(struct ex_run *r)
{
	int err = 0;

	if (!r->w)
		return 0;
	if (tt_writer_finish(r->w, r->end_ns)) {
		cmd_err("extract: %s", tt_writer_errmsg(r->w));
		err = -EIO;
	}
	tt_writer_free(r->w);
	r->w = NULL;
	return err;
}

static int on_recording(void *ctx, const struct tt_scan_rec *rec)
{
	struct ex_run *r = ctx;
	struct tt_writer_opts wo;
	char host[1024], kernel[1024], boot[1024], opts[1024], why[512];
	int err;

	if ((err = close_writer(r)))
		return err;
	if (rec_info(cur_store, rec->id, host, kernel, boot, opts, sizeof(host))) {
		cmd_err("extract: %s: recording %" PRId64 " vanished", rec->dir, rec->id);
		return -EIO;
	}
	tt_writer_opts_default(&wo);
	wo.dir = r->tmp_dir;
	wo.segment_ns = 0; /* one segment per recording: the copy is small */
	wo.segment_bytes = 0;
	wo.rec.host = host;
	wo.rec.kernel = kernel;
	wo.rec.boot_id = boot;
	wo.rec.options = opts;
	wo.rec.tool_version = TT_VERSION;
	wo.rec.start_ns = rec->start_ns > r->q->from_ns ? rec->start_ns : r->q->from_ns;
	wo.rec.mono_to_wall_ns = rec->mono_to_wall_ns;
	if (tt_writer_open(&wo, &r->w, why, sizeof(why))) {
		cmd_err("extract: %s", why);
		return -EIO;
	}
	r->started = 0;
	r->recordings++;
	/* the copy ends where the source does, or where the window does */
	r->end_ns = rec->end_ns < r->q->to_ns ? rec->end_ns : r->q->to_ns;
	return 0;
}

static int on_event(void *ctx, const struct tt_scan_rec *rec, const struct tt_event *ev,
		    const struct tt_agg *agg)
{
	struct ex_run *r = ctx;

	(void)rec;
	(void)agg;
	/* the first block's keyframe is the copy's starting state; later ones the
	 * writer makes itself at its own block boundaries */
	if (ev->flags & TT_EVF_KEYFRAME) {
		if (r->started)
			return 0;
	} else {
		r->started = 1;
	}
	if (tt_writer_event(r->w, ev)) {
		cmd_err("extract: %s", tt_writer_errmsg(r->w));
		return -EIO;
	}
	return 0;
}

static int on_table(void *ctx, const struct tt_scan_rec *rec, const struct tt_table *t,
		    const struct tt_agg *agg)
{
	struct ex_run *r = ctx;
	struct tt_event tick = { .ts_ns = t->ts_ns, .type = TT_EV_TICK };

	(void)rec;
	tick.tick.start_ns = t->start_ns;
	r->started = 1;
	if (tt_writer_event(r->w, &tick) || tt_writer_tick(r->w, agg, t)) {
		cmd_err("extract: %s", tt_writer_errmsg(r->w));
		return -EIO;
	}
	r->ticks++;
	return 0;
}

/* SMALLDIR may be missing or an empty directory; anything else is refused. */
static int check_out_dir(const char *dir)
{
	struct stat st;
	struct dirent *de;
	DIR *d;
	int empty = 1;

	if (stat(dir, &st)) {
		if (errno == ENOENT)
			return 0;
		cmd_err("extract: -o %s: %s", dir, strerror(errno));
		return 1;
	}
	if (!S_ISDIR(st.st_mode)) {
		cmd_err("extract: -o %s: exists and is not a directory", dir);
		return 1;
	}
	d = opendir(dir);
	while (d && (de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			empty = 0;
	if (d)
		closedir(d);
	if (!empty) {
		cmd_err("extract: -o %s: not empty; extract writes a new store and overwrites nothing",
			dir);
		return 1;
	}
	return 0;
}

/* dst's partial copy: PARENT/.NAME.extract beside dst. 0, or 1 after a message. */
static int beside(const char *dst, char *tmp, size_t len)
{
	char d[4096];
	size_t n = strlen(dst);
	char *slash, *name;

	if (n >= sizeof(d)) {
		cmd_err("extract: -o %s: path too long", dst);
		return 1;
	}
	memcpy(d, dst, n + 1);
	while (n > 1 && d[n - 1] == '/')
		d[--n] = '\0';
	slash = strrchr(d, '/');
	name = slash ? slash + 1 : d;
	if (!*name || !strcmp(name, ".") || !strcmp(name, "..")) {
		cmd_err("extract: -o %s: name a new directory", dst);
		return 1;
	}
	if (slash)
		*slash = '\0';
	if ((size_t)snprintf(tmp, len, "%s%s.%s.extract", slash ? (*d ? d : "") : "",
			     slash ? "/" : "", name) >= len) {
		cmd_err("extract: -o %s: path too long", dst);
		return 1;
	}
	return 0;
}

/*
 * Remove every file of the directory fd (a store has no subdirectory), then
 * the directory tmp itself. How many files, or a negative errno.
 */
static int remove_copy(int fd, const char *tmp)
{
	struct dirent *de;
	int err = 0, n = 0;
	DIR *d = fdopendir(dup(fd));

	if (!d)
		return -errno;
	while (!err && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (unlinkat(fd, de->d_name, 0) < 0)
			err = -errno;
		n++;
	}
	closedir(d);
	if (!err && rmdir(tmp) < 0)
		err = -errno;
	return err ? err : n;
}

/*
 * Remove what an extract killed while writing tmp left, unless a live one
 * holds it. 0, or 1 after a message.
 */
static int clear_leftover(const char *tmp)
{
	struct stat st;
	int fd, n;

	fd = open(tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0 || fstat(fd, &st) < 0 || st.st_uid != geteuid()) {
		cmd_err("extract: %s: %s; remove it by hand", tmp,
			fd < 0 ? strerror(errno) : "left by another user");
		if (fd >= 0)
			close(fd);
		return 1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		cmd_err("extract: %s: another extract is writing this copy", tmp);
		close(fd);
		return 1;
	}
	n = remove_copy(fd, tmp);
	close(fd);
	if (n < 0) {
		cmd_err("extract: %s: removing what an interrupted extract left: %s", tmp,
			strerror(-n));
		return 1;
	}
	cmd_err("extract: warning: removed %s, %d files an interrupted extract left", tmp, n);
	return 0;
}

/* The partial copy, made anew and locked: its fd (kept until the end), or -1 after a message. */
static int make_tmp(const char *tmp)
{
	int fd;

	if (mkdir(tmp, 0700) < 0) {
		cmd_err("extract: %s: %s", tmp, strerror(errno));
		return -1;
	}
	fd = open(tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) < 0) {
		cmd_err("extract: %s: %s", tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* An extract that fails removes its partial copy: nothing half-made stays behind. */
static void drop_tmp(const char *tmp)
{
	int fd = open(tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd >= 0) {
		remove_copy(fd, tmp);
		close(fd);
	}
}

/* The complete copy becomes dst (missing, or an empty directory that rename replaces). */
static int put_in_place(const char *tmp, const char *dst)
{
	char parent[4096];
	char *slash;
	int fd;

	if (rename(tmp, dst) < 0) {
		cmd_err("extract: renaming %s to %s: %s", tmp, dst, strerror(errno));
		return 1;
	}
	snprintf(parent, sizeof(parent), "%s", tmp);
	slash = strrchr(parent, '/');
	if (slash)
		*slash = '\0';
	fd = open(slash ? (*parent ? parent : "/") : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	return 0;
}

int cmd_extract(int argc, char **argv)
{
	struct tt_scan_cb cb = { .on_recording = on_recording, .on_event = on_event,
				 .on_table = on_table };
	struct tt_scan_stats st = { 0 };
	struct ex_run r;
	struct qargs q;
	int i, rc = 1, lock_fd = -1;

	qargs_init(&q, "extract");
	memset(&r, 0, sizeof(r));
	r.q = &q;
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			printf("Usage: tcptop-analyze extract [--from TIME] [--to TIME | --last DUR]\n"
			       "                              [--utc] -o|--output SMALLDIR DIR\n"
			       "Write the window as a new, self-contained store SMALLDIR (missing or\n"
			       "empty), cut at the source's block boundaries (a few seconds each side).\n"
			       "It is written in .SMALLDIR.extract beside it and renamed when complete.\n");
			return 0;
		}
		if (!strcmp(argv[i], "-o") || !strcmp(argv[i], "--output")) {
			if (i + 1 >= argc || !*argv[i + 1]) {
				cmd_err("extract: -o needs a directory");
				return 2;
			}
			r.out_dir = argv[++i];
			continue;
		}
		if (strcmp(argv[i], "--from") && strcmp(argv[i], "--to") && strcmp(argv[i], "--last") &&
		    strcmp(argv[i], "--utc") && argv[i][0] == '-') {
			cmd_err("extract: unknown option '%s' (see extract --help)", argv[i]);
			return 2;
		}
		if (qargs_opt(&q, argc, argv, &i) == 2)
			return 2;
	}
	if (!r.out_dir) {
		cmd_err("extract: needs -o SMALLDIR");
		return 2;
	}
	if (q.ndirs != 1) {
		cmd_err("extract: needs exactly one source store");
		return 2;
	}
	if ((rc = qargs_open(&q)))
		goto out;
	if ((rc = check_out_dir(r.out_dir)) || (rc = beside(r.out_dir, r.tmp_dir,
							       sizeof(r.tmp_dir))) ||
	    (rc = clear_leftover(r.tmp_dir)))
		goto out;
	rc = 1;
	if ((lock_fd = make_tmp(r.tmp_dir)) < 0)
		goto out;
	cur_store = q.stores[0];
	if (qargs_scan(&q, q.from_ns, q.to_ns, &cb, &r, &st) || close_writer(&r)) {
		tt_writer_free(r.w);
		drop_tmp(r.tmp_dir);
		goto out;
	}
	/* nothing in the window: no store, as before */
	if (!r.recordings)
		drop_tmp(r.tmp_dir);
	else if (put_in_place(r.tmp_dir, r.out_dir)) {
		drop_tmp(r.tmp_dir);
		goto out;
	}
	printf("%s: %" PRIu64 " recordings, %" PRIu64 " blocks read, %" PRIu64 " ticks written\n",
	       r.out_dir, st.recordings, st.blocks_read, r.ticks);
	rc = 0;
out:
	if (lock_fd >= 0)
		close(lock_fd);
	qargs_close(&q);
	return rc;
}
