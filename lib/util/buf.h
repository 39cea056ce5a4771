/*
 * buf.h: a growable text buffer with a cap. Printers in lib/ write here; only
 * the command-line tools decide where the text goes.
 */
#ifndef TT_BUF_H
#define TT_BUF_H

#include <stddef.h>

#define TT_BUF_MAX (64u << 20) /* no single output grows past 64 MiB */

struct tt_buf {
	char *p; /* NUL-terminated when len > 0 */
	size_t len;
	size_t cap;
	int err; /* sticky: -ENOMEM or -E2BIG once an append failed */
};

/* Append formatted text; on failure sets b->err and leaves the text as it was. */
void tt_buf_printf(struct tt_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Append n bytes. */
void tt_buf_add(struct tt_buf *b, const char *s, size_t n);

/* Empty the buffer, keeping its memory. */
void tt_buf_reset(struct tt_buf *b);

/* Release the memory; the buffer is empty and reusable after. */
void tt_buf_free(struct tt_buf *b);

/*
 * Write n bytes at p to fd, through short writes and EINTR: 0, or a negative
 * errno (-EIO for a write that takes nothing). Async-signal-safe.
 */
int tt_write_all(int fd, const void *p, size_t n);

#endif /* TT_BUF_H */
