# tc allows narrow loads of most fields: the low byte of skb->mark.
# prog: sched_cls
# expect: accept
r0 = *(u8 *)(r1 + 8)
r0 = 0
exit
