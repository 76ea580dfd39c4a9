# skb->protocol is read only for tc.
# prog: sched_cls
# expect: reject EACCES
# log: invalid bpf_context access off=16 size=4
r2 = 1
*(u32 *)(r1 + 16) = r2
r0 = 0
exit
