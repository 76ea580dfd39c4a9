# Subtracting a pointer from a number.
# expect: reject EACCES
# log: R0 tried to subtract pointer from scalar
r0 = 0
r0 -= r1
r0 = 2
exit
