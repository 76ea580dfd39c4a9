# An unknown value checked with `s< 0` and `s> 7` is an index in 0..7.
# map: m array key=4 value=8 entries=1
# expect: accept
call 5
r6 = r0
*(u32 *)(r10 - 4) = 0
r2 = r10
r2 += -4
ld_pseudo r1, 1, 0
call 1
if r0 == 0 goto out
if r6 s< 0 goto out
if r6 s> 7 goto out
r0 += r6
r0 = *(u8 *)(r0 + 0)
out:
r0 = 2
exit
