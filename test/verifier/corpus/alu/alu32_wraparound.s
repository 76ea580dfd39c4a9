# w6 = (idx & 7) - 1 wraps to 0xffffffff for idx 0: 32-bit arithmetic does not go negative.
# map: m array key=4 value=8 entries=1
# expect: reject EACCES
# log: R0 unbounded memory access, make sure to bounds check any such access
r6 = *(u32 *)(r1 + 12)
*(u32 *)(r10 - 4) = 0
r2 = r10
r2 += -4
ld_pseudo r1, 1, 0
call 1
if r0 == 0 goto out
w6 &= 7
w6 -= 1
r0 += r6
r0 = *(u8 *)(r0 + 0)
out:
r0 = 2
exit
