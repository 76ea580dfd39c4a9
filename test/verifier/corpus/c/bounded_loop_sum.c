// Sums the first 64 bytes as 16-bit words in a real (not unrolled) 32-iteration loop, each word
// checked against data_end inside the loop.
// expect: accept
#include "common.h"

SEC("xdp")
int bounded_loop_sum(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 sum = 0;

#pragma clang loop unroll(disable)
	for (int i = 0; i < 32; i++) {
		__u16 *w = data + i * 2;

		if ((void *)(w + 1) > data_end)
			break;
		sum += *w;
	}
	return sum == 0xffff ? XDP_PASS : XDP_DROP;
}
