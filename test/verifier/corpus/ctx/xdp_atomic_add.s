# An atomic add into the context.
# expect: reject EACCES
# log: BPF_ATOMIC stores into R1 ctx is not allowed
r2 = 1
lock *(u32 *)(r1 + 12) += w2
r0 = 2
exit
