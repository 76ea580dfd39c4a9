# Two paths, each ending in its own exit.
# expect: accept
r2 = *(u32 *)(r1 + 12)
if r2 == 1 goto drop
r0 = 2
exit
drop:
r0 = 1
exit
