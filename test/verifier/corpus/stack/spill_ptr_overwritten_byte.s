# One byte of a spilled pointer is overwritten; the slot no longer holds a pointer.
# expect: reject EACCES
# log: R2 invalid mem access 'scalar'
*(u64 *)(r10 - 8) = r1
*(u8 *)(r10 - 8) = 0
r2 = *(u64 *)(r10 - 8)
r0 = *(u32 *)(r2 + 12)
r0 = 2
exit
