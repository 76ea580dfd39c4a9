# A shift by a register with an unknown value is allowed; the result is unknown.
# expect: accept
r0 = 1
r2 = *(u32 *)(r1 + 12)
r0 <<= r2
r0 = 2
exit
