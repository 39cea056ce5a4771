/*
 * version.c: what --version says: this build (version, commit, libbpf) and
 * what this kernel offers the capture, read from its BTF without loading
 * anything (so it works without privileges).
 */
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <stdio.h>
#include <sys/utsname.h>

#include "gitversion.h"
#include "probe.h"
#include "version.h"

static const struct {
	const char *hook; /* as the man page names it */
	const char *btf_name; /* what its presence in BTF looks like */
	int kind;
	const char *without; /* what is missing without it; NULL: the capture needs it */
} hooks[] = {
	{ "tp_btf/inet_sock_set_state", "btf_trace_inet_sock_set_state", BTF_KIND_TYPEDEF, NULL },
	{ "tp_btf/tcp_destroy_sock", "btf_trace_tcp_destroy_sock", BTF_KIND_TYPEDEF, NULL },
	{ "iter/task_file", "bpf_iter__task_file", BTF_KIND_STRUCT, NULL },
	{ "iter/tcp", "bpf_iter__tcp", BTF_KIND_STRUCT, NULL },
	{ "iter/udp", "bpf_iter__udp", BTF_KIND_STRUCT, NULL },
	{ "tp_btf/tcp_send_reset", "btf_trace_tcp_send_reset", BTF_KIND_TYPEDEF, "resets sent" },
	{ "tp_btf/tcp_receive_reset", "btf_trace_tcp_receive_reset", BTF_KIND_TYPEDEF,
	  "resets received" },
	{ "tp_btf/tcp_retransmit_skb", "btf_trace_tcp_retransmit_skb", BTF_KIND_TYPEDEF,
	  "retransmit events" },
};

void rec_print_version(FILE *f, const char *prog)
{
	struct btf *vmlinux;
	struct utsname u;
	char cg[512];
	size_t i;

	fprintf(f, "%s %s (git %s)\n", prog, TT_VERSION, TT_GIT_COMMIT);
	fprintf(f, "libbpf %u.%u\n", libbpf_major_version(), libbpf_minor_version());
	if (!uname(&u))
		fprintf(f, "kernel %s\n", u.release);
	vmlinux = btf__load_vmlinux_btf();
	if (!vmlinux) {
		fprintf(f, "hooks: unknown: the kernel has no BTF (/sys/kernel/btf/vmlinux), "
			   "which the capture needs\n");
		return;
	}
	fprintf(f, "hooks:\n");
	for (i = 0; i < sizeof(hooks) / sizeof(hooks[0]); i++) {
		int has = btf__find_by_name_kind(vmlinux, hooks[i].btf_name, hooks[i].kind) >= 0;

		fprintf(f, "  %-28s %s", hooks[i].hook, has ? "yes" : "no");
		if (hooks[i].without)
			fprintf(f, "  optional%s%s",
				has ? "" : ", not counted: ", has ? "" : hooks[i].without);
		else if (!has)
			fprintf(f, "  required: the recorder cannot run");
		fputc('\n', f);
	}
	btf__free(vmlinux);
	if (!tt_probe_cgroup2(cg, sizeof(cg)))
		fprintf(f, "  %-28s yes  optional (UDP), on the cgroup v2 at %s\n", "cgroup_skb",
			cg);
	else
		fprintf(f, "  %-28s no  optional, not counted: UDP (no cgroup v2 mount)\n",
			"cgroup_skb");
}
