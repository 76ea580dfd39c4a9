# An atomic add at offset 4 of an 8-byte value, 8 bytes wide.
# map: m array key=4 value=8 entries=1
# expect: reject EACCES
# log: misaligned value access off 0+0+4 size 8
*(u32 *)(r10 - 4) = 0
r2 = r10
r2 += -4
ld_pseudo r1, 1, 0
call 1
if r0 == 0 goto out
r1 = 1
lock *(u64 *)(r0 + 4) += r1
out:
r0 = 2
exit
