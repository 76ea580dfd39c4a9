// SPDX-License-Identifier: GPL-2.0
/*
 * xdp_fib.c - IPv4 forwarding in XDP with the kernel's own routing table.
 *
 * The idea of samples/bpf/xdp_fwd: ask bpf_fib_lookup() for the route and
 * the neighbour of each packet. When the kernel knows both, the program does
 * what the forwarding path would - decrement the TTL (patching the checksum),
 * rewrite the MAC addresses - and redirects to the egress device. Everything
 * the fast path cannot finish (no neighbour entry yet, local delivery,
 * forwarding disabled on the device, TTL about to expire, non-IPv4) is
 * passed to the stack, which will handle it properly; destinations the
 * routing table refuses (blackhole, unreachable, prohibit) are dropped here.
 *
 * The verdict depends on the machine's routes and neighbours, so tests only
 * rely on the cases every Linux host agrees on, such as local destinations.
 */
#include "xdp_parse.h"

/* From linux/socket.h, which the BPF target cannot include. */
#define AF_INET 2

/*
 * TTL - 1 without summing the header again (RFC 1624): the TTL is the high
 * byte of its 16-bit word, so that word drops by 0x0100 and the stored
 * (complemented) checksum rises by 0x0100, with the carry folded back in.
 */
static __always_inline void ip_decrease_ttl(struct iphdr *iph)
{
	__u32 check = iph->check + bpf_htons(0x0100);

	iph->check = (__u16)((check & 0xffff) + (check >> 16));
	iph->ttl--;
}

SEC("xdp")
int xdp_fib_fwd(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct bpf_fib_lookup fib = {};
	struct ethhdr *eth = data;
	struct iphdr *iph;
	int rc;

	if ((void *)(eth + 1) > data_end)
		return XDP_DROP;
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	iph = (void *)(eth + 1);
	if ((void *)(iph + 1) > data_end)
		return XDP_DROP;
	/* The stack sends ICMP time-exceeded; we cannot. */
	if (iph->ttl <= 1)
		return XDP_PASS;

	fib.family = AF_INET;
	fib.tos = iph->tos;
	fib.l4_protocol = iph->protocol;
	fib.tot_len = bpf_ntohs(iph->tot_len);
	fib.ipv4_src = iph->saddr;
	fib.ipv4_dst = iph->daddr;
	fib.ifindex = ctx->ingress_ifindex;

	rc = bpf_fib_lookup(ctx, &fib, sizeof(fib), 0);
	switch (rc) {
	case BPF_FIB_LKUP_RET_SUCCESS:
		ip_decrease_ttl(iph);
		__builtin_memcpy(eth->h_dest, fib.dmac, ETH_ALEN);
		__builtin_memcpy(eth->h_source, fib.smac, ETH_ALEN);
		return bpf_redirect(fib.ifindex, 0);
	case BPF_FIB_LKUP_RET_BLACKHOLE:
	case BPF_FIB_LKUP_RET_UNREACHABLE:
	case BPF_FIB_LKUP_RET_PROHIBIT:
		return XDP_DROP;
	default:
		/* NOT_FWDED, FWD_DISABLED, UNSUPP_LWT, NO_NEIGH, FRAG_NEEDED */
		return XDP_PASS;
	}
}

char _license[] SEC("license") = "GPL";
