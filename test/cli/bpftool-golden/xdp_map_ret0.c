// SPDX-License-Identifier: GPL-2.0
/*
 * xdp_map_ret0.c - the shape of the kernel selftests' sample_map_ret0 (bpf_offload.py): a hash map
 * and an array of two u32 -> long entries each, one lookup in each, and the program returns 0.
 * It loads on any offload device (netdevsim takes at most two entries per map), so the bpftool tests
 * can show a device program together with its two device maps.
 *
 * Rebuild (the .o is committed, built by clang-14):
 *   clang-14 -O2 -g -Wall -Werror -target bpf -I/usr/include/x86_64-linux-gnu \
 *     -fdebug-prefix-map=$PWD=test/cli/bpftool-golden -c xdp_map_ret0.c -o xdp_map_ret0.o
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, long);
} htab SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, long);
} array SEC(".maps");

SEC("xdp")
int xdp_map_ret0(struct xdp_md *ctx)
{
	__u32 key = 0;
	long *value;

	value = bpf_map_lookup_elem(&htab, &key);
	if (!value)
		return 1;
	value = bpf_map_lookup_elem(&array, &key);
	if (!value)
		return 1;
	return 0;
}

char _license[] SEC("license") = "GPL";
