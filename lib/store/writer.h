/*
 * writer.h: the recorder's persistence. Takes the event stream and the
 * aggregator's tables and keeps a store: events into segment blocks, blocks
 * flushed every flush_ns right after a tick (fdatasync, then one index
 * transaction), a block opened by a keyframe every keyframe_ns and at the start
 * of every segment (the blocks between carry only their events), segments
 * rolled by time and size, old segments removed by age and by the size of the
 * whole directory (segments, index.db, its WAL and shared memory): after every
 * flush the directory is brought under retain_bytes minus a headroom (the
 * largest growth of one flush and its retention pass, decaying by a quarter per
 * flush toward the latest), so that it stays under retain_bytes at every moment
 * unless a flush grows it by more than that (a recording's first block can).
 *
 * Durability: a block is on disk before the index names it; SIGKILL loses at
 * most the block being built. Every run writes new segment files (O_EXCL), so
 * a segment torn by a crash is never appended to.
 */
#ifndef TT_WRITER_H
#define TT_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "aggregator.h"
#include "event.h"
#include "store.h"

struct tt_writer;

struct tt_writer_opts {
	const char *dir; /* the store directory */
	int dir_mode; /* 0700 by default: the store holds process names and addresses */
	int file_mode; /* 0600 */
	uint64_t flush_ns; /* block length (5 s) */
	uint64_t keyframe_ns; /* a keyframe block this often (60 s; <= flush_ns: every block);
			       * a multiple of flush_ns, or the next multiple is taken */
	uint64_t segment_ns; /* roll a segment after this long (0: never) */
	uint64_t segment_bytes; /* or this big (0: never) */
	uint64_t retain_ns; /* delete segments older than this (0: keep) */
	uint64_t retain_bytes; /* keep the whole directory under this many bytes (0: no cap);
				* caps segment_bytes at a quarter of it */
	uint64_t bucket_ns; /* minor rollup length (5 min): tt_indexer_minor_ok */
	struct tt_recording_info rec; /* host, kernel, boot id, options, version, times */
};

/* Defaults for everything but dir and rec. */
void tt_writer_opts_default(struct tt_writer_opts *o);

/*
 * Open (or create) the store, take its lock, start a recording and its first
 * segment. Damage left by an earlier unclean stop is reported through
 * tt_writer_warning, never repaired by overwriting. Blocks an earlier run wrote
 * but did not index before it died are adopted first: the index is rebuilt
 * from the segments (tt_repair_adopt), said in the warning. On failure a negative errno
 * and a one-line reason in why (-EBUSY: another recorder holds the store).
 */
int tt_writer_open(const struct tt_writer_opts *o, struct tt_writer **out, char *why,
		   size_t why_len);

/*
 * A warning not taken yet, or NULL: from open (a torn segment found, an index
 * that could not be converted to incremental vacuum) or from a tick (the
 * retention size cannot hold the index and the segment being written; said
 * once per run). Each is returned once; the string lives until the next call.
 */
const char *tt_writer_take_warning(struct tt_writer *w);

/*
 * Segments retention removed before every export destination had them
 * (tt_retain_result.unshipped), since the writer opened; each pass that
 * removes some leaves a warning saying so.
 */
uint64_t tt_writer_unshipped(const struct tt_writer *w);

/* Append one event of the stream. 0 or a negative errno. */
int tt_writer_event(struct tt_writer *w, const struct tt_event *ev);

/*
 * After the aggregator consumed a TICK: account the table in the index and, if
 * the block is flush_ns old, flush it, roll and retain as configured (see
 * tt_store_retain; a warning may follow, see tt_writer_take_warning), and open
 * the next block with agg's keyframe when one is due (keyframe_ns since the
 * last, or a new segment); otherwise the next block is a delta block. 0 or a
 * negative errno (-ENOSPC: the disk
 * is full even after retention; the store is consistent up to the last block).
 */
int tt_writer_tick(struct tt_writer *w, const struct tt_agg *agg, const struct tt_table *t);

/* Blocks written so far. */
uint64_t tt_writer_blocks(const struct tt_writer *w);

/* Last failure, one line, never NULL. */
const char *tt_writer_errmsg(const struct tt_writer *w);

/*
 * Clean stop: flush what is pending, seal the segment, close the recording
 * with its end time. 0, or the first error (tt_writer_errmsg says it).
 */
int tt_writer_finish(struct tt_writer *w, uint64_t end_wall_ns);

/* Release everything (the store lock too); NULL is a no-op. Without a finish
 * first, the pending block is dropped and the recording stays open: what a
 * crash would leave, and what the next open reports. */
void tt_writer_free(struct tt_writer *w);

#endif /* TT_WRITER_H */
