/*
 * buf.c: see buf.h.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"

static int reserve(struct tt_buf *b, size_t extra)
{
	size_t need, ncap;
	char *p;

	if (b->err)
		return b->err;
	if (extra > TT_BUF_MAX || b->len + extra + 1 > TT_BUF_MAX)
		return b->err = -E2BIG;
	need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	ncap = b->cap ? b->cap : 256;
	while (ncap < need)
		ncap *= 2;
	p = realloc(b->p, ncap);
	if (!p)
		return b->err = -ENOMEM;
	b->p = p;
	b->cap = ncap;
	return 0;
}

void tt_buf_add(struct tt_buf *b, const char *s, size_t n)
{
	if (reserve(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void tt_buf_printf(struct tt_buf *b, const char *fmt, ...)
{
	va_list ap;
	size_t room;
	int n;

	/* format once into the room there is; only a line that does not fit is formatted twice */
	if (reserve(b, 256))
		return;
	room = b->cap - b->len;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, room, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->p[b->len] = '\0';
		return;
	}
	if ((size_t)n >= room) {
		b->p[b->len] = '\0';
		if (reserve(b, (size_t)n))
			return;
		va_start(ap, fmt);
		vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
}

void tt_buf_reset(struct tt_buf *b)
{
	b->len = 0;
	b->err = 0;
	if (b->p)
		b->p[0] = '\0';
}

void tt_buf_free(struct tt_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

int tt_write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n) {
		ssize_t w = write(fd, c, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}
