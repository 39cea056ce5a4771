/*
 * escape.h: the one escaping policy for text tcptop prints but did not write
 * itself: process names (whatever bytes a process set with prctl), host names
 * and kernel versions read from the index, store paths, SQL results. Every
 * printer (tables, the live and replay view, CSV, JSON, HTML) goes through
 * these functions, so a name reads the same everywhere and no byte of it
 * reaches a terminal as a command.
 *
 * The rule (docs/architecture.md, "Text in outputs"):
 *   - valid UTF-8 is text and stays as it is: "café", "日本" (JSON carries the
 *     real characters, not one escape per byte);
 *   - a byte that is not part of valid UTF-8 (a Latin-1 "é", a lone 0xff, an
 *     overlong form, a surrogate) becomes the four characters \xNN, lowercase
 *     hex, in every output, JSON included: the byte's value is kept;
 *   - a control character (C0 0x00-0x1f, DEL 0x7f, C1 U+0080-U+009F) never
 *     reaches a terminal or a file raw: text outputs (tables, view, CSV, HTML)
 *     write its bytes as \xNN (U+009B as \xc2\x9b); JSON writes it as the
 *     \u00NN escape, which is the real character.
 * A backslash is itself (JSON escapes it as \\): a name that holds the four
 * characters "\xff" reads like one holding the byte 0xff in text outputs.
 *
 * Nothing here allocates except through the tt_buf it appends to; n is a byte
 * count (a process name is a fixed 16-byte field, maybe without a NUL).
 */
#ifndef TT_ESCAPE_H
#define TT_ESCAPE_H

#include <stddef.h>

#include "buf.h"

/* Length of the valid UTF-8 sequence of 2-4 bytes at s (at most n bytes), 0 if none. */
size_t tt_utf8_len(const char *s, size_t n);

/* Append s as terminal-safe text: valid UTF-8 kept, control and invalid bytes as \xNN. */
void tt_esc_text(struct tt_buf *b, const char *s, size_t n);

/*
 * The same into out (len >= 1, always NUL-terminated), cut before a character
 * or an escape that does not fit; returns out. For fixed-size cells and views.
 */
char *tt_esc_cstr(char *out, size_t len, const char *s, size_t n);

/* Append s as one quoted JSON string (valid UTF-8, RFC 8259). */
void tt_esc_json(struct tt_buf *b, const char *s, size_t n);

/* Append s as one CSV field: text as tt_esc_text, quoted (RFC 4180) when it holds , or ". */
void tt_esc_csv(struct tt_buf *b, const char *s, size_t n);

/*
 * Append s as HTML text, safe inside an element or a quoted attribute:
 * & < > " ' as entities, control and invalid bytes as \xNN.
 */
void tt_esc_html(struct tt_buf *b, const char *s, size_t n);

/*
 * Terminal columns that s takes once escaped: one per character, two for the
 * East Asian wide ranges (CJK, Hangul, fullwidth forms, emoji), four per \xNN.
 * For aligning tables: pad by width, not by bytes.
 */
size_t tt_esc_width(const char *s, size_t n);

#endif /* TT_ESCAPE_H */
