# r6 holds a stack pointer, not the context.
# prog: socket_filter
# expect: reject EINVAL
# log: at the time of BPF_LD_ABS|IND R6 != pointer to skb
r6 = r10
r0 = *(u8 *)skb[23]
exit
