// Keeps six checked packet pointers in a volatile array on the stack across a helper call: each is
// spilled as a pointer, and the pointers filled back after the call keep their checked range.
// expect: accept
#include "common.h"

SEC("xdp")
int spill_pressure(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u8 *volatile p[6];
	__u32 sum = 0;

	if (data + 60 > data_end)
		return XDP_PASS;
	for (int i = 0; i < 6; i++)
		p[i] = data + i * 10;
	sum = bpf_get_prandom_u32() & 1;
	for (int i = 0; i < 6; i++)
		sum += *p[i];
	return sum & 3;
}
