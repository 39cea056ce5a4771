/*
 * info DIR: what a store holds, from the index alone (fast on any size):
 * recordings, time span, hosts, segments and blocks, size and compression,
 * connections, and the recorder's own losses.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "buf.h"
#include "cmd.h"
#include "escape.h"
#include "format.h"
#include "idxcheck.h"
#include "store.h"

static uint64_t file_size(const char *dir, const char *name)
{
	char path[4096];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return stat(path, &st) ? 0 : (uint64_t)st.st_size;
}

/* A time as a store holds it (Unix ns in (0, TT_TIME_MAX]); info says when one is not. */
static int bad_ns(int64_t v)
{
	return v <= 0 || v > TT_TIME_MAX;
}

struct rec_print {
	int utc, json, n;
};

static int print_recording(void *ctx, const struct tt_store_rec *r)
{
	struct rec_print *p = ctx;
	int utc = p->utc;
	/* a recording without an end (it died, or records) ends with its last segment */
	int64_t start = r->start_ns, end = r->has_end ? r->end_ns : r->seg_end_ns;
	const char *host = r->host;
	const char *kernel = r->kernel;
	int clean = r->clean_stop;
	char a[64], b[64], d[32], h[260], k[260];

	if (bad_ns(start) || (end && (bad_ns(end) || end < start)))
		cmd_err("info: warning: index: recordings row %" PRId64 ": start_ns %" PRId64
			" / end %" PRId64 " is not a time span (the index is damaged: verify, "
			"reindex)",
			r->id, start, end);

	if (p->json) {
		struct tt_buf jb = { 0 };

		tt_buf_printf(&jb, "%s{\"id\":%" PRId64 ",\"host\":", p->n ? "," : "", r->id);
		tt_json_str(&jb, host ? host : "");
		tt_buf_printf(&jb, ",\"kernel\":");
		tt_json_str(&jb, kernel ? kernel : "");
		tt_buf_printf(&jb,
			      ",\"start_ns\":%" PRId64 ",\"end_ns\":%" PRId64 ",\"clean_stop\":%s}",
			      start, end, clean ? "true" : "false");
		fputs(jb.p ? jb.p : "", stdout);
		tt_buf_free(&jb);
	} else {
		printf("  #%-3" PRId64 " %s  %s  %s -> %s (%s)%s\n", r->id,
		       tt_esc_cstr(h, sizeof(h), host ? host : "", host ? strlen(host) : 0),
		       tt_esc_cstr(k, sizeof(k), kernel ? kernel : "", kernel ? strlen(kernel) : 0),
		       tt_fmt_time(a, sizeof(a), (uint64_t)start, utc, TT_TIME_ZONE),
		       end ? tt_fmt_time(b, sizeof(b), (uint64_t)end, utc, TT_TIME_ZONE) : "?",
		       end > start ? tt_fmt_duration(d, sizeof(d), (uint64_t)end - (uint64_t)start)
				   : "-",
		       clean ? "" : "  UNCLEAN STOP (crash or kill: the last block may be lost)");
	}
	p->n++;
	return 0;
}

static int print_recordings(struct tt_store *st, int utc, int json)
{
	struct rec_print p = { .utc = utc, .json = json };
	int err;

	if (json)
		fputs(",\"recordings\":[", stdout);
	err = tt_store_each_recording(st, TT_REC_SEG_END, print_recording, &p);
	if (json)
		fputs("]", stdout);
	return err ? -1 : p.n;
}

struct seg_sizes {
	const char *dir;
	uint64_t bytes;
};

static int add_segment_size(void *ctx, const char *file)
{
	struct seg_sizes *ss = ctx;

	ss->bytes += file_size(ss->dir, file);
	return 0;
}

