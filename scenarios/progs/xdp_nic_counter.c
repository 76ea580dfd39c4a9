// SPDX-License-Identifier: GPL-2.0
/*
 * xdp_nic_counter.c - a counter the NFP can run: packets and bytes per IP
 * protocol and per IPv4 source, and a port to drop.
 *
 * Written within what the NIC's verifier hook accepts (nfp-offload-facts.md
 * 1.6): only ARRAY and HASH maps, map keys on the stack, values changed only
 * by atomic adds (the NIC's atomic engine), no per-CPU maps, no global data.
 * The drop port is a constant for the same reason: a .rodata variable would
 * be a map the NIC cannot hold.
 *
 *  - proto_stats: ARRAY indexed by the IP protocol number;
 *  - src_stats: HASH keyed by the IPv4 source address, of the sources the
 *    host wants counted: the host inserts them (control messages to the NIC)
 *    and the program only adds to what it finds. A program-side insert of a
 *    zeroed counter is what the NIC's hook refuses on this kernel: it needs
 *    the value's stack bytes known to be zero (STACK_ZERO), and since Linux
 *    6.8 the verifier tracks aligned stores of zero as spilled registers;
 *  - UDP to port 9 (discard) is dropped on the card, everything else passes.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define DROP_PORT 9

struct datarec {
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, struct datarec);
} proto_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __be32);
	__type(value, struct datarec);
} src_stats SEC(".maps");

static __always_inline void count(struct datarec *rec, __u64 bytes)
{
	__sync_fetch_and_add(&rec->packets, 1);
	__sync_fetch_and_add(&rec->bytes, bytes);
}

SEC("xdp")
int xdp_nic_counter(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u64 bytes = data_end - data;
	struct ethhdr *eth = data;
	struct iphdr *iph;
	struct datarec *rec;
	__u32 proto;
	__be32 saddr;

	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	iph = (void *)(eth + 1);
	if ((void *)(iph + 1) > data_end)
		return XDP_PASS;

	proto = iph->protocol;
	rec = bpf_map_lookup_elem(&proto_stats, &proto);
	if (rec)
		count(rec, bytes);

	saddr = iph->saddr;
	rec = bpf_map_lookup_elem(&src_stats, &saddr);
	if (rec)
		count(rec, bytes);

	if (iph->protocol == IPPROTO_UDP && iph->ihl == 5) {
		struct udphdr *udp = (void *)(iph + 1);

		if ((void *)(udp + 1) > data_end)
			return XDP_PASS;
		if (udp->dest == bpf_htons(DROP_PORT))
			return XDP_DROP;
	}
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
