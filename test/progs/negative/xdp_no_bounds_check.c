// SPDX-License-Identifier: GPL-2.0
/*
 * negative/xdp_no_bounds_check.c - MUST BE REJECTED by the verifier.
 *
 * The classic first mistake: reading a header without first proving that it
 * lies before data_end. The kernel refuses the load with
 *   invalid access to packet, off=12 size=2, R1(id=0,off=12,r=0)
 * (the exact text varies a little between kernel versions). Compare
 * xdp_drop_udp9.c, which does the same thing correctly.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

SEC("xdp")
int xdp_no_bounds_check(struct xdp_md *ctx)
{
	struct ethhdr *eth = (void *)(long)ctx->data;

	/* Missing: if ((void *)(eth + 1) > (void *)(long)ctx->data_end) ... */
	if (eth->h_proto == bpf_htons(ETH_P_ARP))
		return XDP_DROP;
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
