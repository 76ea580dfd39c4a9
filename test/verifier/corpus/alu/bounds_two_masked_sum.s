# (a & 3) + (b & 3) is at most 6.
# map: m array key=4 value=8 entries=1
# expect: accept
r6 = *(u32 *)(r1 + 12)
r7 = *(u32 *)(r1 + 16)
*(u32 *)(r10 - 4) = 0
r2 = r10
r2 += -4
ld_pseudo r1, 1, 0
call 1
if r0 == 0 goto out
r6 &= 3
r7 &= 3
r6 += r7
r0 += r6
r0 = *(u8 *)(r0 + 0)
out:
r0 = 2
exit
