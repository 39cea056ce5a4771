/*
 * writer.c: see writer.h.
 *
 * Order of durability, per block: frame written and fdatasync'ed, then the
 * index transaction. A crash between the two leaves a frame the index does not
 * name yet (verify reports it; the next open, or a reader, adopts it: see
 * adopt_unindexed); never an index row pointing at bytes that are not on disk.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "indexer.h"
#include "repair.h"
#include "segment.h"
#include "format.h"
#include "clock.h"
#include "writer.h"

struct tt_writer {
	struct tt_writer_opts o;
	struct tt_store *st;
	struct tt_indexer *ix;
	struct tt_segw *seg;
	int64_t rec_id;
	int64_t seg_id;
	uint32_t seg_seq;
	uint64_t seg_start_ns; /* CLOCK_MONOTONIC of the segment's first tick, 0 before */
	uint64_t block_start_ns; /* same for the block being built */
	uint64_t kf_start_ns; /* same for the last keyframe block */
	uint64_t blocks;
	uint32_t block_events; /* events of the block beyond its keyframe */
	struct tt_ev_loss loss; /* latest LOSS in the stream */
	struct tt_seg_meta meta;
	/* --retain-size: the directory after the last pass, and the most it grew
	 * from there through one flush and the pass after it */
	uint64_t dir_rest;
	uint64_t headroom;
	int measured; /* headroom is a measurement, not the first guess */
	unsigned too_small; /* passes in a row that found the limit too small */
	int warned_small; /* the size limit is below what the store needs: said once */
	uint64_t unshipped; /* segments retention removed before they were shipped */
	char err[512];
	char warn[1024]; /* not yet taken by tt_writer_take_warning */
	char taken[1024]; /* the last one taken */
};

void tt_writer_opts_default(struct tt_writer_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->dir_mode = 0700;
	o->file_mode = 0600;
	o->flush_ns = 5000000000ull;
	o->keyframe_ns = 60000000000ull;
	o->segment_ns = 3600000000000ull;
	o->segment_bytes = 256ull << 20;
	o->bucket_ns = (uint64_t)TT_IX_RES_MINOR * 1000000000ull;
}

/* "8c1d...-...." boot id into two 64-bit halves; zeros when unparsable. */
static void parse_boot_id(const char *s, uint64_t *hi, uint64_t *lo)
{
	unsigned nib = 0;

	*hi = *lo = 0;
	for (; s && *s && nib < 32; s++) {
		int v;

		if (*s >= '0' && *s <= '9')
			v = *s - '0';
		else if (*s >= 'a' && *s <= 'f')
			v = *s - 'a' + 10;
		else
			continue;
		if (nib < 16)
			*hi = (*hi << 4) | (uint64_t)v;
		else
			*lo = (*lo << 4) | (uint64_t)v;
		nib++;
	}
}

static int retain(struct tt_writer *w, int force);

static int new_segment(struct tt_writer *w)
{
	char name[TT_SEG_NAME_MAX], path[4096], why[256];
	int err;

	if ((err = tt_store_segment_name(name, sizeof(name), w->rec_id, w->seg_seq))) {
		snprintf(w->err, sizeof(w->err), "%s: recording %" PRId64 ": no segment name",
			 w->o.dir, w->rec_id);
		return err;
	}
	snprintf(path, sizeof(path), "%s/%s", w->o.dir, name);
	w->meta.recording_id = (uint64_t)w->rec_id;
	w->meta.seq = w->seg_seq;
	w->meta.created_wall_ns = tt_clock_ns(CLOCK_REALTIME);
	err = tt_segw_create(path, &w->meta, tt_store_file_mode(w->st), &w->seg, why, sizeof(why));
	if (err) {
		snprintf(w->err, sizeof(w->err), "%s", why);
		return err;
	}
	err = tt_store_segment_begin(w->st, w->rec_id, w->seg_seq, name, w->meta.created_wall_ns,
				     &w->seg_id);
	if (err) {
		snprintf(w->err, sizeof(w->err), "%s", tt_store_errmsg(w->st));
		return err;
	}
	w->seg_start_ns = 0;
	return 0;
}

