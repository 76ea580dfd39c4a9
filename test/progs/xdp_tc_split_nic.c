// SPDX-License-Identifier: GPL-2.0
/*
 * xdp_tc_split_nic.c - the NIC half of a chain split between the NIC and the
 * host (partial offload: PAPER-ONLY in nfp-emu, the netdev 2.1 paper's future
 * work and its Figure 6; upstream offload is all-or-nothing per program).
 *
 * Loaded for nfp0 (`offload: nfp0`, `bpftool prog loadall ... offload_dev`).
 * The PROG_ARRAY `split` lives on the card: slot 1 holds nic_tcp (another NIC
 * program, from .values); slot 0 is for the host half, xdp_tc_split_host.o's
 * host_udp, loaded for the host and stored with
 *   bpftool map update pinned .../split key 0 0 0 0 value pinned .../host_udp
 * A tail call into it sends the packet to the host with metadata naming the
 * slot, and the driver runs host_udp there. The same two objects loaded for
 * the host alone give the same verdicts, packets and counters.
 *
 *   nic_entry  counts; UDP to port 9 -> XDP_DROP on the card; other UDP:
 *              TTL - 1 (checksum patched), counted as sent on, tail call to
 *              slot 0 (the host half; empty: XDP_PASS); TCP -> slot 1
 *   nic_tcp    counts; a SYN to port 23 -> XDP_DROP; else XDP_PASS
 * nic_hits: [0] entry, [1] nic_tcp, [2] sent to slot 0, [3] dropped at entry.
 */
#include "xdp_parse.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} nic_hits SEC(".maps");

static __always_inline void count(__u32 i)
{
	__u64 *n = bpf_map_lookup_elem(&nic_hits, &i);

	if (n)
		__sync_fetch_and_add(n, 1);
}

int nic_tcp(struct xdp_md *ctx);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 2);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
	__array(values, int (struct xdp_md *));
} split SEC(".maps") = {
	.values = {
		[1] = (void *)&nic_tcp,
	},
};

SEC("xdp")
int nic_tcp(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	struct hdr_cursor nh = { .pos = (void *)(long)ctx->data };
	struct ethhdr *eth;
	struct iphdr *iph;
	struct tcphdr *th;

	count(1);
	if (parse_ethhdr(&nh, data_end, &eth) != ETH_P_IP)
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
int nic_entry(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	struct hdr_cursor nh = { .pos = (void *)(long)ctx->data };
	struct ethhdr *eth;
	struct iphdr *iph;
	struct udphdr *uh;
	__u32 sum;
	int proto;

	count(0);
	if (parse_ethhdr(&nh, data_end, &eth) != ETH_P_IP)
		return XDP_PASS;
	proto = parse_iphdr(&nh, data_end, &iph);
	if (proto == IPPROTO_TCP)
		bpf_tail_call(ctx, &split, 1);
	if (proto != IPPROTO_UDP || parse_udphdr(&nh, data_end, &uh) < 0)
		return XDP_PASS;
	if (uh->dest == bpf_htons(9)) {
		count(3);
		return XDP_DROP;
	}
	if (iph->ttl > 1) {
		iph->ttl--;
		sum = (__u32)iph->check + bpf_htons(0x0100);
		iph->check = (__u16)(sum + (sum >> 16));
	}
	count(2);
	bpf_tail_call(ctx, &split, 0);
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
