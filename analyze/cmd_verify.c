/*
 * verify DIR: every frame of every segment read and checksummed, and the index
 * compared with what the segments hold. Problems (exit 1): an indexed block
 * that is damaged, missing or different on disk; a segment file the index
 * names that is gone, a block whose keyframe flag differs from the index's.
 * Warnings (exit 0): a torn tail after an unclean stop that the index never
 * named, frames or files the index does not know yet, a segment whose first
 * block is not a keyframe block (its blocks need the segment before it).
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "escape.h"
#include "mem.h"
#include "segment.h"
#include "store.h"

struct frame {
	uint64_t offset;
	uint32_t length;
	uint32_t checksum;
	int keyframe;
	int intact;
	int indexed;
};

struct report {
	unsigned problems;
	unsigned warnings;
	uint64_t frames;
};

static void note(struct report *r, int is_problem, const char *file, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void note(struct report *r, int is_problem, const char *file, const char *fmt, ...)
{
	char name[1024];
	va_list ap;

	if (is_problem)
		r->problems++;
	else
		r->warnings++;
	/* a file name in a store is anybody's: never raw on a terminal */
	printf("%s %s: ", is_problem ? "PROBLEM" : "warning",
	       tt_esc_cstr(name, sizeof(name), file, strlen(file)));
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* All frames of one segment file, intact or not, in file order. */
static int scan(const char *path, struct frame **frames, size_t *n, size_t *cap, char *why,
		size_t why_len)
{
	struct tt_block_info bi;
	struct tt_segr *r;
	int rc, err;

	*n = 0;
	err = tt_segr_open(path, &r, why, why_len);
	if (err)
		return err;
	while ((rc = tt_segr_next_block(r, &bi)) != 0) {
		if (tt_grow((void **)frames, cap, *n + 1, sizeof(**frames))) {
			tt_segr_close(r);
			snprintf(why, why_len, "out of memory");
			return -ENOMEM;
		}
		(*frames)[*n] = (struct frame){ .offset = bi.offset,
						.length = bi.length,
						.checksum = bi.checksum,
						.keyframe = (int)bi.keyframe,
						.intact = rc > 0 };
		if (rc < 0)
			snprintf(why, why_len, "%s", tt_segr_errmsg(r));
		(*n)++;
	}
	tt_segr_close(r);
	return 0;
}

static void verify_segment(struct tt_store *st, int64_t seg_id, const char *file,
			   struct report *rep, struct frame **frames, size_t *cap)
{
	sqlite3 *db = tt_store_db(st);
	sqlite3_stmt *q = NULL;
	char path[4096], why[256] = "";
	uint64_t last_indexed_end = 0;
	size_t n = 0, i;

