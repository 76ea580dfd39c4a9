// SPDX-License-Identifier: GPL-2.0
/*
 * xdp_perf.c - report new TCP connections to user space through perf events.
 *
 * For every IPv4 TCP SYN (without ACK) the program emits a record with the
 * addresses, ports and frame length, followed by the first bytes of the
 * frame. bpf_perf_event_output() copies the record from the stack and, for
 * XDP, as many packet bytes as the upper 32 bits of flags ask for; the lower
 * bits say which ring: BPF_F_CURRENT_CPU, the ring of the CPU running the
 * program, so no two CPUs write the same ring. (That is also the only flag
 * value the NFP offload accepts: the event reaches the host from whichever
 * NIC core ran the program.) A reader opens one ring per CPU and stores its
 * fd in the PERF_EVENT_ARRAY; with no reader the helper fails with -ENOENT,
 * which the program ignores. Every frame is passed.
 */
#include "xdp_parse.h"

#define SAMPLE_BYTES 64

struct syn_event {
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	__u32 frame_len;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} events SEC(".maps");

SEC("xdp")
int xdp_syn_events(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct hdr_cursor nh = { .pos = data };
	struct syn_event ev = {};
	struct ethhdr *eth;
	struct iphdr *iph;
	struct tcphdr *tcph;
	__u64 sample;
	__u64 flags;

	if (parse_ethhdr(&nh, data_end, &eth) != ETH_P_IP)
		return XDP_PASS;
	if (parse_iphdr(&nh, data_end, &iph) != IPPROTO_TCP)
		return XDP_PASS;
	if (parse_tcphdr(&nh, data_end, &tcph) < 0)
		return XDP_PASS;
	if (!tcph->syn || tcph->ack)
		return XDP_PASS;

	ev.saddr = iph->saddr;
	ev.daddr = iph->daddr;
	ev.sport = tcph->source;
	ev.dport = tcph->dest;
	ev.frame_len = data_end - data;

	/* Asking for more bytes than the frame has fails the whole event. */
	sample = ev.frame_len < SAMPLE_BYTES ? ev.frame_len : SAMPLE_BYTES;
	flags = BPF_F_CURRENT_CPU | (sample << 32);
	bpf_perf_event_output(ctx, &events, flags, &ev, sizeof(ev));
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
