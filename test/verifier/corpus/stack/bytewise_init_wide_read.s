# Eight single-byte stores, then one 8-byte load of the slot.
# expect: accept
*(u8 *)(r10 - 8) = 1
*(u8 *)(r10 - 7) = 2
*(u8 *)(r10 - 6) = 3
*(u8 *)(r10 - 5) = 4
*(u8 *)(r10 - 4) = 5
*(u8 *)(r10 - 3) = 6
*(u8 *)(r10 - 2) = 7
*(u8 *)(r10 - 1) = 8
r0 = *(u64 *)(r10 - 8)
r0 = 2
exit
