# An atomic add on an initialized stack slot.
# expect: accept
r1 = 0
*(u64 *)(r10 - 8) = r1
r2 = 1
lock *(u64 *)(r10 - 8) += r2
r0 = 2
exit
