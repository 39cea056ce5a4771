/*
 * Unit tests of the locked-down SQL runner on a small SQLite file built here in
 * a temporary directory (which is also the working directory, so a file made
 * through a relative path would show too): queries that must work (a join, an
 * aggregate, a view, a recursive CTE that ends, the schema PRAGMAs) with their
 * values and column types; then everything that must be refused, each checked
 * for its error, for no new file in the directory and for an index.db that is
 * byte-for-byte what it was. Also the WAL cases: a writer holding the file (the
 * runner must read its WAL, not ignore it) and a -wal left without its -shm.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <sqlite3.h>

#include "buf.h"
#include "grid.h"
#include "query.h"
#include "tst.h"

struct fx {
	char tmp[64]; /* mkdtemp; also the working directory during the test */
	char db[128]; /* tmp/index.db */
	char oldcwd[4096];
};

/* What the directory holds: sorted names, and index.db's bytes. */
struct snap {
	char names[32][256];
	int n;
	unsigned char *db;
	size_t len;
};

static const char schema[] =
	"PRAGMA journal_mode = WAL;"
	"CREATE TABLE hosts(id INTEGER PRIMARY KEY, name TEXT NOT NULL);"
	"CREATE TABLE conns(id INTEGER PRIMARY KEY, host_id INTEGER REFERENCES hosts(id),"
	" bytes INTEGER, rate REAL, comm TEXT, note BLOB, closed INTEGER);"
	"INSERT INTO hosts VALUES (1, 'alpha'), (2, 'beta'), (3, 'gamma');"
	"INSERT INTO conns VALUES (1, 1, 100, 1.5, 'curl', x'00ff', NULL),"
	" (2, 1, 250, 2.25, 'curl', NULL, 1), (3, 2, 4000, 0.5, 'ssh', NULL, NULL),"
	" (4, 3, NULL, NULL, 'dns', NULL, 0);"
	"CREATE VIEW v_hosts AS SELECT h.name, count(*) AS conns, sum(c.bytes) AS bytes"
	" FROM conns c JOIN hosts h ON h.id = c.host_id GROUP BY h.name;";

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	sqlite3 *db = NULL;

	if (!f || !getcwd(f->oldcwd, sizeof(f->oldcwd)))
		return -1;
	if (tst_tmpdir(f->tmp, sizeof(f->tmp), "query") || chdir(f->tmp))
		return -1;
	snprintf(f->db, sizeof(f->db), "%s/index.db", f->tmp);
	/* built in WAL mode like a store, and closed: no -wal, no -shm left */
	if (sqlite3_open(f->db, &db) != SQLITE_OK ||
	    sqlite3_exec(db, schema, NULL, NULL, NULL) != SQLITE_OK) {
		print_error("building %s: %s\n", f->db, sqlite3_errmsg(db));
		sqlite3_close(db);
		return -1;
	}
	sqlite3_close(db);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	if (chdir(f->oldcwd))
		return -1;
	tst_rmtree(f->tmp);
	free(f);
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void take(const struct fx *f, struct snap *s)
{
	DIR *d = opendir(f->tmp);
	struct dirent *e;

	memset(s, 0, sizeof(*s));
	assert_non_null(d);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && s->n < 32)
			snprintf(s->names[s->n++], sizeof(s->names[0]), "%s", e->d_name);
	closedir(d);
	qsort(s->names, (size_t)s->n, sizeof(s->names[0]), cmp_names);
	s->db = tst_slurp(f->db, &s->len);
	assert_non_null(s->db);
}

/* Nothing appeared or went, and index.db is byte-identical. Frees both. */
static void same(struct snap *a, struct snap *b, const char *what)
{
	int i;

	if (a->n != b->n) {
		for (i = 0; i < b->n; i++)
			print_error("%s: after: %s\n", what, b->names[i]);
		fail_msg("%s: %d files before, %d after", what, a->n, b->n);
	}
	for (i = 0; i < a->n; i++)
		if (strcmp(a->names[i], b->names[i]))
			fail_msg("%s: %s became %s", what, a->names[i], b->names[i]);
	if (a->len != b->len || memcmp(a->db, b->db, a->len))
		fail_msg("%s: index.db changed", what);
	free(a->db);
	free(b->db);
}

