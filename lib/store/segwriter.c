/*
 * segwriter.c: the segment writer (tt_segw_*, segment.h). Layouts and the
 * event encoding are segcodec.h's; this file owns the file, the block being
 * built and its compression.
 *
 * Workload: the recorder appends every event of a recording once (to a memory
 * block, no allocation per event once the buffers have grown) and compresses
 * a block every few seconds, with one zstd context made once.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "idmap.h"
#include "mem.h"
#include "segcodec.h"
#include "segment.h"

struct tt_segw {
	int fd;
	uint64_t size; /* header and complete frames: where the next frame goes */
	ZSTD_CCtx *cctx; /* made once, reused for every block */
	struct tt_idmap *index; /* id -> slot in bs.ids, for the block being built */
	struct tt_segc_block bs;
	uint8_t *raw; /* the block being built, encoded */
	size_t raw_len, raw_cap;
	uint8_t *frame; /* the frame being written: header and compressed payload */
	size_t frame_cap;
	uint64_t t_start, t_end; /* first and last ts of the block */
	uint32_t n_events;
	int delta; /* the block being built opens without a keyframe (TT_SEGC_FRAME_DELTA) */
	struct tt_seg_meta meta; /* what the header says: rewritten by tt_segw_mark_clean_end */
	char err[256];
};

static int write_all(int fd, const uint8_t *p, size_t len, uint64_t off)
{
	while (len) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

int tt_segw_create(const char *path, const struct tt_seg_meta *meta, int mode, struct tt_segw **out,
		   char *why, size_t why_len)
{
	uint8_t h[TT_SEGC_HDR_LEN];
	struct tt_segw *w;
	int err;

	*out = NULL;
	w = calloc(1, sizeof(*w));
	if (!w) {
		tt_segc_seterr(why, why_len, "%s: out of memory", path);
		return -ENOMEM;
	}
	w->fd = -1;
	w->cctx = ZSTD_createCCtx();
	w->index = tt_idmap_new();
	if (!w->cctx || !w->index) {
		err = -ENOMEM;
		tt_segc_seterr(why, why_len, "%s: out of memory", path);
		goto fail;
	}
	if (ZSTD_isError(ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_compressionLevel, 3)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_checksumFlag, 1))) {
		err = -EINVAL;
		tt_segc_seterr(why, why_len, "%s: cannot set up zstd", path);
		goto fail;
	}
	w->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (w->fd < 0) {
		err = -errno;
		tt_segc_seterr(why, why_len, "%s: %s", path, strerror(-err));
		goto fail;
	}
	w->meta = *meta;
	w->meta.flags = 0;
	tt_segc_file_encode(h, &w->meta);
	err = write_all(w->fd, h, sizeof(h), 0);
	if (err) {
		tt_segc_seterr(why, why_len, "%s: writing the header: %s", path, strerror(-err));
		/* the file is ours (O_EXCL): leave nothing half-made behind */
		unlink(path);
		goto fail;
	}
	w->size = TT_SEGC_HDR_LEN;
	snprintf(w->err, sizeof(w->err), "no error");
	*out = w;
	return 0;
fail:
	tt_segw_close(w);
	return err;
}

uint32_t tt_segw_pending(const struct tt_segw *w)
{
	return w->n_events;
}

void tt_segw_set_delta(struct tt_segw *w, int delta)
{
	w->delta = !!delta;
}

uint64_t tt_segw_size(const struct tt_segw *w)
{
	return w->size;
}

const char *tt_segw_errmsg(const struct tt_segw *w)
{
	return w->err;
}

int tt_segw_append(struct tt_segw *w, const struct tt_event *ev)
{
	struct tt_segc_block *bs = &w->bs;
	unsigned type = ev->type;
	uint64_t id = 0;
	uint32_t slot = 0;
	int has_id, is_new = 0, err;

	if (type == 0 || type >= TT_EV_TYPE_MAX) {
		snprintf(w->err, sizeof(w->err), "cannot store an event of unknown type %u", type);
		return -EINVAL;
	}
	if (w->n_events == UINT32_MAX || w->raw_len + TT_SEGC_EV_MAX > TT_SEGC_RAW_CAP) {
		snprintf(w->err, sizeof(w->err), "block full (%zu bytes, %u events): flush first",
			 w->raw_len, w->n_events);
		return -E2BIG;
	}
	if (!w->n_events)
		tt_segc_block_reset(bs, ev->ts_ns);
	err = tt_grow((void **)&w->raw, &w->raw_cap, w->raw_len + TT_SEGC_EV_MAX, 1);
	if (err) {
		snprintf(w->err, sizeof(w->err), "out of memory for a block of %zu bytes",
			 w->raw_len + TT_SEGC_EV_MAX);
		return err;
	}
	/* enter a new id before any byte is written, so a failure changes nothing */
	has_id = tt_segc_event_id(ev, &id);
	if (has_id && !tt_idmap_get(w->index, id, &slot)) {
		if (bs->n_ids >= TT_SEGC_IDS_CAP) {
			snprintf(w->err, sizeof(w->err),
				 "block full (%zu connection ids): flush first", bs->n_ids);
			return -E2BIG;
		}
		err = tt_segc_block_add_id(bs, id, &slot);
		if (!err) {
			err = tt_idmap_put(w->index, id, slot);
			if (err)
				bs->n_ids--; /* the slot just entered: the block is as it was */
		}
		if (err) {
			snprintf(w->err, sizeof(w->err), "out of memory for the block's id table");
			return err;
		}
		is_new = 1;
	}
	if (!w->n_events)
		w->t_start = ev->ts_ns;
	w->raw_len =
		(size_t)(tt_segc_event_encode(bs, w->raw + w->raw_len, ev, slot, is_new) - w->raw);
	w->t_end = ev->ts_ns;
	w->n_events++;
	return 0;
}

