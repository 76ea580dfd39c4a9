# A classic packet load (BPF_LD | BPF_ABS) in a socket filter: r6 must hold the context.
# prog: socket_filter
# expect: accept
r6 = r1
r0 = *(u8 *)skb[23]
exit
