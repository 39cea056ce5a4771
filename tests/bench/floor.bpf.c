// SPDX-License-Identifier: GPL-2.0
/*
 * floor.bpf.c: empty programs on exactly the hooks tcptop-record keeps per packet
 * and per lifecycle event, for tests/bench/bench_overhead.sh ("floor").
 *
 * Whatever these cost is the price of the hooks themselves (the kernel's dispatch
 * into a BPF program), which no recorder on these hooks can go below. The
 * recorder's ratio against this floor is what its own code costs.
 *
 * The hooks: cgroup_skb ingress and egress (every packet of every socket, TCP too:
 * the recorder returns at once for non-UDP) and five tp_btf tracepoints that fire
 * on state changes, destroys, resets and retransmits only.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

SEC("cgroup_skb/ingress")
int floor_skb_ingress(struct __sk_buff *skb)
{
	return 1; /* pass: never drop */
}

SEC("cgroup_skb/egress")
int floor_skb_egress(struct __sk_buff *skb)
{
	return 1;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(floor_state, struct sock *sk, int oldstate, int newstate)
{
	return 0;
}

SEC("tp_btf/tcp_destroy_sock")
int BPF_PROG(floor_destroy, struct sock *sk)
{
	return 0;
}

SEC("tp_btf/tcp_send_reset")
int BPF_PROG(floor_send_reset, const struct sock *sk, const struct sk_buff *skb)
{
	return 0;
}

SEC("tp_btf/tcp_receive_reset")
int BPF_PROG(floor_recv_reset, struct sock *sk)
{
	return 0;
}

SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(floor_retransmit, const struct sock *sk, const struct sk_buff *skb)
{
	return 0;
}