/*
 * Segments an earlier run left unsealed ended with a crash: find a torn tail
 * (reported, left as is: readers skip it) and seal them so nothing appends.
 */
static int adopt_one(void *ctx, int64_t id, const char *file)
{
	struct tt_writer *w = ctx;
	char path[4096], why[256];
	struct tt_block_info bi;
	struct tt_segr *r;
	unsigned intact = 0, damaged = 0;
	size_t used = strlen(w->warn);
	int rc;

	/* a damaged file header is damage too, but its frames are still there */
	if (tt_store_segment_path(w->st, file, path, sizeof(path)) == 0 &&
	    tt_segr_openf(path, TT_SEGR_SALVAGE, &r, why, sizeof(why)) == 0) {
		if (!tt_segr_meta(r))
			damaged++;
		while ((rc = tt_segr_next_block(r, &bi)) != 0)
			rc > 0 ? intact++ : damaged++;
		tt_segr_close(r);
	} else {
		damaged++;
	}
	if (damaged && used < sizeof(w->warn))
		snprintf(w->warn + used, sizeof(w->warn) - used,
			 "%s%s: damaged after an unclean stop (%u intact blocks kept, "
			 "damage skipped by readers)",
			 used ? "; " : "", file, intact);
	tt_store_segment_seal(w->st, id);
	return 0;
}

/* A finding of the adoption's rebuild (a damaged block, a damaged header), for the warning. */
static void adopt_finding(void *ctx, enum tt_finding_level level, const char *what, const char *msg)
{
	struct tt_writer *w = ctx;
	size_t used = strlen(w->warn);

	if (level != TT_FINDING_NOTE && used < sizeof(w->warn) - 1)
		snprintf(w->warn + used, sizeof(w->warn) - used, "%s%s: %s", used ? "; " : "", what,
			 msg);
}

/*
 * Blocks an earlier run wrote and fsynced but did not index before it died:
 * the index is rebuilt from the segments so that it names them (lib/repair.h),
 * before this run writes anything. Never fatal: a recorder that cannot adopt
 * them still records, and says so.
 */
static void adopt_unindexed(struct tt_writer *w)
{
	struct tt_repair_cb cb = { .on_finding = adopt_finding, .ctx = w };
	struct tt_reindex_result res;
	uint64_t n = 0;
	char why[512];
	size_t used;
	int err;

	err = tt_repair_adopt(w->o.dir, &cb, &n, &res, why, sizeof(why));
	used = strlen(w->warn);
	if (!n || err == -EBUSY || used >= sizeof(w->warn) - 1)
		return; /* -EBUSY: another recorder; the store's open says who */
	if (err)
		snprintf(w->warn + used, sizeof(w->warn) - used,
			 "%s%" PRIu64 " blocks written before an unclean stop are not indexed and "
			 "could not be adopted (%s): run tcptop-analyze reindex %s",
			 used ? "; " : "", n, why, w->o.dir);
	else
		snprintf(w->warn + used, sizeof(w->warn) - used,
			 "%s%" PRIu64 " blocks written before an unclean stop but not indexed were "
			 "adopted (the index was rebuilt from the segments)",
			 used ? "; " : "", n);
}

