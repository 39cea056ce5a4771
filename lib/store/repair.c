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
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aggregator.h"
#include "audit.h"
#include "idmap.h"
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

static int take_old(void *ctx, const struct tt_store_rec *r)
{
	struct oldrec *o = ctx;

	snprintf(o->host, sizeof(o->host), "%s", r->host);
	snprintf(o->kernel, sizeof(o->kernel), "%s", r->kernel);
	snprintf(o->boot_id, sizeof(o->boot_id), "%s", r->boot_id);
	snprintf(o->options, sizeof(o->options), "%s", r->options);
	snprintf(o->version, sizeof(o->version), "%s", r->tool_version);
	o->start_ns = (uint64_t)r->start_ns;
	/* NULL: the recording died; its end is its last block's, not 0 */
	o->has_end = r->has_end;
	o->end_ns = (uint64_t)r->end_ns;
	o->clean = r->clean_stop;
	o->m2w = r->mono_to_wall_ns;
	/* the --bucket it was recorded with: its rollups keep their length */
	if (r->rollup_ns > 0)
		o->rollup_ns = (uint64_t)r->rollup_ns;
	o->found = 1;
	return 0;
}

static void old_recording(struct tt_store *old, int64_t id, struct oldrec *o)
{
	memset(o, 0, sizeof(*o));
	if (old)
		tt_store_recording(old, id, 0, take_old, o); /* not found: o->found stays 0 */
}

