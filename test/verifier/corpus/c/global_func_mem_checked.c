// A global function's pointer argument may be NULL; checked before the read, it is accepted.
// expect: accept
#include "common.h"

__noinline int read_checked(__u32 *p)
{
	if (!p)
		return 0;
	return *p;
}

SEC("xdp")
int global_func_mem_checked(struct xdp_md *ctx)
{
	__u32 v = ctx->ingress_ifindex;

	return read_checked(&v) == 7 ? XDP_DROP : XDP_PASS;
}
