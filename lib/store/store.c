/*
 * store.c: see store.h; the schema is schema/NNNN_*.sql, documented in docs/SCHEMA.md.
 *
 * Workload: the recorder runs one transaction per block (a block row, a segment
 * update, and an upsert per connection lifetime and per bucket that changed),
 * every few seconds, through statements prepared once. Retention runs after a
 * block and deletes a segment at a time. Readers use lib/store_read.c.
 *
 * The migrations come from schema/NNNN_*.sql, embedded at build time by
 * schema/embed.cmake into schema_sql.h: the tools need no files at run time.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <grp.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <sqlite3.h>

#include "format.h"
#include "idmap.h"
#include "mem.h"
#include "store.h"
#include "store_int.h"

struct tt_migration {
	int version; /* becomes PRAGMA user_version once applied */
	const char *name; /* file name in schema/ */
	const char *sql;
};

#include "schema_sql.h"

#define N_MIGRATIONS ((int)(sizeof(tt_migrations) / sizeof(tt_migrations[0])))

/* Statements, prepared on first use and kept for the store's life. */
enum {
	Q_BEGIN,
	Q_COMMIT,
	Q_REC_BEGIN,
	Q_REC_END,
	Q_REC_BUCKET,
	Q_SEG_BEGIN,
	Q_SEG_SEAL,
	Q_SEG_REC,
	Q_SEG_BLOCK,
	Q_BLOCK,
	Q_CONN_INS,
	Q_CONN_UPD,
	Q_PROC_GET,
	Q_PROC_PUT,
	Q_PIECE,
	Q_BLOCK_V1,
	Q_SEG_BYTES,
	Q_RET_LIST,
	Q_RET_SEG,
	Q_RET_CONNS,
	Q_RET_ROLLUPS,
	Q_RET_REC_ROLLUPS,
	Q_RET_PROCS,
	Q_RET_REC,
	Q_RET_ORPHAN,
	Q_MAX
};

static const char *const q_sql[Q_MAX] = {
	[Q_BEGIN] = "BEGIN IMMEDIATE",
	[Q_COMMIT] = "COMMIT",
	[Q_REC_BEGIN] = "INSERT INTO recordings (id, host, kernel, boot_id, start_ns, options, "
			"tool_version, mono_to_wall_ns) VALUES (?8, ?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[Q_REC_END] = "UPDATE recordings SET end_ns = ?2, clean_stop = ?3 WHERE id = ?1",
	[Q_REC_BUCKET] = "UPDATE recordings SET bucket_ns = ?2, rollup_ns = ?2 WHERE id = ?1",
	[Q_SEG_BEGIN] = "INSERT INTO segments (recording_id, seq, file, created_ns) "
			"VALUES (?1, ?2, ?3, ?4)",
	[Q_SEG_SEAL] = "UPDATE segments SET sealed = 1 WHERE id = ?1",
	[Q_SEG_REC] = "SELECT recording_id FROM segments WHERE id = ?1",
	[Q_SEG_BLOCK] = "UPDATE segments SET t_start_ns = coalesce(t_start_ns, ?2), "
			"t_end_ns = max(coalesce(t_end_ns, ?3), ?3), bytes = max(bytes, ?4), "
			"blocks = blocks + 1 WHERE id = ?1",
	[Q_BLOCK] = "INSERT INTO blocks (segment_id, offset, length, raw_length, t_start_ns, "
		    "t_end_ns, events, checksum, ring_drops, socks_full, peers_full, keyframe) "
		    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
	/* an index without blocks.keyframe: only tests build one, as an older build did */
	[Q_BLOCK_V1] = "INSERT INTO blocks (segment_id, offset, length, raw_length, t_start_ns, "
		       "t_end_ns, events, checksum, ring_drops, socks_full, peers_full) "
		       "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
/* the indexer's summary is complete each time: an update overwrites */
#define CONN_COLS                                                                                  \
	"recording_id, conn_id, family, proto, laddr, lport, raddr, rport, process_id, tid, "      \
	"cgroup, netns, flags, open_ns, close_ns, first_seen_ns, last_seen_ns, state, "            \
	"close_reason, close_errno, bytes_in, bytes_out, packets_in, packets_out, peak_rate_in, "  \
	"peak_rate_out, rtt_min_us, rtt_avg_us, rtt_max_us, rtt_samples, retrans, resets_sent, "   \
	"resets_recv, reset_events"
	[Q_CONN_INS] = "INSERT INTO conns (" CONN_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, "
		       "?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, "
		       "?24, ?25, ?26, ?27, ?28, ?29, ?30, ?31, ?32, ?33, ?34)",
	[Q_CONN_UPD] = "UPDATE conns SET (" CONN_COLS ") = (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, "
		       "?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, "
		       "?25, ?26, ?27, ?28, ?29, ?30, ?31, ?32, ?33, ?34) WHERE id = ?35",
	[Q_PROC_GET] = "SELECT id FROM processes WHERE pid = ?1 AND comm = ?2",
	[Q_PROC_PUT] = "INSERT INTO processes (pid, comm) VALUES (?1, ?2)",
	[Q_PIECE] =
		"INSERT INTO rollups (res, t, conn, part, process_id, cgroup, ticks, first_ns, "
		"last_ns, age_ns, state, closed, bytes_in, bytes_out, packets_in, packets_out, "
		"retrans, resets, peak_rate_in, peak_rate_out, rtt_sum_us, rtt_n, rtt_min_us, "
		"rtt_max_us) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, "
		"?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24) "
		"ON CONFLICT (res, t, conn, part) DO UPDATE SET process_id = excluded.process_id, "
		"cgroup = excluded.cgroup, ticks = excluded.ticks, first_ns = excluded.first_ns, "
		"last_ns = excluded.last_ns, age_ns = excluded.age_ns, state = excluded.state, "
		"closed = excluded.closed, bytes_in = excluded.bytes_in, "
		"bytes_out = excluded.bytes_out, packets_in = excluded.packets_in, "
		"packets_out = excluded.packets_out, retrans = excluded.retrans, "
		"resets = excluded.resets, peak_rate_in = excluded.peak_rate_in, "
		"peak_rate_out = excluded.peak_rate_out, rtt_sum_us = excluded.rtt_sum_us, "
		"rtt_n = excluded.rtt_n, rtt_min_us = excluded.rtt_min_us, "
		"rtt_max_us = excluded.rtt_max_us",
	[Q_SEG_BYTES] = "SELECT coalesce(sum(bytes), 0) FROM segments",
	[Q_RET_LIST] = "SELECT id, recording_id, file, bytes, coalesce(t_end_ns, created_ns) "
		       "FROM segments WHERE sealed = 1 AND id <> ?1 "
		       "ORDER BY coalesce(t_start_ns, created_ns), id",
	[Q_RET_SEG] = "DELETE FROM segments WHERE id = ?1",
	/*
	 * Every table-specific deletion of retention is one of the Q_RET_*
	 * statements below, run in this order in the transaction that deletes a
	 * segment (?1 is the segment's recording): the rest of the retention
	 * code knows only segments and recordings.
	 *
	 * What the recording still has on disk starts with its oldest segment;
	 * summaries that end before that describe data that is gone. A
	 * connection still open is never one of them: every remaining segment
	 * restates it in its keyframes, however long it has been idle.
	 */
	[Q_RET_CONNS] = "DELETE FROM conns WHERE recording_id = ?1 AND close_ns IS NOT NULL "
			"AND max(close_ns, last_seen_ns) < "
			"(SELECT min(coalesce(t_start_ns, created_ns)) FROM segments "
			"WHERE recording_id = ?1)",
	[Q_RET_ROLLUPS] = "DELETE FROM rollups WHERE (t + res) * 1000000000 <= "
			  "(SELECT min(coalesce(t_start_ns, created_ns)) FROM segments "
			  "WHERE recording_id = ?1) AND conn IN "
			  "(SELECT id FROM conns WHERE recording_id = ?1)",
	/* rollups have no foreign key: a recording that goes takes them along */
	[Q_RET_REC_ROLLUPS] = "DELETE FROM rollups WHERE conn IN (SELECT id FROM conns WHERE "
			      "recording_id = ?1) AND NOT EXISTS (SELECT 1 FROM segments WHERE "
			      "recording_id = ?1)",
	/*
	 * Processes no row names any more, once a recording went (rows of a
	 * live recording keep theirs).
	 */
	[Q_RET_PROCS] = "DELETE FROM processes WHERE NOT EXISTS (SELECT 1 FROM recordings WHERE "
			"id = ?1) AND id NOT IN (SELECT process_id FROM conns) AND id NOT IN "
			"(SELECT process_id FROM rollups)",
	/* its conns go with it (ON DELETE CASCADE) */
	[Q_RET_REC] = "DELETE FROM recordings WHERE id = ?1 AND NOT EXISTS "
		      "(SELECT 1 FROM segments WHERE recording_id = ?1)",
	/*
	 * A segment file (?1, of recording ?2, sequence ?3) that the index does
	 * not name and that retention had removed the rows of when it died:
	 * older than every segment the index keeps of its recording, or of a
	 * recording older than every recording the index keeps. A file made by
	 * a run that died before naming it is its recording's newest, never that.
	 */
	[Q_RET_ORPHAN] = "SELECT NOT EXISTS (SELECT 1 FROM segments WHERE file = ?1) AND "
			 "CASE WHEN EXISTS (SELECT 1 FROM recordings WHERE id = ?2) "
			 "THEN ?3 < (SELECT min(seq) FROM segments WHERE recording_id = ?2) "
			 "ELSE ?2 < (SELECT min(id) FROM recordings) END",
};

/* A processes row, cached: most rows of a block name a process met before. */
#define PROC_CACHE 256
struct proc_slot {
	int64_t id; /* 0: empty */
	uint32_t pid;
	char comm[TT_COMM_MAX];
};