int tt_writer_open(const struct tt_writer_opts *o, struct tt_writer **out, char *why,
		   size_t why_len)
{
	struct tt_writer *w = calloc(1, sizeof(*w));
	int err;

	*out = NULL;
	if (!w) {
		snprintf(why, why_len, "out of memory");
		return -ENOMEM;
	}
	w->o = *o;
	/* retention removes whole sealed segments: let there be a few under the limit */
	if (o->retain_bytes && (!o->segment_bytes || o->segment_bytes > o->retain_bytes / 4))
		w->o.segment_bytes = o->retain_bytes / 4 > 4096 ? o->retain_bytes / 4 : 4096;
	w->headroom = o->retain_bytes / 8;
	adopt_unindexed(w);
	err = tt_store_open(o->dir, TT_STORE_WRITE, o->dir_mode, o->file_mode, &w->st, why,
			    why_len);
	if (err)
		goto fail;
	if (tt_store_warning(w->st)) {
		size_t used = strlen(w->warn);

		snprintf(w->warn + used, sizeof(w->warn) - used, "%s%s", used ? "; " : "",
			 tt_store_warning(w->st));
	}
	tt_store_each_unsealed(w->st, adopt_one, w);
	err = tt_store_recording_begin(w->st, &o->rec, &w->rec_id);
	if (err) {
		snprintf(why, why_len, "%s", tt_store_errmsg(w->st));
		goto fail;
	}
	w->meta.mono_to_wall_ns = o->rec.mono_to_wall_ns;
	parse_boot_id(o->rec.boot_id, &w->meta.boot_id_hi, &w->meta.boot_id_lo);
	if (o->bucket_ns && !tt_indexer_minor_ok(o->bucket_ns)) {
		err = -EINVAL;
		snprintf(why, why_len,
			 "rollup length: not a whole number of seconds dividing an hour");
		goto fail;
	}
	w->ix = tt_indexer_new(o->bucket_ns, o->rec.mono_to_wall_ns);
	if (!w->ix) {
		err = -ENOMEM;
		snprintf(why, why_len, "out of memory");
		goto fail;
	}
	err = new_segment(w);
	/* a store already over the limits is brought under them before recording */
	if (!err)
		err = retain(w, 0);
	if (err) {
		snprintf(why, why_len, "%s", w->err);
		goto fail;
	}
	*out = w;
	return 0;
fail:
	tt_indexer_free(w->ix);
	tt_segw_close(w->seg);
	tt_store_close(w->st);
	free(w);
	return err;
}

uint64_t tt_writer_unshipped(const struct tt_writer *w)
{
	return w->unshipped;
}

const char *tt_writer_take_warning(struct tt_writer *w)
{
	if (!w->warn[0])
		return NULL;
	memcpy(w->taken, w->warn, sizeof(w->taken));
	w->warn[0] = 0;
	return w->taken;
}

int tt_writer_event(struct tt_writer *w, const struct tt_event *ev)
{
	int err;

	if (ev->type == TT_EV_LOSS)
		w->loss = ev->loss;
	if (!(ev->flags & TT_EVF_KEYFRAME))
		w->block_events++;
	err = tt_segw_append(w->seg, ev);
	if (err)
		snprintf(w->err, sizeof(w->err), "%s", tt_segw_errmsg(w->seg));
	return err;
}

/*
 * The headroom follows the largest growth, and decays by a quarter per flush
 * toward the latest one: a recording's first block (a new row for every
 * connection) or a burst of sockets must not cost room for the rest of the
 * run. Until a flush has been measured it is a guess: an eighth of the limit.
 */
static void grew(struct tt_writer *w, uint64_t by, int new_flush)
{
	if (!w->measured) {
		w->headroom = by;
		w->measured = 1;
		return;
	}
	if (new_flush && w->headroom > by)
		w->headroom -= (w->headroom - by) / 4;
	if (by > w->headroom)
		w->headroom = by;
}

/*
 * One retention pass. With a size limit the pass aims below it by the
 * headroom: the most the directory has grown from the end of one pass through
 * the next flush (the frame, the index transaction in the WAL, the index's
 * growth) and the pass itself (the WAL of its deletions and vacuum), so that
 * the next flush ends under the limit too. force: the disk is full, remove the
 * oldest sealed segment whatever the limits say.
 */
