/*
 * repair.c: see repair.h.
 *
 * reindex: every intact block is read in order and its events go through the
 * recorder's aggregator and indexer again. Whether a block opens with a
 * keyframe (blocks.keyframe) is the frame header's DELTA flag
 * (docs/FORMAT.md). After a damaged block, the delta blocks up to the next
 * keyframe block are indexed but not summarised: their events continue a
 * state that is lost, as readers skip them too. The store's writer lock is held
 * throughout, so no recorder can write meanwhile.
 *
 * verify: each segment row's file is read whole (every frame loaded, every
 * event decoded), then its blocks rows are compared with the frames, field by
 * field; then recordings, conns and rollups are checked with a few aggregate
 * queries against the blocks' spans.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aggregator.h"
#include "indexer.h"
#include "mem.h"
#include "repair.h"
#include "segment.h"
#include "store.h"

static void finding(const struct tt_repair_cb *cb, enum tt_finding_level level, const char *what,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void finding(const struct tt_repair_cb *cb, enum tt_finding_level level, const char *what,
		    const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (!cb || !cb->on_finding)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cb->on_finding(cb->ctx, level, what, msg);
}

static void progress(const struct tt_repair_cb *cb, uint64_t done, uint64_t total)
{
	if (cb && cb->on_progress)
		cb->on_progress(cb->ctx, done, total);
}

/* ---- reindex ----------------------------------------------------------------- */

struct seg {
	char name[64];
	struct tt_seg_meta meta;
	int header_ok; /* 0: the header is damaged, meta comes from the name and old index */
};

/* What the old index says about a recording, if it can be read at all. */
struct oldrec {
	char host[128], kernel[128], boot_id[64], options[1024], version[32];
	uint64_t start_ns, end_ns;
	uint64_t rollup_ns; /* its minor rollup length (schema 2; 0: none or unknown) */
	int64_t m2w;
	int clean, found, has_end;
};

static int cmp_seg(const void *pa, const void *pb)
{
	const struct seg *a = pa, *b = pb;

	if (a->meta.recording_id != b->meta.recording_id)
		return a->meta.recording_id < b->meta.recording_id ? -1 : 1;
	return (a->meta.seq > b->meta.seq) - (a->meta.seq < b->meta.seq);
}

static void old_recording(struct tt_store *old, int64_t id, struct oldrec *o)
{
	sqlite3_stmt *q = NULL;

	memset(o, 0, sizeof(*o));
	if (!old)
		return;
	if (!sqlite3_prepare_v2(tt_store_db(old),
				"SELECT host, kernel, boot_id, options, tool_version, start_ns, "
				"end_ns, clean_stop, mono_to_wall_ns FROM recordings WHERE id = ?1",
				-1, &q, NULL)) {
		sqlite3_bind_int64(q, 1, id);
		if (sqlite3_step(q) == SQLITE_ROW) {
			snprintf(o->host, sizeof(o->host), "%s", sqlite3_column_text(q, 0));
			snprintf(o->kernel, sizeof(o->kernel), "%s", sqlite3_column_text(q, 1));
			snprintf(o->boot_id, sizeof(o->boot_id), "%s", sqlite3_column_text(q, 2));
			snprintf(o->options, sizeof(o->options), "%s", sqlite3_column_text(q, 3));
			snprintf(o->version, sizeof(o->version), "%s", sqlite3_column_text(q, 4));
			o->start_ns = (uint64_t)sqlite3_column_int64(q, 5);
			/* NULL: the recording died; its end is its last block's, not 0 */
			o->has_end = sqlite3_column_type(q, 6) != SQLITE_NULL;
			o->end_ns = (uint64_t)sqlite3_column_int64(q, 6);
			o->clean = sqlite3_column_int(q, 7);
			o->m2w = sqlite3_column_int64(q, 8);
			o->found = 1;
		}
	}
	sqlite3_finalize(q);
	q = NULL;
	/* the --bucket it was recorded with: its rollups keep their length */
	if (o->found && tt_store_schema_version(old) >= 2 &&
	    !sqlite3_prepare_v2(tt_store_db(old), "SELECT rollup_ns FROM recordings WHERE id = ?1",
				-1, &q, NULL)) {
		sqlite3_bind_int64(q, 1, id);
		if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_int64(q, 0) > 0)
			o->rollup_ns = (uint64_t)sqlite3_column_int64(q, 0);
	}
	sqlite3_finalize(q);
}

/* The created time the old index recorded for a segment file, or 0. */
static uint64_t old_segment_created(struct tt_store *old, const char *name)
{
	sqlite3_stmt *q = NULL;
	uint64_t t = 0;

	if (old && !sqlite3_prepare_v2(tt_store_db(old),
				       "SELECT created_ns FROM segments WHERE file = ?1", -1, &q,
				       NULL)) {
		sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
		if (sqlite3_step(q) == SQLITE_ROW)
			t = (uint64_t)sqlite3_column_int64(q, 0);
	}
	sqlite3_finalize(q);
	return t;
}

/*
 * Every *.tts file of dir, sorted by recording and sequence. A file whose
 * header is damaged is kept when its name says its recording and sequence:
 * its frames do not need the header (docs/FORMAT.md); the clock mapping is
 * taken from the recording's other segments or the old index.
 */
static int list_segments(const char *dir, struct tt_store *old, const struct tt_repair_cb *cb,
			 struct seg **out, size_t *n, struct tt_reindex_result *res)
{
	size_t cap = 0, i, j;
	struct dirent *de;
	DIR *d = opendir(dir);

