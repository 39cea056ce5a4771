/*
 * segcodec.h: the segment format's pure codec (docs/FORMAT.md), shared by the
 * writer (segwriter.c) and the reader (segreader.c) so that every byte offset
 * and constant of the format is named once. Not part of the API other modules
 * use: that is segment.h.
 *
 * Here: the file header and frame header layouts as named constants, one
 * encode/decode pair for each header, and the block's event encoding (the
 * decoding state both sides keep, one event encoded, one event decoded). No
 * I/O; the only allocation is the growth of a block's id table.
 *
 * Decoders distrust their input: they never read outside the bytes given and
 * say what is wrong instead of guessing. The policy of what to do about it
 * (refuse a file, skip a frame, resynchronise) is the reader's.
 */
#ifndef TT_SEGCODEC_H
#define TT_SEGCODEC_H

#include <stddef.h>
#include <stdint.h>

#include "event.h"
#include "segment.h"

/* ---- file header (docs/FORMAT.md, "File header") --------------------------- */

#define TT_SEGC_MAGIC_LEN 8
extern const uint8_t tt_segc_magic[TT_SEGC_MAGIC_LEN]; /* 89 54 54 53 45 47 0D 0A */

/* byte offsets of the fields; the CRC is always the last 4 bytes of H */
#define TT_SEGC_H_MAGIC	       0
#define TT_SEGC_H_MAJOR	       8 /* u16 */
#define TT_SEGC_H_MINOR	       10 /* u16 */
#define TT_SEGC_H_LEN	       12 /* u16: header length H */
#define TT_SEGC_H_FLAGS	       14 /* u16 */
#define TT_SEGC_H_RECORDING_ID 16 /* u64 */
#define TT_SEGC_H_MONO_TO_WALL 24 /* u64, signed */
#define TT_SEGC_H_CREATED      32 /* u64 */
#define TT_SEGC_H_BOOT_ID_HI   40 /* u64 */
#define TT_SEGC_H_BOOT_ID_LO   48 /* u64 */
#define TT_SEGC_H_SEQ	       56 /* u32 */
#define TT_SEGC_H_CRC	       60 /* u32, at H - 4: here for H = TT_SEGC_HDR_LEN */

#define TT_SEGC_HDR_LEN	       64 /* H as this writer writes it (1.0 and 1.1) */
#define TT_SEGC_HDR_MAX	       4096 /* a reader refuses longer headers */
#define TT_SEGC_HDR_STABLE     16 /* magic, versions, H, flags: fixed in every version */
#define TT_SEGC_MINOR	       1 /* this writer's minor version; readers accept any minor */
#define TT_SEGC_RFLAGS	       0xff /* required flag bits, in either header */
#define TT_SEGC_H_RFLAGS_KNOWN 0x00 /* required file header flags this reader knows */

/* What a file header says. */
struct tt_segc_file {
	unsigned major, minor;
	unsigned hlen; /* H */
	unsigned flags;
	struct tt_seg_meta meta;
};

/* How a header (file or frame) or its first bytes decoded. */
enum tt_segc_res {
	TT_SEGC_OK,
	TT_SEGC_BAD_MAGIC,
	TT_SEGC_BAD_LEN, /* the header length is outside the format's bounds */
	TT_SEGC_BAD_CRC, /* the header's CRC does not match */
	TT_SEGC_BAD_VERSION, /* another major version (file header) */
	TT_SEGC_BAD_FLAGS, /* required flags this build does not know */
	TT_SEGC_BAD_SIZES, /* implausible sizes (frame header) */
};

/* The TT_SEGC_HDR_LEN bytes of a file header as this build writes it (m->flags: optional bits). */
void tt_segc_file_encode(uint8_t h[TT_SEGC_HDR_LEN], const struct tt_seg_meta *m);

/*
 * From the first TT_SEGC_HDR_STABLE bytes: the magic and the header length H
 * (*hlen, TT_SEGC_HDR_LEN..TT_SEGC_HDR_MAX). TT_SEGC_OK, BAD_MAGIC or BAD_LEN
 * (*hlen is set for BAD_LEN too, for the message).
 */
