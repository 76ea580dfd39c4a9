# XDP may write the packet once the range is known: swap two MAC bytes.
# expect: accept
r2 = *(u32 *)(r1 + 0)
r3 = *(u32 *)(r1 + 4)
r4 = r2
r4 += 12
if r4 > r3 goto out
r5 = *(u8 *)(r2 + 0)
r6 = *(u8 *)(r2 + 6)
*(u8 *)(r2 + 0) = r6
*(u8 *)(r2 + 6) = r5
out:
r0 = 2
exit
