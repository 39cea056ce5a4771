/*
 * idmap.c: see idmap.h. Capacity is a power of two kept at most 3/4 full;
 * id 0 marks an empty bucket, so id 0 itself is stored out of band.
 */
#include <errno.h>
#include <stdlib.h>

#include "idmap.h"

struct bucket {
	uint64_t id; /* 0: empty */
	uint32_t val;
};

struct tt_idmap {
	struct bucket *b; /* cap buckets */
	size_t cap; /* power of two */
	size_t count; /* ids stored, zero_set included */
	int zero_set; /* id 0 is present */
	uint32_t zero_val;
};

static size_t slot_of(uint64_t id, size_t cap)
{
	/* Fibonacci hashing: cookies are sequential, so spread them. */
	return (size_t)((id * 0x9E3779B97F4A7C15ull) >> 32) & (cap - 1);
}

struct tt_idmap *tt_idmap_new(void)
{
	struct tt_idmap *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->cap = 64;
	m->b = calloc(m->cap, sizeof(*m->b));
	if (!m->b) {
		free(m);
		return NULL;
	}
	return m;
}

void tt_idmap_free(struct tt_idmap *m)
{
	if (!m)
		return;
	free(m->b);
	free(m);
}

int tt_idmap_get(const struct tt_idmap *m, uint64_t id, uint32_t *val)
{
	size_t i;

	if (id == 0) {
		if (m->zero_set)
			*val = m->zero_val;
		return m->zero_set;
	}
	for (i = slot_of(id, m->cap);; i = (i + 1) & (m->cap - 1)) {
		if (m->b[i].id == id) {
			*val = m->b[i].val;
			return 1;
		}
		if (m->b[i].id == 0)
			return 0;
	}
}

static void insert_raw(struct bucket *b, size_t cap, uint64_t id, uint32_t val)
{
	size_t i = slot_of(id, cap);

	while (b[i].id != 0 && b[i].id != id)
		i = (i + 1) & (cap - 1);
	b[i].id = id;
	b[i].val = val;
}

static int grow(struct tt_idmap *m)
{
	size_t ncap, i;
	struct bucket *nb;

	if (m->cap > SIZE_MAX / 2 / sizeof(*nb))
		return -ENOMEM;
	ncap = m->cap * 2;
	nb = calloc(ncap, sizeof(*nb));
	if (!nb)
		return -ENOMEM;
	for (i = 0; i < m->cap; i++)
		if (m->b[i].id)
			insert_raw(nb, ncap, m->b[i].id, m->b[i].val);
	free(m->b);
	m->b = nb;
	m->cap = ncap;
	return 0;
}

int tt_idmap_put(struct tt_idmap *m, uint64_t id, uint32_t val)
{
	uint32_t old;

	if (id == 0) {
		m->count += !m->zero_set;
		m->zero_set = 1;
		m->zero_val = val;
		return 0;
	}
	if (tt_idmap_get(m, id, &old)) {
		insert_raw(m->b, m->cap, id, val);
		return 0;
	}
	if ((m->count + 1) * 4 > m->cap * 3) {
		int err = grow(m);

		if (err)
			return err;
	}
	insert_raw(m->b, m->cap, id, val);
	m->count++;
	return 0;
}

int tt_idmap_del(struct tt_idmap *m, uint64_t id)
{
	size_t mask = m->cap - 1, i, j;

	if (id == 0) {
		int was = m->zero_set;

		m->count -= was;
		m->zero_set = 0;
		return was;
	}
	for (i = slot_of(id, m->cap); m->b[i].id != id; i = (i + 1) & mask)
		if (m->b[i].id == 0)
			return 0;
	/* backward-shift: pull later members of the probe run into the hole */
	for (j = (i + 1) & mask; m->b[j].id != 0; j = (j + 1) & mask) {
		size_t home = slot_of(m->b[j].id, m->cap);

		/* move b[j] to the hole at i unless its home lies in (i, j] */
		if (((j - home) & mask) >= ((j - i) & mask)) {
			m->b[i] = m->b[j];
			i = j;
		}
	}
	m->b[i].id = 0;
	m->count--;
	return 1;
}

size_t tt_idmap_count(const struct tt_idmap *m)
{
	return m->count;
}

uint64_t tt_fnv1a(const void *p, size_t n, uint64_t h)
{
	const unsigned char *c = p;

	while (n--)
		h = (h ^ *c++) * 0x100000001b3ull;
	return h;
}
