/* SPDX-License-Identifier: GPL-2.0 */
/*
 * xdp_parse.h - header parsing shared by the test XDP programs.
 *
 * The same idea as xdp-tutorial's common/parsing_helpers.h: a cursor walks the
 * frame, and every parser proves to the verifier that the header it returns
 * lies inside [data, data_end) before anyone reads it. The helpers are
 * __always_inline, so each program is still one function as the kernel (and
 * the NFP JIT) sees it; xdp_subprog.c is the program that shows real calls.
 *
 * Each parser returns the next protocol number in host byte order (for
 * Ethernet: the EtherType, for IP: the L4 protocol) or -1 when the header does
 * not fit in the frame.
 */
#ifndef XDP_PARSE_H
#define XDP_PARSE_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/* linux/if_vlan.h keeps struct vlan_hdr in the kernel-only header. */
struct vlan_hdr {
	__be16 h_vlan_TCI;
	__be16 h_vlan_encapsulated_proto;
};

/* Two tags cover 802.1ad QinQ; more is rare enough to leave to the stack. */
#define VLAN_MAX_DEPTH 2

/* Fragment offset and More-Fragments bits of iphdr.frag_off. */
#define IP_MF		0x2000
#define IP_OFFSET	0x1FFF

struct hdr_cursor {
	void *pos;
};

static __always_inline int proto_is_vlan(__u16 h_proto)
{
	return h_proto == bpf_htons(ETH_P_8021Q) ||
	       h_proto == bpf_htons(ETH_P_8021AD);
}

/* Skips up to VLAN_MAX_DEPTH VLAN tags, so callers see the inner EtherType. */
static __always_inline int parse_ethhdr(struct hdr_cursor *nh, void *data_end,
					struct ethhdr **ethhdr)
{
	struct ethhdr *eth = nh->pos;
	struct vlan_hdr *vlh;
	__u16 h_proto;
	int i;

	if ((void *)(eth + 1) > data_end)
		return -1;

	nh->pos = eth + 1;
	*ethhdr = eth;
	vlh = nh->pos;
	h_proto = eth->h_proto;

#pragma unroll
	for (i = 0; i < VLAN_MAX_DEPTH; i++) {
		if (!proto_is_vlan(h_proto))
			break;
		if ((void *)(vlh + 1) > data_end)
			return -1;
		h_proto = vlh->h_vlan_encapsulated_proto;
		vlh++;
	}

	nh->pos = vlh;
	return bpf_ntohs(h_proto);
}

/* Honours the IHL field, so IPv4 options are skipped and not mistaken for L4. */
static __always_inline int parse_iphdr(struct hdr_cursor *nh, void *data_end,
				       struct iphdr **iphdr)
{
	struct iphdr *iph = nh->pos;
	int hdrsize;

	if ((void *)(iph + 1) > data_end)
		return -1;

	hdrsize = iph->ihl * 4;
	if (hdrsize < (int)sizeof(*iph))
		return -1;
	if (nh->pos + hdrsize > data_end)
		return -1;

	nh->pos += hdrsize;
	*iphdr = iph;
	return iph->protocol;
}

/* Extension headers are not walked: nexthdr is returned as the L4 protocol. */
static __always_inline int parse_ip6hdr(struct hdr_cursor *nh, void *data_end,
					struct ipv6hdr **ip6hdr)
{
	struct ipv6hdr *ip6h = nh->pos;

	if ((void *)(ip6h + 1) > data_end)
		return -1;

	nh->pos = ip6h + 1;
	*ip6hdr = ip6h;
	return ip6h->nexthdr;
}

/* Returns the UDP payload length claimed by the header. */
static __always_inline int parse_udphdr(struct hdr_cursor *nh, void *data_end,
					struct udphdr **udphdr)
{
	struct udphdr *h = nh->pos;
	int len;

	if ((void *)(h + 1) > data_end)
		return -1;

	nh->pos = h + 1;
	*udphdr = h;
	len = bpf_ntohs(h->len) - (int)sizeof(struct udphdr);
	if (len < 0)
		return -1;
	return len;
}

/* Returns the TCP header length in bytes (data offset * 4). */
static __always_inline int parse_tcphdr(struct hdr_cursor *nh, void *data_end,
					struct tcphdr **tcphdr)
{
	struct tcphdr *h = nh->pos;
	int len;

	if ((void *)(h + 1) > data_end)
		return -1;

	len = h->doff * 4;
	if (len < (int)sizeof(*h))
		return -1;
	if (nh->pos + len > data_end)
		return -1;

	nh->pos += len;
	*tcphdr = h;
	return len;
}

/* Folds a 32-bit one's-complement sum to 16 bits (RFC 1071). */
static __always_inline __u16 csum_fold_helper(__u32 csum)
{
	csum = (csum & 0xffff) + (csum >> 16);
	csum = (csum & 0xffff) + (csum >> 16);
	return (__u16)~csum;
}

/* The IPv4 header checksum of a header built on the stack (no options). */
static __always_inline __u16 iph_csum(struct iphdr *iph)
{
	__u16 *word = (__u16 *)iph;
	__u32 csum = 0;
	int i;

	iph->check = 0;
#pragma unroll
	for (i = 0; i < (int)sizeof(*iph) / 2; i++)
		csum += word[i];
	return csum_fold_helper(csum);
}

#endif /* XDP_PARSE_H */