static int retain(struct tt_writer *w, int force)
{
	struct tt_retain_opts ro = {
		.now_ns = tt_clock_ns(CLOCK_REALTIME),
		.max_age_ns = w->o.retain_ns,
		.keep_seg_id = w->seg_id,
		.force = force,
	};
	struct tt_retain_result rr;
	uint64_t n = w->o.retain_bytes;
	int err;

	if (!w->o.retain_ns && !n)
		return 0;
	if (n)
		ro.max_bytes = n > w->headroom ? n - w->headroom : 1;
	err = tt_store_retain(w->st, &ro, &rr);
	if (err) {
		snprintf(w->err, sizeof(w->err), "retention: %s", tt_store_errmsg(w->st));
		return err;
	}
	if (rr.unshipped) {
		char t[64];

		w->unshipped += rr.unshipped;
		snprintf(w->warn, sizeof(w->warn),
			 "%s: retention removed %u segment(s), the last ending %s, before every "
			 "export destination received them (export_cursors): lost to the fleet, kept "
			 "nowhere (%" PRIu64 " such segments in all)",
			 w->o.dir, rr.unshipped,
			 tt_fmt_time(t, sizeof(t), rr.unshipped_end_ns, 1, 0), w->unshipped);
	}
	if (!n)
		return 0;
	if (w->dir_rest && rr.peak_bytes > w->dir_rest)
		grew(w, rr.peak_bytes - w->dir_rest, 0);
	w->dir_rest = rr.dir_bytes;
	/*
	 * Nothing left to remove, and the next flush may take the directory over
	 * the limit: said once, when it has lasted eight passes (a recording's
	 * first blocks pass, a size too small stays).
	 */
	if (rr.dir_bytes + w->headroom > n && !rr.sealed_left)
		w->too_small++;
	else
		w->too_small = 0;
	if (w->too_small >= 8 && !w->warned_small) {
		w->warned_small = 1;
		snprintf(w->warn, sizeof(w->warn),
			 "%s: the retention size (%" PRIu64
			 " KiB) is too small to hold the index and "
			 "the segment being written (%" PRIu64
			 " KiB now) and what a block adds while "
			 "it is written (%" PRIu64
			 " KiB): the directory will go over it; every older "
			 "segment is removed as soon as it is sealed",
			 w->o.dir, n >> 10, rr.dir_bytes >> 10, w->headroom >> 10);
	}
	return 0;
}

/* The growth of the directory since the last pass, as the flush just left it. */
static void note_flush(struct tt_writer *w)
{
	uint64_t now;

	if (!w->o.retain_bytes || !w->dir_rest || tt_store_dir_bytes(w->st, &now))
		return;
	grew(w, now > w->dir_rest ? now - w->dir_rest : 0, 1);
}

/*
 * A full disk is one message, whatever met it first: a frame, the index's
 * WAL (SQLite says "database or disk is full"), a new segment file. The
 * callers of flush_block, roll_if_due and retain pass their errors through.
 */
static int no_space(struct tt_writer *w, int err)
{
	if (err == -ENOSPC)
		snprintf(w->err, sizeof(w->err),
			 "%s: no space left on device; the store is intact up to the last complete block",
			 w->o.dir);
	return err;
}

/* Write the block being built: frame first, then the index names it. */
static int flush_block(struct tt_writer *w)
{
	int retention = w->o.retain_ns || w->o.retain_bytes;
	struct tt_block_info bi;
	int err = tt_segw_flush(w->seg, 1, &bi);

	if (err == -ENOSPC && retention) {
		/* the block stays pending after a failed write: free room, retry once */
		if (!retain(w, 1))
			err = tt_segw_flush(w->seg, 1, &bi);
	}
	if (err == -ENODATA)
		return 0;
	if (err) {
		snprintf(w->err, sizeof(w->err), "%s: %s", w->o.dir, tt_segw_errmsg(w->seg));
		return err;
	}
	err = tt_store_block(w->st, w->seg_id, &bi, w->o.rec.mono_to_wall_ns, &w->loss, w->ix);
	if (err == -ENOSPC && retention) {
		/*
		 * The index's WAL can fill the disk as well as a frame can; the
		 * failed transaction left nothing behind and the indexer rewound,
		 * so after retention has freed room the same block goes in again.
		 */
		if (!retain(w, 1))
			err = tt_store_block(w->st, w->seg_id, &bi, w->o.rec.mono_to_wall_ns,
					     &w->loss, w->ix);
	}
	if (err) {
		snprintf(w->err, sizeof(w->err), "%s: index: %s", w->o.dir, tt_store_errmsg(w->st));
		return err;
	}
	w->blocks++;
	w->block_events = 0;
	note_flush(w);
	return 0;
}

