// Spins until ingress_ifindex reads 1000000. Each iteration reloads the same unknown value, so the
// verifier finds itself in an identical state at the loop head: an infinite loop.
// expect: reject EINVAL
// log: infinite loop detected at insn 0
#include "common.h"

SEC("xdp")
int loop_waits_for_ctx(struct xdp_md *ctx)
{
	volatile __u32 *ifindex = &ctx->ingress_ifindex;

	while (*ifindex != 1000000)
		;
	return XDP_PASS;
}
