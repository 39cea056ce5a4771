/*
 * segment.c: see segment.h; the byte layout is docs/FORMAT.md, and the
 * constants and encoders here follow that document section by section.
 *
 * Workload: the writer encodes every event of a recording once (appends to a
 * memory block, no allocation per event once the buffers have grown) and
 * compresses a block every few seconds; the reader decodes whole blocks, event
 * by event, from buffers it keeps between blocks. Both keep one zstd context.
 *
 * Everything read from a file is distrusted: lengths are checked against caps
 * and against the file before anything is allocated or read, varints are
 * bounds-checked, and a failure makes the block (not the file) unreadable.
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
#include <zlib.h>
#include <zstd.h>

#include "idmap.h"
#include "mem.h"
#include "segment.h"

/* ---- format constants (docs/FORMAT.md) ------------------------------------ */

static const uint8_t seg_magic[8] = {0x89, 'T', 'T', 'S', 'E', 'G', '\r', '\n'};
#define SEG_MINOR	 1    /* this writer's minor version; readers accept any minor */
#define SEG_HDR_LEN	 64   /* as written by version 1.0 */
#define SEG_HDR_MAX	 4096 /* a reader refuses longer headers */
#define SEG_RFLAGS_KNOWN 0x00 /* required header flags this reader knows (bits 0-7) */

#define FRAME_MAGIC	   0x425454f7u /* bytes f7 54 54 42 */
#define FRAME_HDR_LEN	   48
#define FRAME_HDR_MAX	   1024
#define FRAME_F_DELTA	   0x0001 /* 1.1: the block continues the previous one's state */
#define FRAME_RFLAGS_KNOWN 0x01	  /* required frame flags this reader knows (bits 0-7) */

#define RAW_CAP (64u << 20) /* a block's encoded events, before compression */
#define IDS_CAP (1u << 20)  /* distinct connection ids in one block */

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
    UINT32_MAX, UINT32_MAX,			    /* srtt, rttvar */
    UINT8_MAX,					    /* state */
    UINT32_MAX, UINT32_MAX, UINT32_MAX,		    /* retrans, rst_sent, rst_recv */
};

/*
 * Longest encoding of one event (a CONN with every field: 1 + 3 + 10 + 9 + 2 +
 * 16 + 2 + 2 + 16 + 5 + 5 + 3 + 5 + 10 + 17 + 10 = 116). The writer reserves
 * this much before encoding, so encoding itself never fails half-way.
 */
#define EV_MAX 160

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

