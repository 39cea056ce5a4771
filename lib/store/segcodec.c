/*
 * segcodec.c: see segcodec.h. The constants and coders follow docs/FORMAT.md
 * section by section; tests/unit/test_segment.c checks the header layouts
 * against that document's tables.
 *
 * Workload: the writer encodes every event of a recording once, into a buffer
 * it has already grown (no allocation per event once the id table has grown);
 * the reader decodes whole blocks event by event. Headers are coded once per
 * block.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "mem.h"
#include "segcodec.h"

/* ---- event encoding constants (docs/FORMAT.md, "Event" and after) ---------- */

/* tag byte */
#define TAG_TYPE 0x0f
#define TAG_K	 0x10 /* TT_EVF_KEYFRAME */
#define TAG_F	 0x20 /* other flags follow as a varint */
#define TAG_L	 0x40 /* body length follows as a varint */
#define TAG_T	 0x80 /* ts delta follows; without it, ts is the previous event's */

/* id reference: below ID_INDEX a new id or the previous one, else a table index */
#define ID_FULL	 0 /* a new id, 8 bytes follow */
#define ID_DELTA 1 /* a new id, as a zigzag varint from the block's previous new id */
#define ID_SAME	 2 /* the id of the previous event that named one */
#define ID_INDEX 3 /* ID_INDEX + slot in the block's id table */

/*
 * CONN field mask: a field absent is the same as in the block's previous CONN.
 * What changes from one connection to the next (remote end) comes first, so
 * the mask of a server's connections fits the varint's first byte.
 */
#define C_RADDR4  0x001
#define C_RADDR16 0x002
#define C_RPORT	  0x004
#define C_LPORT	  0x008
#define C_LADDR4  0x010
#define C_LADDR16 0x020
#define C_OWNER	  0x040 /* pid, then tgid as a zigzag difference from pid */
#define C_KIND	  0x080 /* family, proto, flags */
#define C_NETNS	  0x100
#define C_CGROUP  0x200
#define C_COMM	  0x400
#define C_KNOWN	  0x7ff

/*
 * Counter fields, in mask bit order: a field absent did not change. The ones
 * a keyframe or a busy connection sets come first, so their mask is one byte.
 */
#define N_CTR	  10
#define CTR_KNOWN ((1u << N_CTR) - 1)
static const uint64_t ctr_max[N_CTR] = {
	UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX, /* bytes, packets in/out */
	UINT32_MAX, UINT32_MAX, /* srtt, rttvar */
	UINT8_MAX, /* state */
	UINT32_MAX, UINT32_MAX, UINT32_MAX, /* retrans, rst_sent, rst_recv */
};

/* ---- the header layouts against docs/FORMAT.md's tables -------------------- */

const uint8_t tt_segc_magic[TT_SEGC_MAGIC_LEN] = { 0x89, 'T', 'T', 'S', 'E', 'G', '\r', '\n' };
const uint8_t tt_segc_frame_magic[TT_SEGC_FRAME_MAGIC_LEN] = { 0xf7, 0x54, 0x54, 0x42 };

/* Each field ends where the next begins, and the CRC ends the header. */
_Static_assert(TT_SEGC_H_MAGIC + TT_SEGC_MAGIC_LEN == TT_SEGC_H_MAJOR, "file header layout");
_Static_assert(TT_SEGC_H_MAJOR + 2 == TT_SEGC_H_MINOR, "file header layout");
_Static_assert(TT_SEGC_H_MINOR + 2 == TT_SEGC_H_LEN, "file header layout");
_Static_assert(TT_SEGC_H_LEN + 2 == TT_SEGC_H_FLAGS, "file header layout");
_Static_assert(TT_SEGC_H_FLAGS + 2 == TT_SEGC_H_RECORDING_ID, "file header layout");
_Static_assert(TT_SEGC_H_FLAGS + 2 == TT_SEGC_HDR_STABLE, "file header layout");
_Static_assert(TT_SEGC_H_RECORDING_ID + 8 == TT_SEGC_H_MONO_TO_WALL, "file header layout");
_Static_assert(TT_SEGC_H_MONO_TO_WALL + 8 == TT_SEGC_H_CREATED, "file header layout");
_Static_assert(TT_SEGC_H_CREATED + 8 == TT_SEGC_H_BOOT_ID_HI, "file header layout");
_Static_assert(TT_SEGC_H_BOOT_ID_HI + 8 == TT_SEGC_H_BOOT_ID_LO, "file header layout");
_Static_assert(TT_SEGC_H_BOOT_ID_LO + 8 == TT_SEGC_H_SEQ, "file header layout");
_Static_assert(TT_SEGC_H_SEQ + 4 == TT_SEGC_H_CRC, "file header layout");
_Static_assert(TT_SEGC_H_CRC + 4 == TT_SEGC_HDR_LEN, "file header layout");
_Static_assert(TT_SEGC_HDR_LEN == 64 && TT_SEGC_HDR_MAX < 65536, "file header length");

