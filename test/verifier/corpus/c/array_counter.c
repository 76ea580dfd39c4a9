// Counts packets per ingress ifindex (mod 64) in an ARRAY map with an atomic add.
// expect: accept
#include "common.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

SEC("xdp")
int array_counter(struct xdp_md *ctx)
{
	__u32 key = ctx->ingress_ifindex & 63;
	__u64 *v = bpf_map_lookup_elem(&counters, &key);

	if (v)
		__sync_fetch_and_add(v, 1);
	return XDP_PASS;
}
