/*
 * reindex DIR: rebuild index.db from the segment files alone. Every intact
 * block is read in order and its events go through the recorder's aggregator
 * and indexer again, so the rebuilt index says what the recorder's did (and
 * adopts blocks a crash left unindexed). Whether a block opens with a keyframe
 * (blocks.keyframe) is the frame header's DELTA flag (docs/FORMAT.md). After a
 * damaged block, the delta blocks up to the next keyframe block are indexed but
 * not summarised: their events continue a state that is lost, as readers skip
 * them too. Recording metadata the segments do
 * not carry (host, kernel, options, clean stop) is taken from the old index
 * when it can still be read. The new index is built beside the old one and
 * renamed over it at the end: an interrupted reindex changes nothing. The
 * store's writer lock is held throughout, so no recorder can write meanwhile.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator.h"
#include "cmd.h"
#include "indexer.h"
#include "mem.h"
#include "segment.h"
#include "store.h"

struct seg {
	char name[64];
	struct tt_seg_meta meta;
	uint64_t t_first, t_last; /* Unix ns of its first and last intact block */
};

struct oldrec {
	int64_t id;
	char host[128], kernel[128], boot_id[64], options[1024], version[32];
	uint64_t start_ns, end_ns;
	int clean, found, has_end;
};

static int cmp_seg(const void *pa, const void *pb)
{
	const struct seg *a = pa, *b = pb;

	if (a->meta.recording_id != b->meta.recording_id)
		return a->meta.recording_id < b->meta.recording_id ? -1 : 1;
	return (a->meta.seq > b->meta.seq) - (a->meta.seq < b->meta.seq);
}

/* What the old index says about recording id, if it can be read at all. */
static void old_recording(const char *dir, int64_t id, struct oldrec *o)
{
	struct tt_store *st;
	sqlite3_stmt *q = NULL;
	char why[256];

	memset(o, 0, sizeof(*o));
	o->id = id;
	if (tt_store_open(dir, TT_STORE_READ, 0, 0, &st, why, sizeof(why)))
		return;
	if (!sqlite3_prepare_v2(tt_store_db(st),
				"SELECT host, kernel, boot_id, options, tool_version, start_ns, "
				"end_ns, clean_stop FROM recordings WHERE id = ?1",
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
			o->found = 1;
		}
	}
	sqlite3_finalize(q);
	tt_store_close(st);
}

/* Every *.tts file of dir whose header can be read, sorted by recording and sequence. */
static int list_segments(const char *dir, struct seg **out, size_t *n, unsigned *bad)
{
	size_t cap = 0;
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

		if (l < 5 || strcmp(de->d_name + l - 4, ".tts") || l >= sizeof((*out)->name))
			continue;
		/* only names the store gives its segments (tt_store_segment_name) */
		if (!tt_store_segment_name_parse(de->d_name, NULL, NULL)) {
			cmd_err("reindex: warning: %s: not a segment file name; left out",
				de->d_name);
			(*bad)++;
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (tt_segr_open(path, &r, why, sizeof(why))) {
			cmd_err("reindex: warning: %s: %s; left out", de->d_name, why);
			(*bad)++;
			continue;
		}
		if (tt_grow((void **)out, &cap, *n + 1, sizeof(**out))) {
			tt_segr_close(r);
			closedir(d);
			return -ENOMEM;
		}
		memset(&(*out)[*n], 0, sizeof(**out));
		memcpy((*out)[*n].name, de->d_name, l + 1);
		(*out)[*n].meta = *tt_segr_meta(r);
		(*n)++;
		tt_segr_close(r);
	}
	closedir(d);
	qsort(*out, *n, sizeof(**out), cmp_seg);
	return 0;
}

struct rebuild {
	struct tt_store *st;
	const char *dir;
	struct tt_agg *agg;
	struct tt_indexer *ix;
	struct tt_ev_loss loss;
	int synced; /* the aggregator holds the whole state: delta blocks can be summarised */
	uint64_t blocks, damaged, unsynced, events;
};

