# 32-bit arithmetic on a packet pointer.
# expect: reject EACCES
# log: R2 32-bit pointer arithmetic prohibited
r2 = *(u32 *)(r1 + 0)
w2 += 1
r0 = 2
exit
