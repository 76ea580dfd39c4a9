// SPDX-License-Identifier: GPL-2.0
/*
 * xdp_csum_frame.c - verify a 16-bit one's-complement checksum over the whole
 * frame, up to 1500 bytes, with a bounded loop.
 *
 * The "full-frame checksum" yardstick of PERFORMANCE.md. Frame length is not
 * known to the verifier, so each iteration re-checks its own word against
 * data_end and leaves the loop at the end of the frame; the constant trip
 * limit is what lets the verifier prove the loop terminates (it walks all
 * 750 iterations: about 15000 instructions processed on kernel 6.18, far
 * inside its budget of a million). An odd
 * trailing byte is summed as if padded with a zero byte (RFC 1071).
 *
 * A frame whose bytes sum to 0xffff is passed, anything else is dropped.
 * Bytes beyond the first 1500 are not covered.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define MAX_CSUM_BYTES 1500

SEC("xdp")
int xdp_csum_frame(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u8 *pos = data;
	__u32 sum = 0;
	int i;

#pragma clang loop unroll(disable)
	for (i = 0; i < MAX_CSUM_BYTES / 2; i++) {
		if ((void *)(pos + 2) > data_end)
			break;
		sum += *(__u16 *)pos;
		pos += 2;
	}

	/* Fewer than 1500 bytes and odd: one byte is left over. */
	if (i < MAX_CSUM_BYTES / 2 && (void *)(pos + 1) <= data_end) {
		__u16 last = 0;

		*(__u8 *)&last = *pos;
		sum += last;
	}

	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return sum == 0xffff ? XDP_PASS : XDP_DROP;
}

char _license[] SEC("license") = "GPL";
