# The caller passes a pointer to its own stack; the callee writes through it, the caller reads back.
# expect: accept
r1 = r10
r1 += -8
call sub
r0 = *(u64 *)(r10 - 8)
r0 = 2
exit
sub:
r2 = 5
*(u64 *)(r1 + 0) = r2
r0 = 0
exit
