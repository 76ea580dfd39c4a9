# Copying r10 into another register and moving the copy is fine.
# expect: accept
r2 = r10
r2 += -16
r0 = 2
exit
