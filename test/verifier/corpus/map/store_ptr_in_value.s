# Stores the context pointer into a map value.
# map: m array key=4 value=8 entries=1
# expect: accept
r6 = r1
*(u32 *)(r10 - 4) = 0
r2 = r10
r2 += -4
ld_pseudo r1, 1, 0
call 1
if r0 == 0 goto out
*(u64 *)(r0 + 0) = r6
out:
r0 = 2
exit