/* Run and expect success. */
static struct tt_query *ok(const struct fx *f, const char *sql)
{
	struct tt_query *q = NULL;
	char why[512];
	int err = tt_query_run(f->db, sql, NULL, &q, why, sizeof(why));

	if (err)
		fail_msg("%s: %d %s", sql, err, why);
	assert_non_null(q);
	return q;
}

/* Run and expect err with msg in the message; nothing created, nothing changed. */
static void refused(const struct fx *f, const char *sql, const struct tt_query_limits *lim, int err,
		    const char *msg)
{
	struct tt_query *q = (struct tt_query *)1;
	struct snap a, b;
	char why[512];
	int got;

	take(f, &a);
	got = tt_query_run(f->db, sql, lim, &q, why, sizeof(why));
	take(f, &b);
	if (got != err || !strstr(why, msg)) {
		free(a.db);
		free(b.db);
		fail_msg("%s: got %d '%s', expected %d '%s'", sql, got, why, err, msg);
	}
	assert_null(q);
	assert_null(strchr(why, '\n'));
	same(&a, &b, sql);
}

static void test_select_values_and_types(void **state)
{
	struct fx *f = *state;
	struct tt_query *q = ok(f, "SELECT id, bytes, rate, comm, note, closed FROM conns"
				   " ORDER BY id");
	size_t len;
	const char *p;

	assert_int_equal(tt_query_rows(q), 4);
	assert_int_equal(tt_query_cols(q), 6);
	assert_string_equal(tt_query_col_name(q, 2), "rate");
	assert_int_equal(tt_query_col_type(q, 0), TT_COL_INT);
	assert_int_equal(tt_query_col_type(q, 1), TT_COL_INT);
	assert_int_equal(tt_query_col_type(q, 2), TT_COL_REAL);
	assert_int_equal(tt_query_col_type(q, 3), TT_COL_STR);
	assert_int_equal(tt_query_col_type(q, 4), TT_COL_STR); /* a BLOB */
	assert_int_equal(tt_query_col_type(q, 5), TT_COL_INT);
	assert_int_equal(tt_query_int(q, 2, 1), 4000);
	assert_true(tt_query_real(q, 1, 2) == 2.25);
	assert_string_equal(tt_query_text(q, 2, 3, NULL), "ssh");
	p = tt_query_text(q, 0, 4, &len);
	assert_int_equal(tt_query_type(q, 0, 4), TT_QV_BLOB);
	assert_int_equal(len, 2);
	assert_memory_equal(p, "\x00\xff", 2);
	assert_int_equal(tt_query_type(q, 3, 1), TT_QV_NULL);
	assert_int_equal(tt_query_type(q, 3, 2), TT_QV_NULL);
	assert_int_equal(tt_query_type(q, 0, 5), TT_QV_NULL);
	assert_int_equal(tt_query_int(q, 3, 5), 0);
	assert_int_equal(tt_query_type(q, 3, 5), TT_QV_INT);
	/* out of range: NULL, never a crash */
	assert_int_equal(tt_query_type(q, 4, 0), TT_QV_NULL);
	assert_null(tt_query_col_name(q, 6));
	tt_query_free(q);
}

static void test_join(void **state)
{
	struct fx *f = *state;
	struct tt_query *q = ok(f, "SELECT h.name, c.comm, c.bytes FROM conns c JOIN hosts h"
				   " ON h.id = c.host_id WHERE c.bytes > 200 ORDER BY c.id");

	assert_int_equal(tt_query_rows(q), 2);
	assert_string_equal(tt_query_text(q, 0, 0, NULL), "alpha");
	assert_string_equal(tt_query_text(q, 0, 1, NULL), "curl");
	assert_int_equal(tt_query_int(q, 0, 2), 250);
	assert_string_equal(tt_query_text(q, 1, 0, NULL), "beta");
	assert_int_equal(tt_query_int(q, 1, 2), 4000);
	tt_query_free(q);
}

