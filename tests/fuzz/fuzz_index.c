/*
 * fuzz_index: a hostile index.db. The input is written as index.db beside a
 * copy of the golden store's segments (TT_FUZZ_STORE) and read through the
 * store API as the analyzer reads it: open, the span, a scan of everything
 * through the aggregator, a window, and rollup pieces. Finds what the range
 * checks of lib/scan.c and lib/replay.c miss (issue 14, item 11).
 */
#include "fuzz_support.h"
#include "scan.h"
#include "store.h"

static char store_dir[512];

static int on_table(void *ctx, const struct tt_scan_rec *rec, const struct tt_table *t,
		    const struct tt_agg *agg)
{
	(void)rec;
	(void)agg;
	*(uint64_t *)ctx += t->n;
	return 0;
}

static int on_piece(void *ctx, const struct tt_scan_rec *rec, const struct tt_piece *p)
{
	(void)rec;
	*(uint64_t *)ctx += p->sum.bytes_in;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tt_scan_cb cb = { .on_table = on_table };
	struct tt_store *st = NULL;
	char path[600], why[512], warn[512];
	uint64_t s = 0, e = 0, n = 0;

	if (!store_dir[0]) {
		char cmd[1200];

		snprintf(store_dir, sizeof(store_dir), "%s/store", fz_tmpdir());
		snprintf(cmd, sizeof(cmd), "mkdir '%s' && cp '%s'/*.tts '%s'/", store_dir,
			 TT_FUZZ_STORE, store_dir);
		if (system(cmd))
			abort();
	}
	snprintf(path, sizeof(path), "%s/index.db", store_dir);
	fz_write(path, data, size);
	if (tt_store_open(store_dir, TT_STORE_READ, 0, 0, &st, why, sizeof(why)) == 0) {
		if (tt_scan_span(st, &s, &e) == 0) {
			(void)tt_scan(st, 0, 0, &cb, &n, NULL, warn, sizeof(warn), why,
				      sizeof(why));
			cb.on_piece = on_piece;
			(void)tt_scan(st, s + (e - s) / 3, e - (e - s) / 3, &cb, &n, NULL, warn,
				      sizeof(warn), why, sizeof(why));
		}
		tt_store_close(st);
	}
	/* a reader must leave nothing behind that the next input would read */
	snprintf(path, sizeof(path), "%s/index.db-wal", store_dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/index.db-shm", store_dir);
	unlink(path);
	return 0;
}
