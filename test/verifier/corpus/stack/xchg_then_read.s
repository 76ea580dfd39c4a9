# xchg returns the old value in its operand register, a number.
# expect: accept
r1 = 5
*(u64 *)(r10 - 8) = r1
r2 = 9
r2 = xchg_64(r10 - 8, r2)
r0 = r2
exit
