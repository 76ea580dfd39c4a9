# (idx & 3) * 4 is at most 12: a u32 at that offset fits a 16-byte value.
# map: m array key=4 value=16 entries=1
# expect: accept
r6 = *(u32 *)(r1 + 12)
*(u32 *)(r10 - 4) = 0
r2 = r10
r2 += -4
ld_pseudo r1, 1, 0
call 1
if r0 == 0 goto out
r6 &= 3
r6 *= 4
r0 += r6
r0 = *(u32 *)(r0 + 0)
out:
r0 = 2
exit
