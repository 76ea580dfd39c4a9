# An index checked with `if idx > 63` before use in a 64-byte value.
# map: m array key=4 value=64 entries=4
# expect: accept
r6 = *(u32 *)(r1 + 12)
*(u32 *)(r10 - 4) = 0
r2 = r10
r2 += -4
ld_pseudo r1, 1, 0
call 1
if r0 == 0 goto out
if r6 > 63 goto out
r0 += r6
r0 = *(u8 *)(r0 + 0)
out:
r0 = 2
exit