static void seterr(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void seterr(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!buf || !len)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

/* ---- block state shared by encoder and decoder ----------------------------- */

struct idslot {
	uint64_t id;
	struct tt_counters base; /* this id's counters as last coded in the block */
};

/* What both sides remember while coding one block; reset at every block start. */
struct blockstate {
	struct idslot *ids; /* the block's id table, in order of first occurrence */
	size_t n_ids, cap_ids;
	struct tt_ev_conn prev_conn; /* the last CONN coded, for absent fields */
	uint64_t prev_ts;	     /* ts of the last event coded (the block's t_start at first) */
	uint64_t prev_new_id; /* the last id entered in the table (0 at first), for ID_DELTA */
	size_t last_slot;     /* slot of the last event that named an id, for ID_SAME */
	int has_last;	      /* whether there was one */
};

static void bs_reset(struct blockstate *bs, uint64_t t_start)
{
	bs->n_ids = 0;
	memset(&bs->prev_conn, 0, sizeof(bs->prev_conn));
	bs->prev_ts = t_start;
	bs->prev_new_id = 0;
	bs->last_slot = 0;
	bs->has_last = 0;
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

/* Every id-carrying member starts with its id; read it through the right one. */
static uint64_t ev_id(const struct tt_event *ev)
{
	switch (ev->type) {
	case TT_EV_CONN:
		return ev->conn.id;
	case TT_EV_SAMPLE:
		return ev->sample.id;
	case TT_EV_STATE:
		return ev->state.id;
	case TT_EV_RESET:
		return ev->reset.id;
	default:
		return ev->close.id;
	}
}

/* IPv4 is stored v4-mapped in memory (::ffff:a.b.c.d): that form takes 4 bytes. */
static int is_v4mapped(const uint8_t a[16])
{
	static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	return !memcmp(a, prefix, sizeof(prefix));
}

/* ---- writer ---------------------------------------------------------------- */

struct tt_segw {
	int fd;
	uint64_t size;		/* header and complete frames: where the next frame goes */
	ZSTD_CCtx *cctx;	/* made once, reused for every block */
	struct tt_idmap *index; /* id -> slot in bs.ids, for the block being built */
	struct blockstate bs;
	uint8_t *raw; /* the block being built, encoded */
	size_t raw_len, raw_cap;
	uint8_t *frame; /* the frame being written: header and compressed payload */
	size_t frame_cap;
	uint64_t t_start, t_end; /* first and last ts of the block */
	uint32_t n_events;
	int delta; /* the block being built opens without a keyframe (FRAME_F_DELTA) */
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

static void seg_header_encode(uint8_t h[SEG_HDR_LEN], const struct tt_seg_meta *m)
{
	memset(h, 0, SEG_HDR_LEN);
	memcpy(h, seg_magic, sizeof(seg_magic));
	put16(h + 8, TT_SEG_VERSION);
	put16(h + 10, SEG_MINOR);
	put16(h + 12, SEG_HDR_LEN);
	put16(h + 14, 0); /* flags */
	put64(h + 16, m->recording_id);
	put64(h + 24, (uint64_t)m->mono_to_wall_ns);
	put64(h + 32, m->created_wall_ns);
	put64(h + 40, m->boot_id_hi);
	put64(h + 48, m->boot_id_lo);
	put32(h + 56, m->seq);
	put32(h + 60, (uint32_t)crc32(0, h, SEG_HDR_LEN - 4));
}

int tt_segw_create(const char *path, const struct tt_seg_meta *meta, int mode, struct tt_segw **out,
		   char *why, size_t why_len)
{
	uint8_t h[SEG_HDR_LEN];
	struct tt_segw *w;
	int err;

	*out = NULL;
	w = calloc(1, sizeof(*w));
	if (!w) {
		seterr(why, why_len, "%s: out of memory", path);
		return -ENOMEM;
	}
	w->fd = -1;
	w->cctx = ZSTD_createCCtx();
	w->index = tt_idmap_new();
	if (!w->cctx || !w->index) {
		err = -ENOMEM;
		seterr(why, why_len, "%s: out of memory", path);
		goto fail;
	}
	if (ZSTD_isError(ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_compressionLevel, 3)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_checksumFlag, 1))) {
		err = -EINVAL;
		seterr(why, why_len, "%s: cannot set up zstd", path);
		goto fail;
	}
	w->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (w->fd < 0) {
		err = -errno;
		seterr(why, why_len, "%s: %s", path, strerror(-err));
		goto fail;
	}
	seg_header_encode(h, meta);
	err = write_all(w->fd, h, sizeof(h), 0);
	if (err) {
		seterr(why, why_len, "%s: writing the header: %s", path, strerror(-err));
		/* the file is ours (O_EXCL): leave nothing half-made behind */
		unlink(path);
		goto fail;
	}
	w->size = SEG_HDR_LEN;
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

int tt_segw_append(struct tt_segw *w, const struct tt_event *ev)
{
	struct blockstate *bs = &w->bs;
	unsigned type = ev->type;
	uint16_t xflags = ev->flags & ~TT_EVF_KEYFRAME;
	uint32_t slot = 0;
	int is_new = 0, err;
	uint8_t *p;

	if (type == 0 || type >= TT_EV_TYPE_MAX) {
		snprintf(w->err, sizeof(w->err), "cannot store an event of unknown type %u", type);
		return -EINVAL;
	}
	if (w->n_events == UINT32_MAX || w->raw_len + EV_MAX > RAW_CAP) {
		snprintf(w->err, sizeof(w->err), "block full (%zu bytes, %u events): flush first",
			 w->raw_len, w->n_events);
		return -E2BIG;
	}
	if (!w->n_events)
		bs_reset(bs, ev->ts_ns);
	err = tt_grow((void **)&w->raw, &w->raw_cap, w->raw_len + EV_MAX, 1);
	if (err) {
		snprintf(w->err, sizeof(w->err), "out of memory for a block of %zu bytes",
			 w->raw_len + EV_MAX);
		return err;
	}
	/* enter a new id before any byte is written, so a failure changes nothing */
	if (ev_has_id(type) && !tt_idmap_get(w->index, ev_id(ev), &slot)) {
		if (bs->n_ids >= IDS_CAP) {
			snprintf(w->err, sizeof(w->err),
				 "block full (%zu connection ids): flush first", bs->n_ids);
			return -E2BIG;
		}
		err = tt_grow((void **)&bs->ids, &bs->cap_ids, bs->n_ids + 1, sizeof(*bs->ids));
		if (!err)
			err = tt_idmap_put(w->index, ev_id(ev), (uint32_t)bs->n_ids);
		if (err) {
			snprintf(w->err, sizeof(w->err), "out of memory for the block's id table");
			return err;
		}
		slot = (uint32_t)bs->n_ids++;
		memset(&bs->ids[slot], 0, sizeof(bs->ids[slot]));
		bs->ids[slot].id = ev_id(ev);
		is_new = 1;
	}
	if (!w->n_events)
		w->t_start = ev->ts_ns;

	p = w->raw + w->raw_len;
	*p++ = (uint8_t)(type | ((ev->flags & TT_EVF_KEYFRAME) ? TAG_K : 0) | (xflags ? TAG_F : 0) |
			 (ev->ts_ns != bs->prev_ts ? TAG_T : 0));
	if (xflags)
		p = put_varint(p, xflags);
	if (ev->ts_ns != bs->prev_ts)
		p = put_varint(p, zigzag(ev->ts_ns - bs->prev_ts));
	bs->prev_ts = ev->ts_ns;

	if (is_new) {
		/* socket cookies come from one counter: a new id is often near the last */
		uint64_t id = ev_id(ev), d = zigzag(id - bs->prev_new_id);

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
	w->raw_len = (size_t)(p - w->raw);
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

static void frame_header_encode(uint8_t *h, unsigned flags, uint32_t payload_len,
				uint32_t raw_len, uint32_t n_events, uint32_t payload_crc,
				uint64_t t_start, uint64_t t_end)
{
	memset(h, 0, FRAME_HDR_LEN);
	put32(h, FRAME_MAGIC);
	put16(h + 4, FRAME_HDR_LEN);
	put16(h + 6, (uint16_t)flags);
	put32(h + 8, payload_len);
	put32(h + 12, raw_len);
	put32(h + 16, n_events);
	put32(h + 20, payload_crc);
	put64(h + 24, t_start);
	put64(h + 32, t_end);
	put32(h + 40, 0); /* reserved */
	put32(h + 44, (uint32_t)crc32(0, h, FRAME_HDR_LEN - 4));
}

int tt_segw_flush(struct tt_segw *w, int sync, struct tt_block_info *info)
{
	size_t bound, clen;
	uint32_t pcrc;
	int err;

	if (!w->n_events) {
		snprintf(w->err, sizeof(w->err), "nothing to flush");
		return -ENODATA;
	}
	bound = ZSTD_compressBound(w->raw_len);
	err = tt_grow((void **)&w->frame, &w->frame_cap, FRAME_HDR_LEN + bound, 1);
	if (err) {
		snprintf(w->err, sizeof(w->err), "out of memory compressing a block of %zu bytes",
			 w->raw_len);
		return err;
	}
	clen = ZSTD_compress2(w->cctx, w->frame + FRAME_HDR_LEN, bound, w->raw, w->raw_len);
	if (ZSTD_isError(clen)) {
		snprintf(w->err, sizeof(w->err), "zstd: %s", ZSTD_getErrorName(clen));
		return -EIO;
	}
	pcrc = (uint32_t)crc32(0, w->frame + FRAME_HDR_LEN, (uInt)clen);
	frame_header_encode(w->frame, w->delta ? FRAME_F_DELTA : 0, (uint32_t)clen,
			    (uint32_t)w->raw_len, w->n_events, pcrc,
			    w->t_start, w->t_end);

	err = write_all(w->fd, w->frame, FRAME_HDR_LEN + clen, w->size);
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
		info->length = (uint32_t)(FRAME_HDR_LEN + clen);
		info->raw_len = (uint32_t)w->raw_len;
		info->t_start = w->t_start;
		info->t_end = w->t_end;
		info->n_events = w->n_events;
		info->checksum = pcrc;
		info->keyframe = !w->delta;
	}
	w->size += FRAME_HDR_LEN + clen;
	block_reset(w);
	return 0;
}

void tt_segw_close(struct tt_segw *w)
{
	if (!w)
		return;
	if (w->fd >= 0)
		close(w->fd);
	ZSTD_freeCCtx(w->cctx);
	tt_idmap_free(w->index);
	free(w->bs.ids);
	free(w->raw);
	free(w->frame);
	free(w);
}

/* ---- reader ---------------------------------------------------------------- */

#define SCAN_CHUNK 65536

struct tt_segr {
	int fd;
	struct tt_seg_meta meta;
	int meta_ok;	    /* 0 when opened with TT_SEGR_SALVAGE over a damaged header */
	uint64_t file_size; /* refreshed at every frame lookup: the file may grow */
	uint64_t pos;	    /* where the next frame is expected */
	int resync;	    /* after damage: look for the next frame magic from pos */
	int ioerr;	    /* the negative errno behind the last FRAME_EIO */
	ZSTD_DCtx *dctx;    /* made once, reused for every block */
	uint8_t *payload;   /* compressed payload of the frame being loaded */
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
	struct blockstate bs;
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
	uint8_t h[SEG_HDR_MAX];
	struct tt_segr *r;
	struct stat st;
	unsigned major, minor, hlen, hflags;
	char damage[160] = "";
	int err;

	*out = NULL;
	r = calloc(1, sizeof(*r));
	if (!r) {
		seterr(why, why_len, "%s: out of memory", path);
		return -ENOMEM;
	}
	/* O_NONBLOCK: a FIFO put where a segment belongs must not hang the open */
	/* O_NOFOLLOW: a symbolic link in a store is never followed */
	r->fd = open(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
	if (r->fd < 0) {
		err = -errno;
		seterr(why, why_len, "%s: %s", path, strerror(-err));
		goto fail;
	}
	if (fstat(r->fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		err = -EINVAL;
		seterr(why, why_len, "%s: not a regular file", path);
		goto fail;
	}
	r->dctx = ZSTD_createDCtx();
	if (!r->dctx) {
		err = -ENOMEM;
		seterr(why, why_len, "%s: out of memory", path);
		goto fail;
	}
	err = refresh_size(r);
	if (err) {
		seterr(why, why_len, "%s: %s", path, r->err);
		goto fail;
	}

	/*
	 * Stable across versions: magic, major, minor, header length at 0..13 and
	 * the CRC in the header's last 4 bytes. Check the CRC before believing the
	 * version, so a flipped bit reads as damage, not as a future format.
	 */
	if (r->file_size < 16) {
		snprintf(damage, sizeof(damage), "header cut short (%llu bytes)",
			 (unsigned long long)r->file_size);
	} else if ((err = read_at(r->fd, h, 16, 0))) {
		goto io_fail;
	} else if (memcmp(h, seg_magic, sizeof(seg_magic))) {
		snprintf(damage, sizeof(damage), "not a tcptop segment (bad magic)");
	} else {
		major = get16(h + 8);
		minor = get16(h + 10);
		hlen = get16(h + 12);
		if (hlen < SEG_HDR_LEN || hlen > SEG_HDR_MAX) {
			snprintf(damage, sizeof(damage), "bad header length %u", hlen);
		} else if (r->file_size < hlen) {
			snprintf(damage, sizeof(damage), "header cut short (%llu of %u bytes)",
				 (unsigned long long)r->file_size, hlen);
		} else if ((err = read_at(r->fd, h, hlen, 0))) {
			goto io_fail;
		} else if (get32(h + hlen - 4) != (uint32_t)crc32(0, h, hlen - 4)) {
			snprintf(damage, sizeof(damage), "header checksum mismatch");
		} else if (major != TT_SEG_VERSION) {
			err = -ENOTSUP;
			seterr(why, why_len, "%s: segment format %u.%u, this build reads %u.x",
			       path, major, minor, TT_SEG_VERSION);
			goto fail;
		} else if ((hflags = get16(h + 14)) & 0xff & ~SEG_RFLAGS_KNOWN) {
			err = -ENOTSUP;
			seterr(why, why_len, "%s: segment needs unsupported features (flags 0x%x)",
			       path, hflags);
			goto fail;
		} else {
			/* a newer minor may have a longer header: its extra fields are skipped */
			r->meta.recording_id = get64(h + 16);
			r->meta.mono_to_wall_ns = (int64_t)get64(h + 24);
			r->meta.created_wall_ns = get64(h + 32);
			r->meta.boot_id_hi = get64(h + 40);
			r->meta.boot_id_lo = get64(h + 48);
			r->meta.seq = get32(h + 56);
			r->meta_ok = 1;
			r->pos = hlen;
		}
	}
	if (damage[0]) {
		if (!(flags & TT_SEGR_SALVAGE)) {
			err = -EBADMSG;
			seterr(why, why_len, "%s: %s", path, damage);
			goto fail;
		}
		/* frames do not depend on the header: look for them from the start */
		r->pos = 0;
		r->resync = 1;
		snprintf(r->err, sizeof(r->err), "%s", damage);
		seterr(why, why_len, "%s: %s", path, damage);
	} else {
		snprintf(r->err, sizeof(r->err), "no error");
	}
	*out = r;
	return 0;
io_fail:
	seterr(why, why_len, "%s: reading the header: %s", path, strerror(-err));
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
	FRAME_OK,    /* a block, loaded */
	FRAME_NOHDR, /* no trustworthy frame header here */
	FRAME_BAD,   /* a trustworthy header, but the frame is cut short or damaged */
	FRAME_EIO,   /* the file could not be read, or no memory: r->ioerr says which */
};

/*
 * Check and load the frame at off. *next is where the following frame is
 * expected (or where to start looking for one) and info is filled from the
 * header whenever the header is trustworthy; r->err says what went wrong.
 */
static enum frame_res load_frame(struct tt_segr *r, uint64_t off, struct tt_block_info *info,
				 uint64_t *next)
{
	uint8_t h[FRAME_HDR_MAX];
	uint64_t avail = r->file_size > off ? r->file_size - off : 0;
	unsigned hlen, hflags;
	uint32_t plen, raw_len, n_events, pcrc;
	uint64_t flen;
	size_t got;
	int err;

	*next = off + 1;
	memset(info, 0, sizeof(*info));
	info->offset = off;
	r->loaded = 0;

	got = avail < FRAME_HDR_LEN ? (size_t)avail : FRAME_HDR_LEN;
	if ((err = read_at(r->fd, h, got, off)))
		goto io;
	if (got < 4 || get32(h) != FRAME_MAGIC) {
		if (got < 4 && got == avail && !memcmp(h, "\xf7TTB", got))
			goto cut_hdr;
		snprintf(r->err, sizeof(r->err), "no frame at offset %llu (bad magic)",
			 (unsigned long long)off);
		return FRAME_NOHDR;
	}
	if (got < FRAME_HDR_LEN)
		goto cut_hdr;
	hlen = get16(h + 4);
	if (hlen < FRAME_HDR_LEN || hlen > FRAME_HDR_MAX) {
		snprintf(r->err, sizeof(r->err), "frame at offset %llu: bad header length %u",
			 (unsigned long long)off, hlen);
		return FRAME_NOHDR;
	}
	if (avail < hlen)
		goto cut_hdr;
	if (hlen > FRAME_HDR_LEN && (err = read_at(r->fd, h, hlen, off)))
		goto io;
	if (get32(h + hlen - 4) != (uint32_t)crc32(0, h, hlen - 4)) {
		snprintf(r->err, sizeof(r->err), "frame at offset %llu: header checksum mismatch",
			 (unsigned long long)off);
		return FRAME_NOHDR;
	}

	/* the header is as written: its length can be trusted to skip the frame */
	hflags = get16(h + 6);
	plen = get32(h + 8);
	raw_len = get32(h + 12);
	n_events = get32(h + 16);
	pcrc = get32(h + 20);
	flen = (uint64_t)hlen + plen;
	info->length = flen <= UINT32_MAX ? (uint32_t)flen : UINT32_MAX;
	info->raw_len = raw_len;
	info->n_events = n_events;
	info->checksum = pcrc;
	info->t_start = get64(h + 24);
	info->t_end = get64(h + 32);
	/* a 1.0 file never sets the flag: every block of it opens with a keyframe */
	info->keyframe = !(hflags & FRAME_F_DELTA);
	*next = off + flen;

	if (hflags & 0xff & ~FRAME_RFLAGS_KNOWN) {
		snprintf(r->err, sizeof(r->err),
			 "frame at offset %llu needs unsupported features (flags 0x%x)",
			 (unsigned long long)off, hflags);
		return FRAME_BAD;
	}
	if (raw_len > RAW_CAP || plen > ZSTD_compressBound(RAW_CAP) || !n_events ||
	    n_events > raw_len / 2) {
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
	if (tt_grow((void **)&r->payload, &r->payload_cap, plen, 1) ||
	    tt_grow((void **)&r->raw, &r->raw_cap, raw_len, 1)) {
		snprintf(r->err, sizeof(r->err), "frame at offset %llu: out of memory",
			 (unsigned long long)off);
		r->ioerr = -ENOMEM;
		return FRAME_EIO;
	}
	if ((err = read_at(r->fd, r->payload, plen, off + hlen)))
		goto io;
	if ((uint32_t)crc32(0, r->payload, plen) != pcrc) {
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
	bs_reset(&r->bs, info->t_start);
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

	while (off + 4 <= r->file_size) {
		size_t n =
		    r->file_size - off < SCAN_CHUNK ? (size_t)(r->file_size - off) : SCAN_CHUNK;
		size_t i;
		int err = read_at(r->fd, r->scan, n, off);

		if (err)
			return err == -ENODATA ? -EIO : err;
		for (i = 0; i + 4 <= n; i++) {
			if (r->scan[i] == 0xf7 && get32(r->scan + i) == FRAME_MAGIC) {
				*at = off + i;
				return 0;
			}
		}
		if (n < SCAN_CHUNK)
			break;
		off += n - 3; /* a magic may straddle two chunks */
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

/* ---- event decoding --------------------------------------------------------- */

struct cur {
	const uint8_t *p, *end;
	const char *why; /* first failure */
};

static int fail(struct cur *c, const char *why)
{
	if (!c->why)
		c->why = why;
	c->p = c->end; /* every later read fails too */
	return -1;
}

static int get_u8(struct cur *c, uint8_t *v)
{
	if (c->p >= c->end)
		return fail(c, "event cut short");
	*v = *c->p++;
	return 0;
}

static int get_bytes(struct cur *c, void *dst, size_t n)
{
	if ((size_t)(c->end - c->p) < n)
		return fail(c, "event cut short");
	memcpy(dst, c->p, n);
	c->p += n;
	return 0;
}

static int get_varint_slow(struct cur *c, uint64_t *v);

/* The common case first: a one-byte varint, or ten bytes left to read without bounds checks. */
static inline int get_varint(struct cur *c, uint64_t *v)
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

static int get_varint_slow(struct cur *c, uint64_t *v)
{
	uint64_t x = 0;
	unsigned shift;

	for (shift = 0; shift < 64; shift += 7) {
		uint8_t b;

		if (get_u8(c, &b))
			return -1;
		if (shift == 63 && b > 1)
			return fail(c, "varint overflows 64 bits");
		x |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*v = x;
			return 0;
		}
	}
	return fail(c, "varint longer than 10 bytes");
}

static int get_varint_max(struct cur *c, uint64_t max, uint64_t *v)
{
	if (get_varint(c, v))
		return -1;
	if (*v > max)
		return fail(c, "field value out of range");
	return 0;
}

/* The id reference of an event: its slot in the block's id table. */
static int get_idref(struct cur *c, struct blockstate *bs, size_t *slot)
{
	uint64_t v, id;
	uint8_t b[8];

	if (get_varint(c, &v))
		return -1;
	if (v >= ID_INDEX) {
		if (v - ID_INDEX >= bs->n_ids)
			return fail(c, "id index out of range");
		*slot = (size_t)(v - ID_INDEX);
	} else if (v == ID_SAME) {
		if (!bs->has_last)
			return fail(c, "no previous id to repeat");
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
		if (bs->n_ids >= IDS_CAP)
			return fail(c, "too many connection ids in one block");
		if (tt_grow((void **)&bs->ids, &bs->cap_ids, bs->n_ids + 1, sizeof(*bs->ids)))
			return fail(c, "out of memory for the id table");
		*slot = bs->n_ids++;
		memset(&bs->ids[*slot], 0, sizeof(bs->ids[0]));
		bs->ids[*slot].id = id;
		bs->prev_new_id = id;
	}
	bs->last_slot = *slot;
	bs->has_last = 1;
	return 0;
}

static int get_counters(struct cur *c, struct tt_counters *base, struct tt_counters *out)
{
	uint64_t mask, v[N_CTR], d;
	unsigned i;

	if (get_varint(c, &mask))
		return -1;
	if (mask & ~(uint64_t)CTR_KNOWN)
		return fail(c, "unknown counter fields");
	ctr_get(base, v);
	for (i = 0; i < N_CTR; i++) {
		if (!(mask & (1u << i)))
			continue;
		if (get_varint(c, &d))
			return -1;
		v[i] += unzigzag(d);
		if (v[i] > ctr_max[i])
			return fail(c, "counter out of range");
	}
	ctr_set(base, v);
	*out = *base;
	return 0;
}

static int get_addr(struct cur *c, uint64_t mask, unsigned m16, unsigned m4, uint8_t a[16])
{
	if ((mask & m16) && (mask & m4))
		return fail(c, "address given twice");
	if (mask & m16)
		return get_bytes(c, a, 16);
	if (mask & m4) {
		memset(a, 0, 10);
		a[10] = a[11] = 0xff;
		return get_bytes(c, a + 12, 4);
	}
	return 0;
}

static int get_conn(struct cur *c, struct tt_ev_conn *prev, struct tt_event *ev)
{
	struct tt_ev_conn *ci = &ev->conn;
	uint64_t mask, v;
	uint8_t b[3];

	if (get_varint(c, &mask))
		return -1;
	if (mask & ~(uint64_t)C_KNOWN)
		return fail(c, "unknown connection fields");
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
			return fail(c, "field value out of range");
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
			return fail(c, "process name longer than 16 bytes");
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
static int decode_event(struct cur *c, struct blockstate *bs, struct tt_event *ev)
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
		return fail(c, "event type 0");
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
			return fail(c, "event length past the end of the block");
		body_end = c->p + v;
		c->end = body_end;
	}
	if (type >= TT_EV_TYPE_MAX) {
		if (!body_end)
			return fail(c, "unknown event type without a length");
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

int tt_segr_next_event(struct tt_segr *r, struct tt_event *ev)
{
	for (;;) {
		struct cur c;
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
		res = r->n_done < r->n_events ? decode_event(&c, &r->bs, ev)
					      : fail(&c, "more events than the header says");
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
	free(r->bs.ids);
	free(r);
}
