/*
 * mem.h: growth of caller-owned arrays, overflow-checked and capped.
 */
#ifndef TT_MEM_H
#define TT_MEM_H

#include <stddef.h>

/*
 * Make *arr (of *cap elements of elem bytes) hold at least need elements,
 * doubling from 64. 0, or -ENOMEM with *arr and *cap unchanged.
 */
int tt_grow(void **arr, size_t *cap, size_t need, size_t elem);

#endif /* TT_MEM_H */
