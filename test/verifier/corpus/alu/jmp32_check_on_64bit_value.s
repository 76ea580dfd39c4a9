# A 32-bit `if w6 > 7` on a 64-bit unknown: the upper half is still unknown.
# map: m array key=4 value=8 entries=1
# expect: reject EINVAL
# log: math between map_value pointer and register with unbounded min value is not allowed
call 5
r6 = r0
*(u32 *)(r10 - 4) = 0
r2 = r10
r2 += -4
ld_pseudo r1, 1, 0
call 1
if r0 == 0 goto out
if w6 > 7 goto out
r0 += r6
r0 = *(u8 *)(r0 + 0)
out:
r0 = 2
exit