int cmd_info(int argc, char **argv)
{
	const char *dir = NULL;
	int utc = 0, json = 0, i, err, rc = 1;
	struct tt_store *st = NULL;
	struct tt_store_totals tot;
	struct seg_sizes ss;
	char why[512], a[64], b[64], s1[32], s2[32], s3[32];
	uint64_t seg_bytes = 0, raw = 0, stored = 0, idx_bytes;
	int64_t nseg = 0, nsealed = 0, nblocks = 0, nconns = 0, t0 = 0, t1 = 0;
	int64_t drops = 0, sfull = 0, pfull = 0;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			puts("Usage: tcptop-analyze info [--utc] [--format text|json] DIR\n"
			     "Recordings, time span, hosts, segments and blocks, size on disk and\n"
			     "compression ratio, connections, and the recorder's own losses.");
			return 0;
		} else if (!strcmp(argv[i], "--utc")) {
			utc = 1;
		} else if (!strcmp(argv[i], "--format") && i + 1 < argc) {
			i++;
			if (!strcmp(argv[i], "json")) {
				json = 1;
			} else if (strcmp(argv[i], "text")) {
				cmd_err("info: --format: '%s' is not text or json", argv[i]);
				return 2;
			}
		} else if (argv[i][0] == '-') {
			cmd_err("info: unknown option '%s' (see info --help)", argv[i]);
			return 2;
		} else if (dir) {
			cmd_err("info: one store directory at a time");
			return 2;
		} else {
			dir = argv[i];
		}
	}
	if (!dir) {
		cmd_err("info: needs a store directory (see info --help)");
		return 2;
	}
	err = tt_store_open(dir, TT_STORE_READ, 0, 0, &st, why, sizeof(why));
	if (err) {
		cmd_err("info: %s", why);
		return 1;
	}
	if (tt_store_totals(st, &tot)) {
		cmd_err("info: %s: index: %s", dir, tt_store_errmsg(st));
		goto out;
	}
	nseg = tot.segments;
	nsealed = tot.sealed;
	nblocks = tot.blocks;
	nconns = tot.connections;
	t0 = tot.t_start_ns;
	t1 = tot.t_end_ns;
	raw = tot.raw_bytes;
	stored = tot.bytes;
	drops = tot.ring_drops;
	sfull = tot.socks_full;
	pfull = tot.peers_full;
	if (nblocks && (bad_ns(t0) || bad_ns(t1) || t1 < t0))
		cmd_err("info: warning: index: blocks: span %" PRId64 " .. %" PRId64
			" is not a time span (the index is damaged: verify, reindex)",
			t0, t1);

	/* what info prints comes from the index alone: the rows against each other and the frames */
	if (tt_store_schema_version(st) >= 2 && tt_check_store_rows(st, 1, why, sizeof(why)))
		cmd_err("info: warning: %s", why);

	ss = (struct seg_sizes){ .dir = dir };
	tt_store_each_segment_file(st, add_segment_size, &ss); /* best effort, like file_size */
	seg_bytes = ss.bytes;
	idx_bytes = file_size(dir, "index.db") + file_size(dir, "index.db-wal");

	if (json) {
		printf("{\"store\":");
		fflush(stdout);
		struct tt_buf jb = { 0 };

		tt_json_str(&jb, dir);
		fputs(jb.p ? jb.p : "\"\"", stdout);
		tt_buf_free(&jb);
		printf(",\"schema_version\":%d", tt_store_schema_version(st));
		if (print_recordings(st, utc, 1) < 0)
			goto dberr;
		printf(",\"start_ns\":%" PRId64 ",\"end_ns\":%" PRId64 ",\"segments\":%" PRId64
		       ",\"segments_sealed\":%" PRId64 ",\"blocks\":%" PRId64
		       ",\"connections\":%" PRId64 ",\"segment_bytes\":%" PRIu64
		       ",\"index_bytes\":%" PRIu64 ",\"raw_bytes\":%" PRIu64
		       ",\"compression_ratio\":%.2f,\"ring_drops\":%" PRId64
		       ",\"socks_full\":%" PRId64 ",\"peers_full\":%" PRId64 "}\n",
		       t0, t1, nseg, nsealed, nblocks, nconns, seg_bytes, idx_bytes, raw,
		       stored ? (double)raw / (double)stored : 0.0, drops, sfull, pfull);
		rc = 0;
		goto out;
	}
	char edir[1024];

	printf("store        %s (index schema v%d)\n",
	       tt_esc_cstr(edir, sizeof(edir), dir, strlen(dir)), tt_store_schema_version(st));
	printf("recordings\n");
	if (print_recordings(st, utc, 0) < 0)
		goto dberr;
	if (nblocks)
		printf("span         %s -> %s (%s)\n",
		       tt_fmt_time(a, sizeof(a), (uint64_t)t0, utc, TT_TIME_ZONE),
		       tt_fmt_time(b, sizeof(b), (uint64_t)t1, utc, TT_TIME_ZONE),
		       tt_fmt_duration(s1, sizeof(s1), (uint64_t)t1 - (uint64_t)t0));
	else
		printf("span         (no blocks yet)\n");
	printf("segments     %" PRId64 " (%" PRId64 " sealed), %" PRId64 " blocks\n", nseg, nsealed,
	       nblocks);
	printf("size         segments %s, index %s; events %s raw, compression %.1fx\n",
	       tt_fmt_bytes(s1, sizeof(s1), seg_bytes), tt_fmt_bytes(s2, sizeof(s2), idx_bytes),
	       tt_fmt_bytes(s3, sizeof(s3), raw), stored ? (double)raw / (double)stored : 0.0);
	printf("connections  %" PRId64 " lifetimes\n", nconns);
	printf("losses       ring-buffer drops %" PRId64 ", socket-map full %" PRId64
	       ", peer-map full %" PRId64 "%s\n",
	       drops, sfull, pfull,
	       (drops || sfull || pfull) ? "  (SOME EVENTS OR CONNECTIONS WERE NOT RECORDED)" : "");
	rc = 0;
	goto out;
dberr:
	cmd_err("info: %s: index: %s", dir, tt_store_errmsg(st));
out:
	tt_store_close(st);
	return rc;
}
