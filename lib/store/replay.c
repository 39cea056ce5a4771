/*
 * replay.c: see replay.h.
 *
 * The blocks to read are two runs of one recording, in file order: the
 * warm-up, from the last keyframe block at or before the window's first block
 * up to that block, and the window's blocks. Warm-up events go into a private
 * aggregator only; at the window's first block, if it is a delta block, that
 * aggregator's keyframe is handed out first (what the recorder would have
 * written there when every block had one), then the block's own events. So
 * whoever consumes the replay sees the same stream as before sparse keyframes.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator.h"
#include "mem.h"
#include "replay.h"
#include "segment.h"

struct tt_replay {
	struct tt_source src; /* first: tt_source* <-> tt_replay* */
	struct tt_store *st;
	struct tt_store_block *blks; /* index rows: place, span, kind, what the frame confirms */
	size_t n, cap, next; /* blocks to read, and the next one */
	size_t first; /* blks[first] is the window's first block: warm-up before it */
	struct tt_segr *r; /* reader of the current segment */
	int64_t r_seg; /* its segment id */
	int in_block; /* a block is loaded and has events left */
	int in_warmup; /* that block is a warm-up block: events to warm only */
	int synced; /* the state so far is whole: a delta block can be read */
	struct tt_agg *warm; /* the warm-up's aggregator; NULL when there is none */
	struct tt_event *kf; /* the synthesised keyframe, handed out before the window */
	size_t kf_n, kf_cap, kf_next;
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
	char path[4096], why[256];
	int err;

	tt_segr_close(r->r);
	r->r = NULL;
	r->r_seg = seg_id;
	err = tt_store_segment_file_path(r->st, seg_id, path, sizeof(path));
	if (err == -ENOENT || err == -EIO) /* no such row, or the index cannot say */
		return err;
	if (err) {
		snprintf(r->warn, sizeof(r->warn), "%s", tt_store_errmsg(r->st));
		/* frames carry their own checksums: a damaged file header loses none of them */
	} else if ((err = tt_segr_openf(path, TT_SEGR_SALVAGE, &r->r, why, sizeof(why)))) {
		snprintf(r->warn, sizeof(r->warn), "%s", why);
	} else if (!tt_segr_meta(r->r)) {
		r->stats.headers_damaged++;
		snprintf(r->warn, sizeof(r->warn), "%s (file header; its blocks read without it)",
			 why);
	}
	return err;
}

/*
 * The frame found where the index row says: the index is only a cache of the
 * segments, so where the two disagree the frame is read and the row reported
 * (the window's blocks were picked by the row's times, so the answer may be off).
 */
static void check_row(struct tt_replay *r, const struct tt_store_block *b,
		      const struct tt_block_info *bi)
{
	const char *what = NULL;

	if ((uint64_t)b->offset != bi->offset)
		what = "offset";
	else if ((uint64_t)b->t_start_ns != tt_wall_ns(bi->t_start, r->m2w))
		what = "t_start_ns";
	else if ((uint64_t)b->t_end_ns != tt_wall_ns(bi->t_end, r->m2w))
		what = "t_end_ns";
	else if ((uint64_t)b->events != bi->n_events)
		what = "events";
	else if ((uint64_t)b->length != bi->length)
		what = "length";
	else if ((uint64_t)b->checksum != bi->checksum)
		what = "checksum";
	else if (b->keyframe != (int)bi->keyframe)
		what = "keyframe";
	if (!what)
		return;
	r->stats.blocks_mismatch++;
	snprintf(r->warn, sizeof(r->warn),
		 "index: blocks row %" PRId64 ": %s differs from its frame in the segment (the "
		 "frame is read; run verify, then reindex)",
		 b->id, what);
}

/* A block lost (damaged, or its file): the delta blocks after it wait for a keyframe. */
static void lost_block(struct tt_replay *r)
{
	r->stats.blocks_damaged++;
	r->synced = 0;
}

static int collect_keyframe(const struct tt_event *ev, void *ctx)
{
	struct tt_replay *r = ctx;

	if (tt_grow((void **)&r->kf, &r->kf_cap, r->kf_n + 1, sizeof(*r->kf)))
		return -ENOMEM;
	r->kf[r->kf_n++] = *ev;
	return 0;
}

/*
 * The window starts at a delta block and the warm-up brought the state to its
 * start: restate that state as the keyframe the block would have opened with,
 * at the ts of the tick that ended the block before (where the recorder put it).
 */
