# Modulo by a register that is 0: allowed, the dividend is kept.
# expect: accept
r0 = 10
r1 = 0
r0 %= r1
r0 = 2
exit
