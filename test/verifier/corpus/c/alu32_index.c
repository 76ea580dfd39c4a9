// Built with -mcpu=v3 (32-bit subregisters): a u32 index masked in 32-bit arithmetic selects a byte
// of a 32-byte map value.
// expect: accept
#include "common.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u8[32]);
} table SEC(".maps");

SEC("xdp")
int alu32_index(struct xdp_md *ctx)
{
	__u32 key = 0;
	__u8 *row = bpf_map_lookup_elem(&table, &key);
	__u32 i = (ctx->rx_queue_index * 7 + 3) & 31;

	if (!row)
		return XDP_PASS;
	return row[i] ? XDP_DROP : XDP_PASS;
}
