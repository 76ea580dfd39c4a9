# A pointer spilled as 8 bytes and filled as 4: the half of a pointer is not a pointer.
# expect: reject EACCES
# log: invalid size of register fill
*(u64 *)(r10 - 8) = r1
r2 = *(u32 *)(r10 - 8)
r0 = *(u32 *)(r2 + 0)
r0 = 2
exit
