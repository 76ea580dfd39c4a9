// Divides by a byte of the packet, which may be zero: allowed, BPF defines x / 0 as 0.
// expect: accept
#include "common.h"

SEC("xdp")
int div_by_packet_byte(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u8 *p = data;

	if ((void *)(p + 2) > data_end)
		return XDP_PASS;
	return (p[0] / p[1]) % 5;
}
