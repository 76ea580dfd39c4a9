// A global function's pointer argument needs a type with a size (the verifier checks that much memory
// at each call): `void *` is refused.
// expect: reject EINVAL
// log: arg#0 reference type('UNKNOWN ') size cannot be determined: -22
// log: Caller passes invalid args into func#1 ('first_word')
#include "common.h"

__noinline int first_word(void *p)
{
	if (!p)
		return 0;
	return *(__u32 *)p;
}

SEC("xdp")
int global_func_void_ptr_arg(struct xdp_md *ctx)
{
	__u32 v = ctx->ingress_ifindex;

	return first_word(&v) == 1 ? XDP_DROP : XDP_PASS;
}
