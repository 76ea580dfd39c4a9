// Per-CPU hash counters keyed by source address: look up, insert on a miss, increment.
// expect: accept
#include "common.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
} per_src SEC(".maps");

SEC("xdp")
int percpu_hash_counter(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct iphdr *iph = data + sizeof(struct ethhdr);
	__u64 one = 1, *v;
	__u32 key;

	if ((void *)(iph + 1) > data_end)
		return XDP_PASS;
	key = iph->saddr;
	v = bpf_map_lookup_elem(&per_src, &key);
	if (v)
		*v += 1;
	else
		bpf_map_update_elem(&per_src, &key, &one, BPF_NOEXIST);
	return XDP_PASS;
}
