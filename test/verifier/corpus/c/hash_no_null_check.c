// Increments a HASH map value without checking the lookup result for NULL.
// expect: reject EACCES
// log: R0 invalid mem access 'map_value_or_null'
#include "common.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
} flows SEC(".maps");

SEC("xdp")
int hash_no_null_check(struct xdp_md *ctx)
{
	__u32 key = ctx->ingress_ifindex;
	__u64 *v = bpf_map_lookup_elem(&flows, &key);

	*v += 1;
	return XDP_PASS;
}
