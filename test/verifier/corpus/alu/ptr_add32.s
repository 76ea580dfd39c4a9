# 32-bit addition on the context pointer.
# expect: reject EACCES
# log: R1 32-bit pointer arithmetic prohibited
w1 += 4
r0 = 2
exit
