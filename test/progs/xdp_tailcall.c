// SPDX-License-Identifier: GPL-2.0
/*
 * xdp_tailcall.c - split a program into stages joined by bpf_tail_call().
 *
 * xdp_tail_entry looks at the EtherType and tail-calls the stage for it
 * through the PROG_ARRAY jmp_table; the IPv4 stage tail-calls once more into
 * the UDP stage. A tail call replaces the running program (it does not
 * return): the callee gets the same ctx, but the caller's registers and
 * stack are gone. A chain may be at most 33 calls long. When the slot is empty the call falls
 * through, so each caller carries on with a default verdict after it.
 *
 * The table is filled by libbpf when the object is loaded, from the static
 * initialiser below (`.values`); a loader without that feature can fill the
 * slots with `bpftool map update ... value pinned <prog>`.
 *
 * Stages and verdicts:
 *   IPv4: TTL <= 1 -> XDP_DROP; UDP -> UDP stage; else XDP_PASS
 *   IPv6: hop limit <= 1 -> XDP_DROP; else XDP_PASS
 *   UDP:  destination port 9 (discard) -> XDP_DROP; else XDP_PASS
 *   anything else (or an empty slot): XDP_PASS
 * stage_hits[slot] counts the packets each stage saw, and
 * stage_hits[STAGE_ENTRY] the packets that entered at the top.
 */
#include "xdp_parse.h"

enum stage {
	STAGE_IPV4 = 0,
	STAGE_IPV6 = 1,
	STAGE_UDP = 2,
	STAGE_ENTRY = 3,
	STAGE_MAX,
};

#define DISCARD_PORT 9

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, STAGE_MAX);
	__type(key, __u32);
	__type(value, __u64);
} stage_hits SEC(".maps");

static __always_inline void count_stage(__u32 stage)
{
	__u64 *hits = bpf_map_lookup_elem(&stage_hits, &stage);

	if (hits)
		__sync_fetch_and_add(hits, 1);
}

/*
 * Each stage re-parses from the start of the frame: a tail call carries only
 * ctx across, not local variables. (Metadata or a per-CPU scratch map could
 * carry parse results; re-parsing keeps the example self-contained.)
 */
static __always_inline void *l3_header(struct xdp_md *ctx, int *eth_type)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct hdr_cursor nh = { .pos = data };
	struct ethhdr *eth;

	*eth_type = parse_ethhdr(&nh, data_end, &eth);
	return nh.pos;
}

SEC("xdp")
int xdp_stage_udp(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	struct hdr_cursor nh;
	struct iphdr *iph;
	struct udphdr *udph;
	int eth_type;

	count_stage(STAGE_UDP);
	nh.pos = l3_header(ctx, &eth_type);
	if (eth_type != ETH_P_IP)
		return XDP_PASS;
	if (parse_iphdr(&nh, data_end, &iph) != IPPROTO_UDP)
		return XDP_PASS;
	if (parse_udphdr(&nh, data_end, &udph) < 0)
		return XDP_PASS;
	if (udph->dest == bpf_htons(DISCARD_PORT))
		return XDP_DROP;
	return XDP_PASS;
}

SEC("xdp")
int xdp_stage_ipv6(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	struct hdr_cursor nh;
	struct ipv6hdr *ip6h;
	int eth_type;

	count_stage(STAGE_IPV6);
	nh.pos = l3_header(ctx, &eth_type);
	if (eth_type != ETH_P_IPV6)
		return XDP_PASS;
	if (parse_ip6hdr(&nh, data_end, &ip6h) < 0)
		return XDP_PASS;
	if (ip6h->hop_limit <= 1)
		return XDP_DROP;
	return XDP_PASS;
}

/* Defined below: it needs jmp_table, and jmp_table needs it. */
int xdp_stage_ipv4(struct xdp_md *ctx);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, STAGE_ENTRY);
	/* Sizes, not BTF types: the kernel takes no BTF for program arrays. */
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
	__array(values, int (struct xdp_md *));
} jmp_table SEC(".maps") = {
	.values = {
		[STAGE_IPV4] = (void *)&xdp_stage_ipv4,
		[STAGE_IPV6] = (void *)&xdp_stage_ipv6,
		[STAGE_UDP] = (void *)&xdp_stage_udp,
	},
};

SEC("xdp")
int xdp_stage_ipv4(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	struct hdr_cursor nh;
	struct iphdr *iph;
	int eth_type;
	int proto;

	count_stage(STAGE_IPV4);
	nh.pos = l3_header(ctx, &eth_type);
	if (eth_type != ETH_P_IP)
		return XDP_PASS;
	proto = parse_iphdr(&nh, data_end, &iph);
	if (proto < 0)
		return XDP_PASS;
	if (iph->ttl <= 1)
		return XDP_DROP;
	if (proto == IPPROTO_UDP)
		bpf_tail_call(ctx, &jmp_table, STAGE_UDP);
	return XDP_PASS;
}

SEC("xdp")
int xdp_tail_entry(struct xdp_md *ctx)
{
	int eth_type;

	count_stage(STAGE_ENTRY);
	l3_header(ctx, &eth_type);
	if (eth_type == ETH_P_IP)
		bpf_tail_call(ctx, &jmp_table, STAGE_IPV4);
	else if (eth_type == ETH_P_IPV6)
		bpf_tail_call(ctx, &jmp_table, STAGE_IPV6);
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
