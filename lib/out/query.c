/*
 * query.c: see query.h. One attempt opens its own connection, locks it down,
 * prepares the one statement, checks it, and copies every row into memory;
 * an immutable read whose file changed meanwhile is attempted once more.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <sqlite3.h>

#include "format.h"
#include "clock.h"
#include "mem.h"
#include "query.h"
#include "store.h"

struct qcell {
	uint8_t type; /* enum tt_qval */
	uint32_t len; /* TEXT/BLOB bytes (no NUL); TT_QUERY_MAX_VALUE keeps it small */
	union {
		int64_t i;
		double d;
		char *p; /* TEXT/BLOB, NUL-terminated, owned */
	};
};

struct qcol {
	char *name; /* as SQLite names it */
	char *key; /* name made safe for CSV/JSON, unique */
	int decl; /* enum tt_col_type of the declared affinity, -1 without one */
	unsigned seen; /* bit (1 << enum tt_qval) for every storage class met, and SEEN_INF */
};

/* an infinite REAL: "inf" is no JSON number, so the column becomes text ("Inf") */
#define SEEN_INF (1u << 8)

struct tt_query {
	struct qcol *cols;
	struct tt_col *gcols; /* the grid's view of cols, typed once all rows are in */
	size_t ncols;
	struct qcell *cells; /* row-major */
	size_t nrows, cap; /* cap in cells */
	uint64_t bytes; /* held, counted against max_memory */
};

/* One attempt's state, shared with the authorizer and the progress handler. */
struct run {
	const char *shown; /* the path as the caller gave it, for messages */
	char keyword[16]; /* first word of the statement, upper case, for messages */
	char words[48]; /* the same with what CREATE/DROP act on: "CREATE TEMP TABLE" */
	uint64_t deadline; /* CLOCK_MONOTONIC ns */
	uint64_t timeout_ns;
	uint64_t max_memory;
	size_t max_rows;
	int timed_out; /* the progress handler stopped the statement */
	int saw_query; /* the authorizer saw a SELECT or an allowed PRAGMA */
	int denied; /* the authorizer refused something; deny says what */
	char deny[256];
	char *why;
	size_t why_len;
};

/* What inspect() found at path before the attempt. */
struct dbfile {
	char path[PATH_MAX + NAME_MAX + 2]; /* directory resolved, base name kept */
	struct stat st;
	int wal; /* the header says WAL mode */
	int has_wal, has_shm;
	off_t wal_size;
};

static int fail(char *why, size_t len, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *why, size_t len, int err, const char *fmt, ...)
{
	va_list ap;

	if (why && len) {
		va_start(ap, fmt);
		vsnprintf(why, len, fmt, ap);
		va_end(ap);
	}
	return err;
}

/* ---- the statement's text ------------------------------------------------- */

/* Past blanks, comments and empty statements: what may surround the one statement. */
static const char *skip_filler(const char *s)
{
	for (;;) {
		if (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == '\f' ||
		    *s == '\v' || *s == ';') {
			s++;
		} else if (s[0] == '-' && s[1] == '-') {
			while (*s && *s != '\n')
				s++;
		} else if (s[0] == '/' && s[1] == '*') {
			/* SQLite ends an unterminated block comment at the end of input */
			for (s += 2; *s && !(s[0] == '*' && s[1] == '/'); s++)
				;
			if (*s)
				s += 2;
		} else {
			return s;
		}
	}
}

/* ---- the authorizer ------------------------------------------------------- */

/*
 * Functions that reach outside the index. load_extension() is off anyway;
 * Debian builds SQLite with SQLITE_ENABLE_FTS3_TOKENIZER, so the two-argument
 * fts3_tokenizer() would install a tokenizer from a raw pointer; fts5() hands
 * out an API pointer; rtreenode() parses raw node blobs (CVE-2019-8457); the
 * rest are the sqlite3 shell's file functions, should a build ever carry them.
 */
static const char *const denied_functions[] = {
	"load_extension", "fts3_tokenizer",   "fts5",
	"fts5_decode",	  "fts5_decode_none", "rtreenode",
	"rtreedepth",	  "readfile",	      "writefile",
	"edit",		  "lsmode",	      "zipfile",
	"sqlar_compress", "sqlar_uncompress",
};

/* Schema introspection: their argument names a table or index, never a setting. */
static const char *const allowed_pragmas[] = {
	"table_info", "table_xinfo", "index_list", "index_info", "index_xinfo", "foreign_key_list",
};

/*
 * Eponymous virtual tables that may be read. Constructing one runs
 * sqlite3_declare_vtab(), which SQLite 3.40 reports to the authorizer as an
 * UPDATE of sqlite_master: they are built once before the authorizer is
 * installed (each stays cached in the connection), and any other is refused.
 */
static const char *const prewarm[] = {
	"SELECT * FROM json_each('[]')",
	"SELECT * FROM json_tree('[]')",
	"SELECT * FROM dbstat",
	"SELECT * FROM pragma_table_info('')",
	"SELECT * FROM pragma_table_xinfo('')",
	"SELECT * FROM pragma_index_list('')",
	"SELECT * FROM pragma_index_info('')",
	"SELECT * FROM pragma_index_xinfo('')",
	"SELECT * FROM pragma_foreign_key_list('')",
};

