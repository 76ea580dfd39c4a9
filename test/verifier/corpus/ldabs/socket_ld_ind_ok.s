# BPF_LD | BPF_IND: the offset is r7 + 2, where r7 is any number.
# prog: socket_filter
# expect: accept
r6 = r1
r7 = *(u32 *)(r1 + 0)
r0 = *(u16 *)skb[r7 + 2]
exit