static void test_aggregate_and_view(void **state)
{
	struct fx *f = *state;
	struct tt_query *q = ok(f, "SELECT host_id, count(*) AS n, sum(bytes) AS total, avg(rate)"
				   " FROM conns GROUP BY host_id ORDER BY host_id");

	assert_int_equal(tt_query_rows(q), 3);
	assert_string_equal(tt_query_col_name(q, 1), "n");
	assert_string_equal(tt_query_col_name(q, 3), "avg(rate)");
	assert_int_equal(tt_query_int(q, 0, 1), 2);
	assert_int_equal(tt_query_int(q, 0, 2), 350);
	assert_true(tt_query_real(q, 0, 3) == 1.875);
	assert_int_equal(tt_query_col_type(q, 3), TT_COL_REAL);
	assert_int_equal(tt_query_type(q, 2, 2), TT_QV_NULL); /* sum of one NULL */
	tt_query_free(q);

	q = ok(f, "SELECT name, conns, bytes FROM v_hosts ORDER BY name");
	assert_int_equal(tt_query_rows(q), 3);
	assert_string_equal(tt_query_text(q, 1, 0, NULL), "beta");
	assert_int_equal(tt_query_int(q, 1, 2), 4000);
	tt_query_free(q);
}

static void test_recursive_cte(void **state)
{
	struct fx *f = *state;
	struct tt_query *q = ok(f, "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c"
				   " WHERE x < 100) SELECT sum(x), count(*) FROM c");

	assert_int_equal(tt_query_int(q, 0, 0), 5050);
	assert_int_equal(tt_query_int(q, 0, 1), 100);
	tt_query_free(q);
}

static void test_filler_around_statement(void **state)
{
	struct fx *f = *state;
	struct tt_query *q = ok(f, " ;/* before */ -- a line\n SELECT 7;; -- after\n /* end");

	assert_int_equal(tt_query_int(q, 0, 0), 7);
	tt_query_free(q);
}

static void test_mixed_and_declared_types(void **state)
{
	struct fx *f = *state;
	struct tt_query *q = ok(f, "SELECT 1 AS a UNION ALL SELECT 2.5");

	assert_int_equal(tt_query_col_type(q, 0), TT_COL_REAL);
	tt_query_free(q);
	q = ok(f, "SELECT 1 AS a UNION ALL SELECT 'x'");
	assert_int_equal(tt_query_col_type(q, 0), TT_COL_STR);
	tt_query_free(q);
	/* every value NULL: the declared type decides */
	q = ok(f, "SELECT closed, rate, comm FROM conns WHERE closed IS NULL AND rate IS NULL");
	assert_int_equal(tt_query_rows(q), 0);
	assert_int_equal(tt_query_col_type(q, 0), TT_COL_INT);
	assert_int_equal(tt_query_col_type(q, 1), TT_COL_REAL);
	assert_int_equal(tt_query_col_type(q, 2), TT_COL_STR);
	tt_query_free(q);
	q = ok(f, "SELECT NULL AS nada");
	assert_int_equal(tt_query_col_type(q, 0), TT_COL_STR);
	tt_query_free(q);
}

static void render(const struct tt_query *q, enum tt_grid_fmt fmt, struct tt_buf *b)
{
	struct tt_grid_opts o = { .fmt = fmt, .header = 1 };
	struct tt_grid *g = tt_query_grid(q);

	assert_non_null(g);
	assert_int_equal(tt_grid_render(g, &o, b), 0);
	tt_grid_free(g);
}

