// SPDX-License-Identifier: GPL-2.0
/*
 * xdp_tc_split_host.c - the host half of the chain in xdp_tc_split_nic.c
 * (partial offload: PAPER-ONLY in nfp-emu). host_udp cannot run on the NIC:
 * it stores into a map value (the NFP has no map writes; the hook says
 * "[nfp] map writes not supported"), so it is loaded for the host and put in
 * slot 0 of the NIC's prog array; the packets the NIC half sends there are
 * run by it on the host CPU.
 *
 *   host_udp   counts; remembers each IPv4 source's last frame length in
 *              last_len (a store into the value); UDP to port 5353 ->
 *              XDP_DROP; to port 7 (echo) -> MACs swapped, XDP_TX; else
 *              XDP_PASS
 * host_hits: [0] runs, [1] dropped, [2] passed, [3] sent back (XDP_TX).
 */
#include "xdp_parse.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} host_hits SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u64);
} last_len SEC(".maps");

static __always_inline void count(__u32 i)
{
	__u64 *n = bpf_map_lookup_elem(&host_hits, &i);

	if (n)
		__sync_fetch_and_add(n, 1);
}

SEC("xdp")
int host_udp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct hdr_cursor nh = { .pos = data };
	struct ethhdr *eth;
	struct iphdr *iph;
	struct udphdr *uh;
	__u8 mac[ETH_ALEN];
	__u64 len = data_end - data;
	__u64 *last;
	__u32 src;

	count(0);
	if (parse_ethhdr(&nh, data_end, &eth) != ETH_P_IP)
		goto pass;
	if (parse_iphdr(&nh, data_end, &iph) != IPPROTO_UDP)
		goto pass;
	if (parse_udphdr(&nh, data_end, &uh) < 0)
		goto pass;
	src = iph->saddr;
	last = bpf_map_lookup_elem(&last_len, &src);
	if (last)
		*last = len;
	else
		bpf_map_update_elem(&last_len, &src, &len, BPF_ANY);
	if (uh->dest == bpf_htons(5353)) {
		count(1);
		return XDP_DROP;
	}
	if (uh->dest == bpf_htons(7)) {
		__builtin_memcpy(mac, eth->h_source, ETH_ALEN);
		__builtin_memcpy(eth->h_source, eth->h_dest, ETH_ALEN);
		__builtin_memcpy(eth->h_dest, mac, ETH_ALEN);
		count(3);
		return XDP_TX;
	}
pass:
	count(2);
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
