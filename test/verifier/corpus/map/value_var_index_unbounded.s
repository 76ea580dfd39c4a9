# A helper's unbounded result as an index into a map value.
# map: m array key=4 value=64 entries=4
# expect: reject EINVAL
# log: math between map_value pointer and register with unbounded min value is not allowed
*(u32 *)(r10 - 4) = 0
r2 = r10
r2 += -4
ld_pseudo r1, 1, 0
call 1
if r0 == 0 goto out
r6 = r0
call 5
r6 += r0
r0 = *(u8 *)(r6 + 0)
out:
r0 = 2
exit
