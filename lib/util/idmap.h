/*
 * idmap.h: a map from 64-bit ids (socket cookies, flow ids) to 32-bit slot
 * indexes. Open addressing with linear probing and backward-shift deletion, so
 * lookups stay O(1) through heavy churn with no tombstones to clean up.
 * Used by the aggregator (id -> connection) and the collector (cookie -> state).
 */
#ifndef TT_IDMAP_H
#define TT_IDMAP_H

#include <stddef.h>
#include <stdint.h>

struct tt_idmap;

/* A new empty map, or NULL when out of memory. */
struct tt_idmap *tt_idmap_new(void);

/* Free the map; NULL is a no-op. */
void tt_idmap_free(struct tt_idmap *m);

/* Value for id in *val: 1 if found, 0 if not. */
int tt_idmap_get(const struct tt_idmap *m, uint64_t id, uint32_t *val);

/* Insert or replace. 0, or -ENOMEM (the map is unchanged). */
int tt_idmap_put(struct tt_idmap *m, uint64_t id, uint32_t val);

/* Remove id if present; returns 1 if it was there. */
int tt_idmap_del(struct tt_idmap *m, uint64_t id);

/* Number of ids in the map. */
size_t tt_idmap_count(const struct tt_idmap *m);

/* FNV-1a of n bytes at p, continuing from h (TT_FNV1A_INIT to start): ids from keys. */
#define TT_FNV1A_INIT 0xcbf29ce484222325ull
uint64_t tt_fnv1a(const void *p, size_t n, uint64_t h);

#endif /* TT_IDMAP_H */
