// A global function must return a scalar on 6.18 (void is allowed from 6.19): the call is refused.
// expect: reject EINVAL
// log: Global function note() doesn't return scalar. Only those are supported.
// log: Caller passes invalid args into func#1 ('note')
#include "common.h"

__u32 seen;

__noinline void note(__u32 v)
{
	seen = v;
}

SEC("xdp")
int global_func_void(struct xdp_md *ctx)
{
	note(ctx->ingress_ifindex);
	return XDP_PASS;
}
