// Skips up to two VLAN tags in a bounded loop; the header pointer advances by a constant each time
// and is re-checked against data_end before every read.
// expect: accept
#include "common.h"

struct vlan_hdr {
	__be16 tci;
	__be16 proto;
};

SEC("xdp")
int vlan_loop(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct vlan_hdr *vh;
	__u16 proto;

	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;
	proto = eth->h_proto;
	vh = (void *)(eth + 1);
#pragma clang loop unroll(disable)
	for (int i = 0; i < 2; i++) {
		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		if ((void *)(vh + 1) > data_end)
			return XDP_PASS;
		proto = vh->proto;
		vh++;
	}
	return proto == bpf_htons(ETH_P_IP) ? XDP_PASS : XDP_DROP;
}
