/*
 * replay.c: see replay.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "replay.h"
#include "segment.h"

struct blk {
	int64_t seg_id;
	uint64_t offset;
};

struct tt_replay {
	struct tt_source src; /* first: tt_source* <-> tt_replay* */
	struct tt_store *st;
	struct blk *blks;
	size_t n, cap, next; /* blocks to read, and the next one */
	struct tt_segr *r; /* reader of the current segment */
	int64_t r_seg; /* its segment id */
	int in_block; /* a block is loaded and has events left */
	int64_t m2w;
	struct tt_replay_stats stats;
	char err[512];
	char warn[512];
};

static const char *replay_errmsg(const struct tt_source *s)
{
	const struct tt_replay *r = (const struct tt_replay *)s;

	return r->err[0] ? r->err : "no error";
}

static int open_segment(struct tt_replay *r, int64_t seg_id)
{
	sqlite3 *db = tt_store_db(r->st);
	sqlite3_stmt *q = NULL;
	char path[4096], why[256];
	int err = -ENOENT;

	tt_segr_close(r->r);
	r->r = NULL;
	r->r_seg = seg_id;
	if (sqlite3_prepare_v2(db, "SELECT file FROM segments WHERE id = ?1", -1, &q, NULL))
		return -EIO;
	sqlite3_bind_int64(q, 1, seg_id);
	if (sqlite3_step(q) == SQLITE_ROW) {
		snprintf(path, sizeof(path), "%s/%s", tt_store_dir(r->st),
			 (const char *)sqlite3_column_text(q, 0));
		err = tt_segr_open(path, &r->r, why, sizeof(why));
		if (err)
			snprintf(r->warn, sizeof(r->warn), "%s", why);
	}
	sqlite3_finalize(q);
	return err;
}

static int replay_next(struct tt_source *s, struct tt_event *ev)
{
	struct tt_replay *r = (struct tt_replay *)s;

	for (;;) {
		struct tt_block_info bi;
		const struct blk *b;
		int rc;

		if (r->in_block) {
			rc = tt_segr_next_event(r->r, ev);
			if (rc > 0) {
				r->stats.events++;
				return 1;
			}
			r->in_block = 0;
			if (rc < 0) {
				/* the rest of this block is lost; the next keyframe resyncs */
				r->stats.blocks_damaged++;
				snprintf(r->warn, sizeof(r->warn), "%s", tt_segr_errmsg(r->r));
			}
		}
		if (r->next >= r->n)
			return 0;
		b = &r->blks[r->next++];
		if ((!r->r || r->r_seg != b->seg_id) && open_segment(r, b->seg_id)) {
			r->stats.blocks_damaged++;
			continue;
		}
		rc = tt_segr_load_block(r->r, b->offset, &bi);
		if (rc <= 0) {
			r->stats.blocks_damaged++;
			snprintf(r->warn, sizeof(r->warn), "%s", tt_segr_errmsg(r->r));
			continue;
		}
		r->stats.blocks_read++;
		r->in_block = 1;
	}
}

int tt_replay_open(struct tt_store *st, const struct tt_replay_opts *o, struct tt_replay **out,
		   char *why, size_t why_len)
{
	sqlite3 *db = tt_store_db(st);
	sqlite3_stmt *q = NULL;
	struct tt_replay *r = calloc(1, sizeof(*r));
	int err = 0;

	*out = NULL;
	if (!r) {
		snprintf(why, why_len, "out of memory");
		return -ENOMEM;
	}
	r->st = st;
	r->src.next = replay_next;
	r->src.errmsg = replay_errmsg;
	if (sqlite3_prepare_v2(db, "SELECT mono_to_wall_ns, (SELECT count(*) FROM blocks b JOIN "
				   "segments s ON s.id = b.segment_id WHERE s.recording_id = ?1) "
				   "FROM recordings WHERE id = ?1",
			       -1, &q, NULL)) {
		err = -EIO;
		goto dberr;
	}
	sqlite3_bind_int64(q, 1, o->recording_id);
	if (sqlite3_step(q) != SQLITE_ROW) {
		snprintf(why, why_len, "%s: no recording %" PRId64, tt_store_dir(st), o->recording_id);
		err = -ENOENT;
		goto fail;
	}
	r->m2w = sqlite3_column_int64(q, 0);
	r->stats.blocks_total = (uint64_t)sqlite3_column_int64(q, 1);
	sqlite3_finalize(q);
	q = NULL;

	/* the window picks the blocks: a minute of a day reads a minute's blocks */
	if (sqlite3_prepare_v2(db,
			       "SELECT b.segment_id, b.offset FROM blocks b JOIN segments s ON"
			       " s.id = b.segment_id WHERE s.recording_id = ?1 AND b.t_end_ns >= ?2"
			       " AND b.t_start_ns <= ?3 ORDER BY s.seq, b.offset",
			       -1, &q, NULL)) {
		err = -EIO;
		goto dberr;
	}
	sqlite3_bind_int64(q, 1, o->recording_id);
	sqlite3_bind_int64(q, 2, (int64_t)o->from_ns);
	sqlite3_bind_int64(q, 3, o->to_ns ? (int64_t)o->to_ns : INT64_MAX);
	while (sqlite3_step(q) == SQLITE_ROW) {
		if (tt_grow((void **)&r->blks, &r->cap, r->n + 1, sizeof(*r->blks))) {
			snprintf(why, why_len, "out of memory");
			err = -ENOMEM;
			goto fail;
		}
		r->blks[r->n].seg_id = sqlite3_column_int64(q, 0);
		r->blks[r->n].offset = (uint64_t)sqlite3_column_int64(q, 1);
		r->n++;
	}
	sqlite3_finalize(q);
	r->stats.blocks_selected = r->n;
	*out = r;
	return 0;
dberr:
	snprintf(why, why_len, "%s: index: %s", tt_store_dir(st), sqlite3_errmsg(db));
fail:
	sqlite3_finalize(q);
	tt_replay_close(r);
	return err;
}

struct tt_source *tt_replay_source(struct tt_replay *r)
{
	return &r->src;
}

int64_t tt_replay_mono_to_wall(const struct tt_replay *r)
{
	return r->m2w;
}

const struct tt_replay_stats *tt_replay_stats(const struct tt_replay *r)
{
	return &r->stats;
}

const char *tt_replay_warning(const struct tt_replay *r)
{
	return r->warn[0] ? r->warn : NULL;
}

void tt_replay_close(struct tt_replay *r)
{
	if (!r)
		return;
	tt_segr_close(r->r);
	free(r->blks);
	free(r);
}
