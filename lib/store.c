/*
 * store.c: see store.h; the schema is schema/NNNN_*.sql, documented in docs/SCHEMA.md.
 *
 * Workload: the recorder runs one transaction per block (a block row, a segment
 * update, and an upsert per connection lifetime and per bucket that changed),
 * every few seconds, through statements prepared once. Retention runs after a
 * block and deletes a segment at a time. Readers only use the raw handle.
 *
 * The migrations come from schema/NNNN_*.sql, embedded at build time by
 * schema/embed.cmake into schema_sql.h: the tools need no files at run time.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "format.h"
#include "mem.h"
#include "store.h"

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
	Q_BLOCK_V1,
	Q_CONN,
	Q_BUCKET,
	Q_SEG_BYTES,
	Q_RET_LIST,
	Q_RET_SEG,
	Q_RET_CONNS,
	Q_RET_BUCKETS,
	Q_RET_REC,
	Q_MAX
};

static const char *const q_sql[Q_MAX] = {
	[Q_BEGIN] = "BEGIN IMMEDIATE",
	[Q_COMMIT] = "COMMIT",
	[Q_REC_BEGIN] = "INSERT INTO recordings (id, host, kernel, boot_id, start_ns, options, "
			"tool_version, mono_to_wall_ns) VALUES (?8, ?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[Q_REC_END] = "UPDATE recordings SET end_ns = ?2, clean_stop = ?3 WHERE id = ?1",
	[Q_REC_BUCKET] = "UPDATE recordings SET bucket_ns = ?2 WHERE id = ?1",
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
	/* the indexer's summary is complete each time: an upsert overwrites */
	[Q_CONN] = "INSERT INTO connections (recording_id, conn_id, family, proto, laddr, lport, "
		   "raddr, rport, pid, tid, comm, cgroup, netns, partial, udp_peer, open_ns, "
		   "close_ns, first_seen_ns, last_seen_ns, state, close_reason, close_errno, "
		   "bytes_in, bytes_out, packets_in, packets_out, peak_rate_in, peak_rate_out, "
		   "rtt_min_us, rtt_avg_us, rtt_max_us, rtt_samples, retrans, resets_sent, "
		   "resets_recv, reset_events) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, "
		   "?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, "
		   "?26, ?27, ?28, ?29, ?30, ?31, ?32, ?33, ?34, ?35, ?36) "
		   "ON CONFLICT (recording_id, conn_id, open_ns) DO UPDATE SET "
		   "family = excluded.family, proto = excluded.proto, laddr = excluded.laddr, "
		   "lport = excluded.lport, raddr = excluded.raddr, rport = excluded.rport, "
		   "pid = excluded.pid, tid = excluded.tid, comm = excluded.comm, "
		   "cgroup = excluded.cgroup, netns = excluded.netns, partial = excluded.partial, "
		   "udp_peer = excluded.udp_peer, close_ns = excluded.close_ns, "
		   "first_seen_ns = min(first_seen_ns, excluded.first_seen_ns), "
		   "last_seen_ns = excluded.last_seen_ns, state = excluded.state, "
		   "close_reason = excluded.close_reason, close_errno = excluded.close_errno, "
		   "bytes_in = excluded.bytes_in, bytes_out = excluded.bytes_out, "
		   "packets_in = excluded.packets_in, packets_out = excluded.packets_out, "
		   "peak_rate_in = excluded.peak_rate_in, peak_rate_out = excluded.peak_rate_out, "
		   "rtt_min_us = excluded.rtt_min_us, rtt_avg_us = excluded.rtt_avg_us, "
		   "rtt_max_us = excluded.rtt_max_us, rtt_samples = excluded.rtt_samples, "
		   "retrans = excluded.retrans, resets_sent = excluded.resets_sent, "
		   "resets_recv = excluded.resets_recv, reset_events = excluded.reset_events "
		   "RETURNING id",
	[Q_BUCKET] = "INSERT INTO buckets (connection_id, t_start_ns, bytes_in, bytes_out, "
		     "packets_in, packets_out, retrans, rtt_avg_us, rtt_samples) "
		     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) "
		     "ON CONFLICT (connection_id, t_start_ns) DO UPDATE SET "
		     "bytes_in = excluded.bytes_in, bytes_out = excluded.bytes_out, "
		     "packets_in = excluded.packets_in, packets_out = excluded.packets_out, "
		     "retrans = excluded.retrans, rtt_avg_us = excluded.rtt_avg_us, "
		     "rtt_samples = excluded.rtt_samples",
	[Q_SEG_BYTES] = "SELECT coalesce(sum(bytes), 0) FROM segments",
	[Q_RET_LIST] = "SELECT id, recording_id, file, bytes, coalesce(t_end_ns, created_ns) "
		       "FROM segments WHERE sealed = 1 AND id <> ?1 "
		       "ORDER BY coalesce(t_start_ns, created_ns), id",
	[Q_RET_SEG] = "DELETE FROM segments WHERE id = ?1",
	/*
	 * What the recording still has on disk starts with its oldest segment;
	 * summaries that end before that describe data that is gone.
	 */
	[Q_RET_CONNS] = "DELETE FROM connections WHERE recording_id = ?1 AND last_seen_ns < "
			"(SELECT min(coalesce(t_start_ns, created_ns)) FROM segments "
			"WHERE recording_id = ?1)",
	[Q_RET_BUCKETS] = "DELETE FROM buckets WHERE t_start_ns <= "
			  "(SELECT min(coalesce(t_start_ns, created_ns)) FROM segments "
			  "WHERE recording_id = ?1) - (SELECT bucket_ns FROM recordings "
			  "WHERE id = ?1) AND connection_id IN "
			  "(SELECT id FROM connections WHERE recording_id = ?1)",
	/* connections and buckets go with it (ON DELETE CASCADE) */
	[Q_RET_REC] = "DELETE FROM recordings WHERE id = ?1 AND NOT EXISTS "
		      "(SELECT 1 FROM segments WHERE recording_id = ?1)",
};