#define VTAB_LIST "only json_each, json_tree, dbstat and pragma_table_info & co."

static const char *action_name(int action)
{
	static const char *const names[] = {
		[SQLITE_CREATE_INDEX] = "CREATE INDEX",
		[SQLITE_CREATE_TABLE] = "CREATE TABLE",
		[SQLITE_CREATE_TEMP_INDEX] = "CREATE TEMP INDEX",
		[SQLITE_CREATE_TEMP_TABLE] = "CREATE TEMP TABLE",
		[SQLITE_CREATE_TEMP_TRIGGER] = "CREATE TEMP TRIGGER",
		[SQLITE_CREATE_TEMP_VIEW] = "CREATE TEMP VIEW",
		[SQLITE_CREATE_TRIGGER] = "CREATE TRIGGER",
		[SQLITE_CREATE_VIEW] = "CREATE VIEW",
		[SQLITE_DELETE] = "DELETE",
		[SQLITE_DROP_INDEX] = "DROP INDEX",
		[SQLITE_DROP_TABLE] = "DROP TABLE",
		[SQLITE_DROP_TEMP_INDEX] = "DROP TEMP INDEX",
		[SQLITE_DROP_TEMP_TABLE] = "DROP TEMP TABLE",
		[SQLITE_DROP_TEMP_TRIGGER] = "DROP TEMP TRIGGER",
		[SQLITE_DROP_TEMP_VIEW] = "DROP TEMP VIEW",
		[SQLITE_DROP_TRIGGER] = "DROP TRIGGER",
		[SQLITE_DROP_VIEW] = "DROP VIEW",
		[SQLITE_INSERT] = "INSERT",
		[SQLITE_PRAGMA] = "PRAGMA",
		[SQLITE_READ] = "READ",
		[SQLITE_SELECT] = "SELECT",
		[SQLITE_TRANSACTION] = "TRANSACTION",
		[SQLITE_UPDATE] = "UPDATE",
		[SQLITE_ATTACH] = "ATTACH",
		[SQLITE_DETACH] = "DETACH",
		[SQLITE_ALTER_TABLE] = "ALTER TABLE",
		[SQLITE_REINDEX] = "REINDEX",
		[SQLITE_ANALYZE] = "ANALYZE",
		[SQLITE_CREATE_VTABLE] = "CREATE VIRTUAL TABLE",
		[SQLITE_DROP_VTABLE] = "DROP VIRTUAL TABLE",
		[SQLITE_FUNCTION] = "FUNCTION",
		[SQLITE_SAVEPOINT] = "SAVEPOINT",
		[SQLITE_RECURSIVE] = "RECURSIVE",
	};

	if (action >= 0 && (size_t)action < sizeof(names) / sizeof(names[0]) && names[action])
		return names[action];
	return "this statement";
}

static int in_list(const char *name, const char *const *list, size_t n)
{
	size_t i;

	for (i = 0; name && i < n; i++)
		if (!strcasecmp(name, list[i]))
			return 1;
	return 0;
}

static int is_schema_table(const char *t)
{
	return t && (!strcasecmp(t, "sqlite_master") || !strcasecmp(t, "sqlite_schema") ||
		     !strcasecmp(t, "sqlite_temp_master") || !strcasecmp(t, "sqlite_temp_schema"));
}

static const char *word(char *out, size_t len, const char *s)
{
	size_t n = 0;

	s = skip_filler(s);
	while ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')) {
		if (n + 1 < len)
			out[n++] = (char)(*s >= 'a' ? *s - 'a' + 'A' : *s);
		s++;
	}
	out[n] = '\0';
	return s;
}

/*
 * What the statement is, for messages: its first word, and for CREATE and
 * DROP what they make or remove ("CREATE TEMP TABLE", "DROP INDEX").
 */
static void statement_words(struct run *r, const char *s)
{
	static const char *const mods[] = { "TEMP", "TEMPORARY", "UNIQUE", "VIRTUAL" };
	static const char *const objs[] = { "TABLE", "INDEX", "VIEW", "TRIGGER" };
	char w[16];
	size_t i;

	s = word(r->keyword, sizeof(r->keyword), s);
	snprintf(r->words, sizeof(r->words), "%s", r->keyword);
	if (strcmp(r->keyword, "CREATE") && strcmp(r->keyword, "DROP"))
		return;
	for (i = 0; i < 3; i++) {
		s = word(w, sizeof(w), s);
		if (!in_list(w, mods, 4) && !in_list(w, objs, 4))
			return;
		strncat(r->words, " ", sizeof(r->words) - strlen(r->words) - 1);
		strncat(r->words, w, sizeof(r->words) - strlen(r->words) - 1);
		if (in_list(w, objs, 4))
			return;
	}
}

