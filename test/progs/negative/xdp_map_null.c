// SPDX-License-Identifier: GPL-2.0
/*
 * negative/xdp_map_null.c - MUST BE REJECTED by the verifier.
 *
 * bpf_map_lookup_elem() returns NULL for a missing key, so its result is a
 * "map_value_or_null" until the program has compared it with NULL. This
 * program forgets to, and the kernel refuses the load with
 *   R0 invalid mem access 'map_value_or_null'
 * Compare xdp_counter.c, which checks every lookup.
 *
 * The map is a HASH on purpose: recent kernels know that an ARRAY lookup
 * with a constant, in-range key cannot fail, and accept it unchecked.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
} packets SEC(".maps");

SEC("xdp")
int xdp_map_null(struct xdp_md *ctx)
{
	__u32 key = ctx->rx_queue_index;
	__u64 *count = bpf_map_lookup_elem(&packets, &key);

	/* Missing: if (!count) return XDP_PASS; */
	__sync_fetch_and_add(count, 1);
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
