// Pops 4 bytes with bpf_xdp_adjust_head(), then reads through the Ethernet pointer taken before
// the call: every packet pointer dies with the call.
// expect: reject EACCES
// log: invalid mem access 'scalar'
#include "common.h"

SEC("xdp")
int adjust_head_stale(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;
	if (bpf_xdp_adjust_head(ctx, 4))
		return XDP_ABORTED;
	return eth->h_proto == bpf_htons(ETH_P_IP) ? XDP_PASS : XDP_DROP;
}
