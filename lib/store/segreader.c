/*
 * segreader.c: the segment reader (tt_segr_*, segment.h). Layouts and the
 * event decoding are segcodec.h's; this file owns the file, finding and
 * loading frames, resynchronising after damage, and decompression.
 *
 * Workload: readers scan frame headers (verify, reindex) or seek to the blocks
 * the index names and decode them whole, event by event, from buffers kept
 * between blocks, with one zstd context made once.
 *
 * Everything read from a file is distrusted: lengths are checked against caps
 * and against the file before anything is allocated or read, and a failure
 * makes the block (not the file) unreadable.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "mem.h"
#include "segcodec.h"
#include "segment.h"

#define SCAN_CHUNK 65536

struct tt_segr {
	int fd;
	struct tt_seg_meta meta;
	int meta_ok; /* 0 when opened with TT_SEGR_SALVAGE over a damaged header */
	uint64_t file_size; /* refreshed at every frame lookup: the file may grow */
	uint64_t pos; /* where the next frame is expected */
	int resync; /* after damage: look for the next frame magic from pos */
	int ioerr; /* the negative errno behind the last FRAME_EIO */
	int hdr_only; /* load_frame stops after the header (tt_segr_peek_block) */
	ZSTD_DCtx *dctx; /* made once, reused for every block */
	uint8_t *payload; /* compressed payload of the frame being loaded */
	size_t payload_cap;
	uint8_t *raw; /* the loaded block, decompressed */
	size_t raw_cap;
	/* the loaded block */
	int loaded;
	int bad; /* an event failed to decode: the rest of the block is lost */
	uint64_t blk_off;
	size_t raw_len, rpos;
	uint32_t n_events, n_done;
	uint64_t t_end;
	struct tt_segc_block bs;
	uint8_t scan[SCAN_CHUNK];
	char err[256];
};