	*out = NULL;
	*n = 0;
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);
		char path[4096], why[256];
		struct tt_segr *r;
		struct seg *s;
		int64_t rec;
		uint32_t seq;

		if (l < 5 || strcmp(de->d_name + l - 4, ".tts") || l >= sizeof((*out)->name))
			continue;
		/* only names the store gives its segments (tt_store_segment_name) */
		if (!tt_store_segment_name_parse(de->d_name, &rec, &seq)) {
			finding(cb, TT_FINDING_WARNING, de->d_name, "not a segment file name; left out");
			res->bad_files++;
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (tt_segr_openf(path, TT_SEGR_SALVAGE, &r, why, sizeof(why))) {
			finding(cb, TT_FINDING_WARNING, de->d_name, "%s; left out", why);
			res->bad_files++;
			continue;
		}
		if (tt_grow((void **)out, &cap, *n + 1, sizeof(**out))) {
			tt_segr_close(r);
			closedir(d);
			return -ENOMEM;
		}
		s = &(*out)[*n];
		memset(s, 0, sizeof(*s));
		memcpy(s->name, de->d_name, l + 1);
		if (tt_segr_meta(r)) {
			s->meta = *tt_segr_meta(r);
			s->header_ok = 1;
		} else if (rec > 0) {
			s->meta.recording_id = (uint64_t)rec;
			s->meta.seq = seq;
			s->meta.created_wall_ns = old_segment_created(old, s->name);
			finding(cb, TT_FINDING_WARNING, s->name,
				"%s; indexed by its name (recording %" PRIu64 ", segment %u)", why,
				s->meta.recording_id, s->meta.seq);
			res->bad_headers++;
		} else {
			finding(cb, TT_FINDING_WARNING, s->name, "%s; left out", why);
			res->bad_files++;
			tt_segr_close(r);
			continue;
		}
		(*n)++;
		tt_segr_close(r);
	}
	closedir(d);
	qsort(*out, *n, sizeof(**out), cmp_seg);
	/* a damaged header's clock mapping: its recording's other segments say it */
	for (i = 0; i < *n; i++) {
		struct seg *s = &(*out)[i];

		if (s->header_ok)
			continue;
		for (j = 0; j < *n; j++)
			if ((*out)[j].header_ok &&
			    (*out)[j].meta.recording_id == s->meta.recording_id) {
				s->meta.mono_to_wall_ns = (*out)[j].meta.mono_to_wall_ns;
				s->header_ok = -1; /* mapping known */
				break;
			}
		if (s->header_ok == 0) {
			struct oldrec o;

			old_recording(old, (int64_t)s->meta.recording_id, &o);
			s->meta.mono_to_wall_ns = o.m2w;
			s->header_ok = o.found ? -1 : 0;
		}
	}
	/* nothing says when its events happened: left out rather than misdated */
	for (i = j = 0; i < *n; i++) {
		if ((*out)[i].header_ok) {
			(*out)[j++] = (*out)[i];
			continue;
		}
		finding(cb, TT_FINDING_WARNING, (*out)[i].name,
			"damaged file header and no other record of its recording's clock; left out");
		res->bad_headers--;
		res->bad_files++;
	}
	*n = j;
	return 0;
}

struct rebuild {
	struct tt_store *st;
	const char *dir;
	const struct tt_repair_cb *cb;
	struct tt_reindex_result *res;
	struct tt_agg *agg;
	struct tt_indexer *ix;
	struct tt_ev_loss loss;
	int synced; /* the aggregator holds the whole state: delta blocks can be summarised */
	char *why;
	size_t why_len;
};

/* One segment: every intact block, through the aggregator and indexer, into the index. */
static int rebuild_segment(struct rebuild *rb, int64_t rec_id, const struct seg *sg)
{
	char path[4096], why[256];
	struct tt_block_info bi;
	struct tt_segr *r;
	int64_t seg_id;
	int rc, err;

	snprintf(path, sizeof(path), "%s/%s", rb->dir, sg->name);
	if ((err = tt_segr_openf(path, TT_SEGR_SALVAGE, &r, why, sizeof(why)))) {
		snprintf(rb->why, rb->why_len, "%s", why);
		return err;
	}
	err = tt_store_segment_begin(rb->st, rec_id, sg->meta.seq, sg->name,
				     sg->meta.created_wall_ns, &seg_id);
	while (!err && (rc = tt_segr_next_block(r, &bi)) != 0) {
		struct tt_event ev;

		if (rc == -EBADMSG) {
			rb->res->damaged++;
			rb->synced = 0;
			finding(rb->cb, TT_FINDING_WARNING, sg->name, "%s; that block is left out",
				tt_segr_errmsg(r));
			continue;
		}
		if (rc < 0) {
			snprintf(rb->why, rb->why_len, "%s: %s", sg->name, tt_segr_errmsg(r));
			err = rc;
			break;
		}
		if (bi.keyframe)
			rb->synced = 1;
		else if (!rb->synced)
			rb->res->unsynced++;
		while ((rc = tt_segr_next_event(r, &ev)) > 0) {
			rb->res->events++;
			if (ev.type == TT_EV_LOSS)
				rb->loss = ev.loss; /* cumulative: true whatever came before */
			if (!rb->synced)
				continue;
			rc = tt_agg_feed(rb->agg, &ev);
			if (rc < 0 || (rc == 1 && tt_indexer_add(rb->ix, tt_agg_table(rb->agg)))) {
				snprintf(rb->why, rb->why_len, "out of memory");
				err = -ENOMEM;
				break;
			}
		}
		if (!err && rc < 0) {
			rb->res->damaged++;
			rb->synced = 0;
			finding(rb->cb, TT_FINDING_WARNING, sg->name,
				"%s; the rest of that block is left out", tt_segr_errmsg(r));
		}
		if (!err)
			err = tt_store_block(rb->st, seg_id, &bi, sg->meta.mono_to_wall_ns, &rb->loss,
					     rb->ix);
		rb->res->blocks++;
	}
	if (!err)
		err = tt_store_segment_seal(rb->st, seg_id);
	if (err && !rb->why[0])
		snprintf(rb->why, rb->why_len, "%s", tt_store_errmsg(rb->st));
	tt_segr_close(r);
	return err;
}

