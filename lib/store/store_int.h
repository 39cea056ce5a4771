/*
 * store_int.h: private to the store module (lib/store.c: open, write,
 * retention; lib/store_read.c: the read API of store.h): the SQLite handle
 * stays inside the module. One file outside includes it for now: lib/ship.c,
 * whose exporter queries (export cursors, the rows it ships) have no read
 * functions yet.
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