static int roll_if_due(struct tt_writer *w, uint64_t ts)
{
	int err;

	if (!(w->o.segment_ns && ts - w->seg_start_ns >= w->o.segment_ns) &&
	    !(w->o.segment_bytes && tt_segw_size(w->seg) >= w->o.segment_bytes))
		return 0;
	err = tt_store_segment_seal(w->st, w->seg_id);
	if (err) {
		snprintf(w->err, sizeof(w->err), "%s", tt_store_errmsg(w->st));
		return err;
	}
	tt_segw_close(w->seg);
	w->seg = NULL;
	w->seg_seq++;
	return new_segment(w);
}

static int append_keyframe(const struct tt_event *ev, void *ctx)
{
	return tt_writer_event(ctx, ev);
}

int tt_writer_tick(struct tt_writer *w, const struct tt_agg *agg, const struct tt_table *t)
{
	int err = tt_indexer_add(w->ix, t);

	if (err) {
		snprintf(w->err, sizeof(w->err), "indexer: out of memory");
		return err;
	}
	if (!w->seg_start_ns)
		w->seg_start_ns = t->start_ns;
	if (!w->block_start_ns)
		w->block_start_ns = w->kf_start_ns = t->start_ns; /* a recording's first block */
	if (t->ts_ns - w->block_start_ns < w->o.flush_ns)
		return 0;
	if ((err = flush_block(w)) || (err = roll_if_due(w, t->ts_ns)) || (err = retain(w, 0)))
		return no_space(w, err);
	w->block_start_ns = t->ts_ns;
	/*
	 * A new segment opens with a keyframe: retention deletes the oldest
	 * segments whole, and the oldest left must be readable alone. Otherwise
	 * one is due keyframe_ns after the last; half a block of slack, so that a
	 * tick that ends a hair early does not put it a whole block later.
	 */
	if (w->seg_start_ns && t->ts_ns - w->kf_start_ns + w->o.flush_ns / 2 < w->o.keyframe_ns) {
		tt_segw_set_delta(w->seg, 1);
		return 0;
	}
	if (!w->seg_start_ns)
		w->seg_start_ns = t->ts_ns;
	w->kf_start_ns = t->ts_ns;
	/* the whole table: a reader can start here */
	return tt_agg_keyframe(agg, t->ts_ns, append_keyframe, w);
}

uint64_t tt_writer_blocks(const struct tt_writer *w)
{
	return w->blocks;
}

const char *tt_writer_errmsg(const struct tt_writer *w)
{
	return w->err[0] ? w->err : "no error";
}

int tt_writer_finish(struct tt_writer *w, uint64_t end_wall_ns)
{
	int err = 0, e;

	/* a block holding only a keyframe adds nothing: the stream ended at a flush */
	if (w->block_events)
		err = flush_block(w);
	if ((e = tt_store_segment_seal(w->st, w->seg_id)) && !err) {
		snprintf(w->err, sizeof(w->err), "%s", tt_store_errmsg(w->st));
		err = e;
	}
	if ((e = tt_store_recording_end(w->st, w->rec_id, end_wall_ns, !err)) && !err) {
		snprintf(w->err, sizeof(w->err), "%s", tt_store_errmsg(w->st));
		err = e;
	}
	/*
	 * and in the last segment itself, once the index says so (a reader checks
	 * the index against it, reindex takes it back from it); if this fails the
	 * flag is missing, which claims nothing
	 */
	if (!err && w->seg)
		tt_segw_mark_clean_end(w->seg);
	return no_space(w, err);
}

void tt_writer_free(struct tt_writer *w)
{
	if (!w)
		return;
	tt_segw_close(w->seg);
	tt_indexer_free(w->ix);
	tt_store_close(w->st);
	free(w);
}
