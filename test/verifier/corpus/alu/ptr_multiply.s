# Multiplying the context pointer.
# expect: reject EACCES
# log: R1 pointer arithmetic with *= operator prohibited
r1 *= 2
r0 = 2
exit