static void test_grid(void **state)
{
	struct fx *f = *state;
	struct tt_query *q = ok(f, "SELECT 1 AS \"a,b\", 2 AS a, 3 AS a, 'x\"y' AS s, x'00ff' AS b,"
				   " NULL AS z, 1 AS m UNION ALL SELECT 4, 5, 6, 't', NULL, NULL,"
				   " 'txt'");
	struct tt_buf b = { 0 };

	render(q, TT_GRID_CSV, &b);
	assert_string_equal(b.p, "a_b,a,a_2,s,b,z,m\n"
				 "1,2,3,\"x\"\"y\",x'00ff',,1\n"
				 "4,5,6,t,,,txt\n");
	tt_buf_reset(&b);
	render(q, TT_GRID_JSON, &b);
	assert_string_equal(b.p, "{\"a_b\":1,\"a\":2,\"a_2\":3,\"s\":\"x\\\"y\",\"b\":\"x'00ff'\","
				 "\"z\":null,\"m\":\"1\"}\n"
				 "{\"a_b\":4,\"a\":5,\"a_2\":6,\"s\":\"t\",\"b\":null,\"z\":null,"
				 "\"m\":\"txt\"}\n");
	tt_buf_reset(&b);
	render(q, TT_GRID_TABLE, &b);
	assert_non_null(strstr(b.p, "a,b  a  a"));
	tt_buf_free(&b);
	tt_query_free(q);

	/* an infinite REAL cannot be a JSON number: the column turns to text */
	q = ok(f, "SELECT 1e999 AS i, 0.5 AS h");
	assert_int_equal(tt_query_col_type(q, 0), TT_COL_STR);
	render(q, TT_GRID_JSON, &b);
	assert_string_equal(b.p, "{\"i\":\"Inf\",\"h\":0.5}\n");
	tt_buf_free(&b);
	tt_query_free(q);
}

static void test_schema_pragmas_and_vtabs(void **state)
{
	struct fx *f = *state;
	struct tt_query *q = ok(f, "PRAGMA table_info(hosts)");
	struct snap a, b;

	take(f, &a);
	assert_int_equal(tt_query_rows(q), 2);
	assert_string_equal(tt_query_text(q, 1, 1, NULL), "name");
	tt_query_free(q);
	q = ok(f, "SELECT name FROM pragma_table_info('conns') ORDER BY cid");
	assert_int_equal(tt_query_rows(q), 7);
	assert_string_equal(tt_query_text(q, 6, 0, NULL), "closed");
	tt_query_free(q);
	q = ok(f, "SELECT count(*) FROM pragma_index_list('conns')");
	tt_query_free(q);
	q = ok(f, "SELECT sum(value) FROM json_each('[1, 2, 3]')");
	assert_int_equal(tt_query_int(q, 0, 0), 6);
	tt_query_free(q);
	take(f, &b);
	same(&a, &b, "schema pragmas");
}

