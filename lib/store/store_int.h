/*
 * store_int.h: private to the store module (lib/store/store.c: open, write,
 * retention, export cursors; lib/store/store_read.c: the read API of store.h;
 * lib/store/idxcheck.c: the checks of what a reader takes from the index): the
 * SQLite handle stays inside lib/store/. No file outside includes it: there is
 * no SQL outside lib/store/ but lib/out/query.c's guarded connection for the
 * sql command (tests/lint/no_sql_outside_store.cmake keeps it so).
 */
#ifndef TT_STORE_INT_H
#define TT_STORE_INT_H

#include <sqlite3.h>

#include "store.h"

/*
 * SQL: whether the blocks row aliased b (joined with its segments row s) can be
 * placed: an integer offset and seq, times in (0, TT_TIME_MAX] in order, and a
 * span of at most a day (a block is at most a --flush, an hour). Rows that
 * are not are left out of every selection and reported as lost.
 */
#define TT_REPLAY_BLOCK_OK                                                                         \
	"(typeof(b.offset) = 'integer' AND b.offset >= 0 AND typeof(s.seq) = 'integer' AND"        \
	" typeof(b.t_start_ns) = 'integer' AND typeof(b.t_end_ns) = 'integer' AND"                 \
	" b.t_start_ns > 0 AND b.t_end_ns >= b.t_start_ns AND b.t_end_ns <= 4611686018427387904"   \
	" AND b.t_end_ns - b.t_start_ns <= 86400000000000)"

/* The store's SQLite connection. */
sqlite3 *tt_store_sqlite(struct tt_store *s);

/* Set tt_store_errmsg to the formatted line; returns err. */
int tt_store_fail(struct tt_store *s, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif /* TT_STORE_INT_H */
