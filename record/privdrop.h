/*
 * privdrop.h: tcptop-record gives up its privileges once its programs are
 * loaded and attached (--user NAME). Never prints or exits: 0 or a negative
 * errno with a one-line reason.
 */
#ifndef TT_PRIVDROP_H
#define TT_PRIVDROP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Who to become: resolved before anything is loaded, so a typo costs nothing. */
struct tt_priv_user {
	uid_t uid;
	gid_t gid;
	char name[64];
};

/* Look NAME up in the user database. 0, or -ENOENT with the reason in why. */
int tt_priv_lookup(const char *name, struct tt_priv_user *u, char *why, size_t why_len);

/*
 * Make dir (if missing) owned by u, so that u can write the store it will
 * hold; only as root, a no-op otherwise. 0 or a negative errno.
 */
int tt_priv_prepare_dir(const struct tt_priv_user *u, const char *dir, char *why, size_t why_len);

/*
 * Become u (its uid, gid and supplementary groups) and keep only the
 * capabilities in keep (a mask of 1 << CAP_x) in the effective and permitted
 * sets; inheritable, ambient and (when allowed) bounding sets are emptied and
 * no_new_privs is set, so nothing exec'ed later can regain them. Running as u
 * already (a service with User=), only the capabilities are dropped. Checked
 * afterwards: getting uid 0 back must fail. 0 or a negative errno.
 */
int tt_priv_drop(const struct tt_priv_user *u, uint64_t keep, char *why, size_t why_len);

/* The capability names in mask, "cap_bpf,cap_perfmon" style ("none" for 0), into buf. */
void tt_priv_caps_str(uint64_t mask, char *buf, size_t len);

#endif /* TT_PRIVDROP_H */
