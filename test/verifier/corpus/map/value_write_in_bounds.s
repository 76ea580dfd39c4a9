# Writes the last 4 bytes of a 16-byte value.
# map: m array key=4 value=16 entries=4
# expect: accept
*(u32 *)(r10 - 4) = 0
r2 = r10
r2 += -4
ld_pseudo r1, 1, 0
call 1
if r0 == 0 goto out
*(u32 *)(r0 + 12) = 1
out:
r0 = 2
exit
