// A global function with a scalar argument is verified once with the argument unknown: it must
// bound the value itself (the caller's constant is not known inside).
// expect: accept
#include "common.h"

__noinline int pick_action(__u32 ifindex)
{
	if (ifindex > 100)
		return XDP_DROP;
	return XDP_PASS;
}

SEC("xdp")
int global_func_scalar_arg(struct xdp_md *ctx)
{
	return pick_action(ctx->ingress_ifindex);
}
