/*
 * verify DIR: the store checked against its segments by lib/repair.c
 * (tt_verify): every frame read, every event decoded, every index row compared
 * with what the frames say. Problems (exit 1): the index and the segments
 * disagree, or an indexed block is damaged or missing. Warnings (exit 0): a
 * torn tail after an unclean stop, frames or files not indexed yet, a damaged
 * file header whose frames still read, a segment whose first block is not a
 * keyframe block.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "escape.h"
#include "repair.h"
#include "store.h"

static void print_finding(void *ctx, enum tt_finding_level level, const char *what, const char *msg)
{
	char ew[1024], em[2048];

	(void)ctx;
	if (level == TT_FINDING_NOTE)
		return;
	/* a file name in a store is anybody's: never raw on a terminal */
	printf("%s %s: %s\n", level == TT_FINDING_PROBLEM ? "PROBLEM" : "warning",
	       tt_esc_cstr(ew, sizeof(ew), what, strlen(what)),
	       tt_esc_cstr(em, sizeof(em), msg, strlen(msg)));
}

int cmd_verify(int argc, char **argv)
{
	struct tt_repair_cb cb = { .on_finding = print_finding };
	struct tt_verify_result res = { 0 };
	struct tt_store *st;
	char why[512];
	int err;

	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		puts("Usage: tcptop-analyze verify DIR\n"
		     "Read every frame of every segment, check its checksum, decode every event,\n"
		     "and compare every index row (blocks, segments, recordings, conns, rollups)\n"
		     "with the segments. Exit 0 when intact (warnings allowed), 1 with the problems.");
		return 0;
	}
	if (argc != 2 || argv[1][0] == '-') {
		cmd_err("verify: needs exactly one store directory (see verify --help)");
		return 2;
	}
	err = tt_store_open(argv[1], TT_STORE_READ, 0, 0, &st, why, sizeof(why));
	if (err) {
		cmd_err("verify: %s", why);
		return 1;
	}
	err = tt_verify(st, &cb, &res, why, sizeof(why));
	tt_store_close(st);
	if (err) {
		cmd_err("verify: %s", why);
		return 1;
	}
	printf("%s: %" PRIu64 " frames checked, %" PRIu64 " events decoded, ", argv[1], res.frames,
	       res.events);
	if (res.periods) /* stores with rollup periods whole in their blocks */
		printf("%" PRIu64 " rollup periods recomputed, ", res.periods);
	printf("%u problems, %u warnings\n", res.problems, res.warnings);
	if (res.problems) {
		cmd_err("verify: %s: %u problems (listed above)", argv[1], res.problems);
		return 1;
	}
	return 0;
}