/* One recording: segs[0..n), all of it. */
static int rebuild_recording(struct rebuild *rb, struct tt_store *old, const struct seg *segs,
			     size_t n, uint64_t *done, uint64_t total)
{
	int64_t id = (int64_t)segs[0].meta.recording_id;
	struct tt_recording_info ri = { .id = id };
	struct oldrec o;
	int64_t rec_id;
	size_t i;
	int err;

	old_recording(old, id, &o);
	ri.host = o.found ? o.host : "?";
	ri.kernel = o.found ? o.kernel : "?";
	ri.boot_id = o.boot_id;
	ri.options = o.found ? o.options : "(reindexed: the old index was unreadable)";
	ri.tool_version = o.found ? o.version : TT_VERSION;
	ri.start_ns = o.found ? o.start_ns : segs[0].meta.created_wall_ns;
	ri.mono_to_wall_ns = segs[0].meta.mono_to_wall_ns;
	rb->agg = tt_agg_new();
	rb->ix = tt_indexer_new(tt_indexer_minor_ok(o.rollup_ns) ? o.rollup_ns : 0,
				ri.mono_to_wall_ns);
	memset(&rb->loss, 0, sizeof(rb->loss));
	rb->synced = 0; /* the recording's first block is a keyframe block */
	if (!rb->agg || !rb->ix) {
		snprintf(rb->why, rb->why_len, "out of memory");
		err = -ENOMEM;
	} else if ((err = tt_store_recording_begin(rb->st, &ri, &rec_id))) {
		snprintf(rb->why, rb->why_len, "%s", tt_store_errmsg(rb->st));
	}
	for (i = 0; !err && i < n; i++) {
		err = rebuild_segment(rb, rec_id, &segs[i]);
		rb->res->segments++;
		progress(rb->cb, ++*done, total);
	}
	/* an unknown end stays open, as a crash left it */
	if (!err && o.found && o.has_end &&
	    (err = tt_store_recording_end(rb->st, rec_id, o.end_ns, o.clean)))
		snprintf(rb->why, rb->why_len, "%s", tt_store_errmsg(rb->st));
	tt_agg_free(rb->agg);
	tt_indexer_free(rb->ix);
	rb->agg = NULL;
	rb->ix = NULL;
	return err;
}

/* index.db.rebuild and its WAL and shared memory, as a failed rebuild left them. */
static void remove_rebuild(const char *dir)
{
	static const char *const names[] = { "index.db.rebuild", "index.db.rebuild-wal",
					      "index.db.rebuild-shm" };
	char path[4096];
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		unlink(path);
	}
}

int tt_reindex(const char *dir, const struct tt_repair_cb *cb, struct tt_reindex_result *res,
	       char *why, size_t why_len)
{
	struct tt_reindex_result local;
	struct rebuild rb = { .dir = dir, .cb = cb, .why = why, .why_len = why_len };
	struct tt_store *old = NULL;
	struct seg *segs = NULL;
	size_t nseg = 0, i, j;
	uint64_t done = 0;
	char owhy[256];
	int err, committed = 0;

	if (!res)
		res = &local;
	memset(res, 0, sizeof(*res));
	rb.res = res;
	why[0] = '\0';
	/* the lock first: nothing may change the files while they are listed */
	err = tt_store_open(dir, TT_STORE_REBUILD, 0700, 0600, &rb.st, why, why_len);
	if (err)
		return err;
	if (tt_store_open(dir, TT_STORE_READ, 0, 0, &old, owhy, sizeof(owhy)))
		old = NULL; /* unreadable or gone: what the segments say is all there is */
	if ((err = list_segments(dir, old, cb, &segs, &nseg, res))) {
		snprintf(why, why_len, "%s: %s", dir, strerror(-err));
		goto out;
	}
	if (!nseg) {
		snprintf(why, why_len, "%s: no segment files to index", dir);
		err = -ENODATA;
		goto out;
	}
	for (i = 0; !err && i < nseg; i = j) {
		for (j = i; j < nseg && segs[j].meta.recording_id == segs[i].meta.recording_id; j++)
			;
		err = rebuild_recording(&rb, old, segs + i, j - i, &done, nseg);
	}
	tt_store_close(old);
	old = NULL;
	if (!err && (err = tt_store_rebuild_commit(rb.st)))
		snprintf(why, why_len, "%s", tt_store_errmsg(rb.st));
	committed = !err;
out:
	tt_store_close(old);
	if (err && !committed) /* still holding the lock: nothing half-built stays behind */
		remove_rebuild(dir);
	tt_store_close(rb.st);
	free(segs);
	return err;
}

/* ---- verify ------------------------------------------------------------------ */

/* One frame of a segment file, as read. */
struct frame {
	struct tt_block_info bi;
	int intact; /* loaded and every event decoded */
	int indexed; /* a blocks row names it */
};

