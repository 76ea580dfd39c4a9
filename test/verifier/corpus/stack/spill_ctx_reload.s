# The context spilled and filled keeps its type.
# expect: accept
*(u64 *)(r10 - 16) = r1
r1 = 0
r1 = *(u64 *)(r10 - 16)
r0 = *(u32 *)(r1 + 12)
r0 = 2
exit
