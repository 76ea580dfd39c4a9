// Skips IHL * 4 bytes of IPv4 header but checks only the fixed 20-byte header before reading UDP: the
// variable offset is never checked against data_end.
// expect: reject EACCES
// log: invalid access to packet, off=16 size=2, R1(id=1,off=16,r=0)
#include "common.h"

SEC("xdp")
int parse_ihl_not_rechecked(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *iph = (void *)(eth + 1);
	struct udphdr *udp;

	if ((void *)(iph + 1) + sizeof(struct udphdr) > data_end)
		return XDP_PASS;
	udp = (void *)iph + iph->ihl * 4;
	return udp->dest == bpf_htons(9) ? XDP_DROP : XDP_PASS;
}
