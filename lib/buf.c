/*
 * buf.c: see buf.h.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || reserve(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
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
