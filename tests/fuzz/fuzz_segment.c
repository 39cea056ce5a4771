/*
 * fuzz_segment: a whole segment file as input. Opens it as the analyzer does
 * (and with TT_SEGR_SALVAGE as verify does), walks every frame, decodes every
 * event, loads blocks by offset. Finds: crashes, hangs, sanitizer reports in
 * the file header, frame header and resynchronisation code.
 */
#include "fuzz_support.h"
#include "segment.h"

static void walk(const char *path, unsigned flags)
{
	struct tt_segr *r = NULL;
	struct tt_block_info bi;
	struct tt_event ev;
	char why[256];
	int rc, n = 0;
	uint64_t first = 0;

	if (tt_segr_openf(path, flags, &r, why, sizeof(why)))
		return;
	while ((rc = tt_segr_next_block(r, &bi)) != 0 && n++ < 10000) {
		if (rc < 0) {
			if (rc != -EBADMSG)
				break;
			continue;
		}
		if (!first)
			first = bi.offset;
		while (tt_segr_next_event(r, &ev) > 0)
			;
	}
	/* by offset, as replay does from the index: the first block, and places that are not one */
	if (tt_segr_load_block(r, first, &bi) > 0)
		while (tt_segr_next_event(r, &ev) > 0)
			;
	(void)tt_segr_load_block(r, first + 1, &bi);
	(void)tt_segr_load_block(r, UINT64_MAX - 8, &bi);
	tt_segr_close(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/seg.tts", fz_tmpdir());
	fz_write(path, data, size);
	walk(path, 0);
	walk(path, TT_SEGR_SALVAGE);
	return 0;
}
