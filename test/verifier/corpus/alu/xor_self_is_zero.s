# `r6 ^= r6` is 0 at run time, but the verifier does not know it: XOR of an unknown value with
# itself is still unknown (tnum_xor), so the "index" is unbounded.
# map: m array key=4 value=8 entries=1
# expect: reject EACCES
# log: R0 unbounded memory access, make sure to bounds check any such access
r6 = *(u32 *)(r1 + 12)
*(u32 *)(r10 - 4) = 0
r2 = r10
r2 += -4
ld_pseudo r1, 1, 0
call 1
if r0 == 0 goto out
r6 ^= r6
r0 += r6
r0 = *(u64 *)(r0 + 0)
out:
r0 = 2
exit