static int synthesise_keyframe(struct tt_replay *r, const struct tt_block_info *bi)
{
	const struct tt_table *t = tt_agg_table(r->warm);
	int err;

	r->kf_n = r->kf_next = 0;
	err = tt_agg_keyframe(r->warm, t->seq ? t->ts_ns : bi->t_start, collect_keyframe, r);
	tt_agg_free(r->warm);
	r->warm = NULL;
	if (err)
		snprintf(r->err, sizeof(r->err), "out of memory");
	return err;
}

static int replay_next(struct tt_source *s, struct tt_event *ev)
{
	struct tt_replay *r = (struct tt_replay *)s;

	for (;;) {
		struct tt_block_info bi;
		const struct tt_store_block *b;
		int rc, warmup;

		if (r->kf_next < r->kf_n) {
			*ev = r->kf[r->kf_next++];
			r->stats.events++;
			return 1;
		}
		if (r->in_block) {
			rc = tt_segr_next_event(r->r, ev);
			if (rc > 0 && r->in_warmup) {
				if (tt_agg_feed(r->warm, ev) < 0) {
					snprintf(r->err, sizeof(r->err), "out of memory");
					return -ENOMEM;
				}
				continue;
			}
			if (rc > 0) {
				r->stats.events++;
				return 1;
			}
			r->in_block = 0;
			if (rc < 0) {
				/* the rest of this block is lost; the next keyframe resyncs */
				lost_block(r);
				snprintf(r->warn, sizeof(r->warn), "%s", tt_segr_errmsg(r->r));
			}
		}
		if (r->next >= r->n)
			return 0;
		warmup = r->next < r->first;
		b = &r->blks[r->next++];
		if (!b->keyframe && !r->synced) {
			/* intact, maybe, but its events continue a state we lost */
			if (!warmup)
				r->stats.blocks_unsynced++;
			if (!r->warn[0]) /* no damage to blame: the index lost a keyframe */
				snprintf(r->warn, sizeof(r->warn),
					 "index: blocks row %" PRId64
					 ": a delta block with no keyframe "
					 "block before it in the index",
					 b->id);
			continue;
		}
		if ((!r->r || r->r_seg != b->seg_id) && open_segment(r, b->seg_id)) {
			lost_block(r);
			continue;
		}
		rc = tt_segr_load_block(r->r, (uint64_t)b->offset, &bi);
		if (rc <= 0) {
			lost_block(r);
			snprintf(r->warn, sizeof(r->warn), "%s", tt_segr_errmsg(r->r));
			continue;
		}
		check_row(r, b, &bi);
		if (!bi.keyframe && !r->synced) {
			/* the row said keyframe, the frame says otherwise */
			if (!warmup)
				r->stats.blocks_unsynced++;
			continue;
		}
		r->synced = 1;
		r->in_block = 1;
		r->in_warmup = warmup;
		if (warmup) {
			r->stats.blocks_warmup++;
			continue;
		}
		r->stats.blocks_read++;
		if (r->warm && !b->keyframe) {
			rc = synthesise_keyframe(r, &bi);
			if (rc)
				return rc;
		}
		/* once in the window, the stream carries the state itself */
		tt_agg_free(r->warm);
		r->warm = NULL;
	}
}

static int add_block(struct tt_replay *r, const struct tt_store_block *b)
{
	if (tt_grow((void **)&r->blks, &r->cap, r->n + 1, sizeof(*r->blks)))
		return -ENOMEM;
	r->blks[r->n++] = *b;
	return 0;
}

/* tt_store_each_block's callback: append the row; the last one stays in blks[n - 1]. */
static int add_row(void *ctx, const struct tt_store_block *b)
{
	return add_block(ctx, b);
}

/*
 * The blocks to read: the window's and, before them, the warm-up back to the
 * last keyframe block. An index without blocks.keyframe (schema 1) has a
 * keyframe in every block: no warm-up.
 *
 * The window's blocks are those whose span overlaps it (a minute of a day
 * reads a minute's blocks). A block's span starts where the block before it
 * ended, at the tick after which it was cut: a keyframe block's first events
 * are stamped there, but a delta block's first event may come up to a tick
 * later, so for a delta block t_start_ns is not where its span starts. Hence
 * the window's first block is the first one that ends at or after its start,
 * whatever its t_start_ns, and a delta block right after the last one that
 * starts by the window's end is in the window too when that one ended by it:
 * the same blocks as when every block opened with a keyframe.
 */
