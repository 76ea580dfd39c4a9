# A copy of r10 moved down by 16 is a stack pointer like r10 - 16.
# expect: accept
r2 = r10
r2 += -16
r1 = 5
*(u64 *)(r2 + 0) = r1
r0 = *(u64 *)(r10 - 16)
r0 = 2
exit
