# A 32-bit unsigned comparison of packet pointers, the range side.
# expect: reject EACCES
# log: invalid access to packet, off=0 size=1, R2(id=0,off=0,r=0)
r2 = *(u32 *)(r1 + 0)
r3 = *(u32 *)(r1 + 4)
r4 = r2
r4 += 14
if w4 >= w3 goto out
r0 = *(u8 *)(r2 + 0)
out:
r0 = 2
exit
