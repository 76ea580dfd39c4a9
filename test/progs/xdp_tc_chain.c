// SPDX-License-Identifier: GPL-2.0
/*
 * xdp_tc_chain.c - a bpf_tail_call() chain written to run on the NIC as well
 * as on the host: every stage uses only what the NFP takes (packet reads and
 * writes, array lookups, atomic adds), so the same object can be loaded for
 * the host or offloaded to nfp0. Tail calls on the NIC are PAPER-ONLY in
 * nfp-emu (the netdev 2.1 paper's future work; upstream nfp refuses
 * PROG_ARRAY and bpf_tail_call), and need a firmware that advertises them.
 *
 * The chain, through the PROG_ARRAY `chain` (filled by libbpf from .values):
 *   tc_entry   counts, then IPv4 -> slot 0, IPv6 -> slot 1; else XDP_PASS
 *   tc_ipv4    counts; TTL <= 1 -> XDP_DROP; decrements the TTL (checksum
 *              patched); UDP -> slot 2, TCP -> slot 3; else XDP_PASS
 *   tc_ipv6    counts; hop limit <= 1 -> XDP_DROP; else XDP_PASS
 *   tc_udp     counts; port 9 -> XDP_DROP; port 7 (echo) -> MACs swapped,
 *              XDP_TX; port 4242 -> slot 4; port 4243 -> slot 5 (left
 *              empty: the call falls through); else XDP_PASS
 *   tc_tcp     counts; a SYN to port 23 -> XDP_DROP; else XDP_PASS
 *   tc_loop    counts, then tail-calls itself: the chain stops when the
 *              kernel's limit (MAX_TAIL_CALL_CNT, 33) is reached, and the
 *              last call falls through to XDP_DROP
 * hits[stage] counts the packets each stage saw: the loop stage's count
 * shows how many tail calls a packet may take.
 */
#include "xdp_parse.h"

enum stage {
	ST_IPV4 = 0,
	ST_IPV6 = 1,
	ST_UDP = 2,
	ST_TCP = 3,
	ST_LOOP = 4,
	ST_EMPTY = 5,
	ST_ENTRY = 6,
	ST_MAX,
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, ST_MAX);
	__type(key, __u32);
	__type(value, __u64);
} hits SEC(".maps");

static __always_inline void count(__u32 stage)
{
	__u64 *n = bpf_map_lookup_elem(&hits, &stage);

	if (n)
		__sync_fetch_and_add(n, 1);
}

int tc_ipv4(struct xdp_md *ctx);
int tc_ipv6(struct xdp_md *ctx);
int tc_udp(struct xdp_md *ctx);
int tc_tcp(struct xdp_md *ctx);
int tc_loop(struct xdp_md *ctx);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, ST_ENTRY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
	__array(values, int (struct xdp_md *));
} chain SEC(".maps") = {
	.values = {
		[ST_IPV4] = (void *)&tc_ipv4,
		[ST_IPV6] = (void *)&tc_ipv6,
		[ST_UDP] = (void *)&tc_udp,
		[ST_TCP] = (void *)&tc_tcp,
		[ST_LOOP] = (void *)&tc_loop,
	},
};

/* A tail call carries only ctx: each stage finds its header again. */
static __always_inline int l3(struct xdp_md *ctx, struct hdr_cursor *nh)
{
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth;

	nh->pos = (void *)(long)ctx->data;
	return parse_ethhdr(nh, data_end, &eth);
}

SEC("xdp")
int tc_loop(struct xdp_md *ctx)
{
	count(ST_LOOP);
	bpf_tail_call(ctx, &chain, ST_LOOP);
	return XDP_DROP;
}

SEC("xdp")
int tc_tcp(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	struct hdr_cursor nh;
	struct iphdr *iph;
	struct tcphdr *th;

	count(ST_TCP);
	if (l3(ctx, &nh) != ETH_P_IP)
		return XDP_PASS;
	if (parse_iphdr(&nh, data_end, &iph) != IPPROTO_TCP)
		return XDP_PASS;
	if (parse_tcphdr(&nh, data_end, &th) < 0)
		return XDP_PASS;
	if (th->syn && th->dest == bpf_htons(23))
		return XDP_DROP;
	return XDP_PASS;
}

SEC("xdp")
int tc_udp(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	struct hdr_cursor nh;
	struct ethhdr *eth;
	struct iphdr *iph;
	struct udphdr *uh;
	__u8 mac[ETH_ALEN];

	count(ST_UDP);
	nh.pos = (void *)(long)ctx->data;
	if (parse_ethhdr(&nh, data_end, &eth) != ETH_P_IP)
		return XDP_PASS;
	if (parse_iphdr(&nh, data_end, &iph) != IPPROTO_UDP)
		return XDP_PASS;
	if (parse_udphdr(&nh, data_end, &uh) < 0)
		return XDP_PASS;
	if (uh->dest == bpf_htons(9))
		return XDP_DROP;
	if (uh->dest == bpf_htons(7)) {
		__builtin_memcpy(mac, eth->h_source, ETH_ALEN);
		__builtin_memcpy(eth->h_source, eth->h_dest, ETH_ALEN);
		__builtin_memcpy(eth->h_dest, mac, ETH_ALEN);
		return XDP_TX;
	}
	if (uh->dest == bpf_htons(4242))
		bpf_tail_call(ctx, &chain, ST_LOOP);
	if (uh->dest == bpf_htons(4243))
		bpf_tail_call(ctx, &chain, ST_EMPTY);
	return XDP_PASS;
}

SEC("xdp")
int tc_ipv6(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	struct hdr_cursor nh;
	struct ipv6hdr *ip6h;

	count(ST_IPV6);
	if (l3(ctx, &nh) != ETH_P_IPV6)
		return XDP_PASS;
	if (parse_ip6hdr(&nh, data_end, &ip6h) < 0)
		return XDP_PASS;
	if (ip6h->hop_limit <= 1)
		return XDP_DROP;
	return XDP_PASS;
}

SEC("xdp")
int tc_ipv4(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	struct hdr_cursor nh;
	struct iphdr *iph;
	__u32 sum;
	int proto;

	count(ST_IPV4);
	if (l3(ctx, &nh) != ETH_P_IP)
		return XDP_PASS;
	proto = parse_iphdr(&nh, data_end, &iph);
	if (proto < 0)
		return XDP_PASS;
	if (iph->ttl <= 1)
		return XDP_DROP;
	/* TTL - 1, checksum patched incrementally (RFC 1624): the TTL is the high byte of its word. */
	iph->ttl--;
	sum = (__u32)iph->check + bpf_htons(0x0100);
	iph->check = (__u16)(sum + (sum >> 16));
	if (proto == IPPROTO_UDP)
		bpf_tail_call(ctx, &chain, ST_UDP);
	else if (proto == IPPROTO_TCP)
		bpf_tail_call(ctx, &chain, ST_TCP);
	return XDP_PASS;
}

SEC("xdp")
int tc_entry(struct xdp_md *ctx)
{
	struct hdr_cursor nh;
	int eth_type;

	count(ST_ENTRY);
	eth_type = l3(ctx, &nh);
	if (eth_type == ETH_P_IP)
		bpf_tail_call(ctx, &chain, ST_IPV4);
	else if (eth_type == ETH_P_IPV6)
		bpf_tail_call(ctx, &chain, ST_IPV6);
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
