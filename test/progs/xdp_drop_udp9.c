// SPDX-License-Identifier: GPL-2.0
/*
 * xdp_drop_udp9.c - drop UDP datagrams to the discard port (9), pass the rest.
 *
 * The "parse-and-drop" yardstick of PERFORMANCE.md. It is written out by hand
 * rather than with xdp_parse.h so that the whole program is visible at once:
 * each header is bounds-checked against data_end before it is read, which is
 * the one thing the verifier insists on.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define DISCARD_PORT 9

SEC("xdp")
int xdp_drop_udp9(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *iph;
	struct udphdr *udph;

	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;

	iph = (void *)(eth + 1);
	if ((void *)(iph + 1) > data_end)
		return XDP_PASS;
	if (iph->protocol != IPPROTO_UDP)
		return XDP_PASS;
	/* A header shorter than 20 bytes is malformed; leave it to the stack. */
	if (iph->ihl < 5)
		return XDP_PASS;

	/* The UDP header follows any IPv4 options. */
	udph = (void *)iph + iph->ihl * 4;
	if ((void *)(udph + 1) > data_end)
		return XDP_PASS;

	if (udph->dest == bpf_htons(DISCARD_PORT))
		return XDP_DROP;
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
