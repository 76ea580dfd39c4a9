# A 64-bit shift by 64.
# expect: reject EINVAL
# log: invalid shift 64
r0 = 1
r0 <<= 64
exit
