# The spill slot of the context is overwritten by a number before the fill.
# expect: reject EACCES
# log: R2 invalid mem access 'scalar'
*(u64 *)(r10 - 8) = r1
r3 = 12
*(u64 *)(r10 - 8) = r3
r2 = *(u64 *)(r10 - 8)
r0 = *(u32 *)(r2 + 12)
r0 = 2
exit
