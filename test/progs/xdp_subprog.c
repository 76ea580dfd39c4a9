// SPDX-License-Identifier: GPL-2.0
/*
 * xdp_subprog.c - a small sanity filter built from bpf-to-bpf calls and
 * global data.
 *
 * Calls: the entry point calls handle_ipv4(), which calls handle_l4(), which
 * calls classify() - a chain three calls deep, none recursive. They are
 * static __noinline, so they stay real BPF_CALLs (src_reg = BPF_PSEUDO_CALL)
 * and the verifier checks each in the context of its caller; classify()
 * takes five arguments, all of R1-R5.
 *
 * Global data, which libbpf turns into single-entry ARRAY maps:
 *  - .rodata: load-time configuration, `const volatile` so clang cannot fold
 *    the values into the code and a loader can still patch them;
 *  - .data:   run-time configuration with a non-zero default, changeable
 *    with `bpftool map update` while the program runs;
 *  - .bss:    counters starting at zero, bumped atomically.
 *
 * Verdicts: fragments are dropped when drop_fragments is set; packets from a
 * martian source (0/8, 127/8), "land" packets (source == destination) and
 * TCP/UDP to blocked_port are dropped; everything else passes.
 */
#include "xdp_parse.h"

/* .rodata */
const volatile __u16 blocked_port = 7; /* echo */
const volatile __u32 martian_nets[2] = { 0x00000000, 0x7f000000 };

/* .data */
__u32 drop_fragments = 1;

/* .bss */
struct filter_stats {
	__u64 passed;
	__u64 dropped;
	__u64 fragments;
	__u64 non_ipv4;
} stats;

static __noinline int classify(__u32 proto, __u16 sport, __u16 dport,
			       __be32 saddr, __be32 daddr)
{
	__u32 src = bpf_ntohl(saddr);
	int i;

	if (saddr == daddr)
		return XDP_DROP;

	for (i = 0; i < 2; i++)
		if ((src & 0xff000000) == martian_nets[i])
			return XDP_DROP;

	/* Either direction of a conversation with the blocked service. */
	if ((proto == IPPROTO_TCP || proto == IPPROTO_UDP) &&
	    (dport == blocked_port || sport == blocked_port))
		return XDP_DROP;

	return XDP_PASS;
}

static __noinline int handle_l4(struct iphdr *iph, void *l4, void *data_end)
{
	__u16 sport = 0, dport = 0;

	if (iph->protocol == IPPROTO_TCP || iph->protocol == IPPROTO_UDP) {
		/* Ports are the first four bytes of both headers. */
		__be16 *ports = l4;

		if ((void *)(ports + 2) > data_end)
			return XDP_DROP;
		sport = bpf_ntohs(ports[0]);
		dport = bpf_ntohs(ports[1]);
	}
	return classify(iph->protocol, sport, dport, iph->saddr, iph->daddr);
}

static __noinline int handle_ipv4(void *data, void *data_end)
{
	struct hdr_cursor nh = { .pos = data };
	struct iphdr *iph;

	if (parse_iphdr(&nh, data_end, &iph) < 0)
		return XDP_DROP;

	if (iph->frag_off & bpf_htons(IP_MF | IP_OFFSET)) {
		__sync_fetch_and_add(&stats.fragments, 1);
		if (drop_fragments)
			return XDP_DROP;
		return XDP_PASS;
	}
	return handle_l4(iph, nh.pos, data_end);
}

SEC("xdp")
int xdp_subprog(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct hdr_cursor nh = { .pos = data };
	struct ethhdr *eth;
	int verdict;

	if (parse_ethhdr(&nh, data_end, &eth) != ETH_P_IP) {
		__sync_fetch_and_add(&stats.non_ipv4, 1);
		return XDP_PASS;
	}

	verdict = handle_ipv4(nh.pos, data_end);
	if (verdict == XDP_DROP)
		__sync_fetch_and_add(&stats.dropped, 1);
	else
		__sync_fetch_and_add(&stats.passed, 1);
	return verdict;
}

char _license[] SEC("license") = "GPL";
