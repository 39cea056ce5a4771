/*
 * escape.c: see escape.h. One scanner (next) splits a byte string into plain
 * characters, control characters and invalid bytes; each output only decides
 * how to spell those three.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "escape.h"

size_t tt_utf8_len(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t len, i;

	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return 0;
	if (len > n)
		return 0;
	/* overlong forms, surrogates and code points past U+10FFFF are not text */
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

enum piece { PLAIN, CONTROL, INVALID };

/* What starts at s: its kind, its length in bytes, and its code point (invalid: the byte). */
static enum piece next(const char *s, size_t n, size_t *len, uint32_t *cp)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t k, i;

	*len = 1;
	*cp = p[0];
	if (p[0] < 0x20 || p[0] == 0x7f)
		return CONTROL;
	if (p[0] < 0x80)
		return PLAIN;
	k = tt_utf8_len(s, n);
	if (!k)
		return INVALID;
	*cp = p[0] & (0xff >> (k + 1));
	for (i = 1; i < k; i++)
		*cp = (*cp << 6) | (p[i] & 0x3f);
	*len = k;
	return *cp < 0xa0 ? CONTROL : PLAIN;
}

static void hex_bytes(struct tt_buf *b, const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		tt_buf_printf(b, "\\x%02x", (unsigned char)s[i]);
}

/* Text with extra entities (HTML) or none: the shared loop of the text outputs. */
static void text(struct tt_buf *b, const char *s, size_t n, int html)
{
	size_t i = 0, run = 0, len;
	uint32_t cp;

	while (i < n) {
		enum piece k = next(s + i, n - i, &len, &cp);
		const char *ent = NULL;

		if (html && k == PLAIN)
			ent = cp == '&'	   ? "&amp;"
			      : cp == '<'  ? "&lt;"
			      : cp == '>'  ? "&gt;"
			      : cp == '"'  ? "&quot;"
			      : cp == '\'' ? "&#39;"
					   : NULL;
		if (k == PLAIN && !ent) {
			i += len;
			run += len;
			continue;
		}
		tt_buf_add(b, s + i - run, run);
		run = 0;
		if (ent)
			tt_buf_add(b, ent, strlen(ent));
		else
			hex_bytes(b, s + i, len);
		i += len;
	}
	tt_buf_add(b, s + i - run, run);
}

void tt_esc_text(struct tt_buf *b, const char *s, size_t n)
{
	text(b, s, n, 0);
}

void tt_esc_html(struct tt_buf *b, const char *s, size_t n)
{
	text(b, s, n, 1);
}

char *tt_esc_cstr(char *out, size_t len, const char *s, size_t n)
{
	size_t i = 0, o = 0, k;
	uint32_t cp;

	while (i < n) {
		enum piece kind = next(s + i, n - i, &k, &cp);
		size_t need = kind == PLAIN ? k : 4 * k;

		if (o + need + 1 > len)
			break;
		if (kind == PLAIN) {
			memcpy(out + o, s + i, k);
		} else {
			size_t j;

			for (j = 0; j < k; j++)
				snprintf(out + o + 4 * j, 5, "\\x%02x", (unsigned char)s[i + j]);
		}
		o += need;
		i += k;
	}
	out[o] = '\0';
	return out;
}

void tt_esc_json(struct tt_buf *b, const char *s, size_t n)
{
	size_t i = 0, run = 0, len;
	uint32_t cp;

	tt_buf_add(b, "\"", 1);
	while (i < n) {
		enum piece k = next(s + i, n - i, &len, &cp);

		if (k == PLAIN && cp != '"' && cp != '\\') {
			i += len;
			run += len;
			continue;
		}
		tt_buf_add(b, s + i - run, run);
		run = 0;
		if (k == PLAIN)
			tt_buf_printf(b, "\\%c", (char)cp);
		else if (k == CONTROL)
			tt_buf_printf(b, "\\u%04x", (unsigned)cp);
		else /* the documented \xNN, its backslash escaped for JSON */
			tt_buf_printf(b, "\\\\x%02x", (unsigned)cp);
		i += len;
	}
	tt_buf_add(b, s + i - run, run);
	tt_buf_add(b, "\"", 1);
}

void tt_esc_csv(struct tt_buf *b, const char *s, size_t n)
{
	struct tt_buf t = { 0 };
	size_t i, run = 0;

	tt_esc_text(&t, s, n); /* no raw newline or control byte is left after this */
	if (t.err)
		b->err = t.err;
	else if (!t.len || (!memchr(t.p, ',', t.len) && !memchr(t.p, '"', t.len)))
		tt_buf_add(b, t.p, t.len);
	else { /* RFC 4180: quoted, a quote doubled */
		tt_buf_add(b, "\"", 1);
		for (i = 0; i < t.len; i++, run++)
			if (t.p[i] == '"') {
				/* up to the quote; the next run starts at it again: doubled */
				tt_buf_add(b, t.p + i - run, run + 1);
				run = 0;
			}
		tt_buf_add(b, t.p + i - run, run);
		tt_buf_add(b, "\"", 1);
	}
	tt_buf_free(&t);
}

/* The East Asian wide ranges (a subset of Unicode's EastAsianWidth W and F). */
static int wide(uint32_t cp)
{
	return (cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0x303e) ||
	       (cp >= 0x3041 && cp <= 0x33ff) || (cp >= 0x3400 && cp <= 0x4dbf) ||
	       (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0xa000 && cp <= 0xa4cf) ||
	       (cp >= 0xac00 && cp <= 0xd7a3) || (cp >= 0xf900 && cp <= 0xfaff) ||
	       (cp >= 0xfe30 && cp <= 0xfe4f) || (cp >= 0xff00 && cp <= 0xff60) ||
	       (cp >= 0xffe0 && cp <= 0xffe6) || (cp >= 0x1f300 && cp <= 0x1f64f) ||
	       (cp >= 0x1f900 && cp <= 0x1f9ff) || (cp >= 0x20000 && cp <= 0x3fffd);
}

size_t tt_esc_width(const char *s, size_t n)
{
	size_t i = 0, w = 0, len;
	uint32_t cp;

	while (i < n) {
		enum piece k = next(s + i, n - i, &len, &cp);

		w += k != PLAIN ? 4 * len : wide(cp) ? 2 : 1;
		i += len;
	}
	return w;
}
