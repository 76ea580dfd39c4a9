// A global function's result is an unknown scalar at the caller, whatever the function returns:
// used unchecked as an index into a map value it is refused (a static function's 0..3 would do).
// expect: reject EACCES
// log: R6 unbounded memory access, make sure to bounds check any such access
#include "common.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64[4]);
} slots SEC(".maps");

__noinline int slot_of(struct xdp_md *ctx)
{
	return ctx->rx_queue_index & 3;
}

SEC("xdp")
int global_func_ret_unknown(struct xdp_md *ctx)
{
	__u32 key = 0;
	__u64 *v = bpf_map_lookup_elem(&slots, &key);

	if (!v)
		return XDP_PASS;
	v[slot_of(ctx)] += 1;
	return XDP_PASS;
}
