# A 32-bit shift by 32.
# expect: reject EINVAL
# log: invalid shift 32
w0 = 1
w0 >>= 32
exit