struct tt_store {
	sqlite3 *db;
	char *dir; /* as given to open */
	int dfd; /* the directory, opened once: every file in it is opened relative to it */
	int64_t gid; /* >= 0: the group files this store creates get (reindex keeps index.db's) */
	int file_mode; /* of the files it creates: see tt_store_file_mode */
	int opened; /* tt_store_open succeeded: a refused store is left as it was */
	int immutable; /* a reader reading index.db alone (see read_immutable) */
	enum tt_store_mode mode; /* TT_STORE_REBUILD opens as a writer of db_name */
	const char *db_name; /* "index.db", or "index.db.rebuild" while reindexing */
	int lock_fd; /* DIR/LOCK, flock()ed; -1 for readers */
	int version; /* PRAGMA user_version */
	int has_keyframe; /* blocks.keyframe exists (schema 2 on) */
	sqlite3_stmt *q[Q_MAX];
	int64_t seg_id; /* the last segment tt_store_block saw, and its recording */
	int64_t seg_rec;
	int64_t bucket_rec; /* recording whose bucket_ns was last set from an indexer */
	struct tt_ev_loss loss; /* last losses written, for blocks that bring none */
	int64_t *rowids; /* conns.id of each drained lifetime */
	size_t rowids_cap;
	struct proc_slot procs[PROC_CACHE]; /* processes rows met lately */
	int swept; /* retention looked for files left by an interrupted pass */
	sqlite3 *xdb; /* EXPORT: the read-write connection of the export cursors */
	sqlite3_stmt *xq; /* its cursor upsert */
	int x_rollback; /* EXPORT: the index was in rollback mode: back to it at close */
	char err[512];
	char warn[640]; /* from open; see tt_store_warning */
};

/* Tests only: see tt_store_test_schema. */
static int test_max_embedded;
static const char *test_extra_sql;

void tt_store_test_schema(int max_embedded, const char *extra_sql)
{
	test_max_embedded = max_embedded;
	test_extra_sql = extra_sql;
}

static int embedded_count(void)
{
	if (test_max_embedded > 0 && test_max_embedded < N_MIGRATIONS)
		return test_max_embedded;
	return N_MIGRATIONS;
}

/* The schema version this build produces. */
static int known_version(void)
{
	return embedded_count() + (test_extra_sql ? 1 : 0);
}

static int fail(struct tt_store *s, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct tt_store *s, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->err, sizeof(s->err), fmt, ap);
	va_end(ap);
	return err;
}

static int errno_of(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
		return 0;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_READONLY:
		return -EROFS;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return -EACCES;
	case SQLITE_CANTOPEN:
		return -ENOENT;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return -EBADMSG;
	case SQLITE_CONSTRAINT:
		return -EEXIST;
	case SQLITE_NOTFOUND:
		return -ENOENT;
	default:
		return -EIO;
	}
}

/* An SQLite failure as errno and message; call before anything resets the handle. */
static int sql_fail(struct tt_store *s, int rc, const char *what)
{
	return fail(s, errno_of(rc), "%s/index.db: %s: %s", s->dir, what, sqlite3_errmsg(s->db));
}

static sqlite3_stmt *stmt(struct tt_store *s, int which)
{
	int rc;

	if (s->q[which])
		return s->q[which];
	rc = sqlite3_prepare_v3(s->db, q_sql[which], -1, SQLITE_PREPARE_PERSISTENT, &s->q[which],
				NULL);
	if (rc != SQLITE_OK) {
		sql_fail(s, rc, "preparing a statement");
		s->q[which] = NULL;
	}
	return s->q[which];
}

/* Run q to completion and make it reusable. 0 or a negative errno. */
static int run(struct tt_store *s, sqlite3_stmt *q, const char *what)
{
	int rc;

	while ((rc = sqlite3_step(q)) == SQLITE_ROW)
		;
	if (rc != SQLITE_DONE) {
		int err = sql_fail(s, rc, what);

		sqlite3_reset(q);
		sqlite3_clear_bindings(q);
		return err;
	}
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	return 0;
}

static int exec(struct tt_store *s, const char *sql, const char *what)
{
	int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : sql_fail(s, rc, what);
}

/* The first column of a one-row query as an integer. */
static int query_int(struct tt_store *s, const char *sql, int64_t *val, const char *what)
{
	sqlite3_stmt *q;
	int rc = sqlite3_prepare_v2(s->db, sql, -1, &q, NULL);

	if (rc != SQLITE_OK)
		return sql_fail(s, rc, what);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		*val = sqlite3_column_int64(q, 0);
		rc = SQLITE_OK;
	} else if (rc == SQLITE_DONE) {
		rc = SQLITE_OK;
		*val = 0;
	}
	if (rc != SQLITE_OK) {
		int err = sql_fail(s, rc, what);

		sqlite3_finalize(q);
		return err;
	}
	sqlite3_finalize(q);
	return 0;
}

static int begin(struct tt_store *s)
{
	sqlite3_stmt *q = stmt(s, Q_BEGIN);

	return q ? run(s, q, "starting a transaction") : -EIO;
}

static int commit(struct tt_store *s)
{
	sqlite3_stmt *q = stmt(s, Q_COMMIT);

	return q ? run(s, q, "committing") : -EIO;
}

/* Undo a failed transaction; the first error is what gets reported. */
static void rollback(struct tt_store *s)
{
	/* processes rows the transaction added are gone with it */
	memset(s->procs, 0, sizeof(s->procs));
	if (sqlite3_get_autocommit(s->db))
		return; /* SQLite rolled back already */
	sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

static int writable(struct tt_store *s)
{
	if (s->mode != TT_STORE_WRITE)
		return fail(s, -EBADF, "%s: the store is open read-only", s->dir);
	return 0;
}

/* ---- open ------------------------------------------------------------------ */

/*
 * Open DIR as s->dfd; with mode >= 0 (we just made it), set exactly that mode,
 * which the umask may have narrowed.
 */
static int open_dir(struct tt_store *s, int mode)
{
	s->dfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dfd < 0) {
		if (errno == ENOTDIR)
			return fail(s, -ENOTDIR, "%s is not a directory", s->dir);
		return fail(s, -errno, "%s: %s", s->dir, strerror(errno));
	}
	if (mode >= 0 && fchmod(s->dfd, (mode_t)mode) < 0)
		return fail(s, -errno, "%s: chmod: %s", s->dir, strerror(errno));
	return 0;
}

/*
 * Create DIR with exactly mode, or accept an existing directory; then open it
 * (s->dfd). DIR itself may be a symbolic link (to a store on another disk):
 * what counts is the directory it leads to, checked by check_owner.
 */
static int make_dir(struct tt_store *s, int mode)
{
	int created = mkdir(s->dir, (mode_t)mode) == 0;

	if (!created && errno != EEXIST)
		return fail(s, -errno, "%s: creating the store: %s", s->dir, strerror(errno));
	return open_dir(s, created ? mode : -1);
}

/*
 * A writer (the recorder runs as root) writes only into a directory that no
 * one else controls: owned by its effective user and writable by nobody else.
 * Anyone else who can create names in it can plant a LOCK or index.db symlink
 * to a file of root's, or swap a segment for one.
 */
static int check_owner(struct tt_store *s)
{
	struct stat st;

	if (fstat(s->dfd, &st) < 0)
		return fail(s, -errno, "%s: %s", s->dir, strerror(errno));
	if (st.st_uid != geteuid())
		return fail(s, -EPERM,
			    "%s: owned by uid %u, not by this user (uid %u): refusing to write a "
			    "store another user controls",
			    s->dir, (unsigned)st.st_uid, (unsigned)geteuid());
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		return fail(s, -EPERM,
			    "%s: writable by %s (mode %04o): refusing to write a store others "
			    "can plant files in (chmod go-w)",
			    s->dir, st.st_mode & S_IWOTH ? "others" : "its group",
			    (unsigned)(st.st_mode & 07777));
	return 0;
}

/*
 * Refuse name in the store if it is there and is not a regular file: a
 * symbolic link (SQLite and open(2) would follow it to a file of someone
 * else's) or a FIFO (SQLite would hang on it). 0 if it is absent or regular.
 */
static int check_regular(struct tt_store *s, const char *name)
{
	struct stat st;

	if (fstatat(s->dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 0;
		return fail(s, -errno, "%s/%s: %s", s->dir, name, strerror(errno));
	}
	if (S_ISLNK(st.st_mode))
		return fail(s, -ELOOP, "%s/%s: a symbolic link, refused", s->dir, name);
	if (!S_ISREG(st.st_mode))
		return fail(s, -EINVAL, "%s/%s: not a regular file", s->dir, name);
	return 0;
}

/*
 * Create name in the store with exactly mode, if it does not exist: O_EXCL
 * tells us we made it, and fchmod undoes whatever the umask took away.
 * Never follows a symbolic link. Returns the fd (the caller closes it) or a
 * negative errno.
 */
static int create_file(struct tt_store *s, const char *name, int mode, int *created)
{
	int fd = openat(s->dfd, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			(mode_t)mode);
	struct stat st;

	*created = fd >= 0;
	if (fd < 0 && errno == EEXIST)
		fd = openat(s->dfd, name, O_RDWR | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ELOOP)
		return fail(s, -ELOOP, "%s/%s: a symbolic link, refused", s->dir, name);
	if (fd < 0)
		return fail(s, -errno, "%s/%s: %s", s->dir, name, strerror(errno));
	/* a FIFO or a device where the store keeps a file: SQLite would hang on it */
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return fail(s, -EINVAL, "%s/%s: not a regular file", s->dir, name);
	}
	if (*created && ((s->gid >= 0 && st.st_gid != (gid_t)s->gid &&
			  fchown(fd, (uid_t)-1, (gid_t)s->gid) < 0) ||
			 fchmod(fd, (mode_t)mode) < 0)) {
		int err = -errno;

		close(fd);
		return fail(s, err, "%s/%s: chmod: %s", s->dir, name, strerror(-err));
	}
	return fd;
}

