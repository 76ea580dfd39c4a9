# An index masked to 0..15 into an 8-byte value.
# map: m array key=4 value=8 entries=4
# expect: reject EACCES
# log: invalid access to map value, value_size=8 off=15 size=1
r6 = *(u32 *)(r1 + 12)
*(u32 *)(r10 - 4) = 0
r2 = r10
r2 += -4
ld_pseudo r1, 1, 0
call 1
if r0 == 0 goto out
r6 &= 15
r0 += r6
r0 = *(u8 *)(r0 + 0)
out:
r0 = 2
exit