static void test_refusals(void **state)
{
	struct fx *f = *state;
	static const struct {
		const char *sql;
		int err;
		const char *msg;
	} cases[] = {
		{ "INSERT INTO hosts VALUES (9, 'x')", -EPERM, "not allowed: INSERT (the index" },
		{ "UPDATE hosts SET name = 'x'", -EPERM, "not allowed: UPDATE" },
		{ "DELETE FROM conns", -EPERM, "not allowed: DELETE" },
		{ "REPLACE INTO hosts VALUES (1, 'x')", -EPERM, "not allowed: INSERT" },
		{ "CREATE TABLE t(x)", -EPERM, "not allowed: CREATE TABLE" },
		{ "CREATE TEMP TABLE t(x)", -EPERM, "not allowed: CREATE TEMP TABLE" },
		{ "CREATE TEMP VIEW tv AS SELECT 1", -EPERM, "not allowed: CREATE TEMP VIEW" },
		{ "CREATE INDEX i ON conns(bytes)", -EPERM, "not allowed: CREATE INDEX" },
		{ "CREATE VIRTUAL TABLE ft USING fts5(x)", -EPERM, "not allowed: CREATE VIRTUAL" },
		{ "DROP TABLE conns", -EPERM, "not allowed: DROP TABLE" },
		{ "DROP VIEW v_hosts", -EPERM, "not allowed: DROP VIEW" },
		{ "ALTER TABLE hosts ADD COLUMN y", -EPERM, "not allowed: ALTER TABLE" },
		{ "VACUUM", -EPERM, "not allowed: VACUUM" },
		{ "PRAGMA writable_schema = 1", -EPERM, "not allowed: PRAGMA writable_schema" },
		{ "PRAGMA journal_mode = delete", -EPERM, "not allowed: PRAGMA journal_mode" },
		{ "PRAGMA user_version = 5", -EPERM, "not allowed: PRAGMA user_version" },
		{ "PRAGMA main.wal_checkpoint", -EPERM, "not allowed: PRAGMA wal_checkpoint" },
		{ "SELECT * FROM pragma_user_version", -EPERM, "not allowed: virtual table" },
		{ "SELECT load_extension('x')", -EPERM, "not allowed: load_extension()" },
		{ "SELECT LOAD_EXTENSION('x', 'y')", -EPERM, "not allowed: load_extension()" },
		{ "SELECT fts3_tokenizer('simple')", -EPERM, "not allowed: fts3_tokenizer()" },
		{ "BEGIN", -EPERM, "not allowed: BEGIN" },
		{ "BEGIN IMMEDIATE", -EPERM, "not allowed: BEGIN" },
		{ "COMMIT", -EPERM, "not allowed: COMMIT" },
		{ "SAVEPOINT s", -EPERM, "not allowed: SAVEPOINT" },
		{ "DETACH main", -EPERM, "not allowed: DETACH" },
		{ "ANALYZE", -EPERM, "not allowed: ANALYZE" },
		{ "REINDEX", -EPERM, "not allowed: REINDEX" },
		{ "EXPLAIN DELETE FROM conns", -EPERM, "not allowed: DELETE" },
		{ "SELECT 1; SELECT 2", -EINVAL, "only one statement per call" },
		{ "SELECT 1; DROP TABLE conns", -EINVAL, "only one statement per call" },
		{ "SELEC 1", -EINVAL, "syntax error near \"SELEC\"" },
		{ "SELECT * FROM", -EINVAL, "syntax error: incomplete input" },
		{ "SELECT * FROM nowhere", -EINVAL, "no such table: nowhere" },
		{ " -- nothing ;", -EINVAL, "no SQL statement" },
	};
	char attach[256], vacuum[256];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		refused(f, cases[i].sql, NULL, cases[i].err, cases[i].msg);

	/* both would create a file in the directory: the snapshot shows it did not */
	snprintf(attach, sizeof(attach), "ATTACH '%s/evil.db' AS evil", f->tmp);
	refused(f, attach, NULL, -EPERM, "not allowed: ATTACH (the index is read-only)");
	snprintf(attach, sizeof(attach), "ATTACH 'evil.db' AS evil");
	refused(f, attach, NULL, -EPERM, "not allowed: ATTACH (the index is read-only)");
	snprintf(vacuum, sizeof(vacuum), "VACUUM INTO '%s/copy.db'", f->tmp);
	refused(f, vacuum, NULL, -EPERM, "not allowed: VACUUM (the index is read-only)");
	snprintf(vacuum, sizeof(vacuum), "VACUUM main INTO 'copy.db'");
	refused(f, vacuum, NULL, -EPERM, "not allowed: VACUUM");
}

static void test_runaway_cte_times_out(void **state)
{
	struct fx *f = *state;
	struct tt_query_limits lim = { .timeout_ns = 200000000ull };

	/* the refusal itself (-ETIME, the message) proves the limit stopped it */
	refused(f,
		"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c)"
		" SELECT count(*) FROM c",
		&lim, -ETIME, "stopped after 0.2 s (--timeout)");
}

static void test_memory_hogs(void **state)
{
	struct fx *f = *state;
	/* timeouts far off: what stops these is the memory, also on a loaded machine */
	struct tt_query_limits lim = { .max_memory = 16ull << 20,
				       .timeout_ns = 600 * 1000000000ull };
	struct tt_query_limits len = { .timeout_ns = 600 * 1000000000ull };
	sqlite3_int64 before = sqlite3_hard_heap_limit64(-1);

	/* one value past SQLITE_LIMIT_LENGTH */
	refused(f,
		"SELECT length(group_concat(zeroblob(1000000))) FROM (WITH RECURSIVE"
		" c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 1000) SELECT x FROM c)",
		&len, -E2BIG, "string or blob too big");
	/* no value is big, the set is: a DISTINCT over 3M random blobs in the heap */
	refused(f,
		"SELECT count(DISTINCT r) FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL"
		" SELECT x + 1 FROM c LIMIT 3000000) SELECT randomblob(100) AS r FROM c)",
		&lim, -ENOMEM, "needs more than 16 MiB of memory (--max-memory)");
	/* the process-wide limit is put back */
	assert_int_equal(sqlite3_hard_heap_limit64(-1), before);
	/* a large result held, not SQLite's heap */
	refused(f,
		"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 200)"
		" SELECT zeroblob(100000) FROM c",
		&lim, -E2BIG, "the result is larger than 16 MiB (--max-memory)");
}

