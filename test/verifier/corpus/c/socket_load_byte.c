// A socket filter reading the IPv4 protocol byte with the classic load_byte builtin (BPF_LD_ABS).
// prog: socket_filter
// expect: accept
#include "common.h"

unsigned long long load_byte(void *skb, unsigned long long off) asm("llvm.bpf.load.byte");

SEC("socket")
int socket_load_byte(struct __sk_buff *skb)
{
	return load_byte(skb, ETH_HLEN + 9) == IPPROTO_UDP ? -1 : 0;
}
