# A 64-bit immediate is a known constant.
# expect: accept
r0 = 0x1122334455667788 ll
r0 >>= 60
r0 = 2
exit