/* Remember the first thing refused, as the message's "not allowed: ..." line. */
static void deny(struct run *r, int action, const char *a1, const char *a2)
{
	static const char *const queries[] = { "SELECT", "WITH", "VALUES", "EXPLAIN", "PRAGMA" };
	static const char *const writes[] = { "INSERT", "UPDATE", "DELETE", "REPLACE", "WITH" };
	const char *what = action_name(action);

	if (r->denied)
		return;
	r->denied = 1;
	switch (action) {
	case SQLITE_FUNCTION:
		snprintf(r->deny, sizeof(r->deny),
			 "not allowed: %.64s() (it reaches files or native code)", a2 ? a2 : "?");
		return;
	case SQLITE_PRAGMA:
		snprintf(r->deny, sizeof(r->deny),
			 "not allowed: PRAGMA %.64s (the index is read-only; only table_info & co. "
			 "are allowed)",
			 a1 ? a1 : "?");
		return;
	case SQLITE_TRANSACTION:
		what = a1 ? a1 : "BEGIN"; /* BEGIN, COMMIT, ROLLBACK */
		break;
	case SQLITE_SAVEPOINT:
		what = a1 && !strcmp(a1, "RELEASE")    ? "RELEASE"
		       : a1 && !strcmp(a1, "ROLLBACK") ? "ROLLBACK TO"
						       : "SAVEPOINT";
		break;
	case SQLITE_INSERT:
	case SQLITE_UPDATE:
	case SQLITE_DELETE:
		/* a query updating sqlite_master: a virtual table being built (see prewarm) */
		if (action == SQLITE_UPDATE && is_schema_table(a1) &&
		    in_list(r->keyword, queries, 5)) {
			snprintf(r->deny, sizeof(r->deny),
				 "not allowed: virtual table (" VTAB_LIST ")");
			return;
		}
		/* CREATE, DROP, ANALYZE...: their rows in sqlite_* tables are refused first */
		if (a1 && !strncasecmp(a1, "sqlite_", 7) && r->keyword[0] &&
		    !in_list(r->keyword, writes, 5))
			what = r->words;
		break;
	}
	snprintf(r->deny, sizeof(r->deny), "not allowed: %s (the index is read-only)", what);
}

static int authorize(void *arg, int action, const char *a1, const char *a2, const char *db,
		     const char *inner)
{
	struct run *r = arg;

	(void)db, (void)inner;
	switch (action) {
	case SQLITE_SELECT:
		r->saw_query = 1;
		return SQLITE_OK;
	case SQLITE_READ:
	case SQLITE_RECURSIVE:
		return SQLITE_OK;
	case SQLITE_FUNCTION:
		if (!in_list(a2, denied_functions,
			     sizeof(denied_functions) / sizeof(denied_functions[0])))
			return SQLITE_OK;
		break;
	case SQLITE_PRAGMA:
		if (in_list(a1, allowed_pragmas,
			    sizeof(allowed_pragmas) / sizeof(allowed_pragmas[0]))) {
			r->saw_query = 1;
			return SQLITE_OK;
		}
		break;
	}
	deny(r, action, a1, a2);
	return SQLITE_DENY;
}

static int progress(void *arg)
{
	struct run *r = arg;

	if (tt_clock_ns(CLOCK_MONOTONIC) < r->deadline)
		return 0;
	r->timed_out = 1;
	return 1;
}

/* ---- errors --------------------------------------------------------------- */

static void seconds(char *buf, size_t len, uint64_t ns)
{
	snprintf(buf, len, "%g s", (double)ns / 1e9);
}

/* "256 MiB" for the round sizes people pass, tt_fmt_bytes otherwise. */
static const char *size_text(char *buf, size_t len, uint64_t bytes)
{
	if (bytes >= (1u << 20) && !(bytes & ((1u << 20) - 1)))
		snprintf(buf, len, "%" PRIu64 " MiB", bytes >> 20);
	else
		tt_fmt_bytes(buf, len, bytes);
	return buf;
}

/* A failed prepare or step as one line and an errno. */
static int sql_fail(struct run *r, sqlite3 *db, int rc)
{
	const char *msg = db ? sqlite3_errmsg(db) : "out of memory";
	const char *near;
	char b[32];

	if (r->timed_out || (rc & 0xff) == SQLITE_INTERRUPT) {
		seconds(b, sizeof(b), r->timeout_ns);
		return fail(r->why, r->why_len, -ETIME, "stopped after %s (--timeout)", b);
	}
	if (!strncmp(msg, "vtable constructor failed: ", 27))
		return fail(r->why, r->why_len, -EPERM,
			    "not allowed: virtual table %.64s (" VTAB_LIST ")", msg + 27);
	if (r->denied)
		return fail(r->why, r->why_len, -EPERM, "%s", r->deny);
	switch (rc & 0xff) {
	case SQLITE_AUTH:
		return fail(r->why, r->why_len, -EPERM, "not allowed: %s", msg);
	case SQLITE_NOMEM:
		return fail(r->why, r->why_len, -ENOMEM,
			    "stopped: needs more than %s of memory (--max-memory)",
			    size_text(b, sizeof(b), r->max_memory));
	case SQLITE_TOOBIG:
		return fail(r->why, r->why_len, -E2BIG,
			    "a value grew longer than %s (string or blob too big)",
			    size_text(b, sizeof(b), TT_QUERY_MAX_VALUE));
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return fail(r->why, r->why_len, -EBUSY, "%s: the index is busy: %s", r->shown, msg);
	case SQLITE_READONLY:
		return fail(r->why, r->why_len, -EPERM, "not allowed: %s (the index is read-only)",
			    msg);
	case SQLITE_ERROR:
		/* SQLite says 'near "X": syntax error'; people read the error first */
		near = strstr(msg, ": syntax error");
		if (!strncmp(msg, "near ", 5) && near && !near[14])
			return fail(r->why, r->why_len, -EINVAL, "syntax error near %.*s",
				    (int)(near - msg - 5), msg + 5);
		if (!strcmp(msg, "incomplete input"))
			return fail(r->why, r->why_len, -EINVAL, "syntax error: incomplete input");
		return fail(r->why, r->why_len, -EINVAL, "%s", msg);
	}
	return fail(r->why, r->why_len, -EIO, "%s: %s", r->shown, msg);
}

