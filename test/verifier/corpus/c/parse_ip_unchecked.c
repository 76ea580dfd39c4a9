// Checks the Ethernet header, then reads the IPv4 protocol byte without checking that the IP header
// is in the packet.
// expect: reject EACCES
// log: invalid access to packet, off=23 size=1, R1(id=0,off=23,r=14)
#include "common.h"

SEC("xdp")
int parse_ip_unchecked(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *iph = (void *)(eth + 1);

	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;
	return iph->protocol == IPPROTO_UDP ? XDP_DROP : XDP_PASS;
}