struct tt_store {
	sqlite3 *db;
	char *dir; /* as given to open */
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
	int64_t *rowids; /* connections.id of each drained lifetime */
	size_t rowids_cap;
	char err[512];
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

/* Create DIR with exactly mode, or accept an existing directory. */
static int make_dir(struct tt_store *s, int mode)
{
	struct stat st;

	if (mkdir(s->dir, (mode_t)mode) == 0) {
		/* the umask may have narrowed it; the caller asked for mode */
		if (chmod(s->dir, (mode_t)mode) < 0)
			return fail(s, -errno, "%s: chmod: %s", s->dir, strerror(errno));
		return 0;
	}
	if (errno != EEXIST)
		return fail(s, -errno, "%s: creating the store: %s", s->dir, strerror(errno));
	if (stat(s->dir, &st) < 0)
		return fail(s, -errno, "%s: %s", s->dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return fail(s, -ENOTDIR, "%s is not a directory", s->dir);
	return 0;
}

/*
 * Create path with exactly mode, if it does not exist: O_EXCL tells us we made
 * it, and fchmod undoes whatever the umask took away. Returns the fd (the
 * caller closes it) or a negative errno.
 */
static int create_file(struct tt_store *s, const char *path, int mode, int *created)
{
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, (mode_t)mode);

	*created = fd >= 0;
	if (fd < 0 && errno == EEXIST)
		fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return fail(s, -errno, "%s: %s", path, strerror(errno));
	if (*created && fchmod(fd, (mode_t)mode) < 0) {
		int err = -errno;

		close(fd);
		return fail(s, err, "%s: chmod: %s", path, strerror(-err));
	}
	return fd;
}

static int take_lock(struct tt_store *s, int file_mode)
{
	char path[4096], buf[32];
	int created, fd;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/LOCK", s->dir);
	fd = create_file(s, path, file_mode, &created);
	if (fd < 0)
		return fd;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int err = errno;
		long pid = 0;

		if (err != EWOULDBLOCK) {
			close(fd);
			return fail(s, -err, "%s: locking: %s", path, strerror(err));
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
		return fail(s, -err, "%s: %s", path, strerror(err));
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
		err = fail(s, -EBADMSG, "%s/index.db: migrating to schema %d: %" PRId64
			   " rows break foreign keys", s->dir, target, bad);
		goto fail;
	}
	snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", target);
	if ((err = exec(s, pragma, "setting the schema version")) ||
	    (err = exec(s, "COMMIT", "committing the migration")))
		goto fail;
	s->version = target;
	return 0;
fail:
	rollback(s);
	return err;
}

/* Schema 1 has no blocks.keyframe (every block of it is a keyframe block). */
static int find_keyframe_column(struct tt_store *s)
{
	int64_t n;
	int err = query_int(s, "SELECT count(*) FROM pragma_table_info('blocks') WHERE name = "
			       "'keyframe'",
			    &n, "reading the blocks table's columns");

	s->has_keyframe = !err && n > 0;
	return err;
}

/* SQLite answers with the mode it ended up in, which is not WAL where WAL cannot work. */
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
		return fail(s, -ENOTSUP, "%s/index.db: the file system does not support "
			    "SQLite's WAL mode (shared memory)", s->dir);
	return 0;
}

