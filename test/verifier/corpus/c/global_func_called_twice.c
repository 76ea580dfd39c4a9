// One global function called from two places with different arguments (another offset into the
// packet) is verified once, for any arguments that match its prototype.
// expect: accept
#include "common.h"

__noinline int byte_at(struct xdp_md *ctx, __u32 off)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;

	if (off > 64)
		return -1;
	if (data + off + 1 > data_end)
		return -1;
	return *((__u8 *)data + off);
}

SEC("xdp")
int global_func_called_twice(struct xdp_md *ctx)
{
	if (byte_at(ctx, 0) == 0xff)
		return XDP_DROP;
	return byte_at(ctx, 12) == 0x08 ? XDP_PASS : XDP_DROP;
}