static void block_reset(struct tt_segw *w)
{
	size_t i;

	/* deleting what the block entered keeps the map's memory for the next block */
	for (i = 0; i < w->bs.n_ids; i++)
		tt_idmap_del(w->index, w->bs.ids[i].id);
	w->bs.n_ids = 0;
	w->raw_len = 0;
	w->n_events = 0;
	w->t_start = w->t_end = 0;
	w->delta = 0;
}

int tt_segw_flush(struct tt_segw *w, int sync, struct tt_block_info *info)
{
	struct tt_segc_frame f = { 0 };
	size_t bound, clen;
	int err;

	if (!w->n_events) {
		snprintf(w->err, sizeof(w->err), "nothing to flush");
		return -ENODATA;
	}
	bound = ZSTD_compressBound(w->raw_len);
	err = tt_grow((void **)&w->frame, &w->frame_cap, TT_SEGC_FRAME_HDR_LEN + bound, 1);
	if (err) {
		snprintf(w->err, sizeof(w->err), "out of memory compressing a block of %zu bytes",
			 w->raw_len);
		return err;
	}
	clen = ZSTD_compress2(w->cctx, w->frame + TT_SEGC_FRAME_HDR_LEN, bound, w->raw, w->raw_len);
	if (ZSTD_isError(clen)) {
		snprintf(w->err, sizeof(w->err), "zstd: %s", ZSTD_getErrorName(clen));
		return -EIO;
	}
	f.flags = w->delta ? TT_SEGC_FRAME_DELTA : 0;
	f.payload_len = (uint32_t)clen;
	f.raw_len = (uint32_t)w->raw_len;
	f.n_events = w->n_events;
	f.payload_crc = tt_segc_crc(w->frame + TT_SEGC_FRAME_HDR_LEN, clen);
	f.t_start = w->t_start;
	f.t_end = w->t_end;
	tt_segc_frame_encode(w->frame, &f);

	err = write_all(w->fd, w->frame, TT_SEGC_FRAME_HDR_LEN + clen, w->size);
	if (!err && sync && fdatasync(w->fd) < 0)
		err = -errno;
	if (err) {
		/*
		 * A torn frame would be skipped by readers, but a later frame
		 * written after it would then sit behind garbage: cut back to the
		 * last complete frame and keep the block for a retry.
		 */
		int terr = ftruncate(w->fd, (off_t)w->size) < 0 ? errno : 0;

		snprintf(w->err, sizeof(w->err), "writing a block at offset %llu: %s%s%s",
			 (unsigned long long)w->size, strerror(-err),
			 terr ? "; truncating back failed: " : "", terr ? strerror(terr) : "");
		return err;
	}
	if (info) {
		info->offset = w->size;
		info->length = (uint32_t)(TT_SEGC_FRAME_HDR_LEN + clen);
		info->raw_len = (uint32_t)w->raw_len;
		info->t_start = w->t_start;
		info->t_end = w->t_end;
		info->n_events = w->n_events;
		info->checksum = f.payload_crc;
		info->keyframe = !w->delta;
	}
	w->size += TT_SEGC_FRAME_HDR_LEN + clen;
	block_reset(w);
	return 0;
}

int tt_segw_mark_clean_end(struct tt_segw *w)
{
	uint8_t h[TT_SEGC_HDR_LEN];
	int err;

	w->meta.flags |= TT_SEG_CLEAN_END;
	tt_segc_file_encode(h, &w->meta);
	/* 64 bytes inside the first sector: written whole or not at all */
	err = write_all(w->fd, h, sizeof(h), 0);
	if (!err && fdatasync(w->fd))
		err = -errno;
	if (err)
		snprintf(w->err, sizeof(w->err), "rewriting the header: %s", strerror(-err));
	return err;
}

void tt_segw_close(struct tt_segw *w)
{
	if (!w)
		return;
	if (w->fd >= 0)
		close(w->fd);
	ZSTD_freeCCtx(w->cctx);
	tt_idmap_free(w->index);
	tt_segc_block_free(&w->bs);
	free(w->raw);
	free(w->frame);
	free(w);
}