static int select_blocks(struct tt_replay *r, const struct tt_replay_opts *o)
{
	int has_kf = tt_store_has_keyframe_column(r->st);
	int64_t to = o->to_ns ? (int64_t)o->to_ns : INT64_MAX;
	struct tt_store_block f, k, nx, last;
	struct tt_store_block_run run;
	int rc;

	rc = tt_store_find_block(r->st, o->recording_id, TT_BLOCK_FIRST_ENDING, (int64_t)o->from_ns,
				 0, &f);
	if (rc <= 0)
		return rc;
	if (f.t_start_ns > to && f.keyframe)
		return 0; /* the window falls before it, between two recordings' blocks */
	if (has_kf && !f.keyframe) {
		rc = tt_store_find_block(r->st, o->recording_id, TT_BLOCK_KEYFRAME_AT, f.seq,
					 f.offset, &k);
		if (rc < 0)
			return rc;
		/* none (the index lost it): the window's delta blocks wait for one */
		if (rc > 0) {
			run = (struct tt_store_block_run){ .seq = k.seq,
							   .offset = k.offset,
							   .has_end = 1,
							   .end_seq = f.seq,
							   .end_offset = f.offset };
			rc = tt_store_each_block(r->st, o->recording_id, &run, add_row, r);
			if (rc)
				return rc;
		}
	}
	r->first = r->n;
	if (f.t_start_ns > to) /* a delta block whose span starts before the window ends */
		return add_block(r, &f);
	run = (struct tt_store_block_run){ .seq = f.seq, .offset = f.offset, .t_start_max = to };
	rc = tt_store_each_block(r->st, o->recording_id, &run, add_row, r);
	/* f has t_start <= to: the query returns it at least */
	last = r->n > r->first ? r->blks[r->n - 1] : f;
	if (rc || !has_kf || last.t_end_ns > to)
		return rc;
	/* the next block: a delta block's span starts where the last one ended */
	rc = tt_store_find_block(r->st, o->recording_id, TT_BLOCK_NEXT, last.seq, last.offset, &nx);
	if (rc <= 0 || nx.keyframe)
		return rc;
	return add_block(r, &nx);
}

/* tt_store_recording's callback: the recording's clock. */
static int take_m2w(void *ctx, const struct tt_store_rec *rec)
{
	struct tt_replay *r = ctx;

	r->m2w = rec->mono_to_wall_ns;
	return 0;
}

int tt_replay_open(struct tt_store *st, const struct tt_replay_opts *o, struct tt_replay **out,
		   char *why, size_t why_len)
{
	struct tt_replay *r = calloc(1, sizeof(*r));
	struct tt_store_block_count bc;
	int err = 0;

	*out = NULL;
	if (!r) {
		snprintf(why, why_len, "out of memory");
		return -ENOMEM;
	}
	r->st = st;
	r->src.next = replay_next;
	r->src.errmsg = replay_errmsg;
	err = tt_store_recording(st, o->recording_id, 0, take_m2w, r);
	if (err == -ENOENT) {
		snprintf(why, why_len, "%s: no recording %" PRId64, tt_store_dir(st),
			 o->recording_id);
		goto fail;
	}
	if (err || (err = tt_store_count_blocks(st, o->recording_id, &bc)))
		goto dberr;
	r->stats.blocks_total = bc.total;

	/*
	 * Rows that cannot be placed are left out of the selection (they would
	 * pick or order blocks wrongly) and reported: what they held is lost to
	 * this answer, and the answer says so.
	 */
	if (bc.bad > 0) {
		r->stats.blocks_damaged += bc.bad;
		snprintf(r->warn, sizeof(r->warn),
			 "index: blocks row %" PRId64 "%s: offset or times out of range, not read "
			 "(run verify, then reindex)",
			 bc.first_bad, bc.bad > 1 ? " and others" : "");
	}

	err = select_blocks(r, o);
	if (err == -ENOMEM) {
		snprintf(why, why_len, "out of memory");
		goto fail;
	}
	if (err)
		goto dberr;
	r->stats.blocks_selected = r->n - r->first;
	if (r->first) {
		r->warm = tt_agg_new();
		if (!r->warm) {
			snprintf(why, why_len, "out of memory");
			err = -ENOMEM;
			goto fail;
		}
	}
	*out = r;
	return 0;
dberr:
	snprintf(why, why_len, "%s: index: %s", tt_store_dir(st), tt_store_errmsg(st));
fail:
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
	tt_agg_free(r->warm);
	free(r->kf);
	free(r->blks);
	free(r);
}
