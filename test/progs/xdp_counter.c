// SPDX-License-Identifier: GPL-2.0
/*
 * xdp_counter.c - count packets and bytes three ways, then pass every frame.
 *
 * The three map kinds a monitoring program usually reaches for, each updated
 * the way it has to be:
 *  - proto_stats, an ARRAY indexed by the L4 protocol (0 for non-IP): shared
 *    by all CPUs, so both counters are bumped with __sync_fetch_and_add
 *    (BPF_ATOMIC | BPF_ADD);
 *  - cpu_packets, a PERCPU_ARRAY of one slot: each CPU owns its copy, so a
 *    plain increment is safe and cheaper;
 *  - src_stats, a HASH keyed by the IPv4 source address: a missing entry is
 *    created with BPF_NOEXIST and then looked up again.
 *
 * The new hash entry is inserted as zeros and counted with the same atomic
 * adds as an existing one. That is race-free (if another CPU inserts the key
 * first, BPF_NOEXIST fails and the second lookup finds its entry) and it is
 * what an NFP offload needs: the NIC's atomic engine is big-endian, so the
 * driver only accepts program-side updates of atomic counters to zero.
 */
#include "xdp_parse.h"

#define MAX_SOURCES 1024

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
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} cpu_packets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_SOURCES);
	__type(key, __be32);
	__type(value, struct datarec);
} src_stats SEC(".maps");

static __always_inline void count_source(__be32 saddr, __u64 bytes)
{
	struct datarec *rec;

	rec = bpf_map_lookup_elem(&src_stats, &saddr);
	if (!rec) {
		struct datarec zero = {};

		/* Fails with -EEXIST if another CPU won the race; fine either way. */
		bpf_map_update_elem(&src_stats, &saddr, &zero, BPF_NOEXIST);
		rec = bpf_map_lookup_elem(&src_stats, &saddr);
		if (!rec)
			return; /* the map is full */
	}
	__sync_fetch_and_add(&rec->packets, 1);
	__sync_fetch_and_add(&rec->bytes, bytes);
}

SEC("xdp")
int xdp_count(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u64 bytes = data_end - data;
	struct hdr_cursor nh = { .pos = data };
	struct ethhdr *eth;
	struct iphdr *iph = NULL;
	struct ipv6hdr *ip6h;
	struct datarec *rec;
	__u32 proto = 0;
	__u32 key = 0;
	__u64 *cpu_count;
	int eth_type;
	int l4;

	eth_type = parse_ethhdr(&nh, data_end, &eth);
	if (eth_type == ETH_P_IP) {
		l4 = parse_iphdr(&nh, data_end, &iph);
		if (l4 >= 0)
			proto = l4;
	} else if (eth_type == ETH_P_IPV6) {
		l4 = parse_ip6hdr(&nh, data_end, &ip6h);
		if (l4 >= 0)
			proto = l4;
	}

	rec = bpf_map_lookup_elem(&proto_stats, &proto);
	if (rec) {
		__sync_fetch_and_add(&rec->packets, 1);
		__sync_fetch_and_add(&rec->bytes, bytes);
	}

	cpu_count = bpf_map_lookup_elem(&cpu_packets, &key);
	if (cpu_count)
		*cpu_count += 1;

	if (iph)
		count_source(iph->saddr, bytes);

	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