_Static_assert(TT_SEGC_F_MAGIC + TT_SEGC_FRAME_MAGIC_LEN == TT_SEGC_F_LEN, "frame header layout");
_Static_assert(TT_SEGC_F_LEN + 2 == TT_SEGC_F_FLAGS, "frame header layout");
_Static_assert(TT_SEGC_F_FLAGS + 2 == TT_SEGC_F_PAYLOAD_LEN, "frame header layout");
_Static_assert(TT_SEGC_F_PAYLOAD_LEN + 4 == TT_SEGC_F_RAW_LEN, "frame header layout");
_Static_assert(TT_SEGC_F_RAW_LEN + 4 == TT_SEGC_F_N_EVENTS, "frame header layout");
_Static_assert(TT_SEGC_F_N_EVENTS + 4 == TT_SEGC_F_PAYLOAD_CRC, "frame header layout");
_Static_assert(TT_SEGC_F_PAYLOAD_CRC + 4 == TT_SEGC_F_T_START, "frame header layout");
_Static_assert(TT_SEGC_F_T_START + 8 == TT_SEGC_F_T_END, "frame header layout");
_Static_assert(TT_SEGC_F_T_END + 8 == TT_SEGC_F_RESERVED, "frame header layout");
_Static_assert(TT_SEGC_F_RESERVED + 4 == TT_SEGC_F_CRC, "frame header layout");
_Static_assert(TT_SEGC_F_CRC + 4 == TT_SEGC_FRAME_HDR_LEN, "frame header layout");
_Static_assert(TT_SEGC_FRAME_HDR_LEN == 48 && TT_SEGC_FRAME_HDR_MAX < 65536, "frame header length");

/* ---- little-endian fields and varints ------------------------------------- */

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const uint8_t *p)
{
	return get16(p) | (uint32_t)get16(p + 2) << 16;
}

static uint64_t get64(const uint8_t *p)
{
	return get32(p) | (uint64_t)get32(p + 4) << 32;
}