enum tt_segc_res tt_segc_file_peek(const uint8_t h[TT_SEGC_HDR_STABLE], unsigned *hlen);

/*
 * The whole header, hlen bytes (from tt_segc_file_peek). Checks in the order
 * docs/FORMAT.md gives, CRC before version so that a flipped bit reads as
 * damage, not as a future format: TT_SEGC_OK (f filled), BAD_CRC,
 * BAD_VERSION or BAD_FLAGS (f's versions and flags filled, for the message).
 * Fields of a longer header (a later minor) are skipped.
 */
enum tt_segc_res tt_segc_file_decode(const uint8_t *h, unsigned hlen, struct tt_segc_file *f);

/* ---- frame header (docs/FORMAT.md, "Frame") -------------------------------- */

#define TT_SEGC_FRAME_MAGIC	0x425454f7u /* as a little-endian u32: bytes f7 54 54 42 */
#define TT_SEGC_FRAME_MAGIC_LEN 4
extern const uint8_t tt_segc_frame_magic[TT_SEGC_FRAME_MAGIC_LEN];

#define TT_SEGC_F_MAGIC	      0
#define TT_SEGC_F_LEN	      4 /* u16: frame header length F */
#define TT_SEGC_F_FLAGS	      6 /* u16 */
#define TT_SEGC_F_PAYLOAD_LEN 8 /* u32: P */
#define TT_SEGC_F_RAW_LEN     12 /* u32 */
#define TT_SEGC_F_N_EVENTS    16 /* u32 */
#define TT_SEGC_F_PAYLOAD_CRC 20 /* u32 */
#define TT_SEGC_F_T_START     24 /* u64 */
#define TT_SEGC_F_T_END	      32 /* u64 */
#define TT_SEGC_F_RESERVED    40 /* u32, written 0 */
#define TT_SEGC_F_CRC	      44 /* u32, at F - 4: here for F = TT_SEGC_FRAME_HDR_LEN */

#define TT_SEGC_FRAME_HDR_LEN  48 /* F as this writer writes it */
#define TT_SEGC_FRAME_HDR_MAX  1024 /* a reader refuses longer frame headers */
#define TT_SEGC_FRAME_DELTA    0x0001 /* 1.1: the block continues the previous one's state */
#define TT_SEGC_F_RFLAGS_KNOWN 0x01 /* required frame flags this reader knows */

#define TT_SEGC_RAW_CAP (64u << 20) /* a block's encoded events, before compression */
#define TT_SEGC_IDS_CAP (1u << 20) /* distinct connection ids in one block */

/* What a frame header says. */
struct tt_segc_frame {
	unsigned hlen; /* F */
	unsigned flags;
	uint32_t payload_len; /* P */
	uint32_t raw_len;
	uint32_t n_events;
	uint32_t payload_crc;
	uint64_t t_start, t_end;
};

/* The CRC the format uses everywhere (zlib's crc32 of len bytes). */
uint32_t tt_segc_crc(const void *p, size_t len);

/*
 * The TT_SEGC_FRAME_HDR_LEN bytes of a frame header for f (f->hlen is not
 * looked at: this build writes TT_SEGC_FRAME_HDR_LEN), header CRC included.
 */
void tt_segc_frame_encode(uint8_t h[TT_SEGC_FRAME_HDR_LEN], const struct tt_segc_frame *f);

/* Whether p (at least TT_SEGC_FRAME_MAGIC_LEN bytes) starts with the frame magic. */
int tt_segc_is_frame_magic(const uint8_t *p);

/*
 * From the first TT_SEGC_FRAME_HDR_LEN bytes of a frame, its magic checked:
 * the header length F (*hlen). TT_SEGC_OK or BAD_LEN (*hlen set for the message).
 */
enum tt_segc_res tt_segc_frame_peek(const uint8_t h[TT_SEGC_FRAME_HDR_LEN], unsigned *hlen);

