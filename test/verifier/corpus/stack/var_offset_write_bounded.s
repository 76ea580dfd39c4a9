# A store through a stack pointer with a bounded variable offset.
# expect: accept
r2 = *(u32 *)(r1 + 12)
r2 &= 8
r3 = r10
r3 += -16
r3 += r2
r4 = 0
*(u64 *)(r3 + 0) = r4
r0 = 2
exit