static uint8_t *put_varint(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

/* Signed differences as unsigned varints: 0, -1, 1, -2 ... -> 0, 1, 2, 3 ... */
static uint64_t zigzag(uint64_t d)
{
	return (d << 1) ^ (0 - (d >> 63));
}

static uint64_t unzigzag(uint64_t z)
{
	return (z >> 1) ^ (0 - (z & 1));
}

/* ---- file header ------------------------------------------------------------ */

void tt_segc_file_encode(uint8_t h[TT_SEGC_HDR_LEN], const struct tt_seg_meta *m)
{
	memset(h, 0, TT_SEGC_HDR_LEN);
	memcpy(h + TT_SEGC_H_MAGIC, tt_segc_magic, TT_SEGC_MAGIC_LEN);
	put16(h + TT_SEGC_H_MAJOR, TT_SEG_VERSION);
	put16(h + TT_SEGC_H_MINOR, TT_SEGC_MINOR);
	put16(h + TT_SEGC_H_LEN, TT_SEGC_HDR_LEN);
	put16(h + TT_SEGC_H_FLAGS, (uint16_t)(m->flags & ~TT_SEGC_RFLAGS)); /* optional ones */
	put64(h + TT_SEGC_H_RECORDING_ID, m->recording_id);
	put64(h + TT_SEGC_H_MONO_TO_WALL, (uint64_t)m->mono_to_wall_ns);
	put64(h + TT_SEGC_H_CREATED, m->created_wall_ns);
	put64(h + TT_SEGC_H_BOOT_ID_HI, m->boot_id_hi);
	put64(h + TT_SEGC_H_BOOT_ID_LO, m->boot_id_lo);
	put32(h + TT_SEGC_H_SEQ, m->seq);
	put32(h + TT_SEGC_H_CRC, tt_segc_crc(h, TT_SEGC_H_CRC));
}

enum tt_segc_res tt_segc_file_peek(const uint8_t h[TT_SEGC_HDR_STABLE], unsigned *hlen)
{
	if (memcmp(h + TT_SEGC_H_MAGIC, tt_segc_magic, TT_SEGC_MAGIC_LEN))
		return TT_SEGC_BAD_MAGIC;
	*hlen = get16(h + TT_SEGC_H_LEN);
	if (*hlen < TT_SEGC_HDR_LEN || *hlen > TT_SEGC_HDR_MAX)
		return TT_SEGC_BAD_LEN;
	return TT_SEGC_OK;
}

enum tt_segc_res tt_segc_file_decode(const uint8_t *h, unsigned hlen, struct tt_segc_file *f)
{
	memset(f, 0, sizeof(*f));
	if (get32(h + hlen - 4) != tt_segc_crc(h, hlen - 4))
		return TT_SEGC_BAD_CRC;
	f->major = get16(h + TT_SEGC_H_MAJOR);
	f->minor = get16(h + TT_SEGC_H_MINOR);
	f->hlen = hlen;
	f->flags = get16(h + TT_SEGC_H_FLAGS);
	if (f->major != TT_SEG_VERSION)
		return TT_SEGC_BAD_VERSION;
	if (f->flags & TT_SEGC_RFLAGS & ~TT_SEGC_H_RFLAGS_KNOWN)
		return TT_SEGC_BAD_FLAGS;
	/* a newer minor may have a longer header: its extra fields are skipped */
	f->meta.recording_id = get64(h + TT_SEGC_H_RECORDING_ID);
	f->meta.mono_to_wall_ns = (int64_t)get64(h + TT_SEGC_H_MONO_TO_WALL);
	f->meta.created_wall_ns = get64(h + TT_SEGC_H_CREATED);
	f->meta.boot_id_hi = get64(h + TT_SEGC_H_BOOT_ID_HI);
	f->meta.boot_id_lo = get64(h + TT_SEGC_H_BOOT_ID_LO);
	f->meta.seq = get32(h + TT_SEGC_H_SEQ);
	f->meta.flags = f->flags & ~TT_SEGC_RFLAGS;
	return TT_SEGC_OK;
}

/* ---- frame header ----------------------------------------------------------- */

uint32_t tt_segc_crc(const void *p, size_t len)
{
	return (uint32_t)crc32(0, p, (uInt)len);
}

void tt_segc_frame_encode(uint8_t h[TT_SEGC_FRAME_HDR_LEN], const struct tt_segc_frame *f)
{
	memset(h, 0, TT_SEGC_FRAME_HDR_LEN);
	put32(h + TT_SEGC_F_MAGIC, TT_SEGC_FRAME_MAGIC);
	put16(h + TT_SEGC_F_LEN, TT_SEGC_FRAME_HDR_LEN);
	put16(h + TT_SEGC_F_FLAGS, (uint16_t)f->flags);
	put32(h + TT_SEGC_F_PAYLOAD_LEN, f->payload_len);
	put32(h + TT_SEGC_F_RAW_LEN, f->raw_len);
	put32(h + TT_SEGC_F_N_EVENTS, f->n_events);
	put32(h + TT_SEGC_F_PAYLOAD_CRC, f->payload_crc);
	put64(h + TT_SEGC_F_T_START, f->t_start);
	put64(h + TT_SEGC_F_T_END, f->t_end);
	put32(h + TT_SEGC_F_RESERVED, 0);
	put32(h + TT_SEGC_F_CRC, tt_segc_crc(h, TT_SEGC_F_CRC));
}

int tt_segc_is_frame_magic(const uint8_t *p)
{
	return get32(p) == TT_SEGC_FRAME_MAGIC;
}

enum tt_segc_res tt_segc_frame_peek(const uint8_t h[TT_SEGC_FRAME_HDR_LEN], unsigned *hlen)
{
	*hlen = get16(h + TT_SEGC_F_LEN);
	if (*hlen < TT_SEGC_FRAME_HDR_LEN || *hlen > TT_SEGC_FRAME_HDR_MAX)
		return TT_SEGC_BAD_LEN;
	return TT_SEGC_OK;
}

enum tt_segc_res tt_segc_frame_decode(const uint8_t *h, unsigned hlen, struct tt_segc_frame *f)
{
	if (get32(h + hlen - 4) != tt_segc_crc(h, hlen - 4))
		return TT_SEGC_BAD_CRC;
	f->hlen = hlen;
	f->flags = get16(h + TT_SEGC_F_FLAGS);
	f->payload_len = get32(h + TT_SEGC_F_PAYLOAD_LEN);
	f->raw_len = get32(h + TT_SEGC_F_RAW_LEN);
	f->n_events = get32(h + TT_SEGC_F_N_EVENTS);
	f->payload_crc = get32(h + TT_SEGC_F_PAYLOAD_CRC);
	f->t_start = get64(h + TT_SEGC_F_T_START);
	f->t_end = get64(h + TT_SEGC_F_T_END);
	return TT_SEGC_OK;
}

enum tt_segc_res tt_segc_frame_check(const struct tt_segc_frame *f)
{
	if (f->flags & TT_SEGC_RFLAGS & ~TT_SEGC_F_RFLAGS_KNOWN)
		return TT_SEGC_BAD_FLAGS;
	if (f->raw_len > TT_SEGC_RAW_CAP || f->payload_len > ZSTD_compressBound(TT_SEGC_RAW_CAP) ||
	    !f->n_events || f->n_events > f->raw_len / 2)
		return TT_SEGC_BAD_SIZES;
	return TT_SEGC_OK;
}

/* ---- block state shared by encoder and decoder ----------------------------- */

void tt_segc_block_reset(struct tt_segc_block *bs, uint64_t t_start)
{
	bs->n_ids = 0;
	memset(&bs->prev_conn, 0, sizeof(bs->prev_conn));
	bs->prev_ts = t_start;
	bs->prev_new_id = 0;
	bs->last_slot = 0;
	bs->has_last = 0;
}

void tt_segc_block_free(struct tt_segc_block *bs)
{
	free(bs->ids);
	bs->ids = NULL;
	bs->n_ids = bs->cap_ids = 0;
}

static void ctr_get(const struct tt_counters *c, uint64_t v[N_CTR])
{
	v[0] = c->bytes_in;
	v[1] = c->bytes_out;
	v[2] = c->packets_in;
	v[3] = c->packets_out;
	v[4] = c->srtt_us;
	v[5] = c->rttvar_us;
	v[6] = c->state;
	v[7] = c->retrans;
	v[8] = c->rst_sent;
	v[9] = c->rst_recv;
}

/* v[] must already be within ctr_max. */
static void ctr_set(struct tt_counters *c, const uint64_t v[N_CTR])
{
	memset(c, 0, sizeof(*c));
	c->bytes_in = v[0];
	c->bytes_out = v[1];
	c->packets_in = v[2];
	c->packets_out = v[3];
	c->srtt_us = (uint32_t)v[4];
	c->rttvar_us = (uint32_t)v[5];
	c->state = (uint8_t)v[6];
	c->retrans = (uint32_t)v[7];
	c->rst_sent = (uint32_t)v[8];
	c->rst_recv = (uint32_t)v[9];
}

static int ev_has_id(unsigned type)
{
	return type == TT_EV_CONN || type == TT_EV_SAMPLE || type == TT_EV_STATE ||
	       type == TT_EV_RESET || type == TT_EV_CLOSE;
}

/* IPv4 is stored v4-mapped in memory (::ffff:a.b.c.d): that form takes 4 bytes. */
static int is_v4mapped(const uint8_t a[16])
{
	static const uint8_t prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	return !memcmp(a, prefix, sizeof(prefix));
}

int tt_segc_event_id(const struct tt_event *ev, uint64_t *id)
{
	if (!ev_has_id(ev->type))
		return 0;
	*id = tt_event_id(ev);
	return 1;
}

int tt_segc_block_add_id(struct tt_segc_block *bs, uint64_t id, uint32_t *slot)
{
	int err;

	if (bs->n_ids >= TT_SEGC_IDS_CAP)
		return -E2BIG;
	err = tt_grow((void **)&bs->ids, &bs->cap_ids, bs->n_ids + 1, sizeof(*bs->ids));
	if (err)
		return err;
	*slot = (uint32_t)bs->n_ids++;
	memset(&bs->ids[*slot], 0, sizeof(bs->ids[*slot]));
	bs->ids[*slot].id = id;
	return 0;
}

/* ---- event encoding ----------------------------------------------------------- */

static uint8_t *put_counters(uint8_t *p, struct tt_counters *base, const struct tt_counters *c)
{
	uint64_t nv[N_CTR], ov[N_CTR];
	unsigned mask = 0, i;

	ctr_get(c, nv);
	ctr_get(base, ov);
	for (i = 0; i < N_CTR; i++)
		if (nv[i] != ov[i])
			mask |= 1u << i;
	p = put_varint(p, mask);
	for (i = 0; i < N_CTR; i++)
		if (mask & (1u << i))
			p = put_varint(p, zigzag(nv[i] - ov[i]));
	ctr_set(base, nv);
	return p;
}

static uint8_t *put_addr(uint8_t *p, const uint8_t a[16], int v4)
{
	memcpy(p, v4 ? a + 12 : a, v4 ? 4 : 16);
	return p + (v4 ? 4 : 16);
}

static uint8_t *put_conn(uint8_t *p, struct tt_ev_conn *prev, const struct tt_event *ev)
{
	const struct tt_ev_conn *c = &ev->conn;
	unsigned mask = 0, n;
	int l4 = is_v4mapped(c->laddr), r4 = is_v4mapped(c->raddr);

	if (memcmp(c->raddr, prev->raddr, 16))
		mask |= r4 ? C_RADDR4 : C_RADDR16;
	if (c->rport != prev->rport)
		mask |= C_RPORT;
	if (c->lport != prev->lport)
		mask |= C_LPORT;
	if (memcmp(c->laddr, prev->laddr, 16))
		mask |= l4 ? C_LADDR4 : C_LADDR16;
	if (c->pid != prev->pid || c->tgid != prev->tgid)
		mask |= C_OWNER;
	if (c->family != prev->family || c->proto != prev->proto || c->flags != prev->flags)
		mask |= C_KIND;
	if (c->netns != prev->netns)
		mask |= C_NETNS;
	if (c->cgroup != prev->cgroup)
		mask |= C_CGROUP;
	if (memcmp(c->comm, prev->comm, TT_COMM_MAX))
		mask |= C_COMM;

	p = put_varint(p, mask);
	if (mask & (C_RADDR4 | C_RADDR16))
		p = put_addr(p, c->raddr, r4);
	if (mask & C_RPORT) {
		put16(p, c->rport);
		p += 2;
	}
	if (mask & C_LPORT) {
		put16(p, c->lport);
		p += 2;
	}
	if (mask & (C_LADDR4 | C_LADDR16))
		p = put_addr(p, c->laddr, l4);
	if (mask & C_OWNER) {
		/* a thread of the process, or the process itself: tgid is near pid */
		p = put_varint(p, c->pid);
		p = put_varint(p, zigzag((uint64_t)c->tgid - c->pid));
	}
	if (mask & C_KIND) {
		*p++ = c->family;
		*p++ = c->proto;
		*p++ = c->flags;
	}
	if (mask & C_NETNS)
		p = put_varint(p, c->netns);
	if (mask & C_CGROUP)
		p = put_varint(p, c->cgroup);
	if (mask & C_COMM) {
		/* up to the last non-zero byte, so any 16 bytes come back as they were */
		for (n = TT_COMM_MAX; n > 0 && !c->comm[n - 1]; n--)
			;
		*p++ = (uint8_t)n;
		memcpy(p, c->comm, n);
		p += n;
	}
	p = put_varint(p, zigzag(c->open_ns - ev->ts_ns));
	*prev = *c;
	prev->id = 0;
	prev->pad = 0;
	return p;
}

static unsigned varint_len(uint64_t v)
{
	unsigned n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

uint8_t *tt_segc_event_encode(struct tt_segc_block *bs, uint8_t *p, const struct tt_event *ev,
			      uint32_t slot, int is_new)
{
	unsigned type = ev->type;
	uint16_t xflags = ev->flags & ~TT_EVF_KEYFRAME;

	*p++ = (uint8_t)(type | ((ev->flags & TT_EVF_KEYFRAME) ? TAG_K : 0) | (xflags ? TAG_F : 0) |
			 (ev->ts_ns != bs->prev_ts ? TAG_T : 0));
	if (xflags)
		p = put_varint(p, xflags);
	if (ev->ts_ns != bs->prev_ts)
		p = put_varint(p, zigzag(ev->ts_ns - bs->prev_ts));
	bs->prev_ts = ev->ts_ns;

	if (is_new) {
		/* socket cookies come from one counter: a new id is often near the last */
		uint64_t id = tt_event_id(ev), d = zigzag(id - bs->prev_new_id);

		if (varint_len(d) < 8) {
			*p++ = ID_DELTA;
			p = put_varint(p, d);
		} else {
			*p++ = ID_FULL;
			put64(p, id);
			p += 8;
		}
		bs->prev_new_id = id;
	} else if (ev_has_id(type)) {
		/* a keyframe's SAMPLE follows its CONN; a CLOSE its STATE */
		if (bs->has_last && bs->last_slot == slot)
			*p++ = ID_SAME;
		else
			p = put_varint(p, (uint64_t)slot + ID_INDEX);
	}
	if (ev_has_id(type)) {
		bs->last_slot = slot;
		bs->has_last = 1;
	}

	switch (type) {
	case TT_EV_CONN:
		p = put_conn(p, &bs->prev_conn, ev);
		break;
	case TT_EV_SAMPLE:
		p = put_counters(p, &bs->ids[slot].base, &ev->sample.c);
		break;
	case TT_EV_STATE:
		*p++ = ev->state.old_state;
		*p++ = ev->state.new_state;
		p = put_varint(p, ev->state.err);
		break;
	case TT_EV_RESET:
		*p++ = ev->reset.received;
		break;
	case TT_EV_CLOSE:
		p = put_counters(p, &bs->ids[slot].base, &ev->close.c);
		*p++ = ev->close.reason;
		p = put_varint(p, ev->close.err);
		break;
	case TT_EV_TICK:
		p = put_varint(p, zigzag(ev->ts_ns - ev->tick.start_ns));
		break;
	case TT_EV_LOSS:
		p = put_varint(p, ev->loss.ring_drops);
		p = put_varint(p, ev->loss.socks_full);
		p = put_varint(p, ev->loss.peers_full);
		break;
	}
	return p;
}

/* ---- event decoding --------------------------------------------------------- */

int tt_segc_fail(struct tt_segc_cur *c, const char *why)
{
	if (!c->why)
		c->why = why;
	c->p = c->end; /* every later read fails too */
	return -1;
}

static int get_u8(struct tt_segc_cur *c, uint8_t *v)
{
	if (c->p >= c->end)
		return tt_segc_fail(c, "event cut short");
	*v = *c->p++;
	return 0;
}

static int get_bytes(struct tt_segc_cur *c, void *dst, size_t n)
{
	if ((size_t)(c->end - c->p) < n)
		return tt_segc_fail(c, "event cut short");
	memcpy(dst, c->p, n);
	c->p += n;
	return 0;
}

static int get_varint_slow(struct tt_segc_cur *c, uint64_t *v);

/* The common case first: a one-byte varint, or ten bytes left to read without bounds checks. */
static inline int get_varint(struct tt_segc_cur *c, uint64_t *v)
{
	const uint8_t *p = c->p;
	uint64_t x;
	unsigned shift;

	if (c->end - p >= 10) {
		if (!(p[0] & 0x80)) {
			*v = p[0];
			c->p = p + 1;
			return 0;
		}
		x = p[0] & 0x7f;
		for (shift = 7; shift < 63; shift += 7) {
			uint8_t b = *++p;

			x |= (uint64_t)(b & 0x7f) << shift;
			if (!(b & 0x80)) {
				*v = x;
				c->p = p + 1;
				return 0;
			}
		}
	}
	return get_varint_slow(c, v);
}

static int get_varint_slow(struct tt_segc_cur *c, uint64_t *v)
{
	uint64_t x = 0;
	unsigned shift;

	for (shift = 0; shift < 64; shift += 7) {
		uint8_t b;

		if (get_u8(c, &b))
			return -1;
		if (shift == 63 && b > 1)
			return tt_segc_fail(c, "varint overflows 64 bits");
		x |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*v = x;
			return 0;
		}
	}
	return tt_segc_fail(c, "varint longer than 10 bytes");
}

static int get_varint_max(struct tt_segc_cur *c, uint64_t max, uint64_t *v)
{
	if (get_varint(c, v))
		return -1;
	if (*v > max)
		return tt_segc_fail(c, "field value out of range");
	return 0;
}

/* The id reference of an event: its slot in the block's id table. */
static int get_idref(struct tt_segc_cur *c, struct tt_segc_block *bs, size_t *slot)
{
	uint64_t v, id;
	uint32_t s;
	uint8_t b[8];
	int err;

	if (get_varint(c, &v))
		return -1;
	if (v >= ID_INDEX) {
		if (v - ID_INDEX >= bs->n_ids)
			return tt_segc_fail(c, "id index out of range");
		*slot = (size_t)(v - ID_INDEX);
	} else if (v == ID_SAME) {
		if (!bs->has_last)
			return tt_segc_fail(c, "no previous id to repeat");
		*slot = bs->last_slot;
	} else {
		if (v == ID_FULL) {
			if (get_bytes(c, b, 8))
				return -1;
			id = get64(b);
		} else {
			if (get_varint(c, &v))
				return -1;
			id = bs->prev_new_id + unzigzag(v);
		}
		err = tt_segc_block_add_id(bs, id, &s);
		if (err == -E2BIG)
			return tt_segc_fail(c, "too many connection ids in one block");
		if (err)
			return tt_segc_fail(c, "out of memory for the id table");
		*slot = s;
		bs->prev_new_id = id;
	}
	bs->last_slot = *slot;
	bs->has_last = 1;
	return 0;
}

static int get_counters(struct tt_segc_cur *c, struct tt_counters *base, struct tt_counters *out)
{
	uint64_t mask, v[N_CTR], d;
	unsigned i;

	if (get_varint(c, &mask))
		return -1;
	if (mask & ~(uint64_t)CTR_KNOWN)
		return tt_segc_fail(c, "unknown counter fields");
	ctr_get(base, v);
	for (i = 0; i < N_CTR; i++) {
		if (!(mask & (1u << i)))
			continue;
		if (get_varint(c, &d))
			return -1;
		v[i] += unzigzag(d);
		if (v[i] > ctr_max[i])
			return tt_segc_fail(c, "counter out of range");
	}
	ctr_set(base, v);
	*out = *base;
	return 0;
}

static int get_addr(struct tt_segc_cur *c, uint64_t mask, unsigned m16, unsigned m4, uint8_t a[16])
{
	if ((mask & m16) && (mask & m4))
		return tt_segc_fail(c, "address given twice");
	if (mask & m16)
		return get_bytes(c, a, 16);
	if (mask & m4) {
		memset(a, 0, 10);
		a[10] = a[11] = 0xff;
		return get_bytes(c, a + 12, 4);
	}
	return 0;
}

static int get_conn(struct tt_segc_cur *c, struct tt_ev_conn *prev, struct tt_event *ev)
{
	struct tt_ev_conn *ci = &ev->conn;
	uint64_t mask, v;
	uint8_t b[3];

	if (get_varint(c, &mask))
		return -1;
	if (mask & ~(uint64_t)C_KNOWN)
		return tt_segc_fail(c, "unknown connection fields");
	*ci = *prev;
	if (get_addr(c, mask, C_RADDR16, C_RADDR4, ci->raddr))
		return -1;
	if ((mask & C_RPORT) && !get_bytes(c, b, 2))
		ci->rport = get16(b);
	if ((mask & C_LPORT) && !get_bytes(c, b, 2))
		ci->lport = get16(b);
	if (get_addr(c, mask, C_LADDR16, C_LADDR4, ci->laddr))
		return -1;
	if (mask & C_OWNER) {
		if (get_varint_max(c, UINT32_MAX, &v))
			return -1;
		ci->pid = (uint32_t)v;
		if (get_varint(c, &v))
			return -1;
		v = ci->pid + unzigzag(v);
		if (v > UINT32_MAX)
			return tt_segc_fail(c, "field value out of range");
		ci->tgid = (uint32_t)v;
	}
	if ((mask & C_KIND) && !get_bytes(c, b, 3)) {
		ci->family = b[0];
		ci->proto = b[1];
		ci->flags = b[2];
	}
	if ((mask & C_NETNS) && !get_varint_max(c, UINT32_MAX, &v))
		ci->netns = (uint32_t)v;
	if ((mask & C_CGROUP) && !get_varint(c, &v))
		ci->cgroup = v;
	if (mask & C_COMM) {
		uint8_t n;

		if (get_u8(c, &n))
			return -1;
		if (n > TT_COMM_MAX)
			return tt_segc_fail(c, "process name longer than 16 bytes");
		memset(ci->comm, 0, TT_COMM_MAX);
		if (get_bytes(c, ci->comm, n))
			return -1;
	}
	if (get_varint(c, &v))
		return -1;
	ci->open_ns = ev->ts_ns + unzigzag(v);
	if (c->why)
		return -1;
	*prev = *ci;
	return 0;
}

/*
 * One event from the block into ev. 1: an event; 2: an event of a type this
 * reader does not know, skipped; -1: undecodable (c->why).
 */
int tt_segc_event_decode(struct tt_segc_cur *c, struct tt_segc_block *bs, struct tt_event *ev)
{
	const uint8_t *body_end = NULL, *outer_end = c->end;
	uint8_t tag, b = 0; /* read through a sticky-error cursor: defined even on a short read */
	uint64_t v;
	size_t slot = 0;
	unsigned type;

	static const struct tt_event zero_ev;

	*ev = zero_ev; /* a copy: a memset of this size became rep stos, slow to start */
	if (get_u8(c, &tag))
		return -1;
	type = tag & TAG_TYPE;
	if (type == 0)
		return tt_segc_fail(c, "event type 0");
	ev->type = (uint16_t)type;
	ev->flags = (tag & TAG_K) ? TT_EVF_KEYFRAME : 0;
	if (tag & TAG_F) {
		if (get_varint_max(c, UINT16_MAX, &v))
			return -1;
		ev->flags |= (uint16_t)v;
	}
	ev->ts_ns = bs->prev_ts;
	if (tag & TAG_T) {
		if (get_varint(c, &v))
			return -1;
		ev->ts_ns += unzigzag(v);
	}
	bs->prev_ts = ev->ts_ns;
	if (tag & TAG_L) {
		if (get_varint(c, &v))
			return -1;
		if (v > (uint64_t)(c->end - c->p))
			return tt_segc_fail(c, "event length past the end of the block");
		body_end = c->p + v;
		c->end = body_end;
	}
	if (type >= TT_EV_TYPE_MAX) {
		if (!body_end)
			return tt_segc_fail(c, "unknown event type without a length");
		/* a later minor version's event: skippable by its length */
		c->p = body_end;
		c->end = outer_end;
		return 2;
	}
	if (ev_has_id(type)) {
		if (get_idref(c, bs, &slot))
			return -1;
	}
	switch (type) {
	case TT_EV_CONN:
		if (get_conn(c, &bs->prev_conn, ev))
			return -1;
		ev->conn.id = bs->ids[slot].id;
		break;
	case TT_EV_SAMPLE:
		if (get_counters(c, &bs->ids[slot].base, &ev->sample.c))
			return -1;
		ev->sample.id = bs->ids[slot].id;
		break;
	case TT_EV_STATE:
		ev->state.id = bs->ids[slot].id;
		get_u8(c, &ev->state.old_state);
		get_u8(c, &ev->state.new_state);
		if (!get_varint_max(c, UINT16_MAX, &v))
			ev->state.err = (uint16_t)v;
		break;
	case TT_EV_RESET:
		ev->reset.id = bs->ids[slot].id;
		get_u8(c, &ev->reset.received);
		break;
	case TT_EV_CLOSE:
		if (get_counters(c, &bs->ids[slot].base, &ev->close.c))
			return -1;
		ev->close.id = bs->ids[slot].id;
		get_u8(c, &b);
		ev->close.reason = b;
		if (!get_varint_max(c, UINT16_MAX, &v))
			ev->close.err = (uint16_t)v;
		break;
	case TT_EV_TICK:
		if (!get_varint(c, &v))
			ev->tick.start_ns = ev->ts_ns - unzigzag(v);
		break;
	case TT_EV_LOSS:
		get_varint(c, &ev->loss.ring_drops);
		get_varint(c, &ev->loss.socks_full);
		get_varint(c, &ev->loss.peers_full);
		break;
	}
	if (c->why)
		return -1;
	if (body_end) {
		/* a later minor version may append fields to a known event: skip them */
		c->p = body_end;
		c->end = outer_end;
	}
	return 1;
}

void tt_segc_seterr(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!buf || !len)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}