static int read_at(int fd, uint8_t *p, size_t len, uint64_t off)
{
	while (len) {
		ssize_t n = pread(fd, p, len, (off_t)off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -ENODATA; /* the file shrank under us */
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

static int refresh_size(struct tt_segr *r)
{
	struct stat st;

	if (fstat(r->fd, &st) < 0) {
		int err = -errno;

		snprintf(r->err, sizeof(r->err), "fstat: %s", strerror(-err));
		return err;
	}
	r->file_size = st.st_size > 0 ? (uint64_t)st.st_size : 0;
	return 0;
}

int tt_segr_openf(const char *path, unsigned flags, struct tt_segr **out, char *why, size_t why_len)
{
	uint8_t h[TT_SEGC_HDR_MAX];
	struct tt_segc_file fh;
	struct tt_segr *r;
	struct stat st;
	enum tt_segc_res res;
	unsigned hlen = 0;
	char damage[160] = "";
	int err;

	*out = NULL;
	r = calloc(1, sizeof(*r));
	if (!r) {
		tt_segc_seterr(why, why_len, "%s: out of memory", path);
		return -ENOMEM;
	}
	/* O_NONBLOCK: a FIFO put where a segment belongs must not hang the open */
	/* O_NOFOLLOW: a symbolic link in a store is never followed */
	r->fd = open(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
	if (r->fd < 0) {
		err = -errno;
		tt_segc_seterr(why, why_len, "%s: %s", path, strerror(-err));
		goto fail;
	}
	if (fstat(r->fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		err = -EINVAL;
		tt_segc_seterr(why, why_len, "%s: not a regular file", path);
		goto fail;
	}
	r->dctx = ZSTD_createDCtx();
	if (!r->dctx) {
		err = -ENOMEM;
		tt_segc_seterr(why, why_len, "%s: out of memory", path);
		goto fail;
	}
	err = refresh_size(r);
	if (err) {
		tt_segc_seterr(why, why_len, "%s: %s", path, r->err);
		goto fail;
	}

	/*
	 * Stable across versions: magic, major, minor, header length at 0..13 and
	 * the CRC in the header's last 4 bytes. Check the CRC before believing the
	 * version, so a flipped bit reads as damage, not as a future format.
	 */
	if (r->file_size < TT_SEGC_HDR_STABLE) {
		snprintf(damage, sizeof(damage), "header cut short (%llu bytes)",
			 (unsigned long long)r->file_size);
	} else if ((err = read_at(r->fd, h, TT_SEGC_HDR_STABLE, 0))) {
		goto io_fail;
	} else if ((res = tt_segc_file_peek(h, &hlen)) == TT_SEGC_BAD_MAGIC) {
		snprintf(damage, sizeof(damage), "not a tcptop segment (bad magic)");
	} else if (res != TT_SEGC_OK) {
		snprintf(damage, sizeof(damage), "bad header length %u", hlen);
	} else if (r->file_size < hlen) {
		snprintf(damage, sizeof(damage), "header cut short (%llu of %u bytes)",
			 (unsigned long long)r->file_size, hlen);
	} else if ((err = read_at(r->fd, h, hlen, 0))) {
		goto io_fail;
	} else if ((res = tt_segc_file_decode(h, hlen, &fh)) == TT_SEGC_BAD_CRC) {
		snprintf(damage, sizeof(damage), "header checksum mismatch");
	} else if (res == TT_SEGC_BAD_VERSION) {
		err = -ENOTSUP;
		tt_segc_seterr(why, why_len, "%s: segment format %u.%u, this build reads %u.x",
			       path, fh.major, fh.minor, TT_SEG_VERSION);
		goto fail;
	} else if (res != TT_SEGC_OK) {
		err = -ENOTSUP;
		tt_segc_seterr(why, why_len, "%s: segment needs unsupported features (flags 0x%x)",
			       path, fh.flags);
		goto fail;
	} else {
		r->meta = fh.meta;
		r->meta_ok = 1;
		r->pos = hlen;
	}
	if (damage[0]) {
		if (!(flags & TT_SEGR_SALVAGE)) {
			err = -EBADMSG;
			tt_segc_seterr(why, why_len, "%s: %s", path, damage);
			goto fail;
		}
		/* frames do not depend on the header: look for them from the start */
		r->pos = 0;
		r->resync = 1;
		snprintf(r->err, sizeof(r->err), "%s", damage);
		tt_segc_seterr(why, why_len, "%s: %s", path, damage);
	} else {
		snprintf(r->err, sizeof(r->err), "no error");
	}
	*out = r;
	return 0;
io_fail:
	tt_segc_seterr(why, why_len, "%s: reading the header: %s", path, strerror(-err));
	if (err == -ENODATA)
		err = -EIO;
fail:
	tt_segr_close(r);
	return err;
}

int tt_segr_open(const char *path, struct tt_segr **out, char *why, size_t why_len)
{
	return tt_segr_openf(path, 0, out, why, why_len);
}

const struct tt_seg_meta *tt_segr_meta(const struct tt_segr *r)
{
	return r->meta_ok ? &r->meta : NULL;
}

const char *tt_segr_errmsg(const struct tt_segr *r)
{
	return r->err;
}

/* What load_frame found at an offset. */
enum frame_res {
	FRAME_OK, /* a block, loaded */
	FRAME_NOHDR, /* no trustworthy frame header here */
	FRAME_BAD, /* a trustworthy header, but the frame is cut short or damaged */
	FRAME_EIO, /* the file could not be read, or no memory: r->ioerr says which */
};

/*
 * Check and load the frame at off. *next is where the following frame is
 * expected (or where to start looking for one) and info is filled from the
 * header whenever the header is trustworthy; r->err says what went wrong.
 */
static enum frame_res load_frame(struct tt_segr *r, uint64_t off, struct tt_block_info *info,
				 uint64_t *next)
{
	uint8_t h[TT_SEGC_FRAME_HDR_MAX];
	struct tt_segc_frame fh;
	uint64_t avail = r->file_size > off ? r->file_size - off : 0;
	unsigned hlen = 0;
	uint32_t plen, raw_len, n_events;
	uint64_t flen;
	size_t got;
	int err;

	*next = off + 1;
	memset(info, 0, sizeof(*info));
	info->offset = off;
	r->loaded = 0;

	got = avail < TT_SEGC_FRAME_HDR_LEN ? (size_t)avail : TT_SEGC_FRAME_HDR_LEN;
	if ((err = read_at(r->fd, h, got, off)))
		goto io;
	if (got < TT_SEGC_FRAME_MAGIC_LEN || !tt_segc_is_frame_magic(h)) {
		/* the file ends inside what may be a frame magic */
		if (got < TT_SEGC_FRAME_MAGIC_LEN && got == avail &&
		    !memcmp(h, tt_segc_frame_magic, got))
			goto cut_hdr;
		snprintf(r->err, sizeof(r->err), "no frame at offset %llu (bad magic)",
			 (unsigned long long)off);
		return FRAME_NOHDR;
	}
	if (got < TT_SEGC_FRAME_HDR_LEN)
		goto cut_hdr;
	if (tt_segc_frame_peek(h, &hlen) != TT_SEGC_OK) {
		snprintf(r->err, sizeof(r->err), "frame at offset %llu: bad header length %u",
			 (unsigned long long)off, hlen);
		return FRAME_NOHDR;
	}
	if (avail < hlen)
		goto cut_hdr;
	if (hlen > TT_SEGC_FRAME_HDR_LEN && (err = read_at(r->fd, h, hlen, off)))
		goto io;
	if (tt_segc_frame_decode(h, hlen, &fh) != TT_SEGC_OK) {
		snprintf(r->err, sizeof(r->err), "frame at offset %llu: header checksum mismatch",
			 (unsigned long long)off);
		return FRAME_NOHDR;
	}

	/* the header is as written: its length can be trusted to skip the frame */
	plen = fh.payload_len;
	raw_len = fh.raw_len;
	n_events = fh.n_events;
	flen = (uint64_t)hlen + plen;
	info->length = flen <= UINT32_MAX ? (uint32_t)flen : UINT32_MAX;
	info->raw_len = raw_len;
	info->n_events = n_events;
	info->checksum = fh.payload_crc;
	info->t_start = fh.t_start;
	info->t_end = fh.t_end;
	/* a 1.0 file never sets the flag: every block of it opens with a keyframe */
	info->keyframe = !(fh.flags & TT_SEGC_FRAME_DELTA);
	*next = off + flen;

	switch (tt_segc_frame_check(&fh)) {
	case TT_SEGC_OK:
		break;
	case TT_SEGC_BAD_FLAGS:
		snprintf(r->err, sizeof(r->err),
			 "frame at offset %llu needs unsupported features (flags 0x%x)",
			 (unsigned long long)off, fh.flags);
		return FRAME_BAD;
	default:
		snprintf(r->err, sizeof(r->err),
			 "frame at offset %llu: implausible sizes (%u bytes, %u raw, %u events)",
			 (unsigned long long)off, plen, raw_len, n_events);
		return FRAME_BAD;
	}
	if (avail < flen) {
		snprintf(r->err, sizeof(r->err),
			 "frame at offset %llu cut short (%llu of %llu bytes): torn write?",
			 (unsigned long long)off, (unsigned long long)avail,
			 (unsigned long long)flen);
		/* nothing of it can be trusted to end where it says: look further */
		*next = off + 1;
		return FRAME_BAD;
	}
	if (r->hdr_only)
		return FRAME_OK;
	if (tt_grow((void **)&r->payload, &r->payload_cap, plen, 1) ||
	    tt_grow((void **)&r->raw, &r->raw_cap, raw_len, 1)) {
		snprintf(r->err, sizeof(r->err), "frame at offset %llu: out of memory",
			 (unsigned long long)off);
		r->ioerr = -ENOMEM;
		return FRAME_EIO;
	}
	if ((err = read_at(r->fd, r->payload, plen, off + hlen)))
		goto io;
	if (tt_segc_crc(r->payload, plen) != fh.payload_crc) {
		snprintf(r->err, sizeof(r->err), "frame at offset %llu: payload checksum mismatch",
			 (unsigned long long)off);
		return FRAME_BAD;
	}
	{
		size_t fsz = ZSTD_findFrameCompressedSize(r->payload, plen);
		size_t n;

		if (ZSTD_isError(fsz) || fsz != plen) {
			snprintf(r->err, sizeof(r->err),
				 "frame at offset %llu: payload is not one zstd frame",
				 (unsigned long long)off);
			return FRAME_BAD;
		}
		n = ZSTD_decompressDCtx(r->dctx, r->raw, raw_len, r->payload, plen);
		if (ZSTD_isError(n) || n != raw_len) {
			snprintf(r->err, sizeof(r->err), "frame at offset %llu: zstd: %s",
				 (unsigned long long)off,
				 ZSTD_isError(n) ? ZSTD_getErrorName(n)
						 : "size differs from header");
			return FRAME_BAD;
		}
	}
	r->loaded = 1;
	r->bad = 0;
	r->blk_off = off;
	r->raw_len = raw_len;
	r->rpos = 0;
	r->n_events = n_events;
	r->n_done = 0;
	r->t_end = info->t_end;
	tt_segc_block_reset(&r->bs, info->t_start);
	return FRAME_OK;

cut_hdr:
	snprintf(r->err, sizeof(r->err), "frame header at offset %llu cut short (%llu bytes)",
		 (unsigned long long)off, (unsigned long long)avail);
	return FRAME_BAD;
io:
	if (err == -ENODATA) {
		snprintf(r->err, sizeof(r->err), "frame at offset %llu: file shrank while read",
			 (unsigned long long)off);
		return FRAME_BAD;
	}
	snprintf(r->err, sizeof(r->err), "reading offset %llu: %s", (unsigned long long)off,
		 strerror(-err));
	r->ioerr = err;
	return FRAME_EIO;
}

/* Offset of the next frame magic at or after from, or the file size if none. */
static int find_magic(struct tt_segr *r, uint64_t from, uint64_t *at)
{
	uint64_t off = from;

	while (off + TT_SEGC_FRAME_MAGIC_LEN <= r->file_size) {
		size_t n =
			r->file_size - off < SCAN_CHUNK ? (size_t)(r->file_size - off) : SCAN_CHUNK;
		size_t i;
		int err = read_at(r->fd, r->scan, n, off);

		if (err)
			return err == -ENODATA ? -EIO : err;
		for (i = 0; i + TT_SEGC_FRAME_MAGIC_LEN <= n; i++) {
			if (r->scan[i] == tt_segc_frame_magic[0] &&
			    tt_segc_is_frame_magic(r->scan + i)) {
				*at = off + i;
				return 0;
			}
		}
		if (n < SCAN_CHUNK)
			break;
		off += n - (TT_SEGC_FRAME_MAGIC_LEN - 1); /* a magic may straddle two chunks */
	}
	/*
	 * Fewer than 4 bytes left cannot be told from the tail of the damage
	 * already reported (a lone 0xf7 in a torn payload): not looked at.
	 */
	*at = r->file_size;
	return 0;
}

int tt_segr_next_block(struct tt_segr *r, struct tt_block_info *info)
{
	uint64_t next;
	int err;

	r->loaded = 0;
	if ((err = refresh_size(r)))
		return err;
	for (;;) {
		uint64_t at = r->pos;

		if (r->resync) {
			if ((err = find_magic(r, r->pos, &at))) {
				snprintf(r->err, sizeof(r->err), "scanning from offset %llu: %s",
					 (unsigned long long)r->pos, strerror(-err));
				return err;
			}
		}
		if (at >= r->file_size) {
			r->pos = r->file_size;
			r->resync = 0;
			return 0;
		}
		switch (load_frame(r, at, info, &next)) {
		case FRAME_OK:
			r->pos = next;
			r->resync = 0;
			return 1;
		case FRAME_NOHDR:
			r->pos = next;
			if (r->resync)
				continue; /* a stray magic inside damage: keep looking */
			r->resync = 1;
			return -EBADMSG;
		case FRAME_BAD:
			r->pos = next;
			r->resync = 1;
			return -EBADMSG;
		case FRAME_EIO:
		default:
			return r->ioerr;
		}
	}
}

int tt_segr_peek_block(struct tt_segr *r, uint64_t offset, struct tt_block_info *info)
{
	uint64_t next;
	int err;

	r->loaded = 0;
	if ((err = refresh_size(r)))
		return err;
	r->hdr_only = 1;
	err = load_frame(r, offset, info, &next);
	r->hdr_only = 0;
	switch (err) {
	case FRAME_OK:
		return 1;
	case FRAME_NOHDR:
	case FRAME_BAD:
		return -EBADMSG;
	default:
		return r->ioerr;
	}
}

int tt_segr_load_block(struct tt_segr *r, uint64_t offset, struct tt_block_info *info)
{
	uint64_t next;
	int err;

	r->loaded = 0;
	if ((err = refresh_size(r)))
		return err;
	switch (load_frame(r, offset, info, &next)) {
	case FRAME_OK:
		/* a following tt_segr_next_block goes on from here */
		r->pos = next;
		r->resync = 0;
		return 1;
	case FRAME_NOHDR:
	case FRAME_BAD:
		r->pos = next;
		r->resync = 1;
		return -EBADMSG;
	default:
		return r->ioerr;
	}
}

int tt_segr_next_event(struct tt_segr *r, struct tt_event *ev)
{
	for (;;) {
		struct tt_segc_cur c;
		size_t at = r->rpos;
		int res;

		if (!r->loaded) {
			snprintf(r->err, sizeof(r->err), "no block loaded");
			return -EINVAL;
		}
		if (r->bad)
			return -EBADMSG;
		if (r->rpos == r->raw_len) {
			if (r->n_done != r->n_events || r->bs.prev_ts != r->t_end) {
				snprintf(r->err, sizeof(r->err),
					 "block at offset %llu: %u events ending at %llu, header "
					 "says %u ending at %llu",
					 (unsigned long long)r->blk_off, r->n_done,
					 (unsigned long long)r->bs.prev_ts, r->n_events,
					 (unsigned long long)r->t_end);
				r->bad = 1;
				return -EBADMSG;
			}
			return 0;
		}
		c.p = r->raw + r->rpos;
		c.end = r->raw + r->raw_len;
		c.why = NULL;
		res = r->n_done < r->n_events
			      ? tt_segc_event_decode(&c, &r->bs, ev)
			      : tt_segc_fail(&c, "more events than the header says");
		if (res < 0) {
			snprintf(r->err, sizeof(r->err),
				 "block at offset %llu, event %u at byte %zu: %s",
				 (unsigned long long)r->blk_off, r->n_done, at, c.why);
			r->bad = 1;
			memset(ev, 0, sizeof(*ev));
			return -EBADMSG;
		}
		r->rpos = (size_t)(c.p - r->raw);
		r->n_done++;
		if (res == 1)
			return 1;
	}
}

void tt_segr_close(struct tt_segr *r)
{
	if (!r)
		return;
	if (r->fd >= 0)
		close(r->fd);
	ZSTD_freeDCtx(r->dctx);
	free(r->payload);
	free(r->raw);
	tt_segc_block_free(&r->bs);
	free(r);
}