/*
 * The whole frame header, hlen bytes (from tt_segc_frame_peek): TT_SEGC_OK
 * with f filled, or BAD_CRC (f untouched). Fields of a longer header are skipped.
 */
enum tt_segc_res tt_segc_frame_decode(const uint8_t *h, unsigned hlen, struct tt_segc_frame *f);

/*
 * Whether a decoded frame header is one this build can load: TT_SEGC_OK,
 * BAD_FLAGS (unknown required flags) or BAD_SIZES (raw length over
 * TT_SEGC_RAW_CAP, payload over its compressed bound, no events, or more
 * events than raw length / 2).
 */
enum tt_segc_res tt_segc_frame_check(const struct tt_segc_frame *f);

/* ---- block: event encoding (docs/FORMAT.md, "Block: event encoding") -------- */

/*
 * Longest encoding of one event (a CONN with every field: 1 + 3 + 10 + 9 + 2 +
 * 16 + 2 + 2 + 16 + 5 + 5 + 3 + 5 + 10 + 17 + 10 = 116). The writer reserves
 * this much before encoding, so encoding itself never fails half-way.
 */
#define TT_SEGC_EV_MAX 160

struct tt_segc_idslot {
	uint64_t id;
	struct tt_counters base; /* this id's counters as last coded in the block */
};

/* What both sides remember while coding one block; reset at every block start. */
struct tt_segc_block {
	struct tt_segc_idslot *ids; /* the block's id table, in order of first occurrence */
	size_t n_ids, cap_ids;
	struct tt_ev_conn prev_conn; /* the last CONN coded, for absent fields */
	uint64_t prev_ts; /* ts of the last event coded (the block's t_start at first) */
	uint64_t prev_new_id; /* the last id entered in the table (0 at first), for ID_DELTA */
	size_t last_slot; /* slot of the last event that named an id, for ID_SAME */
	int has_last; /* whether there was one */
};

/* Start a block at t_start; the id table keeps its memory. */
void tt_segc_block_reset(struct tt_segc_block *bs, uint64_t t_start);

/* Free the id table's memory. */
void tt_segc_block_free(struct tt_segc_block *bs);

/* Whether ev names a connection id; if so, *id is it. */
int tt_segc_event_id(const struct tt_event *ev, uint64_t *id);

/*
 * Enter id in the block's id table (the caller knows it is not there yet):
 * *slot is its slot. 0, -E2BIG (TT_SEGC_IDS_CAP ids already) or -ENOMEM; on
 * failure the block is unchanged.
 */
int tt_segc_block_add_id(struct tt_segc_block *bs, uint64_t id, uint32_t *slot);

/*
 * Encode ev at p (room for TT_SEGC_EV_MAX bytes) and return the end of its
 * bytes. ev's type must be known (1..TT_EV_TYPE_MAX-1). If it names an id,
 * slot is the id's slot, and is_new says whether tt_segc_block_add_id entered
 * it for this event. Never fails.
 */
uint8_t *tt_segc_event_encode(struct tt_segc_block *bs, uint8_t *p, const struct tt_event *ev,
			      uint32_t slot, int is_new);

/* A read position in a block's bytes, with the first failure. */
struct tt_segc_cur {
	const uint8_t *p, *end;
	const char *why; /* the first failure, or NULL */
};

/* Record a failure (the first one is kept) and make every later read fail: -1. */
int tt_segc_fail(struct tt_segc_cur *c, const char *why);

/*
 * Decode one event at c into ev. 1: an event; 2: an event of a type this
 * build does not know, skipped; -1: undecodable (c->why says why).
 */
int tt_segc_event_decode(struct tt_segc_cur *c, struct tt_segc_block *bs, struct tt_event *ev);

/* buf[len] = the message, as snprintf; buf NULL or len 0: nothing (the reader's and writer's why). */
void tt_segc_seterr(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif /* TT_SEGCODEC_H */
