# Shifted right by 55, the value reaches 511: too big for a 256-byte value.
# map: m array key=4 value=256 entries=1
# expect: reject EACCES
# log: invalid access to map value, value_size=256 off=511 size=1
call 5
r6 = r0
*(u32 *)(r10 - 4) = 0
r2 = r10
r2 += -4
ld_pseudo r1, 1, 0
call 1
if r0 == 0 goto out
r6 >>= 55
r0 += r6
r0 = *(u8 *)(r0 + 0)
out:
r0 = 2
exit