struct verify {
	struct tt_store *st;
	sqlite3 *db;
	const struct tt_repair_cb *cb;
	struct tt_verify_result *res;
	struct frame *frames;
	size_t nframes, cap;
	char *why;
	size_t why_len;
};

static void vnote(struct verify *v, enum tt_finding_level level, const char *what,
		  const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void vnote(struct verify *v, enum tt_finding_level level, const char *what,
		  const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (level == TT_FINDING_PROBLEM)
		v->res->problems++;
	else if (level == TT_FINDING_WARNING)
		v->res->warnings++;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	finding(v->cb, level, what, "%s", msg);
}

/*
 * Every frame of one file, intact or not, in file order, every event of the
 * intact ones decoded. *meta_ok says whether the file header could be read
 * (meta filled then). 0, or the errno of opening the file (why filled).
 */
static int read_frames(struct verify *v, const char *path, const char *file,
		       struct tt_seg_meta *meta, int *meta_ok)
{
	struct tt_block_info bi;
	struct tt_segr *r;
	char why[512];
	int rc, err;

	v->nframes = 0;
	*meta_ok = 0;
	err = tt_segr_openf(path, TT_SEGR_SALVAGE, &r, why, sizeof(why));
	if (err) {
		snprintf(v->why, v->why_len, "%s", why);
		return err;
	}
	if (tt_segr_meta(r)) {
		*meta = *tt_segr_meta(r);
		*meta_ok = 1;
	} else {
		vnote(v, TT_FINDING_WARNING, file,
		      "file header damaged (%s): its frames are read without it", tt_segr_errmsg(r));
	}
	while ((rc = tt_segr_next_block(r, &bi)) != 0) {
		struct frame *f;
		struct tt_event ev;
		uint32_t n = 0;

		if (rc != -EBADMSG && rc < 0) {
			snprintf(v->why, v->why_len, "%s: %s", path, tt_segr_errmsg(r));
			tt_segr_close(r);
			return rc;
		}
		if (tt_grow((void **)&v->frames, &v->cap, v->nframes + 1, sizeof(*v->frames))) {
			tt_segr_close(r);
			snprintf(v->why, v->why_len, "out of memory");
			return -ENOMEM;
		}
		f = &v->frames[v->nframes++];
		memset(f, 0, sizeof(*f));
		f->bi = bi;
		if (rc < 0)
			continue; /* reported with what the index says of it */
		while ((rc = tt_segr_next_event(r, &ev)) > 0)
			n++;
		v->res->events += n;
		f->intact = rc == 0;
	}
	v->res->frames += v->nframes;
	tt_segr_close(r);
	return 0;
}

static struct frame *frame_at(struct verify *v, uint64_t off)
{
	size_t lo = 0, hi = v->nframes;

	while (lo < hi) { /* frames are in file order */
		size_t mid = lo + (hi - lo) / 2;

		if (v->frames[mid].bi.offset == off)
			return &v->frames[mid];
		if (v->frames[mid].bi.offset < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Append ", name index X frame Y" to a list of differences. */
static void differs(char *buf, size_t len, const char *name, int64_t ix, int64_t fr)
{
	size_t used = strlen(buf);

	if (used < len)
		snprintf(buf + used, len - used, "%s%s %" PRId64 " (frame: %" PRId64 ")",
			 used ? ", " : "", name, ix, fr);
}

/* One segments row and its file. */
struct segrow {
	int64_t id, rec, seq, bytes, blocks;
	int64_t t_start, t_end; /* INT64_MIN: NULL */
	int64_t m2w; /* its recording's */
	int rec_found; /* its recording row exists */
	int64_t span_rec; /* whose span its frames count in: the file header's recording (the
			   * row's when the header is damaged) */
	/* from its intact frames, Unix ns (INT64_MIN: none) */
	int64_t first_end; /* the first one's end */
	int64_t last_start; /* the latest start */
	int64_t last_end; /* the latest end */
	char *file;
};

/* 0, or -ENOMEM (the pass cannot go on): everything else is a finding. */
static int verify_segment(struct verify *v, struct segrow *sr)
{
	char path[4096], what[384];
	struct tt_seg_meta meta = { 0 };
	sqlite3_stmt *q = NULL;
	int64_t nrows = 0, end = 0, t0 = INT64_MIN, t1 = INT64_MIN, last_end = 0;
	int rows_bad = 0; /* a blocks row disagrees with the frames: reported as such */
	int meta_ok, rc, has_kf = tt_store_has_keyframe_column(v->st);
	size_t i;

	sr->first_end = sr->last_start = sr->last_end = INT64_MIN;
	sr->span_rec = sr->rec;
	snprintf(what, sizeof(what), "segments row %" PRId64 " (%s)", sr->id, sr->file);
	if (tt_store_segment_path(v->st, sr->file, path, sizeof(path))) {
		vnote(v, TT_FINDING_PROBLEM, what, "%s", tt_store_errmsg(v->st));
		return 0;
	}
	if ((rc = read_frames(v, path, sr->file, &meta, &meta_ok))) {
		if (rc == -ENOMEM)
			return rc;
		vnote(v, TT_FINDING_PROBLEM, what, "%s", v->why);
		v->why[0] = '\0';
		return 0;
	}
	v->res->segments++;
	{
		char diff[512] = "";

		if (meta_ok && (int64_t)meta.recording_id != sr->rec)
			differs(diff, sizeof(diff), "recording_id", sr->rec,
				(int64_t)meta.recording_id);
		if (meta_ok && (int64_t)meta.seq != sr->seq)
			differs(diff, sizeof(diff), "seq", sr->seq, meta.seq);
		if (meta_ok && sr->rec_found && meta.mono_to_wall_ns != sr->m2w)
			differs(diff, sizeof(diff), "its recording's mono_to_wall_ns", sr->m2w,
				meta.mono_to_wall_ns);
		sr->span_rec = meta_ok ? (int64_t)meta.recording_id : sr->rec;
		if (!sr->rec_found)
			vnote(v, TT_FINDING_PROBLEM, what, "recording_id %" PRId64 ": no such "
			      "recording%s%s", sr->rec, diff[0] ? "; " : "", diff);
		else if (diff[0])
			vnote(v, TT_FINDING_PROBLEM, what, "differs from the file header: %s", diff);
	}
	if (!sr->rec_found && meta_ok)
		sr->m2w = meta.mono_to_wall_ns; /* the times are still checked */
	if (v->nframes && v->frames[0].intact && !v->frames[0].bi.keyframe)
		vnote(v, TT_FINDING_WARNING, sr->file,
		      "first block (offset %" PRIu64 ") is not a keyframe block: its blocks can "
		      "only be read after the segment before it",
		      v->frames[0].bi.offset);

	/* a schema 1 index has no keyframe column: every block of it is one */
	if (sqlite3_prepare_v2(v->db,
			       has_kf ? "SELECT id, offset, length, raw_length, t_start_ns, t_end_ns, "
					"events, checksum, keyframe FROM blocks WHERE segment_id = ?1 "
					"ORDER BY offset"
				      : "SELECT id, offset, length, raw_length, t_start_ns, t_end_ns, "
					"events, checksum, 1 FROM blocks WHERE segment_id = ?1 "
					"ORDER BY offset",
			       -1, &q, NULL)) {
		vnote(v, TT_FINDING_PROBLEM, what, "index: %s", sqlite3_errmsg(v->db));
		return 0;
	}
	sqlite3_bind_int64(q, 1, sr->id);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(q, 0), off = sqlite3_column_int64(q, 1);
		int64_t len = sqlite3_column_int64(q, 2), raw = sqlite3_column_int64(q, 3);
		int64_t ts = sqlite3_column_int64(q, 4), te = sqlite3_column_int64(q, 5);
		int64_t nev = sqlite3_column_int64(q, 6), sum = sqlite3_column_int64(q, 7);
		int64_t kf = sqlite3_column_int64(q, 8);
		struct frame *f = off >= 0 ? frame_at(v, (uint64_t)off) : NULL;
		char brow[512], diff[512] = "";

		nrows++;
		snprintf(brow, sizeof(brow), "blocks row %" PRId64 " (%s offset %" PRId64 ")", id,
			 sr->file, off);
		if (!f) {
			vnote(v, TT_FINDING_PROBLEM, brow, "no frame starts there");
			rows_bad = 1;
			continue;
		}
		f->indexed = 1;
		if (!f->intact) {
			vnote(v, TT_FINDING_PROBLEM, brow,
			      "the frame is damaged (checksum or decoding failed)");
			rows_bad = 1;
			continue;
		}
		/* what the segment row should sum up, from the frames */
		if ((int64_t)(f->bi.offset + f->bi.length) > end)
			end = (int64_t)(f->bi.offset + f->bi.length);
		if (t0 == INT64_MIN)
			t0 = (int64_t)(f->bi.t_start + (uint64_t)sr->m2w);
		if (t1 == INT64_MIN || (int64_t)(f->bi.t_end + (uint64_t)sr->m2w) > t1)
			t1 = (int64_t)(f->bi.t_end + (uint64_t)sr->m2w);

		if (len != f->bi.length)
			differs(diff, sizeof(diff), "length", len, f->bi.length);
		if (raw != f->bi.raw_len)
			differs(diff, sizeof(diff), "raw_length", raw, f->bi.raw_len);
		if (ts != (int64_t)(f->bi.t_start + (uint64_t)sr->m2w))
			differs(diff, sizeof(diff), "t_start_ns", ts,
				(int64_t)(f->bi.t_start + (uint64_t)sr->m2w));
		if (te != (int64_t)(f->bi.t_end + (uint64_t)sr->m2w))
			differs(diff, sizeof(diff), "t_end_ns", te,
				(int64_t)(f->bi.t_end + (uint64_t)sr->m2w));
		if (nev != f->bi.n_events)
			differs(diff, sizeof(diff), "events", nev, f->bi.n_events);
		if (sum != f->bi.checksum)
			differs(diff, sizeof(diff), "checksum", sum, f->bi.checksum);
		if (kf != (int64_t)f->bi.keyframe)
			differs(diff, sizeof(diff), "keyframe", kf, f->bi.keyframe);
		if (diff[0])
			vnote(v, TT_FINDING_PROBLEM, brow, "differs from its frame: %s", diff);
		/* the frame's length: the row's may be anything (reported just above) */
		if ((int64_t)(f->bi.offset + f->bi.length) > last_end)
			last_end = (int64_t)(f->bi.offset + f->bi.length);
	}
	if (rc != SQLITE_DONE)
		vnote(v, TT_FINDING_PROBLEM, what, "index: %s", sqlite3_errmsg(v->db));
	sqlite3_finalize(q);

	/* the recording's span, as every intact frame says it, indexed or not */
	for (i = 0; i < v->nframes; i++) {
		const struct frame *f = &v->frames[i];
		int64_t fs = (int64_t)(f->bi.t_start + (uint64_t)sr->m2w);
		int64_t fe = (int64_t)(f->bi.t_end + (uint64_t)sr->m2w);

		if (!f->intact)
			continue;
		if (sr->first_end == INT64_MIN)
			sr->first_end = fe;
		if (fs > sr->last_start)
			sr->last_start = fs;
		if (fe > sr->last_end)
			sr->last_end = fe;
	}
	/* the segment row sums up its blocks (tt_store_block keeps it so), as the frames say */
	{
		char diff[512] = "";

		if (sr->blocks != nrows)
			differs(diff, sizeof(diff), "blocks", sr->blocks, nrows);
		if (!rows_bad && sr->bytes != end)
			differs(diff, sizeof(diff), "bytes", sr->bytes, end);
		if (!rows_bad && nrows && sr->t_start != t0)
			differs(diff, sizeof(diff), "t_start_ns", sr->t_start, t0);
		if (!rows_bad && nrows && sr->t_end != t1)
			differs(diff, sizeof(diff), "t_end_ns", sr->t_end, t1);
		if (diff[0])
			vnote(v, TT_FINDING_PROBLEM, what,
			      "differs from its blocks and their frames: %s", diff);
	}

	for (i = 0; i < v->nframes; i++) {
		const struct frame *f = &v->frames[i];

		if (f->indexed)
			continue;
		if (f->intact)
			vnote(v, TT_FINDING_WARNING, sr->file,
			      "block at offset %" PRIu64 " is not in the index yet (written just before a "
			      "crash or a stop: a recorder's next start or reindex adopts it)",
			      f->bi.offset);
		else if ((int64_t)f->bi.offset >= last_end)
			vnote(v, TT_FINDING_WARNING, sr->file,
			      "torn frame at offset %" PRIu64 " after the last indexed block "
			      "(unclean stop): skipped by readers",
			      f->bi.offset);
		else
			vnote(v, TT_FINDING_PROBLEM, sr->file, "damaged frame at offset %" PRIu64,
			      f->bi.offset);
	}
	return 0;
}

static int64_t col_or(sqlite3_stmt *q, int col, int64_t dflt)
{
	return sqlite3_column_type(q, col) == SQLITE_NULL ? dflt : sqlite3_column_int64(q, col);
}

/* Run q (bound already) and report each row it returns: (row id, message). */
static void report_rows(struct verify *v, sqlite3_stmt *q, const char *table)
{
	int rc;

	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		char what[128];

		snprintf(what, sizeof(what), "%s row %s", table,
			 (const char *)sqlite3_column_text(q, 0));
		vnote(v, TT_FINDING_PROBLEM, what, "%s", (const char *)sqlite3_column_text(q, 1));
	}
	if (rc != SQLITE_DONE)
		vnote(v, TT_FINDING_PROBLEM, table, "index: %s", sqlite3_errmsg(v->db));
}

static sqlite3_stmt *prepare(struct verify *v, const char *table, const char *sql)
{
	sqlite3_stmt *q = NULL;

	if (sqlite3_prepare_v2(v->db, sql, -1, &q, NULL)) {
		vnote(v, TT_FINDING_PROBLEM, table, "index: %s", sqlite3_errmsg(v->db));
		sqlite3_finalize(q);
		return NULL;
	}
	return q;
}

/*
 * Recordings, conns and rollups against the span of their recording's blocks
 * as the frames say it (rows[] after verify_segment; a segment counts for the
 * recording its file header names). Each disagreement names its row.
 */
static void verify_summaries(struct verify *v, const struct segrow *rows, size_t n)
{
	int lean = tt_store_schema_version(v->st) >= 2; /* conns and rollups: schema 2 */
	sqlite3_stmt *rq, *q;
	size_t i;

	if (!(rq = prepare(v, "recordings", "SELECT id, start_ns, end_ns FROM recordings")))
		return;
	while (sqlite3_step(rq) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(rq, 0), start = sqlite3_column_int64(rq, 1);
		int64_t end = col_or(rq, 2, INT64_MAX);
		int64_t first_end = INT64_MAX, last_start = INT64_MIN, last_end = INT64_MIN;
		char what[64], diff[512] = "";

		for (i = 0; i < n; i++) {
			if (rows[i].span_rec != id || rows[i].first_end == INT64_MIN)
				continue;
			if (rows[i].first_end < first_end)
				first_end = rows[i].first_end;
			if (rows[i].last_start > last_start)
				last_start = rows[i].last_start;
			if (rows[i].last_end > last_end)
				last_end = rows[i].last_end;
		}
		snprintf(what, sizeof(what), "recordings row %" PRId64, id);
		/* it started before its first tick ended and ended after its last block began */
		if (last_end != INT64_MIN && start > first_end)
			differs(diff, sizeof(diff), "start_ns after its first block ended", start,
				first_end);
		if (last_end != INT64_MIN && end != INT64_MAX && end < last_start)
			differs(diff, sizeof(diff), "end_ns before its last block started", end,
				last_start);
		if (end != INT64_MAX && end < start)
			differs(diff, sizeof(diff), "end_ns before start_ns", end, start);
		if (diff[0])
			vnote(v, TT_FINDING_PROBLEM, what, "%s", diff);
		if (!lean || last_end == INT64_MIN)
			continue;
		q = prepare(v, "conns",
			    "SELECT id, CASE WHEN first_seen_ns > last_seen_ns THEN 'first_seen_ns ' || "
			    "first_seen_ns || ' is after last_seen_ns ' || last_seen_ns ELSE "
			    "'last_seen_ns ' || last_seen_ns || ' is after its recording''s last block "
			    "ended (' || ?2 || ')' END FROM conns WHERE recording_id = ?1 AND "
			    "(first_seen_ns > last_seen_ns OR last_seen_ns > ?2)");
		if (q) {
			sqlite3_bind_int64(q, 1, id);
			sqlite3_bind_int64(q, 2, last_end);
			report_rows(v, q, "conns");
		}
		sqlite3_finalize(q);
		q = prepare(v, "rollups",
			    "SELECT o.res || ',' || o.t || ',' || o.conn || ',' || o.part, 'first_ns ' "
			    "|| o.first_ns || ', last_ns ' || o.last_ns || ' of period ' || o.t || '+' "
			    "|| o.res || ' s: not inside it, or after its recording''s last block ended "
			    "(' || ?2 || ')' FROM rollups o JOIN conns c ON c.id = o.conn WHERE "
			    "c.recording_id = ?1 AND o.first_ns IS NOT NULL AND (o.first_ns > "
			    "o.last_ns OR o.first_ns <= 0 OR o.last_ns > o.res * 1000000000 OR "
			    "o.t * 1000000000 + o.last_ns > ?2)");
		if (q) {
			sqlite3_bind_int64(q, 1, id);
			sqlite3_bind_int64(q, 2, last_end);
			report_rows(v, q, "rollups");
		}
		sqlite3_finalize(q);
		/*
		 * A connection's minor rollups add up to its hour rollups (the same
		 * ticks), and those to at least its row's totals (inactive ticks
		 * move nothing; a tick's delta is never negative, while a total
		 * may come back down a little at close, when the kernel's exact
		 * snapshot replaces a walk's reading), when none of its recording
		 * was removed (its segment 0 is there) and it opened inside it (an
		 * extract's stream starts with the totals of connections opened
		 * before; a partial one counts from its first sight).
		 */
		q = prepare(v, "conns",
			    "SELECT c.id, 'bytes_in ' || c.bytes_in || ', bytes_out ' || c.bytes_out "
			    "|| ', packets_in ' || c.packets_in || ', packets_out ' || c.packets_out "
			    "|| '; its hour rollups add up to ' || h.bi || ', ' || h.bo || ', ' || "
			    "h.pi || ', ' || h.po || ' and its minor ones to ' || m.bi || ', ' || "
			    "m.bo || ', ' || m.pi || ', ' || m.po || ' (equal, and at least the "
			    "row''s)' FROM conns c JOIN recordings r ON "
			    "r.id = c.recording_id JOIN (SELECT conn, sum(bytes_in) AS bi, "
			    "sum(bytes_out) AS bo, sum(packets_in) AS pi, sum(packets_out) AS po FROM "
			    "rollups WHERE res = 3600 GROUP BY conn) h ON h.conn = c.id JOIN (SELECT "
			    "o.conn, sum(o.bytes_in) AS bi, sum(o.bytes_out) AS bo, sum(o.packets_in) "
			    "AS pi, sum(o.packets_out) AS po FROM rollups o JOIN conns k ON k.id = "
			    "o.conn JOIN recordings x ON x.id = k.recording_id WHERE o.res * "
			    "1000000000 = x.rollup_ns GROUP BY o.conn) m ON m.conn = c.id WHERE "
			    "c.recording_id = ?1 AND c.open_ns >= r.start_ns AND (c.flags & 1) = 0 "
			    "AND r.rollup_ns > 0 AND EXISTS (SELECT 1 FROM "
			    "segments s WHERE s.recording_id = ?1 AND s.seq = 0) AND ((h.bi, h.bo, "
			    "h.pi, h.po) IS NOT (m.bi, m.bo, m.pi, m.po) OR h.bi < c.bytes_in OR h.bo < "
			    "c.bytes_out OR h.pi < c.packets_in OR h.po < c.packets_out)");
		if (q) {
			sqlite3_bind_int64(q, 1, id);
			report_rows(v, q, "conns");
		}
		sqlite3_finalize(q);
	}
	sqlite3_finalize(rq);
	if (lean && (q = prepare(v, "conns",
				 "SELECT id, 'recording_id ' || recording_id || ': no such "
				 "recording' FROM conns c WHERE NOT EXISTS (SELECT 1 FROM "
				 "recordings r WHERE r.id = c.recording_id)"))) {
		report_rows(v, q, "conns");
		sqlite3_finalize(q);
	}
}

int tt_verify(struct tt_store *st, const struct tt_repair_cb *cb, struct tt_verify_result *res,
	      char *why, size_t why_len)
{
	struct tt_verify_result local = { 0 };
	struct verify v = { .st = st, .db = tt_store_db(st), .cb = cb, .why = why,
			    .why_len = why_len };
	struct segrow *rows = NULL;
	size_t n = 0, cap = 0, i;
	sqlite3_stmt *q = NULL;
	struct dirent *de;
	int rc, err = 0;
	DIR *d;

	v.res = res ? res : &local;
	why[0] = '\0';
	if (sqlite3_prepare_v2(v.db,
			       "SELECT s.id, s.recording_id, s.seq, s.file, s.bytes, s.blocks, "
			       "s.t_start_ns, s.t_end_ns, r.mono_to_wall_ns FROM segments s LEFT JOIN "
			       "recordings r ON r.id = s.recording_id ORDER BY s.id",
			       -1, &q, NULL)) {
		snprintf(why, why_len, "%s: index: %s", tt_store_dir(st), sqlite3_errmsg(v.db));
		return -EIO;
	}
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct segrow *r;

		if (tt_grow((void **)&rows, &cap, n + 1, sizeof(*rows)) ||
		    !(rows[n].file = strdup((const char *)sqlite3_column_text(q, 3)))) {
			snprintf(why, why_len, "out of memory");
			err = -ENOMEM;
			break;
		}
		r = &rows[n++];
		r->id = sqlite3_column_int64(q, 0);
		r->rec = sqlite3_column_int64(q, 1);
		r->seq = sqlite3_column_int64(q, 2);
		r->bytes = sqlite3_column_int64(q, 4);
		r->blocks = sqlite3_column_int64(q, 5);
		r->t_start = col_or(q, 6, INT64_MIN);
		r->t_end = col_or(q, 7, INT64_MIN);
		r->m2w = sqlite3_column_int64(q, 8);
		r->rec_found = sqlite3_column_type(q, 8) != SQLITE_NULL;
	}
	if (!err && rc != SQLITE_DONE) {
		snprintf(why, why_len, "%s: index: %s", tt_store_dir(st), sqlite3_errmsg(v.db));
		err = -EIO;
	}
	sqlite3_finalize(q);
	for (i = 0; !err && i < n; i++) {
		err = verify_segment(&v, &rows[i]);
		progress(cb, i + 1, n);
	}
	if (!err)
		verify_summaries(&v, rows, n);

	/* segment files the index has never heard of */
	d = err ? NULL : opendir(tt_store_dir(st));
	while (d && (de = readdir(d))) {
		size_t l = strlen(de->d_name);
		int known = 0;

		if (l < 5 || strcmp(de->d_name + l - 4, ".tts"))
			continue;
		if (!tt_store_segment_name_parse(de->d_name, NULL, NULL)) {
			vnote(&v, TT_FINDING_WARNING, de->d_name,
			      "not a segment file name: every tool ignores it");
			continue;
		}
		for (i = 0; i < n && !known; i++)
			known = !strcmp(rows[i].file, de->d_name);
		if (!known)
			vnote(&v, TT_FINDING_WARNING, de->d_name, "segment file not in the index");
	}
	if (d)
		closedir(d);
	for (i = 0; i < n; i++)
		free(rows[i].file);
	free(rows);
	free(v.frames);
	return err;
}

/* ---- adoption after a crash ----------------------------------------------------- */

/*
 * Intact frames of one segment file that start at or after end (where its last
 * indexed block, at last_off, ends): read from that block on when it is
 * there, else from the file's start. Added to *frames.
 */
static int tail_frames(const char *path, int has_last, uint64_t last_off, uint64_t end,
		       uint64_t *frames)
{
	struct tt_block_info bi;
	struct tt_segr *r;
	char why[256];
	int rc;

	if (tt_segr_openf(path, TT_SEGR_SALVAGE, &r, why, sizeof(why)))
		return 0; /* gone or unreadable: nothing to adopt from it */
	if (has_last && tt_segr_load_block(r, last_off, &bi) <= 0) {
		/* the indexed frame is not there: look at the whole file */
		tt_segr_close(r);
		if (tt_segr_openf(path, TT_SEGR_SALVAGE, &r, why, sizeof(why)))
			return 0;
	}
	while ((rc = tt_segr_next_block(r, &bi)) != 0) {
		if (rc == -EBADMSG)
			continue;
		if (rc < 0)
			break;
		if (bi.offset >= end)
			(*frames)++;
	}
	tt_segr_close(r);
	return rc < 0 ? rc : 0;
}

int tt_repair_unindexed(struct tt_store *st, uint64_t *frames, char *why, size_t why_len)
{
	sqlite3 *db = tt_store_db(st);
	sqlite3_stmt *q = NULL;
	int rc, err = 0;

	*frames = 0;
	why[0] = '\0';
	if (sqlite3_prepare_v2(db,
			       "SELECT s.file, s.bytes, (SELECT max(b.offset) FROM blocks b WHERE "
			       "b.segment_id = s.id) FROM segments s WHERE s.sealed = 0 ORDER BY s.id",
			       -1, &q, NULL)) {
		snprintf(why, why_len, "%s: index: %s", tt_store_dir(st), sqlite3_errmsg(db));
		return -EIO;
	}
	while (!err && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		const char *file = (const char *)sqlite3_column_text(q, 0);
		int64_t bytes = sqlite3_column_int64(q, 1);
		char path[4096];

		if (!file || !tt_store_segment_name_parse(file, NULL, NULL) ||
		    tt_store_segment_path(st, file, path, sizeof(path)))
			continue; /* not a name this store gives its segments */
		err = tail_frames(path, sqlite3_column_type(q, 2) != SQLITE_NULL,
				  (uint64_t)sqlite3_column_int64(q, 2), bytes > 0 ? (uint64_t)bytes : 0,
				  frames);
		if (err)
			snprintf(why, why_len, "%s: %s", path, strerror(-err));
	}
	if (!err && rc != SQLITE_DONE) {
		snprintf(why, why_len, "%s: index: %s", tt_store_dir(st), sqlite3_errmsg(db));
		err = -EIO;
	}
	sqlite3_finalize(q);
	return err;
}

int tt_repair_adopt(const char *dir, const struct tt_repair_cb *cb, uint64_t *unindexed,
		    struct tt_reindex_result *res, char *why, size_t why_len)
{
	struct tt_store *st;
	int err;

	*unindexed = 0;
	why[0] = '\0';
	/* no index, or none that can be read: the caller's own open says why */
	if (tt_store_open(dir, TT_STORE_READ, 0, 0, &st, why, why_len)) {
		why[0] = '\0';
		return 0;
	}
	err = tt_repair_unindexed(st, unindexed, why, why_len);
	tt_store_close(st);
	if (err || !*unindexed)
		return err;
	return tt_reindex(dir, cb, res, why, why_len);
}
