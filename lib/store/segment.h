/*
 * segment.h: the segment codec. A segment is an append-only file: a header,
 * then zstd frames, one per block. A block covers a few seconds of the event
 * stream. A keyframe block opens with keyframe events (TT_EVF_KEYFRAME: the
 * whole connection table), or starts a recording, so a reader can start there;
 * a delta block (format 1.1, flagged in its frame header) carries only its own
 * events and continues the state of the blocks before it. The byte layout is
 * specified in docs/FORMAT.md; this header is the API.
 *
 * Implemented by three files: segwriter.c (tt_segw_*: the file being written,
 * the block being built, compression), segreader.c (tt_segr_*: finding,
 * checking and loading frames, resynchronisation, events out) and segcodec.c
 * (segcodec.h, not API: the header layouts as named constants, their
 * encode/decode pairs and the event coding, shared by both; no I/O).
 *
 * Workload: the recorder appends every event once and flushes a block every
 * few seconds; readers scan headers (verify, reindex) or seek to the blocks
 * the index names and decode them whole.
 *
 * Errors are 0 or a negative errno; the objects keep a one-line message of the
 * last failure (tt_segw_errmsg / tt_segr_errmsg). Nothing here prints or exits.
 */
#ifndef TT_SEGMENT_H
#define TT_SEGMENT_H

#include <stddef.h>
#include <stdint.h>

#include "event.h"

#define TT_SEG_VERSION 1

/* What a segment says about itself, in its header. */
struct tt_seg_meta {
	uint64_t recording_id; /* the recording it belongs to (index.db recordings.id) */
	uint32_t seq; /* segment number within the recording, from 0 */
	uint32_t flags; /* the file header's optional flags (bits 8-15): TT_SEG_CLEAN_END */
	int64_t mono_to_wall_ns; /* add to a CLOCK_MONOTONIC time to get Unix time (ns) */
	uint64_t created_wall_ns; /* Unix time the file was created */
	uint64_t boot_id_hi; /* /proc/sys/kernel/random/boot_id, the monotonic clock's epoch */
	uint64_t boot_id_lo;
};

/*
 * File header flag (optional, docs/FORMAT.md): the recording stopped cleanly
 * with this segment as its last. Set in place by tt_segw_mark_clean_end once
 * the index says so; a reader that finds it can tell an index that says
 * otherwise, or has lost the recording's end, from the truth.
 */
#define TT_SEG_CLEAN_END 0x0100u

/* One block as written or found. */
struct tt_block_info {
	uint64_t offset; /* of the frame's first byte in the file */
	uint32_t length; /* of the whole frame on disk, header included */
	uint32_t raw_len; /* encoded events before compression */
	uint64_t t_start; /* first event's ts_ns (CLOCK_MONOTONIC) */
	uint64_t t_end; /* last event's ts_ns */
	uint32_t n_events;
	uint32_t checksum; /* of the frame's payload as stored (docs/FORMAT.md) */
	uint32_t keyframe; /* 1: a reader can start here (no DELTA flag: every 1.0 block);
			    * 0: the block needs the state of the blocks before it */
};

struct tt_segw;

/*
 * Create path (O_CREAT|O_EXCL: never reuses a file; mode e.g. 0600) and write
 * the header. *out on success; on failure a negative errno with why filled.
 */
int tt_segw_create(const char *path, const struct tt_seg_meta *meta, int mode, struct tt_segw **out,
		   char *why, size_t why_len);

/*
 * Add one event to the block being built (memory only). 0, or -E2BIG when the
 * block is full (64 MiB encoded or 2^20 distinct ids: flush first), -ENOMEM, or
 * -EINVAL for a type outside enum tt_ev_type. On failure the block is unchanged.
 * Padding bytes are not stored: a reader returns them zeroed.
 */
int tt_segw_append(struct tt_segw *w, const struct tt_event *ev);

/* Events in the block being built. */
uint32_t tt_segw_pending(const struct tt_segw *w);

/*
 * delta 1: the block being built is a delta block: it does not open with a
 * keyframe, so a reader needs the blocks before it back to the last keyframe
 * block. Its frame gets the DELTA flag (a required flag: a 1.0 reader skips
 * the frame as one it cannot read instead of misreading it). Blocks are
 * keyframe blocks unless set so; the setting ends with the flush that writes
 * the block (a failed flush keeps it with the block).
 */