	snprintf(path, sizeof(path), "%s/%s", tt_store_dir(st), file);
	if (scan(path, frames, &n, cap, why, sizeof(why))) {
		note(rep, 1, file, "%s", why);
		return;
	}
	rep->frames += n;
	if (n && (*frames)[0].intact && !(*frames)[0].keyframe)
		note(rep, 0, file, "first block (offset %" PRIu64 ") is not a keyframe block: "
		     "its blocks can only be read after the segment before it",
		     (*frames)[0].offset);
	/* a schema 1 index has no keyframe column: every block of it is one */
	if (sqlite3_prepare_v2(db,
			       tt_store_has_keyframe_column(st)
				       ? "SELECT offset, length, checksum, keyframe FROM blocks "
					 "WHERE segment_id = ?1 ORDER BY offset"
				       : "SELECT offset, length, checksum, 1 FROM blocks "
					 "WHERE segment_id = ?1 ORDER BY offset",
			       -1, &q, NULL)) {
		note(rep, 1, file, "index: %s", sqlite3_errmsg(db));
		return;
	}
	sqlite3_bind_int64(q, 1, seg_id);
	while (sqlite3_step(q) == SQLITE_ROW) {
		uint64_t off = (uint64_t)sqlite3_column_int64(q, 0);
		uint32_t len = (uint32_t)sqlite3_column_int64(q, 1);
		uint32_t sum = (uint32_t)sqlite3_column_int64(q, 2);
		int kf = sqlite3_column_int(q, 3) != 0;
		struct frame *f = NULL;

		for (i = 0; i < n; i++)
			if ((*frames)[i].offset == off)
				f = &(*frames)[i];
		if (!f)
			note(rep, 1, file, "indexed block at offset %" PRIu64 ": no frame starts there", off);
		else if (!f->intact)
			note(rep, 1, file, "indexed block at offset %" PRIu64 ": damaged (checksum or decoding failed)", off);
		else if (f->length != len || f->checksum != sum)
			note(rep, 1, file, "indexed block at offset %" PRIu64 ": length or checksum differs from the index", off);
		else if (f->keyframe != kf)
			note(rep, 1, file, "indexed block at offset %" PRIu64 ": the index says it %s a keyframe, the frame says the opposite", off, kf ? "opens with" : "has no");
		if (f)
			f->indexed = 1;
		if (off + len > last_indexed_end)
			last_indexed_end = off + len;
	}
	sqlite3_finalize(q);
	for (i = 0; i < n; i++) {
		const struct frame *f = &(*frames)[i];

		if (f->indexed)
			continue;
		if (f->intact)
			note(rep, 0, file, "block at offset %" PRIu64 " is not in the index yet (written just before a stop)", f->offset);
		else if (f->offset >= last_indexed_end)
			note(rep, 0, file, "torn frame at offset %" PRIu64 " after the last indexed block (unclean stop): skipped by readers", f->offset);
		else
			note(rep, 1, file, "damaged frame at offset %" PRIu64, f->offset);
	}
}

int cmd_verify(int argc, char **argv)
{
	struct tt_store *st;
	struct report rep = { 0 };
	struct frame *frames = NULL;
	size_t cap = 0;
	sqlite3_stmt *q = NULL;
	char why[512];
	DIR *d;
	struct dirent *de;
	int err;

	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		puts("Usage: tcptop-analyze verify DIR\n"
		     "Read every frame of every segment, check its checksum, and compare the index\n"
		     "with the segments. Exit 0 when intact (warnings allowed), 1 with the problems.");
		return 0;
	}
	if (argc != 2 || argv[1][0] == '-') {
		cmd_err("verify: needs exactly one store directory (see verify --help)");
		return 2;
	}
	err = tt_store_open(argv[1], TT_STORE_READ, 0, 0, &st, why, sizeof(why));
	if (err) {
		cmd_err("verify: %s", why);
		return 1;
	}
	if (sqlite3_prepare_v2(tt_store_db(st), "SELECT id, file FROM segments ORDER BY id", -1, &q,
			       NULL)) {
		cmd_err("verify: %s: index: %s", argv[1], sqlite3_errmsg(tt_store_db(st)));
		tt_store_close(st);
		return 1;
	}
	while (sqlite3_step(q) == SQLITE_ROW)
		verify_segment(st, sqlite3_column_int64(q, 0),
			       (const char *)sqlite3_column_text(q, 1), &rep, &frames, &cap);
	sqlite3_finalize(q);

	/* segment files the index has never heard of */
	d = opendir(argv[1]);
	while (d && (de = readdir(d))) {
		size_t l = strlen(de->d_name);
		sqlite3_stmt *k = NULL;

		if (l < 5 || strcmp(de->d_name + l - 4, ".tts"))
			continue;
		if (!sqlite3_prepare_v2(tt_store_db(st), "SELECT 1 FROM segments WHERE file = ?1",
					-1, &k, NULL)) {
			sqlite3_bind_text(k, 1, de->d_name, -1, SQLITE_STATIC);
			if (sqlite3_step(k) != SQLITE_ROW)
				note(&rep, 0, de->d_name, "segment file not in the index");
		}
		sqlite3_finalize(k);
	}
	if (d)
		closedir(d);
	free(frames);
	tt_store_close(st);
	printf("%s: %" PRIu64 " frames checked, %u problems, %u warnings\n", argv[1], rep.frames,
	       rep.problems, rep.warnings);
	if (rep.problems) {
		cmd_err("verify: %s: %u problems (listed above)", argv[1], rep.problems);
		return 1;
	}
	return 0;
}