/* The created time the old index recorded for a segment file, or 0. */
static uint64_t old_segment_created(struct tt_store *old, const char *name)
{
	int64_t t = 0;

	if (old && tt_store_segment_created(old, name, &t) != 1)
		t = 0;
	return (uint64_t)t;
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
			finding(cb, TT_FINDING_WARNING, de->d_name,
				"not a segment file name; left out");
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
	uint64_t last_end; /* Unix ns: the latest end of a block of the recording */
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
			err = tt_store_block(rb->st, seg_id, &bi, sg->meta.mono_to_wall_ns,
					     &rb->loss, rb->ix);
		if (tt_wall_ns(bi.t_end, sg->meta.mono_to_wall_ns) > rb->last_end)
			rb->last_end = tt_wall_ns(bi.t_end, sg->meta.mono_to_wall_ns);
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
	int err, clean_end;

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
	rb->last_end = 0;
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
	/*
	 * an unknown end stays open, as a crash left it; a last segment that says
	 * the recording stopped cleanly is believed over the old index, which may
	 * have lost the end (it is a cache of the segments)
	 */
	clean_end = segs[n - 1].header_ok && (segs[n - 1].meta.flags & TT_SEG_CLEAN_END);
	if (!err && ((o.found && o.has_end) || (clean_end && rb->last_end)) &&
	    (err = tt_store_recording_end(rb->st, rec_id,
					  o.found && o.has_end ? o.end_ns : rb->last_end,
					  o.clean || clean_end)))
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

/* A tuple a CONN event of the segments gave a connection id (verify_tuples). */
struct tuple {
	uint64_t id; /* the event's connection id (conns.conn_id) */
	uint64_t sig; /* conn_sig of its tuple */
	uint32_t next; /* the next tuple of the same (rec, id), or UINT32_MAX */
};

struct verify {
	struct tt_store *st;
	const struct tt_repair_cb *cb;
	struct tt_verify_result *res;
	struct frame *frames;
	size_t nframes, cap;
	struct tuple *tuples; /* every distinct tuple each connection id had */
	size_t ntuples, tcap;
	struct tt_idmap *tmap; /* connection id -> its first tuple */
	int oom;
	char *why;
	size_t why_len;
};

/*
 * A connection's tuple as one hash: family, protocol, ports, and the address
 * bytes its family uses (an IPv4 address is its last 4 of the v4-mapped 16:
 * the index keeps no more of it), so a conns row read back
 * (tt_store_each_conn_id) and an event compare equal.
 */
static uint64_t conn_sig(int family, int proto, const uint8_t laddr[16], int lport,
			 const uint8_t raddr[16], int rport)
{
	size_t off = family == 4 ? 12 : 0;
	int32_t k[4] = { family, proto, lport, rport };
	uint64_t h = tt_fnv1a(k, sizeof(k), TT_FNV1A_INIT);

	h = tt_fnv1a(laddr + off, 16 - off, h);
	return tt_fnv1a(raddr + off, 16 - off, h);
}

/*
 * The first tuple of id, or UINT32_MAX. Keyed by the id alone, not by the
 * recording its segment row names: a lie in segments.recording_id is reported
 * once, as such, not again by every connection of that segment.
 */
static uint32_t tuple_first(const struct verify *v, uint64_t id)
{
	uint32_t i;

	if (!v->tmap || !tt_idmap_get(v->tmap, id, &i))
		return UINT32_MAX;
	return i;
}

/* An owner as processes stores it (pid: the tgid; comm up to its first NUL), as one hash. */
static uint64_t owner_sig(int64_t tgid, const char *comm, size_t n)
{
	char buf[64];
	int k = snprintf(buf, sizeof(buf), "owner|%" PRId64 "|%.*s", tgid, (int)strnlen(comm, n),
			 comm);

	return tt_fnv1a(buf, k > 0 ? (size_t)k : 0, TT_FNV1A_INIT);
}

/* Remember sig (a tuple or an owner) for connection id; once each. */
static void sig_add(struct verify *v, uint64_t id, uint64_t sig)
{
	uint32_t i = tuple_first(v, id), last = UINT32_MAX;

	for (; i != UINT32_MAX; i = v->tuples[i].next) {
		if (v->tuples[i].sig == sig)
			return; /* a keyframe repeats what is known */
		last = i;
	}
	if (v->ntuples >= UINT32_MAX - 1 ||
	    tt_grow((void **)&v->tuples, &v->tcap, v->ntuples + 1, sizeof(*v->tuples))) {
		v->oom = 1;
		return;
	}
	v->tuples[v->ntuples] = (struct tuple){ .id = id, .sig = sig, .next = UINT32_MAX };
	if (last != UINT32_MAX)
		v->tuples[last].next = (uint32_t)v->ntuples;
	else if (tt_idmap_put(v->tmap, id, (uint32_t)v->ntuples))
		v->oom = 1;
	v->ntuples++;
}

/* A CONN event's tuple, for its id. */
static void tuple_add(struct verify *v, const struct tt_ev_conn *c)
{
	sig_add(v, c->id, conn_sig(c->family, c->proto, c->laddr, c->lport, c->raddr, c->rport));
}

/* A CONN event's owner (an owner change is a new CONN of the same id). */
static void owner_add(struct verify *v, const struct tt_ev_conn *c)
{
	sig_add(v, c->id, owner_sig(c->tgid, c->comm, sizeof(c->comm)));
}

/* Whether id had sig in a CONN event. */
static int sig_seen(const struct verify *v, uint64_t id, uint64_t sig)
{
	uint32_t i;

	for (i = tuple_first(v, id); i != UINT32_MAX; i = v->tuples[i].next)
		if (v->tuples[i].sig == sig)
			return 1;
	return 0;
}

static void vnote(struct verify *v, enum tt_finding_level level, const char *what, const char *fmt,
		  ...) __attribute__((format(printf, 4, 5)));

static void vnote(struct verify *v, enum tt_finding_level level, const char *what, const char *fmt,
		  ...)
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
		      "file header damaged (%s): its frames are read without it",
		      tt_segr_errmsg(r));
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
		while ((rc = tt_segr_next_event(r, &ev)) > 0) {
			n++;
			if (ev.type == TT_EV_CONN && v->tmap) {
				tuple_add(v, &ev.conn);
				owner_add(v, &ev.conn);
			}
		}
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
	int clean_end; /* its file header says the recording stopped cleanly with it */
	char *file;
};

/* verify_segment's pass over a segment's blocks rows, against its frames. */
struct vseg {
	struct verify *v;
	struct segrow *sr;
	int64_t nrows, end, t0, t1, last_end;
	int rows_bad; /* a blocks row disagrees with the frames: reported as such */
};

