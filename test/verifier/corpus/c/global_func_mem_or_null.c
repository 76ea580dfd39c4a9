// A global function's pointer argument may be NULL (it is verified without knowing its callers), so
// dereferencing it unchecked is refused.
// expect: reject EACCES
// log: R1 invalid mem access 'mem_or_null'
#include "common.h"

__noinline int read_first(__u32 *p)
{
	return *p;
}

SEC("xdp")
int global_func_mem_or_null(struct xdp_md *ctx)
{
	__u32 v = ctx->ingress_ifindex;

	return read_first(&v) == 7 ? XDP_DROP : XDP_PASS;
}