/* One segment: every intact block, through the aggregator and indexer, into the index. */
static int rebuild_segment(struct rebuild *rb, int64_t rec_id, struct seg *sg)
{
	char path[4096], why[256];
	struct tt_block_info bi;
	struct tt_segr *r;
	int64_t seg_id;
	int rc, err;

	snprintf(path, sizeof(path), "%s/%s", rb->dir, sg->name);
	if ((err = tt_segr_open(path, &r, why, sizeof(why)))) {
		cmd_err("reindex: %s", why);
		return -EIO;
	}
	err = tt_store_segment_begin(rb->st, rec_id, sg->meta.seq, sg->name,
				     sg->meta.created_wall_ns, &seg_id);
	while (!err && (rc = tt_segr_next_block(r, &bi)) != 0) {
		struct tt_event ev;

		if (rc < 0) {
			rb->damaged++;
			rb->synced = 0;
			cmd_err("reindex: warning: %s: %s; that block is left out", sg->name,
				tt_segr_errmsg(r));
			continue;
		}
		if (bi.keyframe)
			rb->synced = 1;
		else if (!rb->synced)
			rb->unsynced++;
		while ((rc = tt_segr_next_event(r, &ev)) > 0) {
			rb->events++;
			if (ev.type == TT_EV_LOSS)
				rb->loss = ev.loss; /* cumulative: true whatever came before */
			if (!rb->synced)
				continue;
			rc = tt_agg_feed(rb->agg, &ev);
			if (rc < 0 || (rc == 1 && tt_indexer_add(rb->ix, tt_agg_table(rb->agg)))) {
				err = -ENOMEM;
				break;
			}
		}
		if (!err && rc < 0) {
			rb->damaged++;
			rb->synced = 0;
			cmd_err("reindex: warning: %s: %s; the rest of that block is left out",
				sg->name, tt_segr_errmsg(r));
		}
		if (!err)
			err = tt_store_block(rb->st, seg_id, &bi, sg->meta.mono_to_wall_ns, &rb->loss,
					     rb->ix);
		rb->blocks++;
	}
	if (!err)
		err = tt_store_segment_seal(rb->st, seg_id);
	if (err && err != -ENOMEM)
		cmd_err("reindex: %s", tt_store_errmsg(rb->st));
	tt_segr_close(r);
	return err;
}

int cmd_reindex(int argc, char **argv)
{
	struct rebuild rb = { 0 };
	struct seg *segs = NULL;
	size_t nseg = 0, i, j;
	unsigned bad = 0;
	char why[512];
	int err, rc = 1;

	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		puts("Usage: tcptop-analyze reindex DIR\n"
		     "Rebuild DIR/index.db from the segment files (a damaged or lost index, blocks\n"
		     "a crash left unindexed). Needs the store's writer lock: stop the recorder.");
		return 0;
	}
	if (argc != 2 || argv[1][0] == '-') {
		cmd_err("reindex: needs exactly one store directory (see reindex --help)");
		return 2;
	}
	rb.dir = argv[1];
	if ((err = list_segments(rb.dir, &segs, &nseg, &bad))) {
		cmd_err("reindex: %s: %s", rb.dir, strerror(-err));
		return 1;
	}
	if (!nseg) {
		cmd_err("reindex: %s: no segment files to index", rb.dir);
		free(segs);
		return 1;
	}
	if (tt_store_open(rb.dir, TT_STORE_REBUILD, 0700, 0600, &rb.st, why, sizeof(why))) {
		cmd_err("reindex: %s", why);
		free(segs);
		return 1;
	}
	for (i = 0; i < nseg; i = j) {
		int64_t id = (int64_t)segs[i].meta.recording_id;
		struct tt_recording_info ri = { .id = id };
		struct oldrec o;
		int64_t rec_id;

		for (j = i; j < nseg && (int64_t)segs[j].meta.recording_id == id; j++)
			;
		old_recording(rb.dir, id, &o);
		ri.host = o.found ? o.host : "?";
		ri.kernel = o.found ? o.kernel : "?";
		ri.boot_id = o.boot_id;
		ri.options = o.found ? o.options : "(reindexed: the old index was unreadable)";
		ri.tool_version = o.found ? o.version : TT_VERSION;
		ri.start_ns = o.found ? o.start_ns : segs[i].meta.created_wall_ns;
		ri.mono_to_wall_ns = segs[i].meta.mono_to_wall_ns;
		rb.agg = tt_agg_new();
		rb.ix = tt_indexer_new(0, ri.mono_to_wall_ns);
		memset(&rb.loss, 0, sizeof(rb.loss));
		rb.synced = 0; /* the recording's first block is a keyframe block */
		err = !rb.agg || !rb.ix ? -ENOMEM : tt_store_recording_begin(rb.st, &ri, &rec_id);
		if (err && err != -ENOMEM)
			cmd_err("reindex: %s", tt_store_errmsg(rb.st));
		for (; !err && i < j; i++)
			err = rebuild_segment(&rb, rec_id, &segs[i]);
		if (!err && o.found && o.has_end) /* an unknown end stays open, as a crash left it */
			err = tt_store_recording_end(rb.st, rec_id, o.end_ns, o.clean);
		tt_agg_free(rb.agg);
		tt_indexer_free(rb.ix);
		rb.agg = NULL;
		rb.ix = NULL;
		if (err) {
			if (err == -ENOMEM)
				cmd_err("reindex: out of memory");
			goto out;
		}
	}
	if (tt_store_rebuild_commit(rb.st)) {
		cmd_err("reindex: %s", tt_store_errmsg(rb.st));
		goto out;
	}
	printf("%s: index rebuilt from %zu segments: %" PRIu64 " blocks, %" PRIu64
	       " events; %" PRIu64 " damaged blocks and %u unreadable files left out\n",
	       rb.dir, nseg, rb.blocks, rb.events, rb.damaged, bad);
	if (rb.unsynced)
		printf("%s: %" PRIu64 " blocks after the damage, up to the next keyframe, indexed "
		       "but not summarised\n",
		       rb.dir, rb.unsynced);
	rc = 0;
out:
	tt_store_close(rb.st);
	free(segs);
	return rc;
}
