# Dereferences on the branch where the result IS null.
# map: m hash key=4 value=8 entries=16
# expect: reject EACCES
# log: R0 invalid mem access 'scalar'
*(u32 *)(r10 - 4) = 0
r2 = r10
r2 += -4
ld_pseudo r1, 1, 0
call 1
if r0 != 0 goto out
r0 = *(u64 *)(r0 + 0)
out:
r0 = 2
exit
