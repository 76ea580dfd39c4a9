// SPDX-License-Identifier: GPL-2.0
/*
 * xdp_pass.c - the smallest XDP program: every frame goes on to the stack.
 *
 * It is the "empty XDP_PASS" yardstick of PERFORMANCE.md: what a run costs
 * when the program does nothing, i.e. the harness and the call itself.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