static int check_block(void *ctx, const struct tt_store_blockrow *b)
{
	struct vseg *vs = ctx;
	struct verify *v = vs->v;
	struct segrow *sr = vs->sr;
	int64_t id = b->id, off = b->offset;
	int64_t len = b->length, raw = b->raw_length;
	int64_t ts = b->t_start_ns, te = b->t_end_ns;
	int64_t nev = b->events, sum = b->checksum;
	int64_t kf = b->keyframe;
	struct frame *f = off >= 0 ? frame_at(v, (uint64_t)off) : NULL;
	char brow[512], diff[512] = "";

	vs->nrows++;
	snprintf(brow, sizeof(brow), "blocks row %" PRId64 " (%s offset %" PRId64 ")", id, sr->file,
		 off);
	if (!f) {
		vnote(v, TT_FINDING_PROBLEM, brow, "no frame starts there");
		vs->rows_bad = 1;
		return 0;
	}
	f->indexed = 1;
	if (!f->intact) {
		vnote(v, TT_FINDING_PROBLEM, brow,
		      "the frame is damaged (checksum or decoding failed)");
		vs->rows_bad = 1;
		return 0;
	}
	/* what the segment row should sum up, from the frames */
	if ((int64_t)(f->bi.offset + f->bi.length) > vs->end)
		vs->end = (int64_t)(f->bi.offset + f->bi.length);
	if (vs->t0 == INT64_MIN)
		vs->t0 = (int64_t)(f->bi.t_start + (uint64_t)sr->m2w);
	if (vs->t1 == INT64_MIN || (int64_t)(f->bi.t_end + (uint64_t)sr->m2w) > vs->t1)
		vs->t1 = (int64_t)(f->bi.t_end + (uint64_t)sr->m2w);

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
	if ((int64_t)(f->bi.offset + f->bi.length) > vs->last_end)
		vs->last_end = (int64_t)(f->bi.offset + f->bi.length);
	return 0;
}

/* 0, or -ENOMEM (the pass cannot go on): everything else is a finding. */
static int verify_segment(struct verify *v, struct segrow *sr)
{
	char path[4096], what[384];
	struct tt_seg_meta meta = { 0 };
	struct vseg vs;
	int64_t nrows = 0, end = 0, t0 = INT64_MIN, t1 = INT64_MIN, last_end = 0;
	int rows_bad = 0; /* a blocks row disagrees with the frames: reported as such */
	int meta_ok, rc;
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
		sr->clean_end = meta_ok && (meta.flags & TT_SEG_CLEAN_END);
		if (!sr->rec_found)
			vnote(v, TT_FINDING_PROBLEM, what,
			      "recording_id %" PRId64 ": no such "
			      "recording%s%s",
			      sr->rec, diff[0] ? "; " : "", diff);
		else if (diff[0])
			vnote(v, TT_FINDING_PROBLEM, what, "differs from the file header: %s",
			      diff);
	}
	if (!sr->rec_found && meta_ok)
		sr->m2w = meta.mono_to_wall_ns; /* the times are still checked */
	if (v->nframes && v->frames[0].intact && !v->frames[0].bi.keyframe)
		vnote(v, TT_FINDING_WARNING, sr->file,
		      "first block (offset %" PRIu64 ") is not a keyframe block: its blocks can "
		      "only be read after the segment before it",
		      v->frames[0].bi.offset);

	/* a schema 1 index has no keyframe column: every block of it is one */
	vs = (struct vseg){ .v = v, .sr = sr, .t0 = INT64_MIN, .t1 = INT64_MIN };
	if (tt_store_each_segment_block(v->st, sr->id, check_block, &vs))
		vnote(v, TT_FINDING_PROBLEM, what, "index: %s", tt_store_errmsg(v->st));
	nrows = vs.nrows;
	end = vs.end;
	t0 = vs.t0;
	t1 = vs.t1;
	last_end = vs.last_end;
	rows_bad = vs.rows_bad;

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
			      "block at offset %" PRIu64
			      " is not in the index yet (written just before a "
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