static void test_max_rows(void **state)
{
	struct fx *f = *state;
	struct tt_query_limits lim = { .max_rows = 3 };
	struct tt_query *q = NULL;
	char why[256];

	refused(f, "SELECT * FROM conns", &lim, -E2BIG, "more than 3 rows (--max-rows)");
	lim.max_rows = 4;
	assert_int_equal(tt_query_run(f->db, "SELECT * FROM conns", &lim, &q, why, sizeof(why)), 0);
	assert_int_equal(tt_query_rows(q), 4);
	tt_query_free(q);
}

static void test_symlinked_index(void **state)
{
	struct fx *f = *state;
	struct tt_query *q = (struct tt_query *)1;
	char dir[160], link[192], why[512];
	struct snap a, b;

	snprintf(dir, sizeof(dir), "%s/other", f->tmp);
	snprintf(link, sizeof(link), "%s/index.db", dir);
	assert_int_equal(mkdir(dir, 0700), 0);
	assert_int_equal(symlink("../index.db", link), 0);
	take(f, &a);
	assert_int_equal(tt_query_run(link, "SELECT 1", NULL, &q, why, sizeof(why)), -ELOOP);
	assert_null(q);
	assert_non_null(strstr(why, "index.db is a symbolic link: refusing to follow it"));
	take(f, &b);
	same(&a, &b, "symlink");
	/* missing, and not SQLite */
	assert_int_equal(tt_query_run("nothere/index.db", "SELECT 1", NULL, &q, why, sizeof(why)),
			 -ENOENT);
	assert_int_equal(unlink(link), 0);
	assert_int_equal(tt_query_run(link, "SELECT 1", NULL, &q, why, sizeof(why)), -ENOENT);
	assert_int_equal(symlink("/etc/hostname", link), 0);
	assert_int_equal(tt_query_run(link, "SELECT 1", NULL, &q, why, sizeof(why)), -ELOOP);
	assert_int_equal(unlink(link), 0);
	assert_int_equal(mkdir(link, 0700), 0);
	assert_int_equal(tt_query_run(link, "SELECT 1", NULL, &q, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "not a regular file"));
	assert_int_equal(rmdir(link), 0);
	{
		FILE *t = fopen(link, "w");

		assert_non_null(t);
		for (int i = 0; i < 20; i++)
			fputs("not a database\n", t);
		fclose(t);
	}
	assert_int_equal(tt_query_run(link, "SELECT 1", NULL, &q, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "is not an SQLite database"));
}

