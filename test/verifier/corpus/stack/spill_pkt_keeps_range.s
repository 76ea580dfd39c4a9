# A checked packet pointer spilled to the stack and filled back keeps its range.
# expect: accept
r2 = *(u32 *)(r1 + 0)
r3 = *(u32 *)(r1 + 4)
r4 = r2
r4 += 14
if r4 > r3 goto out
*(u64 *)(r10 - 8) = r2
r2 = 0
r5 = *(u64 *)(r10 - 8)
r0 = *(u16 *)(r5 + 12)
out:
r0 = 2
exit
