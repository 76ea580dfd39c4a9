# The bounded index of spill_scalar_keeps_bounds spilled as 4 bytes into an 8-byte slot and filled
# as 8: the upper half was never written, the fill is unbounded, and the index is refused.
# map: m array key=4 value=32 entries=1
# expect: reject EINVAL
# log: math between map_value pointer and register with unbounded min value is not allowed
r6 = *(u32 *)(r1 + 12)
r6 &= 31
*(u64 *)(r10 - 16) = r6
*(u32 *)(r10 - 16) = r6
*(u32 *)(r10 - 4) = 0
r2 = r10
r2 += -4
ld_pseudo r1, 1, 0
call 1
if r0 == 0 goto out
r7 = *(u64 *)(r10 - 16)
r0 += r7
r0 = *(u8 *)(r0 + 0)
out:
r0 = 2
exit
