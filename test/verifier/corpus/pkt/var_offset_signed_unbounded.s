# A sign-extended 32-bit value (as low as -2^31) added to a packet pointer: refused at the addition.
# expect: reject EINVAL
# log: value -2147483648 makes pkt pointer be out of bounds
r2 = *(u32 *)(r1 + 0)
r3 = *(u32 *)(r1 + 4)
r5 = *(u32 *)(r1 + 12)
r5 <<= 32
r5 s>>= 32
r2 += r5
r0 = 2
exit
