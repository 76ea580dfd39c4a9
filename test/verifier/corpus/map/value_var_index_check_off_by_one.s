# `if idx > 64` lets idx be 64, one past a 64-byte value.
# map: m array key=4 value=64 entries=4
# expect: reject EACCES
# log: invalid access to map value, value_size=64 off=64 size=1
r6 = *(u32 *)(r1 + 12)
*(u32 *)(r10 - 4) = 0
r2 = r10
r2 += -4
ld_pseudo r1, 1, 0
call 1
if r0 == 0 goto out
if r6 > 64 goto out
r0 += r6
r0 = *(u8 *)(r0 + 0)
out:
r0 = 2
exit