/* A summary row its recording's blocks contradict, or a query that failed (row NULL). */
static void summary_problem(void *ctx, const char *table, const char *row, const char *msg)
{
	struct verify *v = ctx;
	char what[128];

	if (!row) {
		vnote(v, TT_FINDING_PROBLEM, table, "index: %s", msg);
		return;
	}
	snprintf(what, sizeof(what), "%s row %s", table, row);
	vnote(v, TT_FINDING_PROBLEM, what, "%s", msg);
}

struct vsum {
	struct verify *v;
	const struct segrow *rows;
	size_t n;
	int lean; /* conns and rollups: schema 2 */
};

/*
 * Every minor period of recording r over its frames' span (first_end and
 * last_end, Unix ns, as its frames say) against the blocks (audit.h): the
 * first disagreement is a problem, and how many periods disagree.
 */
static void audit_rollups(struct verify *v, const struct tt_store_rec *r, int64_t first_end,
			  int64_t last_end)
{
	const int64_t day = 86400ll * 1000000000ll;
	const uint64_t ns = 1000000000ull, p = (uint64_t)r->rollup_ns / ns;
	uint64_t t, bad = 0;
	int64_t lo;
	char first[256] = "", w[256];
	int rc;

	/* no rollups, or times the checks above name: nothing to walk */
	if (r->rollup_ns <= 0 || !tt_indexer_minor_ok((uint64_t)r->rollup_ns) || first_end <= 0 ||
	    last_end < first_end || last_end > TT_TIME_MAX || last_end - first_end > 400 * day)
		return;
	/* the first block may begin before the first frame ends: from the start, or a day */
	lo = r->start_ns > 0 && r->start_ns <= first_end && first_end - r->start_ns <= day
		     ? r->start_ns
		     : first_end - day;
	for (t = (uint64_t)(lo > 0 ? lo : 0) / ns / p * p; t * ns < (uint64_t)last_end; t += p) {
		rc = tt_audit_period(v->st, r->id, r->mono_to_wall_ns, p, t, w, sizeof(w));
		if (rc == -ENOMEM) {
			vnote(v, TT_FINDING_PROBLEM, "rollups", "out of memory: not compared");
			return;
		}
		if (rc == -EBADMSG) { /* a row out of range: every reader of the period stops */
			vnote(v, TT_FINDING_PROBLEM, "rollups", "%s", w);
			continue;
		}
		if (rc == 0 || rc == 1)
			v->res->periods++;
		if (rc == 1 && !bad++)
			snprintf(first, sizeof(first), "%s", w);
	}
	if (bad)
		vnote(v, TT_FINDING_PROBLEM, "rollups",
		      "%" PRIu64 " periods disagree with the blocks; the first: %s", bad, first);
}