static int take_lock(struct tt_store *s, int file_mode)
{
	char buf[32];
	int created, fd;
	ssize_t n;

	fd = create_file(s, "LOCK", file_mode, &created);
	if (fd < 0)
		return fd;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int err = errno;
		long pid = 0;

		if (err != EWOULDBLOCK) {
			close(fd);
			return fail(s, -err, "%s/LOCK: locking: %s", s->dir, strerror(err));
		}
		n = pread(fd, buf, sizeof(buf) - 1, 0);
		close(fd);
		if (n > 0) {
			buf[n] = 0;
			pid = strtol(buf, NULL, 10);
		}
		if (pid > 0)
			return fail(s, -EBUSY, "%s is being recorded by pid %ld", s->dir, pid);
		return fail(s, -EBUSY, "%s is being recorded by another process", s->dir);
	}
	/* only for the message above: the lock itself is what counts */
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)n, 0) != n) {
		int err = errno;

		close(fd);
		return fail(s, -err, "%s/LOCK: %s", s->dir, strerror(err));
	}
	s->lock_fd = fd;
	return 0;
}

static int migration_sql(int version, const char **name, const char **sql)
{
	if (version <= embedded_count()) {
		*name = tt_migrations[version - 1].name;
		*sql = tt_migrations[version - 1].sql;
		return 0;
	}
	if (version == embedded_count() + 1 && test_extra_sql) {
		*name = "test migration";
		*sql = test_extra_sql;
		return 0;
	}
	return -ENOENT;
}

/*
 * tt_addr_code(text), for migration 0002: an address as 0001 stored it
 * ('10.0.0.1', '::1', '*') as 0002 does (integer, text, NULL).
 */
static void addr_code_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	const char *t = (const char *)sqlite3_value_text(argv[0]);
	struct in_addr a4;

	(void)argc;
	if (!t || !strcmp(t, "*"))
		sqlite3_result_null(ctx);
	else if (inet_pton(AF_INET, t, &a4) == 1)
		sqlite3_result_int64(ctx, ntohl(a4.s_addr));
	else
		sqlite3_result_value(ctx, argv[0]);
}

/*
 * Bring the schema from s->version to what this build knows, all in one
 * transaction, so an index is at its old version or the new one, never in
 * between. Foreign keys are off meanwhile (SQLite cannot switch them inside a
 * transaction, and a migration may rebuild a table), so they are checked
 * before the commit.
 */
static int migrate(struct tt_store *s)
{
	int target = known_version(), v, err;
	char what[128], pragma[64];
	const char *name = "", *sql = "";
	int64_t bad;

	if ((err = exec(s, "PRAGMA foreign_keys = OFF", "disabling foreign keys")) ||
	    (err = exec(s, "BEGIN IMMEDIATE", "starting the migration")))
		return err;
	if (sqlite3_create_function(s->db, "tt_addr_code", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC,
				    NULL, addr_code_fn, NULL, NULL) != SQLITE_OK) {
		err = fail(s, -ENOMEM, "%s/index.db: out of memory", s->dir);
		goto fail;
	}
	for (v = s->version + 1; v <= target; v++) {
		if (migration_sql(v, &name, &sql)) {
			err = fail(s, -ENOENT, "%s/index.db: no migration to schema %d", s->dir, v);
			goto fail;
		}
		snprintf(what, sizeof(what), "migrating to schema %d (%s)", v, name);
		if ((err = exec(s, sql, what)))
			goto fail;
	}
	err = query_int(s, "SELECT count(*) FROM pragma_foreign_key_check", &bad,
			"checking foreign keys");
	if (err)
		goto fail;
	if (bad) {
		err = fail(s, -EBADMSG,
			   "%s/index.db: migrating to schema %d: %" PRId64
			   " rows break foreign keys",
			   s->dir, target, bad);
		goto fail;
	}
	snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", target);
	if ((err = exec(s, pragma, "setting the schema version")) ||
	    (err = exec(s, "COMMIT", "committing the migration")))
		goto fail;
	s->version = target;
	sqlite3_create_function(s->db, "tt_addr_code", 1, SQLITE_UTF8, NULL, NULL, NULL, NULL);
	return 0;
fail:
	rollback(s);
	sqlite3_create_function(s->db, "tt_addr_code", 1, SQLITE_UTF8, NULL, NULL, NULL, NULL);
	return err;
}

/* Schema 1 has no blocks.keyframe (every block of it is a keyframe block). */
static int find_keyframe_column(struct tt_store *s)
{
	int64_t n;
	int err = query_int(s,
			    "SELECT count(*) FROM pragma_table_info('blocks') WHERE name = "
			    "'keyframe'",
			    &n, "reading the blocks table's columns");

	s->has_keyframe = !err && n > 0;
	return err;
}

/* SQLite answers with the mode it ended up in, which is not WAL where WAL cannot work. */
static int cut_wal(struct tt_store *s);

static int set_wal(struct tt_store *s)
{
	const char *mode;
	sqlite3_stmt *q;
	int rc, wal;

	rc = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = WAL", -1, &q, NULL);
	if (rc != SQLITE_OK)
		return sql_fail(s, rc, "switching to WAL");
	rc = sqlite3_step(q);
	if (rc != SQLITE_ROW) {
		int err = sql_fail(s, rc, "switching to WAL");

		sqlite3_finalize(q);
		return err;
	}
	mode = (const char *)sqlite3_column_text(q, 0);
	wal = mode && !strcmp(mode, "wal");
	sqlite3_finalize(q);
	if (!wal)
		return fail(s, -ENOTSUP,
			    "%s/index.db: the file system does not support "
			    "SQLite's WAL mode (shared memory)",
			    s->dir);
	return 0;
}

/*
 * An index made before incremental vacuum (auto_vacuum NONE) keeps the pages
 * that retention frees: SQLite reuses them but the file never shrinks.
 * Converting it takes a VACUUM, once: SQLite builds a copy in a temporary
 * file (SQLITE_TMPDIR, /var/tmp or /tmp, perhaps this file system) and
 * writes it back through the WAL, so it needs room for two copies. It is one
 * transaction: a crash leaves the old index, and the next open tries again.
 * Without the room, or if it fails, the index stays as it is, with a warning.
 */
static int convert_vacuum(struct tt_store *s)
{
	int64_t mode = 0, pages = 0, page_size = 0;
	struct statvfs vfs;
	uint64_t need, avail;
	int err;

	if ((err = query_int(s, "PRAGMA auto_vacuum", &mode, "reading auto_vacuum")))
		return err;
	if (mode == 2) /* INCREMENTAL */
		return 0;
	if ((err = query_int(s, "PRAGMA page_count", &pages, "reading the page count")) ||
	    (err = query_int(s, "PRAGMA page_size", &page_size, "reading the page size")))
		return err;
	need = 2 * (uint64_t)pages * (uint64_t)page_size + (1u << 20);
	if (statvfs(s->dir, &vfs) < 0)
		return fail(s, -errno, "%s: %s", s->dir, strerror(errno));
	avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
	if (avail < need) {
		snprintf(s->warn, sizeof(s->warn),
			 "%s/index.db: not converted to incremental vacuum (needs %" PRIu64
			 " MiB free, %" PRIu64 " MiB are): space that retention frees in the index "
			 "is reused but not given back",
			 s->dir, need >> 20, avail >> 20);
		return 0;
	}
	if ((err = exec(s, "PRAGMA auto_vacuum = INCREMENTAL", "setting auto_vacuum")))
		return err;
	if (exec(s, "VACUUM", "converting to incremental vacuum")) {
		snprintf(s->warn, sizeof(s->warn),
			 "%.500s: space that retention frees in the index is reused but not given back",
			 s->err);
		s->err[0] = 0;
		return 0;
	}
	/* the copy went through the WAL: give its room back now */
	return cut_wal(s);
}

int tt_store_sqlite_uri(char *out, size_t len, const char *path, int immutable)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;
	const char *p;

	n = (size_t)snprintf(out, len, "file:");
	for (p = path; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if (n + 4 >= len)
			return -ENAMETOOLONG;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    strchr("/._-~", c)) {
			out[n++] = (char)c;
		} else {
			out[n++] = '%';
			out[n++] = hex[c >> 4];
			out[n++] = hex[c & 15];
		}
	}
	out[n] = '\0';
	if (immutable && n + 13 >= len)
		return -ENAMETOOLONG;
	if (immutable)
		memcpy(out + n, "?immutable=1", 13);
	return 0;
}

/*
 * Is any SQLite connection attached to the index? Each one holds a read lock
 * on the "DMS" byte of -shm (offset 128, SQLite's os_unix.c) for as long as it
 * is open; F_GETLK sees it without taking anything (our own are not shown).
 */
static int shm_attached(struct tt_store *s)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 128, .l_len = 1 };
	char name[64];
	int fd, held;

	snprintf(name, sizeof(name), "%s-shm", s->db_name);
	fd = openat(s->dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return 0;
	/* if we cannot tell, someone may be: do not read immutable */
	held = fcntl(fd, F_GETLK, &fl) < 0 || fl.l_type != F_UNLCK;
	close(fd);
	return held;
}

/*
 * A reader that cannot write the store directory cannot create index.db-wal
 * and -shm, which SQLite needs to read a WAL database, nor rebuild a -shm a
 * killed writer left (SQLite then answers "locking protocol" when the -wal
 * holds no frame but the -shm says it does). When the -wal holds no frame
 * (absent, or shorter than its 32-byte header) and no connection is attached
 * to the index, the index is whole in index.db: read it immutable then. A
 * writer that closes cleanly leaves the index in rollback mode (see
 * tt_store_close), which any reader opens read-only as it is; this is for an
 * index a crash or a busy close left in WAL mode. 1: open immutable.
 */
