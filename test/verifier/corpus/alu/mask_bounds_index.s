# `idx &= 0xff` bounds an unknown value to 0..255: a fine index into a 256-byte map value.
# map: m array key=4 value=256 entries=1
# expect: accept
r6 = *(u32 *)(r1 + 12)
*(u32 *)(r10 - 4) = 0
r2 = r10
r2 += -4
ld_pseudo r1, 1, 0
call 1
if r0 == 0 goto out
r6 &= 0xff
r0 += r6
r0 = *(u8 *)(r0 + 0)
out:
r0 = 2
exit
