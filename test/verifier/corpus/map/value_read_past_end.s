# Reads 8 bytes at offset 8 of an 8-byte value.
# map: m array key=4 value=8 entries=4
# expect: reject EACCES
# log: invalid access to map value, value_size=8 off=8 size=8
*(u32 *)(r10 - 4) = 0
r2 = r10
r2 += -4
ld_pseudo r1, 1, 0
call 1
if r0 == 0 goto out
r0 = *(u64 *)(r0 + 8)
out:
r0 = 2
exit
