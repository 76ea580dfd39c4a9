# The trip count comes from the packet length, clamped to 100 first.
# expect: accept
r2 = *(u32 *)(r1 + 0)
r3 = *(u32 *)(r1 + 4)
r3 -= r2
if r3 > 100 goto out
r1 = 0
head:
r1 += 1
if r1 < r3 goto head
out:
r0 = 2
exit
