# `w6 = w6` zero-extends a 64-bit unknown into 0..0xffffffff: still too big for an index.
# map: m array key=4 value=8 entries=1
# expect: reject EACCES
# log: R0 unbounded memory access, make sure to bounds check any such access
call 5
r6 = r0
*(u32 *)(r10 - 4) = 0
r2 = r10
r2 += -4
ld_pseudo r1, 1, 0
call 1
if r0 == 0 goto out
w6 = w6
r0 += r6
r0 = *(u8 *)(r0 + 0)
out:
r0 = 2
exit
