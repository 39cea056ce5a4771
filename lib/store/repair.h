/*
 * repair.h: checking a store against its segments (verify), rebuilding its
 * index from them (reindex), and adopting the blocks a crash left written but
 * not indexed. The segments are the record; index.db is a cache of them, so
 * everything here reads the frames and compares or rebuilds the rows.
 *
 * Workload: whole-store passes run by hand (verify, reindex), and a cheap
 * check of the unsealed segments' tails at every recorder start and every
 * query (tt_repair_unindexed), which rebuilds only when a crash left frames
 * behind.
 *
 * Nothing here prints or exits: what a pass finds goes to the caller's
 * callbacks, one finding at a time, and errors are 0 or a negative errno with
 * a one-line reason in why.
 */
#ifndef TT_REPAIR_H
#define TT_REPAIR_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* How bad a finding is. */
enum tt_finding_level {
	TT_FINDING_NOTE = 0, /* what a repair did, for the record */
	TT_FINDING_WARNING = 1, /* nothing lost or wrong in answers: a torn tail, frames not
				 * indexed yet, a damaged file header (frames still read) */
	TT_FINDING_PROBLEM = 2, /* the index and the segments disagree, or data is damaged */
};

struct tt_repair_cb {
	/*
	 * One finding: its level, what it is about (a segment file, or an index
	 * row such as "blocks row 12 (r000001-s000000.tts offset 64)") and one line
	 * saying what is wrong. The strings live for the call only. May be NULL.
	 */
	void (*on_finding)(void *ctx, enum tt_finding_level level, const char *what,
			   const char *msg);
	/* Segment files done of total, after each. May be NULL. */
	void (*on_progress)(void *ctx, uint64_t done, uint64_t total);
	void *ctx;
};

/* ---- verify ------------------------------------------------------------------ */

struct tt_verify_result {
	uint64_t segments; /* segment files read */
	uint64_t frames; /* frames found in them */
	uint64_t events; /* events decoded */
	uint64_t periods; /* minor rollup periods recomputed from the blocks and compared */
	unsigned problems;
	unsigned warnings;
};

/*
 * Read every frame of every segment file of st, decode every event of every
 * block, and check every index row against them: blocks (offset, length, raw
 * length, time span, event count, checksum, keyframe flag), segments (the
 * file's recording and sequence, span, size, block count), recordings (span
 * covering their blocks, clock mapping as in their segments), conns and
 * rollups (their recording exists, their times inside its span; while none of
 * the recording was removed, a connection opened in it has minor rollups that
 * add up to its hour rollups, and those to at least its row's bytes and
 * packets), and every minor rollup period whose blocks are all there
 * recomputed from them through the recorder's aggregator and indexer and
 * compared row for row (lib/audit.h). Each
 * disagreement is one finding naming the row. Findings go to cb; counts add
 * into *res. 0 (whatever was found), or a negative errno when the pass itself
 * failed (the index cannot be read, no memory) with why.
 */
int tt_verify(struct tt_store *st, const struct tt_repair_cb *cb, struct tt_verify_result *res,
	      char *why, size_t why_len);

/* ---- reindex ----------------------------------------------------------------- */

struct tt_reindex_result {
	uint64_t segments; /* segment files indexed */
	uint64_t blocks; /* blocks indexed */
	uint64_t events; /* events read */
	uint64_t damaged; /* damaged blocks left out */
	uint64_t unsynced; /* delta blocks after damage, indexed but not summarised */
	unsigned bad_files; /* segment files left out (unreadable) */
	unsigned bad_headers; /* segment files with a damaged header, indexed by their name */
};

/*
 * Rebuild DIR/index.db from the segment files alone: every intact block read
 * in order through the recorder's aggregator and indexer, so the new index
 * says what the recorder's did (blocks a crash left unindexed included).
 * Recording metadata the segments do not carry (host, kernel, options, end,
 * clean stop, rollup length) comes from the old index when it can still be read; an end the
 * old index did not know (a crash) stays unknown. The new index is written
 * beside the old one (index.db.rebuild, a leftover of an interrupted reindex
 * removed first), gets the old one's mode and group (tt_store_open, TT_STORE_REBUILD)
 * and is renamed over it: an interrupted reindex changes nothing. Takes the
 * store's writer lock (-EBUSY while a recorder runs). Findings (unreadable
 * files, damaged blocks) go to cb; counts into *res. 0, or a negative errno
 * with why (-ENODATA: no segment file).
 */
int tt_reindex(const char *dir, const struct tt_repair_cb *cb, struct tt_reindex_result *res,
	       char *why, size_t why_len);

/* ---- adoption after a crash ----------------------------------------------------- */

/*
 * Intact frames in st's unsealed segments (the ones a recorder was writing
 * when it stopped) after the last block the index names: blocks written and
 * fsynced before a crash whose index transaction never happened. Only the
 * tails are read (from the last indexed block on). *frames = their number; 0,
 * or a negative errno with why.
 */
int tt_repair_unindexed(struct tt_store *st, uint64_t *frames, char *why, size_t why_len);

/*
 * Adopt them: when DIR's unsealed segments hold frames the index does not
 * name, rebuild the index (tt_reindex) so that it names them, with their
 * connections and rollups, exactly as a recorder that had not crashed would
 * have. *unindexed = the frames found (0: nothing to do, the index untouched).
 * 0 when nothing was needed or the rebuild succeeded (*res filled, if given);
 * -EBUSY when a recorder holds the store (it indexes its own blocks); another
 * negative errno with why when the rebuild failed (for example -EACCES, a
 * reader who cannot write the store), the old index still in place. A store
 * without an index (-ENOENT) has nothing to adopt: 0.
 */
int tt_repair_adopt(const char *dir, const struct tt_repair_cb *cb, uint64_t *unindexed,
		    struct tt_reindex_result *res, char *why, size_t why_len);

#endif /* TT_REPAIR_H */
