# A store then a load of the same 8-byte slot.
# expect: accept
r1 = 42
*(u64 *)(r10 - 8) = r1
r0 = *(u64 *)(r10 - 8)
r0 = 2
exit
