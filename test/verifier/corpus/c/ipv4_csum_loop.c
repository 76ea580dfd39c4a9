// Verifies the IPv4 header checksum with a loop over the ten 16-bit words of a 20-byte header.
// expect: accept
#include "common.h"

SEC("xdp")
int ipv4_csum_loop(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u16 *w = data + sizeof(struct ethhdr);
	__u32 sum = 0;

	if ((void *)(w + 10) > data_end)
		return XDP_PASS;
#pragma clang loop unroll(disable)
	for (int i = 0; i < 10; i++)
		sum += w[i];
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return sum == 0xffff ? XDP_PASS : XDP_DROP;
}
