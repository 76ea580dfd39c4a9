# The NULL check is done on a copy; the original shares its id and is known non-NULL too.
# map: m hash key=4 value=8 entries=16
# expect: accept
*(u32 *)(r10 - 4) = 0
r2 = r10
r2 += -4
ld_pseudo r1, 1, 0
call 1
r6 = r0
if r6 == 0 goto out
r0 = *(u64 *)(r0 + 0)
out:
r0 = 2
exit
