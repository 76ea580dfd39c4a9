# Signed division and modulo (cpu v4) by registers that may be zero.
# expect: accept
r0 = -100
r1 = *(u32 *)(r1 + 12)
r2 = r0
r2 s/= r1
r0 s%= r1
r0 = 2
exit
