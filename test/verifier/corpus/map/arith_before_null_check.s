# Pointer arithmetic on map_value_or_null before the check.
# map: m hash key=4 value=8 entries=16
# expect: reject EACCES
# log: R0 pointer arithmetic on map_value_or_null prohibited, null-check it first
*(u32 *)(r10 - 4) = 0
r2 = r10
r2 += -4
ld_pseudo r1, 1, 0
call 1
r0 += 4
if r0 == 0 goto out
r0 = *(u32 *)(r0 + 0)
out:
r0 = 2
exit
