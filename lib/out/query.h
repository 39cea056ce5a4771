/*
 * query.h: one read-only SQL statement on an SQLite file, locked down, for
 * `tcptop-analyze sql DIR "SELECT ..."`.
 *
 * Workload: a person (or a script) asks one question of a store's index.db,
 * possibly while the recorder writes it. The statement is arbitrary text, so
 * "read-only" has to hold against every way SQLite can touch a file or run
 * native code, not only against INSERT: ATTACH and VACUUM INTO create files
 * even on a read-only connection, PRAGMAs change settings, load_extension()
 * and fts3_tokenizer() reach native code. The defences, all of them applied:
 *
 *   - the file: its directory may be reached through symbolic links, index.db
 *     itself (and -wal/-shm) may not be one; opened SQLITE_OPEN_READONLY |
 *     SQLITE_OPEN_NOFOLLOW. A WAL database with no -wal file (no writer) is
 *     opened immutable=1, which creates no -wal/-shm (a plain read-only open
 *     would create both and leave them behind), and the query is repeated once
 *     if the file changed meanwhile; with a -wal file (a recorder is writing,
 *     or died) it is opened normally, sharing the recorder's WAL index, since
 *     immutable would ignore the WAL and could read pages a checkpoint is
 *     rewriting. A -wal without its -shm is refused (reading it would create
 *     the -shm).
 *   - the connection: SQLITE_DBCONFIG_DEFENSIVE on, extension loading off (C API
 *     and SQL function), TRUSTED_SCHEMA off, SQLITE_LIMIT_ATTACHED 0, query_only,
 *     temp_store=MEMORY (sorts and temporary tables never go to temp files),
 *     cell_size_check on.
 *   - an authorizer that allows only SELECT, READ, RECURSIVE, FUNCTION (minus a
 *     denylist of functions that reach files or native code) and the schema
 *     PRAGMAs table_info, table_xinfo, index_list, index_info, index_xinfo and
 *     foreign_key_list (as statements and as pragma_*() table-valued functions);
 *     everything else (ATTACH, DETACH, every write, CREATE/DROP/ALTER, BEGIN,
 *     SAVEPOINT, ANALYZE, REINDEX, other PRAGMAs, new virtual tables) is denied.
 *   - the statement: exactly one (only blanks, comments and ';' may follow), it
 *     must be a query (the authorizer saw a SELECT or an allowed PRAGMA) and
 *     sqlite3_stmt_readonly() must agree, which also catches VACUUM, for which
 *     SQLite consults no authorizer.
 *   - limits: wall time (a progress handler), SQLite's heap
 *     (sqlite3_hard_heap_limit64, process-wide while the query runs, restored
 *     after), the length of one value (SQLITE_LIMIT_LENGTH), the rows and the
 *     bytes of the result held.
 *
 * A single SQL function call runs without the progress handler being
 * consulted (instr() on two 16 MiB blobs can take hours): the caller should
 * keep a backstop timer of its own. Not thread-safe (the heap limit is global).
 * Nothing here prints or exits; errors are a negative errno and one line in why.
 */
#ifndef TT_QUERY_H
#define TT_QUERY_H

#include <stddef.h>
#include <stdint.h>

#include "grid.h"

#define TT_QUERY_TIMEOUT_NS (10ull * 1000000000ull) /* default wall time */
#define TT_QUERY_MAX_MEMORY (256ull << 20) /* default SQLite heap, and result held */
#define TT_QUERY_MAX_ROWS   ((size_t)1000000) /* default cap on result rows */
#define TT_QUERY_MAX_VALUE  (16 << 20) /* SQLITE_LIMIT_LENGTH: one string or blob */
#define TT_QUERY_MAX_SQL    (1 << 20) /* SQLITE_LIMIT_SQL_LENGTH */

struct tt_query_limits {
	uint64_t timeout_ns; /* open + prepare + every step; 0: TT_QUERY_TIMEOUT_NS */
	uint64_t max_memory; /* bytes; 0: TT_QUERY_MAX_MEMORY */
	size_t max_rows; /* 0: TT_QUERY_MAX_ROWS */
};

/* What a cell holds: SQLite's storage class. */
enum tt_qval {
	TT_QV_NULL = 0,
	TT_QV_INT,
	TT_QV_REAL,
	TT_QV_TEXT,
	TT_QV_BLOB,
};

/* A finished query: column names and types, and every row, held in memory. */
struct tt_query;

/*
 * Run sql, which must be exactly one read-only statement, on the SQLite file at
 * path, within lim (NULL: the defaults). On success *out holds the result (free
 * it with tt_query_free). On failure *out is NULL, why holds one line without
 * the program's prefix, and the return value says what kind of failure:
 *
 *   -ENOENT, -ELOOP (a symbolic link), -EINVAL (not a regular file, not SQLite)
 *                   the file
 *   -EPERM          the statement is not allowed: "not allowed: ATTACH (the index
 *                   is read-only)", "not allowed: load_extension() (...)"
 *   -EINVAL         "syntax error near ...", "only one statement per call",
 *                   "no SQL statement", or SQLite's own message (no such table)
 *   -ETIME          "stopped after 10 s (--timeout)"
 *   -ENOMEM         SQLite needed more than max_memory ("(--max-memory)")
 *   -E2BIG          too many rows ("(--max-rows)"), a value longer than
 *                   TT_QUERY_MAX_VALUE, or a result held larger than max_memory
 *   -EBUSY          the index stayed locked (a writer recovering it) or kept
 *                   changing under an immutable read
 *   -EIO            anything else SQLite reported (corruption, I/O)
 */
int tt_query_run(const char *path, const char *sql, const struct tt_query_limits *lim,
		 struct tt_query **out, char *why, size_t why_len);

void tt_query_free(struct tt_query *q);

size_t tt_query_cols(const struct tt_query *q);
size_t tt_query_rows(const struct tt_query *q);

/* The column's name as SQLite gives it (AS alias, or the expression). */
const char *tt_query_col_name(const struct tt_query *q, size_t col);

/*
 * The column's grid type, decided from all its values: TT_COL_INT if every
 * non-NULL value is an INTEGER, TT_COL_REAL if they are all numbers and one at
 * least is REAL, TT_COL_STR as soon as one is TEXT or BLOB (or an infinite REAL,
 * which JSON cannot carry as a number). A column with no
 * non-NULL value (or a result without rows) takes its declared type's affinity
 * (INTEGER, REAL, TEXT; anything else TT_COL_STR).
 */
enum tt_col_type tt_query_col_type(const struct tt_query *q, size_t col);

/* One cell; out of range is TT_QV_NULL, 0, 0.0, NULL. */
enum tt_qval tt_query_type(const struct tt_query *q, size_t row, size_t col);
int64_t tt_query_int(const struct tt_query *q, size_t row, size_t col);
double tt_query_real(const struct tt_query *q, size_t row, size_t col);
/* TEXT (NUL-terminated) or BLOB bytes; *len (may be NULL) gets the length. */
const char *tt_query_text(const struct tt_query *q, size_t row, size_t col, size_t *len);

/*
 * The result as a grid, typed as tt_query_col_type says. In a TT_COL_STR column
 * numbers become text as SQLite would print them and BLOBs become x'hex'. Table
 * headers are the column names; CSV/JSON keys are the names with '"', '\\', ','
 * and control characters replaced by '_' and a repeated name suffixed _2, _3...
 * The grid refers to q's columns: free it before q. NULL: no memory.
 */
struct tt_grid *tt_query_grid(const struct tt_query *q);

#endif /* TT_QUERY_H */
