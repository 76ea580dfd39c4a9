// SPDX-License-Identifier: GPL-2.0
/*
 * xdp_adjust.c - growing and shrinking a frame from XDP.
 *
 * xdp_ipip_encap: bpf_xdp_adjust_head() with a negative delta makes room for
 *   an outer IPv4 header in front of an IPv4 packet (IPIP, protocol 4), the
 *   Ethernet header is rebuilt in front of it with the MAC addresses swapped,
 *   and the frame goes back out of the port it came in on (XDP_TX).
 * xdp_trim: bpf_xdp_adjust_tail() with a negative delta removes whatever
 *   follows the IPv4 datagram - the padding of minimum-size Ethernet frames,
 *   or a trailer some devices append.
 *
 * Both helpers move data or data_end, so every packet pointer taken before
 * the call is stale afterwards: the verifier forgets them, and the program
 * must reload ctx->data / ctx->data_end and bounds-check again before it
 * touches the frame. Both helpers exist on the NFP (given the firmware's
 * capabilities), so the tunnel endpoints are compile-time constants rather
 * than global data, which would be a map the NIC cannot hold. The metadata
 * helper, which the NFP does not offer, is in xdp_meta.c.
 */
#include "xdp_parse.h"

/* Documentation addresses (RFC 5737), in host byte order. */
#define TUNNEL_LOCAL	0xc0000201 /* 192.0.2.1 */
#define TUNNEL_REMOTE	0xc6336401 /* 198.51.100.1 */
#define TUNNEL_TTL	64

SEC("xdp")
int xdp_ipip_encap(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct ethhdr *new_eth;
	struct iphdr *inner;
	struct iphdr *outer;
	struct iphdr hdr;
	struct ethhdr eth_copy;

	/* VLAN-tagged frames are left to the stack, to keep the example short. */
	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	inner = (void *)(eth + 1);
	if ((void *)(inner + 1) > data_end)
		return XDP_PASS;

	/* The outer header says what it carries: the inner packet's length. */
	hdr.version = 4;
	hdr.ihl = sizeof(hdr) / 4;
	hdr.tos = inner->tos;
	hdr.tot_len = bpf_htons(bpf_ntohs(inner->tot_len) + sizeof(hdr));
	hdr.id = 0;
	hdr.frag_off = 0;
	hdr.ttl = TUNNEL_TTL;
	hdr.protocol = IPPROTO_IPIP;
	hdr.saddr = bpf_htonl(TUNNEL_LOCAL);
	hdr.daddr = bpf_htonl(TUNNEL_REMOTE);
	hdr.check = iph_csum(&hdr);

	/* Send it back where it came from: swap the MAC addresses. */
	__builtin_memcpy(eth_copy.h_dest, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth_copy.h_source, eth->h_dest, ETH_ALEN);
	eth_copy.h_proto = bpf_htons(ETH_P_IP);

	if (bpf_xdp_adjust_head(ctx, 0 - (int)sizeof(struct iphdr)))
		return XDP_DROP;

	/* Every packet pointer is stale now; take them again and re-check. */
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	new_eth = data;
	outer = (void *)(new_eth + 1);
	if ((void *)(outer + 1) > data_end)
		return XDP_DROP;

	__builtin_memcpy(new_eth, &eth_copy, sizeof(*new_eth));
	__builtin_memcpy(outer, &hdr, sizeof(*outer));
	return XDP_TX;
}

SEC("xdp")
int xdp_trim(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *iph;
	int frame_len, ip_len, delta;

	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	iph = (void *)(eth + 1);
	if ((void *)(iph + 1) > data_end)
		return XDP_PASS;

	ip_len = bpf_ntohs(iph->tot_len);
	/* A malformed length is the stack's business, not ours to act on. */
	if (ip_len < (int)sizeof(*iph))
		return XDP_PASS;

	frame_len = data_end - data;
	delta = (int)sizeof(*eth) + ip_len - frame_len;
	if (delta >= 0)
		return XDP_PASS; /* nothing after the datagram, or it is truncated */

	if (bpf_xdp_adjust_tail(ctx, delta))
		return XDP_ABORTED;

	/* data_end moved; the old pointers may no longer be used. */
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	eth = data;
	if ((void *)(eth + 1) > data_end)
		return XDP_ABORTED;
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
