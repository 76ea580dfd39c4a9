// SPDX-License-Identifier: GPL-2.0
/*
 * xdp_redirect.c - send frames out of another device.
 *
 * xdp_redirect_ifindex: bpf_redirect() to one fixed device, set at load time
 *   through the .rodata variable redirect_ifindex (libbpf skeletons write it
 *   before loading; left alone it is 1, the loopback device).
 * xdp_redirect_map: bpf_redirect_map() through a DEVMAP used as a patch
 *   panel - the slot for the ingress device names the egress device. An empty
 *   slot makes the helper return its fallback action, XDP_PASS, so unpatched
 *   ports just deliver to the local stack.
 *
 * Both swap the Ethernet addresses first, as a reflector or a simple
 * forwarding path would. The helpers only record the target and return
 * XDP_REDIRECT; the driver does the transmit once the program has returned.
 * Redirect is not part of the NFP offload.
 */
#include "xdp_parse.h"

#define MAX_PORTS 256

const volatile __u32 redirect_ifindex = 1;

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__uint(max_entries, MAX_PORTS);
	__type(key, __u32);
	__type(value, __u32);
} tx_port SEC(".maps");

static __always_inline int swap_macs(void *data, void *data_end)
{
	struct ethhdr *eth = data;
	__u8 tmp[ETH_ALEN];

	if ((void *)(eth + 1) > data_end)
		return -1;
	__builtin_memcpy(tmp, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, tmp, ETH_ALEN);
	return 0;
}

SEC("xdp")
int xdp_redirect_ifindex(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;

	if (swap_macs(data, data_end))
		return XDP_DROP;
	return bpf_redirect(redirect_ifindex, 0);
}

SEC("xdp")
int xdp_redirect_map(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 port = ctx->ingress_ifindex;

	if (swap_macs(data, data_end))
		return XDP_DROP;
	/* The low bits of flags are the action when the slot is empty. */
	return bpf_redirect_map(&tx_port, port, XDP_PASS);
}

char _license[] SEC("license") = "GPL";
