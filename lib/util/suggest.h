/*
 * suggest.h: "did you mean": the word a mistyped one was most likely meant to
 * be. Pure; used by both tools' option and command parsing.
 */
#ifndef TT_SUGGEST_H
#define TT_SUGGEST_H

#include <stddef.h>

/*
 * The word of words[0..n) closest to typed: within one edit (insert, delete,
 * substitute, swap of neighbours) for up to 4 characters, two beyond, or else
 * the only word typed is a prefix of (3 characters at least). NULL if none;
 * the result points into words.
 */
const char *tt_suggest(const char *typed, const char *const *words, size_t n);

#endif /* TT_SUGGEST_H */
