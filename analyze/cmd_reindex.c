/*
 * reindex DIR: rebuild index.db from the segment files alone (lib/repair.c,
 * tt_reindex): written beside the old index and renamed over it, with its mode
 * and owner, so an interrupted reindex changes nothing and a retry starts
 * afresh. Needs the store's writer lock.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "repair.h"

static void print_finding(void *ctx, enum tt_finding_level level, const char *what, const char *msg)
{
	(void)ctx;
	cmd_err("reindex: %s%s: %s", level == TT_FINDING_NOTE ? "" : "warning: ", what, msg);
}

int cmd_reindex(int argc, char **argv)
{
	struct tt_repair_cb cb = { .on_finding = print_finding };
	struct tt_reindex_result res;
	char why[512];

	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		puts("Usage: tcptop-analyze reindex DIR\n"
		     "Rebuild DIR/index.db from the segment files (a damaged or lost index, blocks\n"
		     "a crash left unindexed). Needs the store's writer lock: stop the recorder.");
		return 0;
	}
	if (argc != 2 || argv[1][0] == '-') {
		cmd_err("reindex: needs exactly one store directory (see reindex --help)");
		return 2;
	}
	if (tt_reindex(argv[1], &cb, &res, why, sizeof(why))) {
		cmd_err("reindex: %s", why);
		return 1;
	}
	printf("%s: index rebuilt from %" PRIu64 " segments: %" PRIu64 " blocks, %" PRIu64
	       " events; %" PRIu64 " damaged blocks and %u unreadable files left out\n",
	       argv[1], res.segments, res.blocks, res.events, res.damaged, res.bad_files);
	if (res.bad_headers)
		printf("%s: %u segments with a damaged file header indexed by their name\n",
		       argv[1], res.bad_headers);
	if (res.unsynced)
		printf("%s: %" PRIu64 " blocks after the damage, up to the next keyframe, indexed "
		       "but not summarised\n",
		       argv[1], res.unsynced);
	return 0;
}
