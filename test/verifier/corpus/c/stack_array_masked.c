// A table on the stack indexed by a packet byte masked to 0..7.
// expect: accept
#include "common.h"

SEC("xdp")
int stack_array_masked(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	volatile __u64 table[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	__u8 *p = data;

	if ((void *)(p + 1) > data_end)
		return XDP_PASS;
	return table[*p & 7] & 3;
}
