// A global function's integer argument must be a scalar at the call: a stack address passed as a
// number is refused (a static function would take it).
// expect: reject EINVAL
// log: R1 is not a scalar
// log: Caller passes invalid args into func#1 ('low_bits')
#include "common.h"

__noinline int low_bits(long x)
{
	return x & 0xff;
}

SEC("xdp")
int global_func_scalar_gets_ptr(struct xdp_md *ctx)
{
	__u32 v = ctx->ingress_ifindex;

	return low_bits((long)&v) == 1 ? XDP_DROP : XDP_PASS;
}