static int check_recording(void *ctx, const struct tt_store_rec *r)
{
	struct vsum *vs = ctx;
	struct verify *v = vs->v;
	const struct segrow *rows = vs->rows;
	int64_t id = r->id, start = r->start_ns;
	int64_t end = r->has_end ? r->end_ns : INT64_MAX;
	int64_t first_end = INT64_MAX, last_start = INT64_MIN, last_end = INT64_MIN;
	int64_t last_seq = INT64_MIN;
	int clean_end = 0;
	char what[64], diff[512] = "";
	size_t i;

	for (i = 0; i < vs->n; i++) {
		if (rows[i].span_rec == id && rows[i].seq > last_seq) {
			last_seq = rows[i].seq;
			clean_end = rows[i].clean_end;
		}
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
	/* what readers refuse to believe (tt_store_rec.start_ok) */
	if (last_end != INT64_MIN && start <= first_end &&
	    (start <= 0 || first_end - start > 86400ll * 1000000000ll))
		differs(diff, sizeof(diff), "start_ns more than a day before its first block ended",
			start, first_end);
	if (last_end != INT64_MIN && end != INT64_MAX && end < last_start)
		differs(diff, sizeof(diff), "end_ns before its last block started", end,
			last_start);
	if (end != INT64_MAX && end < start)
		differs(diff, sizeof(diff), "end_ns before start_ns", end, start);
	if (diff[0])
		vnote(v, TT_FINDING_PROBLEM, what, "%s", diff);
	/* the segments say so themselves (TT_SEG_CLEAN_END): the index must agree */
	if (clean_end && (!r->has_end || r->clean_stop != 1))
		vnote(v, TT_FINDING_PROBLEM, what,
		      "%s, but its last segment says it stopped cleanly (reindex takes the"
		      " end from it)",
		      r->has_end ? "clean_stop is 0" : "end_ns is NULL");
	if (vs->lean && last_end != INT64_MIN) {
		tt_store_check_summaries(v->st, id, last_end, summary_problem, v);
		audit_rollups(v, r, first_end, last_end);
	}
	return 0;
}

/*
 * Recordings, conns and rollups against the span of their recording's blocks
 * as the frames say it (rows[] after verify_segment; a segment counts for the
 * recording its file header names). Each disagreement names its row.
 */
/* Whether (pid, comm) is an owner a CONN event gave id. */
static int owner_seen(const struct verify *v, uint64_t id, int has, int64_t pid, const char *comm)
{
	return has && sig_seen(v, id, owner_sig(pid, comm, strlen(comm)));
}

static int check_conn(void *ctx, const struct tt_store_conn_id *c)
{
	struct verify *v = ctx;
	char what[64];

	snprintf(what, sizeof(what), "conns row %" PRId64, c->row);
	/*
	 * tt_store_check_orphan_conns reports a row of no recording; after
	 * retention removed a recording's first segments, the CONN events that
	 * named an earlier tuple or owner may be gone with them
	 */
	if (!c->rec_found || !c->whole)
		return 0;
	if (tuple_first(v, c->conn_id) == UINT32_MAX) {
		vnote(v, TT_FINDING_PROBLEM, what,
		      "connection id %" PRIu64 ": no CONN event of the segments has it",
		      c->conn_id);
		return 0;
	}
	if (!sig_seen(v, c->conn_id,
		      conn_sig(c->family, c->proto, c->laddr, c->lport, c->raddr, c->rport)))
		vnote(v, TT_FINDING_PROBLEM, what,
		      "family, protocol, addresses or ports differ from every CONN event of "
		      "connection id %" PRIu64 " in its segments",
		      c->conn_id);
	if (!owner_seen(v, c->conn_id, c->has_owner, c->pid, c->comm))
		vnote(v, TT_FINDING_PROBLEM, what,
		      "its process (pid %" PRId64 ") is no owner a CONN event of connection id "
		      "%" PRIu64 " names",
		      c->pid, c->conn_id);
	return 0;
}

static int check_rollup_owner(void *ctx, const struct tt_store_rollup_owner *o)
{
	struct verify *v = ctx;
	char what[128];

	if (!o->whole || tuple_first(v, o->conn_id) == UINT32_MAX ||
	    owner_seen(v, o->conn_id, o->has_owner, o->pid, o->comm))
		return 0; /* an id without events is conns' finding; retention, as for conns */
	snprintf(what, sizeof(what), "rollups row %s", o->key);
	vnote(v, TT_FINDING_PROBLEM, what,
	      "its process is no owner a CONN event of connection id %" PRIu64 " names",
	      o->conn_id);
	return 0;
}

/*
 * Each conns row's tuple (family, protocol, addresses, ports) is one its
 * connection id had in a CONN event of the segments, and its process and
 * each of its rollup parts' one of the owners those events gave it: the
 * index names every connection the way the segments do. A row whose id no
 * segment holds is reported only when none of its recording was removed
 * (retention keeps rows a little longer than their segments).
 */
static void verify_tuples(struct verify *v)
{
	if (tt_store_each_conn_id(v->st, check_conn, v) ||
	    tt_store_each_rollup_owner(v->st, check_rollup_owner, v))
		vnote(v, TT_FINDING_PROBLEM, "conns", "index: %s", tt_store_errmsg(v->st));
}

static void verify_summaries(struct verify *v, const struct segrow *rows, size_t n)
{
	struct vsum vs = { .v = v,
			   .rows = rows,
			   .n = n,
			   .lean = tt_store_schema_version(v->st) >= 2 };

	if (tt_store_each_recording(v->st, 0, check_recording, &vs)) {
		vnote(v, TT_FINDING_PROBLEM, "recordings", "index: %s", tt_store_errmsg(v->st));
		return;
	}
	if (vs.lean)
		tt_store_check_orphan_conns(v->st, summary_problem, v);
}

/* tt_verify's list of the segments rows. */
struct vlist {
	struct segrow *rows;
	size_t n, cap;
};

static int list_row(void *ctx, const struct tt_store_seg *sg)
{
	struct vlist *l = ctx;
	struct segrow *r;

	if (tt_grow((void **)&l->rows, &l->cap, l->n + 1, sizeof(*l->rows)) ||
	    !(l->rows[l->n].file = strdup(sg->file)))
		return -ENOMEM;
	r = &l->rows[l->n++];
	r->id = sg->id;
	r->rec = sg->rec;
	r->seq = sg->seq;
	r->bytes = sg->bytes;
	r->blocks = sg->blocks;
	r->t_start = sg->t_start_ns;
	r->t_end = sg->t_end_ns;
	r->m2w = sg->m2w;
	r->rec_found = sg->rec_found;
	return 0;
}

int tt_verify(struct tt_store *st, const struct tt_repair_cb *cb, struct tt_verify_result *res,
	      char *why, size_t why_len)
{
	struct tt_verify_result local = { 0 };
	struct verify v = { .st = st, .cb = cb, .why = why, .why_len = why_len };
	struct vlist list = { 0 };
	struct segrow *rows;
	size_t n, i;
	struct dirent *de;
	int err = 0;
	DIR *d;

	v.res = res ? res : &local;
	why[0] = '\0';
	err = tt_store_each_segment(st, list_row, &list);
	rows = list.rows;
	n = list.n;
	if (err == -ENOMEM) {
		snprintf(why, why_len, "out of memory");
	} else if (err) {
		snprintf(why, why_len, "%s: index: %s", tt_store_dir(st), tt_store_errmsg(st));
		err = -EIO;
	}
	/* the file itself, and the type of every value in it */
	if (!err)
		tt_store_check_file(st, summary_problem, &v);
	/* conns (schema 2): the tuples its rows name are checked against the segments */
	if (!err && tt_store_schema_version(st) >= 2 && !(v.tmap = tt_idmap_new()))
		err = -ENOMEM;
	for (i = 0; !err && i < n; i++) {
		err = verify_segment(&v, &rows[i]);
		progress(cb, i + 1, n);
	}
	if (!err && v.oom)
		err = -ENOMEM;
	if (!err && v.tmap)
		verify_tuples(&v);
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
	free(v.tuples);
	tt_idmap_free(v.tmap);
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

/* tt_repair_unindexed's pass over the segments not sealed. */
struct unindexed {
	struct tt_store *st;
	uint64_t *frames;
	char *why;
	size_t why_len;
	int failed; /* a file could not be read: why says it */
};

static int open_tail(void *ctx, const char *file, int64_t bytes, int has_last, int64_t last_off)
{
	struct unindexed *u = ctx;
	char path[4096];
	int err;

	if (!file || !tt_store_segment_name_parse(file, NULL, NULL) ||
	    tt_store_segment_path(u->st, file, path, sizeof(path)))
		return 0; /* not a name this store gives its segments */
	err = tail_frames(path, has_last, (uint64_t)last_off, bytes > 0 ? (uint64_t)bytes : 0,
			  u->frames);
	if (err) {
		snprintf(u->why, u->why_len, "%s: %s", path, strerror(-err));
		u->failed = 1;
	}
	return err;
}

int tt_repair_unindexed(struct tt_store *st, uint64_t *frames, char *why, size_t why_len)
{
	struct unindexed u = { .st = st, .frames = frames, .why = why, .why_len = why_len };
	int err;

	*frames = 0;
	why[0] = '\0';
	err = tt_store_each_open_segment(st, open_tail, &u);
	if (err && !u.failed) {
		snprintf(why, why_len, "%s: index: %s", tt_store_dir(st), tt_store_errmsg(st));
		err = -EIO;
	}
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
