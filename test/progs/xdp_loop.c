// SPDX-License-Identifier: GPL-2.0
/*
 * xdp_loop.c - a real (not unrolled) bounded loop: verify a 16-bit one's-
 * complement checksum over the first 64 bytes of the frame.
 *
 * The "short loop" yardstick of PERFORMANCE.md: 32 iterations of a load and
 * an add. The loop stays a loop in the object (unrolling is switched off),
 * so the verifier walks it iteration by iteration and the JITs see a back
 * edge. The frame is accepted (XDP_PASS) when its first 64 bytes sum to
 * 0xffff, i.e. when they carry a valid Internet checksum somewhere inside
 * them, and dropped otherwise. Frames shorter than 64 bytes are passed.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define CSUM_BYTES 64

SEC("xdp")
int xdp_loop(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u16 *word = data;
	__u32 sum = 0;
	int i;

	/* One bounds check covers every load in the loop. */
	if (data + CSUM_BYTES > data_end)
		return XDP_PASS;

#pragma clang loop unroll(disable)
	for (i = 0; i < CSUM_BYTES / 2; i++)
		sum += word[i];

	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return sum == 0xffff ? XDP_PASS : XDP_DROP;
}

char _license[] SEC("license") = "GPL";
