// SPDX-License-Identifier: GPL-2.0
/*
 * xdp_flowtable.c - per-flow accounting in maps that look after themselves.
 *
 * - flows, an LRU_HASH keyed by the IPv4 5-tuple: when it is full, inserting
 *   a new flow evicts the least recently used one instead of failing, which
 *   is what a flow table facing arbitrary traffic needs. Counters are shared
 *   between CPUs, so they are bumped atomically.
 * - port_packets, a PERCPU_HASH keyed by destination port: every CPU has its
 *   own value for each key, so a plain increment is enough; user space sums
 *   the per-CPU values.
 * - src_bytes, an LRU_PERCPU_HASH keyed by source address: both of the above.
 *
 * Only IPv4 TCP/UDP is counted; every frame is passed.
 */
#include "xdp_parse.h"

#define MAX_FLOWS	4096
#define MAX_PORTS	1024
#define MAX_SOURCES	1024

struct flow_key {
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 pad[3];	/* keys are compared as bytes: padding must be zero */
};

struct flow_stats {
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_FLOWS);
	__type(key, struct flow_key);
	__type(value, struct flow_stats);
} flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, MAX_PORTS);
	__type(key, __u32);
	__type(value, __u64);
} port_packets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, MAX_SOURCES);
	__type(key, __be32);
	__type(value, __u64);
} src_bytes SEC(".maps");

static __always_inline void count_flow(struct flow_key *key, __u64 bytes)
{
	struct flow_stats *stats = bpf_map_lookup_elem(&flows, key);
	struct flow_stats first = { .packets = 1, .bytes = bytes };

	if (stats) {
		__sync_fetch_and_add(&stats->packets, 1);
		__sync_fetch_and_add(&stats->bytes, bytes);
		return;
	}
	/* Another CPU may insert the same flow between lookup and update. */
	if (bpf_map_update_elem(&flows, key, &first, BPF_NOEXIST) == 0)
		return;
	stats = bpf_map_lookup_elem(&flows, key);
	if (stats) {
		__sync_fetch_and_add(&stats->packets, 1);
		__sync_fetch_and_add(&stats->bytes, bytes);
	}
}

/* Per-CPU values need no atomics: only this CPU touches its copy. */
static __always_inline void add_percpu(void *map, void *key, __u64 delta)
{
	__u64 *value = bpf_map_lookup_elem(map, key);

	if (value)
		*value += delta;
	else
		bpf_map_update_elem(map, key, &delta, BPF_NOEXIST);
}

SEC("xdp")
int xdp_flowtable(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct hdr_cursor nh = { .pos = data };
	struct flow_key key = {};
	struct ethhdr *eth;
	struct iphdr *iph;
	__be16 *ports;
	__u64 bytes = data_end - data;
	__u32 dport;
	int proto;

	if (parse_ethhdr(&nh, data_end, &eth) != ETH_P_IP)
		return XDP_PASS;
	proto = parse_iphdr(&nh, data_end, &iph);
	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP)
		return XDP_PASS;
	ports = nh.pos;
	if ((void *)(ports + 2) > data_end)
		return XDP_PASS;

	key.saddr = iph->saddr;
	key.daddr = iph->daddr;
	key.sport = ports[0];
	key.dport = ports[1];
	key.proto = proto;
	count_flow(&key, bytes);

	dport = bpf_ntohs(ports[1]);
	add_percpu(&port_packets, &dport, 1);
	add_percpu(&src_bytes, &key.saddr, bytes);
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
