# An arithmetic right shift of an unknown value may stay negative.
# map: m array key=4 value=256 entries=1
# expect: reject EACCES
# log: R0 min value is negative, either use unsigned index or do a if (index >=0) check.
call 5
r6 = r0
*(u32 *)(r10 - 4) = 0
r2 = r10
r2 += -4
ld_pseudo r1, 1, 0
call 1
if r0 == 0 goto out
r6 s>>= 56
r0 += r6
r0 = *(u8 *)(r0 + 0)
out:
r0 = 2
exit
