# The key read straight from a checked packet.
# map: m hash key=4 value=8 entries=16
# expect: accept
r2 = *(u32 *)(r1 + 0)
r3 = *(u32 *)(r1 + 4)
r4 = r2
r4 += 4
if r4 > r3 goto out
ld_pseudo r1, 1, 0
call 1
out:
r0 = 2
exit
