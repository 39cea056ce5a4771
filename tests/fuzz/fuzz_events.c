/*
 * fuzz_events: the event decoder. Input: 4 bytes of event count (LE), 1 byte of
 * flags (bit 0: a delta block), then the block's raw encoded events. They are
 * wrapped in a valid segment (CRCs and zstd right, fuzz_support.h) so every
 * input reaches tt_segc_event_decode in lib/segcodec.c.
 */
#include "fuzz_support.h"
#include "segment.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tt_segr *r = NULL;
	struct tt_block_info bi;
	struct tt_event ev;
	char path[512], why[256];
	uint8_t *seg;
	size_t len;
	uint32_t n;
	int i = 0;

	if (size < 5)
		return 0;
	n = (uint32_t)data[0] | (uint32_t)data[1] << 8 | (uint32_t)data[2] << 16 |
	    (uint32_t)data[3] << 24;
	seg = fz_segment(data + 5, size - 5, n, data[4] & 1, 0, 0, &len);
	if (!seg)
		return 0;
	snprintf(path, sizeof(path), "%s/ev.tts", fz_tmpdir());
	fz_write(path, seg, len);
	free(seg);
	if (tt_segr_open(path, &r, why, sizeof(why)))
		abort(); /* the header is ours: it must open */
	if (tt_segr_next_block(r, &bi) > 0)
		while (tt_segr_next_event(r, &ev) > 0 && i++ < 1 << 22)
			;
	tt_segr_close(r);
	return 0;
}
