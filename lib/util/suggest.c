/*
 * suggest.c: see suggest.h.
 */
#include <string.h>

#include "suggest.h"

/* Edit distance (insert, delete, substitute, swap two neighbours), capped at 32 characters. */
static unsigned distance(const char *a, const char *b)
{
	unsigned d[33][33];
	size_t la = strlen(a), lb = strlen(b), i, j;

	if (la > 32 || lb > 32)
		return 99;
	for (i = 0; i <= la; i++)
		d[i][0] = (unsigned)i;
	for (j = 0; j <= lb; j++)
		d[0][j] = (unsigned)j;
	for (i = 1; i <= la; i++)
		for (j = 1; j <= lb; j++) {
			unsigned v = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);

			if (d[i - 1][j] + 1 < v)
				v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	return d[la][lb];
}

/* Close: a unique prefix of at least 3 characters, or a few edits for its length. */
const char *tt_suggest(const char *typed, const char *const *words, size_t n)
{
	const char *best = NULL, *pre = NULL;
	unsigned bd = 99, limit = strlen(typed) <= 4 ? 1 : 2;
	size_t i, npre = 0, lt = strlen(typed);

	for (i = 0; i < n; i++) {
		unsigned d = distance(typed, words[i]);

		if (lt >= 3 && !strncmp(words[i], typed, lt)) {
			pre = words[i];
			npre++;
		}
		if (d < bd) {
			bd = d;
			best = words[i];
		}
	}
	if (bd <= limit)
		return best;
	return npre == 1 ? pre : NULL;
}
