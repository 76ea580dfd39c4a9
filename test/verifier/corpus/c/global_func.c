// A global (non-static) function is verified on its own, from its BTF signature: it gets the
// context and reads the packet with its own checks.
// expect: accept
#include "common.h"

__noinline int first_byte(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;

	if (data + 1 > data_end)
		return 0;
	return *(__u8 *)data;
}

SEC("xdp")
int global_func(struct xdp_md *ctx)
{
	return first_byte(ctx) == 0xff ? XDP_DROP : XDP_PASS;
}