void tt_segw_set_delta(struct tt_segw *w, int delta);

/*
 * Compress the block being built and append it as one frame; with sync, fdatasync
 * before returning. info describes the frame written. An empty block writes
 * nothing and returns -ENODATA. On a write error (-ENOSPC, -EIO) the file is
 * truncated back to its last complete frame and the block is kept, so a later
 * flush can retry.
 */
int tt_segw_flush(struct tt_segw *w, int sync, struct tt_block_info *info);

/* Bytes in the file (header and complete frames). */
uint64_t tt_segw_size(const struct tt_segw *w);

/* Last failure, one line, never NULL. */
const char *tt_segw_errmsg(const struct tt_segw *w);

/*
 * Rewrite the file header in place with TT_SEG_CLEAN_END set, and fdatasync:
 * the recording's clean stop, said in the segment itself (call it after the
 * index said so: a crash in between leaves the flag out, which claims
 * nothing). 0 or a negative errno (tt_segw_errmsg).
 */
int tt_segw_mark_clean_end(struct tt_segw *w);

/* Close the file; pending events are dropped (flush first). NULL is a no-op. */
void tt_segw_close(struct tt_segw *w);

struct tt_segr;

/*
 * Open a segment and check its header. On failure a negative errno and why:
 * -EBADMSG for a damaged or foreign header, -ENOTSUP for another major version
 * or a required feature this build lacks, or the errno of open/read.
 */
int tt_segr_open(const char *path, struct tt_segr **out, char *why, size_t why_len);

/*
 * tt_segr_openf flags. Added to the given API because blocks do not depend on
 * the file header: verify and recovery want every intact block even when the
 * header itself is damaged (the index still knows the segment's recording).
 */
/*
 * TT_SEGR_SALVAGE: a damaged header is not fatal: 0 is returned, why and
 * tt_segr_errmsg say what is wrong, tt_segr_meta is NULL, and frames are looked
 * for from the file's first byte.
 */
#define TT_SEGR_SALVAGE 0x1

/* tt_segr_open with flags (TT_SEGR_*); tt_segr_open is tt_segr_openf(path, 0, ...). */
int tt_segr_openf(const char *path, unsigned flags, struct tt_segr **out, char *why,
		  size_t why_len);

/* The header's fields; NULL only after a TT_SEGR_SALVAGE open of a damaged header. */
const struct tt_seg_meta *tt_segr_meta(const struct tt_segr *r);

/*
 * Scan to the next frame after the current one and load it (decompress and
 * check). 1 with info filled; 0 at a clean end of file; -EBADMSG when the frame
 * at info->offset is damaged (bad magic, bad checksum, cut short: errmsg says
 * which). After -EBADMSG the next call resynchronises on the next intact frame,
 * so a reader gets every intact block of a damaged file. -EIO (or the errno of
 * the read) and -ENOMEM leave the position alone: the call can be repeated.
 * A segment still being written may end in a frame cut short; the reader steps
 * over it, so load it later by offset (tt_segr_load_block).
 */
int tt_segr_next_block(struct tt_segr *r, struct tt_block_info *info);

/*
 * Load the block whose frame starts at offset (from the index). 1, or -EBADMSG
 * (no intact frame there), -EIO / -ENOMEM. tt_segr_next_block goes on from the
 * frame after it.
 */
int tt_segr_load_block(struct tt_segr *r, uint64_t offset, struct tt_block_info *info);

/*
 * The header of the frame at offset, without reading its payload (one or two
 * preads): info as tt_segr_load_block fills it, for a reader that checks the
 * index against the file cheaply (info). 1, -EBADMSG (no trustworthy frame
 * header there, or one of a frame cut short), -EIO. No block is loaded after it.
 */
int tt_segr_peek_block(struct tt_segr *r, uint64_t offset, struct tt_block_info *info);

/*
 * Next event of the loaded block: 1, 0 at the block's end, -EBADMSG if
 * undecodable (the rest of that block is lost; errmsg says where and why),
 * -EINVAL if no block is loaded. Events of types newer than this build (a later
 * minor version) are skipped; unknown flag bits are passed on as stored.
 */
int tt_segr_next_event(struct tt_segr *r, struct tt_event *ev);

const char *tt_segr_errmsg(const struct tt_segr *r);

void tt_segr_close(struct tt_segr *r);

#endif /* TT_SEGMENT_H */
