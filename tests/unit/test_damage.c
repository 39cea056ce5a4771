/*
 * Every bit and every cut (issue 13, item 8): the golden store's segment
 * (tests/data/store-v1, 5 blocks, 1,514 bytes: a real recording) with each of
 * its bits flipped in turn, and cut at each byte, read as the analyzer reads
 * it: the blocks at the offsets the index gives (lib/replay.c), every event
 * decoded. Each outcome is one of
 *
 *   detected   the reader said so: the open failed, a block did not load, an
 *              event did not decode (the analyzer warns or fails with it)
 *   identical  no word from the reader, and the same events as the intact file
 *   silent     no word from the reader, and other events: a lie
 *
 * and silent must be empty. A flip in the 64-byte file header may be detected
 * (the open fails) or read past with a warning while every block still loads
 * (a reader that skips a damaged header): both pass, since the blocks carry
 * their own checksums. Every mutation is also walked frame by frame (verify's
 * and reindex's reader, with and without TT_SEGR_SALVAGE) for crashes and
 * hangs: the loops are bounded. The file is copied, never read in place.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "segment.h"

#define MAX_BLOCKS 64
#define MAX_EVENTS 4096

/* What a read gave: the events in order, and whether the reader reported damage. */
struct outcome {
	struct tt_event ev[MAX_EVENTS];
	size_t n;
	int detected;
};

static char tmpdir[64], path[128];
static uint8_t *orig;
static size_t orig_len;
static uint64_t offsets[MAX_BLOCKS]; /* of the intact file's blocks: the index's offsets */
static size_t nblocks;

static void put_file(const uint8_t *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, p, n), (ssize_t)n);
	close(fd);
}

/* The analyzer's read: blocks by the index's offsets, then their events. */
static void read_indexed(struct outcome *o)
{
	struct tt_segr *r = NULL;
	struct tt_block_info bi;
	char why[256];
	size_t b;
	int rc;

	o->n = 0;
	o->detected = 0;
	if (tt_segr_open(path, &r, why, sizeof(why))) {
		o->detected = 1;
		return;
	}
	for (b = 0; b < nblocks; b++) {
		if (tt_segr_load_block(r, offsets[b], &bi) <= 0) {
			o->detected = 1;
			continue;
		}
		for (;;) {
			assert_true(o->n < MAX_EVENTS);
			memset(&o->ev[o->n], 0, sizeof(o->ev[o->n]));
			rc = tt_segr_next_event(r, &o->ev[o->n]);
			if (rc <= 0)
				break;
			o->n++;
		}
		if (rc < 0)
			o->detected = 1;
	}
	tt_segr_close(r);
}

/* verify's and reindex's read, frame after frame: must end, and must not crash. */
static void walk(unsigned flags)
{
	struct tt_segr *r = NULL;
	struct tt_block_info bi;
	struct tt_event ev;
	char why[256];
	int rc, frames = 0, events;

	if (tt_segr_openf(path, flags, &r, why, sizeof(why)))
		return;
	while ((rc = tt_segr_next_block(r, &bi)) != 0) {
		assert_true(rc == 1 || rc == -EBADMSG);
		assert_true(++frames <= 2 * MAX_BLOCKS); /* no loop over the same bytes */
		events = 0;
		while (rc == 1 && tt_segr_next_event(r, &ev) > 0)
			assert_true(++events <= MAX_EVENTS);
	}
	tt_segr_close(r);
}

static int setup(void **state)
{
	struct tt_segr *r = NULL;
	struct tt_block_info bi;
	char src[512], why[256];
	FILE *f;
	long n;

	(void)state;
	snprintf(src, sizeof(src), "%s/store-v1/r000001-s000000.tts", TT_TEST_DATA);
	f = fopen(src, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	orig = malloc((size_t)n);
	assert_non_null(orig);
	assert_int_equal(fread(orig, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	orig_len = (size_t)n;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/tt-damage-XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	snprintf(path, sizeof(path), "%s/r000001-s000000.tts", tmpdir);
	put_file(orig, orig_len);
	assert_int_equal(tt_segr_open(path, &r, why, sizeof(why)), 0);
	while (tt_segr_next_block(r, &bi) == 1) {
		assert_true(nblocks < MAX_BLOCKS);
		offsets[nblocks++] = bi.offset;
	}
	tt_segr_close(r);
	assert_int_equal(nblocks, 5); /* tests/data/store-v1 as committed */
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	rmdir(tmpdir);
	free(orig);
	return 0;
}

struct tally {
	unsigned detected, identical, silent;
};

static void classify(const struct outcome *ref, const struct outcome *got, struct tally *t,
		     const char *what, size_t where)
{
	if (got->detected) {
		t->detected++;
	} else if (got->n == ref->n && !memcmp(got->ev, ref->ev, ref->n * sizeof(ref->ev[0]))) {
		t->identical++;
	} else {
		t->silent++;
		print_error("silent: %s at %zu: %zu events, %zu intact\n", what, where, got->n,
			    ref->n);
	}
}

static void test_every_bit(void **state)
{
	static struct outcome ref, got;
	struct tally t = { 0 };
	uint8_t *m = malloc(orig_len);
	size_t bit;

	(void)state;
	assert_non_null(m);
	put_file(orig, orig_len);
	read_indexed(&ref);
	assert_false(ref.detected);
	assert_true(ref.n > 100);
	for (bit = 0; bit < orig_len * 8; bit++) {
		memcpy(m, orig, orig_len);
		m[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		put_file(m, orig_len);
		read_indexed(&got);
		classify(&ref, &got, &t, "bit", bit);
		walk(0);
		walk(TT_SEGR_SALVAGE);
	}
	print_message("every bit (%zu): detected %u, identical %u, silent %u\n", orig_len * 8,
		      t.detected, t.identical, t.silent);
	assert_int_equal(t.silent, 0);
	/* every byte is under a CRC: a flip outside the file header cannot go unseen */
	assert_true(t.detected >= (orig_len - 64) * 8);
	free(m);
}

static void test_every_cut(void **state)
{
	static struct outcome ref, got;
	struct tally t = { 0 };
	size_t cut;

	(void)state;
	put_file(orig, orig_len);
	read_indexed(&ref);
	for (cut = 0; cut < orig_len; cut++) {
		put_file(orig, cut);
		read_indexed(&got);
		classify(&ref, &got, &t, "cut", cut);
		walk(0);
		walk(TT_SEGR_SALVAGE);
	}
	print_message("every cut (%zu): detected %u, identical %u, silent %u\n", orig_len,
		      t.detected, t.identical, t.silent);
	assert_int_equal(t.silent, 0);
	/* a file cut anywhere lacks at least its last block */
	assert_int_equal(t.detected, orig_len);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_bit),
		cmocka_unit_test(test_every_cut),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
