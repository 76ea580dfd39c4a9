# The stack pointer minus the context pointer: pointers of different kinds. Allowed when
# privileged; the difference is an unknown number.
# expect: accept
r2 = r10
r2 -= r1
r0 = 2
exit
