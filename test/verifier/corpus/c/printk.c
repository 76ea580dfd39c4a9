// bpf_printk() (bpf_trace_printk with a format in .rodata) from an XDP program.
// expect: accept
#include "common.h"

SEC("xdp")
int printk(struct xdp_md *ctx)
{
	bpf_printk("ifindex %u", ctx->ingress_ifindex);
	return XDP_PASS;
}
