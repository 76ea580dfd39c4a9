// SPDX-License-Identifier: GPL-2.0
/*
 * xdp_misc.c - the small helpers: time, randomness, CPU number, checksums,
 * and the trace log.
 *
 * - bpf_csum_diff() sums the IPv4 header straight from the packet; a header
 *   whose checksum does not verify is dropped (and logged with bpf_printk,
 *   readable in /sys/kernel/debug/tracing/trace_pipe). This part, and so the
 *   verdict, is deterministic: XDP_DROP for a bad IPv4 header, XDP_PASS for
 *   everything else.
 * - bpf_get_smp_processor_id() picks this CPU's slot in cpu_packets (an
 *   ARRAY, so other CPUs could read it; PERCPU_ARRAY would be the cheaper
 *   choice in production, see xdp_counter.c).
 * - bpf_ktime_get_ns() stamps the last packet, in last_seen_ns.
 * - bpf_get_prandom_u32() picks about one packet in SAMPLE_EVERY to count in
 *   sampled, the usual way to do expensive work only now and then.
 * The values in those maps depend on time, chance and the CPU.
 */
#include "xdp_parse.h"

#define MAX_CPUS	256
#define SAMPLE_EVERY	64	/* a power of two */

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_CPUS);
	__type(key, __u32);
	__type(value, __u64);
} cpu_packets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} last_seen_ns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} sampled SEC(".maps");

static __always_inline void bump(void *map, __u32 key)
{
	__u64 *count = bpf_map_lookup_elem(map, &key);

	if (count)
		__sync_fetch_and_add(count, 1);
}

SEC("xdp")
int xdp_misc(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct hdr_cursor nh = { .pos = data };
	struct ethhdr *eth;
	struct iphdr *iph;
	__u32 zero = 0;
	__u64 *stamp;
	__s64 sum;

	bump(&cpu_packets, bpf_get_smp_processor_id());

	stamp = bpf_map_lookup_elem(&last_seen_ns, &zero);
	if (stamp)
		*stamp = bpf_ktime_get_ns();

	if ((bpf_get_prandom_u32() & (SAMPLE_EVERY - 1)) == 0)
		bump(&sampled, 0);

	if (parse_ethhdr(&nh, data_end, &eth) != ETH_P_IP)
		return XDP_PASS;
	iph = nh.pos;
	if ((void *)(iph + 1) > data_end)
		return XDP_PASS;

	/* The 32-bit partial sum of the 20-byte header, check field included. */
	sum = bpf_csum_diff(NULL, 0, (__be32 *)iph, sizeof(*iph), 0);
	if (sum < 0)
		return XDP_PASS;
	if (csum_fold_helper((__u32)sum) != 0) {
		bpf_printk("xdp_misc: bad IPv4 header checksum 0x%04x",
			   bpf_ntohs(iph->check));
		return XDP_DROP;
	}
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
