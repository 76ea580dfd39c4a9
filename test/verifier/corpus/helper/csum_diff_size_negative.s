# The size argument is the constant -8.
# expect: reject EACCES
# log: R2 min value is negative, either use unsigned or 'var &= const'
r1 = 0
*(u64 *)(r10 - 8) = r1
r1 = r10
r1 += -8
r2 = -8
r3 = 0
r4 = 0
r5 = 0
call 28
r0 = 2
exit