/* A writer with committed rows only in the WAL: they must be seen, nothing made. */
static void test_reads_a_writers_wal(void **state)
{
	struct fx *f = *state;
	struct tt_query *q;
	sqlite3 *w = NULL;
	char wal[160];
	unsigned char *wal0, *wal1;
	size_t l0, l1;
	struct snap a, b;

	assert_int_equal(sqlite3_open(f->db, &w), SQLITE_OK);
	assert_int_equal(sqlite3_exec(w,
				      "PRAGMA wal_autocheckpoint = 0;"
				      "INSERT INTO hosts VALUES (4, 'delta')",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	snprintf(wal, sizeof(wal), "%s-wal", f->db);
	wal0 = tst_slurp(wal, &l0);
	assert_true(l0 > 0);
	take(f, &a);
	q = ok(f, "SELECT count(*), max(name) FROM hosts");
	/* immutable=1 would have read the main file alone: 3 hosts */
	assert_int_equal(tt_query_int(q, 0, 0), 4);
	assert_string_equal(tt_query_text(q, 0, 1, NULL), "gamma");
	tt_query_free(q);
	refused(f, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, -EPERM, "not allowed: PRAGMA");
	take(f, &b);
	same(&a, &b, "writer");
	wal1 = tst_slurp(wal, &l1);
	assert_true(l0 == l1 && !memcmp(wal0, wal1, l0));
	free(wal0);
	free(wal1);
	sqlite3_close(w);
}

/* A -wal with frames and no -shm: reading would create the -shm, so refuse. */
static void test_wal_without_shm(void **state)
{
	struct fx *f = *state;
	char shm[160];
	pid_t pid;
	int st;

	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		sqlite3 *w = NULL;

		/* a writer that dies without closing leaves -wal and -shm */
		if (sqlite3_open(f->db, &w) != SQLITE_OK ||
		    sqlite3_exec(w,
				 "PRAGMA wal_autocheckpoint = 0;"
				 "INSERT INTO hosts VALUES (5, 'epsilon')",
				 NULL, NULL, NULL) != SQLITE_OK)
			_exit(1);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	snprintf(shm, sizeof(shm), "%s-shm", f->db);
	assert_int_equal(unlink(shm), 0);
	refused(f, "SELECT count(*) FROM hosts", NULL, -EBUSY, "-wal exists without");
}

/*
 * No writer at the start, so the read is immutable; a writer then commits and
 * checkpoints into the main file while the query runs. The runner must notice
 * and answer again from the new state (through the WAL, now that it exists).
 */
static void test_immutable_read_retried(void **state)
{
	struct fx *f = *state;
	struct tt_query *q;
	int go[2], done[2];
	pid_t pid;
	char c;
	int st;

	assert_int_equal(pipe(go), 0);
	assert_int_equal(pipe(done), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		sqlite3 *w = NULL;

		close(go[0]);
		close(done[1]);
		usleep(150000); /* the parent is inside its query by now */
		if (sqlite3_open(f->db, &w) != SQLITE_OK ||
		    sqlite3_exec(w,
				 "INSERT INTO hosts VALUES (6, 'zeta');"
				 "PRAGMA wal_checkpoint(TRUNCATE)",
				 NULL, NULL, NULL) != SQLITE_OK)
			_exit(1);
		if (write(go[1], "w", 1) != 1 || read(done[0], &c, 1) < 0)
			_exit(1);
		sqlite3_close(w);
		_exit(0);
	}
	close(go[1]);
	close(done[0]);
	/*
	 * About a second of work, well past the writer's 150 ms; under ASan on a
	 * loaded machine it took more than the default 10 s --timeout: the query's
	 * own time is not what this test is about, so it gets ten minutes.
	 */
	{
		const struct tt_query_limits lim = { .timeout_ns = 600 * 1000000000ull };
		char why[512];
		int err = tt_query_run(f->db,
				       "SELECT (SELECT count(*) FROM hosts), (WITH RECURSIVE"
				       " c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT"
				       " 4000000) SELECT count(*) FROM c)",
				       &lim, &q, why, sizeof(why));

		if (err)
			fail_msg("%d %s", err, why);
	}
	assert_int_equal(read(go[0], &c, 1), 1); /* the writer did write */
	assert_int_equal(tt_query_int(q, 0, 0), 4);
	tt_query_free(q);
	close(done[1]);
	close(go[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_select_values_and_types, setup, teardown),
		cmocka_unit_test_setup_teardown(test_join, setup, teardown),
		cmocka_unit_test_setup_teardown(test_aggregate_and_view, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recursive_cte, setup, teardown),
		cmocka_unit_test_setup_teardown(test_filler_around_statement, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mixed_and_declared_types, setup, teardown),
		cmocka_unit_test_setup_teardown(test_grid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_schema_pragmas_and_vtabs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_runaway_cte_times_out, setup, teardown),
		cmocka_unit_test_setup_teardown(test_memory_hogs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_max_rows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_symlinked_index, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reads_a_writers_wal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wal_without_shm, setup, teardown),
		cmocka_unit_test_setup_teardown(test_immutable_read_retried, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
