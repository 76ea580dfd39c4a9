# -(idx & 7) is between -7 and 0: negative offsets are refused.
# map: m array key=4 value=8 entries=1
# expect: reject EACCES
# log: R0 min value is negative, either use unsigned index or do a if (index >=0) check.
r6 = *(u32 *)(r1 + 12)
*(u32 *)(r10 - 4) = 0
r2 = r10
r2 += -4
ld_pseudo r1, 1, 0
call 1
if r0 == 0 goto out
r6 &= 7
r6 = -r6
r0 += r6
r0 = *(u8 *)(r0 + 0)
out:
r0 = 2
exit
