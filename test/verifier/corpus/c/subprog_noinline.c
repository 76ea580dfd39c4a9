// A static __noinline function (a bpf-to-bpf call) that checks and reads the packet for its caller.
// expect: accept
#include "common.h"

static __noinline int ethertype(void *data, void *data_end)
{
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > data_end)
		return -1;
	return bpf_ntohs(eth->h_proto);
}

SEC("xdp")
int subprog_noinline(struct xdp_md *ctx)
{
	int t = ethertype((void *)(long)ctx->data, (void *)(long)ctx->data_end);

	return t == ETH_P_ARP ? XDP_DROP : XDP_PASS;
}
