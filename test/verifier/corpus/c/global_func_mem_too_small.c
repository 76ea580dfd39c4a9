// A global function's pointer argument must point to as many bytes as the pointed type has: 4 bytes
// of stack for a 16-byte struct are refused at the call.
// expect: reject EINVAL
// log: invalid read from stack R1 off=-4 size=16
// log: Caller passes invalid args into func#1 ('sum_pair')
#include "common.h"

struct pair {
	__u64 a;
	__u64 b;
};

__noinline int sum_pair(struct pair *p)
{
	if (!p)
		return 0;
	return p->a + p->b;
}

SEC("xdp")
int global_func_mem_too_small(struct xdp_md *ctx)
{
	__u32 v = ctx->ingress_ifindex;

	return sum_pair((struct pair *)&v) == 1 ? XDP_DROP : XDP_PASS;
}