/* ---- the file ------------------------------------------------------------- */

static int side_file(const char *shown, const char *path, const char *suffix, int *has, off_t *size,
		     char *why, size_t len)
{
	char p[PATH_MAX + NAME_MAX + 8];
	struct stat st;

	snprintf(p, sizeof(p), "%s%s", path, suffix);
	*has = 0;
	if (lstat(p, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		return fail(why, len, -errno, "%s%s: %s", shown, suffix, strerror(errno));
	}
	if (S_ISLNK(st.st_mode))
		return fail(why, len, -ELOOP, "%s%s is a symbolic link: refusing to follow it",
			    shown, suffix);
	if (!S_ISREG(st.st_mode))
		return fail(why, len, -EINVAL, "%s%s is not a regular file", shown, suffix);
	*has = 1;
	if (size)
		*size = st.st_size;
	return 0;
}

/*
 * Resolve the directory (symbolic links there are the user's layout), refuse a
 * symbolic link as the file itself, and read the header: is it SQLite, is it in
 * WAL mode, which of -wal and -shm exist.
 */
static int inspect(const char *shown, struct dbfile *f, char *why, size_t len)
{
	char dir[PATH_MAX], real[PATH_MAX];
	const char *slash = strrchr(shown, '/'), *base = slash ? slash + 1 : shown;
	unsigned char hdr[100];
	int fd, err;
	ssize_t n;

	memset(f, 0, sizeof(*f));
	if (!*base || !strcmp(base, ".") || !strcmp(base, ".."))
		return fail(why, len, -EINVAL, "%s: not a file name", shown);
	if (slash) {
		size_t dl = slash == shown ? 1 : (size_t)(slash - shown);

		if (dl >= sizeof(dir))
			return fail(why, len, -ENAMETOOLONG, "%s: path too long", shown);
		memcpy(dir, shown, dl);
		dir[dl] = '\0';
	} else {
		snprintf(dir, sizeof(dir), ".");
	}
	if (!realpath(dir, real))
		return fail(why, len, -errno, "%s: %s", dir, strerror(errno));
	if (strlen(base) > NAME_MAX)
		return fail(why, len, -ENAMETOOLONG, "%s: name too long", shown);
	snprintf(f->path, sizeof(f->path), "%s/%s", strcmp(real, "/") ? real : "", base);

	if (lstat(f->path, &f->st) < 0) {
		if (errno == ENOENT)
			return fail(why, len, -ENOENT, "%s: no such file", shown);
		return fail(why, len, -errno, "%s: %s", shown, strerror(errno));
	}
	if (S_ISLNK(f->st.st_mode))
		return fail(why, len, -ELOOP, "%s is a symbolic link: refusing to follow it",
			    shown);
	if (!S_ISREG(f->st.st_mode))
		return fail(why, len, -EINVAL, "%s is not a regular file", shown);
	fd = open(f->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return fail(why, len, -errno, "%s: %s", shown, strerror(errno));
	n = read(fd, hdr, sizeof(hdr));
	err = n < 0 ? -errno : 0;
	close(fd);
	if (err)
		return fail(why, len, err, "%s: %s", shown, strerror(-err));
	if (n < (ssize_t)sizeof(hdr) || memcmp(hdr, "SQLite format 3", 16))
		return fail(why, len, -EINVAL, "%s is not an SQLite database", shown);
	/* file format write/read versions: 2 means WAL */
	f->wal = hdr[18] == 2 || hdr[19] == 2;
	if ((err = side_file(shown, f->path, "-wal", &f->has_wal, &f->wal_size, why, len)) ||
	    (err = side_file(shown, f->path, "-shm", &f->has_shm, NULL, why, len)))
		return err;
	return 0;
}

/* Did the file change since inspect()? An immutable read of it is then suspect. */
static int changed(const struct dbfile *f)
{
	struct stat st;

	if (lstat(f->path, &st) < 0)
		return 1;
	return st.st_dev != f->st.st_dev || st.st_ino != f->st.st_ino ||
	       st.st_size != f->st.st_size || st.st_mtim.tv_sec != f->st.st_mtim.tv_sec ||
	       st.st_mtim.tv_nsec != f->st.st_mtim.tv_nsec ||
	       st.st_ctim.tv_sec != f->st.st_ctim.tv_sec ||
	       st.st_ctim.tv_nsec != f->st.st_ctim.tv_nsec;
}

/* ---- the connection ------------------------------------------------------- */

static int lock_down(struct run *r, sqlite3 *db)
{
	static const struct {
		int op, value;
		const char *name;
	} cfg[] = {
		{ SQLITE_DBCONFIG_DEFENSIVE, 1, "DEFENSIVE" },
		{ SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, "ENABLE_LOAD_EXTENSION" },
		{ SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, "TRUSTED_SCHEMA" },
		{ SQLITE_DBCONFIG_ENABLE_FTS3_TOKENIZER, 0, "ENABLE_FTS3_TOKENIZER" },
		{ SQLITE_DBCONFIG_WRITABLE_SCHEMA, 0, "WRITABLE_SCHEMA" },
		{ SQLITE_DBCONFIG_RESET_DATABASE, 0, "RESET_DATABASE" },
		{ SQLITE_DBCONFIG_ENABLE_TRIGGER, 0, "ENABLE_TRIGGER" },
	};
	uint64_t left = r->deadline > tt_clock_ns(CLOCK_MONOTONIC)
				? r->deadline - tt_clock_ns(CLOCK_MONOTONIC)
				: 0;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(cfg) / sizeof(cfg[0]); i++) {
		int got = -1;

		/* read back: an SQLite that ignores one of these must not run the query */
		if (sqlite3_db_config(db, cfg[i].op, cfg[i].value, &got) != SQLITE_OK ||
		    got != cfg[i].value)
			return fail(r->why, r->why_len, -EIO,
				    "this SQLite cannot set SQLITE_DBCONFIG_%s: refusing to run",
				    cfg[i].name);
	}
	if (sqlite3_enable_load_extension(db, 0) != SQLITE_OK)
		return fail(r->why, r->why_len, -EIO, "cannot turn extension loading off");

	sqlite3_limit(db, SQLITE_LIMIT_ATTACHED, 0);
	sqlite3_limit(db, SQLITE_LIMIT_LENGTH, TT_QUERY_MAX_VALUE);
	sqlite3_limit(db, SQLITE_LIMIT_SQL_LENGTH, TT_QUERY_MAX_SQL);
	sqlite3_limit(db, SQLITE_LIMIT_LIKE_PATTERN_LENGTH, 10000);
	sqlite3_limit(db, SQLITE_LIMIT_WORKER_THREADS, 0);
	if (sqlite3_limit(db, SQLITE_LIMIT_ATTACHED, -1) != 0)
		return fail(r->why, r->why_len, -EIO, "cannot set SQLITE_LIMIT_ATTACHED to 0");

	/* a reader meets the writer's locks only briefly (WAL recovery) */
	sqlite3_busy_timeout(db, (int)(left / 1000000 > INT_MAX ? INT_MAX : left / 1000000));

	/*
	 * temp_store=MEMORY: sorts and temporary b-trees stay in the heap (and so
	 * under its limit) instead of going to files in /var/tmp.
	 */
	rc = sqlite3_exec(db,
			  "PRAGMA query_only = 1; PRAGMA temp_store = MEMORY;"
			  " PRAGMA cell_size_check = 1; PRAGMA trusted_schema = 0",
			  NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return sql_fail(r, db, rc);
	for (i = 0; i < sizeof(prewarm) / sizeof(prewarm[0]); i++) {
		sqlite3_stmt *s = NULL;

		/* a build without one simply does not offer it */
		sqlite3_prepare_v2(db, prewarm[i], -1, &s, NULL);
		sqlite3_finalize(s);
	}
	sqlite3_progress_handler(db, 1000, progress, r);
	sqlite3_set_authorizer(db, authorize, r);
	return 0;
}

/* ---- the result ----------------------------------------------------------- */

static int decl_type(const char *decl)
{
	/* SQLite's affinity rules (datatype3.html, 3.1), in their order */
	if (!decl)
		return -1;
	if (strcasestr(decl, "INT"))
		return TT_COL_INT;
	if (strcasestr(decl, "CHAR") || strcasestr(decl, "CLOB") || strcasestr(decl, "TEXT"))
		return TT_COL_STR;
	if (strcasestr(decl, "BLOB"))
		return -1;
	if (strcasestr(decl, "REAL") || strcasestr(decl, "FLOA") || strcasestr(decl, "DOUB"))
		return TT_COL_REAL;
	return -1; /* NUMERIC: the values decide */
}

static struct qcell *cell(const struct tt_query *q, size_t row, size_t col)
{
	if (!q || row >= q->nrows || col >= q->ncols)
		return NULL;
	return &q->cells[row * q->ncols + col];
}

static void free_cells(struct tt_query *q)
{
	size_t i;

	for (i = 0; i < q->nrows * q->ncols; i++)
		if (q->cells[i].type == TT_QV_TEXT || q->cells[i].type == TT_QV_BLOB)
			free(q->cells[i].p);
	free(q->cells);
	q->cells = NULL;
	q->nrows = q->cap = 0;
}

void tt_query_free(struct tt_query *q)
{
	size_t i;

	if (!q)
		return;
	if (q->cells)
		free_cells(q);
	for (i = 0; q->cols && i < q->ncols; i++) {
		free(q->cols[i].name);
		free(q->cols[i].key);
	}
	free(q->cols);
	free(q->gcols);
	free(q);
}

/* A CSV/JSON key: the name without what would break either, unique in the row. */
static char *make_key(const struct tt_query *q, size_t col)
{
	const char *name = q->cols[col].name;
	size_t n = strlen(name), i, k;
	char *base = malloc(n + 1), *key;

	if (!base)
		return NULL;
	for (i = 0; i <= n; i++) {
		unsigned char c = (unsigned char)name[i];

		base[i] = c && (c < 0x20 || c == 0x7f || c == '"' || c == '\\' || c == ',')
				  ? '_'
				  : (char)c;
	}
	key = base;
	for (k = 2;; k++) {
		size_t j;

		for (j = 0; j < col && strcmp(q->cols[j].key, key); j++)
			;
		if (j == col)
			break;
		if (key != base)
			free(key);
		key = malloc(n + 24);
		if (!key) {
			free(base);
			return NULL;
		}
		snprintf(key, n + 24, "%s_%zu", base, k);
	}
	if (key != base)
		free(base);
	return key;
}

static int add_columns(struct run *r, struct tt_query *q, sqlite3_stmt *st)
{
	size_t i;

	q->ncols = (size_t)sqlite3_column_count(st);
	q->cols = calloc(q->ncols ? q->ncols : 1, sizeof(*q->cols));
	q->gcols = calloc(q->ncols ? q->ncols : 1, sizeof(*q->gcols));
	if (!q->cols || !q->gcols)
		return fail(r->why, r->why_len, -ENOMEM, "out of memory");
	for (i = 0; i < q->ncols; i++) {
		const char *name = sqlite3_column_name(st, (int)i);

		q->cols[i].name = strdup(name ? name : "");
		if (!q->cols[i].name || !(q->cols[i].key = make_key(q, i)))
			return fail(r->why, r->why_len, -ENOMEM, "out of memory");
		q->cols[i].decl = decl_type(sqlite3_column_decltype(st, (int)i));
		q->bytes += 2 * strlen(q->cols[i].name) + 2 + sizeof(*q->cols) + sizeof(*q->gcols);
	}
	return 0;
}

static int add_row(struct run *r, struct tt_query *q, sqlite3 *db, sqlite3_stmt *st)
{
	char b[32];
	size_t i;

	if (q->nrows >= r->max_rows)
		return fail(r->why, r->why_len, -E2BIG,
			    "more than %zu rows (--max-rows): add a LIMIT or narrow the query",
			    r->max_rows);
	if (tt_grow((void **)&q->cells, &q->cap, (q->nrows + 1) * q->ncols, sizeof(*q->cells)))
		return fail(r->why, r->why_len, -ENOMEM, "out of memory");
	memset(&q->cells[q->nrows * q->ncols], 0, q->ncols * sizeof(*q->cells));
	q->nrows++;
	q->bytes += q->ncols * sizeof(*q->cells);
	for (i = 0; i < q->ncols; i++) {
		struct qcell *c = &q->cells[(q->nrows - 1) * q->ncols + i];
		int t = sqlite3_column_type(st, (int)i);
		const void *p = NULL;
		size_t n;

		switch (t) {
		case SQLITE_INTEGER:
			c->type = TT_QV_INT;
			c->i = sqlite3_column_int64(st, (int)i);
			break;
		case SQLITE_FLOAT:
			c->type = TT_QV_REAL;
			c->d = sqlite3_column_double(st, (int)i);
			if (isinf(c->d))
				q->cols[i].seen |= SEEN_INF;
			break;
		case SQLITE_TEXT:
		case SQLITE_BLOB:
			p = t == SQLITE_TEXT ? (const void *)sqlite3_column_text(st, (int)i)
					     : sqlite3_column_blob(st, (int)i);
			n = (size_t)sqlite3_column_bytes(st, (int)i);
			if (!p && (n || sqlite3_errcode(db) == SQLITE_NOMEM))
				return sql_fail(r, db, SQLITE_NOMEM);
			c->p = malloc(n + 1);
			if (!c->p)
				return fail(r->why, r->why_len, -ENOMEM, "out of memory");
			if (n)
				memcpy(c->p, p, n);
			c->p[n] = '\0';
			c->len = (uint32_t)n;
			c->type = t == SQLITE_TEXT ? TT_QV_TEXT : TT_QV_BLOB;
			q->bytes += n + 1;
			break;
		default:
			c->type = TT_QV_NULL;
			break;
		}
		q->cols[i].seen |= 1u << c->type;
	}
	if (q->bytes > r->max_memory)
		return fail(r->why, r->why_len, -E2BIG,
			    "the result is larger than %s (--max-memory)",
			    size_text(b, sizeof(b), r->max_memory));
	return 0;
}

/* Column types once every value is known (query.h, tt_query_col_type). */
static void settle_types(struct tt_query *q)
{
	size_t i;

	for (i = 0; i < q->ncols; i++) {
		unsigned s = q->cols[i].seen;
		enum tt_col_type t;

		if (s & ((1u << TT_QV_TEXT) | (1u << TT_QV_BLOB) | SEEN_INF))
			t = TT_COL_STR;
		else if (s & (1u << TT_QV_REAL))
			t = TT_COL_REAL;
		else if (s & (1u << TT_QV_INT))
			t = TT_COL_INT;
		else
			t = q->cols[i].decl >= 0 ? (enum tt_col_type)q->cols[i].decl : TT_COL_STR;
		q->gcols[i].key = q->cols[i].key;
		q->gcols[i].title = q->cols[i].name;
		q->gcols[i].type = t;
	}
}

/* ---- one attempt ---------------------------------------------------------- */

static int attempt(struct run *r, const struct dbfile *f, int immutable, const char *sql,
		   struct tt_query **out)
{
	char uri[3 * sizeof(f->path) + 32];
	sqlite3_int64 old_limit = sqlite3_hard_heap_limit64(-1);
	struct tt_query *q = NULL;
	sqlite3_stmt *st = NULL;
	sqlite3 *db = NULL;
	const char *tail = NULL;
	int err, rc;

	r->timed_out = r->saw_query = r->denied = 0;
	r->deny[0] = '\0';
	err = tt_store_sqlite_uri(uri, sizeof(uri), f->path, immutable);
	if (err)
		return fail(r->why, r->why_len, err, "%s: path too long", r->shown);

	/* process-wide, so it covers this connection's every allocation; put back below */
	sqlite3_hard_heap_limit64((sqlite3_int64)r->max_memory);
	rc = sqlite3_open_v2(uri, &db,
			     SQLITE_OPEN_READONLY | SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_URI |
				     SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_PRIVATECACHE |
				     SQLITE_OPEN_EXRESCODE,
			     NULL);
	if (rc != SQLITE_OK) {
		if (rc == SQLITE_CANTOPEN_SYMLINK)
			err = fail(r->why, r->why_len, -ELOOP,
				   "%s: a symbolic link appeared on the way: refusing to follow it",
				   r->shown);
		else
			err = sql_fail(r, db, rc);
		goto out;
	}
	/*
	 * Without memory statistics (SQLITE_DEFAULT_MEMSTATUS=0) SQLite neither
	 * counts nor limits its heap, and --max-memory would be a promise not kept.
	 */
	if (sqlite3_memory_used() <= 0) {
		err = fail(r->why, r->why_len, -EIO,
			   "this SQLite does not count its memory: --max-memory cannot hold");
		goto out;
	}
	if ((err = lock_down(r, db)))
		goto out;

	rc = sqlite3_prepare_v2(db, sql, -1, &st, &tail);
	if (rc != SQLITE_OK) {
		err = sql_fail(r, db, rc);
		goto out;
	}
	if (!st) {
		err = fail(r->why, r->why_len, -EINVAL, "no SQL statement");
		goto out;
	}
	if (*skip_filler(tail)) {
		err = fail(r->why, r->why_len, -EINVAL, "only one statement per call");
		goto out;
	}
	/*
	 * A query, and SQLite agrees it writes nothing: VACUUM (INTO) reaches no
	 * authorizer at prepare time and is caught here.
	 */
	if (!r->saw_query || !sqlite3_stmt_readonly(st)) {
		err = fail(r->why, r->why_len, -EPERM, "not allowed: %s (the index is read-only)",
			   r->words[0] ? r->words : "this statement");
		goto out;
	}

	q = calloc(1, sizeof(*q));
	if (!q) {
		err = fail(r->why, r->why_len, -ENOMEM, "out of memory");
		goto out;
	}
	if ((err = add_columns(r, q, st)))
		goto out;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if ((err = add_row(r, q, db, st)))
			goto out;
	if (rc != SQLITE_DONE) {
		err = sql_fail(r, db, rc);
		goto out;
	}
	settle_types(q);
	*out = q;
	q = NULL;
	err = 0;
out:
	sqlite3_finalize(st);
	sqlite3_close(db);
	sqlite3_hard_heap_limit64(old_limit);
	tt_query_free(q);
	return err;
}

int tt_query_run(const char *path, const char *sql, const struct tt_query_limits *lim,
		 struct tt_query **out, char *why, size_t why_len)
{
	struct run r = { 0 };
	struct dbfile f;
	int err = 0, n;

	*out = NULL;
	if (why && why_len)
		why[0] = '\0';
	if (!path || !sql)
		return fail(why, why_len, -EINVAL, "no SQL statement");
	r.shown = path;
	r.why = why;
	r.why_len = why_len;
	r.timeout_ns = lim && lim->timeout_ns ? lim->timeout_ns : TT_QUERY_TIMEOUT_NS;
	r.max_memory = lim && lim->max_memory ? lim->max_memory : TT_QUERY_MAX_MEMORY;
	r.max_rows = lim && lim->max_rows ? lim->max_rows : TT_QUERY_MAX_ROWS;
	r.deadline = tt_clock_ns(CLOCK_MONOTONIC) + r.timeout_ns;

	sql = skip_filler(sql);
	if (!*sql)
		return fail(why, why_len, -EINVAL, "no SQL statement");
	if (strlen(sql) > TT_QUERY_MAX_SQL)
		return fail(why, why_len, -E2BIG, "the statement is longer than %d bytes",
			    TT_QUERY_MAX_SQL);
	statement_words(&r, sql);

	for (n = 0; n < 2; n++) {
		int immutable;

		if ((err = inspect(path, &f, why, why_len)))
			return err;
		/*
		 * A WAL database without -wal has no writer: immutable=1 reads it
		 * without creating -wal/-shm. With -wal, share the writer's WAL
		 * index; immutable would miss the WAL. A -wal holding frames but no
		 * -shm cannot be read without creating the -shm.
		 */
		immutable = f.wal && (!f.has_wal || (!f.has_shm && f.wal_size < 32));
		if (f.wal && f.has_wal && !f.has_shm && !immutable)
			return fail(why, why_len, -EBUSY,
				    "%s-wal exists without %s-shm (a writer stopped abruptly?): "
				    "reading it would create the -shm; run tcptop-record on the "
				    "store, or `sqlite3 -readonly %s` once",
				    path, path, path);
		err = attempt(&r, &f, immutable, sql, out);
		if (!immutable || !changed(&f))
			return err;
		/* a writer came and checkpointed under the immutable read: again */
		if (err == -ETIME || err == -EPERM || err == -ENOMEM || err == -E2BIG)
			return err;
		tt_query_free(*out);
		*out = NULL;
	}
	return fail(why, why_len, -EBUSY,
		    "%s changed during the query twice (a writer checkpointing?): run it again",
		    path);
}

/* ---- reading the result --------------------------------------------------- */

size_t tt_query_cols(const struct tt_query *q)
{
	return q ? q->ncols : 0;
}

size_t tt_query_rows(const struct tt_query *q)
{
	return q ? q->nrows : 0;
}

const char *tt_query_col_name(const struct tt_query *q, size_t col)
{
	return q && col < q->ncols ? q->cols[col].name : NULL;
}

enum tt_col_type tt_query_col_type(const struct tt_query *q, size_t col)
{
	return q && col < q->ncols ? q->gcols[col].type : TT_COL_STR;
}

enum tt_qval tt_query_type(const struct tt_query *q, size_t row, size_t col)
{
	const struct qcell *c = cell(q, row, col);

	return c ? (enum tt_qval)c->type : TT_QV_NULL;
}

int64_t tt_query_int(const struct tt_query *q, size_t row, size_t col)
{
	const struct qcell *c = cell(q, row, col);

	if (!c)
		return 0;
	return c->type == TT_QV_INT ? c->i : c->type == TT_QV_REAL ? (int64_t)c->d : 0;
}

double tt_query_real(const struct tt_query *q, size_t row, size_t col)
{
	const struct qcell *c = cell(q, row, col);

	if (!c)
		return 0.0;
	return c->type == TT_QV_REAL ? c->d : c->type == TT_QV_INT ? (double)c->i : 0.0;
}

const char *tt_query_text(const struct tt_query *q, size_t row, size_t col, size_t *len)
{
	const struct qcell *c = cell(q, row, col);

	if (!c || (c->type != TT_QV_TEXT && c->type != TT_QV_BLOB)) {
		if (len)
			*len = 0;
		return NULL;
	}
	if (len)
		*len = c->len;
	return c->p;
}

/* A REAL as SQLite prints it: shortest of 15 or 17 digits, and always a point. */
static void real_text(char *buf, size_t len, double d)
{
	if (isinf(d)) {
		snprintf(buf, len, d < 0 ? "-Inf" : "Inf");
		return;
	}
	snprintf(buf, len, "%.15g", d);
	if (strtod(buf, NULL) != d)
		snprintf(buf, len, "%.17g", d);
	if (!strpbrk(buf, ".en"))
		strncat(buf, ".0", len - strlen(buf) - 1);
}

static int grid_text(struct tt_grid *g, size_t col, const struct qcell *c)
{
	static const char hex[] = "0123456789abcdef";
	char b[40];
	char *x;
	size_t i;

	switch (c->type) {
	case TT_QV_INT:
		snprintf(b, sizeof(b), "%" PRId64, c->i);
		tt_grid_str(g, col, b);
		break;
	case TT_QV_REAL:
		real_text(b, sizeof(b), c->d);
		tt_grid_str(g, col, b);
		break;
	case TT_QV_TEXT:
		tt_grid_str(g, col, c->p);
		break;
	case TT_QV_BLOB:
		x = malloc(2 * (size_t)c->len + 4);
		if (!x)
			return -ENOMEM;
		x[0] = 'x';
		x[1] = '\'';
		for (i = 0; i < c->len; i++) {
			x[2 + 2 * i] = hex[(unsigned char)c->p[i] >> 4];
			x[3 + 2 * i] = hex[(unsigned char)c->p[i] & 15];
		}
		x[2 + 2 * i] = '\'';
		x[3 + 2 * i] = '\0';
		tt_grid_str(g, col, x);
		free(x);
		break;
	}
	return 0;
}

struct tt_grid *tt_query_grid(const struct tt_query *q)
{
	struct tt_grid *g;
	size_t r, c;

	if (!q)
		return NULL;
	g = tt_grid_new(q->gcols, q->ncols);
	if (!g)
		return NULL;
	for (r = 0; r < q->nrows; r++) {
		if (tt_grid_add_row(g)) {
			tt_grid_free(g);
			return NULL;
		}
		for (c = 0; c < q->ncols; c++) {
			const struct qcell *x = &q->cells[r * q->ncols + c];

			if (x->type == TT_QV_NULL)
				continue;
			switch (q->gcols[c].type) {
			case TT_COL_INT:
				tt_grid_int(g, c, x->i);
				break;
			case TT_COL_REAL:
				tt_grid_real(g, c, x->type == TT_QV_REAL ? x->d : (double)x->i);
				break;
			default:
				if (grid_text(g, c, x)) {
					tt_grid_free(g);
					return NULL;
				}
				break;
			}
		}
	}
	return g;
}
