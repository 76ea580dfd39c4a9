# A checked packet pointer spilled across a helper call that leaves the packet alone, then reloaded.
# expect: accept
r2 = *(u32 *)(r1 + 0)
r3 = *(u32 *)(r1 + 4)
r4 = r2
r4 += 14
if r4 > r3 goto out
*(u64 *)(r10 - 8) = r2
call 7
r5 = *(u64 *)(r10 - 8)
r0 = *(u16 *)(r5 + 12)
out:
r0 = 2
exit