static int read_immutable(struct tt_store *s)
{
	unsigned char hdr[20];
	struct stat st;
	int fd, wal;

	if (faccessat(s->dfd, ".", W_OK, AT_EACCESS) == 0)
		return 0;
	if (fstatat(s->dfd, "index.db-wal", &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    (st.st_size >= 32 || shm_attached(s)))
		return 0;
	fd = openat(s->dfd, s->db_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return 0;
	/* file format bytes 18 and 19: 2 and 2 for WAL */
	wal = pread(fd, hdr, sizeof(hdr), 0) == (ssize_t)sizeof(hdr) && hdr[18] == 2 &&
	      hdr[19] == 2;
	close(fd);
	return wal;
}

/* SQLite on path; immutable: as a URI with immutable=1 (s->immutable set). */
static int connect_db(struct tt_store *s, const char *path, int flags, int immutable)
{
	char uri[4096 * 3 + 16];
	int rc;

	s->immutable = immutable;
	if (immutable) {
		if (tt_store_sqlite_uri(uri, sizeof(uri), path, 1))
			return fail(s, -ENAMETOOLONG, "%s: path too long", path);
		rc = sqlite3_open_v2(uri, &s->db, flags | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX,
				     NULL);
	} else {
		rc = sqlite3_open_v2(path, &s->db, flags | SQLITE_OPEN_NOMUTEX, NULL);
	}
	if (rc != SQLITE_OK) {
		if (!s->db)
			return fail(s, -ENOMEM, "%s: out of memory", path);
		return sql_fail(s, rc, "opening");
	}
	sqlite3_extended_result_codes(s->db, 1);
	/* readers and the writer's checkpoints may meet: wait a little, not forever */
	sqlite3_busy_timeout(s->db, 5000);
	return 0;
}

/*
 * A reader that failed to read the index through its -wal: could it be that
 * it only lacks the right to rebuild the -shm a killed writer left? (It cannot
 * write the directory, and no connection is attached.)
 */
static int cannot_recover(struct tt_store *s)
{
	return faccessat(s->dfd, ".", W_OK, AT_EACCESS) < 0 && !shm_attached(s);
}

/*
 * SQLite opens the index and its side files by path and would follow a
 * symbolic link planted in their place: none may be one. (A writer's
 * directory is writable by nobody else, so this stays true.)
 */
static int check_side_files(struct tt_store *s)
{
	static const char *const side[] = { "", "-wal", "-shm", "-journal" };
	char name[64];
	size_t i;
	int err;

	for (i = 0; i < sizeof(side) / sizeof(side[0]); i++) {
		snprintf(name, sizeof(name), "%s%s", s->db_name, side[i]);
		if ((err = check_regular(s, name)))
			return err;
	}
	return 0;
}

static int open_db(struct tt_store *s, int file_mode)
{
	int flags = s->mode == TT_STORE_WRITE ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY;
	char path[4096];
	struct stat st;
	int64_t v;
	int err;

	if ((err = check_side_files(s)))
		return err;
	snprintf(path, sizeof(path), "%s/%s", s->dir, s->db_name);
	if (s->mode == TT_STORE_WRITE) {
		int created, fd = create_file(s, s->db_name, file_mode, &created);

		/*
		 * SQLite then gives index.db-wal and -shm the mode of index.db,
		 * so none of the three is wider than file_mode.
		 */
		if (fd < 0)
			return fd;
		close(fd);
	} else if (fstatat(s->dfd, s->db_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return fail(s, -ENOENT, "%s is not a tcptop store (no index.db)", s->dir);
		return fail(s, -errno, "%s: %s", path, strerror(errno));
	}
	flags |= SQLITE_OPEN_NOFOLLOW;
	err = connect_db(s, path, flags, s->mode == TT_STORE_READ && read_immutable(s));
	if (!err)
		err = query_int(s, "PRAGMA user_version", &v, "reading the schema version");
	if (err && s->mode == TT_STORE_READ && !s->immutable && cannot_recover(s)) {
		/*
		 * A killed writer's -wal and -shm that we may not rewrite: what
		 * the last checkpoint left in index.db is all we can read.
		 */
		snprintf(s->warn, sizeof(s->warn),
			 "%s: the index's -wal, left by a recorder that was killed, cannot be read "
			 "without write access to the store (%.100s): read without it, the last few "
			 "seconds indexed may be missing until the store's owner opens it",
			 s->dir, s->err);
		sqlite3_close(s->db);
		s->db = NULL;
		err = connect_db(s, path, flags, 1);
		if (!err)
			err = query_int(s, "PRAGMA user_version", &v, "reading the schema version");
	}
	if (err)
		return err;
	s->version = (int)v;
	if (v > known_version())
		return fail(s, -EPROTO,
			    "%s/index.db has schema version %" PRId64
			    ", newer than this tcptop (" TT_VERSION
			    ") knows (%d): use a newer tcptop",
			    s->dir, v, known_version());
	if (s->mode == TT_STORE_READ) {
		/*
		 * Readers read every released schema as it is (what they query
		 * exists in each, or they ask tt_store_schema_version), so a
		 * store stays readable where it cannot be written.
		 */
		int64_t tables = 0;

		/* a recorder killed while it created the index leaves it empty */
		if (v == 0 &&
		    !query_int(s, "SELECT count(*) FROM sqlite_master", &tables,
			       "reading the schema") &&
		    tables == 0)
			return fail(s, -ENODATA,
				    "%s holds no recording yet (its index.db is empty: a recorder "
				    "stopped while it created it)",
				    s->dir);
		if (v < 1)
			return fail(s, -EPROTO,
				    "%s/index.db has schema version %" PRId64
				    ", older than this tcptop reads (1): opening the store for "
				    "writing (tcptop-record) migrates it",
				    s->dir, v);
		if ((err = find_keyframe_column(s)))
			return err;
		return exec(s, "PRAGMA foreign_keys = ON", "enabling foreign keys");
	}

	/*
	 * A new index gives freed pages back (incremental vacuum, run after
	 * retention). SQLite takes the setting only before the first page is
	 * written, which switching to WAL already does.
	 */
	if (v == 0 && (err = exec(s, "PRAGMA auto_vacuum = INCREMENTAL", "setting auto_vacuum")))
		return err;
	/* WAL: readers never block the recorder; NORMAL is crash-safe with WAL */
	if ((err = set_wal(s)) ||
	    (err = exec(s, "PRAGMA synchronous = NORMAL", "setting synchronous")))
		return err;
	/*
	 * Checkpoint after every commit (one per block) instead of at SQLite's
	 * 1000 pages, and cut the WAL back when it restarts: it then holds one
	 * block's transaction, not up to 4 MiB more than the index, which is
	 * what fills a disk that retention keeps nearly full.
	 */
	if ((err = exec(s, "PRAGMA wal_autocheckpoint = 1", "setting the checkpoint interval")) ||
	    (err = exec(s, "PRAGMA journal_size_limit = 0", "limiting the WAL")))
		return err;
	if (s->version < known_version() && (err = migrate(s)))
		return err;
	if ((err = convert_vacuum(s)) || (err = find_keyframe_column(s)))
		return err;
	return exec(s, "PRAGMA foreign_keys = ON", "enabling foreign keys");
}

/* Run a journal_mode pragma on db: *wal whether the mode it answers is WAL. */
static int journal_wal(sqlite3 *db, const char *sql, int *wal)
{
	sqlite3_stmt *q = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &q, NULL);

	if (rc == SQLITE_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		const char *mode = (const char *)sqlite3_column_text(q, 0);

		*wal = mode && !strcmp(mode, "wal");
		rc = SQLITE_OK;
	}
	sqlite3_finalize(q);
	return rc;
}

/*
 * EXPORT: the second connection, read-write, for the export cursors. A scan
 * keeps statements of the first one open across the cursor writes, and a
 * write on that connection would not commit before they end; a second
 * connection commits at once, but only in WAL mode does the first one's read
 * not block it. An index in rollback mode goes to WAL first, before the
 * reader connects, and back at tt_store_close. SQLite creates the -wal and
 * -shm with index.db's mode, whatever the umask, and as root with its owner
 * and group (a --group store's directory gives its group to others' files):
 * the files a writer's connection makes, made the same way.
 */
static int export_connect(struct tt_store *s)
{
	char path[4096];
	struct stat st;
	int rc, wal = 0, err;

	if ((err = check_side_files(s)))
		return err;
	snprintf(path, sizeof(path), "%s/index.db", s->dir);
	if (fstatat(s->dfd, "index.db", &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return fail(s, -ENOENT, "%s is not a tcptop store (no index.db)", s->dir);
		return fail(s, -errno, "%s: %s", path, strerror(errno));
	}
	if (sqlite3_open_v2(path, &s->xdb,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW,
			    NULL) != SQLITE_OK)
		return fail(s, -EIO, "%s: %s", path,
			    s->xdb ? sqlite3_errmsg(s->xdb) : "out of memory");
	sqlite3_extended_result_codes(s->xdb, 1);
	sqlite3_busy_timeout(s->xdb, 5000);
	rc = journal_wal(s->xdb, "PRAGMA journal_mode", &wal);
	if (rc == SQLITE_OK && !wal) {
		s->x_rollback = 1;
		rc = journal_wal(s->xdb, "PRAGMA journal_mode = WAL", &wal);
	}
	if (rc != SQLITE_OK)
		return fail(s, -EIO, "%s: journal mode: %s", path, sqlite3_errmsg(s->xdb));
	if (!wal)
		return fail(s, -ENOTSUP,
			    "%s: the file system does not support SQLite's WAL mode (shared memory)",
			    path);
	return 0;
}

int tt_store_open(const char *dir, enum tt_store_mode mode, int dir_mode, int file_mode,
		  struct tt_store **out, char *why, size_t why_len)
{
	struct tt_store *s;
	int err;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (!s || !(s->dir = strdup(dir))) {
		free(s);
		snprintf(why, why_len, "out of memory");
		return -ENOMEM;
	}
	/* EXPORT reads as READ does; the cursors have a connection of their own */
	s->mode = mode == TT_STORE_REBUILD  ? TT_STORE_WRITE
		  : mode == TT_STORE_EXPORT ? TT_STORE_READ
					    : mode;
	s->db_name = mode == TT_STORE_REBUILD ? "index.db.rebuild" : "index.db";
	s->lock_fd = -1;
	s->dfd = -1;
	s->gid = -1;
	s->seg_id = -1;
	s->bucket_rec = -1;

	if (mode == TT_STORE_WRITE) {
		struct stat ist;

		err = make_dir(s, dir_mode);
		if (!err)
			err = check_owner(s);
		/* a store shared with its group (--group once) stays shared */
		if (!err && fstatat(s->dfd, "index.db", &ist, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(ist.st_mode))
			file_mode |= (int)(ist.st_mode & 0640);
		if (!err)
			err = take_lock(s, file_mode);
	} else if (mode == TT_STORE_REBUILD) {
		static const char *const left[] = { "index.db.rebuild", "index.db.rebuild-wal",
						    "index.db.rebuild-shm",
						    "index.db.rebuild-journal" };
		struct stat ist;
		size_t i;

		/* a rebuild left over from an interrupted reindex is rebuilt anew */
		err = open_dir(s, -1);
		if (!err)
			err = check_owner(s);
		/* the new index keeps the old one's mode and group (a --group store) */
		if (!err && fstatat(s->dfd, "index.db", &ist, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(ist.st_mode)) {
			file_mode = (int)(ist.st_mode & 0666);
			s->gid = (int64_t)ist.st_gid;
		}
		if (!err)
			err = take_lock(s, file_mode);
		for (i = 0; !err && i < sizeof(left) / sizeof(left[0]); i++)
			if (unlinkat(s->dfd, left[i], 0) < 0 && errno != ENOENT)
				err = fail(s, -errno, "%s/%s: %s", dir, left[i], strerror(errno));
	} else {
		err = open_dir(s, -1);
		if (!err && mode == TT_STORE_EXPORT)
			err = export_connect(s);
	}
	s->file_mode = file_mode;
	if (!err)
		err = open_db(s, file_mode);
	if (err) {
		snprintf(why, why_len, "%s", s->err);
		tt_store_close(s);
		return err;
	}
	s->opened = 1;
	*out = s;
	return 0;
}

int tt_store_share_with_group(const char *dir, const char *group, char *why, size_t why_len)
{
	struct group *gr = getgrnam(group);

	if (!gr) {
		snprintf(why, why_len, "--group: no group named '%s'", group);
		return -ENOENT;
	}
	if (mkdir(dir, 02750) < 0 && errno != EEXIST) {
		snprintf(why, why_len, "%s: creating the store: %s", dir, strerror(errno));
		return -errno;
	}
	/* setgid on the directory: files made in it later take its group */
	if (chown(dir, (uid_t)-1, gr->gr_gid) < 0 || chmod(dir, 02750) < 0) {
		int err = errno;

		snprintf(why, why_len, "%s: giving it to group %s: %s", dir, group, strerror(err));
		return -err;
	}
	return 0;
}

const char *tt_store_errmsg(const struct tt_store *s)
{
	return s->err[0] ? s->err : "no error";
}

const char *tt_store_warning(const struct tt_store *s)
{
	return s->warn[0] ? s->warn : NULL;
}

int tt_store_segment_name(char *name, size_t len, int64_t rec, uint32_t seq)
{
	int n;

	if (rec < 0)
		return -EINVAL;
	n = snprintf(name, len, "r%06" PRId64 "-s%06" PRIu32 ".tts", rec, seq);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* Decimal digits at *p (at most max of them) into *v; how many there were. */
static int digits(const char **p, int max, uint64_t *v)
{
	int n = 0;

	for (*v = 0; **p >= '0' && **p <= '9'; (*p)++, n++) {
		if (n == max)
			return max + 1;
		*v = *v * 10 + (uint64_t)(**p - '0');
	}
	return n;
}

int tt_store_segment_name_parse(const char *name, int64_t *rec, uint32_t *seq)
{
	char again[TT_SEG_NAME_MAX];
	const char *p = name;
	uint64_t r, q;
	int n;

	if (*p++ != 'r')
		return 0;
	n = digits(&p, 18, &r);
	if (n < 6 || n > 18 || p[0] != '-' || p[1] != 's')
		return 0;
	p += 2;
	n = digits(&p, 10, &q);
	if (n < 6 || n > 10 || q > UINT32_MAX || strcmp(p, ".tts"))
		return 0;
	/* one spelling per segment: no extra leading zeros */
	if (tt_store_segment_name(again, sizeof(again), (int64_t)r, (uint32_t)q) ||
	    strcmp(again, name))
		return 0;
	if (rec)
		*rec = (int64_t)r;
	if (seq)
		*seq = (uint32_t)q;
	return 1;
}

int tt_store_segment_path(struct tt_store *s, const char *file, char *path, size_t len)
{
	if (!file || !tt_store_segment_name_parse(file, NULL, NULL))
		return fail(s, -EINVAL,
			    "%s/index.db names the segment file '%s', not a name the store gives "
			    "its segments: refused",
			    s->dir, file ? file : "(null)");
	if ((size_t)snprintf(path, len, "%s/%s", s->dir, file) >= len)
		return fail(s, -ENAMETOOLONG, "%s/%s: path too long", s->dir, file);
	return 0;
}

int tt_store_file_mode(const struct tt_store *s)
{
	return s->file_mode;
}

const char *tt_store_dir(const struct tt_store *s)
{
	return s->dir;
}

int tt_store_schema_version(const struct tt_store *s)
{
	return s->version;
}

int tt_store_has_keyframe_column(const struct tt_store *s)
{
	return s->has_keyframe;
}

sqlite3 *tt_store_sqlite(struct tt_store *s)
{
	return s->db;
}

int tt_store_fail(struct tt_store *s, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->err, sizeof(s->err), fmt, ap);
	va_end(ap);
	return err;
}

/*
 * A writer leaves the index in rollback mode (journal_mode DELETE): with no
 * -wal and -shm needed, a reader that cannot write the directory (a --group
 * member) opens it read-only as it is. Only if no reader is connected at this
 * moment (otherwise it stays WAL: read_immutable). The next writer puts it
 * back in WAL mode.
 */
static void to_rollback(sqlite3 *db)
{
	sqlite3_busy_timeout(db, 0);
	sqlite3_exec(db, "PRAGMA journal_mode = DELETE", NULL, NULL, NULL);
}

void tt_store_close(struct tt_store *s)
{
	int i;

	if (!s)
		return;
	for (i = 0; i < Q_MAX; i++)
		sqlite3_finalize(s->q[i]);
	if (s->mode == TT_STORE_WRITE && s->opened && s->db)
		to_rollback(s->db);
	/* closing the last connection checkpoints the WAL; then others may write */
	sqlite3_close(s->db);
	if (s->xdb) {
		sqlite3_finalize(s->xq);
		/* an index export found in rollback mode goes back to it */
		if (s->x_rollback)
			to_rollback(s->xdb);
		sqlite3_close(s->xdb);
	}
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	if (s->dfd >= 0)
		close(s->dfd);
	free(s->rowids);
	free(s->dir);
	free(s);
}

int tt_store_each_unsealed(struct tt_store *s,
			   int (*fn)(void *ctx, int64_t seg_id, const char *file), void *ctx)
{
	struct unsealed {
		int64_t id;
		char file[256];
	} *list = NULL;
	size_t n = 0, cap = 0, i;
	sqlite3_stmt *q = NULL;
	int rc, err = 0;

	rc = sqlite3_prepare_v2(s->db, "SELECT id, file FROM segments WHERE sealed = 0 ORDER BY id",
				-1, &q, NULL);
	if (rc != SQLITE_OK)
		return sql_fail(s, rc, "listing unsealed segments");
	while (!err && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		if (tt_grow((void **)&list, &cap, n + 1, sizeof(*list))) {
			err = fail(s, -ENOMEM, "out of memory");
			break;
		}
		list[n].id = sqlite3_column_int64(q, 0);
		snprintf(list[n].file, sizeof(list[n].file), "%s",
			 (const char *)sqlite3_column_text(q, 1));
		n++;
	}
	sqlite3_finalize(q);
	for (i = 0; !err && i < n; i++)
		err = fn(ctx, list[i].id, list[i].file);
	free(list);
	return err;
}

int tt_store_rebuild_commit(struct tt_store *s)
{
	int i;

	for (i = 0; i < Q_MAX; i++) {
		sqlite3_finalize(s->q[i]);
		s->q[i] = NULL;
	}
	/* the last connection's close checkpoints and removes the rebuild's WAL */
	to_rollback(s->db);
	if (sqlite3_close(s->db) != SQLITE_OK)
		return fail(s, -EIO, "%s/%s: %s", s->dir, s->db_name, sqlite3_errmsg(s->db));
	s->db = NULL;
	/* the old index's WAL must go first: replayed into the new file it would
	 * corrupt it; until the rename, readers see the old index without it */
	if (unlinkat(s->dfd, "index.db-wal", 0) < 0 && errno != ENOENT)
		return fail(s, -errno, "%s/index.db-wal: %s", s->dir, strerror(errno));
	if (unlinkat(s->dfd, "index.db-shm", 0) < 0 && errno != ENOENT)
		return fail(s, -errno, "%s/index.db-shm: %s", s->dir, strerror(errno));
	if (renameat(s->dfd, s->db_name, s->dfd, "index.db") < 0)
		return fail(s, -errno, "renaming %s/%s to index.db: %s", s->dir, s->db_name,
			    strerror(errno));
	fsync(s->dfd);
	return 0;
}

/* ---- writer side ----------------------------------------------------------- */

static const char *str_or_empty(const char *p)
{
	return p ? p : "";
}

int tt_store_recording_begin(struct tt_store *s, const struct tt_recording_info *ri,
			     int64_t *rec_id)
{
	sqlite3_stmt *q;
	int err;

	if ((err = writable(s)))
		return err;
	if (!(q = stmt(s, Q_REC_BEGIN)))
		return -EIO;
	sqlite3_bind_text(q, 1, str_or_empty(ri->host), -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, str_or_empty(ri->kernel), -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, str_or_empty(ri->boot_id), -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 4, (int64_t)ri->start_ns);
	sqlite3_bind_text(q, 5, str_or_empty(ri->options), -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 6, str_or_empty(ri->tool_version), -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 7, ri->mono_to_wall_ns);
	if (ri->id > 0) /* reindex keeps ids: segment file names carry them */
		sqlite3_bind_int64(q, 8, ri->id);
	else
		sqlite3_bind_null(q, 8);
	if ((err = run(s, q, "adding a recording")))
		return err;
	*rec_id = sqlite3_last_insert_rowid(s->db);
	/* losses are cumulative per recording: a new one starts from zero */
	memset(&s->loss, 0, sizeof(s->loss));
	return 0;
}

int tt_store_recording_end(struct tt_store *s, int64_t rec_id, uint64_t end_ns, int clean)
{
	sqlite3_stmt *q;
	int err;

	if ((err = writable(s)))
		return err;
	if (!(q = stmt(s, Q_REC_END)))
		return -EIO;
	sqlite3_bind_int64(q, 1, rec_id);
	sqlite3_bind_int64(q, 2, (int64_t)end_ns);
	sqlite3_bind_int(q, 3, !!clean);
	if ((err = run(s, q, "ending a recording")))
		return err;
	if (sqlite3_changes(s->db) != 1)
		return fail(s, -ENOENT, "%s/index.db: no recording %" PRId64, s->dir, rec_id);
	return 0;
}

int tt_store_segment_begin(struct tt_store *s, int64_t rec_id, uint32_t seq, const char *file,
			   uint64_t created_ns, int64_t *seg_id)
{
	sqlite3_stmt *q;
	int err;

	if ((err = writable(s)))
		return err;
	if (!(q = stmt(s, Q_SEG_BEGIN)))
		return -EIO;
	sqlite3_bind_int64(q, 1, rec_id);
	sqlite3_bind_int64(q, 2, seq);
	sqlite3_bind_text(q, 3, file, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 4, (int64_t)created_ns);
	if ((err = run(s, q, "adding a segment")))
		return err;
	*seg_id = sqlite3_last_insert_rowid(s->db);
	return 0;
}

int tt_store_segment_seal(struct tt_store *s, int64_t seg_id)
{
	sqlite3_stmt *q;
	int err;

	if ((err = writable(s)))
		return err;
	if (!(q = stmt(s, Q_SEG_SEAL)))
		return -EIO;
	sqlite3_bind_int64(q, 1, seg_id);
	if ((err = run(s, q, "sealing a segment")))
		return err;
	if (sqlite3_changes(s->db) != 1)
		return fail(s, -ENOENT, "%s/index.db: no segment %" PRId64, s->dir, seg_id);
	return 0;
}

/* The recording of a segment; cached, since blocks come in runs per segment. */
static int segment_recording(struct tt_store *s, int64_t seg_id, int64_t *rec)
{
	sqlite3_stmt *q;
	int rc;

	if (seg_id == s->seg_id) {
		*rec = s->seg_rec;
		return 0;
	}
	if (!(q = stmt(s, Q_SEG_REC)))
		return -EIO;
	sqlite3_bind_int64(q, 1, seg_id);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		*rec = sqlite3_column_int64(q, 0);
	else if (rc != SQLITE_DONE)
		sql_fail(s, rc, "finding a segment");
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	if (rc == SQLITE_DONE)
		return fail(s, -ENOENT, "%s/index.db: no segment %" PRId64, s->dir, seg_id);
	if (rc != SQLITE_ROW)
		return errno_of(rc);
	s->seg_id = seg_id;
	s->seg_rec = *rec;
	return 0;
}

static int put_block(struct tt_store *s, int64_t seg_id, const struct tt_block_info *bi,
		     int64_t m2w, const struct tt_ev_loss *loss)
{
	uint64_t t0 = bi->t_start + (uint64_t)m2w, t1 = bi->t_end + (uint64_t)m2w;
	sqlite3_stmt *q;
	int err;

	if (!(q = stmt(s, s->has_keyframe ? Q_BLOCK : Q_BLOCK_V1)))
		return -EIO;
	sqlite3_bind_int64(q, 1, seg_id);
	sqlite3_bind_int64(q, 2, (int64_t)bi->offset);
	sqlite3_bind_int64(q, 3, bi->length);
	sqlite3_bind_int64(q, 4, bi->raw_len);
	sqlite3_bind_int64(q, 5, (int64_t)t0);
	sqlite3_bind_int64(q, 6, (int64_t)t1);
	sqlite3_bind_int64(q, 7, bi->n_events);
	sqlite3_bind_int64(q, 8, bi->checksum);
	sqlite3_bind_int64(q, 9, (int64_t)loss->ring_drops);
	sqlite3_bind_int64(q, 10, (int64_t)loss->socks_full);
	sqlite3_bind_int64(q, 11, (int64_t)loss->peers_full);
	if (s->has_keyframe)
		sqlite3_bind_int(q, 12, bi->keyframe ? 1 : 0);
	if ((err = run(s, q, "adding a block")))
		return err;

	if (!(q = stmt(s, Q_SEG_BLOCK)))
		return -EIO;
	sqlite3_bind_int64(q, 1, seg_id);
	sqlite3_bind_int64(q, 2, (int64_t)t0);
	sqlite3_bind_int64(q, 3, (int64_t)t1);
	sqlite3_bind_int64(q, 4, (int64_t)(bi->offset + bi->length));
	return run(s, q, "updating a segment");
}

/*
 * An address as schema 2 stores it: IPv4 as an integer, IPv6 as text as ss
 * prints it, the wildcard as NULL.
 */
static void bind_addr(sqlite3_stmt *q, int col, const uint8_t a[16], unsigned family)
{
	static const uint8_t zero[16];
	char buf[64];

	if (family == 4) {
		uint32_t v = (uint32_t)a[12] << 24 | (uint32_t)a[13] << 16 | (uint32_t)a[14] << 8 |
			     a[15];

		if (v)
			sqlite3_bind_int64(q, col, v);
	} else if (memcmp(a, zero, 16)) {
		sqlite3_bind_text(q, col, tt_fmt_addr(buf, sizeof(buf), a, family), -1,
				  SQLITE_TRANSIENT);
	}
}

/* processes.id of (pid, comm), added if new. */
static int process_id(struct tt_store *s, uint32_t pid, const char *comm, int64_t *id)
{
	size_t len = strnlen(comm, TT_COMM_MAX);
	uint64_t h = tt_fnv1a(comm, len, tt_fnv1a(&pid, sizeof(pid), TT_FNV1A_INIT));
	struct proc_slot *c = &s->procs[h % PROC_CACHE];
	sqlite3_stmt *q;
	int rc, err;

	if (c->id && c->pid == pid && !strncmp(c->comm, comm, TT_COMM_MAX)) {
		*id = c->id;
		return 0;
	}
	if (!(q = stmt(s, Q_PROC_GET)))
		return -EIO;
	sqlite3_bind_int64(q, 1, pid);
	sqlite3_bind_text(q, 2, comm, (int)len, SQLITE_STATIC);
	rc = sqlite3_step(q);
	*id = rc == SQLITE_ROW ? sqlite3_column_int64(q, 0) : 0;
	err = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : sql_fail(s, rc, "looking up a process");
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	if (err)
		return err;
	if (!*id) {
		if (!(q = stmt(s, Q_PROC_PUT)))
			return -EIO;
		sqlite3_bind_int64(q, 1, pid);
		sqlite3_bind_text(q, 2, comm, (int)len, SQLITE_STATIC);
		if ((err = run(s, q, "storing a process")))
			return err;
		*id = sqlite3_last_insert_rowid(s->db);
	}
	c->id = *id;
	c->pid = pid;
	memset(c->comm, 0, sizeof(c->comm));
	memcpy(c->comm, comm, len);
	return 0;
}

/* Insert the lifetime, or update its row; *rowid is its conns.id either way. */
static int put_conn(struct tt_store *s, int64_t rec, const struct tt_ix_conn *c, int64_t *rowid)
{
	const struct tt_ev_conn *k = &c->conn;
	int64_t proc;
	sqlite3_stmt *q;
	int err, upd = c->rowid > 0;

	if ((err = process_id(s, k->tgid, k->comm, &proc)))
		return err;
again:
	if (!(q = stmt(s, upd ? Q_CONN_UPD : Q_CONN_INS)))
		return -EIO;
	sqlite3_bind_int64(q, 1, rec);
	/* a UDP peer flow's id has bit 63 set: it reads as negative in SQL */
	sqlite3_bind_int64(q, 2, (int64_t)k->id);
	sqlite3_bind_int(q, 3, k->family);
	sqlite3_bind_int(q, 4, k->proto);
	bind_addr(q, 5, k->laddr, k->family);
	sqlite3_bind_int(q, 6, k->lport);
	bind_addr(q, 7, k->raddr, k->family);
	sqlite3_bind_int(q, 8, k->rport);
	sqlite3_bind_int64(q, 9, proc);
	sqlite3_bind_int64(q, 10, k->pid);
	sqlite3_bind_int64(q, 11, (int64_t)k->cgroup);
	sqlite3_bind_int64(q, 12, k->netns);
	sqlite3_bind_int(q, 13,
			 (k->flags & TT_CF_PARTIAL ? 1 : 0) | (k->flags & TT_CF_UDP_PEER ? 2 : 0) |
				 (k->flags & TT_CF_ACTIVE ? 4 : 0) |
				 (k->flags & TT_CF_PASSIVE ? 8 : 0));
	sqlite3_bind_int64(q, 14, (int64_t)c->open_ns);
	if (c->closed)
		sqlite3_bind_int64(q, 15, (int64_t)c->close_ns);
	sqlite3_bind_int64(q, 16, (int64_t)c->first_seen_ns);
	/* never active yet (a connection idle since the start): first seen */
	sqlite3_bind_int64(q, 17, (int64_t)(c->last_seen_ns ? c->last_seen_ns : c->first_seen_ns));
	sqlite3_bind_int(q, 18, c->tot.state);
	if (c->closed) {
		sqlite3_bind_int(q, 19, c->close_reason);
		sqlite3_bind_int(q, 20, c->err);
	}
	sqlite3_bind_int64(q, 21, (int64_t)c->tot.bytes_in);
	sqlite3_bind_int64(q, 22, (int64_t)c->tot.bytes_out);
	sqlite3_bind_int64(q, 23, (int64_t)c->tot.packets_in);
	sqlite3_bind_int64(q, 24, (int64_t)c->tot.packets_out);
	sqlite3_bind_double(q, 25, c->peak_rate_in);
	sqlite3_bind_double(q, 26, c->peak_rate_out);
	if (c->rtt_n) {
		sqlite3_bind_int64(q, 27, c->rtt_min_us);
		sqlite3_bind_int64(q, 28, (int64_t)(c->rtt_sum_us / c->rtt_n));
		sqlite3_bind_int64(q, 29, c->rtt_max_us);
	}
	sqlite3_bind_int64(q, 30, c->rtt_n);
	sqlite3_bind_int64(q, 31, c->tot.retrans);
	sqlite3_bind_int64(q, 32, c->tot.rst_sent);
	sqlite3_bind_int64(q, 33, c->tot.rst_recv);
	sqlite3_bind_int64(q, 34, c->resets);
	if (upd)
		sqlite3_bind_int64(q, 35, c->rowid);
	if ((err = run(s, q, "storing a connection")))
		return err;
	if (upd && !sqlite3_changes(s->db)) {
		/* the row went meanwhile (retention): it comes back whole */
		upd = 0;
		goto again;
	}
	*rowid = upd ? c->rowid : sqlite3_last_insert_rowid(s->db);
	return 0;
}

static int put_piece(struct tt_store *s, int64_t conn_rowid, const struct tt_ix_piece *p)
{
	int64_t proc;
	sqlite3_stmt *q;
	int err;

	if ((err = process_id(s, p->tgid, p->comm, &proc)))
		return err;
	if (!(q = stmt(s, Q_PIECE)))
		return -EIO;
	sqlite3_bind_int64(q, 1, p->res_s);
	sqlite3_bind_int64(q, 2, (int64_t)p->t_s);
	sqlite3_bind_int64(q, 3, conn_rowid);
	sqlite3_bind_int64(q, 4, p->part);
	sqlite3_bind_int64(q, 5, proc);
	sqlite3_bind_int64(q, 6, (int64_t)p->cgroup);
	sqlite3_bind_int64(q, 7, p->ticks);
	/* offsets from the period's start: a few bytes instead of eight */
	sqlite3_bind_int64(q, 8, (int64_t)(p->first_ns - p->t_s * 1000000000ull));
	sqlite3_bind_int64(q, 9, (int64_t)(p->last_ns - p->t_s * 1000000000ull));
	sqlite3_bind_int64(q, 10, (int64_t)p->age_ns);
	sqlite3_bind_int(q, 11, p->state);
	sqlite3_bind_int(q, 12, p->closed);
	sqlite3_bind_int64(q, 13, (int64_t)p->bytes_in);
	sqlite3_bind_int64(q, 14, (int64_t)p->bytes_out);
	sqlite3_bind_int64(q, 15, (int64_t)p->packets_in);
	sqlite3_bind_int64(q, 16, (int64_t)p->packets_out);
	sqlite3_bind_int64(q, 17, p->retrans);
	sqlite3_bind_int64(q, 18, p->resets);
	sqlite3_bind_double(q, 19, p->peak_rate_in);
	sqlite3_bind_double(q, 20, p->peak_rate_out);
	sqlite3_bind_int64(q, 21, (int64_t)p->rtt_sum_us);
	sqlite3_bind_int64(q, 22, p->rtt_n);
	if (p->rtt_n) {
		sqlite3_bind_int64(q, 23, p->rtt_min_us);
		sqlite3_bind_int64(q, 24, p->rtt_max_us);
	}
	return run(s, q, "storing a rollup");
}

static int put_index(struct tt_store *s, int64_t rec, struct tt_indexer *ix)
{
	const struct tt_ix_conn *conns;
	const struct tt_ix_piece *pieces;
	size_t nc, np, i;
	sqlite3_stmt *q;
	int err;

	if (s->bucket_rec != rec) {
		/* rollups are read against their recording's minor length */
		if (!(q = stmt(s, Q_REC_BUCKET)))
			return -EIO;
		sqlite3_bind_int64(q, 1, rec);
		sqlite3_bind_int64(q, 2, (int64_t)tt_indexer_minor_ns(ix));
		if ((err = run(s, q, "setting the rollup length")))
			return err;
	}
	tt_indexer_drain(ix, &conns, &nc, &pieces, &np);
	err = tt_grow((void **)&s->rowids, &s->rowids_cap, nc, sizeof(*s->rowids));
	if (err)
		return fail(s, err, "%s: index: out of memory", s->dir);
	for (i = 0; i < nc; i++) {
		if ((err = put_conn(s, rec, &conns[i], &s->rowids[i])))
			return err;
		tt_indexer_stored(ix, i, s->rowids[i]);
	}
	for (i = 0; i < np; i++)
		if ((err = put_piece(s, s->rowids[pieces[i].conn_key], &pieces[i])))
			return err;
	return 0;
}

int tt_store_block(struct tt_store *s, int64_t seg_id, const struct tt_block_info *bi, int64_t m2w,
		   const struct tt_ev_loss *loss, struct tt_indexer *ix)
{
	int64_t rec = 0;
	int err;

	if ((err = writable(s)) || (err = segment_recording(s, seg_id, &rec)))
		return err;
	if (!loss)
		loss = &s->loss;
	if ((err = begin(s)))
		return err;
	if ((err = put_block(s, seg_id, bi, m2w, loss)) || (ix && (err = put_index(s, rec, ix))) ||
	    (err = commit(s))) {
		rollback(s);
		/* what the indexer handed over is not stored: it reports it again */
		if (ix)
			tt_indexer_rewind(ix);
		return err;
	}
	if (ix)
		s->bucket_rec = rec;
	s->loss = *loss;
	return 0;
}

/* ---- retention ------------------------------------------------------------- */

struct victim {
	int64_t id;
	int64_t rec;
	uint64_t t_end_ns;
	char *file;
};

static void free_victims(struct victim *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i].file);
	free(v);
}

/* Sealed segments but keep_seg_id, oldest first. */
static int list_sealed(struct tt_store *s, int64_t keep_seg_id, struct victim **out, size_t *n)
{
	struct victim *v = NULL;
	size_t cap = 0;
	sqlite3_stmt *q;
	int rc, err = 0;

	*n = 0;
	if (!(q = stmt(s, Q_RET_LIST)))
		return -EIO;
	sqlite3_bind_int64(q, 1, keep_seg_id);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		const char *file = (const char *)sqlite3_column_text(q, 2);

		if ((err = tt_grow((void **)&v, &cap, *n + 1, sizeof(*v))))
			break;
		v[*n].id = sqlite3_column_int64(q, 0);
		v[*n].rec = sqlite3_column_int64(q, 1);
		v[*n].t_end_ns = (uint64_t)sqlite3_column_int64(q, 4);
		v[*n].file = strdup(file ? file : "");
		if (!v[*n].file) {
			err = -ENOMEM;
			break;
		}
		(*n)++;
	}
	if (err)
		fail(s, err, "%s: retention: out of memory", s->dir);
	else if (rc != SQLITE_DONE)
		err = sql_fail(s, rc, "listing segments");
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	if (err) {
		free_victims(v, *n);
		*n = 0;
		return err;
	}
	*out = v;
	return 0;
}

static int run_id(struct tt_store *s, int which, int64_t id, const char *what)
{
	sqlite3_stmt *q;

	if (!q_sql[which])
		return 0; /* nothing of the kind in this schema */
	if (!(q = stmt(s, which)))
		return -EIO;
	sqlite3_bind_int64(q, 1, id);
	return run(s, q, what);
}

/* The store directory's entries, read through s->dfd; NULL and errno on failure. */
static DIR *list_dir(struct tt_store *s)
{
	int fd = openat(s->dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d;

	if (fd < 0)
		return NULL;
	if (!(d = fdopendir(fd)))
		close(fd);
	return d;
}

/* What a file takes: its size, or the space allocated to it if that is more. */
static uint64_t file_bytes(const struct stat *st)
{
	uint64_t alloc = (uint64_t)st->st_blocks * 512;

	return alloc > (uint64_t)st->st_size ? alloc : (uint64_t)st->st_size;
}

int tt_store_dir_bytes(struct tt_store *s, uint64_t *bytes)
{
	struct dirent *de;
	struct stat st;
	DIR *d;

	*bytes = 0;
	if (!(d = list_dir(s)))
		return fail(s, -errno, "%s: %s", s->dir, strerror(errno));
	while ((de = readdir(d))) {
		/* a file removed meanwhile is simply not counted */
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		*bytes += file_bytes(&st);
	}
	closedir(d);
	return 0;
}

/* Note the directory's size now as a candidate for the pass's peak. */
static void note_peak(struct tt_store *s, struct tt_retain_result *r)
{
	uint64_t now;

	if (!tt_store_dir_bytes(s, &now) && now > r->peak_bytes)
		r->peak_bytes = now;
}

/*
 * Give the WAL's space back: checkpoint everything and truncate it to zero.
 * Never waits: a reader holding an old snapshot makes it a partial checkpoint
 * (SQLITE_BUSY), and the next pass tries again.
 */
static int cut_wal(struct tt_store *s)
{
	int rc;

	sqlite3_busy_timeout(s->db, 0);
	rc = sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
	sqlite3_busy_timeout(s->db, 5000);
	if (rc == SQLITE_OK || (rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED)
		return 0;
	return sql_fail(s, rc, "checkpointing");
}

static int free_pages(struct tt_store *s, int64_t *n)
{
	return query_int(s, "PRAGMA freelist_count", n, "counting free pages");
}

/*
 * Return the pages that retention freed to the file system: they leave the
 * file at the checkpoint. Only those: the few pages every block frees and
 * takes again as it rewrites rows stay, since giving them back would only
 * make the next block grow the file (and the WAL) by as much again.
 */
static int give_back(struct tt_store *s, int64_t before)
{
	int64_t now = 0;
	char sql[64];
	int err;

	if ((err = free_pages(s, &now)) || now <= before)
		return err;
	/* without auto_vacuum (an index that could not be converted) this is a no-op */
	snprintf(sql, sizeof(sql), "PRAGMA incremental_vacuum(%" PRId64 ")", now - before);
	return exec(s, sql, "vacuuming");
}

static int delete_rows(struct tt_store *s, const struct victim *v)
{
	int err;

	if ((err = begin(s)))
		return err;
	if ((err = run_id(s, Q_RET_SEG, v->id, "deleting a segment")) ||
	    (err = run_id(s, Q_RET_ROLLUPS, v->rec, "deleting old rollups")) ||
	    (err = run_id(s, Q_RET_CONNS, v->rec, "deleting old connections")) ||
	    (err = run_id(s, Q_RET_REC_ROLLUPS, v->rec, "deleting an empty recording's rollups")) ||
	    (err = run_id(s, Q_RET_REC, v->rec, "deleting an empty recording")) ||
	    (err = run_id(s, Q_RET_PROCS, v->rec, "deleting unused processes")) ||
	    (err = commit(s))) {
		rollback(s);
		return err;
	}
	/* the cache may name processes that just went */
	memset(s->procs, 0, sizeof(s->procs));
	return 0;
}

/*
 * The rows first, then the file: should we die between the two, the file is
 * one the index does not name (verify: a warning; the next pass removes it),
 * never a row naming a missing file (verify: a problem). Only when the disk is
 * so full that even the deletion cannot be logged does the file go first.
 */
static int remove_segment(struct tt_store *s, const struct victim *v, struct tt_retain_result *r)
{
	int err, unlinked = 0;

	/* index.db names the file: only a name the store gives its segments is
	 * removed, and only in the store (unlinkat never follows a link) */
	if (!tt_store_segment_name_parse(v->file, NULL, NULL))
		return fail(s, -EINVAL,
			    "%s/index.db: segment %" PRId64 " names the file '%s', "
			    "not a segment name: refusing to remove it",
			    s->dir, v->id, v->file);
	err = delete_rows(s, v);
	if (err == -ENOSPC) {
		cut_wal(s);
		err = delete_rows(s, v);
	}
	if (err == -ENOSPC) {
		if (unlinkat(s->dfd, v->file, 0) < 0 && errno != ENOENT)
			return fail(s, -errno, "%s/%s: removing: %s", s->dir, v->file,
				    strerror(errno));
		unlinked = 1;
		err = delete_rows(s, v);
	}
	if (err)
		return err;
	note_peak(s, r);
	if (!unlinked && unlinkat(s->dfd, v->file, 0) < 0 && errno != ENOENT)
		return fail(s, -errno, "%s/%s: removing: %s", s->dir, v->file, strerror(errno));
	if (v->id == s->seg_id)
		s->seg_id = -1;
	return 0;
}

/* Segment files an interrupted pass left behind (see Q_RET_ORPHAN). */
static int sweep_orphans(struct tt_store *s, struct tt_retain_result *r)
{
	sqlite3_stmt *q = stmt(s, Q_RET_ORPHAN);
	struct dirent *de;
	int rc, err = 0;
	DIR *d;

	if (!q)
		return -EIO;
	if (!(d = list_dir(s)))
		return fail(s, -errno, "%s: %s", s->dir, strerror(errno));
	while (!err && (de = readdir(d))) {
		int64_t rec;
		uint32_t seq;
		int orphan = 0;

		if (!tt_store_segment_name_parse(de->d_name, &rec, &seq))
			continue;
		sqlite3_bind_text(q, 1, de->d_name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 2, rec);
		sqlite3_bind_int64(q, 3, seq);
		rc = sqlite3_step(q);
		if (rc == SQLITE_ROW)
			orphan = sqlite3_column_int(q, 0);
		else
			err = sql_fail(s, rc, "looking for left-over segment files");
		sqlite3_reset(q);
		sqlite3_clear_bindings(q);
		if (!orphan)
			continue;
		if (unlinkat(s->dfd, de->d_name, 0) < 0 && errno != ENOENT)
			err = fail(s, -errno, "%s/%s: removing: %s", s->dir, de->d_name,
				   strerror(errno));
		else
			r->orphans++;
	}
	closedir(d);
	return err;
}

/*
 * Whether some destination of export_cursors (schema 3) has not received all of
 * segment v: its cursor for v's recording is before v's end, or it has none.
 */
static int unshipped(struct tt_store *s, const struct victim *v)
{
	sqlite3_stmt *q = NULL;
	int n = 0;

	if (s->version < 3 ||
	    sqlite3_prepare_v2(s->db,
			       "SELECT count(*) FROM (SELECT DISTINCT dest FROM export_cursors) d"
			       " LEFT JOIN export_cursors c ON c.dest = d.dest AND c.recording_id = ?1"
			       " WHERE coalesce(c.ticks_ns, 0) < ?2",
			       -1, &q, NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_int64(q, 1, v->rec);
	sqlite3_bind_int64(q, 2, (int64_t)v->t_end_ns);
	if (sqlite3_step(q) == SQLITE_ROW)
		n = sqlite3_column_int(q, 0);
	sqlite3_finalize(q);
	return n > 0;
}

int tt_store_retain(struct tt_store *s, const struct tt_retain_opts *o, struct tt_retain_result *r)
{
	struct victim *v = NULL;
	uint64_t dir = 0;
	int64_t free0 = 0;
	size_t n = 0, i = 0;
	int err;

	memset(r, 0, sizeof(*r));
	if ((err = writable(s)))
		return err;
	if (!o->max_age_ns && !o->max_bytes && !o->force)
		return 0;
	if (!s->swept) {
		if ((err = sweep_orphans(s, r)))
			return err;
		s->swept = 1;
	}
	/* what the WAL holds is on its way into index.db: count it there, once */
	if (o->max_bytes && ((err = cut_wal(s)) || (err = tt_store_dir_bytes(s, &dir))))
		return err;
	r->peak_bytes = dir;
	if ((err = free_pages(s, &free0)) || (err = list_sealed(s, o->keep_seg_id, &v, &n)))
		return err;
	for (;;) {
		unsigned before = r->removed;

		for (; i < n; i++) {
			int too_old = o->max_age_ns && o->now_ns > v[i].t_end_ns &&
				      o->now_ns - v[i].t_end_ns > o->max_age_ns;
			int too_big = o->max_bytes && dir > o->max_bytes;
			int forced = o->force && !r->removed;
			struct stat st;
			uint64_t size = 0;

			if (!too_old && !too_big && !forced)
				break;
			if (fstatat(s->dfd, v[i].file, &st, AT_SYMLINK_NOFOLLOW) == 0)
				size = file_bytes(&st);
			if (unshipped(s, &v[i])) {
				r->unshipped++;
				r->unshipped_end_ns = v[i].t_end_ns;
			}
			if ((err = remove_segment(s, &v[i], r)))
				goto out;
			/* the index shrinks too, but only the vacuum below says by how much */
			dir -= size < dir ? size : dir;
			r->removed++;
		}
		if (r->removed == before && !r->orphans && !o->max_bytes)
			break;
		if ((err = give_back(s, free0)))
			goto out;
		note_peak(s, r);
		if ((err = cut_wal(s)))
			goto out;
		if (!o->max_bytes || (err = tt_store_dir_bytes(s, &dir)))
			break;
		/* files larger than their stat said, or an index that grew: go on */
		if (dir <= o->max_bytes || i == n || r->removed == before)
			break;
	}
out:
	r->sealed_left = (unsigned)(n - i);
	if (!err && !o->max_bytes)
		err = tt_store_dir_bytes(s, &dir);
	r->dir_bytes = dir;
	if (dir > r->peak_bytes)
		r->peak_bytes = dir;
	free_victims(v, n);
	return err;
}

int tt_store_segment_bytes(struct tt_store *s, uint64_t *bytes)
{
	sqlite3_stmt *q = stmt(s, Q_SEG_BYTES);
	int rc;

	if (!q)
		return -EIO;
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		*bytes = (uint64_t)sqlite3_column_int64(q, 0);
		rc = SQLITE_DONE;
	}
	if (rc != SQLITE_DONE) {
		int err = sql_fail(s, rc, "summing segment sizes");

		sqlite3_reset(q);
		return err;
	}
	sqlite3_reset(q);
	return 0;
}

/* ---- export cursors --------------------------------------------------------- */

int tt_store_set_cursor(struct tt_store *s, const char *dest, int64_t rec, uint64_t ticks_ns,
			uint64_t meta_ns)
{
	int rc, err = 0;

	if (!s->xdb)
		return fail(s, -EBADF, "%s: the store is not open for export", s->dir);
	if (!s->xq) {
		rc = sqlite3_prepare_v3(s->xdb,
					"INSERT INTO export_cursors (dest, recording_id, ticks_ns,"
					" meta_ns) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (dest,"
					" recording_id) DO UPDATE SET ticks_ns = excluded.ticks_ns,"
					" meta_ns = excluded.meta_ns",
					-1, SQLITE_PREPARE_PERSISTENT, &s->xq, NULL);
		if (rc != SQLITE_OK) {
			s->xq = NULL;
			return fail(s, errno_of(rc), "%s/index.db: saving the export cursor: %s",
				    s->dir, sqlite3_errmsg(s->xdb));
		}
	}
	sqlite3_bind_text(s->xq, 1, dest, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s->xq, 2, rec);
	sqlite3_bind_int64(s->xq, 3, (int64_t)ticks_ns);
	sqlite3_bind_int64(s->xq, 4, (int64_t)meta_ns);
	rc = sqlite3_step(s->xq);
	if (rc != SQLITE_DONE)
		err = fail(s, errno_of(rc), "%s/index.db: saving the export cursor: %s", s->dir,
			   sqlite3_errmsg(s->xdb));
	sqlite3_reset(s->xq);
	sqlite3_clear_bindings(s->xq);
	return err;
}