static int open_db(struct tt_store *s, int file_mode)
{
	int flags = s->mode == TT_STORE_WRITE ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY;
	char path[4096];
	struct stat st;
	int64_t v;
	int rc, err;

	snprintf(path, sizeof(path), "%s/%s", s->dir, s->db_name);
	if (s->mode == TT_STORE_WRITE) {
		int created, fd = create_file(s, path, file_mode, &created);

		/*
		 * SQLite then gives index.db-wal and -shm the mode of index.db,
		 * so none of the three is wider than file_mode.
		 */
		if (fd < 0)
			return fd;
		close(fd);
	} else if (stat(path, &st) < 0) {
		if (errno == ENOENT)
			return fail(s, -ENOENT, "%s is not a tcptop store (no index.db)", s->dir);
		return fail(s, -errno, "%s: %s", path, strerror(errno));
	}

	rc = sqlite3_open_v2(path, &s->db, flags | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		if (!s->db)
			return fail(s, -ENOMEM, "%s: out of memory", path);
		return sql_fail(s, rc, "opening");
	}
	sqlite3_extended_result_codes(s->db, 1);
	/* readers and the writer's checkpoints may meet: wait a little, not forever */
	sqlite3_busy_timeout(s->db, 5000);

	err = query_int(s, "PRAGMA user_version", &v, "reading the schema version");
	if (err)
		return err;
	s->version = (int)v;
	if (v > known_version())
		return fail(s, -EPROTO,
			    "%s/index.db has schema version %" PRId64
			    ", newer than this tcptop (" TT_VERSION ") knows (%d): use a newer tcptop",
			    s->dir, v, known_version());
	if (s->mode == TT_STORE_READ) {
		/*
		 * An older index is read as it is (a reader never writes): what a
		 * later migration added, readers find missing and take its default
		 * (schema 1 has no blocks.keyframe: every block of it is one).
		 */
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

	/* WAL: readers never block the recorder; NORMAL is crash-safe with WAL */
	if ((err = set_wal(s)) || (err = exec(s, "PRAGMA synchronous = NORMAL", "setting synchronous")))
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
	if ((err = find_keyframe_column(s)))
		return err;
	return exec(s, "PRAGMA foreign_keys = ON", "enabling foreign keys");
}

int tt_store_open(const char *dir, enum tt_store_mode mode, int dir_mode, int file_mode,
		  struct tt_store **out, char *why, size_t why_len)
{
	struct tt_store *s;
	struct stat st;
	int err;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (!s || !(s->dir = strdup(dir))) {
		free(s);
		snprintf(why, why_len, "out of memory");
		return -ENOMEM;
	}
	s->mode = mode == TT_STORE_REBUILD ? TT_STORE_WRITE : mode;
	s->db_name = mode == TT_STORE_REBUILD ? "index.db.rebuild" : "index.db";
	s->lock_fd = -1;
	s->seg_id = -1;
	s->bucket_rec = -1;

	if (mode == TT_STORE_WRITE) {
		err = make_dir(s, dir_mode);
		if (!err)
			err = take_lock(s, file_mode);
	} else if (mode == TT_STORE_REBUILD) {
		char path[4096];

		/* a rebuild left over from an interrupted reindex is rebuilt anew */
		err = take_lock(s, file_mode);
		snprintf(path, sizeof(path), "%s/index.db.rebuild", dir);
		if (!err && unlink(path) < 0 && errno != ENOENT)
			err = fail(s, -errno, "%s: %s", path, strerror(errno));
		strncat(path, "-wal", sizeof(path) - strlen(path) - 1);
		unlink(path);
		snprintf(path, sizeof(path), "%s/index.db.rebuild-shm", dir);
		unlink(path);
	} else if (stat(dir, &st) < 0) {
		err = fail(s, -errno, "%s: %s", dir, strerror(errno));
	} else if (!S_ISDIR(st.st_mode)) {
		err = fail(s, -ENOTDIR, "%s is not a directory", dir);
	} else {
		err = 0;
	}
	if (!err)
		err = open_db(s, file_mode);
	if (err) {
		snprintf(why, why_len, "%s", s->err);
		tt_store_close(s);
		return err;
	}
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

void *tt_store_db(struct tt_store *s)
{
	return s->db;
}

void tt_store_close(struct tt_store *s)
{
	int i;

	if (!s)
		return;
	for (i = 0; i < Q_MAX; i++)
		sqlite3_finalize(s->q[i]);
	/* closing the last connection checkpoints the WAL; then others may write */
	sqlite3_close(s->db);
	if (s->lock_fd >= 0)
		close(s->lock_fd);
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
	char from[4096], to[4096], wal[4100];
	int i, fd;

	for (i = 0; i < Q_MAX; i++) {
		sqlite3_finalize(s->q[i]);
		s->q[i] = NULL;
	}
	/* the last connection's close checkpoints and removes the rebuild's WAL */
	if (sqlite3_close(s->db) != SQLITE_OK)
		return fail(s, -EIO, "%s/%s: %s", s->dir, s->db_name, sqlite3_errmsg(s->db));
	s->db = NULL;
	snprintf(from, sizeof(from), "%s/%s", s->dir, s->db_name);
	snprintf(to, sizeof(to), "%s/index.db", s->dir);
	/* the old index's WAL must go first: replayed into the new file it would
	 * corrupt it; until the rename, readers see the old index without it */
	snprintf(wal, sizeof(wal), "%s-wal", to);
	if (unlink(wal) < 0 && errno != ENOENT)
		return fail(s, -errno, "%s: %s", wal, strerror(errno));
	snprintf(wal, sizeof(wal), "%s-shm", to);
	if (unlink(wal) < 0 && errno != ENOENT)
		return fail(s, -errno, "%s: %s", wal, strerror(errno));
	if (rename(from, to) < 0)
		return fail(s, -errno, "renaming %s to %s: %s", from, to, strerror(errno));
	fd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
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

static const char *close_reason_name(unsigned r)
{
	static const char *const names[] = { "normal", "failed", "reset", "idle" };

	return r < sizeof(names) / sizeof(names[0]) ? names[r] : "?";
}

static int put_conn(struct tt_store *s, int64_t rec, const struct tt_ix_conn *c, int64_t *rowid)
{
	const struct tt_ev_conn *k = &c->conn;
	char la[64], ra[64];
	sqlite3_stmt *q;
	int rc, err;

	if (!(q = stmt(s, Q_CONN)))
		return -EIO;
	sqlite3_bind_int64(q, 1, rec);
	/* a UDP peer flow's id has bit 63 set: it reads as negative in SQL */
	sqlite3_bind_int64(q, 2, (int64_t)k->id);
	sqlite3_bind_int(q, 3, k->family);
	sqlite3_bind_text(q, 4, tt_proto_name(k->proto), -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 5, tt_fmt_addr(la, sizeof(la), k->laddr, k->family), -1,
			  SQLITE_STATIC);
	sqlite3_bind_int(q, 6, k->lport);
	sqlite3_bind_text(q, 7, tt_fmt_addr(ra, sizeof(ra), k->raddr, k->family), -1,
			  SQLITE_STATIC);
	sqlite3_bind_int(q, 8, k->rport);
	sqlite3_bind_int64(q, 9, k->tgid);
	sqlite3_bind_int64(q, 10, k->pid);
	sqlite3_bind_text(q, 11, k->comm, (int)strnlen(k->comm, sizeof(k->comm)), SQLITE_STATIC);
	sqlite3_bind_int64(q, 12, (int64_t)k->cgroup);
	sqlite3_bind_int64(q, 13, k->netns);
	sqlite3_bind_int(q, 14, !!(k->flags & TT_CF_PARTIAL));
	sqlite3_bind_int(q, 15, !!(k->flags & TT_CF_UDP_PEER));
	sqlite3_bind_int64(q, 16, (int64_t)c->open_ns);
	if (c->closed)
		sqlite3_bind_int64(q, 17, (int64_t)c->close_ns);
	sqlite3_bind_int64(q, 18, (int64_t)c->first_seen_ns);
	sqlite3_bind_int64(q, 19, (int64_t)c->last_seen_ns);
	sqlite3_bind_text(q, 20, tt_tcp_state_name(c->tot.state), -1, SQLITE_STATIC);
	if (c->closed) {
		sqlite3_bind_text(q, 21, close_reason_name(c->close_reason), -1, SQLITE_STATIC);
		sqlite3_bind_int(q, 22, c->err);
	}
	sqlite3_bind_int64(q, 23, (int64_t)c->tot.bytes_in);
	sqlite3_bind_int64(q, 24, (int64_t)c->tot.bytes_out);
	sqlite3_bind_int64(q, 25, (int64_t)c->tot.packets_in);
	sqlite3_bind_int64(q, 26, (int64_t)c->tot.packets_out);
	sqlite3_bind_double(q, 27, c->peak_rate_in);
	sqlite3_bind_double(q, 28, c->peak_rate_out);
	if (c->rtt_n) {
		sqlite3_bind_int64(q, 29, c->rtt_min_us);
		sqlite3_bind_int64(q, 30, (int64_t)(c->rtt_sum_us / c->rtt_n));
		sqlite3_bind_int64(q, 31, c->rtt_max_us);
	}
	sqlite3_bind_int64(q, 32, c->rtt_n);
	sqlite3_bind_int64(q, 33, c->tot.retrans);
	sqlite3_bind_int64(q, 34, c->tot.rst_sent);
	sqlite3_bind_int64(q, 35, c->tot.rst_recv);
	sqlite3_bind_int64(q, 36, c->resets);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		*rowid = sqlite3_column_int64(q, 0);
		rc = sqlite3_step(q);
	}
	err = rc == SQLITE_DONE ? 0 : sql_fail(s, rc, "storing a connection");
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	return err;
}

static int put_bucket(struct tt_store *s, int64_t conn_rowid, const struct tt_ix_bucket *b)
{
	sqlite3_stmt *q;

	if (!(q = stmt(s, Q_BUCKET)))
		return -EIO;
	sqlite3_bind_int64(q, 1, conn_rowid);
	sqlite3_bind_int64(q, 2, (int64_t)b->t_start_ns);
	sqlite3_bind_int64(q, 3, (int64_t)b->bytes_in);
	sqlite3_bind_int64(q, 4, (int64_t)b->bytes_out);
	sqlite3_bind_int64(q, 5, (int64_t)b->packets_in);
	sqlite3_bind_int64(q, 6, (int64_t)b->packets_out);
	sqlite3_bind_int64(q, 7, b->retrans);
	if (b->rtt_n)
		sqlite3_bind_int64(q, 8, b->rtt_avg_us);
	sqlite3_bind_int64(q, 9, b->rtt_n);
	return run(s, q, "storing a bucket");
}

static int put_index(struct tt_store *s, int64_t rec, struct tt_indexer *ix)
{
	const struct tt_ix_conn *conns;
	const struct tt_ix_bucket *buckets;
	size_t nc, nb, i;
	sqlite3_stmt *q;
	int err;

	if (s->bucket_rec != rec) {
		/* buckets are read against their recording's length */
		if (!(q = stmt(s, Q_REC_BUCKET)))
			return -EIO;
		sqlite3_bind_int64(q, 1, rec);
		sqlite3_bind_int64(q, 2, (int64_t)tt_indexer_bucket_ns(ix));
		if ((err = run(s, q, "setting the bucket length")))
			return err;
	}
	tt_indexer_drain(ix, &conns, &nc, &buckets, &nb);
	err = tt_grow((void **)&s->rowids, &s->rowids_cap, nc, sizeof(*s->rowids));
	if (err)
		return fail(s, err, "%s: index: out of memory", s->dir);
	for (i = 0; i < nc; i++)
		if ((err = put_conn(s, rec, &conns[i], &s->rowids[i])))
			return err;
	for (i = 0; i < nb; i++)
		if ((err = put_bucket(s, s->rowids[buckets[i].conn_key], &buckets[i])))
			return err;
	return 0;
}

int tt_store_block(struct tt_store *s, int64_t seg_id, const struct tt_block_info *bi,
		   int64_t m2w, const struct tt_ev_loss *loss, struct tt_indexer *ix)
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
	uint64_t bytes;
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
		v[*n].bytes = (uint64_t)sqlite3_column_int64(q, 3);
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
	sqlite3_stmt *q = stmt(s, which);

	if (!q)
		return -EIO;
	sqlite3_bind_int64(q, 1, id);
	return run(s, q, what);
}

/*
 * The file first: should we die between the two, the row names a missing file
 * (verify reports it, the next retention finishes the job), never the reverse.
 */
static int remove_segment(struct tt_store *s, const struct victim *v)
{
	char path[4096];
	int err;

	snprintf(path, sizeof(path), "%s/%s", s->dir, v->file);
	if (unlink(path) < 0 && errno != ENOENT)
		return fail(s, -errno, "%s: removing: %s", path, strerror(errno));
	if ((err = begin(s)))
		return err;
	if ((err = run_id(s, Q_RET_SEG, v->id, "deleting a segment")) ||
	    (err = run_id(s, Q_RET_BUCKETS, v->rec, "deleting old buckets")) ||
	    (err = run_id(s, Q_RET_CONNS, v->rec, "deleting old connections")) ||
	    (err = run_id(s, Q_RET_REC, v->rec, "deleting an empty recording")) ||
	    (err = commit(s))) {
		rollback(s);
		return err;
	}
	if (v->id == s->seg_id)
		s->seg_id = -1;
	return 0;
}

int tt_store_retain(struct tt_store *s, uint64_t now_ns, uint64_t max_age_ns, uint64_t max_bytes,
		    int64_t keep_seg_id, unsigned *removed)
{
	struct victim *v = NULL;
	uint64_t total = 0;
	size_t n, i;
	int err;

	*removed = 0;
	if ((err = writable(s)))
		return err;
	if (!max_age_ns && !max_bytes)
		return 0;
	if ((err = tt_store_segment_bytes(s, &total)) ||
	    (err = list_sealed(s, keep_seg_id, &v, &n)))
		return err;
	for (i = 0; i < n; i++) {
		int too_old = max_age_ns && now_ns > v[i].t_end_ns &&
			      now_ns - v[i].t_end_ns > max_age_ns;
		int too_big = max_bytes && total > max_bytes;

		if (!too_old && !too_big)
			break;
		if ((err = remove_segment(s, &v[i])))
			break;
		total -= v[i].bytes < total ? v[i].bytes : total;
		(*removed)++;
	}
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
