// A global function whose argument is the program's context type must be given the context: a stack
// pointer cast to it is refused at the call.
// expect: reject EINVAL
// log: arg#0 expects pointer to ctx
// log: Caller passes invalid args into func#1 ('ifindex_of')
#include "common.h"

__noinline int ifindex_of(struct xdp_md *ctx)
{
	return ctx->ingress_ifindex;
}

SEC("xdp")
int global_func_ctx_arg_not_ctx(struct xdp_md *ctx)
{
	__u32 fake[8] = {};

	fake[0] = ctx->ingress_ifindex;
	return ifindex_of((struct xdp_md *)fake) == 1 ? XDP_DROP : XDP_PASS;
}
