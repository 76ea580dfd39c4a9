# A bounded scalar spilled and filled keeps its bounds: the index masked to 0..31, spilled across a
# helper call and filled back, still fits a 32-byte map value.
# map: m array key=4 value=32 entries=1
# expect: accept
r6 = *(u32 *)(r1 + 12)
r6 &= 31
*(u64 *)(r10 - 16) = r6
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
