# Offset -512 is the lowest slot of the 512-byte stack.
# expect: accept
r1 = 0
*(u64 *)(r10 - 512) = r1
r0 = 2
exit
