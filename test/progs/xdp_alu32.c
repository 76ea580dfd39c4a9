// SPDX-License-Identifier: GPL-2.0
/*
 * xdp_alu32.c - an IPv4 fast path whose arithmetic is all 32-bit.
 *
 * Built with -mcpu=v3, so clang keeps __u32 values in the 32-bit subregisters
 * (w0..w10) and compares them with JMP32 instead of widening to 64 bits. That
 * is the code the NFP JIT likes best (its registers are 32 bits wide) and the
 * code that exercises zero-extension of the upper half in every engine.
 *
 * For each IPv4 frame without options it
 *  1. verifies the header checksum (a bad header is dropped),
 *  2. passes TTL <= 1 to the stack, which owns ICMP time-exceeded,
 *  3. decrements the TTL,
 *  4. hashes the flow (addresses and, for TCP/UDP, ports) and writes one of
 *     eight class-selector DSCP values from the hash into the TOS byte, so a
 *     downstream switch can spread flows over its queues,
 *  5. patches the header checksum incrementally (RFC 1624) for both changes.
 * Anything else is passed untouched.
 */
#include "xdp_parse.h"

static __always_inline __u32 rol32(__u32 word, unsigned int shift)
{
	return (word << shift) | (word >> ((-shift) & 31));
}

/* The finaliser of MurmurHash3: every input bit affects every output bit. */
static __always_inline __u32 fmix32(__u32 h)
{
	h ^= h >> 16;
	h *= 0x85ebca6b;
	h ^= h >> 13;
	h *= 0xc2b2ae35;
	h ^= h >> 16;
	return h;
}

static __always_inline __u32 flow_hash(__u32 saddr, __u32 daddr, __u32 ports,
				       __u32 proto)
{
	__u32 h = 0x9e3779b9 ^ proto;

	h = rol32(h ^ saddr, 13) * 5 + 0xe6546b64;
	h = rol32(h ^ daddr, 13) * 5 + 0xe6546b64;
	h = rol32(h ^ ports, 13) * 5 + 0xe6546b64;
	return fmix32(h);
}

/*
 * RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), for one 16-bit word m -> m'.
 * Arguments and result are in network byte order, as they sit in the header.
 */
static __always_inline __u16 csum_replace2(__u16 check, __u16 old, __u16 new)
{
	__u32 sum = (__u16)~check;

	sum += (__u16)~old;
	sum += new;
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

SEC("xdp")
int xdp_alu32(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct hdr_cursor nh = { .pos = data };
	struct ethhdr *eth;
	struct iphdr *iph;
	__u16 *word;
	__u16 old_word, new_word;
	__u32 sum = 0;
	__u32 ports = 0;
	__u32 hash;
	__u8 tos;
	int i;

	if (parse_ethhdr(&nh, data_end, &eth) != ETH_P_IP)
		return XDP_PASS;

	iph = nh.pos;
	if ((void *)(iph + 1) > data_end)
		return XDP_PASS;
	if (iph->version != 4 || iph->ihl != 5)
		return XDP_PASS;

	/* A correct header sums to 0xffff, the check field included. */
	word = (__u16 *)iph;
#pragma unroll
	for (i = 0; i < (int)sizeof(*iph) / 2; i++)
		sum += word[i];
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	if (sum != 0xffff)
		return XDP_DROP;

	if (iph->ttl <= 1)
		return XDP_PASS;

	if (iph->protocol == IPPROTO_TCP || iph->protocol == IPPROTO_UDP) {
		/* Source and destination port are the first 4 bytes of both. */
		__u32 *l4 = (void *)(iph + 1);

		if ((void *)(l4 + 1) > data_end)
			return XDP_PASS;
		ports = *l4;
	}
	hash = flow_hash(iph->saddr, iph->daddr, ports, iph->protocol);

	/* TTL and protocol share one checksum word. */
	word = (__u16 *)&iph->ttl;
	old_word = *word;
	iph->ttl--;
	new_word = *word;
	iph->check = csum_replace2(iph->check, old_word, new_word);

	/* Version/IHL and TOS share another; keep the ECN bits. */
	word = (__u16 *)iph;
	old_word = *word;
	tos = ((hash & 7) << 5) | (iph->tos & 3);
	iph->tos = tos;
	new_word = *word;
	iph->check = csum_replace2(iph->check, old_word, new_word);

	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
