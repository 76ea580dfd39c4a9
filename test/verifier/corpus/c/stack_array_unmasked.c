// The stack table of stack_array_masked indexed by the raw packet byte (0..255): out of bounds.
// expect: reject EINVAL
// log: invalid variable-offset read from stack R2 var_off=(0x0; 0x7f8) off=-64 size=8
#include "common.h"

SEC("xdp")
int stack_array_unmasked(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	volatile __u64 table[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	__u8 *p = data;

	if ((void *)(p + 1) > data_end)
		return XDP_PASS;
	return table[*p] & 3;
}
