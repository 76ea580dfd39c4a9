// SPDX-License-Identifier: GPL-2.0
/*
 * xdp_meta.c - leave a note for the next program: XDP metadata.
 *
 * bpf_xdp_adjust_meta() with a negative delta opens a metadata area in front
 * of the packet (between data_meta and data). A TC program on the same device
 * can read it from skb->data_meta, which saves it parsing the packet again.
 * Here the note is a 32-bit mark: the L4 protocol in the upper half and the
 * destination port in the lower half (0 when there is none), for IPv4 only.
 *
 * The metadata area must be a multiple of 4 bytes and, like the packet, is
 * only touched after a bounds check (against data, not data_end). Drivers
 * without metadata support make the helper fail; the frame then simply goes
 * up without a mark. The NFP offload does not implement this helper.
 */
#include "xdp_parse.h"

struct meta_info {
	__u32 mark;
};

SEC("xdp")
int xdp_meta_mark(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct hdr_cursor nh = { .pos = data };
	struct meta_info *meta;
	struct ethhdr *eth;
	struct iphdr *iph;
	__u32 mark = 0;
	int proto;

	if (parse_ethhdr(&nh, data_end, &eth) != ETH_P_IP)
		return XDP_PASS;
	proto = parse_iphdr(&nh, data_end, &iph);
	if (proto < 0)
		return XDP_PASS;

	mark = (__u32)proto << 16;
	if (proto == IPPROTO_TCP || proto == IPPROTO_UDP) {
		/* The destination port is bytes 2-3 of both headers. */
		__be16 *ports = nh.pos;

		if ((void *)(ports + 2) <= data_end)
			mark |= bpf_ntohs(ports[1]);
	}

	if (bpf_xdp_adjust_meta(ctx, -(int)sizeof(*meta)))
		return XDP_PASS;

	/* The helper moved data_meta; reload and check it against data. */
	data = (void *)(long)ctx->data;
	meta = (void *)(long)ctx->data_meta;
	if ((void *)(meta + 1) > data)
		return XDP_PASS;

	meta->mark = mark;
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
