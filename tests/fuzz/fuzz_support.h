/*
 * fuzz_support.h: what the libFuzzer targets of tests/fuzz share: a private
 * temporary directory, files written into it, a segment made around raw event
 * bytes (so the event decoder is reached past the frame's CRCs and zstd).
 * Header-only (static functions): each target is one translation unit.
 */
#ifndef TT_FUZZ_SUPPORT_H
#define TT_FUZZ_SUPPORT_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

/* A directory of our own under TMPDIR, made once, removed at exit. */
static char fz_dir[256];

static inline void fz_rmdir(void)
{
	char cmd[300];

	if (fz_dir[0] && snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fz_dir) < (int)sizeof(cmd))
		(void)!system(cmd);
}

static inline const char *fz_tmpdir(void)
{
	if (!fz_dir[0]) {
		const char *t = getenv("TMPDIR");

		snprintf(fz_dir, sizeof(fz_dir), "%s/tt-fuzz-XXXXXX", t && *t ? t : "/tmp");
		if (!mkdtemp(fz_dir))
			abort();
		atexit(fz_rmdir);
	}
	return fz_dir;
}

static inline void fz_write(const char *path, const uint8_t *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd < 0)
		abort();
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w <= 0)
			abort();
		p += w;
		n -= (size_t)w;
	}
	close(fd);
}

static inline void fz_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}
static inline void fz_put32(uint8_t *p, uint32_t v)
{
	fz_put16(p, (uint16_t)v);
	fz_put16(p + 2, (uint16_t)(v >> 16));
}
static inline void fz_put64(uint8_t *p, uint64_t v)
{
	fz_put32(p, (uint32_t)v);
	fz_put32(p + 4, (uint32_t)(v >> 32));
}

/*
 * A segment (docs/FORMAT.md) with one frame whose payload is raw compressed:
 * valid file header, frame header and CRCs, so only the events can be wrong.
 * Returns a malloc'ed buffer and its length in *len, or NULL.
 */
static inline uint8_t *fz_segment(const uint8_t *raw, size_t raw_len, uint32_t n_events,
				  uint16_t flags, uint64_t t_start, uint64_t t_end, size_t *len)
{
	size_t bound = ZSTD_compressBound(raw_len), clen;
	uint8_t *f = calloc(1, 64 + 48 + bound);
	ZSTD_CCtx *cc = ZSTD_createCCtx();

	if (!f || !cc)
		abort();
	memcpy(f, "\x89TTSEG\r\n", 8);
	fz_put16(f + 8, 1);
	fz_put16(f + 10, 1);
	fz_put16(f + 12, 64);
	fz_put64(f + 16, 1);
	fz_put32(f + 60, (uint32_t)crc32(0, f, 60));
	ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, 1);
	clen = ZSTD_compress2(cc, f + 112, bound, raw, raw_len);
	ZSTD_freeCCtx(cc);
	if (ZSTD_isError(clen)) {
		free(f);
		return NULL;
	}
	fz_put32(f + 64, 0x425454F7u);
	fz_put16(f + 68, 48);
	fz_put16(f + 70, flags);
	fz_put32(f + 72, (uint32_t)clen);
	fz_put32(f + 76, (uint32_t)raw_len);
	fz_put32(f + 80, n_events);
	fz_put32(f + 84, (uint32_t)crc32(0, f + 112, (uInt)clen));
	fz_put64(f + 88, t_start);
	fz_put64(f + 96, t_end);
	fz_put32(f + 108, (uint32_t)crc32(0, f + 64, 44));
	*len = 112 + clen;
	return f;
}

#endif /* TT_FUZZ_SUPPORT_H */
