// A pointer argument tagged arg:nonnull (libbpf's __arg_nonnull) is never NULL inside the global
// function, so it reads it unchecked; the callers must pass a valid pointer.
// expect: accept
#include "common.h"

__noinline int read_nonnull(__u32 *p __attribute__((btf_decl_tag("arg:nonnull"))))
{
	return *p;
}

SEC("xdp")
int global_func_nonnull(struct xdp_md *ctx)
{
	__u32 v = ctx->ingress_ifindex;

	return read_nonnull(&v) == 7 ? XDP_DROP : XDP_PASS;
}
