# A 32-bit division by an unknown value (maybe 0).
# expect: accept
w0 = 10
w1 = *(u32 *)(r1 + 12)
w0 /= w1
w0 = 2
exit
